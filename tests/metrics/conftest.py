import time

import pytest

from ..conftest import english_fixture, sandbox_fixture

english = english_fixture(autouse=True)
sandbox = sandbox_fixture("module", nodes=2)


def run_pod(cluster, namespace, name, cpu_limit="500m", memory_limit="256Mi", claim=None):
    """A running pod in `namespace` (created with it), as the cluster reports it."""
    from console.kube.api import ClusterAPI

    container = {
        "name": "main",
        "image": "nginx:1.27",
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": cpu_limit, "memory": memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    spec = {"containers": [container]}
    with ClusterAPI(cluster) as api:
        if api.get("Namespace", namespace) is None:
            api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        if claim:
            api.apply(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim, "namespace": namespace},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            )
            spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
            container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        api.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pod = api.get("Pod", name, namespace)
            if (pod.get("status") or {}).get("phase") == "Running":
                return pod
            time.sleep(0.1)
    raise AssertionError(f"pod {namespace}/{name} did not start")


def mirror(cluster, namespace, kinds=("Pod", "Deployment", "StatefulSet", "PersistentVolumeClaim")):
    from tests.workloads.conftest import mirror_namespace

    mirror_namespace(cluster, namespace, kinds)


@pytest.fixture
def shop_pod(cluster):
    run_pod(cluster, "shop", "web-1", claim="data")
    mirror(cluster, "shop")
    return "web-1"
