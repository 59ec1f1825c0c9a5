from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from console import actions
from console.accounts import throttle
from console.accounts.access import require
from console.forms import ConsolePasswordChangeForm, LoginForm


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only: anything else is dropped (a bare word would be taken for a URL name).
    if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url or "console:dashboard")
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    status, error, retry_after = 200, "", None
    if request.method == "POST":
        username = request.POST.get("username", "")
        # Counted before the password is checked, so parallel attempts cannot slip through.
        decision = throttle.reserve(username, request.source_ip)
        if not decision.allowed:
            actions.record_throttled_login(username)
            form = LoginForm(request, initial={"username": username})
            error = _("Too many failed sign-in attempts. Wait a few minutes and try again.")
            status, retry_after = 429, decision.retry_after
        elif form.is_valid():
            throttle.succeeded(username, request.source_ip)
            login(request, form.get_user())
            return redirect(next_url or "console:dashboard")
        else:
            status = 401
    response = render(request, "console/login.html", {"form": form, "next": next_url, "error": error}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@sensitive_post_parameters()
@require(None)
@require_http_methods(["GET", "POST"])
def password_change_view(request):
    form = ConsolePasswordChangeForm(request.user, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            user = actions.change_password(form, acting_user=request.user)
        except ValueError:
            return render(request, "console/password_change.html", {"form": form}, status=400)
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password was changed."))
        return redirect("console:dashboard")
    return render(request, "console/password_change.html", {"form": form})
