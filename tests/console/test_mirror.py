import pytest

from console.clusters import mirror
from console.clusters.models import Cluster, MirroredObject, WatchCursor

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="c1", server="http://127.0.0.1:1", context="main", kubeconfig_encrypted="x")


def pod(name, rv, namespace="shop", phase="Running", labels=None, owner=None, **status):
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "resourceVersion": str(rv),
        "labels": labels or {"app": "web"},
        "creationTimestamp": "2026-11-25T06:00:00Z",
    }
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": f"uid-{owner}", "controller": True}]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": meta,
        "spec": {"nodeName": "node-1"},
        "status": {"phase": phase, **status},
    }


def test_list_replaces_the_kind_and_sets_the_cursor(cluster):
    mirror.replace_kind(cluster.pk, "Pod", [pod("a", 1), pod("b", 2)], "10")
    changes = mirror.replace_kind(cluster.pk, "Pod", [pod("b", 3, owner="web-1"), pod("c", 4)], "20")
    assert sorted(MirroredObject.objects.values_list("name", flat=True)) == ["b", "c"]
    assert changes.deleted == {("Pod", "shop", "a")}
    b = MirroredObject.objects.get(name="b")
    assert (b.resource_version, b.owner_kind, b.owner_name, b.node_name, b.phase) == (
        "3",
        "ReplicaSet",
        "web-1",
        "node-1",
        "Running",
    )
    assert WatchCursor.objects.get(cluster=cluster, kind="Pod").resource_version == "20"


def test_events_apply_last_state_wins_and_are_idempotent(cluster):
    mirror.replace_kind(cluster.pk, "Pod", [pod("a", 1)], "1")
    events = [
        ("ADDED", pod("b", 2, phase="Pending")),
        ("MODIFIED", pod("b", 3)),
        ("DELETED", pod("a", 4)),
        ("BOOKMARK", {"metadata": {"resourceVersion": "5"}}),
    ]
    for _ in range(2):  # a resumed watcher may see the same events again
        mirror.apply_events(cluster.pk, "Pod", events, "5")
        assert list(MirroredObject.objects.values_list("name", "phase", "resource_version")) == [("b", "Running", "3")]
    assert WatchCursor.objects.get(kind="Pod").resource_version == "5"


def test_phase_shows_crash_loops_and_termination():
    crashing = pod("x", 1, containerStatuses=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    assert mirror.phase_of(crashing) == "CrashLoopBackOff"
    leaving = pod("y", 1)
    leaving["metadata"]["deletionTimestamp"] = "2026-11-25T06:00:00Z"
    assert mirror.phase_of(leaving) == "Terminating"
    deployment = {"kind": "Deployment", "spec": {"replicas": 3}, "status": {"readyReplicas": 2}}
    assert mirror.phase_of(deployment) == "Progressing"


def test_odd_characters_survive_the_copy_and_nul_is_dropped(cluster):
    tricky = pod("odd", 1)
    tricky["metadata"]["annotations"] = {
        "note": 'tab\there, back\\slash, new\nline, quote" and \u00e9\u4e2d',
        "nul": "a\x00b",
    }
    mirror.replace_kind(cluster.pk, "Pod", [tricky], "1")
    stored = MirroredObject.objects.get(name="odd").object["metadata"]["annotations"]
    assert stored == {"note": 'tab\there, back\\slash, new\nline, quote" and \u00e9\u4e2d', "nul": "ab"}


def test_a_batch_of_rows_spans_kinds_and_deletes_in_one_go(cluster):
    mirror.replace_kind(cluster.pk, "Pod", [pod(f"p{i}", i) for i in range(5)], "5")
    mirror.replace_kind(cluster.pk, "ConfigMap", [], "5")
    config = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cfg", "namespace": "shop", "resourceVersion": "7"},
    }
    latest = {("Pod", "shop", f"p{i}"): None for i in range(4)}
    latest[("ConfigMap", "shop", "cfg")] = mirror.row_values(cluster.pk, config)
    changes = mirror.apply_rows(cluster.pk, latest, {"Pod": "8", "ConfigMap": "7"})
    assert sorted(MirroredObject.objects.values_list("kind", "name")) == [("ConfigMap", "cfg"), ("Pod", "p4")]
    assert changes.deleted == {("Pod", "shop", f"p{i}") for i in range(4)}
    assert changes.upserted == {("ConfigMap", "shop", "cfg")}
    assert dict(WatchCursor.objects.values_list("kind", "resource_version")) == {"Pod": "8", "ConfigMap": "7"}
