"""The real kubectl 1.37 against the sandbox, with default flags."""

import os
import select
import subprocess
import time

from .helpers import KUBECTL, kubectl, wait_for

APP = """apiVersion: v1
kind: Namespace
metadata: {name: kc}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: kc, annotations: {kubernetes.io/change-cause: first}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: kc}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"""


def read_lines(process, count, timeout=15):
    """Up to `count` lines from a streaming kubectl, then kill it (it never exits by itself)."""
    lines = []
    deadline = time.monotonic() + timeout
    buffer = ""
    while len(lines) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(process.stdout.fileno(), 65536).decode()
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split("\n")
        lines += complete
    process.kill()
    process.wait()
    return lines[:count]


def create_namespace(sandbox, name):
    """A namespace by `kubectl apply` (JSON), as the console's own manifests go."""
    done = kubectl(sandbox, "apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
    assert done.returncode == 0, done.stderr


def run_pod(sandbox, name, namespace, image="busybox:1.36"):
    done = kubectl(
        sandbox,
        "apply",
        "-f",
        "-",
        input=f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec: {{containers: [{{name: {name}, image: '{image}'}}]}}\n",
    )
    assert done.returncode == 0, done.stderr


def test_apply_get_rollout_undo_history_scale(sandbox, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(APP)
    applied = kubectl(sandbox, "apply", "-f", str(manifest))  # default flags: validation is left to the server
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.split("\n")[:3] == [
        "namespace/kc created",
        "deployment.apps/web created",
        "service/web created",
    ]
    status = kubectl(sandbox, "rollout", "status", "deployment/web", "-n", "kc", "--timeout=30s")
    assert status.returncode == 0 and 'deployment "web" successfully rolled out' in status.stdout, status.stderr
    table = kubectl(sandbox, "get", "deployments", "-n", "kc")
    assert table.stdout.split("\n")[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table.stdout.split("\n")[1].split()[:4] == ["web", "2/2", "2", "2"]
    pods = kubectl(sandbox, "get", "pods", "-n", "kc", "-o", "wide")
    assert pods.stdout.split("\n")[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert pods.stdout.count("Running") == 2

    assert kubectl(sandbox, "set", "image", "deployment/web", "web=nginx:1.28", "-n", "kc").returncode == 0
    assert kubectl(sandbox, "rollout", "status", "deployment/web", "-n", "kc", "--timeout=30s").returncode == 0
    history = kubectl(sandbox, "rollout", "history", "deployment/web", "-n", "kc")
    assert [line.split()[0] for line in history.stdout.strip().split("\n")[2:]] == ["1", "2"]
    undone = kubectl(sandbox, "rollout", "undo", "deployment/web", "-n", "kc")
    assert undone.returncode == 0 and "rolled back" in undone.stdout, undone.stderr
    assert kubectl(sandbox, "rollout", "status", "deployment/web", "-n", "kc", "--timeout=30s").returncode == 0
    image = kubectl(
        sandbox, "get", "deployment", "web", "-n", "kc", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    )
    assert image.stdout == "nginx:1.27"
    replicasets = kubectl(sandbox, "get", "rs", "-n", "kc", "-o", "name").stdout.split()
    assert len(replicasets) == 2  # the old ReplicaSet came back rather than a third one
    revisions = kubectl(sandbox, "rollout", "history", "deployment/web", "-n", "kc").stdout
    assert [line.split()[0] for line in revisions.strip().split("\n")[2:]] == ["2", "3"]

    scaled = kubectl(sandbox, "scale", "deployment/web", "-n", "kc", "--replicas=4")
    assert scaled.returncode == 0 and "scaled" in scaled.stdout
    assert wait_for(lambda: kubectl(sandbox, "get", "pods", "-n", "kc").stdout.count("Running") == 4)
    endpoints = kubectl(sandbox, "get", "endpoints", "web", "-n", "kc", "-o", "jsonpath={.subsets[0].addresses[*].ip}")
    assert wait_for(
        lambda: (
            len(
                kubectl(
                    sandbox, "get", "endpoints", "web", "-n", "kc", "-o", "jsonpath={.subsets[0].addresses[*].ip}"
                ).stdout.split()
            )
            == 4
        )
    ), endpoints.stdout


def test_get_watch_prints_changes(sandbox):
    create_namespace(sandbox, "kw")
    process = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(sandbox.kubeconfig_path), "get", "pods", "-n", "kw", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1)
    run_pod(sandbox, "solo", "kw")
    lines = read_lines(process, 4)
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(line.startswith("solo ") for line in lines[1:])
    assert any("Running" in line for line in lines[1:]) or any(
        "ContainerCreating" in line or "Pending" in line for line in lines[1:]
    )


def test_logs_follow_streams(sandbox):
    create_namespace(sandbox, "kl")
    run_pod(sandbox, "talker", "kl")
    assert wait_for(lambda: "Running" in kubectl(sandbox, "get", "pod", "talker", "-n", "kl").stdout)
    tail = kubectl(sandbox, "logs", "talker", "-n", "kl", "--tail=2")
    assert len(tail.stdout.strip().split("\n")) == 2
    process = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(sandbox.kubeconfig_path), "logs", "-f", "--tail=1", "talker", "-n", "kl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = read_lines(process, 5)
    assert len(lines) == 5 and all(line[:4].isdigit() and line[23:24] == "Z" for line in lines), lines
    stamps = [line[:24] for line in lines]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5  # new lines keep coming


def test_delete_cascade_orphan(sandbox):
    create_namespace(sandbox, "ko")
    manifest = APP.split("---")[1].replace("kc", "ko").replace("web", "keep")
    assert kubectl(sandbox, "apply", "-f", "-", input=manifest).returncode == 0
    assert wait_for(lambda: kubectl(sandbox, "get", "pods", "-n", "ko").stdout.count("Running") == 2)
    deleted = kubectl(sandbox, "delete", "deployment", "keep", "-n", "ko", "--cascade=orphan")
    assert deleted.returncode == 0 and 'deployment.apps "keep" deleted' in deleted.stdout, deleted.stderr
    owners = kubectl(sandbox, "get", "rs", "-n", "ko", "-o", "jsonpath={.items[*].metadata.ownerReferences}")
    assert owners.stdout == "" and kubectl(sandbox, "get", "pods", "-n", "ko").stdout.count("Running") == 2


def test_server_side_apply_and_diff(sandbox, tmp_path):
    create_namespace(sandbox, "ks")
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ks}\ndata: {mode: fast}\n"
    )
    applied = kubectl(sandbox, "apply", "--server-side", "-f", str(manifest))
    assert applied.returncode == 0 and "configmap/settings serverside-applied" in applied.stdout, applied.stderr
    managers = kubectl(
        sandbox,
        "get",
        "cm",
        "settings",
        "-n",
        "ks",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    )
    assert managers.stdout == "kubectl"
    same = kubectl(sandbox, "diff", "--server-side", "-f", str(manifest))
    assert same.returncode == 0 and same.stdout == ""
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ks}\ndata: {mode: slow}\n"
    )
    changed = kubectl(sandbox, "diff", "-f", str(manifest))
    assert changed.returncode == 1, changed.stderr
    assert "-  mode: fast" in changed.stdout and "+  mode: slow" in changed.stdout
    assert (
        kubectl(sandbox, "get", "cm", "settings", "-n", "ks", "-o", "jsonpath={.data.mode}").stdout == "fast"
    )  # diff is a dry run


def test_errors_top_and_describe(sandbox):
    missing = kubectl(sandbox, "get", "deployment", "nope", "-n", "default")
    assert missing.returncode == 1 and 'deployments.apps "nope" not found' in missing.stderr
    top = kubectl(sandbox, "top", "nodes")
    assert top.returncode == 0 and top.stdout.split("\n")[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"], top.stderr
    assert "sandbox-node-3" in top.stdout
    described = kubectl(sandbox, "describe", "node", "sandbox-node-1")
    assert described.returncode == 0 and "control-plane" in described.stdout and "Allocatable" in described.stdout
    version = kubectl(sandbox, "version")
    assert "Server Version: v1.37.0-sandbox" in version.stdout


def test_typed_create_sends_protobuf(sandbox):
    """kubectl's typed create commands send protobuf, which the sandbox decodes (test_kubectl_typed.py has the rest)."""
    created = kubectl(sandbox, "create", "namespace", "typed")
    assert created.returncode == 0 and created.stdout == "namespace/typed created\n", created.stderr
