"""Role checks. Every console view goes through `require`; services refuse with
`require_permission` (a PermissionError), which `call_service` turns into a 403."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.choices import OperationResult


def require(predicate=None, message=None):
    """Sign-in required, and `predicate(user)` when given; refusals are marked for the log."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                request.oplog_result = OperationResult.DENIED
                request.oplog_error = gettext_noop("not signed in")  # kept as is; pages translate it
                if request.htmx:
                    response = HttpResponse(_("Your session has ended; sign in again."), status=401)
                    response["HX-Redirect"] = redirect_to_login(request.get_full_path())["Location"]
                    return response
                return redirect_to_login(request.get_full_path())
            if predicate is not None and not predicate(request.user):
                reason = str(message or _("Your role does not allow this."))
                request.oplog_result = OperationResult.DENIED
                request.oplog_error = reason
                raise PermissionDenied(reason)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def call_service(request, service, *args, **kwargs):
    """Run a service as the request's user; its PermissionError becomes a 403 (the service
    has logged the refusal). ValidationError goes back to the view."""
    try:
        return service(*args, acting_user=request.user, **kwargs)
    except PermissionError as exc:
        request.oplog_result = OperationResult.DENIED
        raise PermissionDenied(str(exc)) from None


def require_permission(allowed: bool, message: str) -> None:
    """A service's refusal: PermissionError(message) unless `allowed` (oplog.recorded logs it as denied)."""
    if not allowed:
        raise PermissionError(message)
