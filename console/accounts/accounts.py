"""Account actions: every one is recorded in the operation log."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.oplog import oplog
from console.choices import OperationResult


def change_password(form, *, acting_user):
    """Apply a bound PasswordChangeForm. Raises ValueError when the form is invalid."""
    target = {"kind": "User", "name": acting_user.get_username()}
    with oplog.recorded(acting_user, "account.password_change", target=target):
        if not form.is_valid():
            raise ValueError(_("Password not changed: ") + "; ".join(m for errors in form.errors.values() for m in errors))
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
