import ipaddress
import re
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from console.choices import OperationResult
from console.oplog import oplog

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
NOT_RECORDED_FIELDS = ("csrfmiddlewaretoken",)
# A refused request without a reason of its own is recorded with the response's reason
# phrase, as is; marked here so that the operation log page shows it translated.
REASON_PHRASES = (
    gettext_noop("Bad Request"),
    gettext_noop("Unauthorized"),
    gettext_noop("Forbidden"),
    gettext_noop("Not Found"),
    gettext_noop("Method Not Allowed"),
    gettext_noop("Conflict"),
    gettext_noop("Request Entity Too Large"),
    gettext_noop("Content Too Large"),
    gettext_noop("Too Many Requests"),
    gettext_noop("Internal Server Error"),
)


class RequestIdMiddleware:
    """Give every request an id (kept from X-Request-ID when well-formed) and a source address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        request.source_ip = source_ip(request)
        request.oplog_info = oplog.RequestInfo(
            request_id=request.request_id,
            source_ip=request.source_ip,
            user_agent=request.headers.get("User-Agent", ""),
        )
        token = oplog.current_request.set(request.oplog_info)
        try:
            response = self.get_response(request)
        finally:
            oplog.current_request.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def source_ip(request):
    if settings.TRUST_X_FORWARDED_FOR and request.headers.get("X-Forwarded-For"):
        # The last entry is the one our proxy appended; those before it come from the
        # client, who could otherwise pick a new address per sign-in attempt.
        return ip_address(request.headers["X-Forwarded-For"].split(",")[-1].strip())
    return request.META.get("REMOTE_ADDR") or None


def ip_address(text):
    """The text when it is an address the operation log can store (not "unknown", a port or a
    zone: the database refuses those, a 500 on every request), else None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return text if getattr(address, "scope_id", None) is None else None


class OperationLogMiddleware:
    """Record every unsafe request that no service recorded itself: denied attempts,
    CSRF refusals, admin changes, bad input."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method in UNSAFE_METHODS and not request.oplog_info.recorded and not is_machine_endpoint(request):
            oplog.record(
                request.user if request.user.is_authenticated else None,
                "request." + route_name(request),
                result=getattr(request, "oplog_result", None) or result_for_status(response.status_code),
                payload={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "form": form_fields(request),
                },
                error=getattr(request, "oplog_error", "")
                or (response.reason_phrase if response.status_code >= 400 else ""),
            )
        return response


def machine_endpoint(view):
    """Mark a view that machines post to at high rates (a log collector's batches): its
    requests are no person's change, so the middleware does not record each one (the view
    counts what it refuses where operators read it instead)."""
    view.machine_endpoint = True
    return view


def is_machine_endpoint(request):
    match = getattr(request, "resolver_match", None)
    return bool(match and getattr(match.func, "machine_endpoint", False))


def route_name(request):
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return "unknown"
    return match.view_name or "unknown"


def result_for_status(status):
    if status in (401, 403):
        return OperationResult.DENIED
    if status >= 400:
        return OperationResult.FAILED
    return OperationResult.SUCCEEDED


def form_fields(request):
    try:
        data = request.POST
    except Exception:  # unreadable body: nothing to show
        return {}
    return {
        key: data.getlist(key) if len(data.getlist(key)) > 1 else data.get(key)
        for key in data
        if key not in NOT_RECORDED_FIELDS
    }


class NulCharacterMiddleware:
    """Refuse a request with a NUL character in its address, query string or form: no
    field takes one and PostgreSQL cannot store one, so it is bad input (400), said once
    here rather than as a database error in whichever view meets it first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_nul(request):
            request.oplog_error = gettext_noop("NUL character in the request")  # kept as is; pages translate it
            message = _("The request contains a NUL character, which no address or field accepts.")
            return render(request, "400.html", {"message": message}, status=400)
        return self.get_response(request)


def has_nul(request):
    """An unreadable body raises here as it would in the view (Django answers 400)."""
    data = [request.GET, request.POST] if request.method in UNSAFE_METHODS else [request.GET]
    return "\x00" in request.path_info or any(
        "\x00" in key or any("\x00" in value for value in values) for query in data for key, values in query.lists()
    )


class UserLanguageMiddleware:
    """Remember each user's language, so that work done for them later (pushes rendered
    by the worker, notifications) speaks it too. Writes only when it changes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        language = getattr(request, "LANGUAGE_CODE", "")
        if user is not None and user.is_authenticated and language and user.language != language:
            get_user_model().objects.filter(pk=user.pk).update(language=language)
        return response


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on every response, so that markup slipped into a page runs
    no script: scripts come only from our own static files (the templates have no inline
    scripts or event handlers: static/js/console.js binds them), and pages connect only to
    the console and its websocket. Styles may be inline: templates size progress bars with
    style attributes, and htmx adds its indicator style; styles run no code."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", content_security_policy(request))
        return response


def content_security_policy(request):
    try:
        # not all browsers read 'self' as ws too
        websocket = f" {'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    except DisallowedHost:  # answered 400 already; no host of ours to name
        websocket = ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",  # Bootstrap draws its form icons as data: SVG
            f"connect-src 'self'{websocket}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class PasswordChangeRequiredMiddleware:
    """A user whose password someone else chose (a one-time password) goes to the password
    change page until they choose their own; signing out and static files stay open."""

    OPEN_ROUTES = ("console:password_change", "console:logout", "console:login", "set_language")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "must_change_password", False)
            and not self.is_open(request)
        ):
            if request.headers.get("HX-Request"):  # htmx would swap the page into a fragment: send the whole page there
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("console:password_change")
                return response
            return redirect("console:password_change")
        return self.get_response(request)

    def is_open(self, request):
        if request.path.startswith(settings.STATIC_URL):
            return True
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.view_name in self.OPEN_ROUTES
