"""Scraping the sandbox: what it reports shows up in the samples."""

import time
from datetime import UTC, datetime, timedelta

from monitoring.metrics import collect, query
from monitoring.metrics.models import Series

from .conftest import mirror


def window():
    now = datetime.now(UTC)
    return {"start": now - timedelta(minutes=5), "end": now + timedelta(minutes=1)}


def latest(cluster, metric, target):
    series = query.samples(cluster_id=cluster.pk, metric=metric, target=target, **window())
    return series[target][-1][1]


def wait_for_condition(cluster, node, condition):
    from console.kube.api import ClusterAPI

    deadline = time.monotonic() + 10
    with ClusterAPI(cluster) as api:
        while time.monotonic() < deadline:
            conditions = api.get("Node", node)["status"]["conditions"]
            if any(c["type"] == condition and c["status"] == "True" for c in conditions):
                return
            time.sleep(0.05)
    raise AssertionError(f"{node} has no {condition}")


def test_raising_a_pods_cpu_shows_in_its_samples(cluster, sandbox, shop_pod):
    first = collect.scrape_cluster(cluster)
    assert not [m for m in first.missing if m[0] != "read_calico"], first.missing
    before = latest(cluster, "pod_cpu_usage_cores", "pod/shop/web-1")
    assert 0 < before < 0.1

    sandbox.set_pod_load("shop", "web-1", cpu="1500m", memory="300Mi")
    collect.scrape_cluster(cluster, now=first.ts + 30)

    points = query.samples(cluster_id=cluster.pk, metric="pod_cpu_usage_cores", target="pod/shop/web-1", **window())[
        "pod/shop/web-1"
    ]
    assert [round(v, 3) for _t, v in points] == [round(before, 3), 1.5]
    assert points[0][0] < points[1][0]
    assert latest(cluster, "pod_memory_usage_bytes", "pod/shop/web-1") == 300 * 2**20
    assert latest(cluster, "namespace_cpu_usage_cores", "namespace/shop") >= 1.5
    assert latest(cluster, "pod_cpu_limit_cores", "pod/shop/web-1") == 0.5
    assert latest(cluster, "pod_memory_limit_bytes", "pod/shop/web-1") == 256 * 2**20
    node_cpu = query.samples(cluster_id=cluster.pk, metric="node_cpu_usage_cores", **window())
    assert set(node_cpu) == {"node/sandbox-node-1", "node/sandbox-node-2"}
    assert max(points[-1][1] for points in node_cpu.values()) > 1.5
    assert latest(cluster, "node_cpu_allocatable_cores", "node/sandbox-node-1") > 0


def test_health_checks_follow_the_sandbox_faults(cluster, sandbox):
    mirror(cluster, "kube-system", ("Pod", "DaemonSet"))
    collect.scrape_cluster(cluster)
    assert latest(cluster, "component_healthy", "component/kube-scheduler") == 1
    assert latest(cluster, "component_healthy", "component/kube-controller-manager") == 1
    assert latest(cluster, "component_healthy", "component/calico-node") == 1
    assert latest(cluster, "calico_nodes_ready_ratio", "cluster") == 1
    assert latest(cluster, "component_healthy", "component/etcd") == 1
    assert latest(cluster, "component_healthy", "component/apiserver") == 1
    sandbox.set_component_health("etcd", healthy=False)
    sandbox.set_node_fault("sandbox-node-2", "MemoryPressure")
    wait_for_condition(cluster, "sandbox-node-2", "MemoryPressure")
    try:
        collect.scrape_cluster(cluster, now=datetime.now(UTC).timestamp() + 30)
    finally:
        sandbox.set_component_health("etcd", healthy=True)
        sandbox.set_node_fault("sandbox-node-2", None)
    assert latest(cluster, "component_healthy", "component/etcd") == 0
    assert latest(cluster, "component_healthy", "component/readyz/etcd") == 0
    assert latest(cluster, "component_healthy", "component/livez/etcd") == 0
    assert latest(cluster, "component_healthy", "component/readyz/informer-sync") == 1
    assert latest(cluster, "component_healthy", "component/apiserver") == 0
    assert latest(cluster, "node_memory_pressure", "node/sandbox-node-2") == 1
    assert latest(cluster, "node_memory_pressure", "node/sandbox-node-1") == 0


def test_volume_usage_comes_from_the_kubelet_stats(cluster, sandbox, shop_pod):
    sandbox.set_volume_usage("shop", "data", "700Mi")
    collect.scrape_cluster(cluster)
    assert latest(cluster, "pvc_used_bytes", "pvc/shop/data") == 700 * 2**20
    assert latest(cluster, "pvc_capacity_bytes", "pvc/shop/data") == 2**30
    assert Series.objects.get(cluster=cluster, metric="pvc_used_bytes", target="pvc/shop/data").namespace == "shop"


def test_metrics_server_gone_is_reported_and_the_rest_still_collected(cluster, sandbox):
    sandbox.set_metrics_api(False)
    try:
        scrape = collect.scrape_cluster(cluster)
    finally:
        sandbox.set_metrics_api(True)
    assert [source for source, _error in scrape.missing] == ["metrics.k8s.io"]
    assert latest(cluster, "component_healthy", "component/metrics-server") == 0
    assert latest(cluster, "node_ready", "node/sandbox-node-1") == 1


def test_an_unreachable_cluster_is_a_sample_and_does_not_stop_the_others(cluster, sandbox):
    import yaml

    from monitoring.metrics import tasks
    from tests.factories import mk_cluster

    config = sandbox.kubeconfig()
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    down = mk_cluster("down", kubeconfig_text=yaml.safe_dump(config))
    broken = mk_cluster("broken")  # its kubeconfig names no cluster at all

    scraped = tasks.scrape_clusters()

    assert set(scraped) == {"broken", "down", "sandbox"}
    assert latest(down, "component_healthy", "component/apiserver") == 0
    assert latest(broken, "component_healthy", "component/apiserver") == 0
    assert latest(cluster, "component_healthy", "component/apiserver") == 1
    assert latest(cluster, "node_ready", "node/sandbox-node-1") == 1
