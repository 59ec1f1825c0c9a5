"""Alerts driven by the sandbox's knobs, end to end: a pod's CPU raised on the cluster is
scraped, the next evaluation fires the rule, and the tenant hears it in the console, by
email (a real SMTP server) and on its webhook; the load removed, the alert resolves with a
"resolved" message on every path. A crash-looping pod fires the state rule from the mirror."""

import time
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from console.notification_channels import services as channel_services
from console.notifications import delivery
from console.notifications.models import Channel, Delivery, DeliveryStatus, Notification
from monitoring.alerts import evaluate, services
from monitoring.alerts.choices import AlertState
from monitoring.alerts.models import Alert
from monitoring.metrics import collect

from ..conftest import sandbox_fixture
from ..factories import mk_member, mk_project, mk_tenant
from ..metrics.conftest import mirror, run_pod

pytestmark = pytest.mark.django_db
sandbox = sandbox_fixture("module", nodes=1)


@pytest.fixture
def acme(cluster):
    tenant = mk_tenant("acme", clusters=[cluster])
    project = mk_project(tenant, cluster, "web")
    admin = mk_member(tenant, "acme-admin", "tenant-admin")
    member = mk_member(tenant, "acme-dev")
    return tenant, project, admin, member


def deliver_all():
    """What the channels' tasks do once their group is due."""
    for channel in Channel.objects.all():
        Delivery.objects.filter(channel=channel, status=DeliveryStatus.PENDING).update(due_at=timezone.now())
        delivery.send_due(channel.pk)


def test_cpu_raised_on_the_cluster_fires_and_resolves_everywhere(
    cluster, sandbox, acme, smtp_server, receiver, django_capture_on_commit_callbacks
):
    tenant, project, admin, member = acme
    run_pod(cluster, project.name, "web-1", cpu_limit="500m")
    mirror(cluster, project.name)
    for kind, target in (("email", "oncall@acme.example"), ("webhook", receiver.url("/acme"))):
        channel_services.create_channel(
            acting_user=admin,
            tenant_id=tenant.pk,
            name=kind,
            kind=kind,
            target=target,
            topics=["alert"],
            min_level="warning",
            group_seconds=0,
            language="en",  # read in English below
        )
    services.create_rule(
        acting_user=admin,
        name="web CPU at its limit",
        kind="threshold",
        severity="critical",
        tenant=tenant,
        cluster=None,
        namespace=project.name,
        metric="pod_cpu_usage_cores",
        comparison=">",
        threshold=80,
        percent_of_limit=True,
        for_seconds=0,
    )

    def scrape_and_evaluate(at):
        collect.scrape_cluster(cluster, now=at)
        with django_capture_on_commit_callbacks(execute=True):
            report = evaluate.evaluate(now=datetime.fromtimestamp(at, UTC))
        deliver_all()
        return report

    start = time.time()
    assert scrape_and_evaluate(start).fired == []

    sandbox.set_pod_load(project.name, "web-1", cpu="450m")  # 90% of its limit
    report = scrape_and_evaluate(start + 30)  # the next scrape and evaluation
    assert [alert.target for alert in report.fired] == [f"pod/{project.name}/web-1"]
    assert Alert.objects.get().state == AlertState.FIRING
    assert "web CPU at its limit" in str(Notification.objects.get(user=member).title)
    assert smtp_server.arrived.wait(5)
    assert "web CPU at its limit" in smtp_server.messages[0]["subject"]
    (fired,) = receiver.posts("/acme")
    assert fired["json"]["status"] == "firing" and "web-1" in fired["json"]["title"]

    sandbox.set_pod_load(project.name, "web-1", cpu="50m")
    report = scrape_and_evaluate(start + 60)
    assert [alert.target for alert in report.resolved] == [f"pod/{project.name}/web-1"]
    assert Alert.objects.get().state == AlertState.RESOLVED
    assert str(Notification.objects.filter(user=member).order_by("-id").first().title).startswith("Resolved")
    assert len(smtp_server.messages) == 2 and "Resolved" in smtp_server.messages[1]["subject"]
    assert receiver.posts("/acme")[-1]["json"]["status"] == "resolved"


def test_a_crash_looping_pod_fires_the_state_rule(cluster, sandbox, acme, django_capture_on_commit_callbacks):
    tenant, project, admin, member = acme
    run_pod(cluster, project.name, "api-1")
    services.create_rule(
        acting_user=admin, name="crash loops", kind="crash_loop", severity="warning", tenant=tenant, cluster=None
    )
    sandbox.set_pod_fault(project.name, "api-1", "crash")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mirror(cluster, project.name, kinds=("Pod",))
        with django_capture_on_commit_callbacks(execute=True):
            report = evaluate.evaluate()
        if report.fired:
            break
        time.sleep(0.3)
    assert [alert.target for alert in report.fired] == [f"pod/{project.name}/api-1"]
    assert "crash loops" in str(Notification.objects.get(user=member).title)
    sandbox.set_pod_fault(project.name, "api-1", None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mirror(cluster, project.name, kinds=("Pod",))
        with django_capture_on_commit_callbacks(execute=True):
            report = evaluate.evaluate()
        if report.resolved:
            break
        time.sleep(0.3)
    assert Alert.objects.get().state == AlertState.RESOLVED
