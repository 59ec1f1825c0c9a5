"""Disk, network, filesystem and process charts through PromQL, against a real Prometheus
(Debian's package) scraping the sandbox's node-exporter- and cAdvisor-shaped endpoints."""

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
from django.urls import reverse

from monitoring.metrics import collect, services
from monitoring.metrics.models import PrometheusSource
from monitoring.metrics.prometheus import Prometheus, PrometheusError
from tests.factories import mk_user

from .conftest import run_pod


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def prometheus(sandbox, tmp_path_factory):
    """Prometheus on loopback scraping both nodes' exporters every second; its URL."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: make prepare-tests (scripts/prepare-tests.sh)"
    base = sandbox.start_exporters()
    host = base.removeprefix("http://")
    directory = tmp_path_factory.mktemp("prometheus")
    jobs = []
    for job, path in (("node", "/metrics"), ("cadvisor", "/metrics/cadvisor")):
        for node in ("sandbox-node-1", "sandbox-node-2"):
            jobs.append(
                f"""  - job_name: {job}-{node}
    metrics_path: /nodes/{node}{path}
    static_configs:
      - targets: ["{host}"]
        labels: {{node: "{node}"}}
"""
            )
    config = directory / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n" + "".join(jobs))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"Prometheus did not start: {process.stderr.read1(4000)!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_samples(url, query, count=3):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/query?query={urllib.request.quote(query)}", timeout=2) as response:
            result = json.load(response)["data"]["result"]
        if result and float(result[0]["value"][1]) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"no samples for {query}")


def figure(response):
    match = re.search(r'<script id="[^"]+-figure" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(match[1]) if match else None


def chart(client, kind, name, key):
    return client.get(reverse("metrics:chart", args=[kind, "sandbox", key]), {"name": name, "range": "15m"})


def test_prometheus_charts_follow_the_sandbox_load(client, cluster, sandbox, prometheus):
    operator = mk_user("op", "operator")
    client.force_login(operator)
    run_pod(cluster, "prom", "busy-1")
    collect.scrape_cluster(cluster)  # the node and pod are known to the console
    node = cluster_node_of(sandbox, "prom", "busy-1")

    missing = chart(client, "node", node, "prom-network")
    assert missing.status_code == 200 and b"No Prometheus is set for cluster sandbox" in missing.content

    response = client.post(reverse("metrics:prometheus", args=["sandbox"]), {"url": prometheus})
    assert response.status_code == 302
    assert PrometheusSource.objects.get(cluster=cluster).url == prometheus

    sandbox.set_pod_load("prom", "busy-1", cpu="2")
    wait_for_samples(prometheus, 'count_over_time(container_processes{pod="busy-1"}[1m])')
    wait_for_samples(prometheus, f'count_over_time(node_procs_running{{node="{node}"}}[1m])')

    network = figure(chart(client, "node", node, "prom-network"))
    received = network["data"][0]["y"]
    assert received and max(received) > 0
    filesystem = figure(chart(client, "node", node, "prom-filesystem"))
    assert 10 < filesystem["data"][0]["y"][-1] < 40  # percent used
    processes = figure(chart(client, "node", node, "prom-processes"))
    assert processes["data"][0]["y"][-1] >= 2  # 2 busy cores: node_procs_running
    pod = figure(chart(client, "pod", "prom/busy-1", "prom-processes"))
    assert pod["data"][0]["y"][-1] == 9  # 1 + 2 cores x 4
    disk = figure(chart(client, "node", node, "prom-disk"))
    assert len(disk["data"]) == 2

    # a tenant never reaches these either
    client.force_login(mk_user("nobody", ""))
    assert chart(client, "node", node, "prom-network").status_code == 404


def cluster_node_of(sandbox, namespace, name):
    from console.sandbox.kinds import STORED

    return sandbox.store.get_ref(STORED["pods"], namespace, name)["spec"]["nodeName"]


def test_a_broken_prometheus_is_said_on_the_chart(client, cluster, operator):
    client.force_login(operator)
    services.set_prometheus_url(cluster, acting_user=operator, url=f"http://127.0.0.1:{free_port()}")
    collect.scrape_cluster(cluster)
    response = chart(client, "cluster", "", "prom-disk")
    assert response.status_code == 200 and b"does not answer" in response.content
    with pytest.raises(PrometheusError):
        Prometheus("file:///etc/passwd")


def test_setting_the_url_is_for_operators_and_checked(client, cluster, operator, auditor):
    client.force_login(auditor)
    assert client.post(reverse("metrics:prometheus", args=["sandbox"]), {"url": "http://p:9090"}).status_code == 403
    client.force_login(operator)
    bad = client.post(reverse("metrics:prometheus", args=["sandbox"]), {"url": "http://user:secret@p:9090"})
    assert bad.status_code == 400 and b"no user name or password" in bad.content
    assert not PrometheusSource.objects.exists()
    client.post(reverse("metrics:prometheus", args=["sandbox"]), {"url": "http://p:9090"})
    client.post(reverse("metrics:prometheus", args=["sandbox"]), {"url": ""})
    assert not PrometheusSource.objects.exists()
    from console.oplog.models import OperationLogEntry

    actions = list(OperationLogEntry.objects.filter(action="metrics.prometheus_set").values_list("result", flat=True))
    assert sorted(actions) == ["failed", "succeeded", "succeeded"]
    assert OperationLogEntry.objects.filter(result="denied", actor=auditor).exists()  # the view refused it
