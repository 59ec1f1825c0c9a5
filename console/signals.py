"""Sign-in and sign-out land in the operation log, whichever page they come from; and the
hooks feature apps listen to."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import Signal, receiver
from django.utils.translation import gettext_noop

from console.oplog import oplog
from console.choices import OperationResult


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    oplog.record(user, "account.login", result=OperationResult.SUCCEEDED, target={"kind": "User", "name": user.get_username()})


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
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
def on_logout(sender, request, user, **kwargs):
    if user is None:
        return
    oplog.record(user, "account.logout", result=OperationResult.SUCCEEDED, target={"kind": "User", "name": user.get_username()})


# Sent by `manage.py up` once its fresh sandbox cluster is registered (kwargs: cluster,
# demo). The cluster starts empty at every run: feature apps put back what they keep there.
embedded_cluster_attached = Signal()
