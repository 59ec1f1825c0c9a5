"""The watcher against the sandbox API server: the mirror ends equal to the server,
also when the API server goes away mid-stream and when the watch window has expired;
and the cluster writer between them applies events in the order they were read."""

import threading
import time

import pytest
from django.db import OperationalError

from console import crypto
from console.clusters import mirror, watcher
from console.clusters.models import Cluster, MirroredObject, WatchCursor
from console.clusters.watcher import ClusterWatchers
from console.kube import kinds
from console.sandbox import SandboxCluster
from console.sandbox.kinds import BY_PATH

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
CONFIGMAPS = BY_PATH[("", "v1", "configmaps")]
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
KINDS = [kinds.KINDS["ConfigMap"], kinds.KINDS["Pod"], kinds.KINDS["Deployment"]]


@pytest.fixture
def sandbox():
    cluster = SandboxCluster(nodes=2, clock_speed=20, bookmark_seconds=0.5).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def watchers(sandbox):
    Cluster.objects.create(
        name="sbx",
        server=sandbox.url,
        context="sandbox",
        kubeconfig_encrypted=crypto.encrypt(sandbox.kubeconfig_text()),
    )
    running = ClusterWatchers(kinds=KINDS)
    running.refresh()
    yield running
    running.stop(timeout=5)


def server_state(sandbox, plural):
    return {
        (k[1], k[2]): obj["metadata"]["resourceVersion"] for k, obj in sandbox.store.objects.items() if k[0] == plural
    }


def mirror_state(kind):
    return {
        (ns, name): rv
        for ns, name, rv in MirroredObject.objects.filter(kind=kind).values_list(
            "namespace", "name", "resource_version"
        )
    }


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
        list(WatchCursor.objects.filter(kind="ConfigMap").values()),
        len(server_state(sandbox, "configmaps")),
        len(mirror_state("ConfigMap")),
    )
    assert WatchCursor.objects.get(kind="ConfigMap").relists == relists_before + 1
    assert not MirroredObject.objects.filter(kind="ConfigMap", name="before-0").exists()


def test_controller_changes_reach_the_mirror(sandbox, watchers):
    sandbox.store.create(NAMESPACES, "", {"metadata": {"name": "shop"}})
    sandbox.store.create(
        BY_PATH[("apps", "v1", "deployments")],
        "shop",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        },
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if MirroredObject.objects.filter(kind="Pod", namespace="shop", phase="Running").count() == 3:
            break
        time.sleep(0.1)
    pods = MirroredObject.objects.filter(kind="Pod", namespace="shop")
    assert [p.phase for p in pods] == ["Running"] * 3
    assert {p.owner_kind for p in pods} == {"ReplicaSet"}
    deadline = time.monotonic() + 20
    while (
        time.monotonic() < deadline
        and not MirroredObject.objects.filter(kind="Deployment", name="web", phase="Ready").exists()
    ):
        time.sleep(0.1)
    assert MirroredObject.objects.get(kind="Deployment", name="web").object["status"]["readyReplicas"] == 3
    assert converges(sandbox, "deployments", "Deployment")


def test_writer_keeps_the_order_across_batches_and_lists_and_applies_the_queue_on_stop(monkeypatch):
    monkeypatch.setattr(watcher, "MAX_BATCH", 3)  # one object's events fall in different batches
    batches = []
    apply_rows = mirror.apply_rows
    monkeypatch.setattr(mirror, "apply_rows", lambda *args: batches.append(args) or apply_rows(*args))
    cluster = Cluster.objects.create(name="w", server="http://127.0.0.1:1", context="c", kubeconfig_encrypted="x")
    mirror.replace_kind(cluster.pk, "ConfigMap", [], "1")
    writer, stop = watcher.ClusterWriter(cluster.pk, watcher.Announcer()), threading.Event()
    expected, rv = {}, 1

    def configmap(name, value):
        nonlocal rv
        rv += 1
        return {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv)},
            "data": {"v": value},
        }

    def read(event_type, name, value):
        writer.put(("ConfigMap",) + mirror.prepare_event(cluster.pk, event_type, configmap(name, value)), stop)
        if event_type == "DELETED":
            expected.pop(name, None)
        else:
            expected[name] = value

    def relist(values):  # what KindWatcher.relist queues
        expected.clear()
        for name, value in values.items():
            row = mirror.row_values(cluster.pk, configmap(name, value))
            writer.put(("ConfigMap", ("default", name), row, ""), stop)
            expected[name] = value
        writer.put(watcher.Listed("ConfigMap", {("ConfigMap", "default", name) for name in values}, str(rv)), stop)

    def mirrored():
        return {o.name: o.object["data"]["v"] for o in MirroredObject.objects.filter(cluster=cluster, kind="ConfigMap")}

    def cursor():
        return WatchCursor.objects.get(cluster=cluster, kind="ConfigMap")

    for i in range(10):
        read("ADDED", f"c{i}", "1")
        read("MODIFIED", f"c{i}", "2")
        if i % 2:
            read("DELETED", f"c{i}", "2")
        if i % 3 == 0:
            read("ADDED" if i % 2 else "MODIFIED", f"c{i}", "3")
    queued = rv - 1
    writer.start()
    deadline = time.monotonic() + 10
    while writer.events_applied < queued and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mirrored() == expected and len(batches) > 5
    assert cursor().resource_version == str(rv)

    # a relist between events: what came before it lands before it, the rest after
    relists = cursor().relists
    read("MODIFIED", "c0", "5")
    read("ADDED", "gone-before-the-list", "5")
    relist({"c0": "6", "c2": "6", "new": "6"})  # c4, c6, c8 and the one just added are no more
    read("MODIFIED", "new", "7")
    for i in range(10):  # queued, then stop at once: the writer still applies all of it
        read("ADDED", f"d{i}", "8")
        if i % 4 == 0:
            read("DELETED", f"d{i}", "8")
    writer.stop()
    writer.join(10)
    assert not writer.is_alive()
    assert mirrored() == expected
    assert cursor().resource_version == str(rv) and cursor().relists == relists + 1


def test_a_writer_stopped_while_the_database_is_away_applies_nothing_after(monkeypatch):
    monkeypatch.setattr(watcher, "MAX_BATCH", 1)
    attempts = []

    def database_away(cluster_id, latest, versions):
        attempts.append(dict(versions))
        raise OperationalError("connection refused")

    monkeypatch.setattr(mirror, "apply_rows", database_away)
    cluster = Cluster.objects.create(name="w", server="http://127.0.0.1:1", context="c", kubeconfig_encrypted="x")
    mirror.replace_kind(cluster.pk, "ConfigMap", [], "1")
    writer, stop = watcher.ClusterWriter(cluster.pk, watcher.Announcer()), threading.Event()
    for rv in (2, 3, 4):
        obj = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "resourceVersion": str(rv)}}
        writer.put(("ConfigMap",) + mirror.prepare_event(cluster.pk, "MODIFIED", obj), stop)
    writer.start()
    while not attempts:
        time.sleep(0.01)
    writer.stop()
    writer.join(10)
    assert not writer.is_alive()
    # had the database come back, a later batch would have moved the cursor past the first one
    assert attempts and all(versions == {"ConfigMap": "2"} for versions in attempts)
    assert WatchCursor.objects.get(cluster=cluster, kind="ConfigMap").resource_version == "1"


def test_a_row_postgresql_refuses_is_left_out_and_the_rest_stored():
    cluster = Cluster.objects.create(name="w", server="http://127.0.0.1:1", context="c", kubeconfig_encrypted="x")
    mirror.replace_kind(cluster.pk, "ConfigMap", [], "1")
    writer, stop = watcher.ClusterWriter(cluster.pk, watcher.Announcer()), threading.Event()
    for rv, name in ((2, "before"), (3, "x" * 300), (4, "after")):  # names are at most 253 characters
        obj = {"kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv)}}
        writer.put(("ConfigMap",) + mirror.prepare_event(cluster.pk, "ADDED", obj), stop)
    writer.start()
    writer.stop()
    writer.join(10)
    assert sorted(MirroredObject.objects.values_list("name", flat=True)) == ["after", "before"]
    cursor = WatchCursor.objects.get(cluster=cluster, kind="ConfigMap")
    assert cursor.resource_version == "4" and "xxxx" in cursor.last_error


def test_stop_does_not_wait_for_the_next_event():
    quiet = SandboxCluster(nodes=1, bookmark_seconds=120).start()  # no bookmark would end the reads
    try:
        Cluster.objects.create(
            name="quiet",
            server=quiet.url,
            context="sandbox",
            kubeconfig_encrypted=crypto.encrypt(quiet.kubeconfig_text()),
        )
        running = ClusterWatchers(kinds=KINDS)
        running.refresh()
        deadline = time.monotonic() + 20
        while WatchCursor.objects.filter(listed_at__isnull=False).count() < len(KINDS) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the kind threads are in their watch reads now
        started = time.monotonic()
        running.stop(timeout=20)
        assert time.monotonic() - started < 3
        assert not any(
            thread.is_alive() for thread in [*running.threads.values(), *running.writers.values(), running.announcer]
        )
    finally:
        quiet.stop()
