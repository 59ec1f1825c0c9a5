"""Managing notification channels: operators manage every channel (and the platform's own),
tenant admins their tenants' channels; auditors read them. Each change is in the operation log."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from console import crypto
from console.accounts import roles
from console.accounts.access import require_permission
from console.choices import NotificationLevel
from console.notifications import channels, delivery
from console.notifications.models import Channel, ChannelKind, Delivery, Topic
from console.oplog import oplog
from console.texts import message

TENANT_ADMIN = "tenant-admin"
LIMITS = {"group_seconds": (0, 3600), "dedup_seconds": (0, 7 * 24 * 3600), "max_per_hour": (1, 3600)}
TEST_TITLE = message("Test message from the CaaS console to channel %(name)s")
TEST_BODY = message("If you read this, the channel works.")


def admin_tenants(user: Any) -> dict[int, str]:
    """tenant id -> name of the tenants the user administers."""
    return {m.tenant_id: m.tenant_name for m in roles.memberships(user) if m.role == TENANT_ADMIN}


def owner_tenants(user: Any) -> dict[int, str]:
    """tenant id -> name of the tenants whose channels the user may make: operators any tenant,
    tenant admins the tenants they administer."""
    return roles.all_tenants() if roles.is_operator(user) else admin_tenants(user)


def may_open_channels(user: Any) -> bool:
    return roles.is_operator(user) or roles.is_auditor(user) or bool(admin_tenants(user))


def may_add_channels(user: Any) -> bool:
    return roles.is_operator(user) or bool(admin_tenants(user))


def may_manage(user: Any, tenant_id: int | None) -> bool:
    return roles.is_operator(user) or (tenant_id is not None and tenant_id in admin_tenants(user))


def visible_channels(user: Any) -> QuerySet[Channel]:
    if roles.is_operator(user) or roles.is_auditor(user):
        return Channel.objects.all()
    return Channel.objects.filter(tenant_id__in=list(admin_tenants(user)))


def _settings(kind: str, target: str, secret: str, values: dict[str, Any]) -> dict[str, Any]:
    if kind not in ChannelKind.values:
        raise ValidationError({"kind": _("Choose a kind of channel.")})
    topics = [topic for topic in values.get("topics") or [] if topic in Topic.values]
    if not topics:
        raise ValidationError({"topics": _("Choose what the channel takes: alerts, other notifications, or both.")})
    level = values.get("min_level") or NotificationLevel.WARNING
    if level not in NotificationLevel.values:
        raise ValidationError({"min_level": _("Choose a level.")})
    language = values.get("language") or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose a language.")})
    cleaned: dict[str, Any] = {"topics": topics, "min_level": level, "language": language}
    for name, (low, high) in LIMITS.items():
        value = values.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(
                {name: _("Give a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}}
            )
        cleaned[name] = value
    if target:
        if kind == ChannelKind.EMAIL:
            target = ", ".join(channels.clean_addresses(target))
        else:
            target = channels.clean_url(target, kind)
        cleaned["target_encrypted"] = crypto.encrypt(target)
        cleaned["target_hint"] = channels.target_hint(kind, target)
    if secret:
        if kind != ChannelKind.DINGTALK:
            raise ValidationError({"secret": _("Only DingTalk robots sign their messages with a secret.")})
        if len(secret) > 200 or not secret.isprintable():
            raise ValidationError({"secret": _("The secret is the SEC… text DingTalk shows (at most 200 characters).")})
        cleaned["secret_encrypted"] = crypto.encrypt(secret)
    return cleaned


def _logged(kind: str, target: str) -> str:
    """What the operation log keeps of a target: a webhook's URL is often its credential
    (Slack's path, DingTalk's and WeCom's query), so only its scheme, host and path start."""
    if not target or kind == ChannelKind.EMAIL:
        return target
    try:
        return channels.target_hint(kind, target)
    except ValueError:
        return "********"


def _after(channel: Channel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "kind": channel.kind,
        "target": channel.target_hint,
        "topics": channel.topics,
        "min_level": channel.min_level,
        "all_tenants": channel.all_tenants,
        "group_seconds": channel.group_seconds,
        "dedup_seconds": channel.dedup_seconds,
        "max_per_hour": channel.max_per_hour,
        "enabled": channel.enabled,
    }


def _target(channel: Channel | None, tenant_id: int | None, name: str) -> dict[str, Any]:
    return {"kind": "NotificationChannel", "name": name or (channel.name if channel else "")}


def create_channel(
    *,
    acting_user: Any,
    tenant_id: int | None,
    name: str,
    kind: str,
    target: str,
    secret: str = "",
    enabled: bool = True,
    all_tenants: bool = False,
    **values: Any,
) -> Channel:
    payload = {
        "tenant_id": tenant_id,
        "name": name,
        "kind": kind,
        "target": _logged(kind, target),
        "secret": "********" if secret else "",
        **values,
    }
    with oplog.recorded(
        acting_user, "notification_channel.create", target=_target(None, tenant_id, name), payload=payload
    ) as outcome:
        require_permission(
            may_manage(acting_user, tenant_id),
            _("Only operators and the tenant's admins configure its channels.")
            if tenant_id is not None
            else _("Only operators configure the platform's channels."),
        )
        tenant_name = ""
        if tenant_id is not None:
            tenant_name = owner_tenants(acting_user).get(tenant_id, "")
            if not tenant_name:
                raise ValidationError({"owner": _("There is no tenant with id %(id)s.") % {"id": tenant_id}})
        if not name:
            raise ValidationError({"name": _("Name the channel.")})
        if not target:
            raise ValidationError({"target": _("Give the addresses or the URL.")})
        if Channel.objects.filter(tenant_id=tenant_id, name=name).exists():
            raise ValidationError({"name": _("There is a channel %(name)s already.") % {"name": name}})
        cleaned = _settings(kind, target, secret, values)
        channel = Channel.objects.create(
            tenant_id=tenant_id,
            tenant_name=tenant_name,
            name=name,
            kind=kind,
            enabled=bool(enabled),
            all_tenants=bool(all_tenants) and tenant_id is None,
            created_by=acting_user,
            **cleaned,
        )
        outcome.after = _after(channel)
    return channel


def update_channel(
    channel: Channel,
    *,
    acting_user: Any,
    target: str = "",
    secret: str = "",
    enabled: bool = True,
    all_tenants: bool = False,
    **values: Any,
) -> Channel:
    """Change a channel's settings; an empty target or secret keeps the current one (they are never shown)."""
    values.pop("name", None)
    values.pop("kind", None)
    values.pop("tenant_id", None)
    payload = {
        "target": _logged(channel.kind, target),
        "secret": "********" if secret else "",
        "enabled": enabled,
        **values,
    }
    with oplog.recorded(
        acting_user, "notification_channel.update", target=_target(channel, None, ""), payload=payload
    ) as outcome:
        require_permission(
            may_manage(acting_user, channel.tenant_id), _("Only operators and the tenant's admins change its channels.")
        )
        outcome.before = _after(channel)
        cleaned = _settings(channel.kind, target, secret, values)
        for field, value in cleaned.items():
            setattr(channel, field, value)
        channel.enabled = bool(enabled)
        channel.all_tenants = bool(all_tenants) and channel.tenant_id is None
        channel.save()
        outcome.after = _after(channel)
    return channel


def delete_channel(channel: Channel, *, acting_user: Any) -> None:
    with oplog.recorded(acting_user, "notification_channel.delete", target=_target(channel, None, "")) as outcome:
        require_permission(
            may_manage(acting_user, channel.tenant_id), _("Only operators and the tenant's admins remove its channels.")
        )
        outcome.before = _after(channel)
        channel.delete()


def test_channel(channel: Channel, *, acting_user: Any) -> Delivery:
    """Queue a test message to this one channel, due now (its result shows on the channel's page)."""
    with oplog.recorded(acting_user, "notification_channel.test", target=_target(channel, None, "")):
        require_permission(
            may_manage(acting_user, channel.tenant_id), _("Only operators and the tenant's admins test its channels.")
        )
        if not channel.enabled:
            raise ValidationError(_("Channel %(name)s is disabled: enable it first.") % {"name": channel.name})
        now = timezone.now()
        test = Delivery.objects.create(
            channel=channel,
            key=f"test-{now.timestamp()}",
            title=TEST_TITLE(name=channel.name),
            body=TEST_BODY(),
            level=NotificationLevel.INFO,
            due_at=now,
        )
        from django.db import transaction

        transaction.on_commit(lambda: delivery.schedule(channel.pk, now))
    return test
