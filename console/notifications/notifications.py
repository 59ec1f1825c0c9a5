"""Notify users, roles or tenants. New notifications are pushed live.

Titles and bodies are console.texts Texts (a message id and its parameters), so each user
reads them in their own language; plain text (an operator's notice, the cluster's own
words) is shown as it is.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model

from console.accounts import roles
from console.choices import NotificationLevel
from console.live import realtime
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


def notify_role(role: str, title: Stored, **kwargs: Any) -> list[Notification]:
    """Notify every active user with a platform role (operator, auditor)."""
    users = get_user_model().objects.filter(is_active=True, platform_role=role)
    return notify_users(list(users), title, **kwargs)


def notify_tenant(
    tenant_id: int, title: Stored, *, tenant_roles: list[str] | None = None, **kwargs: Any
) -> list[Notification]:
    """Notify the members of a tenant (optionally only some tenant roles)."""
    provider = roles.tenant_provider()
    if provider is None:
        raise RuntimeError("no tenant provider is registered: tenants are not enabled")
    return notify_users(list(provider.members(tenant_id, tenant_roles)), title, **kwargs)


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
