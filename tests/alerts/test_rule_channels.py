"""Alert rules that name their channels: the named channels carry the rule's notifications
(whatever their topics and level), the others do not; rules naming none keep the topic and
level routing. Nobody names a channel outside what they may use, and a tenant's channel
never carries another tenant's alert. Real receivers: aiosmtpd and a loopback webhook."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console.choices import NotificationLevel
from console.clusters.models import MirroredObject
from console.notification_channels import services as channel_services
from console.notifications import delivery
from console.notifications.models import Delivery, DeliveryStatus, Topic
from console.oplog.models import OperationLogEntry
from monitoring.alerts import evaluate, services
from monitoring.alerts.models import AlertRule

from ..factories import create_two_tenants, mk_mirrored_pod

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants():
    return create_two_tenants()


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def evaluate_now(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return evaluate.evaluate(**kwargs)

    return evaluate_now


def mk_channel(user, *, tenant_id=None, name, kind="webhook", target, **extra):
    values = {
        "topics": [Topic.ALERT],
        "min_level": NotificationLevel.INFO,
        "group_seconds": 0,
        "language": "en",
        **extra,
    }
    return channel_services.create_channel(
        acting_user=user, tenant_id=tenant_id, name=name, kind=kind, target=target, **values
    )


def crash_rule(user, tenant, **extra):
    fields = {"name": "crashes", "kind": "crash_loop", "severity": "warning", "tenant": tenant, "cluster": None}
    return services.create_rule(acting_user=user, **{**fields, **extra})


def send_all(channel):
    Delivery.objects.filter(channel=channel, status=DeliveryStatus.PENDING).update(due_at=timezone.now())
    return delivery.send_due(channel.pk)


def test_a_rules_named_channels_carry_its_alerts(tenants, receiver, smtp_server, run):
    cluster, acme, _globex, _project, users = tenants
    admin = users["tenant_admin"]
    # named: takes only "other notifications" at danger and above, so routing alone would skip a warning alert
    pager = mk_channel(
        admin,
        tenant_id=acme.pk,
        name="pager",
        target=receiver.url("/pager"),
        topics=[Topic.GENERAL],
        min_level="danger",
    )
    mail = mk_channel(admin, tenant_id=acme.pk, name="mail", kind="email", target="oncall@acme.example")
    # not named, though it takes every alert: it hears nothing of this rule
    everything = mk_channel(admin, tenant_id=acme.pk, name="everything", target=receiver.url("/everything"))
    rule = crash_rule(admin, acme, channels=[pager, mail])
    assert set(rule.channels.all()) == {pager, mail}
    logged = OperationLogEntry.objects.get(action="alert_rule.create", result="succeeded")
    assert logged.after["channels"] == ["mail", "pager"]

    mk_mirrored_pod(cluster, "acme-web", "web-1")
    assert [a.target for a in run().fired] == ["pod/acme-web/web-1"]
    assert send_all(pager) == "sent 1"
    assert send_all(mail) == "sent 1"
    assert not Delivery.objects.filter(channel=everything).exists()
    (post,) = receiver.posts("/pager")
    assert post["json"]["status"] == "firing" and "crashes" in post["json"]["notifications"][0]["title"]
    assert smtp_server.arrived.wait(5)
    assert smtp_server.messages[0]["to"] == ["oncall@acme.example"] and "crashes" in smtp_server.messages[0]["subject"]
    assert receiver.posts("/everything") == []
    # the in-app list hears it too
    assert users["tenant_member"].notifications.filter(title__contains="crashes").exists()
    # its end goes the same way
    MirroredObject.objects.filter(name="web-1").delete()
    assert len(run().resolved) == 1
    assert send_all(pager) == "sent 1"
    assert receiver.posts("/pager")[-1]["json"]["status"] == "resolved"
    assert not Delivery.objects.filter(channel=everything).exists()


def test_a_rule_naming_none_keeps_the_topic_and_level_routing(tenants, receiver, run):
    cluster, acme, _globex, _project, users = tenants
    admin = users["tenant_admin"]
    alerts = mk_channel(admin, tenant_id=acme.pk, name="alerts", target=receiver.url("/alerts"))
    general = mk_channel(admin, tenant_id=acme.pk, name="general", target=receiver.url("/general"), topics=["general"])
    crash_rule(admin, acme)
    mk_mirrored_pod(cluster, "acme-web", "web-1")
    run()
    assert send_all(alerts) == "sent 1"
    assert not Delivery.objects.filter(channel=general).exists()


def test_who_names_which_channels(tenants, operator, receiver):
    cluster, acme, globex, _project, users = tenants
    admin = users["tenant_admin"]
    acme_channel = mk_channel(admin, tenant_id=acme.pk, name="acme", target=receiver.url("/acme"))
    globex_channel = mk_channel(users["other_member"], tenant_id=globex.pk, name="globex", target=receiver.url("/g"))
    platform = mk_channel(operator, name="noc", target=receiver.url("/noc"))
    refusals = [
        (admin, acme, [globex_channel], "Name only the channels of your own tenant."),
        (admin, acme, [platform], "Tenant admins name only their own tenant's channels."),
        (operator, acme, [globex_channel], "Channel globex belongs to tenant globex"),
        (operator, None, [acme_channel], "Channel acme belongs to tenant acme"),
        (admin, acme, [999999], "There is no such channel."),
    ]
    for user, tenant, channels, says in refusals:
        with pytest.raises(ValidationError) as refused:
            crash_rule(user, tenant, channels=channels)
        assert says in " ".join(refused.value.messages), (user, tenant, channels)
    assert not AlertRule.objects.exists()
    # operators may send a tenant's rule to the platform's channel as well as to the tenant's
    rule = crash_rule(operator, acme, channels=[acme_channel, platform])
    assert set(rule.channels.all()) == {acme_channel, platform}
    # the tenant's admin changes the rule: the platform's channel the operator chose stays allowed
    services.update_rule(
        rule,
        acting_user=admin,
        name="crashes!",
        kind="crash_loop",
        severity="critical",
        tenant=acme,
        cluster=None,
        channels=[platform],
    )
    rule.refresh_from_db()
    assert rule.name == "crashes!" and list(rule.channels.all()) == [platform]
    # a change that does not mention channels keeps them
    services.update_rule(
        rule, acting_user=operator, name="crashes", kind="crash_loop", severity="critical", tenant=acme, cluster=None
    )
    assert list(rule.channels.all()) == [platform]
    # moving the rule to globex while it names acme's channel: refused
    with pytest.raises(ValidationError):
        services.update_rule(
            rule,
            acting_user=operator,
            name="crashes",
            kind="crash_loop",
            severity="critical",
            tenant=globex,
            cluster=None,
            channels=[acme_channel],
        )


def test_naming_another_tenants_channel_on_the_form_is_a_400(tenants, operator, receiver, client):
    _cluster, acme, globex, _project, users = tenants
    acme_channel = mk_channel(users["tenant_admin"], tenant_id=acme.pk, name="acme", target=receiver.url("/acme"))
    globex_channel = mk_channel(users["other_member"], tenant_id=globex.pk, name="globex", target=receiver.url("/g"))
    platform = mk_channel(operator, name="noc", target=receiver.url("/noc"))
    form = {
        "name": "crashes",
        "kind": "crash_loop",
        "severity": "warning",
        "tenant": "acme",
        "for_seconds": "0",
        "comparison": ">",
    }
    client.force_login(users["tenant_admin"])
    page = client.get(reverse("alerts:rule_add")).content.decode()
    assert f'value="{acme_channel.pk}"' in page
    assert f'value="{globex_channel.pk}"' not in page and f'value="{platform.pk}"' not in page
    for foreign in (globex_channel, platform):
        refused = client.post(reverse("alerts:rule_add"), {**form, "channels": [str(acme_channel.pk), str(foreign.pk)]})
        assert refused.status_code == 400
        assert "Choose channels of your own tenant" in refused.content.decode()
    assert not AlertRule.objects.exists()
    made = client.post(reverse("alerts:rule_add"), {**form, "channels": [str(acme_channel.pk)]})
    assert made.status_code == 302
    rule = AlertRule.objects.get()
    assert list(rule.channels.all()) == [acme_channel]
    # the operator's form offers every channel, and the service says why a foreign one does not fit
    client.force_login(operator)
    refused = client.post(
        reverse("alerts:rule", args=[rule.pk]), {**form, "channels": [str(globex_channel.pk)], "enabled": "on"}
    )
    assert refused.status_code == 400 and "Channel globex belongs to tenant globex" in refused.content.decode()
    assert list(rule.channels.all()) == [acme_channel]


def test_a_foreign_channel_slipped_onto_a_rule_still_hears_nothing(tenants, receiver, run):
    """Dispatch checks again: even a rule whose channels were set behind the services' back
    sends a tenant's alert to that tenant's channels (and the platform's) only."""
    cluster, acme, globex, _project, users = tenants
    acme_channel = mk_channel(users["tenant_admin"], tenant_id=acme.pk, name="acme", target=receiver.url("/acme"))
    globex_channel = mk_channel(users["other_member"], tenant_id=globex.pk, name="globex", target=receiver.url("/g"))
    rule = crash_rule(users["tenant_admin"], acme, channels=[acme_channel])
    rule.channels.add(globex_channel)  # not through the service
    mk_mirrored_pod(cluster, "acme-web", "web-1")
    run()
    assert send_all(acme_channel) == "sent 1"
    assert not Delivery.objects.filter(channel=globex_channel).exists()
    assert receiver.posts("/g") == []
