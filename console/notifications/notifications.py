"""Notify users, roles or tenants. New notifications are pushed live.

Titles and bodies are console.texts Texts (a message id and its parameters), so each user
reads them in their own language; plain text (an operator's notice, the cluster's own
words) is shown as it is.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model

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
    title = title if isinstance(title, (Text, Joined)) else title[:200]
    created = Notification.objects.bulk_create(
        [Notification(user=user, title=title, body=body, level=level, link=link) for user in users]
    )
    for notification in created:
        _push(notification)
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


def unread_count(user):
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def _push(notification):
    """Badge and toast to every page of the user; the new row only to their open list pages
    (a row pushed where no list is open has no target, and a table row cannot travel in one
    message with other elements: the HTML parser drops its table tags)."""
    user = notification.user
    context = {"notification": notification, "unread_count": unread_count(user)}
    realtime.push_html(
        realtime.user_group(user.pk), realtime.render_for(user, "console/_notification_push.html", context)
    )
    realtime.push_html(list_group(user.pk), realtime.render_for(user, "console/_notification_row_push.html", context))


def list_group(user_id):
    return f"notifications-{user_id}"


realtime.register_group("notifications", lambda user, ident: ident == str(user.pk))
