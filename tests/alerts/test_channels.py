"""Notification channels: email to a real SMTP server, webhooks (JSON, DingTalk, WeCom, Slack)
to a real HTTP receiver; grouping, de-duplication, rate limits, retries with backoff, a broken
webhook that delays nobody else; what operators and tenant admins may configure."""

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from console.choices import NotificationLevel, PlatformRole
from console.notification_channels import services
from console.notifications import delivery, notifications
from console.notifications.models import Channel, Delivery, DeliveryStatus, Topic
from console.oplog.models import OperationLogEntry
from console.texts import message

from ..factories import create_two_tenants, mk_user

pytestmark = pytest.mark.django_db
HELLO = message("Pod %(pod)s is down")


def mk_channel(user, *, tenant_id=None, kind="webhook", target="", **extra):
    name = extra.pop("name", kind)
    values = {
        "topics": [Topic.ALERT, Topic.GENERAL],
        "min_level": NotificationLevel.INFO,
        "group_seconds": 0,
        "language": "en",  # the messages are read in English below
    }
    values.update(extra)
    return services.create_channel(acting_user=user, tenant_id=tenant_id, name=name, kind=kind, target=target, **values)


def send_all(channel):
    """What the channel's task does when its group is due (tests move the clock by moving due_at)."""
    Delivery.objects.filter(channel=channel, status=DeliveryStatus.PENDING).update(due_at=timezone.now())
    return delivery.send_due(channel.pk)


@pytest.fixture
def tenants():
    return create_two_tenants()


def test_email_goes_out_over_smtp(operator, smtp_server):
    channel = mk_channel(operator, kind="email", target="oncall@example.com, lead@example.com")
    notifications.notify_role(
        PlatformRole.OPERATOR, HELLO(pod="web-1"), body="OOMKilled", level="danger", topic="alert"
    )
    assert send_all(channel) == "sent 1"
    assert smtp_server.arrived.wait(5)
    mail = smtp_server.messages[0]
    assert sorted(mail["to"]) == ["lead@example.com", "oncall@example.com"]
    assert "Pod web-1 is down" in mail["subject"] and "OOMKilled" in mail["body"]
    assert Delivery.objects.get(channel=channel).status == DeliveryStatus.SENT


def test_smtp_down_is_a_failure_with_its_error(operator, settings):
    from ..live import free_port

    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens there
    channel = mk_channel(operator, kind="email", target="oncall@example.com")
    notifications.notify_role(PlatformRole.OPERATOR, HELLO(pod="web-1"), level="danger", topic="alert")
    assert send_all(channel) == "failed"
    channel.refresh_from_db()
    assert "SMTP 127.0.0.1" in channel.last_error
    failed = Delivery.objects.get(channel=channel)
    assert failed.status == DeliveryStatus.PENDING and failed.attempts == 1 and failed.due_at > timezone.now()


def test_each_webhook_format(operator, receiver):
    receiver.answers["/ding"] = (200, '{"errcode":0,"errmsg":"ok"}')
    receiver.answers["/wecom"] = (200, '{"errcode":0,"errmsg":"ok"}')
    made = [
        mk_channel(operator, name="json", kind="webhook", target=receiver.url("/json")),
        mk_channel(
            operator,
            name="ding",
            kind="dingtalk",
            target=receiver.url("/ding?access_token=abc"),
            secret="SECtest",
        ),
        mk_channel(operator, name="wecom", kind="wecom", target=receiver.url("/wecom?key=k1")),
        mk_channel(operator, name="slack", kind="slack", target=receiver.url("/slack")),
    ]
    notifications.notify_role(PlatformRole.OPERATOR, HELLO(pod="web-1"), body="restarts 5", level="warning", link="/x/")
    for channel in made:
        assert send_all(channel) == "sent 1", channel.name
    (generic,) = receiver.posts("/json")
    assert generic["json"]["count"] == 1 and generic["json"]["status"] == "firing"
    assert generic["json"]["notifications"][0]["title"] == "Pod web-1 is down"
    assert generic["json"]["notifications"][0]["body"] == "restarts 5"
    (ding,) = receiver.posts("/ding")
    assert ding["json"]["msgtype"] == "markdown" and "Pod web-1 is down" in ding["json"]["markdown"]["text"]
    timestamp, sign = ding["query"]["timestamp"][0], ding["query"]["sign"][0]
    expected = base64.b64encode(hmac.new(b"SECtest", f"{timestamp}\nSECtest".encode(), hashlib.sha256).digest())
    assert sign == expected.decode() and ding["query"]["access_token"] == ["abc"]
    (wecom,) = receiver.posts("/wecom")
    assert wecom["json"]["msgtype"] == "markdown" and "restarts 5" in wecom["json"]["markdown"]["content"]
    (slack,) = receiver.posts("/slack")
    assert "Pod web-1 is down" in slack["json"]["text"]
    assert slack["json"]["blocks"][0]["text"]["type"] == "mrkdwn"


def test_dingtalk_refusal_in_a_200_is_a_failure(operator, receiver):
    receiver.answers["/ding"] = (200, '{"errcode":310000,"errmsg":"sign not match"}')
    channel = mk_channel(operator, kind="dingtalk", target=receiver.url("/ding?access_token=abc"))
    notifications.notify_role(PlatformRole.OPERATOR, HELLO(pod="a"), level="danger")
    assert send_all(channel) == "failed"
    channel.refresh_from_db()
    assert "sign not match" in channel.last_error


def test_grouping_deduplication_and_rate_limit(operator, receiver):
    channel = mk_channel(operator, target=receiver.url("/hook"), group_seconds=30, max_per_hour=1)
    for pod in ("a", "b", "a"):  # "a" twice: the same key within the dedup window
        delivery.dispatch(tenant_id=None, title=HELLO(pod=pod), level="danger", topic="alert", key=f"pod-{pod}")
    waiting = list(Delivery.objects.filter(channel=channel))
    assert len(waiting) == 2
    assert len({d.due_at for d in waiting}) == 1 and waiting[0].due_at > timezone.now()  # one group, in 30 s
    assert delivery.send_due(channel.pk) == "nothing due"  # the group waits for its window
    assert send_all(channel) == "sent 2"
    (post,) = receiver.posts("/hook")
    assert post["json"]["count"] == 2
    # one message an hour at most: the next waits for the hour to pass, nothing is lost
    delivery.dispatch(tenant_id=None, title=HELLO(pod="c"), level="danger", topic="alert", key="pod-c")
    assert send_all(channel) == "rate limited"
    later = Delivery.objects.get(channel=channel, key="pod-c")
    assert later.status == DeliveryStatus.PENDING and later.due_at > timezone.now() + timedelta(minutes=55)
    assert len(receiver.posts("/hook")) == 1


def test_broken_webhook_retries_with_backoff_and_blocks_nobody(operator, receiver, settings, client):
    receiver.answers["/broken"] = (502, "bad gateway")
    broken = mk_channel(operator, name="broken", target=receiver.url("/broken"))
    good = mk_channel(operator, name="good", target=receiver.url("/good"))
    notifications.notify_role(PlatformRole.OPERATOR, HELLO(pod="web-1"), level="danger", topic="alert")
    assert send_all(broken) == "failed"
    assert send_all(good) == "sent 1"
    failed = Delivery.objects.get(channel=broken)
    assert failed.attempts == 1 and "answered 502" in failed.last_error
    first_wait = failed.due_at - timezone.now()
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)
    assert send_all(broken) == "failed"
    failed.refresh_from_db()
    assert failed.due_at - timezone.now() > timedelta(seconds=55)  # backoff doubles
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    assert send_all(broken) == "failed"
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED and failed.attempts == 3
    # the channel's page shows the error
    client.force_login(operator)
    page = client.get(reverse("console:channel", args=[broken.pk]))
    assert page.status_code == 200 and "answered 502" in page.content.decode()


def test_resolved_message_passes_the_level_filter(operator, receiver):
    channel = mk_channel(operator, target=receiver.url("/hook"), min_level=NotificationLevel.DANGER)
    delivery.dispatch(tenant_id=None, title=HELLO(pod="a"), level="info", topic="alert")
    assert not Delivery.objects.filter(channel=channel).exists()
    delivery.dispatch(tenant_id=None, title=HELLO(pod="a"), level="success", topic="alert", resolved=True)
    assert send_all(channel) == "sent 1"
    assert receiver.posts("/hook")[0]["json"]["status"] == "resolved"


def test_tenant_notifications_reach_the_tenants_channels_only(tenants, operator, receiver):
    _cluster, acme, globex, _project, users = tenants
    acme_channel = mk_channel(users["tenant_admin"], tenant_id=acme.pk, target=receiver.url("/acme"))
    globex_channel = mk_channel(users["other_member"], tenant_id=globex.pk, target=receiver.url("/globex"))
    platform = mk_channel(operator, name="all", target=receiver.url("/all"), all_tenants=True)
    quiet_platform = mk_channel(operator, name="platform-only", target=receiver.url("/platform"))
    # what workloads sends for scheduled scaling: notify_tenant with no topic (other notifications)
    notifications.notify_tenant(acme.pk, HELLO(pod="web-1"), level="warning")
    assert Delivery.objects.filter(channel=acme_channel).count() == 1
    assert Delivery.objects.filter(channel=platform).count() == 1
    assert not Delivery.objects.filter(channel__in=[globex_channel, quiet_platform]).exists()
    assert send_all(acme_channel) == "sent 1"
    assert receiver.posts("/acme")[0]["json"]["notifications"][0]["title"] == "Pod web-1 is down"


MALFORMED = [
    ("webhook", "ftp://example.com/hook", "must start with https://"),
    ("webhook", "not a url", "must start with https://"),
    ("webhook", "https://", "names no host"),
    ("webhook", "http://127.0.0.1:6379/", "internal address"),
    ("webhook", "http://localhost:5432/", "internal address"),
    ("webhook", "http://169.254.169.254/latest/meta-data/", "internal address"),
    ("webhook", "http://10.0.0.5/hook", "internal address"),
    ("webhook", "http://[::1]/hook", "internal address"),
    ("webhook", "http://[::ffff:127.0.0.1]/hook", "internal address"),
    ("webhook", "https://example.com:99999/", "not a URL"),
    ("dingtalk", "https://oapi.dingtalk.com/robot/send", "access_token"),
    ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "key"),
    ("email", "oncall@example.com, not-an-address", "not-an-address is not an email address"),
    ("email", ",".join(f"u{i}@example.com" for i in range(21)), "At most 20"),
]


def test_malformed_or_internal_targets_are_refused(operator):
    for kind, target, says in MALFORMED:
        with pytest.raises(ValidationError) as refused:
            mk_channel(operator, kind=kind, target=target)
        assert says in " ".join(refused.value.messages), target
    assert not Channel.objects.exists()
    assert OperationLogEntry.objects.filter(action="notification_channel.create", result="failed").count() == len(
        MALFORMED
    )


def test_an_address_allowed_when_saved_is_checked_again_when_sending(operator, receiver, settings):
    channel = mk_channel(operator, target=receiver.url("/hook"))
    settings.NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS = []  # the operator withdraws the exception
    notifications.notify_role(PlatformRole.OPERATOR, HELLO(pod="a"), level="danger")
    assert send_all(channel) == "failed"
    assert receiver.requests == []
    assert "internal address" in Delivery.objects.get(channel=channel).last_error


def test_redirects_are_not_followed(operator, receiver):
    receiver.answers["/hook"] = (302, "")
    channel = mk_channel(operator, target=receiver.url("/hook"))
    notifications.notify_role(PlatformRole.OPERATOR, HELLO(pod="a"), level="danger")
    assert send_all(channel) == "failed"
    assert len(receiver.requests) == 1


def test_who_configures_what(tenants, operator, auditor, receiver, client):
    _cluster, acme, globex, _project, users = tenants
    with pytest.raises(PermissionError):
        mk_channel(users["tenant_member"], tenant_id=acme.pk, target=receiver.url("/x"))
    with pytest.raises(PermissionError):
        mk_channel(users["other_member"], tenant_id=acme.pk, target=receiver.url("/x"))
    with pytest.raises(PermissionError):
        mk_channel(users["tenant_admin"], tenant_id=None, target=receiver.url("/x"))
    channel = mk_channel(users["tenant_admin"], tenant_id=acme.pk, target=receiver.url("/acme/T0/B0/s3cr3tpath"))
    assert channel.tenant_name == "acme" and "s3cr3tpath" not in channel.target_hint
    logged = OperationLogEntry.objects.filter(action="notification_channel.create", result="succeeded").get()
    assert "s3cr3tpath" not in str(logged.payload) and "s3cr3tpath" not in str(logged.after)
    url = reverse("console:channel", args=[channel.pk])
    for user, status in ((users["other_member"], 404), (users["tenant_member"], 403), (auditor, 200), (operator, 200)):
        client.force_login(user)
        assert client.get(url).status_code == status, user
    client.force_login(auditor)
    assert client.post(reverse("console:channel_test", args=[channel.pk])).status_code == 403
    client.force_login(users["tenant_admin"])
    listing = client.get(reverse("console:channel_list")).content.decode()
    assert channel.name in listing
    refused = client.post(
        reverse("console:channel_add"),
        {
            "owner": str(acme.pk),
            "name": "ops",
            "kind": "webhook",
            "target": "http://169.254.169.254/",
            "topics": ["alert"],
            "min_level": "warning",
            "language": "en",
            "group_seconds": "30",
            "dedup_seconds": "60",
            "max_per_hour": "10",
        },
    )
    assert refused.status_code == 400 and "internal address" in refused.content.decode()
    answered = client.post(reverse("console:channel_test", args=[channel.pk]))
    assert answered.status_code == 302
    assert Delivery.objects.filter(channel=channel, title__contains="Test message").exists()


def test_members_see_no_channels(tenants, client):
    *_rest, users = tenants
    client.force_login(users["tenant_member"])
    assert client.get(reverse("console:channel_list")).status_code == 403
    nobody = mk_user("nobody")
    client.force_login(nobody)
    assert client.get(reverse("console:channel_list")).status_code == 403


def test_a_channel_speaks_its_own_language(operator, smtp_server):
    """The console's default language is Chinese: a channel made without one sends in Chinese,
    whatever the language of whoever triggered the notification."""
    channel = mk_channel(operator, kind="email", target="oncall@example.com", language="zh-hans")
    notifications.notify_role(
        PlatformRole.OPERATOR, HELLO(pod="web-1"), body="OOMKilled", level="danger", topic="alert"
    )
    assert send_all(channel) == "sent 1"
    assert smtp_server.arrived.wait(5)
    subject = smtp_server.messages[0]["subject"]
    assert "Pod web-1 is down" not in subject and "web-1" in subject


CHANNEL_FORM = {
    "kind": "webhook",
    "topics": ["alert", "general"],
    "min_level": "info",
    "language": "en",
    "group_seconds": "0",
    "dedup_seconds": "60",
    "max_per_hour": "10",
    "enabled": "on",
}


def test_an_operator_makes_a_channel_for_a_tenant(tenants, operator, receiver, client):
    _cluster, acme, globex, _project, users = tenants
    client.force_login(operator)
    form = client.get(reverse("console:channel_add")).content.decode()
    assert f'value="{acme.pk}"' in form and f'value="{globex.pk}"' in form  # every tenant is on offer
    answered = client.post(
        reverse("console:channel_add"),
        {**CHANNEL_FORM, "owner": str(acme.pk), "name": "acme-oncall", "target": receiver.url("/acme")},
    )
    assert answered.status_code == 302
    channel = Channel.objects.get(name="acme-oncall")
    assert channel.tenant_id == acme.pk and channel.tenant_name == "acme" and channel.created_by == operator
    logged = OperationLogEntry.objects.get(action="notification_channel.create", result="succeeded")
    assert logged.payload["tenant_id"] == acme.pk
    # a tenant that does not exist: a clear 400, nothing made
    missing = client.post(
        reverse("console:channel_add"),
        {**CHANNEL_FORM, "owner": "999999", "name": "ghost", "target": receiver.url("/ghost")},
    )
    assert missing.status_code == 400 and not Channel.objects.filter(name="ghost").exists()
    with pytest.raises(ValidationError) as refused:
        mk_channel(operator, tenant_id=999999, name="ghost", target=receiver.url("/ghost"))
    assert "no tenant with id 999999" in " ".join(refused.value.messages)
    # the channel takes acme's notifications, never globex's
    notifications.notify_tenant(globex.pk, HELLO(pod="shop-1"), level="danger", topic="alert")
    assert not Delivery.objects.filter(channel=channel).exists()
    notifications.notify_tenant(acme.pk, HELLO(pod="web-1"), level="danger", topic="alert")
    assert send_all(channel) == "sent 1"
    (post,) = receiver.posts("/acme")
    assert post["json"]["notifications"][0]["title"] == "Pod web-1 is down"
    # acme's admin sees and manages it; globex's admin does not even see it
    url = reverse("console:channel", args=[channel.pk])
    row = f'id="channel-{channel.pk}"'
    client.force_login(users["tenant_admin"])
    assert row in client.get(reverse("console:channel_list")).content.decode()
    saved = client.post(url, {**CHANNEL_FORM, "min_level": "warning"})
    assert saved.status_code == 302
    channel.refresh_from_db()
    assert channel.min_level == "warning" and channel.tenant_id == acme.pk
    client.force_login(users["other_member"])
    assert row not in client.get(reverse("console:channel_list")).content.decode()
    assert client.get(url).status_code == 404
    assert client.post(url, {**CHANNEL_FORM, "min_level": "info"}).status_code == 404
    # the operator edits it too; its tenant stays what it was made for
    client.force_login(operator)
    assert client.post(url, {**CHANNEL_FORM, "owner": str(globex.pk), "max_per_hour": "5"}).status_code == 302
    channel.refresh_from_db()
    assert channel.max_per_hour == 5 and channel.tenant_id == acme.pk


def test_a_tenant_admin_offers_only_their_own_tenants(tenants, receiver, client):
    _cluster, acme, globex, _project, users = tenants
    client.force_login(users["tenant_admin"])
    form = client.get(reverse("console:channel_add")).content.decode()
    assert f'value="{acme.pk}"' in form and f'value="{globex.pk}"' not in form and 'value="platform"' not in form
    refused = client.post(
        reverse("console:channel_add"),
        {**CHANNEL_FORM, "owner": str(globex.pk), "name": "sneaky", "target": receiver.url("/x")},
    )
    assert refused.status_code == 400 and not Channel.objects.filter(name="sneaky").exists()
