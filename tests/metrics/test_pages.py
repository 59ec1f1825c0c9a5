"""Monitoring pages over stored samples: what each role sees, and that a tenant never sees
another tenant's series, through pages, chart partials, live points or websocket groups."""

import json
import re
import time

import pytest
from django.urls import reverse

from monitoring.metrics import collect, live
from tests.factories import create_two_tenants, mk_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    cluster, acme, globex, project, users = create_two_tenants()
    project.quota = {"cpu": "2", "memory": "1Gi"}
    project.save()
    now = int(time.time())
    for ts, cpu in ((now - 60, 0.25), (now - 30, 0.5)):
        scrape = collect.Scrape(cluster.pk, ts)
        scrape.put("pod_cpu_usage_cores", "pod/acme-web/web-1", cpu)
        scrape.put("pod_cpu_usage_cores", "pod/globex-shop/secret-1", 7.0)
        scrape.put("pod_memory_usage_bytes", "pod/acme-web/web-1", 2**28)
        scrape.put("namespace_cpu_usage_cores", "namespace/acme-web", cpu)
        scrape.put("namespace_memory_usage_bytes", "namespace/acme-web", 2**28)
        scrape.put("namespace_cpu_usage_cores", "namespace/globex-shop", 7.0)
        scrape.put("cluster_cpu_usage_cores", "cluster", 9.0)
        scrape.put("component_healthy", "component/apiserver", 1)
        scrape.put("component_healthy", "component/etcd", 0)
        scrape.put("node_ready", "node/n1", 1)
        scrape.put("node_memory_pressure", "node/n1", 1)
        scrape.put("node_cpu_usage_cores", "node/n1", 1.5)
        scrape.put("node_cpu_allocatable_cores", "node/n1", 4)
        collect.write_scrape(scrape)
    return cluster, users, now


def login(client, user):
    client.force_login(user)
    return client


def chart(client, kind, name, key="cpu", **query):
    url = reverse("metrics:chart", args=[kind, "c1", key])
    return client.get(url, {"name": name, "range": "15m", **query})


def figure(response):
    match = re.search(r'<script id="[^"]+-figure" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(match[1])


def test_operator_sees_cluster_health_nodes_and_charts(client, setup):
    operator = mk_user("op", "operator")
    login(client, operator)
    page = client.get(reverse("metrics:cluster", args=["c1"])).content.decode()
    assert 'data-component="etcd"' in page and "failing" in page
    assert 'data-node="n1"' in page and "MemoryPressure" in page
    assert "globex-shop/secret-1" in page  # top pods: operators see every namespace
    response = chart(client, "cluster", "")
    assert response.status_code == 200
    assert [trace["y"] for trace in figure(response)["data"]] == [[9.0, 9.0]]
    node = figure(chart(client, "node", "n1"))
    assert [trace["name"] for trace in node["data"]] == ["used", "allocatable"]
    assert node["data"][1]["y"] == [4.0, 4.0]
    overview = client.get(reverse("metrics:overview")).content.decode()
    assert "Failing: etcd" in overview
    panel = client.get(reverse("console:dashboard_panel", args=["metrics_health"])).content.decode()
    assert 'data-component="etcd"' in panel and "globex-shop/secret-1" in panel


def test_a_tenant_sees_only_its_namespaces(client, setup):
    cluster, users, now = setup
    login(client, users["tenant_member"])
    page = client.get(reverse("metrics:namespace", args=["c1", "acme-web"])).content.decode()
    assert "acme-web/web-1" in page and "secret-1" not in page
    assert f"metrics-{cluster.pk}.acme-web" in page  # the live group it subscribes to
    assert client.get(reverse("metrics:namespace", args=["c1", "globex-shop"])).status_code == 404
    assert client.get(reverse("metrics:pod", args=["c1", "globex-shop", "secret-1"])).status_code == 404
    assert client.get(reverse("metrics:cluster", args=["c1"])).status_code == 404
    assert chart(client, "pod", "globex-shop/secret-1").status_code == 404
    assert chart(client, "namespace", "globex-shop").status_code == 404
    assert chart(client, "cluster", "").status_code == 404
    assert chart(client, "node", "n1").status_code == 404

    mine = chart(client, "pod", "acme-web/web-1")
    assert mine.status_code == 200
    assert figure(mine)["data"][0]["y"] == [250.0, 500.0] and figure(mine)["layout"]["yaxis"]["title"]["text"] == "m"
    points = chart(client, "pod", "acme-web/web-1", since=now - 45, divisor="0.001").json()
    assert points["y"] == [[500.0], []] and points["last"] == now - 30

    overview = client.get(reverse("metrics:overview")).content.decode()
    assert 'data-namespace="acme-web"' in overview and "globex" not in overview
    panel = client.get(reverse("console:dashboard_panel", args=["metrics_usage"])).content.decode()
    assert "acme-web" in panel and "globex" not in panel
    assert "256Mi" in panel and "1Gi" in panel and "width: 25%" in panel


def test_live_groups_are_authorised_per_namespace(setup):
    cluster, users, _now = setup
    member, other = users["tenant_member"], users["other_member"]
    assert live.may_follow(member, f"{cluster.pk}.acme-web")
    assert not live.may_follow(member, f"{cluster.pk}.globex-shop")
    assert not live.may_follow(member, str(cluster.pk))
    assert live.may_follow(other, f"{cluster.pk}.globex-shop")
    assert live.may_follow(mk_user("aud", "auditor"), str(cluster.pk))
    assert not live.may_follow(member, "x.acme-web") and not live.may_follow(member, f"{cluster.pk}.")


def test_bad_chart_requests_get_a_message_and_a_4xx(client, setup):
    login(client, mk_user("op", "operator"))
    bad = chart(client, "cluster", "", since="yesterday")
    assert bad.status_code == 400 and b"must be numbers" in bad.content
    assert chart(client, "cluster", "", since="10", divisor="-1").status_code == 400
    assert chart(client, "cluster", "", range="1y").status_code == 404
    assert chart(client, "pod", "no-slash").status_code == 404
    assert chart(client, "workload", "job/acme-web/x").status_code == 404
    assert client.get(reverse("metrics:cluster", args=["c1"]), {"range": "forever"}).status_code == 404


def test_the_app_page_gets_its_charts_through_the_console_registry(client, setup):
    from tests.factories import mk_app

    cluster, users, now = setup
    app = mk_app(cluster.projects.get(name="acme-web"), "web")
    scrape = collect.Scrape(cluster.pk, now - 10)
    scrape.put("workload_cpu_usage_cores", "deployment/acme-web/web", 0.75)
    scrape.put("workload_restarts", "deployment/acme-web/web", 3)
    collect.write_scrape(scrape)
    login(client, users["tenant_member"])

    page = client.get(reverse("workloads:app", args=["acme", "acme-web", app.name])).content.decode()

    assert 'id="app-metrics"' in page
    url = reverse("metrics:chart", args=["workload", "c1", "restarts"])
    assert f"{url}?name=deployment%2Facme-web%2Fweb" in page
    restarts = client.get(url, {"name": "deployment/acme-web/web", "range": "1h"})
    assert figure(restarts)["data"][0]["y"] == [3.0]
    login(client, users["other_member"])
    assert client.get(url, {"name": "deployment/acme-web/web", "range": "1h"}).status_code == 404
