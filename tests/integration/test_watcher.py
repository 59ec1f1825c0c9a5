"""The watcher against the sandbox API server: the mirror ends equal to the server,
also when the API server goes away mid-stream and when the watch window has expired."""

import time

import pytest

from console import crypto, kube
from console.models import Cluster, MirroredObject, WatchCursor
from console.sandbox import SandboxCluster
from console.sandbox.kinds import BY_PATH
from console.watcher import ClusterWatchers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CONFIGMAPS = BY_PATH[("", "v1", "configmaps")]
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
KINDS = [kube.KINDS_BY_NAME["ConfigMap"], kube.KINDS_BY_NAME["Pod"], kube.KINDS_BY_NAME["Deployment"]]


@pytest.fixture
def sandbox():
    cluster = SandboxCluster(nodes=2, clock_speed=20, bookmark_seconds=0.5).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def watchers(sandbox):
    Cluster.objects.create(name="sbx", server=sandbox.url, context="sandbox",
                           kubeconfig_encrypted=crypto.encrypt(sandbox.kubeconfig_text()))
    running = ClusterWatchers(kinds=KINDS)
    running.refresh()
    yield running
    running.stop(timeout=5)


def server_state(sandbox, plural):
    return {(k[1], k[2]): obj["metadata"]["resourceVersion"] for k, obj in sandbox.store.objects.items() if k[0] == plural}


def mirror_state(kind):
    return {(ns, name): rv for ns, name, rv in MirroredObject.objects.filter(kind=kind).values_list("namespace", "name", "resource_version")}


def converges(sandbox, plural, kind, timeout=60):  # generous: reconnects back off up to 30 s
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_state(sandbox, plural) == mirror_state(kind):
            return True
        time.sleep(0.1)
    return False


def churn(sandbox, prefix, count):
    for i in range(count):
        sandbox.store.create(CONFIGMAPS, "default", {"metadata": {"name": f"{prefix}-{i}"}, "data": {"i": str(i)}})
    for i in range(0, count, 3):
        current = sandbox.store.get(CONFIGMAPS, "default", f"{prefix}-{i}")
        current["data"]["i"] = "changed"
        sandbox.store.update(CONFIGMAPS, "default", f"{prefix}-{i}", current)
    for i in range(1, count, 4):
        sandbox.store.delete(CONFIGMAPS, "default", f"{prefix}-{i}")


def test_mirror_follows_the_server_through_outages_and_expiry(sandbox, watchers):
    churn(sandbox, "before", 40)
    assert converges(sandbox, "configmaps", "ConfigMap")
    assert converges(sandbox, "pods", "Pod")  # kube-system pods, listed at start
    relists_before = WatchCursor.objects.get(kind="ConfigMap").relists

    # the API server goes away mid-stream; the cluster keeps changing meanwhile
    sandbox.stop()
    churn(sandbox, "during", 30)
    time.sleep(1.0)
    sandbox.start()
    assert converges(sandbox, "configmaps", "ConfigMap"), "resumed watch missed or double-applied changes"
    assert WatchCursor.objects.get(kind="ConfigMap").relists == relists_before  # resumed, not relisted

    # down again, and this time the server forgets the events the watcher would need: 410
    sandbox.stop()
    churn(sandbox, "expired", 20)
    sandbox.store.delete(CONFIGMAPS, "default", "before-0")
    sandbox.store.oldest_rv = sandbox.store.rv
    sandbox.start()
    assert converges(sandbox, "configmaps", "ConfigMap"), (
        "relist after 410 did not restore the mirror",
        list(WatchCursor.objects.filter(kind="ConfigMap").values()), len(server_state(sandbox, "configmaps")), len(mirror_state("ConfigMap")),
    )
    assert WatchCursor.objects.get(kind="ConfigMap").relists == relists_before + 1
    assert not MirroredObject.objects.filter(kind="ConfigMap", name="before-0").exists()


def test_controller_changes_reach_the_mirror(sandbox, watchers):
    sandbox.store.create(NAMESPACES, "", {"metadata": {"name": "shop"}})
    sandbox.store.create(BY_PATH[("apps", "v1", "deployments")], "shop", {"metadata": {"name": "web"}, "spec": {
        "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if MirroredObject.objects.filter(kind="Pod", namespace="shop", phase="Running").count() == 3:
            break
        time.sleep(0.1)
    pods = MirroredObject.objects.filter(kind="Pod", namespace="shop")
    assert [p.phase for p in pods] == ["Running"] * 3
    assert {p.owner_kind for p in pods} == {"ReplicaSet"}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not MirroredObject.objects.filter(kind="Deployment", name="web", phase="Ready").exists():
        time.sleep(0.1)
    assert MirroredObject.objects.get(kind="Deployment", name="web").object["status"]["readyReplicas"] == 3
    assert converges(sandbox, "deployments", "Deployment")
