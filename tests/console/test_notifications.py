import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from console.live import realtime
from console.notifications import notifications
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry

from ..factories import mk_user

pytestmark = pytest.mark.django_db


def test_notify_role_reaches_only_that_role(operator, auditor, tenant_user):
    created = notifications.notify_role("auditor", "Backup overdue", body="3 volumes")
    assert [n.user for n in created] == [auditor]
    assert notifications.unread_count(auditor) == 1 and notifications.unread_count(operator) == 0


def test_notify_tenant_reaches_its_members_only(auditor):
    from ..factories import mk_member, mk_tenant

    acme, globex = mk_tenant("acme"), mk_tenant("globex")
    admin, member = mk_member(acme, "acme-admin", "tenant-admin"), mk_member(acme, "acme-dev")
    outsider = mk_member(globex, "globex-dev")
    assert {n.user for n in notifications.notify_tenant(acme.pk, "Quota raised")} == {admin, member}
    assert [n.user for n in notifications.notify_tenant(acme.pk, "Admins only", tenant_roles=["tenant-admin"])] == [
        admin
    ]
    assert notifications.unread_count(outsider) == 0


def test_new_notification_is_pushed_to_the_users_group_after_commit(auditor, django_capture_on_commit_callbacks):
    layer = get_channel_layer()  # the real Redis channel layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.user_group(auditor.pk), channel)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_user(auditor, "Node NotReady", body="sandbox-node-2", level="danger")

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(receive)()
    assert message["type"] == "push.html"
    html = message["html"]
    assert "Node NotReady" in html and 'id="notif-count"' in html and "hx-swap-oob" in html
    assert ">1<" in html  # the unread badge shows the new count


def test_mark_read_only_own_notifications(client, auditor, operator):
    mine = notifications.notify_user(auditor, "mine")
    theirs = notifications.notify_user(operator, "theirs")
    client.force_login(auditor)
    response = client.post(reverse("console:notification_read", args=[mine.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="notif-count"' in response.content.decode()
    mine.refresh_from_db()
    assert mine.is_read
    response = client.post(reverse("console:notification_read", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_read
    guessed = OperationLogEntry.objects.filter(action="notification.mark_read").order_by("id")
    assert [e.result for e in guessed] == ["succeeded", "failed"]


def test_mark_all_read(client, auditor):
    for i in range(3):
        notifications.notify_user(auditor, f"n{i}")
    client.force_login(auditor)
    assert client.post(reverse("console:notification_read_all")).status_code == 302
    assert notifications.unread_count(auditor) == 0
    assert OperationLogEntry.objects.get(action="notification.mark_all_read").payload == {"marked": 3}


def test_operator_sends_a_notice_to_a_role(client, operator, auditor, tenant_user):
    client.force_login(operator)
    response = client.post(
        reverse("console:notice_send"),
        {"audience": "auditor", "level": "warning", "title": "Audit window", "body": "Friday"},
    )
    assert response.status_code == 302
    assert list(Notification.objects.values_list("user__username", "title")) == [("aud", "Audit window")]
    entry = OperationLogEntry.objects.get(action="notification.send_notice")
    assert entry.after == {"recipients": 1} and entry.payload["audience"] == "auditor"


@pytest.mark.parametrize(
    "data",
    [
        {"audience": "everyone", "level": "info", "title": "x"},
        {"audience": "all", "level": "info", "title": ""},
        {"audience": "all", "level": "purple", "title": "x"},
        {"audience": "all", "level": "info", "title": "x" * 300},
    ],
)
def test_bad_notice_input_gets_400_and_sends_nothing(client, operator, data):
    mk_user("someone")
    client.force_login(operator)
    response = client.post(reverse("console:notice_send"), data)
    assert response.status_code == 400 and "invalid-feedback" in response.content.decode()
    assert not Notification.objects.exists()
    assert OperationLogEntry.objects.get(action="request.console:notice_send").result == "failed"


def test_non_numeric_page_is_refused(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("console:notification_list"), {"page": "1;drop"}).status_code == 400
