"""Controllers on the fast clock (StatefulSet, DaemonSet, Job, CronJob, Services, storage,
snapshots, HPA, faults, metrics, logs) and the knobs, from Python and over HTTP."""

import json
import ssl
import threading
import time
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import deployment, wait_for


@pytest.fixture(scope="module")
def ns(core):
    core.create_namespace({"metadata": {"name": "ctl"}})
    return "ctl"


def http(sandbox, method, path, payload=None, token=None):
    context = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    request = urllib.request.Request(
        sandbox.url + path,
        method=method,
        data=json.dumps(payload).encode() if payload is not None else None,
        headers={"Authorization": f"Bearer {token or sandbox.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_nodes_and_control_plane(core):
    nodes = core.list_node().items
    first = nodes[0]
    assert (
        "node-role.kubernetes.io/control-plane" in first.metadata.labels and first.status.allocatable["cpu"] == "7800m"
    )
    assert {c.type for c in first.status.conditions} == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert first.status.node_info.kubelet_version == "v1.37.0-sandbox"

    def all_running():
        pods = core.list_namespaced_pod("kube-system").items
        return pods if len(pods) >= 9 and all(p.status.phase == "Running" for p in pods) else None

    system = wait_for(all_running)
    names = {
        p.metadata.name.rsplit("-", 2)[0] if p.metadata.name.startswith(("coredns", "calico")) else p.metadata.name
        for p in system
    }
    assert {
        "etcd-sandbox-node-1",
        "kube-apiserver-sandbox-node-1",
        "kube-scheduler-sandbox-node-1",
        "kube-controller-manager-sandbox-node-1",
    } <= names
    assert len([p for p in system if p.metadata.name.startswith("calico-node")]) == 3  # a DaemonSet pod per node


def test_statefulset_claims_and_snapshot_restore(api, core, ns):
    apps = client.AppsV1Api(api)
    labels = {"app": "db"}
    apps.create_namespaced_stateful_set(
        ns,
        {
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
                    }
                ],
            },
        },
    )
    assert wait_for(lambda: apps.read_namespaced_stateful_set("db", ns).status.ready_replicas == 2, timeout=20)
    pods = sorted(p.metadata.name for p in core.list_namespaced_pod(ns, label_selector="app=db").items)
    assert pods == ["db-0", "db-1"]
    claims = {c.metadata.name: c for c in core.list_namespaced_persistent_volume_claim(ns).items}
    assert set(claims) == {"data-db-0", "data-db-1"} and all(c.status.phase == "Bound" for c in claims.values())
    assert (
        claims["data-db-0"].spec.storage_class_name == "ceph-rbd"
        and claims["data-db-0"].status.capacity["storage"] == "2Gi"
    )
    volume = core.read_persistent_volume(claims["data-db-0"].spec.volume_name)
    assert volume.spec.csi.driver == "rbd.csi.ceph.com" and volume.spec.claim_ref.name == "data-db-0"
    revisions = apps.list_namespaced_controller_revision(ns).items
    assert (
        revisions and apps.read_namespaced_stateful_set("db", ns).status.update_revision == revisions[0].metadata.name
    )

    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "snapshot.storage.k8s.io",
        "v1",
        ns,
        "volumesnapshots",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshot",
            "metadata": {"name": "snap"},
            "spec": {"source": {"persistentVolumeClaimName": "data-db-0"}},
        },
    )
    snap = wait_for(
        lambda: (lambda s: s if (s.get("status") or {}).get("readyToUse") else None)(
            custom.get_namespaced_custom_object("snapshot.storage.k8s.io", "v1", ns, "volumesnapshots", "snap")
        )
    )
    assert snap["spec"]["volumeSnapshotClassName"] == "ceph-rbd-snapclass" and snap["status"]["restoreSize"] == "2Gi"
    content = custom.get_cluster_custom_object(
        "snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", snap["status"]["boundVolumeSnapshotContentName"]
    )
    assert content["status"]["readyToUse"] and content["spec"]["driver"] == "rbd.csi.ceph.com"
    for name, size in (("too-small", "1Gi"), ("restored", "3Gi")):
        core.create_namespaced_persistent_volume_claim(
            ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": size}},
                    "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
                },
            },
        )
    restored = wait_for(
        lambda: (lambda c: c if c.status.phase == "Bound" else None)(
            core.read_namespaced_persistent_volume_claim("restored", ns)
        )
    )
    assert restored.status.capacity["storage"] == "3Gi"
    # the external-provisioner refuses a claim smaller than the snapshot's restoreSize; it stays Pending
    failed = wait_for(
        lambda: [
            e
            for e in core.list_namespaced_event(ns, field_selector="involvedObject.name=too-small").items
            if e.reason == "ProvisioningFailed"
        ]
    )
    assert failed[0].message == (
        'failed to provision volume with StorageClass "ceph-rbd": requested volume size '
        "1073741824 is less than the size 2147483648 for the source snapshot snap"
    )
    assert core.read_namespaced_persistent_volume_claim("too-small", ns).status.phase == "Pending"


def test_daemonset_job_and_cronjob(api, core, ns, sandbox):
    apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)
    labels = {"app": "agent"}
    apps.create_namespaced_daemon_set(
        ns,
        {
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "agent", "image": "agent:1"}]},
                },
            },
        },
    )
    assert wait_for(lambda: (apps.read_namespaced_daemon_set("agent", ns).status.number_ready or 0) == 3)
    nodes = sorted(p.spec.node_name for p in core.list_namespaced_pod(ns, label_selector="app=agent").items)
    assert nodes == ["sandbox-node-1", "sandbox-node-2", "sandbox-node-3"]
    batch.create_namespaced_job(
        ns,
        {
            "metadata": {"name": "twice"},
            "spec": {
                "completions": 2,
                "parallelism": 2,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:1"}]}
                },
            },
        },
    )
    job = wait_for(
        lambda: (lambda j: j if j.status.succeeded == 2 else None)(batch.read_namespaced_job("twice", ns)), timeout=20
    )
    assert (
        any(c.type == "Complete" and c.status == "True" for c in job.status.conditions) and job.status.completion_time
    )
    assert job.spec.selector.match_labels["batch.kubernetes.io/controller-uid"] == job.metadata.uid
    assert {p.status.phase for p in core.list_namespaced_pod(ns, label_selector="job-name=twice").items} == {
        "Succeeded"
    }
    sandbox.set_clock_speed(120)  # a minute passes in half a second
    try:
        batch.create_namespaced_cron_job(
            ns,
            {
                "metadata": {"name": "minutely"},
                "spec": {
                    "schedule": "* * * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "OnFailure",
                                    "containers": [{"name": "tick", "image": "busybox:1"}],
                                }
                            }
                        }
                    },
                },
            },
        )
        jobs = wait_for(
            lambda: [j for j in batch.list_namespaced_job(ns).items if j.metadata.name.startswith("minutely-")],
            timeout=20,
        )
        assert jobs[0].metadata.owner_references[0].kind == "CronJob"
        assert wait_for(lambda: batch.read_namespaced_cron_job("minutely", ns).status.last_schedule_time)
    finally:
        sandbox.set_clock_speed(20)
    with pytest.raises(ApiException) as bad_schedule:
        batch.create_namespaced_cron_job(
            ns,
            {
                "metadata": {"name": "bad"},
                "spec": {
                    "schedule": "61 * * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "x"}]}
                            }
                        }
                    },
                },
            },
        )
    assert bad_schedule.value.status == 422


def test_services_endpoints_and_node_ports(api, core, apps, ns):
    apps.create_namespaced_deployment(ns, deployment("svcd", replicas=2))
    core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "svcd"},
            "spec": {"type": "NodePort", "selector": {"app": "svcd"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    service = core.read_namespaced_service("svcd", ns)
    assert service.spec.cluster_ip.startswith("10.96.") and 30000 <= service.spec.ports[0].node_port <= 32767

    def ready_endpoints():
        try:
            found = core.read_namespaced_endpoints("svcd", ns)
        except ApiException:
            return None
        return found if found.subsets and len(found.subsets[0].addresses or []) == 2 else None

    endpoints = wait_for(ready_endpoints)
    assert endpoints.subsets[0].ports[0].port == 8080 and endpoints.subsets[0].addresses[0].target_ref.kind == "Pod"


def test_crash_loop_unready_and_logs(core, apps, ns, sandbox):
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "crashy"}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
    )
    assert wait_for(lambda: core.read_namespaced_pod("crashy", ns).status.phase == "Running")
    sandbox.crash_pod(ns, "crashy")
    pod = wait_for(
        lambda: (lambda p: p if p.status.container_statuses[0].restart_count >= 2 else None)(
            core.read_namespaced_pod("crashy", ns)
        ),
        timeout=20,
    )
    waiting = wait_for(lambda: core.read_namespaced_pod("crashy", ns).status.container_statuses[0].state.waiting)
    assert (
        waiting.reason == "CrashLoopBackOff" and pod.status.container_statuses[0].last_state.terminated.exit_code == 1
    )
    previous = core.read_namespaced_pod_log("crashy", ns, previous=True)
    assert "exiting with code 1" in previous
    events = {e.reason for e in core.list_namespaced_event(ns, field_selector="involvedObject.name=crashy").items}
    assert "BackOff" in events
    sandbox.set_pod_fault(ns, "crashy", None)

    core.create_namespaced_pod(
        ns, {"metadata": {"name": "sulky"}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
    )
    sandbox.set_pod_fault(ns, "sulky", "unready")
    assert wait_for(lambda: core.read_namespaced_pod("sulky", ns).status.phase == "Running")
    time.sleep(0.3)
    sulky = core.read_namespaced_pod("sulky", ns)
    assert not sulky.status.container_statuses[0].ready and any(
        c.type == "Ready" and c.status == "False" for c in sulky.status.conditions
    )
    logs = core.read_namespaced_pod_log("sulky", ns, tail_lines=3, timestamps=True)
    assert len(logs.strip().split("\n")) == 3 and all(
        line[4] == "-" and line[29:30] == "Z" for line in logs.strip().split("\n")
    )


def test_node_not_ready_and_back(core, sandbox):
    sandbox.set_node_ready("sandbox-node-3", False)
    node = wait_for(
        lambda: (
            lambda n: n if next(c for c in n.status.conditions if c.type == "Ready").status == "Unknown" else None
        )(core.read_node("sandbox-node-3"))
    )
    assert any(t.key == "node.kubernetes.io/unreachable" for t in node.spec.taints)
    sandbox.set_node_ready("sandbox-node-3", True)
    assert wait_for(
        lambda: (
            next(c for c in core.read_node("sandbox-node-3").status.conditions if c.type == "Ready").status == "True"
        )
    )


def test_metrics_and_hpa(api, core, apps, ns, sandbox):
    labels = {"app": "busy"}
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "busy"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "busy",
                                "image": "busy:1",
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                            }
                        ]
                    },
                },
            },
        },
    )
    assert wait_for(lambda: apps.read_namespaced_deployment("busy", ns).status.ready_replicas == 1)
    sandbox.set_pod_load(ns, selector="app=busy", cpu="300m", memory="100Mi")
    custom = client.CustomObjectsApi(api)
    metrics = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", ns, "pods", label_selector="app=busy")
    usage = metrics["items"][0]["containers"][0]["usage"]
    assert usage["cpu"] == "300000000n" and usage["memory"] == f"{100 * 1024}Ki"
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert len(nodes["items"]) == 3 and all(n["usage"]["cpu"].endswith("n") for n in nodes["items"])
    client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(
        ns,
        {
            "metadata": {"name": "busy"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
                "minReplicas": 1,
                "maxReplicas": 4,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                    }
                ],
            },
        },
    )
    hpa = wait_for(
        lambda: (lambda h: h if h.status.desired_replicas and h.status.desired_replicas > 1 else None)(
            client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("busy", ns)
        ),
        timeout=20,
    )
    assert hpa.status.current_metrics[0].resource.current.average_utilization == 300
    assert hpa.status.desired_replicas == 4  # 300% of request against a 50% target, capped at maxReplicas
    assert wait_for(lambda: apps.read_namespaced_deployment("busy", ns).spec.replicas == 4)


def test_knobs_over_http(sandbox, core):
    status, stats = http(sandbox, "GET", "/sandbox/v1/stats")
    assert status == 200 and stats["objects"] > 0 and stats["by_resource"]["nodes"] == 3
    status, _ = http(
        sandbox, "POST", "/sandbox/v1/faults", {"action": "set_api_faults", "error_rate": 1.0, "error_code": 503}
    )
    try:
        with pytest.raises(ApiException) as unavailable:
            core.list_namespace()
        assert unavailable.value.status == 503
    finally:
        http(sandbox, "POST", "/sandbox/v1/faults", {"action": "set_api_faults", "error_rate": 0.0})
    assert core.list_namespace().items
    status, answer = http(
        sandbox,
        "POST",
        "/sandbox/v1/faults",
        {"action": "set_api_faults", "error_rate": 1},
        token=sandbox.read_only_token,
    )
    assert status == 403
    status, answer = http(sandbox, "POST", "/sandbox/v1/faults", {"action": "nope"})
    assert status == 400 and "unknown action" in answer["message"]
    status, loaded = http(
        sandbox,
        "POST",
        "/sandbox/v1/faults",
        {"action": "bulk_load", "namespaces": 20, "pods_per_namespace": 15, "prefix": "hb"},
    )
    assert status == 200 and loaded["pods"] == 300
    pages, token = 0, None
    names = []
    while True:
        page = core.list_pod_for_all_namespaces(limit=100, _continue=token, label_selector="sandbox.k8s.io/bulk=true")
        names += [(p.metadata.namespace, p.metadata.name) for p in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert len(names) == 300 and len(set(names)) == 300 and pages == 3


def test_watch_drop_and_event_burst(sandbox):
    sandbox.bulk_load(namespaces=2, pods_per_namespace=50, prefix="burst")
    start = str(sandbox.store.rv)
    context = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    request = urllib.request.Request(
        f"{sandbox.url}/api/v1/pods?watch=1&resourceVersion={start}&timeoutSeconds=20",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    received = []

    def read():
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            for line in response:
                event = json.loads(line)
                if event["type"] == "MODIFIED" and event["object"]["metadata"]["namespace"].startswith("burst"):
                    received.append(event["object"]["metadata"]["resourceVersion"])
                if len(received) >= 2000:
                    return

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    burst = sandbox.generate_pod_updates(2000, namespace_prefix="burst-")
    reader.join(30)
    assert burst["updates"] == 2000 and len(received) == 2000
    assert [int(rv) for rv in received] == sorted(int(rv) for rv in received)
    ended = threading.Event()

    def watch_until_dropped():
        with urllib.request.urlopen(
            urllib.request.Request(
                f"{sandbox.url}/api/v1/namespaces?watch=1&timeoutSeconds=30",
                headers={"Authorization": f"Bearer {sandbox.token}"},
            ),
            context=context,
        ) as response:
            for _ in response:
                pass
        ended.set()

    watcher = threading.Thread(target=watch_until_dropped, daemon=True)
    watcher.start()
    time.sleep(0.5)
    assert sandbox.drop_watches()["dropped"] >= 1
    assert ended.wait(5)
