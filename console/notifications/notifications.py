"""Notify users, roles or tenants. New notifications are pushed live.

Titles and bodies are console.texts Texts (a message id and its parameters), so each user
reads them in their own language; plain text (an operator's notice, the cluster's own
words) is shown as it is.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Value

from console.accounts import roles
from console.choices import NotificationLevel, PlatformRole
from console.live import realtime
from console.notifications import delivery
from console.notifications.models import Notification
from console.texts import Joined, Stored, Text


def notify_users(
    users: Iterable[Any], title: Stored, *, body: Stored = "", level: str = NotificationLevel.INFO, link: str = ""
) -> list[Notification]:
    """Create one notification per user and push each to the user's open pages."""
    return notify_many([(users, title, {"body": body, "level": level, "link": link})])


def notify_many(messages: Iterable[tuple[Iterable[Any], Stored, dict[str, Any]]]) -> list[Notification]:
    """`notify_users` for many messages at once, each (users, title, {body, level, link}): one
    insert and one count of the unread, whatever their number."""
    rows = [
        Notification(user=user, title=title if isinstance(title, (Text, Joined)) else title[:200], **fields)
        for users, title, fields in messages
        for user in users
    ]
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    unread = dict(
        Notification.objects.filter(user_id__in={n.user_id for n in created}, read_at__isnull=True)
        .values_list("user_id")
        .annotate(count=Count("id"))
    )
    realtime.push_html_many(
        push for notification in created for push in _pushes(notification, unread.get(notification.user_id, 0))
    )
    return created


def notify_user(user: Any, title: Stored, **kwargs: Any) -> Notification:
    return notify_users([user], title, **kwargs)[0]


CHANNEL_ONLY = ("topic", "key", "resolved", "channel_ids")


def _in_app(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in kwargs.items() if name not in CHANNEL_ONLY}


def notify_role(role: str, title: Stored, **kwargs: Any) -> list[Notification]:
    """Notify every active user with a platform role (operator, auditor). Operators'
    notifications go out through the platform's channels too (console.notifications.delivery;
    `topic`, `key`, `resolved` and `channel_ids` are for those)."""
    users = get_user_model().objects.filter(is_active=True, platform_role=role)
    created = notify_users(list(users), title, **_in_app(kwargs))
    if role == PlatformRole.OPERATOR:
        delivery.notify_channels(None, title, **kwargs)
    return created


def notify_tenant(
    tenant_id: int, title: Stored, *, tenant_roles: list[str] | None = None, **kwargs: Any
) -> list[Notification]:
    """Notify the members of a tenant (optionally only some tenant roles), in the list and
    through the tenant's channels."""
    provider = roles.tenant_provider()
    if provider is None:
        raise RuntimeError("no tenant provider is registered: tenants are not enabled")
    created = notify_users(list(provider.members(tenant_id, tenant_roles)), title, **_in_app(kwargs))
    delivery.notify_channels(tenant_id, title, **kwargs)
    return created


def notify_batch(messages: Sequence[tuple[int | None, Stored, dict[str, Any]]]) -> list[Notification]:
    """Many `notify_tenant` (a tenant id) or operators' `notify_role` (None) at once, each
    (tenant id or None, title, kwargs as those take), in a fixed number of queries whatever
    their number: the members of every tenant named are read in one query, the notifications
    written in one insert, the channels' deliveries queued as one batch."""
    if not messages:
        return []
    tenant_ids = {tenant_id for tenant_id, _title, _fields in messages if tenant_id is not None}
    audience = defaultdict(list)
    if tenant_ids:
        provider = roles.tenant_provider()
        if provider is None:
            raise RuntimeError("no tenant provider is registered: tenants are not enabled")
        # the provider answers for one tenant: its queries as one UNION, each row marked with its tenant
        per_tenant = [provider.members(tenant_id).annotate(audience=Value(tenant_id)) for tenant_id in tenant_ids]
        for user in per_tenant[0].union(*per_tenant[1:], all=True):
            audience[user.audience].append(user)
    if any(tenant_id is None for tenant_id, _title, _fields in messages):
        audience[None] = list(get_user_model().objects.filter(is_active=True, platform_role=PlatformRole.OPERATOR))
    created = notify_many((audience[tenant_id], title, _in_app(fields)) for tenant_id, title, fields in messages)
    delivery.dispatch_many(
        [
            delivery.Outgoing(
                tenant_id, title, **{name: fields[name] for name in delivery.CHANNEL_FIELDS if name in fields}
            )
            for tenant_id, title, fields in messages
        ]
    )
    return created


def unread_count(user):
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def _pushes(notification, unread):
    """Badge and toast to every page of the user; the new row only to their open list pages
    (a row pushed where no list is open has no target, and a table row cannot travel in one
    message with other elements: the HTML parser drops its table tags). (group, html) pairs."""
    user = notification.user
    context = {"notification": notification, "unread_count": unread}
    return [
        (realtime.user_group(user.pk), realtime.render_for(user, "console/_notification_push.html", context)),
        (list_group(user.pk), realtime.render_for(user, "console/_notification_row_push.html", context)),
    ]


def list_group(user_id):
    return f"notifications-{user_id}"


realtime.register_group("notifications", lambda user, ident: ident == str(user.pk))
