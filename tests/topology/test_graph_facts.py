"""The slim form the mirror keeps for the topology (graph.FACTS, stored beside each object at write
time): the graph built from it is the graph built from the whole objects, over objects that use
every field the builder reads; every kept field matters (dropping any one changes the graph); rows
written without facts, or with facts of another FACTS, are read whole and filled."""

import copy

import pytest

from console.clusters import mirror
from console.clusters.models import MirroredObject, WatchCursor
from monitoring.topology import graph, services

from ..factories import mk_cluster

NS = "facts"
HEAVY = {
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x" * 2000},
    "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:x": {}}}}],
    "resourceVersion": "7",
    "creationTimestamp": "2026-12-06T07:00:00Z",
}


def meta(name, labels=None, owner=None, uid=None, **extra):
    data = {"name": name, "namespace": NS, "uid": uid or f"uid-{name}", **HEAVY, **extra}
    if labels is not None:
        data["labels"] = labels
    if owner:
        data["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Other", "name": "not-it", "uid": "uid-other"},
            {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": owner[2], "controller": True},
        ]
    return data


def references(prefix):
    """A pod spec naming a distinct ConfigMap or Secret through every place one can be named, each
    optional and missing (so both the name and the flag show in the graph), and a ServiceAccount."""

    def ref(kind, where):
        return {"name": f"{prefix}-{kind}-{where}", "optional": True}

    container = {
        "image": "registry.local/app:1",
        "resources": {"limits": {"cpu": "1"}},
        "envFrom": [{"configMapRef": ref("cm", "envfrom")}, {"secretRef": ref("s", "envfrom")}],
        "env": [
            {"name": "PLAIN", "value": "1"},
            {"name": "A", "valueFrom": {"configMapKeyRef": {**ref("cm", "env"), "key": "a"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {**ref("s", "env"), "key": "b"}}},
            {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
    }
    init = copy.deepcopy(container)
    for entry in init["envFrom"] + init["env"]:
        for value in list(entry.values()) + list((entry.get("valueFrom") or {}).values()):
            if isinstance(value, dict) and "name" in value:
                value["name"] = value["name"].replace(prefix, f"{prefix}-init")
    return {
        "serviceAccountName": f"{prefix}-sa",
        "imagePullSecrets": [{"name": f"{prefix}-pull"}],
        "volumes": [
            {"name": "a", "configMap": ref("cm", "volume")},
            {"name": "b", "secret": {"secretName": f"{prefix}-s-volume", "optional": True}},
            {
                "name": "c",
                "projected": {
                    "sources": [
                        {"configMap": ref("cm", "projected")},
                        {"secret": ref("s", "projected")},
                        {"downwardAPI": {"items": []}},
                    ]
                },
            },
            {"name": "d", "emptyDir": {}},
        ],
        "initContainers": [{**init, "name": "init"}],
        "containers": [{**container, "name": "app"}],
    }


def pod(name, owner=None, phase="Running", statuses=None, init_statuses=None, reason=None, **extra):
    status = {
        "phase": phase,
        **({"reason": reason} if reason else {}),
        "podIP": f"10.0.0.{len(name)}",
        "hostIP": "192.168.0.1",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
        "containerStatuses": statuses or [{"name": "app", "ready": True, "state": {"running": {"startedAt": "x"}}}],
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    spec = {"nodeName": "node-1", "containers": [{"name": "app", "image": "x"}], **extra.pop("spec", {})}
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": meta(name, {"app": name}, owner, **extra),
        "spec": spec,
        "status": status,
    }


def crashing_pods():
    """One pod per way a container status makes a pod bad, for init and app containers alike."""
    cases = {
        "waiting": {"ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}},
        "exit": {"ready": False, "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "x"}}},
        "exit-no-reason": {"ready": False, "state": {"terminated": {"exitCode": 2}}},
        "last": {
            "ready": False,
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "OOMKilled", "finishedAt": "x"}},
        },
        "last-ready": {  # came back: fine again (the ready flag decides)
            "ready": True,
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        },
        "last-no-reason": {"ready": False, "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 3}}},
    }
    pods = []
    for case, state in cases.items():
        pods.append(pod(f"app-{case}", statuses=[{"name": "app", "restartCount": 4, **state}]))
        pods.append(pod(f"init-{case}", init_statuses=[{"name": "init", **state}], phase="Pending"))
    return pods


def world():
    labels = {"app": "web", "tier": "front"}
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": meta("web", {"caas.io/app": "web"}, uid="d1"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": references("web")},
        },
        "status": {"readyReplicas": 2, "replicas": 3, "conditions": [{"type": "Available"}]},
    }
    # required references besides, present: drawn ok
    template_spec = references("web")
    template_spec["containers"][0]["envFrom"] += [{"configMapRef": {"name": "web-config"}}]
    template_spec["containers"][0]["env"] += [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "web-secret"}}}]
    deployment["spec"]["template"]["spec"] = template_spec
    cron_spec = references("nightly")
    cron_spec["serviceAccount"] = cron_spec.pop("serviceAccountName")  # the older field, alone
    cron = {
        "kind": "CronJob",
        "metadata": meta("nightly", {"job": "nightly"}, uid="c1"),
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": cron_spec}}}},
    }
    not_ready = pod("not-ready", statuses=[{"name": "app", "ready": False, "state": {"running": {}}}])
    not_ready["status"]["conditions"][1]["status"] = "False"
    claim = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}
    web_pods = [
        pod("web-1-a", ("ReplicaSet", "web-1", "rs1"), spec=claim),
        pod("web-1-b", ("ReplicaSet", "web-1", "rs1"), statuses=[{"name": "app", "state": {"running": {}}}]),
    ]
    for web_pod in web_pods:
        web_pod["metadata"]["labels"] = {**labels, "pod-template-hash": "1"}
    objects = [
        deployment,
        {"kind": "ReplicaSet", "metadata": meta("web-1", {"app": "web"}, ("Deployment", "web", "d1"), uid="rs1")},
        *web_pods,
        cron,
        {
            "kind": "CronJob",
            "metadata": meta("weekly", uid="c2"),
            "spec": {"jobTemplate": {"spec": {"template": {"spec": references("weekly")}}}},
        },
        {"kind": "Job", "metadata": meta("nightly-1", {}, ("CronJob", "nightly", "c1"), uid="j1"), "status": {}},
        pod("nightly-1-x", ("Job", "nightly-1", "j1"), phase="Succeeded"),
        {"kind": "Job", "metadata": meta("migrate", {"job": "m"}, uid="j2"), "status": {"failed": 1}},
        {"kind": "Job", "metadata": meta("retried", uid="j3"), "status": {"failed": 1, "succeeded": 1}},
        {"kind": "Job", "metadata": meta("running", uid="j4"), "status": {"active": 1}},
        {
            "kind": "DaemonSet",
            "metadata": meta("agent", {"ds": "agent"}, uid="ds1"),
            "spec": {"template": {"spec": {"serviceAccount": "agent-legacy-sa", "containers": [{"name": "a"}]}}},
            "status": {"desiredNumberScheduled": 3, "numberReady": 3},
        },
        {
            "kind": "DaemonSet",
            "metadata": meta("logs", {"ds": "logs"}, uid="ds2"),
            "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}},
            "status": {"desiredNumberScheduled": 3, "numberReady": 2},
        },
        {
            "kind": "StatefulSet",
            "metadata": meta("db", {"app": "db"}, uid="s1"),
            "spec": {
                "replicas": 1,
                "template": {"spec": {"containers": [{"name": "pg"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}, "spec": {"resources": {}}}],
            },
            "status": {"readyReplicas": 1},
        },
        pod("db-0", ("StatefulSet", "db", "s1")),
        # bare pods: their own references; their statuses
        pod("debug", spec=references("debug")),
        pod("legacy", spec={"serviceAccount": "legacy-sa", "nodeName": ""}),
        pod("gone", deletionTimestamp="2026-12-06T08:00:00Z"),
        pod("failed", phase="Failed", statuses=[{"name": "app", "state": {}}]),
        pod("evicted", phase="Failed", reason="Evicted"),
        pod("waiting", phase="Pending"),
        pod("unschedulable", phase="Pending", reason="Unschedulable"),
        pod("odd", phase="Unknown"),
        not_ready,
        *crashing_pods(),
        {
            "kind": "Service",
            "metadata": meta("web", {"svc": "web"}),
            "spec": {
                "type": "NodePort",
                "selector": labels,
                "clusterIP": "10.96.0.10",
                "ports": [{"port": 80, "targetPort": 8080, "protocol": "UDP", "name": "http"}, {"port": 443}],
            },
        },
        {"kind": "Service", "metadata": meta("headless"), "spec": {"clusterIP": "None"}},
        {
            "kind": "Endpoints",
            "metadata": meta("web"),
            "subsets": [
                {
                    "addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "web-1-a"}}],
                    "notReadyAddresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}],
                    "ports": [{"port": 8080}],
                }
            ],
        },
        {
            "kind": "Ingress",
            "metadata": meta("web", {"ing": "web"}),
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
                "tls": [{"hosts": ["web.example.com"], "secretName": "tls"}],
                "rules": [
                    {
                        "host": "web.example.com",
                        "http": {
                            "paths": [{"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]
                        },
                    },
                    {"http": {"paths": [{"path": "/api", "backend": {"service": {"name": "api"}}}]}},
                ],
            },
        },
        {
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta("web"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 7,
                "metrics": [{"type": "Resource"}],
            },
            "status": {"currentReplicas": 3, "desiredReplicas": 3},
        },
        {"kind": "ConfigMap", "metadata": meta("web-config"), "data": {"a": "x" * 500}},
        {
            "kind": "PersistentVolumeClaim",
            "metadata": meta("data"),
            "spec": {"volumeName": "pv-1", "storageClassName": "ceph-rbd", "accessModes": ["ReadWriteOnce"]},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}},
        },
        {"kind": "PersistentVolumeClaim", "metadata": meta("pgdata-db-0"), "spec": {}, "status": {"phase": "Pending"}},
        {
            "kind": "PersistentVolume",
            "metadata": {"name": "pv-1", "uid": "pv1", **HEAVY},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "claimRef": {"name": "data"},
                "csi": {
                    "driver": "rbd.csi.ceph.com",
                    "volumeHandle": "0001-0009-rook-ceph-0000000000000002-abc",
                    "volumeAttributes": {"pool": "kube", "imageName": "csi-vol-abc", "clusterID": "c"},
                },
            },
        },
        {"kind": "Secret", "metadata": meta("web-secret"), "type": "kubernetes.io/basic-auth"},
        {"kind": "ServiceAccount", "metadata": meta("web-sa")},
    ]
    return objects


def keyed(result):
    """A graph as {id: node} and {id: edge}: read from the mirror, the objects come in its order."""
    return {n["id"]: n for n in result["nodes"]}, {e["id"]: e for e in result["edges"]}


def test_the_graph_of_the_slim_form_is_the_graph_of_the_objects():
    objects = world()
    full = graph.build(copy.deepcopy(objects))
    slim = [graph.slim(obj) for obj in objects]
    assert graph.build(slim) == full
    assert graph.build(slim, unlisted=("Secret",)) == graph.build(objects, unlisted=("Secret",))
    # and what is stored parses back to it
    assert [graph.from_facts(graph.graph_facts(obj)) for obj in objects] == slim
    assert len(repr(slim)) < len(repr(objects)) / 4  # annotations, managedFields, data: left out
    # the world draws what the builder can draw: every kind, optional and required references
    kinds = {node["kind"] for node in full["nodes"]}
    assert kinds == set(graph.KIND_ORDER)
    reasons = {(node["kind"], node["health"], node.get("reason")) for node in full["nodes"]}
    assert {("ConfigMap", "ok", None), ("Secret", "ok", None), ("Secret", "bad", "missing")} <= reasons
    assert {("ConfigMap", "unknown", "optional, missing"), ("Secret", "unknown", "optional, missing")} <= reasons


def test_every_field_kept_matters():
    """Dropping any one path of graph.FACTS changes the graph of the world: nothing is kept that
    the builder does not read, and the world above uses every field the builder does read."""
    objects = world()
    expected = graph.build(objects)
    paths = sorted({path for kind_paths in graph.FACTS.values() for path in kind_paths} | set(graph._META))
    unused = []
    for path in paths:
        trees = {
            kind: graph._tree([p for p in graph._META + kind_paths if p != path])
            for kind, kind_paths in graph.FACTS.items()
        }
        cut = [graph._cut(obj, trees[obj["kind"]]) for obj in objects]
        if graph.build(cut) == expected:
            unused.append(path)
    assert unused == []


def test_the_cut_keeps_odd_shapes_as_they_are():
    odd = {"kind": "Pod", "metadata": {"name": "p", "labels": None, "ownerReferences": "?"}, "spec": [], "status": 3}
    assert graph.slim(odd) == odd
    assert graph.slim({"kind": "Event", "metadata": {"name": "e"}}) is None
    assert graph.graph_facts({"kind": "Event"}) is None
    assert graph.from_facts("") is None and graph.from_facts('0000000|{"kind":"Pod"}') is None


@pytest.mark.django_db
def test_the_mirror_stores_facts_and_the_topology_reads_them():
    cluster = mk_cluster()
    objects = world()
    by_kind = {}
    for obj in copy.deepcopy(objects):
        by_kind.setdefault(obj["kind"], []).append(obj)
    for kind, items in by_kind.items():
        mirror.replace_kind(cluster.pk, kind, items, "1")
    rows = MirroredObject.objects.filter(cluster=cluster)
    assert all(row.graph_facts.startswith(graph.FACTS_TAG) for row in rows)
    pod_row = rows.get(kind="Pod", name="debug")
    assert "managedFields" not in pod_row.graph_facts and "managedFields" in pod_row.object["metadata"]

    assert services.unlisted_kinds(cluster.pk) == ()  # the lists above set the cursors of both kinds
    expected = keyed(graph.build(objects))
    assert keyed(services.build_namespace_graph(cluster, [NS])) == expected
    services._parsed.clear()
    assert keyed(services.namespace_graph(cluster, [NS])) == expected


@pytest.mark.django_db
def test_rows_without_facts_are_read_whole_and_filled():
    """Rows written before the column, or cut by another FACTS: the same graph, and the first read
    stores their facts (unless the row changed meanwhile)."""
    cluster = mk_cluster()
    objects = world()
    for kind in {obj["kind"] for obj in objects}:
        mirror.replace_kind(cluster.pk, kind, [copy.deepcopy(o) for o in objects if o["kind"] == kind], "1")
    expected = keyed(services.build_namespace_graph(cluster, [NS]))
    rows = MirroredObject.objects.filter(cluster=cluster)
    rows.filter(kind="Pod").update(graph_facts="")
    rows.filter(kind="Deployment").update(graph_facts='0badc0de|{"kind":"Deployment"}')
    assert keyed(services.build_namespace_graph(cluster, [NS])) == expected
    assert not rows.exclude(graph_facts__startswith=graph.FACTS_TAG).exists()
    assert rows.get(kind="Deployment").graph_facts == graph.graph_facts(rows.get(kind="Deployment").object)

    # a row that changed after it was read (a newer version came) is not filled with the old facts
    debug = rows.get(kind="Pod", name="debug")
    rows.filter(pk=debug.pk).update(graph_facts="", resource_version="8")
    services._fill([(debug.pk, debug.resource_version, graph.facts_text({"kind": "Pod"}))])
    assert rows.get(pk=debug.pk).graph_facts == ""
    services._fill([(debug.pk, "8", graph.graph_facts(debug.object))])
    assert rows.get(pk=debug.pk).graph_facts == graph.graph_facts(debug.object)


@pytest.mark.django_db
def test_other_kinds_are_read_whole():
    cluster = mk_cluster()
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": NS},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    mirror.replace_kind(cluster.pk, "NetworkPolicy", [copy.deepcopy(policy)], "1")
    row = MirroredObject.objects.get(cluster=cluster, kind="NetworkPolicy")
    assert row.graph_facts == ""
    assert services._objects(cluster.pk, ["NetworkPolicy"]) == [policy]
    assert WatchCursor.objects.filter(cluster=cluster, kind="NetworkPolicy").exists()
