"""Bad input of every kind never makes a 500: every URL of the role × URL matrix, for the
operator, the auditor, a tenant admin and a tenant member (and anonymous on the sign-in
page), with malformed query strings, malformed form posts and tampered URL segments. A 4xx
page must say what was wrong.

One test per matrix row; it loops over the roles and the bad inputs and reports every
failure at once. Each request runs in a savepoint that is rolled back afterwards, so every
input meets the same fresh data (and a database error cannot poison the next request).

Tiers keep it fast. Every role gets the inputs that reach the middleware and the access
checks: every parameter or field bad at once, bad field names, unreadable bodies, tampered
URL segments. The first role of operator/auditor and the first of tenant admin/member
that the view lets in also get every field bad at once in more ways, so both the
platform's and the tenants' code paths parse them. The first role let in gets each
malformed query of the parameters the view reads (recorded on a request that gives every
parameter a plausible value), each of those parameters with a NUL on its own, and each
field (of each sort) bad on its own with the others valid. A role refused at the door
(403, 404, the sign-in redirect) never reaches the parsing these aim at.
"""

import copy
import json
import re
import traceback
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.core.handlers.wsgi import WSGIRequest
from django.db import transaction
from django.http import QueryDict
from django.urls import resolve, reverse

from console.forms import ClusterForm, NoticeForm
from tenants.forms import MemberForm, PathForm, ProjectForm, ProjectQuotaForm, TenantForm
from workloads.forms import (
    AppForm,
    AutoscalerForm,
    CanaryForm,
    CanaryTrafficForm,
    DeleteForm,
    ExposeForm,
    ScaleForm,
    ScheduleForm,
    UpgradeForm,
)

from ..factories import create_two_tenants, mk_app, mk_user
from .test_access_matrix import MATRIX

ROLES = ("operator", "auditor", "tenant_admin", "tenant_member")
# The full set goes to the first role of each group that the view lets in.
ROLE_GROUPS = (("operator", "auditor"), ("tenant_admin", "tenant_member"))
APP_ROOT = Path(__file__).resolve().parents[2]
LONG = "x" * 10_000
HUGE = "99999999999999999999"

# --- query strings -------------------------------------------------------------------

# Every query parameter a console view reads, with a plausible value.
PLAUSIBLE = {
    "page": "1",
    "since": "2026-01-01",
    "until": "2026-12-31",
    "sort": "name",
    "labels": "app=web",
    "result": "succeeded",
    "status": "Running",
    "q": "web",
    "actor": "op",
    "tenant": "acme",
    "action": "app",
    "target": "web",
    "namespace": "acme-web",
    "name": "web",
    "container": "web",
    "next": "/",
}
PARAMS = tuple(PLAUSIBLE)
# Raw query strings (already percent-encoded): sent as they are.
QUERIES = [
    "page=abc",
    "page=-1",
    "page=0",
    f"page={HUGE}",
    "page=1.5",
    "page=1e3",
    "page=",
    "page=1&page=abc",
    "since=2026-13-45",
    "until=notadate",
    "since=2026-02-30T25:61",
    "since=99999-01-01",
    "since=2026-05-01&until=2020-01-01",
    "sort=bogus",
    "sort=__class__",
    "sort=name&sort=bogus",
    "labels=a%20in%20(",
    "labels=%3Dx",
    "labels=a!%3D",
    "labels=!!",
    "labels=x%3D%3Dy%3D%3Dz",
    "labels=a%20notin",
    "labels=)(",
    "labels=a%20in%20(b%2C",
    "labels=" + "a%3Db%2C" * 2000,
    "labels=app%3D%ff%fe",
    "result=bogus",
    "status=bogus",
    "namespace=UPPER_case",
    "namespace=-x",
    "tenant=nope",
    "name=%25%5F",
    "next=http://evil.example/",
    "next=//evil.example",
    "next=javascript:alert(1)",
    "next=dashboard",
    # one parameter repeated past Django's limit on the number of fields
    "&".join(["page=1"] * 1_001),
]
# Values put in every parameter at once (every role; the second line for the roles let in),
# then in each one alone (the first role let in).
DOOR_VALUES = ("%00", quote(LONG), "%ff%fe")
GENERIC_VALUES = ("%c0%80", "-1", HUGE)
ALONE_VALUES = ("a%00b", quote(LONG))

# --- form posts -----------------------------------------------------------------------

DOOR_POST_VALUES = ["a\x00b", LONG, ["1", "2"]]
BAD_VALUES = ["", "abc", "-1", HUGE, "1.5", "1e999999999", ["", "abc"], "%ff%fe", " \ufffe"]
ALONE_POST_VALUES = ["", "-1", HUGE, "1e999999999", LONG]
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"

# Valid (or nearly valid) posts for the pages whose forms are served by GET and accept POST.
FORM_PAGES = {
    "console:login": {"username": "nobody", "password": "wrong", "next": "/"},
    "console:password_change": {
        "old_password": "wrong",
        "new_password1": "Long-enough-9-pass",
        "new_password2": "Long-enough-9-pass",
    },
    "console:cluster_add": {
        "name": "c2",
        "kubeconfig": KUBECONFIG,
        "context": "",
        "region": "north",
        "description": "",
    },
    "tenants:tenant_add": {
        "name": "initech",
        "display_name": "Initech",
        "contact": "ops@example.com",
        "time_zone": "UTC",
        "max_namespaces": "3",
        "limit_cpu": "4",
        "quota_cpu": "1",
        "lr_request_cpu": "100m",
    },
    "tenants:tenant_edit": {
        "display_name": "Acme",
        "contact": "",
        "time_zone": "UTC",
        "max_namespaces": "3",
        "limit_cpu": "4",
    },
    "workloads:app_upgrade": {"image": "nginx:1.28", "generation": "1", "ports": "80", "cpu_request": "100m"},
}
FORMS = {
    "console:password_change": PasswordChangeForm,
    "console:cluster_add": ClusterForm,
    "console:notice_send": NoticeForm,
    "tenants:member_add": MemberForm,
    "tenants:path_add": PathForm,
    "workloads:app_add": AppForm,
    "workloads:app_upgrade": UpgradeForm,
    "workloads:app_scale": ScaleForm,
    "workloads:app_expose": ExposeForm,
    "workloads:app_delete": DeleteForm,
    "workloads:schedule_add": ScheduleForm,
    "workloads:autoscaler_set": AutoscalerForm,
    "workloads:canary_start": CanaryForm,
    "workloads:canary_traffic": CanaryTrafficForm,
}
EXTRA_FIELDS = {
    "workloads:app_import": ["manifests", "confirm"],
    "console:login": ["username", "password", "next"],
    "tenants:tenant_switch": ["tenant"],
    "set_language": ["language", "next"],
}

# Posts that are not ordinary forms: (label, body, content type); the first for every role.
RAW_BODIES = [
    ("raw invalid UTF-8 bytes", b"name=\xff\xfe&\xc0=\x80&replicas=%ff%fe", "application/x-www-form-urlencoded"),
    (
        "broken multipart",
        b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',
        "multipart/form-data; boundary=xyz",
    ),
    ("multipart without boundary", b"junk", "multipart/form-data"),
    ("JSON body", b'{"replicas": [1, 2], "name": null}', "application/json"),
    ("too many fields", "&".join(f"f{i}=1" for i in range(1_001)).encode(), "application/x-www-form-urlencoded"),
    ("NUL in a field name", b"na%00me=1&%00=%00", "application/x-www-form-urlencoded"),
]

ERROR_MARK = re.compile(
    r'<(div|p|span|li)[^>]*class="[^"]*\b(alert-danger|alert-warning|invalid-feedback)\b[^"]*"[^>]*>(.*?)</\1>', re.S
)
TAG = re.compile(r"<[^>]+>")


def has_message(response):
    """A 4xx page says what was wrong: an error box with text in it (plain text: any text; the
    JSON of a machine endpoint such as a webhook or the log ingest: its "error")."""
    body = response.content.decode("utf-8", "replace")
    if response.get("Content-Type", "").startswith("text/plain"):
        return bool(body.strip())
    if response.get("Content-Type", "").startswith("application/json"):
        return bool(str(json.loads(body).get("error", "")).strip())
    return any(TAG.sub("", match.group(3)).strip() for match in ERROR_MARK.finditer(body))


def app_frame(exc):
    """The innermost frame of the project's own code in a traceback."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(str(APP_ROOT)) and "/.venv/" not in f.filename and "/tests/" not in f.filename
    ]
    return f" at {Path(frames[-1].filename).relative_to(APP_ROOT)}:{frames[-1].lineno}" if frames else ""


class _RollBack(Exception):
    pass


class Prober:
    """Sends requests, each in a rolled-back savepoint; collects what went wrong."""

    def __init__(self, client, name):
        self.client, self.name, self.failures, self.count = client, name, [], 0

    def send(self, role, label, method, url, **kwargs):
        self.count += 1
        cookies = copy.deepcopy(self.client.cookies)
        response = None
        try:
            with transaction.atomic():
                response = getattr(self.client, method)(url, **kwargs)
                raise _RollBack
        except _RollBack:
            pass
        except Exception as exc:  # the test client re-raises what the view raised: a 500
            message = (str(exc).splitlines() or [""])[0][:200]
            self.failures.append(f"{role} {method.upper()} {label}: {type(exc).__name__}: {message}{app_frame(exc)}")
            return None
        finally:
            self.client.cookies = cookies  # signing out (or a refused session) must not end the loop
        if response.status_code >= 500:
            self.failures.append(f"{role} {method.upper()} {label}: status {response.status_code}")
        elif 400 <= response.status_code < 500 and not has_message(response):
            self.failures.append(f"{role} {method.upper()} {label}: {response.status_code} without a message")
        return response

    def check(self):
        if self.failures:
            pytest.fail(
                f"{len(self.failures)} of {self.count} requests to {self.name} failed:\n" + "\n".join(self.failures),
                pytrace=False,
            )


def refused(response):
    return (
        response is None
        or response.status_code in (403, 404)
        or (
            response.status_code == 302
            and "/login/" in response.get("Location", "")
            and "/login/" not in response.request["PATH_INFO"]
        )
    )


def form_fields(name, data, tenant, project):
    """(every field, {one field of each sort: its form field or None}): the quota forms repeat
    one sort of field per resource."""
    if name in FORMS:
        known = FORMS[name].base_fields
    elif name in ("tenants:tenant_add", "tenants:tenant_edit"):
        known = TenantForm().fields
    elif name == "tenants:project_add":
        known = ProjectForm(tenant=tenant).fields
    elif name == "tenants:project_edit":
        known = ProjectQuotaForm(project=project).fields
    else:
        known = {}
    fields = list(dict.fromkeys([*(data or {}), *known, *EXTRA_FIELDS.get(name, [])]))
    sorts = {}
    for field in fields:
        prefix = field.split("_")[0] if field.startswith(("quota_", "limit_", "lr_")) else field
        sorts.setdefault((type(known.get(field)).__name__, prefix), field)
    return fields, {field: known.get(field) for field in sorts.values()}


def post_variants(fields, data, full, alone):
    """(label, data): missing, every field bad at once, bad names; then one field (of each sort) bad at a time."""
    fields, representatives = fields
    yield "no fields", {}
    # A view that reads no field meets the bad values only in the middleware: the door's three do.
    for value in DOOR_POST_VALUES + (BAD_VALUES if full and fields else []):
        yield f"every field = {value!r:.40}", {field: value for field in fields} or {"x": value}
    yield "bad field names", {**data, "a\x00b": "1", LONG: "1", "\x00": "\x00"}
    if full:
        yield "scalars where lists go", {**data, "weekdays": "abc", "clusters": "abc"}
    if alone:
        for field, form_field in representatives.items():
            for value in ALONE_POST_VALUES:
                if accepts(form_field, value):
                    yield f"{field} = {value!r:.40}", {**data, field: value}


def accepts(form_field, value):
    """Whether the form field lets the value through to the view and the service; a value it
    refuses gets there only as a form error, which the every-field variants cover."""
    if form_field is None:  # read from request.POST by the view itself
        return True
    try:
        form_field.clean(value)
    except ValidationError:
        return False
    return True


def query_variants(full, read):
    """Raw query strings (label, query); each malformed one only when the view reads its parameter."""
    for value in DOOR_VALUES + (GENERIC_VALUES if full else ()):
        yield f"every parameter = {value:.30}", "&".join(f"{p}={value}" for p in PARAMS)
    for query in QUERIES:
        if read & {pair.split("=")[0] for pair in query.split("&")}:
            yield f"?{query:.60}", query
    for param in PARAMS:
        if param in read:
            for value in ALONE_VALUES:
                yield f"?{param}={value:.30}", f"{param}={value}"


def read_parameters(probe, role, url):
    """The query parameters the view reads: recorded on a request that gives each a plausible value."""
    read = set()

    class Recording(QueryDict):
        def __init__(self, *args, **kwargs):
            self.recording = False  # building the dict looks every key up
            super().__init__(*args, **kwargs)
            self.recording = True

        def note(self, key):
            if self.recording:
                read.add(key)

        def __getitem__(self, key):
            self.note(key)
            return super().__getitem__(key)

        def getlist(self, key, default=None):
            self.note(key)
            return super().getlist(key, default)

        def __contains__(self, key):
            self.note(key)
            return super().__contains__(key)

    def recording_get(request):
        return Recording(request.environ.get("QUERY_STRING", ""), encoding=request._encoding)

    with mock.patch.object(WSGIRequest, "GET", property(recording_get)):
        probe.send(role, "plausible query", "get", f"{url}?{urlencode(PLAUSIBLE)}")
    return read


def tampered_urls(url):
    """The URL with each str or int segment (those a NUL or a huge number can reach) replaced."""
    match = resolve(url)
    converters = dict((name, kind) for kind, name in re.findall(r"<(\w+):(\w+)>", match.route))
    segments = url.split("/")
    for key, value in match.kwargs.items():
        if converters.get(key) not in ("str", "int"):
            continue
        index = segments.index(quote(str(value), safe=""))
        values = (HUGE, "0") if converters[key] == "int" else ("a%00b", "%ff%fe", quote(LONG), "%2e%2e")
        for bad in values:
            yield f"{key}={bad:.30}", "/".join(segments[:index] + [bad] + segments[index + 1 :])


def setup_world():
    cluster, acme, _globex, project, tenant_users = create_two_tenants()
    # The app the app rows name, so that their forms are read (not a 404 before them).
    mk_app(project)
    users = {
        **tenant_users,
        "operator": mk_user("op-user", "operator", password=None),
        "auditor": mk_user("aud-user", "auditor", password=None),
    }
    return cluster, acme, project, users


def url_for(name, args, cluster):
    # The cluster rows name a cluster nobody has; name the real one so their views parse the input.
    return reverse(name, args=[cluster.name if arg == "nowhere" else arg for arg in args])


@pytest.fixture(autouse=True)
def quick_pages(settings):
    """Sign-in and password forms hash on every attempt: the slow default hasher is not under
    test. Nor is Django's test instrumentation of templates, which copies every context
    rendered (a third of a form page's time); these tests read only status and body."""
    from django.template import base
    from django.test.utils import _TestState

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    instrumented, plain = (
        base.Template._render,
        getattr(getattr(_TestState, "saved_data", None), "template_render", None),
    )
    if plain is not None:
        base.Template._render = plain
    yield
    base.Template._render = instrumented


ROWS = [row for row in MATRIX if row[0] != "admin:index"]


@pytest.mark.django_db
@pytest.mark.parametrize("name,args,method,data,expected", ROWS, ids=[f"{row[0]}-{row[2]}" for row in ROWS])
def test_bad_input_never_makes_a_500(client, settings, name, args, method, data, expected):
    # every sign-in attempt reaches the form (the lockout has its own test below)
    settings.LOGIN_MAX_FAILURES = settings.LOGIN_MAX_ATTEMPTS_PER_ADDRESS = settings.LOGIN_MAX_FAILURES_PER_USER = 10**6
    cluster, tenant, project, users = setup_world()
    url = url_for(name, args, cluster)
    if data and data.get("cluster") == "CLUSTER":
        data = {**data, "cluster": cluster.pk}
    probe = Prober(client, name)
    posts = method == "post" or name in FORM_PAGES
    baseline = data if method == "post" else FORM_PAGES.get(name, {})
    fields = form_fields(name, baseline, tenant, project)
    full_done, alone_done = set(), False
    for role in ROLES + (("anonymous",) if name == "console:login" else ()):
        client.logout()
        if role != "anonymous":
            client.force_login(users[role])
        group = next((g for g in ROLE_GROUPS if role in g), (role,))
        first = probe.send(role, "valid request", method, url, **({"data": baseline} if method == "post" else {}))
        full = group not in full_done and not refused(first)
        alone = full and not alone_done
        if full:
            full_done.add(group)
            alone_done = True
        if method == "get":
            read = read_parameters(probe, role, url) if alone else set()
            for label, query in query_variants(full, read):
                probe.send(role, label, "get", f"{url}?{query}")
        if posts:
            if method == "get":
                probe.send(role, "valid post", "post", url, data=baseline)
            for label, body in post_variants(fields, baseline, full, alone):
                probe.send(role, label, "post", url, data=body)
            for label, body, content_type in RAW_BODIES if alone else RAW_BODIES[:1]:
                probe.send(role, label, "post", url, data=body, content_type=content_type)
        for label, bad_url in tampered_urls(url):
            probe.send(role, label, method, bad_url, **({"data": baseline} if method == "post" else {}))
    probe.check()


@pytest.mark.django_db
def test_locked_out_sign_in_with_bad_input(client, settings):
    """The lockout path records the username it refuses: bad ones too."""
    settings.LOGIN_MAX_FAILURES = 1
    probe = Prober(client, "console:login")
    url = reverse("console:login")
    fields = ["username", "password", "next"]
    for label, body in post_variants(
        (fields, dict.fromkeys(fields)), FORM_PAGES["console:login"], full=True, alone=True
    ):
        probe.send("anonymous", label, "post", url, data=body)
    for label, body, content_type in RAW_BODIES:
        probe.send("anonymous", label, "post", url, data=body, content_type=content_type)
    probe.check()
