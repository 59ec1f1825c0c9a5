"""The console's security foundation: settings in both modes, CSRF on forms and htmx,
cookies and headers, websocket authentication and origin, sign-in throttling, password
validators, open redirects, the admin. (Role checks of every URL: test_access_matrix.py;
real daphne sockets: tests/integration/test_worker_and_websocket.py.)"""

import io
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from console.oplog.models import OperationLogEntry

from ..factories import PASSWORD, mk_tenant, mk_user

ROOT = Path(__file__).resolve().parents[2]
LOGIN_URL = reverse("console:login")

# A complete production environment; nothing here is contacted by `check` or by importing settings.
PRODUCTION_ENV = {
    "CONSOLE_ENV": "production",
    "SECRET_KEY": "k" * 20 + "-production-secret-for-tests-" + "9" * 20,
    "DATABASE_URL": "postgres://console@db.invalid:5432/console",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "ALLOWED_HOSTS": "console.example.com",
}


def bare_env(tmp_path, **variables):
    """Only what a process needs to run, so the test's own DATABASE_URL etc. do not leak in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env["CONSOLE_STATE_DIR"] = str(tmp_path / "state")
    env.update(variables)
    return env


def run_python(env, *args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def settings_of(env, *names):
    """The settings module's values as a separate process with `env` sees them."""
    code = (
        "import json, console.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = run_python(env, "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- production mode: required variables -------------------------------------------------


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_each_required_variable(tmp_path, missing):
    env = bare_env(tmp_path, **{k: v for k, v in PRODUCTION_ENV.items() if k != missing})
    result = run_python(env, "manage.py", "check")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and "CONSOLE_ENV=production" in last_line and missing in last_line
    others = set(PRODUCTION_ENV) - {"CONSOLE_ENV", missing}
    assert not any(name in last_line for name in others)  # names exactly what is missing
    assert not (tmp_path / "state").exists()  # no embedded fallback was started


def test_production_refuses_an_empty_variable_too(tmp_path):
    result = run_python(bare_env(tmp_path, **{**PRODUCTION_ENV, "SECRET_KEY": "  "}), "manage.py", "check")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr.strip().splitlines()[-1]


def test_production_starts_with_them_and_is_locked_down(tmp_path):
    env = bare_env(
        tmp_path, **PRODUCTION_ENV, CSRF_TRUSTED_ORIGINS="https://console.example.com, https://ops.example.com"
    )
    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr
    assert "security.W004" not in result.stderr  # HSTS is set
    values = settings_of(
        env,
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "LANGUAGE_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "DATABASES",
        "CACHES",
    )
    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == PRODUCTION_ENV["SECRET_KEY"]
    assert values["ALLOWED_HOSTS"] == ["console.example.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://console.example.com", "https://ops.example.com"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["LANGUAGE_COOKIE_SECURE"]
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] >= 180 * 24 * 3600
    assert (
        values["DATABASES"]["default"]["HOST"] == "db.invalid"
        and "redis.invalid" in values["CACHES"]["default"]["LOCATION"]
    )
    assert not (tmp_path / "state").exists()  # no generated secret, no SQLite


def test_production_refuses_debug_and_a_wildcard_host(tmp_path):
    debug = run_python(bare_env(tmp_path, **PRODUCTION_ENV, DEBUG="1"), "manage.py", "check")
    assert debug.returncode != 0 and "DEBUG must be off" in debug.stderr.strip().splitlines()[-1]
    wildcard = run_python(
        bare_env(tmp_path, **{**PRODUCTION_ENV, "ALLOWED_HOSTS": "console.example.com,*"}), "manage.py", "check"
    )
    assert wildcard.returncode != 0 and "ALLOWED_HOSTS" in wildcard.stderr.strip().splitlines()[-1]


def test_production_may_turn_hsts_off_explicitly(tmp_path):
    assert (
        settings_of(bare_env(tmp_path, **PRODUCTION_ENV, SECURE_HSTS_SECONDS="0"), "SECURE_HSTS_SECONDS")[
            "SECURE_HSTS_SECONDS"
        ]
        == 0
    )


# --- embedded mode: defaults and the generated secret ---------------------------------------


def test_embedded_mode_needs_no_variables_and_keeps_its_generated_secret(tmp_path):
    env = bare_env(tmp_path)
    result = run_python(env, "manage.py", "check")
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "state" / "secret_key"
    first = key_file.read_text().strip()
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not [p for p in key_file.parent.iterdir() if p.name.startswith(".secret_key.")]  # no temporary left over

    values = settings_of(
        env, "SECRET_KEY", "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "ALLOWED_HOSTS", "DATABASES"
    )
    assert values["SECRET_KEY"] == first  # reused, not generated again
    assert key_file.read_text().strip() == first
    assert values["DEBUG"] is False  # only when asked for
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False  # plain http on loopback
    assert set(values["ALLOWED_HOSTS"]) == {"127.0.0.1", "localhost", "[::1]"}
    assert values["DATABASES"]["default"]["ENGINE"].endswith("sqlite3")

    other = bare_env(tmp_path, CONSOLE_STATE_DIR=str(tmp_path / "elsewhere"))
    assert settings_of(other, "SECRET_KEY")["SECRET_KEY"] != first  # one secret per installation


def test_embedded_mode_debug_and_https_only_when_asked(tmp_path):
    values = settings_of(
        bare_env(tmp_path, DEBUG="1", CONSOLE_HTTPS="1"), "DEBUG", "SESSION_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER"
    )
    assert values == {
        "DEBUG": True,
        "SESSION_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    assert (
        run_python(bare_env(tmp_path, DEBUG="maybe"), "manage.py", "check").returncode != 0
    )  # a typo is not silently off


def test_an_explicit_secret_key_wins_in_embedded_mode_and_nothing_is_generated(tmp_path):
    assert (
        settings_of(bare_env(tmp_path, SECRET_KEY="given-" + "x" * 50), "SECRET_KEY")["SECRET_KEY"]
        == "given-" + "x" * 50
    )
    assert not (tmp_path / "state" / "secret_key").exists()


def test_processes_starting_together_agree_on_one_secret(tmp_path, monkeypatch):
    """Many threads generate at once (as `make run` and a manage.py command may): no one
    fails, no one reads a half-written key, all get the same one."""
    import console.settings as settings_module

    for attempt in range(10):
        monkeypatch.setattr(settings_module, "STATE_DIR", tmp_path / f"state{attempt}")
        barrier, keys, errors = threading.Barrier(12), [], []

        def generate(barrier, keys, errors):
            barrier.wait()
            try:
                keys.append(settings_module.embedded_secret_key())
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                errors.append(exc)

        threads = [threading.Thread(target=generate, args=(barrier, keys, errors)) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors and len(keys) == 12 and len(set(keys)) == 1 and len(keys[0]) >= 50


# --- cookies and headers (the test settings are the embedded mode's) ---------------------


def test_cookie_and_header_settings():
    s = django_settings
    assert s.SESSION_COOKIE_HTTPONLY and s.CSRF_COOKIE_HTTPONLY
    assert s.SESSION_COOKIE_SAMESITE == "Lax" and s.CSRF_COOKIE_SAMESITE == "Lax"
    assert 15 * 60 <= s.SESSION_COOKIE_AGE <= 24 * 3600
    assert s.X_FRAME_OPTIONS == "DENY" and s.SECURE_CONTENT_TYPE_NOSNIFF
    assert s.SECURE_REFERRER_POLICY in (
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "no-referrer",
    )


@pytest.mark.django_db
def test_sign_in_sets_a_hardened_session_cookie_and_rotates_the_session(client, operator):
    session = client.session  # an anonymous session exists before signing in
    session["probe"] = "before"
    session.save()
    before = session.session_key

    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie.value != before  # fixation: the pre-login session id is not kept
    assert 0 < int(cookie["max-age"]) <= 24 * 3600
    csrf = response.cookies.get(django_settings.CSRF_COOKIE_NAME)
    assert csrf is None or (csrf["httponly"] and csrf["samesite"] == "Lax")  # rotated on login, if sent

    page = client.get(reverse("console:dashboard"))
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in page  # embedded mode over http


@pytest.mark.django_db
@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_HSTS_SECONDS=31536000,
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
)
def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent(client, operator):
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}, HTTP_X_FORWARDED_PROTO="https")
    assert response.cookies[django_settings.SESSION_COOKIE_NAME]["secure"]
    page = client.get(reverse("console:dashboard"), HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get(LOGIN_URL)  # never over plain http


# --- CSRF --------------------------------------------------------------------------------


def template_files():
    dirs = [Path(d) for engine in django_settings.TEMPLATES for d in engine["DIRS"]]
    dirs += [ROOT / app / "templates" for app in ("console", "tenants", "workloads", "monitoring")]
    return sorted(path for directory in dirs if directory.is_dir() for path in directory.rglob("*.html"))


FORM = re.compile(r"<form\b(?P<tag>[^>]*)>(?P<body>.*?)</form>", re.IGNORECASE | re.DOTALL)
UNSAFE = re.compile(r"""\bmethod\s*=\s*["']?post\b|\bhx-(post|put|patch|delete)\s*=""", re.IGNORECASE)


def forms_without_csrf_token(text):
    return [
        m.group(0)[:120]
        for m in FORM.finditer(text)
        if UNSAFE.search(m.group("tag")) and "{% csrf_token %}" not in m.group("body")
    ]


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    files = template_files()
    assert len(files) > 30  # the scan does see the templates
    missing = {
        str(path.relative_to(ROOT)): found for path in files if (found := forms_without_csrf_token(path.read_text()))
    }
    assert missing == {}, "POST forms without {% csrf_token %}: " + json.dumps(missing, indent=1)


def test_the_template_scan_can_fail():
    assert forms_without_csrf_token('<form method="post" action="/x/"><button>Go</button></form>')
    assert forms_without_csrf_token("<form hx-post='/x/' class=a>\n<input name=a></form>")
    assert not forms_without_csrf_token('<form method="post">{% csrf_token %}<button>Go</button></form>')
    assert not forms_without_csrf_token('<form method="get"><input name=q></form>')


def body_csrf_header(html):
    match = re.search(r"""<body[^>]*\bhx-headers='(\{[^']*\})'""", html)
    assert match, "the base layout must give htmx the CSRF header"
    return json.loads(match.group(1))["X-CSRFToken"]


@pytest.mark.django_db
def test_htmx_requests_carry_the_pages_csrf_header_and_it_is_accepted(operator):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)
    token = body_csrf_header(client.get(reverse("console:notification_list")).content.decode())
    assert len(token) == 64
    url = reverse("console:notification_read_all")
    assert client.post(url, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token).status_code != 403
    refused = client.post(url, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN="x" * 64)
    assert refused.status_code == 403 and "security token" in refused.content.decode()


@pytest.mark.django_db
def test_sign_in_form_is_csrf_protected_with_a_clear_page(operator):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    page = client.get(LOGIN_URL).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    refused = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD})
    assert refused.status_code == 403
    html = refused.content.decode()
    assert "security token is missing or out of date" in html and 'data-testid="error-message"' in html
    assert "_auth_user_id" not in client.session
    entry = OperationLogEntry.objects.get(action="request.console:login")
    assert entry.result == "denied" and "CSRF" in entry.error and PASSWORD not in json.dumps(entry.payload)

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(LOGIN_URL).content.decode()).group(1)
    assert (
        client.post(LOGIN_URL, {"username": "op", "password": PASSWORD, "csrfmiddlewaretoken": token}).status_code
        == 302
    )


@pytest.mark.django_db
def test_every_unsafe_console_view_enforces_csrf(operator):
    """No view is exempt: a token-less POST to any console URL is refused."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    exempt = [route for route, view in walk(get_resolver().url_patterns) if getattr(view, "csrf_exempt", False)]
    # The admin marks its views exempt and re-protects them itself (csrf_protect inside).
    # A new exempt endpoint (a webhook, an ingest API) must authenticate its callers in
    # another way (a signed token): list it here with a test of that.
    # logs/ingest/: a cluster's bearer token (tests/logs); pipelines/hooks/: the provider's
    # signature or token (tests/pipelines).
    allowed_exempt = ("admin/", "logs/ingest/", "pipelines/hooks/")
    assert all(route.startswith(allowed_exempt) for route in exempt), f"views without CSRF protection: {exempt}"


# --- websockets --------------------------------------------------------------------------


def websocket(origin=None, cookie=None):
    from console.asgi import application

    headers = [(b"host", b"localhost")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


def handshake(origin=None, cookie=None):
    async def attempt():
        communicator = websocket(origin, cookie)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    return async_to_sync(attempt)()


@pytest.mark.django_db(transaction=True)  # the socket reads the session from another thread
def test_websocket_needs_a_signed_in_user_and_the_consoles_own_origin():
    user = mk_user("ws-sec")
    client = Client()
    client.force_login(user)
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"

    assert handshake("http://localhost", cookie)[0] is True  # the page's own socket
    assert handshake("http://localhost")[0] is False  # anonymous
    assert handshake("http://localhost", "sessionid=forged-or-expired")[0] is False
    assert handshake("http://evil.example", cookie)[0] is False  # cross-site websocket hijacking
    assert handshake("http://localhost.evil.example", cookie)[0] is False
    assert handshake(None, cookie)[0] is False  # no Origin: not a browser page of ours
    user.is_active = False
    user.save()
    assert handshake("http://localhost", cookie)[0] is False  # a disabled account's session


# --- sign-in throttling --------------------------------------------------------------------


@pytest.mark.django_db
def test_lockout_shows_a_message_and_is_recorded(client, operator, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        client.post(LOGIN_URL, {"username": "op", "password": "wrong"})
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    denied = OperationLogEntry.objects.get(action="account.login", result="denied")
    assert denied.actor_name == "op" and "too many" in denied.error and denied.source_ip == "127.0.0.1"
    assert (
        client.post(LOGIN_URL, {"username": "OP ", "password": PASSWORD}).status_code == 429
    )  # same name, other spelling
    # The lock is this username from this address: other users here and this one elsewhere sign in
    # (tests/console/test_login_throttle.py).
    mk_user("someone")
    assert client.post(LOGIN_URL, {"username": "someone", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_lockout_ends(client, operator, settings):
    from console.accounts import throttle

    settings.LOGIN_LOCKOUT_SECONDS = 2
    for _ in range(settings.LOGIN_MAX_FAILURES):  # attempts counted as the view counts them, without hashing
        assert throttle.reserve("op", "127.0.0.1").allowed
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD})
    assert response.status_code == 429 and response["Retry-After"] == "2"
    time.sleep(2.2)
    assert client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
@override_settings(TRUST_X_FORWARDED_FOR=True)
def test_a_client_cannot_dodge_the_address_lockout_with_a_forged_forwarded_header(client, operator, settings):
    """Behind the proxy, X-Forwarded-For is "<whatever the client sent>, <client as the proxy saw it>"."""
    for i in range(settings.LOGIN_MAX_FAILURES):
        client.post(
            LOGIN_URL, {"username": "op", "password": f"guess{i}"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7"
        )
    response = client.post(
        LOGIN_URL, {"username": "op", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7"
    )
    assert response.status_code == 429
    assert OperationLogEntry.objects.filter(action="account.login", result="denied", source_ip="203.0.113.7").exists()
    # a different client behind the same proxy is not locked out
    assert (
        client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code
        == 302
    )


# --- passwords -----------------------------------------------------------------------------


def test_password_validators_are_configured():
    names = {v["NAME"].rsplit(".", 1)[-1]: v.get("OPTIONS", {}) for v in django_settings.AUTH_PASSWORD_VALIDATORS}
    assert set(names) >= {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }
    assert names["MinimumLengthValidator"].get("min_length", 8) >= 10


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password, complaint",
    [
        ("Sh0rt-pw", "too short"),
        ("1234567890123", "entirely numeric"),
        ("password1234", "too common"),
        ("carol.example", "too similar"),
    ],
)
def test_password_change_enforces_each_validator(client, password, complaint):
    user = mk_user("carol.example", email="carol@example.com")
    client.force_login(user)
    response = client.post(
        reverse("console:password_change"),
        {"old_password": PASSWORD, "new_password1": password, "new_password2": password},
    )
    assert response.status_code == 400 and complaint in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_invited_members_get_passwords_that_pass_the_validators(operator):
    from tenants import services

    tenant = mk_tenant("pwcheck")
    for i in range(5):
        invited = services.invite_member(tenant, acting_user=operator, username=f"invitee-{i}")
        assert invited.password and invited.membership.user.check_password(invited.password)
        validate_password(invited.password, invited.membership.user)  # raises if any validator objects


@pytest.mark.django_db
def test_demo_users_get_passwords_that_pass_the_validators():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    created = re.findall(r"created demo user '([^']+)' .* with password: (\S+)", out.getvalue())
    assert created
    User = get_user_model()
    for username, password in created:
        validate_password(password, User.objects.get(username=username))


@pytest.mark.django_db
def test_operators_cannot_create_a_weak_account_in_the_admin(client, operator):
    client.force_login(operator)
    response = client.post(
        "/admin/console/user/add/",
        {"username": "weak", "usable_password": "true", "password1": "12345", "password2": "12345"},
    )
    assert response.status_code == 200 and "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="weak").exists()


# --- open redirects ------------------------------------------------------------------------

FOREIGN = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "https://testserver.evil.example/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("target", FOREIGN)
def test_sign_in_ignores_a_foreign_next(client, operator, target):
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD, "next": target})
    assert response["Location"] == reverse("console:dashboard")
    assert client.get(LOGIN_URL, {"next": target})["Location"] == reverse("console:dashboard")  # already signed in


@pytest.mark.django_db
def test_sign_in_follows_a_local_next(client, operator):
    response = client.post(LOGIN_URL + "?next=/oplog/%3Fresult%3Ddenied", {"username": "op", "password": PASSWORD})
    assert response["Location"] == "/oplog/?result=denied"


@pytest.mark.django_db
@pytest.mark.parametrize("target", FOREIGN)
def test_language_switch_ignores_a_foreign_next_and_referer(client, operator, target):
    client.force_login(operator)
    response = client.post(reverse("set_language"), {"language": "en", "next": target}, HTTP_REFERER=target)
    assert response.status_code in (302, 204)
    assert "evil" not in response.get("Location", "") and "javascript" not in response.get("Location", "")
    assert client.post(reverse("set_language"), {"language": "en", "next": "/oplog/"})["Location"] == "/oplog/"


# --- the Django admin ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["auditor", ""])
def test_admin_refuses_signed_in_non_operators_without_a_redirect_loop(client, role):
    client.force_login(mk_user("not-op", role, is_staff=True, is_superuser=True))  # Django's own flags do not count
    response = client.get("/admin/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert len(response.redirect_chain) <= 2
    assert response.status_code == 403
    assert client.get("/admin/console/user/", follow=True).status_code == 403
    assert client.post("/admin/console/user/add/", {"username": "x"}, follow=True).status_code == 403
    assert not get_user_model().objects.filter(username="x").exists()


@pytest.mark.django_db
def test_admin_sends_anonymous_users_to_the_consoles_sign_in(client):
    response = client.get("/admin/console/user/", follow=True)
    assert response.redirect_chain[-1][0].startswith(LOGIN_URL) and response.status_code == 200
    assert "next=/admin/console/user/" in response.redirect_chain[-1][0]
