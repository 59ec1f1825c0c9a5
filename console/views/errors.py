from django.shortcuts import render
from django.utils.translation import gettext as _

from ..choices import OperationResult


def csrf_failure(request, reason=""):
    request.oplog_result = OperationResult.DENIED
    request.oplog_error = f"CSRF check failed: {reason}"
    message = _("The form was refused because its security token is missing or out of date. Reload the page and try again.")
    return render(request, "403.html", {"message": message}, status=403)


def bad_request(request, exception=None):
    return render(request, "400.html", {"message": str(exception or "") or _("The request could not be understood.")}, status=400)


def permission_denied(request, exception=None):
    return render(request, "403.html", {"message": str(exception or "") or _("You may not do this.")}, status=403)


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    return render(request, "500.html", status=500)
