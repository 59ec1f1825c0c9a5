"""Notifications out through channels: `dispatch` queues one notification for each channel
that takes it; `send_due` sends a channel's due ones as one message (grouping), within the
channel's rate limit, and retries a failed send with backoff. Each channel is sent by its
own task, so a broken webhook delays nothing but itself.

    dispatch(tenant_id=3, title=FIRING(...), level="danger", topic=Topic.ALERT, key="rule-7-pod/shop/web-1")
"""

import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone, translation

from console.choices import NotificationLevel
from console.texts import Stored

from . import channels
from .models import Channel, Delivery, DeliveryStatus, Topic

log = logging.getLogger(__name__)

LEVEL_RANK = {
    NotificationLevel.INFO: 0,
    NotificationLevel.SUCCESS: 0,
    NotificationLevel.WARNING: 1,
    NotificationLevel.DANGER: 2,
}
GROUP_SIZE = 50
RATE_WINDOW = timedelta(hours=1)
MAX_BACKOFF_SECONDS = 3600
TASK = "console.notifications.tasks.deliver_channel"


def channels_for(
    tenant_id: int | None, topic: str, level: str, resolved: bool = False, channel_ids: list[int] | None = None
) -> list[Channel]:
    """The channels that take this notification. A "resolved" message passes whatever its
    level: it follows the message that announced the problem. Named channels (an alert rule's
    `channel_ids`) take it whatever their topics and level, but still only when enabled and
    of this tenant or the platform: a tenant's channel never carries another's notifications."""
    candidates = Channel.objects.filter(enabled=True)
    if channel_ids:
        candidates = candidates.filter(pk__in=channel_ids)
        return list(
            candidates.filter(tenant_id__isnull=True)
            if tenant_id is None
            else candidates.filter(tenant_id=tenant_id) | candidates.filter(tenant_id__isnull=True)
        )
    candidates = (
        candidates.filter(tenant_id__isnull=True)
        if tenant_id is None
        else candidates.filter(tenant_id=tenant_id) | candidates.filter(tenant_id__isnull=True, all_tenants=True)
    )
    rank = LEVEL_RANK.get(level, 0)
    return [c for c in candidates if topic in (c.topics or []) and (resolved or rank >= LEVEL_RANK.get(c.min_level, 0))]


def dispatch(
    *,
    tenant_id: int | None,
    title: Stored,
    body: Stored = "",
    level: str = NotificationLevel.INFO,
    link: str = "",
    topic: str = Topic.GENERAL,
    key: str = "",
    resolved: bool = False,
    channel_ids: list[int] | None = None,
) -> list[Delivery]:
    """Queue the notification for every channel that takes it (tenant_id None: the operators'
    channels; `channel_ids`: only those, see channels_for). The same `key` again within a
    channel's dedup window is dropped."""
    now = timezone.now()
    queued = []
    for channel in channels_for(tenant_id, topic, level, resolved, channel_ids):
        if key and (
            Delivery.objects.filter(
                channel=channel, key=key, created_at__gte=now - timedelta(seconds=channel.dedup_seconds)
            )
            .exclude(status=DeliveryStatus.FAILED)
            .exists()
        ):
            continue
        group_due = Delivery.objects.filter(channel=channel, status=DeliveryStatus.PENDING, attempts=0).aggregate(
            due=Min("due_at")
        )["due"]
        due_at = group_due if group_due and group_due > now else now + timedelta(seconds=channel.group_seconds)
        delivery = Delivery.objects.create(
            channel=channel,
            key=(key or "")[:200],
            title=title,
            body=body,
            level=level,
            link=link[:500],
            resolved=resolved,
            due_at=due_at,
        )
        queued.append(delivery)
        transaction.on_commit(lambda pk=channel.pk, due=due_at: schedule(pk, due))
    return queued


def schedule(channel_id: int, due_at) -> None:
    try:
        current_app.send_task(TASK, args=[channel_id], eta=due_at)
    except Exception:  # the broker is down: beat's deliver_due picks the delivery up later
        log.warning("could not queue delivery for channel %s", channel_id, exc_info=True)


def backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    )


def send_due(channel_id: int) -> str:
    """Send the channel's due notifications as one message. Returns what happened (for logs and tests)."""
    now = timezone.now()
    with transaction.atomic():
        channel = Channel.objects.select_for_update().filter(pk=channel_id).first()
        if channel is None:
            return "gone"
        due = list(
            channel.deliveries.filter(status=DeliveryStatus.PENDING, due_at__lte=now + timedelta(seconds=1)).order_by(
                "id"
            )[:GROUP_SIZE]
        )
        if not due:
            return "nothing due"
        window = channel.deliveries.filter(status=DeliveryStatus.SENT, sent_at__gte=now - RATE_WINDOW)
        if window.values("sent_at").distinct().count() >= channel.max_per_hour:
            retry_at = window.aggregate(first=Min("sent_at"))["first"] + RATE_WINDOW
            channel.deliveries.filter(status=DeliveryStatus.PENDING, due_at__lt=retry_at).update(due_at=retry_at)
            transaction.on_commit(lambda: schedule(channel.pk, retry_at))
            return "rate limited"
        with translation.override(channel.language):
            items = [
                channels.Item(
                    title=str(d.title),
                    body=str(d.body),
                    level=d.level,
                    link=d.link,
                    resolved=d.resolved,
                    key=d.key,
                    created_at=d.created_at.isoformat(),
                )
                for d in due
            ]
            try:
                channels.send(channel.kind, decrypt(channel.target_encrypted), decrypt(channel.secret_encrypted), items)
            except channels.DeliveryError as exc:
                error = str(exc)
            else:
                error = ""
        ids = [d.pk for d in due]
        if not error:
            Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.SENT, sent_at=now, last_error="")
            Channel.objects.filter(pk=channel.pk).update(last_sent_at=now)
            return f"sent {len(ids)}"
        Channel.objects.filter(pk=channel.pk).update(last_error=error[:2000], last_error_at=now)
        retry_at = None
        for delivery in due:
            delivery.attempts += 1
            delivery.last_error = error[:2000]
            if delivery.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.due_at = now + backoff(delivery.attempts)
                retry_at = min(retry_at or delivery.due_at, delivery.due_at)
            delivery.save(update_fields=["attempts", "last_error", "status", "due_at"])
        if retry_at is not None:
            transaction.on_commit(lambda: schedule(channel.pk, retry_at))
        log.info("channel %s: delivery failed: %s", channel.pk, error)
        return "failed"


def channels_with_due() -> list[int]:
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, due_at__lte=timezone.now())
        .values_list("channel_id", flat=True)
        .distinct()
    )


def decrypt(value: str) -> str:
    from console import crypto

    return crypto.decrypt(value) if value else ""


def notify_channels(tenant_id: int | None, title: Stored, **kwargs: Any) -> list[Delivery]:
    """The part of notify_* that goes out through channels (kwargs as `dispatch`)."""
    names = ("body", "level", "link", "topic", "key", "resolved", "channel_ids")
    fields = {name: kwargs[name] for name in names if name in kwargs}
    return dispatch(tenant_id=tenant_id, title=title, **fields)
