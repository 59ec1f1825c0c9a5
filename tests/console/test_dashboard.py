"""The dashboard: operators read clusters, capacity and tenants' quota use off the
mirror; tenant users see their own tenant only; the queries do not grow with the rows."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console import dashboard
from console.clusters import mirror
from console.jobs.models import Job
from console.notifications import notifications
from workloads.models import App

from ..factories import mk_cluster, mk_member, mk_project, mk_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_figures(monkeypatch):
    """Every page reads the database (the shared 30 s cache is for production load)."""
    monkeypatch.setattr(dashboard, "CACHE_SECONDS", 0)


def node(name, ready=True, cpu="4", memory="16Gi", pods="110"):
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(name, namespace, requests, phase="Running"):
    containers = [{"name": f"c{i}", "image": "x", "resources": {"requests": r}} for i, r in enumerate(requests)]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "resourceVersion": "1"},
        "spec": {"nodeName": "n1", "containers": containers},
        "status": {"phase": phase},
    }


def quota(namespace, used, hard):
    return {
        "kind": "ResourceQuota",
        "apiVersion": "v1",
        "metadata": {"name": "caas-quota", "namespace": namespace, "uid": f"q-{namespace}", "resourceVersion": "1"},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used},
    }


def workload(name, namespace, replicas, ready):
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": namespace, "uid": f"d-{namespace}-{name}", "resourceVersion": "1"},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready},
    }


@pytest.fixture
def world():
    cluster = mk_cluster("c1")
    cluster.version, cluster.health = "v1.31.0", [["etcd", True], ["scheduler", True], ["controller-manager", False]]
    cluster.save()
    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    users = {"acme_admin": mk_member(acme, "acme-admin", "tenant-admin"), "globex_dev": mk_member(globex, "globex-dev")}
    web, shop = mk_project(acme, cluster, "web"), mk_project(globex, cluster, "shop")
    mirror.replace_kind(
        cluster.pk, "Node", [node("n1"), node("n2"), node("n3", ready=False, cpu="2500m", memory="8Gi")], "1"
    )
    mirror.replace_kind(
        cluster.pk,
        "Pod",
        [
            pod("a", web.name, [{"cpu": "500m", "memory": "1Gi"}, {"cpu": "250m", "memory": "512Mi"}]),
            pod("b", web.name, [{"cpu": "500m", "memory": "1Gi"}]),
            pod("c", shop.name, [{"cpu": "1", "memory": "2Gi"}]),
            pod("d", shop.name, [{}]),  # no requests: counts as a pod, asks for nothing
            pod("done", shop.name, [{"cpu": "8", "memory": "64Gi"}], phase="Succeeded"),  # terminated: holds nothing
        ],
        "1",
    )
    mirror.replace_kind(
        cluster.pk,
        "PersistentVolumeClaim",
        [
            {
                "kind": "PersistentVolumeClaim",
                "apiVersion": "v1",
                "metadata": {"name": f"data-{i}", "namespace": web.name, "uid": f"pvc-{i}", "resourceVersion": "1"},
                "spec": {"resources": {"requests": {"storage": "10Gi"}}},
            }
            for i in range(3)
        ],
        "1",
    )
    mirror.replace_kind(
        cluster.pk,
        "PersistentVolume",
        [
            {
                "kind": "PersistentVolume",
                "apiVersion": "v1",
                "metadata": {"name": f"pv-{i}", "uid": f"pv-{i}", "resourceVersion": "1"},
                "spec": {"capacity": {"storage": "50Gi"}},
            }
            for i in range(2)
        ],
        "1",
    )
    mirror.replace_kind(
        cluster.pk,
        "ResourceQuota",
        [
            quota(
                web.name,
                {"requests.cpu": "1250m", "requests.memory": "2560Mi", "pods": "2"},
                {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10", "limits.cpu": "2"},
            ),
            quota(shop.name, {"requests.cpu": "1", "pods": "2"}, {"requests.cpu": "3", "pods": "7"}),
        ],
        "1",
    )
    mirror.replace_kind(
        cluster.pk,
        "Deployment",
        [
            workload("api", web.name, 2, 2),
            workload("batch", web.name, 0, 0),
            workload("cart", web.name, 3, 1),
            workload("globex-app", shop.name, 1, 1),
        ],
        "1",
    )
    for name, status in [
        ("api", "running"),
        ("batch", "running"),
        ("cart", "running"),
        ("new", "deploying"),
        ("old", "failed"),
    ]:
        App.objects.create(project=web, name=name, status=status, spec={"image": "x"})
    App.objects.create(project=shop, name="globex-app", status="running", spec={"image": "x"})
    return {"cluster": cluster, "acme": acme, "globex": globex, "web": web, "shop": shop, **users}


def cluster_row(page):
    html = page.content.decode()
    start = html.index('data-cluster="c1"')
    return html[start : html.index("</tr>", start)]


def test_operator_sees_nodes_and_capacity_from_the_mirror(client, operator, world):
    client.force_login(operator)
    page = client.get(reverse("console:dashboard"))
    assert page.status_code == 200
    row = cluster_row(page)
    assert "2 / 3" in row  # nodes ready / total
    assert "2 / 3" in row.split('data-testid="checks"')[1]  # control-plane checks ok / all
    cells = [cell.split("</td>")[0] for cell in row.split('class="dash-capacity"')[1:]]
    assert len(cells) == 4
    cpu, memory, pods, storage = cells
    assert "2.25" in cpu and "10.5" in cpu  # 0.5+0.25+0.5+1 requested of 4+4+2.5 allocatable
    assert "4.5Gi" in memory and "40Gi" in memory
    assert ">4<" in pods and "330" in pods  # the Succeeded pod is not counted
    assert "30Gi" in storage and "100Gi" in storage  # claims of volumes
    assert 'data-tenant="acme"' in page.content.decode()
    assert 'id="dash-tenant-use"' in page.content.decode()


def test_operator_sees_quota_use_per_tenant(client, operator, world):
    client.force_login(operator)
    html = client.get(reverse("console:dashboard")).content.decode()
    start = html.index('<tr data-tenant="acme"')
    acme = html[start : html.index("</tr>", start)]
    assert "1.25" in acme and "/ 2<" in acme  # cpu used of hard
    assert "2.5Gi" in acme and "4Gi" in acme
    start = html.index('<tr data-tenant="globex"')
    globex = html[start : html.index("</tr>", start)]
    assert "/ 3<" in globex and "/ 7<" in globex


def test_auditor_sees_the_operator_panels_read_only(client, auditor, world):
    client.force_login(auditor)
    html = client.get(reverse("console:dashboard")).content.decode()
    for panel in ("clusters", "tenant_use", "jobs", "notifications", "operations"):
        assert f'id="dash-{panel}"' in html
    assert 'id="dash-apps"' not in html and "<form" not in html.split('id="dashboard"')[1]
    assert client.get(reverse("console:dashboard_panel", args=["clusters"])).status_code == 200


def test_tenant_member_sees_only_their_tenant(client, world):
    client.force_login(world["acme_admin"])
    page = client.get(reverse("console:dashboard"))
    html = page.content.decode()
    assert 'id="dash-my_tenants"' in html and 'id="dash-apps"' in html
    assert 'id="dash-clusters"' not in html and 'id="dash-tenant_use"' not in html
    assert "acme-web" in html and "globex" not in html and "Globex" not in html
    # apps by state: api running; new progressing; old failed and cart degraded (1 of 3 ready); batch scaled to zero
    states = html.split('data-testid="app-states"')[1]
    for state, count in [("running", 1), ("progressing", 1), ("failed", 2), ("zero", 1)]:
        assert f'data-state="{state}"' in states
        assert '<div class="fs-4 fw-semibold text-' in states
        section = states.split(f'data-state="{state}"')[1]
        assert f">{count}</div>" in section.split("</div></div>")[0], state
    quota_use = html.split('data-testid="quota-use"')[1]
    assert "1.25" in quota_use and "2.5Gi" in quota_use
    for key in ("clusters", "tenant_use"):
        assert client.get(reverse("console:dashboard_panel", args=[key])).status_code == 404
    assert client.get(reverse("console:dashboard_panel", args=["my_tenants"])).status_code == 200


def test_jobs_and_notifications_are_the_readers_own(client, operator, world):
    now = timezone.now()
    mine = Job.objects.create(
        kind="app.deploy", status="running", tenant_id=world["acme"].pk, tenant_name="acme", target_name="api"
    )
    Job.objects.create(
        kind="app.deploy",
        status="failed",
        tenant_id=world["acme"].pk,
        tenant_name="acme",
        target_name="old",
        finished_at=now - timedelta(hours=2),
    )
    Job.objects.create(
        kind="app.deploy",
        status="failed",
        tenant_id=world["acme"].pk,
        target_name="ancient",
        finished_at=now - timedelta(days=3),
    )
    theirs = Job.objects.create(
        kind="app.scale",
        status="failed",
        tenant_id=world["globex"].pk,
        tenant_name="globex",
        target_name="globex-app",
        finished_at=now,
    )
    notifications.notify_user(world["acme_admin"], "Quota nearly full")
    notifications.notify_user(world["globex_dev"], "Globex secret news")
    client.force_login(world["acme_admin"])
    html = client.get(reverse("console:dashboard_panel", args=["jobs"])).content.decode()
    assert f'data-job="{mine.pk}"' in html and f'data-job="{theirs.pk}"' not in html and "ancient" not in html
    assert "1 running" in html and "1 failed in 24 h" in html
    assert reverse("console:job", args=[mine.pk]) in html
    html = client.get(reverse("console:dashboard_panel", args=["notifications"])).content.decode()
    assert "Quota nearly full" in html and "Globex" not in html and "1 unread" in html
    client.force_login(operator)
    html = client.get(reverse("console:dashboard_panel", args=["jobs"])).content.decode()
    assert f'data-job="{theirs.pk}"' in html and "2 failed in 24 h" in html


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def more_rows(world, n):
    """n more namespaces per tenant, each with pods, a quota, a workload and an app; more nodes and jobs."""
    cluster = world["cluster"]
    for i in range(n):
        for tenant in (world["acme"], world["globex"]):
            project = mk_project(tenant, cluster, f"extra{i}")
            mirror.apply_events(
                cluster.pk, "Pod", [("ADDED", pod(f"p{j}", project.name, [{"cpu": f"{j + 1}00m"}])) for j in range(5)]
            )
            mirror.apply_events(
                cluster.pk, "ResourceQuota", [("ADDED", quota(project.name, {"pods": "5"}, {"pods": "9"}))]
            )
            mirror.apply_events(cluster.pk, "Deployment", [("ADDED", workload("w", project.name, 1, 1))])
            App.objects.create(project=project, name="w", status="running", spec={})
            Job.objects.create(kind="app.deploy", status="failed", tenant_id=tenant.pk, finished_at=timezone.now())
        mirror.apply_events(cluster.pk, "Node", [("ADDED", node(f"extra-{i}"))])
        mk_cluster(f"more{i}")


@pytest.mark.parametrize("who", ["operator", "acme_admin"])
def test_queries_do_not_grow_with_rows(client, operator, world, who):
    client.force_login(operator if who == "operator" else world[who])
    url = reverse("console:dashboard")
    client.get(url)  # the first page of a session writes to it
    before = count_queries(client, url)
    more_rows(world, 8)
    assert count_queries(client, url) == before
    # 22, one grouped count for the firing-alerts panel, two for the pipeline runs panel (active counts, latest runs)
    assert before <= 25, before
