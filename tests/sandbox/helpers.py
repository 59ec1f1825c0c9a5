import json
import subprocess
import sys
import time
from pathlib import Path

KUBECTL = str(Path(sys.executable).parent / "kubectl")


def wait_for(predicate, timeout=15, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def kubectl(sandbox, *args, timeout=30, input=None):
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(sandbox.kubeconfig_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def body(exc):
    return json.loads(exc.body)


def deployment(name, replicas=2, image="nginx:1.27", labels=None, **spec):
    labels = labels or {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": image}]}},
            **spec,
        },
    }


def resize_claim(sandbox, name, size, namespace="default"):
    """`kubectl patch pvc` to a new storage request."""
    patch = json.dumps({"spec": {"resources": {"requests": {"storage": size}}}})
    return kubectl(sandbox, "patch", "pvc", name, "-n", namespace, "-p", patch)


def snapshot_manifest(name, claim, namespace="default"):
    return (
        f"apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {{name: {name}, namespace: "
        f"{namespace}}}\nspec: {{source: {{persistentVolumeClaimName: {claim}}}}}\n"
    )
