"""Notifications out through channels: `dispatch` queues one notification for each channel
that takes it; `send_due` sends a channel's due ones as one message (grouping), within the
channel's rate limit, and retries a failed send with backoff. Each channel is sent by its
own task, so a broken webhook delays nothing but itself.

    dispatch(tenant_id=3, title=FIRING(...), level="danger", topic=Topic.ALERT, key="rule-7-pod/shop/web-1")
"""

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q
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


@dataclass
class Outgoing:
    """One notification for the channels: the arguments of `dispatch`."""

    tenant_id: int | None
    title: Stored
    body: Stored = ""
    level: str = NotificationLevel.INFO
    link: str = ""
    topic: str = Topic.GENERAL
    key: str = ""
    resolved: bool = False
    channel_ids: Collection[int] | None = None


def takes(channel: Channel, message: Outgoing) -> bool:
    """Whether an (enabled) channel takes this notification. A "resolved" message passes
    whatever its level: it follows the message that announced the problem. Named channels (an
    alert rule's `channel_ids`) take it whatever their topics and level, but still only when of
    this tenant or the platform: a tenant's channel never carries another's notifications."""
    if message.channel_ids:
        return channel.pk in message.channel_ids and channel.tenant_id in (None, message.tenant_id)
    if message.tenant_id is None:
        mine = channel.tenant_id is None
    else:
        mine = channel.tenant_id == message.tenant_id or (channel.tenant_id is None and channel.all_tenants)
    return (
        mine
        and message.topic in (channel.topics or [])
        and (message.resolved or LEVEL_RANK.get(message.level, 0) >= LEVEL_RANK.get(channel.min_level, 0))
    )


def _candidates(tenant_ids: Iterable[int | None]) -> dict[int | None, list[Channel]]:
    """The enabled channels of these tenants and the platform's, by tenant id (one query)."""
    ids = {tenant_id for tenant_id in tenant_ids if tenant_id is not None}
    by_tenant = defaultdict(list)
    for channel in Channel.objects.filter(Q(tenant_id__isnull=True) | Q(tenant_id__in=ids), enabled=True):
        by_tenant[channel.tenant_id].append(channel)
    return by_tenant


def _routes(message: Outgoing, by_tenant: dict[int | None, list[Channel]]) -> list[Channel]:
    found = by_tenant.get(None, []) + (by_tenant.get(message.tenant_id, []) if message.tenant_id is not None else [])
    return [channel for channel in found if takes(channel, message)]


def channels_for(
    tenant_id: int | None, topic: str, level: str, resolved: bool = False, channel_ids: list[int] | None = None
) -> list[Channel]:
    """The channels that take this notification (see `takes`)."""
    message = Outgoing(
        tenant_id=tenant_id, title="", level=level, topic=topic, resolved=resolved, channel_ids=channel_ids
    )
    return _routes(message, _candidates([tenant_id]))


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
    channels; `channel_ids`: only those, see `takes`). The same `key` again within a channel's
    dedup window is dropped."""
    message = Outgoing(tenant_id, title, body, level, link, topic, key, resolved, channel_ids)
    return dispatch_many([message])


def dispatch_many(messages: Sequence[Outgoing]) -> list[Delivery]:
    """`dispatch` for many notifications at once, in a fixed number of queries whatever their
    number (an alert evaluation may fire hundreds): the channels, the recent keys and the
    pending groups are each read once, the deliveries written in one insert, and each channel's
    task queued once."""
    by_tenant = _candidates(message.tenant_id for message in messages)
    routed = [(message, channel) for message in messages for channel in _routes(message, by_tenant)]
    if not routed:
        return []
    now = timezone.now()
    channels = {channel.pk: channel for _message, channel in routed}
    keys = {message.key for message, _channel in routed if message.key}
    last_sent = {}  # (channel, key) -> the newest delivery's time, within the longest dedup window
    if keys:
        oldest = now - timedelta(seconds=max(channel.dedup_seconds for channel in channels.values()))
        recent = (
            Delivery.objects.filter(channel_id__in=channels, key__in=keys, created_at__gte=oldest)
            .exclude(status=DeliveryStatus.FAILED)
            .values_list("channel_id", "key")
            .annotate(last=Max("created_at"))
        )
        last_sent = {(channel_id, key): last for channel_id, key, last in recent}
    pending = dict(
        Delivery.objects.filter(channel_id__in=channels, status=DeliveryStatus.PENDING, attempts=0)
        .values_list("channel_id")
        .annotate(due=Min("due_at"))
    )
    due_of = {}
    queued = []
    for message, channel in routed:
        if message.key:
            last = last_sent.get((channel.pk, message.key))
            if last is not None and last >= now - timedelta(seconds=channel.dedup_seconds):
                continue
            last_sent[(channel.pk, message.key)] = now  # the same key twice in one batch: once
        if channel.pk not in due_of:
            group_due = pending.get(channel.pk)
            due_of[channel.pk] = (
                group_due if group_due and group_due > now else now + timedelta(seconds=channel.group_seconds)
            )
        queued.append(
            Delivery(
                channel=channel,
                key=(message.key or "")[:200],
                title=message.title,
                body=message.body,
                level=message.level,
                link=message.link[:500],
                resolved=message.resolved,
                due_at=due_of[channel.pk],
            )
        )
    Delivery.objects.bulk_create(queued)
    for channel_id, due_at in due_of.items():
        transaction.on_commit(lambda pk=channel_id, due=due_at: schedule(pk, due))
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


CHANNEL_FIELDS = ("body", "level", "link", "topic", "key", "resolved", "channel_ids")


def notify_channels(tenant_id: int | None, title: Stored, **kwargs: Any) -> list[Delivery]:
    """The part of notify_* that goes out through channels (kwargs as `dispatch`)."""
    fields = {name: kwargs[name] for name in CHANNEL_FIELDS if name in kwargs}
    return dispatch(tenant_id=tenant_id, title=title, **fields)
