"""The dashboard's firing-alerts panel: operators and auditors see every cluster's alerts with
counts by severity; a tenant's users see their tenant's only, never another tenant's; each
alert links to its row on the alerts page; the panel's queries do not grow with the alerts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console import dashboard
from console.clusters.models import Cluster, MirroredObject
from monitoring.alerts import evaluate, services
from monitoring.alerts.models import Alert

from ..factories import create_two_tenants, mk_cluster, mk_mirrored_pod, mk_project

pytestmark = pytest.mark.django_db
PANEL = reverse("console:dashboard_panel", args=["alerts"])


@pytest.fixture(autouse=True)
def fresh_figures(monkeypatch):
    monkeypatch.setattr(dashboard, "CACHE_SECONDS", 0)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def evaluate_now(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return evaluate.evaluate(**kwargs)

    return evaluate_now


def rule(user, tenant, name, severity):
    return services.create_rule(
        acting_user=user, name=name, kind="crash_loop", severity=severity, tenant=tenant, cluster=None
    )


@pytest.fixture
def firing(run):
    """acme: two alerts (critical, warning) on cluster c1; globex: one (critical) on c1 and one on c2."""
    cluster, acme, globex, _project, users = create_two_tenants()
    other = mk_cluster("c2")
    globex.clusters.add(other)
    mk_project(globex, other, "batch")
    rule(users["tenant_admin"], acme, "acme crashes", "critical")
    rule(users["tenant_admin"], acme, "acme crashes (warn)", "warning")
    rule(users["other_member"], globex, "globex crashes", "critical")
    mk_mirrored_pod(cluster, "acme-web", "web-1")
    mk_mirrored_pod(cluster, "globex-shop", "shop-1")
    mk_mirrored_pod(other, "globex-batch", "batch-1")
    run()
    assert Alert.objects.filter(state="firing").count() == 4  # acme: 2 rules × web-1; globex: shop-1, batch-1
    return users


def panel(client, user):
    client.force_login(user)
    answer = client.get(PANEL)
    assert answer.status_code == 200
    return answer.content.decode()


def count(html, severity):
    marker = f'data-testid="firing-{severity}" title="'
    start = html.index(marker)
    return int(html[html.index(">", start) + 1 : html.index("</span>", start)].split()[-1])


def test_operators_see_every_cluster_with_counts_by_severity(firing, operator, auditor, client):
    for user in (operator, auditor):
        html = panel(client, user)
        for target in ("pod/acme-web/web-1", "pod/globex-shop/shop-1", "pod/globex-batch/batch-1"):
            assert target in html
        assert (count(html, "critical"), count(html, "warning"), count(html, "info")) == (3, 1, 0)
        assert 'data-cluster="c1"' in html and 'data-cluster="c2"' in html
    # each alert links to its row on the alerts page
    alert = Alert.objects.get(rule__name="acme crashes")
    assert f'href="{reverse("alerts:alert_list")}#alert-{alert.pk}"' in html
    client.force_login(operator)
    assert f'id="alert-{alert.pk}"' in client.get(reverse("alerts:alert_list")).content.decode()
    # the dashboard page carries the panel and polls it
    page = client.get(reverse("console:dashboard")).content.decode()
    assert 'id="dash-alerts"' in page and f'hx-get="{PANEL}"' in page


def test_a_tenant_never_sees_another_tenants_alert(firing, client):
    acme = panel(client, firing["tenant_member"])
    assert "pod/acme-web/web-1" in acme
    assert "globex" not in acme
    assert (count(acme, "critical"), count(acme, "warning")) == (1, 1)
    assert 'data-testid="firing-clusters"' not in acme  # the per-cluster counts are the operators'
    globex = panel(client, firing["other_member"])
    assert "pod/globex-shop/shop-1" in globex and "pod/globex-batch/batch-1" in globex
    assert "acme" not in globex
    assert (count(globex, "critical"), count(globex, "warning")) == (2, 0)
    # a resolved alert leaves the panel at its next refresh
    MirroredObject.objects.filter(name="shop-1").delete()
    Alert.objects.filter(target="pod/globex-shop/shop-1").update(state="resolved", resolved_at=timezone.now())
    globex = panel(client, firing["other_member"])
    assert "shop-1" not in globex and count(globex, "critical") == 1


def test_nothing_firing_and_users_of_no_tenant(operator, tenant_user, client):
    assert 'data-testid="nothing-firing"' in panel(client, operator)
    client.force_login(tenant_user)
    assert client.get(PANEL).status_code == 404  # not a panel of theirs


def test_the_panels_queries_do_not_grow_with_the_alerts(firing, operator, client, run):
    client.force_login(operator)
    client.get(PANEL)  # the first request of a session stores the reader's language
    with CaptureQueriesContext(connection) as few:
        client.get(PANEL)
    c1 = Cluster.objects.get(name="c1")
    for index in range(20):
        mk_mirrored_pod(c1, "acme-web", f"more-{index}")
    run()
    assert Alert.objects.filter(state="firing").count() == 44
    with CaptureQueriesContext(connection) as many:
        html = client.get(PANEL).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert count(html, "critical") == 23 and "All 44 firing alerts" in html
