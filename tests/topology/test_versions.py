"""Graph versions and diffs (monitoring/topology/versions.py) through the JSON views, on the
resource mirror in PostgreSQL and the cache in Redis: a live page asks what changed since its
version and gets exactly that; a version of another scope, a forgotten one or a bad one never
gets a diff; the parsed-object cache notices every change of the mirror."""

import gc
import json

import pytest
from django.urls import reverse

from console.clusters import mirror
from monitoring.topology import services, versions

from ..factories import mk_cluster, mk_user

pytestmark = pytest.mark.django_db
LABELS = {"app": "web"}


def pod(namespace, name, version, phase="Running", waiting=None, reason=None):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"{namespace}-{name}",
            "resourceVersion": str(version),
            "labels": LABELS,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-rs", "uid": f"{namespace}-rs", "controller": True}],
        },
        "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
        "status": {
            "phase": phase,
            **({"reason": reason} if reason else {}),
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": not waiting, "state": state}],
        },
    }


def seed(cluster, namespace, pods=3):
    objects = [
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "namespace": namespace, "uid": f"{namespace}-web", "resourceVersion": "1"},
            "spec": {"replicas": pods, "selector": {"matchLabels": LABELS}, "template": {"spec": {}}},
            "status": {"readyReplicas": pods},
        },
        {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": "web-rs",
                "namespace": namespace,
                "uid": f"{namespace}-rs",
                "resourceVersion": "1",
                "ownerReferences": [
                    {"kind": "Deployment", "name": "web", "uid": f"{namespace}-web", "controller": True}
                ],
            },
        },
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": namespace, "uid": f"{namespace}-svc", "resourceVersion": "1"},
            "spec": {"selector": LABELS, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ] + [pod(namespace, f"web-{i}", 1) for i in range(pods)]
    for obj in objects:
        mirror.apply_events(cluster.pk, obj["kind"], [("ADDED", obj)])


def fetch(client, cluster, namespace, since=None):
    url = reverse("topology:cluster_namespace_graph", args=[cluster.name, namespace])
    response = client.get(url, {"since": since} if since else {})
    assert response.status_code == 200, response.content
    return response.json()


def apply(graph, diff):
    """The diff applied to a whole graph, as static/js/topology.js does."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    edges = {e["id"]: e for e in graph["edges"]}
    for ident in diff["nodes"]["removed"]:
        del nodes[ident]
    for node in diff["nodes"]["added"] + diff["nodes"]["changed"]:
        nodes[node["id"]] = node
    for ident in diff["edges"]["removed"]:
        del edges[ident]
    for edge in diff["edges"]["added"]:
        edges[edge["id"]] = edge
    return nodes, edges


@pytest.fixture
def operator_client(client):
    client.force_login(mk_user("topo-op", "operator"))
    return client


def test_a_live_page_gets_what_changed_since_its_version(operator_client):
    cluster = mk_cluster("big")
    seed(cluster, "shop")
    first = fetch(operator_client, cluster, "shop")
    assert versions.is_version(first["version"]) and "diff" not in first
    assert first["scope"] == "namespace" and first["namespace"] == "shop"

    same = fetch(operator_client, cluster, "shop", since=first["version"])
    assert same["diff"] and same["version"] == first["version"]
    assert same["nodes"] == {"added": [], "changed": [], "removed": []}
    assert same["edges"] == {"added": [], "removed": []}

    # one pod crashes, one goes, one comes
    mirror.apply_events(cluster.pk, "Pod", [("MODIFIED", pod("shop", "web-0", 2, waiting="CrashLoopBackOff"))])
    mirror.apply_events(cluster.pk, "Pod", [("DELETED", pod("shop", "web-1", 3))])
    mirror.apply_events(cluster.pk, "Pod", [("ADDED", pod("shop", "web-9", 4))])
    diff = fetch(operator_client, cluster, "shop", since=first["version"])
    assert diff["diff"] and diff["since"] == first["version"] and diff["version"] != first["version"]
    assert [n["id"] for n in diff["nodes"]["added"]] == ["Pod/shop/web-9"]
    assert diff["nodes"]["removed"] == ["Pod/shop/web-1"]
    changed = {n["id"]: n for n in diff["nodes"]["changed"]}
    assert set(changed) == {"Pod/shop/web-0", "Deployment/shop/web"}  # the pod, and its workload turned red
    assert changed["Pod/shop/web-0"]["health"] == "bad" and changed["Deployment/shop/web"]["health"] == "bad"
    assert {e["id"] for e in diff["edges"]["added"]} == {
        "Deployment/shop/web>runs>Pod/shop/web-9",
        "Pod/shop/web-9>on-node>Node//node-1",
    }
    assert set(diff["edges"]["removed"]) == {
        "Deployment/shop/web>runs>Pod/shop/web-1",
        "Pod/shop/web-1>on-node>Node//node-1",
    }
    assert "paths" not in diff  # one workload: no paths before, none now

    # the diff turns the page's graph into exactly the whole graph of now
    now = fetch(operator_client, cluster, "shop")
    assert now["version"] == diff["version"]
    nodes, edges = apply(first, diff)
    assert nodes == {n["id"]: n for n in now["nodes"]}
    assert edges == {e["id"]: e for e in now["edges"]}
    # the process's parsed objects followed the mirror: the same as a build that parses every row again
    services._parsed.clear()
    uncached = json.loads(versions.dumps(services.build_namespace_graph(cluster, ["shop"])))
    assert {n["id"]: n for n in uncached["nodes"]} == {n["id"]: n for n in now["nodes"]}
    assert {e["id"] for e in uncached["edges"]} == set(edges)
    # far smaller than the graph
    assert len(versions.dumps(diff)) < len(versions.dumps(now)) / 2


def test_only_versions_of_the_same_scope_kept_lately_give_a_diff(operator_client):
    cluster = mk_cluster("big")
    seed(cluster, "shop")
    seed(cluster, "bank", pods=2)
    shop = fetch(operator_client, cluster, "shop")
    bank = fetch(operator_client, cluster, "bank")
    # a version of another namespace: the whole graph of this one, nothing of the other
    answer = fetch(operator_client, cluster, "bank", since=shop["version"])
    assert "diff" not in answer and answer["version"] == bank["version"]
    assert "shop" not in versions.dumps(answer)
    # a version never made (or forgotten): the whole graph
    assert "diff" not in fetch(operator_client, cluster, "shop", since="0" * 20)

    # only the last KEEP versions of a scope are kept
    for i in range(versions.KEEP):
        waiting = pod("shop", "web-0", 10 + i, phase="Pending", reason=f"Waiting{i}")
        mirror.apply_events(cluster.pk, "Pod", [("MODIFIED", waiting)])
        latest = fetch(operator_client, cluster, "shop")
        assert latest["version"] != shop["version"]
    assert "diff" not in fetch(operator_client, cluster, "shop", since=shop["version"])
    assert fetch(operator_client, cluster, "shop", since=latest["version"])["diff"]

    # not a version at all: 400 and why
    url = reverse("topology:cluster_namespace_graph", args=[cluster.name, "shop"])
    for bad in ("", "x" * 20, "0" * 19, "../../etc"):
        response = operator_client.get(url, {"since": bad})
        assert response.status_code == 400, bad
        assert "Not a version of this graph" in response.json()["error"]


def test_a_tenant_diff_never_names_another_tenants_objects(client):
    """The version of a namespace the user may not see is no way in: 404 before any diff."""
    from ..factories import mk_member, mk_project, mk_tenant

    cluster = mk_cluster("big")
    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    mk_project(acme, cluster, "web")
    mk_project(globex, cluster, "shop")
    seed(cluster, "acme-web")
    seed(cluster, "globex-shop")
    client.force_login(mk_member(acme, "acme-dev"))
    mine = client.get(reverse("topology:namespace_graph", args=["acme", "acme-web"])).json()
    client.force_login(mk_member(globex, "globex-dev"))
    theirs = client.get(reverse("topology:namespace_graph", args=["globex", "globex-shop"])).json()
    answer = client.get(reverse("topology:namespace_graph", args=["globex", "globex-shop"]), {"since": mine["version"]})
    assert answer.status_code == 200 and "diff" not in answer.json()
    assert answer.json()["version"] == theirs["version"] and "acme" not in answer.content.decode()
    url = reverse("topology:namespace_graph", args=["acme", "acme-web"])
    assert client.get(url, {"since": mine["version"]}).status_code == 404


def test_the_collector_is_paused_while_building_and_back_after():
    assert gc.isenabled()
    with services.gc_paused():
        assert not gc.isenabled()
        with services.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:  # paused by someone else before: left as it was
        with services.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
