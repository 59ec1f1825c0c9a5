"""Alert rules: checking them, evaluating them over the metric history and the resource
mirror, firing and resolving with notifications, acknowledging, silencing, scopes."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console import alerting
from console.clusters.models import MirroredObject
from console.notifications.models import Notification
from monitoring.alerts import evaluate, services
from monitoring.alerts.choices import AlertState
from monitoring.alerts.models import Alert
from monitoring.metrics.collect import Scrape, write_scrape

from ..factories import create_two_tenants, mk_mirrored_pod

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024


@pytest.fixture
def tenants():
    return create_two_tenants()


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Evaluate as the beat task does: the notifications go out when the evaluation commits."""

    def evaluate_now(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return evaluate.evaluate(**kwargs)

    return evaluate_now


def put_history(cluster_id, points, *, now=None, step=15):
    """Samples every `step` seconds: points = {(metric, target): [value, ...]} oldest first, the last one now."""
    now = int((now or timezone.now()).timestamp())
    length = max(len(values) for values in points.values())
    for index in range(length):
        scrape = Scrape(cluster_id, now - (length - 1 - index) * step)
        for (metric, target), values in points.items():
            if index < len(values):
                scrape.put(metric, target, values[index])
        write_scrape(scrape)


def memory_rule(user, tenant, **extra):
    fields = {
        "name": "pod memory near its limit",
        "kind": "threshold",
        "severity": "critical",
        "tenant": tenant,
        "cluster": None,
        "metric": "pod_memory_usage_bytes",
        "comparison": ">",
        "threshold": 90,
        "percent_of_limit": True,
        "for_seconds": 300,
        **extra,
    }
    return services.create_rule(acting_user=user, **fields)


IMPOSSIBLE = [
    ({"metric": "pod_memory_bytes"}, "Unknown metric pod_memory_bytes"),
    ({"threshold": 150}, "between 0 and 100"),
    ({"percent_of_limit": False, "threshold": -5}, "never negative"),
    ({"metric": "pod_crash_looping", "percent_of_limit": False, "threshold": 2}, "1 (yes) or 0 (no)"),
    ({"metric": "pod_restarts", "threshold": 90}, "has no limit"),
    ({"for_seconds": 90000}, "from 0 to 86400"),
    ({"metric": "node_cpu_usage_cores", "percent_of_limit": False}, "only operators watch it"),
    ({"app": "web"}, "give the namespace too"),
    ({"namespace": "globex-shop"}, "no namespace globex-shop"),
    ({"threshold": None}, "Give the threshold"),
    ({"name": ""}, "Name the rule"),
]


def test_impossible_rules_are_refused_with_a_reason(tenants):
    _cluster, acme, _globex, _project, users = tenants
    for extra, says in IMPOSSIBLE:
        with pytest.raises(ValidationError) as refused:
            memory_rule(users["tenant_admin"], acme, **extra)
        assert says in " ".join(refused.value.messages), extra
    assert not services.AlertRule.objects.exists()


def test_who_sets_rules(tenants, operator):
    cluster, acme, globex, _project, users = tenants
    with pytest.raises(PermissionError):
        memory_rule(users["tenant_member"], acme)
    with pytest.raises(PermissionError):
        memory_rule(users["other_member"], acme)
    with pytest.raises(PermissionError):
        services.create_rule(
            acting_user=users["tenant_admin"],
            name="nodes",
            kind="node_not_ready",
            severity="critical",
            tenant=None,
            cluster=cluster,
        )
    rule = services.create_rule(
        acting_user=operator, name="nodes", kind="node_not_ready", severity="critical", tenant=None, cluster=cluster
    )
    assert rule.cluster == cluster and rule.tenant is None


def test_threshold_held_for_its_duration_fires_then_resolves(tenants, operator, english, run):
    cluster, acme, _globex, project, users = tenants
    rule = memory_rule(users["tenant_admin"], acme, namespace=project.name)
    used, limit = ("pod_memory_usage_bytes", "pod/acme-web/web-1"), ("pod_memory_limit_bytes", "pod/acme-web/web-1")
    other = ("pod_memory_usage_bytes", "pod/acme-web/batch-1"), ("pod_memory_limit_bytes", "pod/acme-web/batch-1")
    # web-1 at 92% of its 256 MiB for 6 minutes; batch-1 at 95% only for the last 2 minutes
    # (the beat evaluates every interval: here at two moments of that history)
    put_history(
        cluster.pk,
        {
            used: [236 * MIB] * 25,
            limit: [256 * MIB] * 25,
            other[0]: [100 * MIB] * 17 + [245 * MIB] * 8,
            other[1]: [256 * MIB] * 25,
        },
    )
    # five minutes ago web-1 was already above: pending since then; batch-1 was not
    report = run(now=timezone.now() - timedelta(seconds=300))
    assert report.fired == [] and report.pending == 1
    report = run()
    assert [a.target for a in report.fired] == ["pod/acme-web/web-1"]
    assert Alert.objects.get(target="pod/acme-web/batch-1").state == AlertState.PENDING  # above for 2 minutes only
    alert = Alert.objects.get(rule=rule, target="pod/acme-web/web-1")
    assert alert.state == AlertState.FIRING and alert.tenant == acme and round(alert.value) == 92
    note = Notification.objects.get(user=users["tenant_member"])
    assert "pod memory near its limit" in str(note.title) and "web-1" in str(note.title)
    assert not Notification.objects.filter(user=users["other_member"]).exists()  # globex hears nothing
    assert alerting.firing_for(cluster_id=cluster.pk, namespace="acme-web") == [
        "pod memory near its limit: pod/acme-web/web-1"
    ]
    assert alerting.firing_for(cluster_id=cluster.pk, namespace="globex-shop") == []
    # the same state evaluated again: nothing new is said
    assert run().fired == []
    assert Notification.objects.filter(user=users["tenant_member"]).count() == 1
    # memory back to 50%: the alert resolves, with a "resolved" message
    put_history(cluster.pk, {used: [128 * MIB], limit: [256 * MIB]}, now=timezone.now() + timedelta(seconds=1))
    report = run(now=timezone.now() + timedelta(seconds=2))
    assert [a.target for a in report.resolved] == ["pod/acme-web/web-1"]
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_at is not None
    resolved = Notification.objects.filter(user=users["tenant_member"]).order_by("-id").first()
    assert str(resolved.title).startswith("Resolved (Critical): pod memory near its limit")


def test_state_rules_read_the_mirror_within_their_scope(tenants, operator, english, run):
    cluster, acme, globex, project, users = tenants
    crash = services.create_rule(
        acting_user=users["tenant_admin"],
        name="crashes",
        kind="crash_loop",
        severity="warning",
        tenant=acme,
        cluster=None,
    )
    pending = services.create_rule(
        acting_user=users["tenant_admin"],
        name="stuck",
        kind="pending_too_long",
        severity="warning",
        tenant=acme,
        cluster=None,
        for_seconds=300,
    )
    globex_rule = services.create_rule(
        acting_user=users["other_member"],
        name="globex crashes",
        kind="crash_loop",
        severity="warning",
        tenant=globex,
        cluster=None,
    )
    mk_mirrored_pod(cluster, "acme-web", "web-1", "CrashLoopBackOff")
    mk_mirrored_pod(cluster, "acme-web", "old-1", "Pending", created=timezone.now() - timedelta(minutes=10))
    mk_mirrored_pod(cluster, "acme-web", "new-1", "Pending")
    report = run()
    fired = sorted((a.rule.name, a.target) for a in report.fired)
    assert fired == [("crashes", "pod/acme-web/web-1"), ("stuck", "pod/acme-web/old-1")]
    assert Alert.objects.get(rule=pending, target="pod/acme-web/new-1").state == AlertState.PENDING
    assert not Alert.objects.filter(rule=globex_rule).exists()
    # a pending alert whose state ends is forgotten, not history
    MirroredObject.objects.filter(name="new-1").update(phase="Running")
    run()
    assert not Alert.objects.filter(target="pod/acme-web/new-1").exists()
    assert crash.alerts.get().state == AlertState.FIRING


def test_acknowledge_and_silence(tenants, english, run):
    cluster, acme, _globex, _project, users = tenants
    services.create_rule(
        acting_user=users["tenant_admin"],
        name="crashes",
        kind="crash_loop",
        severity="critical",
        tenant=acme,
        cluster=None,
    )
    crashing = mk_mirrored_pod(cluster, "acme-web", "web-1", "CrashLoopBackOff")
    run()
    alert = Alert.objects.get()
    with pytest.raises(PermissionError):
        services.acknowledge_alert(alert, acting_user=users["tenant_member"])
    services.acknowledge_alert(alert, acting_user=users["tenant_admin"])
    with pytest.raises(ValidationError):
        services.silence_alert(alert, acting_user=users["tenant_admin"], minutes=-1)
    services.silence_alert(alert, acting_user=users["tenant_admin"], minutes=30)
    before = Notification.objects.count()
    crashing.delete()
    assert run().resolved == [alert]
    assert Notification.objects.count() == before  # silenced: its end is not announced either
    alert.refresh_from_db()
    assert alert.acknowledged_by == users["tenant_admin"] and alert.state == AlertState.RESOLVED


def test_pages_by_role(tenants, operator, auditor, client, run):
    cluster, acme, _globex, _project, users = tenants
    rule = services.create_rule(
        acting_user=users["tenant_admin"],
        name="crashes",
        kind="crash_loop",
        severity="critical",
        tenant=acme,
        cluster=None,
    )
    mk_mirrored_pod(cluster, "acme-web", "web-1", "CrashLoopBackOff")
    run()
    alert = Alert.objects.get()
    for user, rule_page, firing in (
        (users["tenant_member"], 200, True),
        (users["other_member"], 404, False),
        (auditor, 200, True),
        (operator, 200, True),
    ):
        client.force_login(user)
        assert client.get(reverse("alerts:rule", args=[rule.pk])).status_code == rule_page
        listing = client.get(reverse("alerts:alert_list")).content.decode()
        assert ("pod/acme-web/web-1" in listing) is firing
    client.force_login(users["tenant_member"])
    assert client.post(reverse("alerts:alert_acknowledge", args=[alert.pk])).status_code == 403
    assert client.get(reverse("alerts:rule_add")).status_code == 403
    client.force_login(users["tenant_admin"])
    bad = client.post(
        reverse("alerts:rule_add"),
        {
            "name": "x",
            "kind": "threshold",
            "severity": "warning",
            "tenant": "acme",
            "metric": "cpu_whatever",
            "comparison": ">",
            "threshold": "1",
            "for_seconds": "60",
            "enabled": "on",
        },
    )
    assert bad.status_code == 400 and "Unknown metric cpu_whatever" in bad.content.decode()
    silence = client.post(reverse("alerts:alert_silence", args=[alert.pk]), {"minutes": "99999"})
    assert silence.status_code == 400
    assert client.post(reverse("alerts:alert_silence", args=[alert.pk]), {"minutes": "15"}).status_code == 302


def test_live_alert_groups_are_authorised_per_tenant(tenants, auditor):
    from console.live import realtime

    _cluster, acme, globex, _project, users = tenants
    member = users["tenant_member"]
    assert realtime.may_subscribe(member, f"alerts-{acme.pk}")
    assert not realtime.may_subscribe(member, f"alerts-{globex.pk}")  # another tenant's, as a typo
    assert not realtime.may_subscribe(member, "alerts-all")
    assert not realtime.may_subscribe(member, "alerts-nonsense")
    assert realtime.may_subscribe(auditor, "alerts-all")


def test_operators_rules_on_components_nodes_and_volumes(tenants, operator, run, english):
    cluster, acme, _globex, project, users = tenants
    for kind, extra in (
        ("component_unhealthy", {}),
        ("node_not_ready", {}),
        ("volume_full", {"threshold": 90}),
    ):
        services.create_rule(
            acting_user=operator, name=kind, kind=kind, severity="critical", tenant=None, cluster=cluster, **extra
        )
    put_history(
        cluster.pk,
        {
            ("component_healthy", "component/etcd"): [0, 0],
            ("component_healthy", "component/scheduler"): [1, 1],
            ("pvc_used_bytes", "pvc/acme-web/data"): [950 * MIB, 960 * MIB],
            ("pvc_capacity_bytes", "pvc/acme-web/data"): [1024 * MIB, 1024 * MIB],
            ("pvc_used_bytes", "pvc/acme-web/logs"): [100 * MIB, 100 * MIB],
            ("pvc_capacity_bytes", "pvc/acme-web/logs"): [1024 * MIB, 1024 * MIB],
        },
    )
    MirroredObject.objects.create(
        cluster=cluster,
        kind="Node",
        api_version="v1",
        name="n2",
        uid="n2",
        resource_version="1",
        phase="NotReady",
        object={"kind": "Node"},
    )
    fired = sorted((a.rule.name, a.target) for a in run().fired)
    assert fired == [
        ("component_unhealthy", "component/etcd"),
        ("node_not_ready", "node/n2"),
        ("volume_full", "pvc/acme-web/data"),
    ]
    volume = Alert.objects.get(target="pvc/acme-web/data")
    assert volume.tenant == acme and round(volume.value) == 94  # the namespace's tenant sees it too
    assert Notification.objects.filter(user=operator).count() == 3
    assert not Notification.objects.filter(user=users["tenant_member"]).exists()  # the operators' rules tell operators
