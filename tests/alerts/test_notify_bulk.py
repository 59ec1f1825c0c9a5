"""Announcing many alerts at once: the number of queries does not grow with the number of
alerts (nor of rules, tenants and channels), and every rule still holds: each alert is
announced once, silenced and acknowledged alerts say nothing, a rule's named channels carry
it only when they are its tenant's or the platform's (checked again when sent), a tenant's
channels and members never hear another tenant's alerts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.choices import NotificationLevel
from console.clusters.models import MirroredObject
from console.notification_channels import services as channel_services
from console.notifications.models import Channel, Delivery, Notification, Topic
from monitoring.alerts import evaluate, notify, services
from monitoring.alerts.models import Alert, AlertRule

from ..factories import create_two_tenants, mk_mirrored_pod, mk_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(operator, receiver):
    cluster, acme, globex, _project, users = create_two_tenants()
    mk_project(acme, cluster, "api")
    admin = users["tenant_admin"]

    def channel(user, name, tenant_id=None, **extra):
        values = {"topics": [Topic.ALERT], "min_level": NotificationLevel.INFO, "group_seconds": 0, "language": "en"}
        return channel_services.create_channel(
            acting_user=user,
            tenant_id=tenant_id,
            name=name,
            kind="webhook",
            target=receiver.url(f"/{name}"),
            **{**values, **extra},
        )

    channels = {
        "acme": channel(admin, "acme", acme.pk),
        "acme-pager": channel(admin, "acme-pager", acme.pk, topics=[Topic.GENERAL]),  # only when named
        "globex": channel(users["other_member"], "globex", globex.pk),
        "noc": channel(operator, "noc", all_tenants=True),
    }
    return cluster, acme, globex, users, channels


def add_alerts(world, first, count, operator):
    """`count` rules of three kinds, each with one crash-looping pod of its own app: acme's (one in
    three names acme's pager), globex's, and the operators' cluster-wide ones."""
    cluster, acme, globex, users, channels = world
    for i in range(first, first + count):
        app = f"app{i}"
        owner, tenant, namespace, named = (
            (
                users["tenant_admin"],
                acme,
                ("acme-web", "acme-api")[i % 2],
                [channels["acme-pager"]] if i % 6 == 0 else [],
            )
            if i % 3 == 0
            else (users["other_member"], globex, "globex-shop", [])
            if i % 3 == 1
            else (operator, None, "acme-web", [channels["noc"]])
        )
        services.create_rule(
            acting_user=owner,
            name=f"crashes of {app}",
            kind="crash_loop",
            severity="warning",
            tenant=tenant,
            cluster=cluster if tenant is None else None,
            namespace=namespace,
            app=app,
            channels=named,
        )
        mk_mirrored_pod(cluster, namespace, f"{app}-1", app=app)
        mk_mirrored_pod(cluster, namespace, f"{app}-2", app=app)  # two alerts of one rule: one notification


def evaluate_counting(now=None):
    """Evaluate, then run what it leaves for after the commit (the announcement), counting the
    queries of that part."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        report = evaluate.evaluate(now=now)
    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    return report, len(queries)


def test_announcing_takes_the_same_queries_for_5_or_50_alerts_and_keeps_every_rule(world, operator):
    cluster, acme, globex, users, channels = world
    add_alerts(world, 0, 6, operator)  # 6 rules, 12 alerts
    report, few = evaluate_counting()
    assert len(report.fired) == 12
    add_alerts(world, 6, 48, operator)  # 48 more rules, 96 more alerts
    report, many = evaluate_counting()
    assert len(report.fired) == 96
    assert many == few, (few, many)
    # the alerts (locked), the rules' channels, "notified", tenant members, operators, the
    # notifications and their unread counts, the channels, recent keys, pending groups, the
    # deliveries; and the savepoint around them
    assert many <= 13

    # each rule was one notification for each of its listeners
    acme_rules = AlertRule.objects.filter(tenant=acme).count()
    globex_rules = AlertRule.objects.filter(tenant=globex).count()
    operator_rules = AlertRule.objects.filter(tenant__isnull=True).count()
    assert (acme_rules, globex_rules, operator_rules) == (18, 18, 18)
    for user in (users["tenant_admin"], users["tenant_member"]):
        titles = [str(n.title) for n in Notification.objects.filter(user=user)]
        assert len(titles) == acme_rules and all("on 2 targets" in t for t in titles), titles
    assert Notification.objects.filter(user=users["other_member"]).count() == globex_rules
    assert Notification.objects.filter(user=operator).count() == operator_rules
    assert not Notification.objects.filter(user=users["other_member"], title__contains="app0").exists()
    # channels: acme's takes acme's rules that name none; the pager only the rules naming it;
    # the platform's, which takes every tenant's, the rules naming none and the operators' rules
    deliveries = {name: Delivery.objects.filter(channel=channel).count() for name, channel in channels.items()}
    named_pager = AlertRule.objects.filter(channels=channels["acme-pager"]).count()
    assert deliveries == {
        "acme": acme_rules - named_pager,
        "acme-pager": named_pager,
        "globex": globex_rules,
        "noc": acme_rules - named_pager + globex_rules + operator_rules,
    }
    assert not Delivery.objects.filter(channel=channels["globex"], title__contains="acme").exists()
    assert Alert.objects.filter(notified=True).count() == 108

    # announced once: the same changes announced again say nothing more
    before = (Notification.objects.count(), Delivery.objects.count())
    notify.announce(report.fired, [], timezone.now())
    assert (Notification.objects.count(), Delivery.objects.count()) == before


def test_silenced_and_acknowledged_alerts_say_nothing_whenever_that_was_decided(world, operator):
    cluster, acme, _globex, users, channels = world
    admin = users["tenant_admin"]
    rule = services.create_rule(
        acting_user=admin,
        name="crashes",
        kind="crash_loop",
        severity="warning",
        tenant=acme,
        cluster=None,
        for_seconds=60,
    )
    for name in ("loud", "hushed", "acked", "late"):
        mk_mirrored_pod(cluster, "acme-web", name, app="web")
    now = timezone.now()
    report, _ = evaluate_counting(now)
    assert report.pending == 4 and not report.fired
    alert = {a.target.rsplit("/", 1)[1]: a for a in Alert.objects.filter(rule=rule)}
    services.silence_alert(alert["hushed"], acting_user=admin, minutes=30)
    services.acknowledge_alert(alert["acked"], acting_user=admin)
    # the evaluation read the alerts before this silence: the announcement reads them again
    evaluate_at = now + timedelta(seconds=61)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        report = evaluate.evaluate(now=evaluate_at)
    assert len(report.fired) == 4
    services.silence_alert(alert["late"], acting_user=admin, minutes=30)
    for callback in callbacks:
        callback()
    (note,) = Notification.objects.filter(user=users["tenant_member"])
    assert "pod/acme-web/loud" in str(note.title)
    assert [str(d.title) for d in Delivery.objects.filter(channel=channels["acme"])] == [str(note.title)]
    assert set(Alert.objects.filter(notified=True).values_list("target", flat=True)) == {"pod/acme-web/loud"}
    # their ends: said for the alert whose firing was, not for the others
    MirroredObject.objects.filter(namespace="acme-web").delete()
    report, _ = evaluate_counting(evaluate_at + timedelta(seconds=1))
    assert len(report.resolved) == 4
    titles = [str(n.title) for n in Notification.objects.filter(user=users["tenant_member"]).order_by("id")]
    assert titles == [str(note.title), "Resolved (Warning): crashes on pod/acme-web/loud"]


def test_a_named_channel_that_left_the_rules_tenant_carries_nothing(world, operator):
    """Channels are checked again when sent: a rule naming a channel that is no longer its
    tenant's (or is disabled) does not reach it, nor falls back to the others."""
    cluster, acme, globex, users, channels = world
    rule = services.create_rule(
        acting_user=users["tenant_admin"],
        name="crashes",
        kind="crash_loop",
        severity="warning",
        tenant=acme,
        cluster=None,
        channels=[channels["acme"], channels["acme-pager"]],
    )
    Channel.objects.filter(pk=channels["acme"].pk).update(tenant_id=globex.pk)  # as if moved under the rule
    Channel.objects.filter(pk=channels["acme-pager"].pk).update(enabled=False)
    mk_mirrored_pod(cluster, "acme-web", "web-1", app="web")
    report, _ = evaluate_counting()
    assert [a.rule_id for a in report.fired] == [rule.pk]
    assert not Delivery.objects.exists()
    assert Notification.objects.filter(user=users["tenant_member"]).count() == 1  # the list still hears it
