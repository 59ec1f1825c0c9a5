"""What people do in the shell itself — their own account, their notifications, notices
to others, a check of the operation log — each recorded in the operation log. These sit
above the operation log, notifications and accounts, which know nothing of them."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.accounts import roles
from console.choices import OperationResult, PlatformRole
from console.notifications.models import Notification
from console.notifications.notifications import notify_users
from console.oplog import oplog
from console.oplog.models import ChainVerification
from console.oplog.tasks import verify_operation_log

# --- a person's own account ---------------------------------------------------------------


def change_password(form, *, acting_user):
    """Apply a bound PasswordChangeForm. Raises ValueError when the form is invalid."""
    target = {"kind": "User", "name": acting_user.get_username()}
    with oplog.recorded(acting_user, "account.password_change", target=target):
        if not form.is_valid():
            raise ValueError(
                _("Password not changed: ") + "; ".join(m for errors in form.errors.values() for m in errors)
            )
        user = form.save(commit=False)
        user.must_change_password = False
        user.save()
        return user


def record_throttled_login(username):
    oplog.record(
        None,
        "account.login",
        actor_name=username[:150],
        result=OperationResult.DENIED,
        target={"kind": "User", "name": username[:150]},
        error=gettext_noop("too many failed sign-in attempts"),  # kept as is; pages translate it
    )


# --- notifications ----------------------------------------------------------------------


def mark_read(notification_id, *, acting_user):
    with oplog.recorded(
        acting_user, "notification.mark_read", target={"kind": "Notification", "name": notification_id}
    ):
        notification = Notification.objects.select_for_update().filter(pk=notification_id, user=acting_user).first()
        if notification is None:
            raise ValueError(_("No such notification."))
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(*, acting_user):
    with oplog.recorded(acting_user, "notification.mark_all_read", target={"kind": "Notification"}) as outcome:
        count = Notification.objects.filter(user=acting_user, read_at__isnull=True).update(read_at=timezone.now())
        outcome.payload = {"marked": count}
    return count


NOTICE_AUDIENCES = {
    "all": None,
    PlatformRole.OPERATOR.value: PlatformRole.OPERATOR,
    PlatformRole.AUDITOR.value: PlatformRole.AUDITOR,
}


def send_notice(*, acting_user, audience, title, body, level):
    """An operator's notice (maintenance window, incident) to everybody or to one role."""
    if not roles.can_send_notice(acting_user):
        raise PermissionError(_("Only operators send notices."))
    if audience not in NOTICE_AUDIENCES:
        raise ValidationError(_("Unknown audience."))
    payload = {"audience": audience, "title": title, "body": body, "level": level}
    with oplog.recorded(
        acting_user, "notification.send_notice", target={"kind": "Notice", "name": title[:100]}, payload=payload
    ) as outcome:
        users = get_user_model().objects.filter(is_active=True)
        if NOTICE_AUDIENCES[audience] is not None:
            users = users.filter(platform_role=NOTICE_AUDIENCES[audience])
        created = notify_users(list(users), title, body=body, level=level)
        outcome.after = {"recipients": len(created)}
    return created


# --- the operation log's chain, checked by the worker -------------------------------------


def request_verification(*, acting_user):
    """Queue a check of the whole chain; the worker reports back with a notification."""
    with oplog.recorded(acting_user, "oplog.verify", target={"kind": "OperationLog"}) as outcome:
        verification = ChainVerification.objects.create(requested_by=acting_user)
        outcome.result = OperationResult.ACCEPTED
        outcome.payload = {"verification": verification.pk}
        verify_operation_log.delay_on_commit(verification.pk)
    return verification
