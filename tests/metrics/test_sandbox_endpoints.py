"""What the sandbox serves for monitoring, as kube-apiserver and the kubelet answer it."""

import json
import ssl
import urllib.error
import urllib.request


def get(sandbox, path):
    context = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    request = urllib.request.Request(sandbox.url + path, headers={"Authorization": f"Bearer {sandbox.token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_readyz_and_livez_list_their_checks_and_fail_with_500(sandbox):
    assert get(sandbox, "/readyz") == (200, "ok")
    status, text = get(sandbox, "/readyz?verbose")
    assert (
        status == 200
        and "[+]etcd ok" in text
        and "[+]informer-sync ok" in text
        and text.endswith("readyz check passed\n")
    )
    sandbox.set_component_health("etcd", healthy=False)
    try:
        status, text = get(sandbox, "/readyz")  # a failing check makes the plain answer verbose too
        assert status == 500 and "[-]etcd failed: reason withheld" in text and text.endswith("readyz check failed\n")
        status, text = get(sandbox, "/livez?verbose")
        assert status == 500 and "[-]etcd failed" in text and "informer-sync" not in text
        assert get(sandbox, "/readyz/etcd")[0] == 500
        assert get(sandbox, "/readyz/ping") == (200, "ok")
        assert get(sandbox, "/readyz/nonsense")[0] == 404
    finally:
        sandbox.set_component_health("etcd", healthy=True)
    assert get(sandbox, "/livez") == (200, "ok")


def test_kubelet_stats_summary_through_the_node_proxy(sandbox, cluster):
    from .conftest import run_pod

    pod = run_pod(cluster, "stats", "db-1", claim="pgdata")
    node = pod["spec"]["nodeName"]
    sandbox.set_volume_usage("stats", "pgdata", "300Mi")
    status, text = get(sandbox, f"/api/v1/nodes/{node}/proxy/stats/summary")
    assert status == 200
    summary = json.loads(text)
    assert summary["node"]["nodeName"] == node and summary["node"]["cpu"]["usageNanoCores"] > 0
    (mine,) = [p for p in summary["pods"] if p["podRef"]["name"] == "db-1"]
    (volume,) = mine["volume"]
    assert volume["pvcRef"] == {"name": "pgdata", "namespace": "stats"}
    assert volume["usedBytes"] == 300 * 2**20 and volume["capacityBytes"] == 2**30
    assert volume["availableBytes"] == 2**30 - 300 * 2**20
    assert get(sandbox, "/api/v1/nodes/no-such-node/proxy/stats/summary")[0] == 404


def test_exporters_serve_node_exporter_and_cadvisor_text(sandbox, cluster):
    from .conftest import run_pod

    run_pod(cluster, "exp", "web-1")
    base = sandbox.start_exporters()
    node = sandbox.store.get_ref(
        __import__("console.sandbox.kinds", fromlist=["STORED"]).STORED["pods"], "exp", "web-1"
    )["spec"]["nodeName"]
    with urllib.request.urlopen(f"{base}/nodes/{node}/metrics", timeout=5) as response:
        text = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'node_cpu_seconds_total{cpu="0",mode="idle"}' in text and "node_filesystem_avail_bytes" in text
    with urllib.request.urlopen(f"{base}/nodes/{node}/metrics/cadvisor", timeout=5) as response:
        cadvisor = response.read().decode()
    assert 'container_cpu_usage_seconds_total{namespace="exp",pod="web-1",container="main"' in cadvisor
    try:
        urllib.request.urlopen(f"{base}/nodes/nowhere/metrics", timeout=5)
        raise AssertionError("an unknown node answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
