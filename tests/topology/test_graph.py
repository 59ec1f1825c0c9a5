"""The graph builder (monitoring/topology/graph.py) on objects shaped as the API server returns them."""

from monitoring.topology import graph

NS = "acme-web"


def meta(name, labels=None, uid=None, owner=None, **extra):
    data = {"name": name, "namespace": NS, "uid": uid or f"uid-{name}", "labels": labels or {}, **extra}
    if owner:
        data["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "uid": owner[2], "controller": True}]
    return data


def pod(name, owner, labels, phase="Running", waiting=None, node="node-1", volumes=(), ready=True):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "kind": "Pod",
        "metadata": meta(name, labels, owner=owner),
        "spec": {"nodeName": node, "containers": [{"name": "c"}], "volumes": list(volumes)},
        "status": {
            "phase": phase,
            "podIP": "10.244.0.9",
            "conditions": [{"type": "Ready", "status": "True" if ready and not waiting else "False"}],
            "containerStatuses": [{"name": "c", "state": state}],
        },
    }


def world():
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "serviceAccountName": "web-sa",
            "containers": [
                {
                    "name": "c",
                    "envFrom": [{"secretRef": {"name": "web-env"}}],
                    "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "mode"}}}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }
    data_volume = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    return [
        {
            "kind": "Ingress",
            "metadata": meta("web"),
            "spec": {
                "rules": [
                    {
                        "host": "web.example.com",
                        "http": {
                            "paths": [{"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]
                        },
                    }
                ]
            },
        },
        {
            "kind": "Service",
            "metadata": meta("web"),
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {"kind": "Endpoints", "metadata": meta("web"), "subsets": [{"addresses": [{"ip": "10.244.0.9"}]}]},
        {"kind": "Service", "metadata": meta("orphan"), "spec": {"selector": {"app": "gone"}, "ports": [{"port": 80}]}},
        {
            "kind": "Deployment",
            "metadata": meta("web", {"caas.io/app": "web"}, uid="d1"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
            "status": {"readyReplicas": 1},
        },
        {"kind": "ReplicaSet", "metadata": meta("web-abc", uid="rs1", owner=("Deployment", "web", "d1"))},
        pod("web-abc-1", ("ReplicaSet", "web-abc", "rs1"), {"app": "web"}, volumes=data_volume),
        pod(
            "web-abc-2",
            ("ReplicaSet", "web-abc", "rs1"),
            {"app": "web"},
            waiting="CrashLoopBackOff",
            node="node-2",
            volumes=data_volume,
        ),
        {
            "kind": "StatefulSet",
            "metadata": meta("db", uid="s1"),
            "spec": {
                "replicas": 1,
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}}],
            },
            "status": {"readyReplicas": 1},
        },
        pod(
            "db-0",
            ("StatefulSet", "db", "s1"),
            {"app": "db"},
            volumes=[{"name": "pgdata", "persistentVolumeClaim": {"claimName": "pgdata-db-0"}}],
        ),
        pod("debug", None, {"run": "debug"}, phase="Pending", node=""),
        {"kind": "ConfigMap", "metadata": meta("web-config")},
        {
            "kind": "PersistentVolumeClaim",
            "metadata": meta("data"),
            "spec": {"volumeName": "pv-1"},
            "status": {"phase": "Bound"},
        },
        {"kind": "PersistentVolumeClaim", "metadata": meta("pgdata-db-0"), "spec": {}, "status": {"phase": "Pending"}},
        {
            "kind": "PersistentVolume",
            "metadata": {"name": "pv-1", "uid": "pv1"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "csi": {
                    "driver": "rbd.csi.ceph.com",
                    "volumeHandle": "0001-0009-rook-ceph-0000000000000002-abc",
                    "volumeAttributes": {"pool": "kube", "imageName": "csi-vol-abc"},
                },
            },
        },
        {
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta("web"),
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5},
        },
    ]


def built(objects=None):
    result = graph.build(world() if objects is None else objects)
    nodes = {n["id"]: n for n in result["nodes"]}
    edges = {(e["source"], e["relation"], e["target"]) for e in result["edges"]}
    return nodes, edges


def nid(kind, name, namespace=NS):
    return graph.node_id(kind, namespace, name)


def test_request_path_from_ingress_to_rbd_image():
    nodes, edges = built()
    assert nodes[nid("Ingress", "web")]["hosts"] == ["web.example.com"]
    assert (nid("Ingress", "web"), "routes", nid("Service", "web")) in edges
    # the Service selects the Deployment (its ReplicaSet folded in), not each pod
    assert (nid("Service", "web"), "selects", nid("Deployment", "web")) in edges
    assert not any(n["kind"] == "ReplicaSet" for n in nodes.values())
    assert (nid("Deployment", "web"), "runs", nid("Pod", "web-abc-1")) in edges
    assert (nid("Pod", "web-abc-1"), "mounts", nid("PersistentVolumeClaim", "data")) in edges
    assert (nid("PersistentVolumeClaim", "data"), "bound", nid("PersistentVolume", "pv-1", "")) in edges
    assert (nid("PersistentVolume", "pv-1", ""), "image", nid("RBDImage", "kube/csi-vol-abc", "")) in edges
    assert nodes[nid("PersistentVolume", "pv-1", "")]["volume_handle"].startswith("0001-")
    assert (nid("Pod", "web-abc-2"), "on-node", nid("Node", "node-2", "")) in edges


def test_hidden_dependencies_hang_on_the_workload():
    nodes, edges = built()
    web = nid("Deployment", "web")
    assert (web, "uses-config", nid("ConfigMap", "web-config")) in edges
    assert (web, "uses-secret", nid("Secret", "web-env")) in edges
    assert (web, "runs-as", nid("ServiceAccount", "web-sa")) in edges
    assert (nid("HorizontalPodAutoscaler", "web"), "scales", web) in edges
    # a bare pod carries its own (the default service account)
    assert (nid("Pod", "debug"), "runs-as", nid("ServiceAccount", "default")) in edges
    # StatefulSet claims per pod
    assert (nid("Pod", "db-0"), "mounts", nid("PersistentVolumeClaim", "pgdata-db-0")) in edges


def test_health_from_pods_endpoints_claims_and_alerts():
    nodes, _edges = built()
    assert nodes[nid("Pod", "web-abc-1")]["health"] == "ok"
    assert nodes[nid("Pod", "web-abc-2")]["health"] == "bad"
    assert nodes[nid("Pod", "web-abc-2")]["reason"] == "CrashLoopBackOff"
    assert nodes[nid("Deployment", "web")]["health"] == "bad"  # one of its pods fails
    assert nodes[nid("StatefulSet", "db")]["health"] == "ok"
    assert nodes[nid("Pod", "debug")]["health"] == "warn"
    assert nodes[nid("Service", "web")]["health"] == "ok" and nodes[nid("Service", "web")]["endpoints"] == 1
    assert nodes[nid("Service", "orphan")]["health"] == "warn"  # a selector and no endpoints
    assert nodes[nid("PersistentVolumeClaim", "pgdata-db-0")]["health"] == "warn"
    assert nodes[nid("ConfigMap", "web-config")]["health"] == "ok"


def test_firing_alerts_turn_their_workload_red(monkeypatch):
    from console import alerting
    from monitoring.topology import services

    def source(*, cluster_id, namespace, app=None):
        return ["HighLatency"] if namespace == NS and app in (None, "db") else []

    monkeypatch.setattr(alerting, "_sources", [source])
    nodes = {n["id"]: n for n in services.with_alerts(1, [NS], graph.build(world())["nodes"])}
    assert nodes[nid("StatefulSet", "db")]["health"] == "bad"
    assert nodes[nid("StatefulSet", "db")]["alerts"] == ["HighLatency"]
    assert "alerts" not in nodes[nid("Deployment", "web")]
    monkeypatch.setattr(alerting, "_sources", [])
    plain = {n["id"]: n for n in services.with_alerts(1, [NS], graph.build(world())["nodes"])}
    assert plain[nid("StatefulSet", "db")]["health"] == "ok"


def test_missing_references_are_shown_red():
    objects = [o for o in world() if o["kind"] != "ConfigMap" and o["metadata"]["name"] != "data"]
    nodes, _ = built(objects)
    assert nodes[nid("ConfigMap", "web-config")]["health"] == "bad"
    assert nodes[nid("PersistentVolumeClaim", "data")]["health"] == "bad"


def test_secrets_and_service_accounts_exist_or_are_drawn_broken():
    """The mirror keeps their metadata (a Secret's type too): a named one that is not there is
    missing (red); while their kind is not listed from the cluster, nothing is known (idle)."""
    present = [
        {"kind": "Secret", "metadata": meta("web-env"), "type": "Opaque"},
        {"kind": "ServiceAccount", "metadata": meta("default")},
    ]
    nodes, _ = built(world() + present)
    assert nodes[nid("Secret", "web-env")]["health"] == "ok" and nodes[nid("Secret", "web-env")]["type"] == "Opaque"
    assert nodes[nid("ServiceAccount", "default")]["health"] == "ok"  # the bare pod's
    assert nodes[nid("ServiceAccount", "web-sa")]["health"] == "bad"  # the Deployment's: not there
    assert nodes[nid("ServiceAccount", "web-sa")]["reason"] == "missing"
    other_namespace = [{"kind": "Secret", "metadata": {**meta("web-env"), "namespace": "other"}}]
    nodes, _ = built(world() + other_namespace)
    assert nodes[nid("Secret", "web-env")]["health"] == "bad"  # a namesake elsewhere is not it
    unknown = {n["id"]: n for n in graph.build(world(), unlisted=("Secret", "ServiceAccount"))["nodes"]}
    assert unknown[nid("Secret", "web-env")]["health"] == "idle"
    assert unknown[nid("ServiceAccount", "web-sa")]["health"] == "idle"


def test_the_service_loses_its_endpoints():
    objects = [o for o in world() if o["kind"] != "Endpoints"]
    nodes, _ = built(objects)
    assert nodes[nid("Service", "web")]["health"] == "warn"
    assert nodes[nid("Service", "web")]["endpoints"] == 0


def test_an_empty_namespace_is_an_empty_graph():
    assert graph.build([]) == {"nodes": [], "edges": []}


def test_a_pod_between_crash_loop_restarts_stays_bad():
    """Running again after a failed run and not ready yet: still the crash loop, not a warning."""
    from monitoring.topology.graph import pod_health

    pod = {
        "metadata": {"name": "web-1"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "web",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"running": {"startedAt": "2026-12-06T07:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ],
        },
    }
    assert pod_health(pod) == ("bad", "Error")
    pod["status"]["containerStatuses"][0]["ready"] = True  # it came back: fine again
    pod["status"]["conditions"][0]["status"] = "True"
    assert pod_health(pod) == ("ok", "Running")
