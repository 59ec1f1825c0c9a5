"""Sign-in and sign-out land in the operation log, whichever page they come from; and the
hooks feature apps listen to."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import Signal, receiver
from django.utils.translation import gettext_noop

from console.choices import OperationResult
from console.oplog import oplog


@receiver(user_logged_in)
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    oplog.record(
        user, "account.login", result=OperationResult.SUCCEEDED, target={"kind": "User", "name": user.get_username()}
    )


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    oplog.record(
        None,
        "account.login",
        actor_name=username,
        result=OperationResult.FAILED,
        target={"kind": "User", "name": username},
        error=gettext_noop("wrong username or password"),  # kept as is; pages translate it
    )


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    oplog.record(
        user, "account.logout", result=OperationResult.SUCCEEDED, target={"kind": "User", "name": user.get_username()}
    )


# Sent by `manage.py up` and `manage.py attach_cluster` once the embedded cluster is registered
# (kwargs: cluster), before any demo data is made. The cluster starts empty at every run:
# feature apps put back what they keep there.
embedded_cluster_attached = Signal()
