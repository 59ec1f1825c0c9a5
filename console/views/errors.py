import sys

from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from console import outages
from console.choices import OperationResult

OUTAGE_RETRY_AFTER = 5  # seconds; a restart of PostgreSQL or Redis takes a few


def csrf_failure(request, reason=""):
    request.oplog_result = OperationResult.DENIED
    request.oplog_error = f"CSRF check failed: {reason}"
    message = _(
        "The form was refused because its security token is missing or out of date. Reload the page and try again."
    )
    return render(request, "403.html", {"message": message}, status=403)


def bad_request(request, exception=None):
    return render(
        request, "400.html", {"message": str(exception or "") or _("The request could not be understood.")}, status=400
    )


def permission_denied(request, exception=None):
    return render(request, "403.html", {"message": str(exception or "") or _("You may not do this.")}, status=403)


def not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # Django calls this while handling the exception: a PostgreSQL or Redis outage is
    # answered 503 with a page that needs neither (the logging filter notes the outage once).
    if outages.outage_of(sys.exc_info()[1]):
        response = HttpResponse(render_to_string("503.html", {"retry_after": OUTAGE_RETRY_AFTER}), status=503)
        response["Retry-After"] = str(OUTAGE_RETRY_AFTER)
        return response
    return render(request, "500.html", status=500)
