"""Generated bad input, at volume: hypothesis builds form bodies and query strings for every
URL of the access matrix (as each role let in), YAML documents for the loaders of user
documents, and websocket frames for the live consumer. Nothing may end in a 500, an
unhandled exception, an error other than the documented one, or a socket that stops
answering. test_bad_input.py and test_socket_input.py list the hand-picked cases; this
file looks for the ones nobody thought of.

Runs are reproducible (derandomize, no example database). Every input found to break
something was fixed in the code and stays below as an @example. A last test checks that
the whole file sent at least 10,000 inputs.
"""

import collections
import copy
import gc
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.test.client import MULTIPART_CONTENT
from django.utils import translation
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from console import documents
from console.clusters import clusters
from console.documents import DocumentError
from console.kube.config import parse_kubeconfig
from console.kube.errors import ClusterError
from console.live import realtime
from console.live.consumers import LiveConsumer
from tenants.models import Project, Tenant
from workloads import imports
from workloads.models import App

from .test_access_matrix import MATRIX
from .test_bad_input import FORM_PAGES, form_fields, has_message, quick_pages, refused, setup_world, url_for  # noqa: F401 (quick_pages: autouse fixture)

# No .hypothesis folder in the tree: no example database (see fuzz_settings), and the caches
# hypothesis keeps anyway (unicode tables, constants) go to the temporary folder.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "caas-console-hypothesis")

FUZZ_ROLES = ("operator", "tenant_admin", "tenant_member", "auditor")
HTTP_ROLES = FUZZ_ROLES + ("anonymous",)  # anonymous: for the sign-in page
MINIMUM_INPUTS = 10_000
# Inputs sent, by kind; the last test of the file reads it.
SENT = collections.Counter()


# A deeper search by hand: FUZZ_SCALE=10 runs ten times the examples, FUZZ_RANDOM=1 new ones
# on each run (--hypothesis-seed=N repeats one). CI runs the default: the same examples always.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
RANDOM = bool(os.environ.get("FUZZ_RANDOM"))


def fuzz_settings(examples, shrink=True):
    # Reproducible in CI and no .hypothesis folder; the world is built once per test and each
    # request is rolled back, so a function-scoped fixture is shared on purpose. Shrinking a
    # failing request can take minutes: the HTTP tests report the input as generated.
    phases = [phase for phase in Phase if shrink or phase is not Phase.shrink]
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        print_blob=False,
        phases=phases,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --- values ------------------------------------------------------------------------------

# Any code point: surrogates and NUL included (st.text leaves surrogates out by default).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
NUMBERS = [
    "0",
    "-0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "1e308",
    "1e999",
    "-1e999",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1.5",
    "0x1f",
    "1_000",
    "١٢",
    "１",
    " 1 ",
    "+1",
    "00001",
    "1e3",
    "0.0000001",
    "10000000000000000000000000000000000000000",
]
FRAGMENTS = [
    "{",
    "}",
    "[1, 2]",
    '{"a": {"b": null}}',
    "null",
    "!!python/object/apply:os.system ['id']",
    "&a [*a, *a]",
    "a: &x 1\nb: *x",
    "- a\n- b",
    "<<: {a: 1}",
    "---\n...",
    "\tkey:\n value",
    "%YAML 1.1\n---",
    "? a\n: b",
    "'unclosed",
    '"\\ud800"',
    "a: 2001-13-01",
    "!!timestamp x",
    "!!bool x",
    "a: 1\na: 2",
    '{"subscribe": "user-1"}',
]
CRLF = ["a\r\nb", "\r\n\r\nSet-Cookie: x=1", "\n", "\r", "line\u2028sep", "\x0b\x0c", "\x85"]
TRAVERSAL = [
    "../../etc/passwd",
    "..%2f..%2fetc",
    "/etc/passwd",
    "..\\..\\boot.ini",
    "file:///etc/passwd",
    "%2e%2e/",
    "....//",
    "~root",
]
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7|add:7 }}",
    "{% debug %}",
    "javascript:alert(1)",
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "%(name)s",
    "{0}",
    "%s%s%s",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
    "\ufeff",
    "\u202e",
    "é" * 3,
    "𝔘𝔫𝔦",
    "\U0010ffff",
]
DATES = [
    "2026-01-01",
    "2026-12-31T23:59",
    "2026-13-45",
    "0000-00-00",
    "9999-12-31T23:59:59",
    "0001-01-01",
    "2026-01-01T00:00:00+99:00",
    "1970-01-01T00:00:00Z",
    "-1-01-01",
    "2026-02-29",
    "24:00",
    "08:00",
    "25:61",
    "2026-01-01 00:00",
    "99999-01-01",
]
KUBE_WORDS = [
    "acme",
    "acme-web",
    "web",
    "globex",
    "shop",
    "nginx:1.27",
    "app=web",
    "a in (b,c)",
    "!a",
    "a!=b,c=d",
    "Running",
    "Pod",
    "kube-system",
    "default",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/33",
    "tenant-admin",
    "tenant-member",
    "operator",
    "all",
    "info",
    "ClusterIP",
    "NodePort",
    "LoadBalancer",
    "yes",
    "on",
    "true",
    "Deployment",
    "StatefulSet",
    "cidr",
    "namespace",
    "en",
    "zh-hans",
    "/",
    "//evil.example",
    "http://evil.example/",
    "name",
    "-name",
    "created",
    "succeeded",
    "denied",
]
# Values a form may let through to the service: quantities, images, addresses, times at their edges.
PLAUSIBLE = [
    "500m",
    "1e999999",
    "1E6",
    "0.5Gi",
    "1Ei",
    "99999999999999Ei",
    ".5",
    "1.",
    "+1",
    "1e-999999",
    "0m",
    "1n",
    "1.5Ki",
    "nginx:1.28",
    "nginx@sha256:" + "a" * 64,
    "registry.example.com:5000/team/api:2.1",
    "a" * 255 + ":1",
    "localhost/x",
    "10.0.0.0/8",
    "10.0.0.1/32",
    "fe80::/10",
    "::/0",
    "255.255.255.255/0",
    "example.com",
    "*.example.com",
    "a." * 100,
    "00:00",
    "23:59",
    "23:59:59.999999",
    "0",
    "1",
    "65535",
    "65536",
    "2",
    "100",
    "101",
    "1000000",
    "web-1",
    "web-" + "1" * 60,
]
SPECIAL = NUMBERS + FRAGMENTS + CRLF + TRAVERSAL + MARKUP + DATES + KUBE_WORDS + PLAUSIBLE + [""]

# Small random text, then one of the strings above, or some of them glued together.
SMALL_TEXT = st.text(ANY_CHAR, max_size=30)
HUGE = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["x", "9", "é", "\x00", "<a>", "{", "a=b&", "\ud800"]),
    st.sampled_from([300, 5_000, 70_000]),
)
VALUE = st.one_of(
    st.sampled_from(SPECIAL),
    SMALL_TEXT,
    st.integers().map(str),
    st.floats().map(repr),
    st.lists(st.one_of(st.sampled_from(SPECIAL), SMALL_TEXT), min_size=2, max_size=4).map("".join),
    HUGE,
)
# A field sent once or several times (a list).
FIELD_VALUE = st.one_of(VALUE, VALUE, VALUE, st.lists(VALUE, max_size=3))


class Known(int):
    """The n-th field the view's form reads (modulo their number): the same recipe fits every row."""

    def __repr__(self):
        return f"Known({int(self)})"


RANDOM_NAME = st.one_of(
    SMALL_TEXT,
    st.sampled_from(
        [
            "",
            " ",
            "csrfmiddlewaretoken",
            "__proto__",
            "page[]",
            "a.b",
            "file",
            "confirm",
            "next",
            "tenant",
            "weekdays",
            "clusters",
            "kubeconfig_file",
            "\x00",
            "\ud800",
        ]
    ),
)
FIELD_NAME = st.one_of(st.integers(0, 40).map(Known), st.integers(0, 40).map(Known), RANDOM_NAME)
QUERY_NAMES = [
    "page",
    "q",
    "sort",
    "namespace",
    "selector",
    "labels",
    "status",
    "from",
    "to",
    "since",
    "until",
    "result",
    "actor",
    "tenant",
    "action",
    "target",
    "name",
    "container",
    "next",
    "kind",
    "limit",
    "continue",
    "format",
    "tail",
    "follow",
    "order",
    "per_page",
    "search",
    "level",
    "language",
]
QUERY_NAME = st.one_of(st.sampled_from(QUERY_NAMES), st.sampled_from(QUERY_NAMES), RANDOM_NAME)
# Raw pieces put in the query string as they are: bad percent escapes, empty pairs.
RAW_QUERY = [
    "%ff%fe",
    "%",
    "%%",
    "a=%zz",
    "&&&",
    "=",
    "==",
    "a==b",
    ";a=b",
    "a[]=1",
    "%00=%00",
    "page=1&page=2",
    "+=+",
    "%c0%80=1",
]

HEADER_NAMES = [
    "HX-Request",
    "HX-Target",
    "HX-Trigger",
    "HX-Trigger-Name",
    "HX-Current-URL",
    "HX-Boosted",
    "HX-Prompt",
    "HX-History-Restore-Request",
    "Accept-Language",
    "Accept",
    "Referer",
    "Origin",
    "User-Agent",
    "X-Request-ID",
    "X-Forwarded-For",
]
# Headers as a WSGI server hands them over: the bytes read as latin-1.
HEADERS = st.dictionaries(
    st.sampled_from(HEADER_NAMES),
    st.one_of(st.just("true"), VALUE).map(lambda v: wire(v).decode("latin-1")),
    max_size=4,
)
QUERY = st.tuples(
    st.lists(st.tuples(QUERY_NAME, FIELD_VALUE), max_size=5), st.lists(st.sampled_from(RAW_QUERY), max_size=2)
)
FORM = st.lists(st.tuples(FIELD_NAME, FIELD_VALUE), max_size=6)
ENCODING = st.sampled_from(["urlencoded", "urlencoded", "multipart", "multipart", "json", "text/plain"])
# Fields that take a file upload (the YAML strategies below fill them too).
FILE_FIELDS = ("file", "kubeconfig_file")


def wire(text):
    """A str as bytes on the wire: lone surrogates go out as the invalid UTF-8 they would be."""
    return text.encode("utf-8", "surrogatepass")


def urlencoded(pairs):
    return "&".join(f"{quote(wire(name), safe='')}={quote(wire(value), safe='')}" for name, value in pairs)


def flatten(fields):
    return [(name, item) for name, value in fields.items() for item in (value if isinstance(value, list) else [value])]


def query_string(query):
    pairs, raw = query
    return "&".join(filter(None, [urlencoded(flatten(dict(pairs))), *raw]))


def form_body(fields, encoding):
    """(body, content type) of the fields in one of the encodings a browser (or not) sends."""
    if encoding == "urlencoded":
        return urlencoded(flatten(fields)).encode("ascii"), "application/x-www-form-urlencoded"
    if encoding == "json":
        return json.dumps(fields).encode("utf-8", "surrogatepass"), "application/json"
    if encoding == "text/plain":
        return "\r\n".join(f"{k}={v}" for k, v in flatten(fields)).encode("utf-8", "surrogatepass"), "text/plain"
    data = {}
    for name, value in fields.items():
        # Names go in the part headers as text; values as bytes, files as uploads.
        name = wire(name).decode("utf-8", "replace")
        items = value if isinstance(value, list) else [value]
        if name in FILE_FIELDS:
            data[name] = [SimpleUploadedFile(f"upload-{n}.yaml", wire(item)) for n, item in enumerate(items)]
        else:
            data[name] = [wire(item) for item in items]
    return data, MULTIPART_CONTENT  # the test client encodes it


def form_fields_of(row_fields, base, recipe):
    """The base data (valid for the view, or nothing) with the recipe's fields set over it."""
    fields = dict(base)
    for name, value in recipe:
        if isinstance(name, Known):
            if not row_fields:
                continue
            name = row_fields[name % len(row_fields)]
        fields[name] = value
    return fields


# --- YAML documents ----------------------------------------------------------------------

KINDS = [
    "Deployment",
    "StatefulSet",
    "Service",
    "Ingress",
    "ConfigMap",
    "HorizontalPodAutoscaler",
    "PersistentVolumeClaim",
    "Secret",
    "Namespace",
    "ClusterRole",
    "Pod",
    "List",
    "Config",
    "",
    "deployment",
    "Deployment\x00",
]
API_VERSIONS = ["v1", "apps/v1", "networking.k8s.io/v1", "autoscaling/v2", "batch/v1", "apps/v1beta1", "", "v1/../../x"]
K8S_KEYS = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "template",
    "containers",
    "image",
    "replicas",
    "selector",
    "matchLabels",
    "ports",
    "port",
    "targetPort",
    "env",
    "value",
    "valueFrom",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "items",
    "status",
    "data",
    "rules",
    "host",
    "paths",
    "backend",
    "service",
    "volumes",
    "securityContext",
    "<<",
    "clusters",
    "cluster",
    "server",
    "users",
    "user",
    "token",
    "contexts",
    "context",
    "current-context",
    "exec",
    "command",
    "auth-provider",
    "tokenFile",
    "proxy-url",
    "certificate-authority",
    "certificate-authority-data",
    "client-certificate-data",
    "client-key-data",
    "insecure-skip-tls-verify",
    "username",
    "password",
]
NAMES = ["web", "a", "-bad", "x" * 70, "Web", "web.1", "acme-web", "", "web\x00"]
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    SMALL_TEXT,
    st.sampled_from(SPECIAL + KINDS),
    st.binary(max_size=16),
    st.dates(),
    st.datetimes(),
)
NODE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(K8S_KEYS), SMALL_TEXT, st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def maybe(strategy):
    """Mostly the expected shape, sometimes any node in its place."""
    return st.one_of(strategy, strategy, strategy, NODE)


CONTAINER = maybe(
    st.fixed_dictionaries(
        {
            "name": maybe(st.sampled_from(NAMES)),
            "image": maybe(
                st.sampled_from(
                    [
                        "nginx:1.27",
                        "",
                        "bad image",
                        "nginx@sha256:00",
                        "registry.example:5000/a/b:c",
                        "UPPER:1",
                        "x" * 300,
                    ]
                )
            ),
        },
        optional={"ports": NODE},
    )
)
SPEC = st.fixed_dictionaries(
    {},
    optional={
        "replicas": maybe(st.integers(-2, 10**10)),
        "selector": NODE,
        "template": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "metadata": maybe(st.fixed_dictionaries({}, optional={"labels": NODE})),
                    "spec": maybe(st.fixed_dictionaries({"containers": maybe(st.lists(CONTAINER, max_size=2))})),
                },
            )
        ),
    },
)
METADATA = st.fixed_dictionaries(
    {"name": maybe(st.sampled_from(NAMES))},
    optional={
        "namespace": maybe(st.sampled_from(["acme-web", "globex-shop", "", "kube-system"])),
        "labels": NODE,
        "uid": NODE,
    },
)
K8S_OBJECT = st.fixed_dictionaries(
    {
        "apiVersion": maybe(st.sampled_from(API_VERSIONS)),
        "kind": maybe(st.sampled_from(KINDS)),
        "metadata": maybe(METADATA),
    },
    optional={"spec": maybe(SPEC), "status": NODE, "data": NODE},
)
K8S_LIST = st.fixed_dictionaries(
    {"apiVersion": st.just("v1"), "kind": st.just("List"), "items": maybe(st.lists(K8S_OBJECT, max_size=3))}
)
# Servers on loopback only: a request to an address nobody answers would wait for its timeout.
SERVERS = [
    "https://127.0.0.1:1",
    "http://127.0.0.1:1",
    "127.0.0.1:1",
    "",
    "https://[::1]:1",
    "https://127.0.0.1:99999",
    "https://127.0.0.1:-1",
    "unix:///var/run/x.sock",
    "https://user:pw@127.0.0.1:1/path?q#f",
    "https://127.0.0.1:1/\x00",
]
CREDENTIAL = st.sampled_from(
    ["", "abc", "!!!notbase64", "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==", "aGVsbG8=", "=", "\x00"]
)


def with_extras(safe, extras):
    """The fields the console accepts; now and then one it refuses (a file, a program, a proxy)."""
    return st.builds(
        lambda fields, more: {**fields, **more}, safe, st.one_of(st.just({}), st.just({}), st.just({}), extras)
    )


KUBE_CLUSTER = with_extras(
    st.fixed_dictionaries(
        {"server": maybe(st.sampled_from(SERVERS))},
        optional={
            "certificate-authority-data": maybe(CREDENTIAL),
            "insecure-skip-tls-verify": maybe(st.booleans()),
            "tls-server-name": maybe(st.sampled_from(["localhost", "a" * 300, "x y", "\x00"])),
        },
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "certificate-authority": st.sampled_from(TRAVERSAL),
            "proxy-url": st.sampled_from(SERVERS),
            "extensions": NODE,
        },
    ),
)
KUBE_USER = with_extras(
    st.fixed_dictionaries(
        {},
        optional={
            "token": maybe(CREDENTIAL),
            "client-certificate-data": maybe(CREDENTIAL),
            "client-key-data": maybe(CREDENTIAL),
            "username": maybe(st.sampled_from(NAMES)),
            "password": maybe(CREDENTIAL),
        },
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "tokenFile": st.sampled_from(TRAVERSAL),
            "as": NODE,
            "auth-provider": NODE,
            "exec": NODE.map(
                lambda node: {"command": "/bin/true", "apiVersion": "client.authentication.k8s.io/v1", "extra": node}
            ),
        },
    ),
)
KUBE_CONTEXT = st.fixed_dictionaries(
    {"cluster": maybe(st.sampled_from(NAMES)), "user": maybe(st.sampled_from(NAMES))}, optional={"namespace": NODE}
)


def named(key, strategy):
    return maybe(
        st.lists(
            maybe(st.fixed_dictionaries({"name": maybe(st.sampled_from(NAMES)), key: maybe(strategy)})),
            min_size=1,
            max_size=2,
        )
    )


# A kubeconfig the console accepts, up to the values: it gets as far as the client and the probe.
PEM_LIKE = [
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFiYwotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==",  # BEGIN/END around "abc"
    "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=",
    "LS0tLS1CRUdJTiAtLS0tLQ==",
]
CLEAN_KUBECONFIG = st.builds(
    lambda server, cluster, user, namespace: {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", **namespace}}],
    },
    st.sampled_from(
        [
            "https://127.0.0.1:1",
            "https://[::1]:1",
            "https://localhost:1",
            "http://127.0.0.1:1",
            "https://127.0.0.1:99999",
            "https://127.0.0.1",
            "https://127.0.0.1:1/base/path?x=1",
            "https://127.0.0.1:0",
            "https://127.0.0.1:1#f",
        ]
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "certificate-authority-data": st.sampled_from(PEM_LIKE),
            "insecure-skip-tls-verify": st.booleans(),
            "tls-server-name": st.sampled_from(["localhost", "a.b", "1.2.3.4", "::1"]),
        },
    ),
    st.one_of(
        st.fixed_dictionaries({"token": st.sampled_from(["abc", "x" * 5000, "a b", "é", "Bearer x", "a\tb"])}),
        st.fixed_dictionaries(
            {"client-certificate-data": st.sampled_from(PEM_LIKE), "client-key-data": st.sampled_from(PEM_LIKE)}
        ),
        st.fixed_dictionaries(
            {"username": st.sampled_from(["a", "é", "a:b"]), "password": st.sampled_from(["p", "", "é:é"])}
        ),
    ),
    st.fixed_dictionaries({}, optional={"namespace": st.sampled_from(["default", "x" * 300, "é"])}),
)
KUBECONFIG_DATA = st.fixed_dictionaries(
    {
        "apiVersion": maybe(st.just("v1")),
        "kind": maybe(st.just("Config")),
        "clusters": named("cluster", KUBE_CLUSTER),
        "users": named("user", KUBE_USER),
        "contexts": named("context", KUBE_CONTEXT),
    },
    optional={"current-context": maybe(st.sampled_from(NAMES)), "preferences": NODE},
)


def dumped(strategy, many=False):
    """Data as YAML or JSON text (JSON is YAML too), in block or flow style."""

    def dump(data, style, unicode):
        if style == "json":
            return json.dumps(data, default=str)
        write = yaml.dump_all if many else yaml.dump
        try:  # libyaml's dumper when there (generating is most of the time here); it refuses lone surrogates
            return write(
                data,
                Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                default_flow_style=style == "flow",
                allow_unicode=unicode,
            )
        except UnicodeEncodeError:
            return write(data, Dumper=yaml.SafeDumper, default_flow_style=style == "flow", allow_unicode=unicode)

    data = st.lists(strategy, min_size=1, max_size=3) if many else strategy
    return st.builds(
        dump, data, st.sampled_from(["block", "flow", "json"] if not many else ["block", "flow"]), st.booleans()
    )


# Pieces of YAML syntax that parsers trip on, glued together at random.
YAML_TOKENS = [
    "!!python/object/apply:os.system ['id']",
    "!!python/name:os.system",
    "!!python/object:builtins.dict {}",
    "!!binary ",
    "!!binary |\n  AP8=\n",
    "!!set ",
    "!!omap ",
    "!!pairs ",
    "!!timestamp ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!str ",
    "!!map ",
    "!!seq ",
    "!!null ",
    "!custom ",
    "!<tag:yaml.org,2002:int> ",
    "%TAG ! tag:x,2000:\n",
    "%YAML 1.1\n",
    "%YAML 9.9\n",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "<<: *a\n",
    "{",
    "}",
    "[",
    "]",
    "- ",
    ": ",
    "? ",
    ", ",
    "\n",
    "  ",
    "\t",
    "---\n",
    "...\n",
    "|",
    ">",
    "|-\n",
    "'",
    '"',
    "\\",
    "#",
    "@",
    "`",
    "%",
    "~",
    "null",
    "2001-13-01",
    "2001-01-01 25:00:00",
    "0x",
    "0o9",
    "0b2",
    ".inf",
    "-.nan",
    "1_0",
    "1:30",
    "yes",
    "NO",
    "=",
    "\x00",
    "\ufeff",
    "\ud800",
    "\x85",
    "\u2028",
    "a",
    "kind",
    "apiVersion: v1",
    "metadata:",
    "name: web",
    "clusters:",
    "- name: a",
]
YAML_SOUP = st.lists(st.one_of(st.sampled_from(YAML_TOKENS), SMALL_TEXT), max_size=25).map("".join)
DEEP = st.builds(
    lambda piece, n: piece(n),
    st.sampled_from(
        [
            lambda n: "[" * n + "]" * n,
            lambda n: "[" * n,
            lambda n: "{a: " * n,
            lambda n: "- " * n + "x",
            lambda n: '{"a":' * n + "1" + "}" * n,
            lambda n: "".join("  " * i + "k:\n" for i in range(min(n, 300))),
            lambda n: "".join(" " * i + "- \n" for i in range(min(n, 300))),
            lambda n: "!!seq [" * n,
            lambda n: "&a [" * n,
            lambda n: "<<: {" * n,
        ]
    ),
    st.integers(1, 3000),
)
MERGES = st.sampled_from(
    [
        "base: {a: 1}\nchild:\n  <<: {b: 2}\n  c: 3\n",
        "<<: [{a: 1}, {b: 2}]\n",
        "<<: 1\n",
        "<<: [1]\n",
        "<<: {a: 1}\n<<: {b: 2}\n",
        "a: {<<: {<<: {<<: {x: 1}}}}\n",
        "<<:\n",
        "? <<\n: {a: 1}\n",
    ]
)
DUPLICATES = st.builds(
    lambda key, n: "".join(f"{key}: {i}\n" for i in range(n)),
    st.sampled_from(["a", "kind", "metadata", "<<", "? [1]"]),
    st.integers(2, 50),
)
YAML_TEXT = st.one_of(
    dumped(K8S_OBJECT),
    dumped(K8S_OBJECT, many=True),
    dumped(K8S_LIST),
    dumped(KUBECONFIG_DATA),
    dumped(NODE),
    st.text(ANY_CHAR, max_size=200),
    YAML_SOUP,
    YAML_SOUP,
    DEEP,
    MERGES,
    DUPLICATES,
)
MANIFEST_TEXT = st.one_of(dumped(K8S_OBJECT), dumped(K8S_OBJECT, many=True), dumped(K8S_LIST), YAML_TEXT)
KUBECONFIG_TEXT = st.one_of(dumped(CLEAN_KUBECONFIG), dumped(KUBECONFIG_DATA), dumped(KUBECONFIG_DATA), YAML_TEXT)
# Bytes for the loaders that take them: UTF-8 text, other encodings, or noise.
YAML_BYTES = st.one_of(
    YAML_TEXT.map(wire), YAML_TEXT.map(lambda text: text.encode("utf-16", "surrogatepass")), st.binary(max_size=300)
)
# CPU time a loader may take, for the size of its input: linear in the size, nothing worse.
SECONDS_BASE, SECONDS_PER_MB = 1.0, 5.0


def within_bound(call, text):
    """Call and check it took no longer than its bound; returns or raises what the call did.
    The bound is on this thread's CPU time with the garbage collector off, and a call over it
    is timed once more: other processes on a shared machine and collecting the test's own
    garbage are not the loader's doing, while a slow path is slow every time."""
    SENT["yaml"] += 1
    size = len(wire(text)) if isinstance(text, str) else len(text)
    bound = SECONDS_BASE + SECONDS_PER_MB * size / 2**20
    for _attempt in range(2):
        result = error = None
        gc.disable()
        started = time.thread_time()
        try:
            result = call()
        except Exception as exc:  # the caller judges it
            error = exc
        finally:
            elapsed = time.thread_time() - started
            gc.enable()
        if elapsed < bound:
            break
    else:
        raise AssertionError(f"{elapsed:.1f} s of CPU time for {size} bytes (bound {bound:.1f} s)")
    if error is not None:
        raise error
    return result


@pytest.fixture
def english():
    with translation.override("en"):
        yield


# Each loader of user documents and the only error it may raise.
LOADERS = [
    ("load_yaml_documents", documents.load_yaml_documents, DocumentError),
    ("load_yaml", documents.load_yaml, DocumentError),
    ("imports.parse", lambda text: imports.parse(text, "acme-web"), ValidationError),
    ("parse_kubeconfig", parse_kubeconfig, ClusterError),
]
# Any document goes to every loader: a manifest is a bad kubeconfig, and the other way round.
ANY_DOCUMENT = st.one_of(YAML_TEXT, MANIFEST_TEXT, KUBECONFIG_TEXT)


@fuzz_settings(examples=1000)
@given(text=ANY_DOCUMENT)
# Found by this test (each once escaped as a plain exception, a 500 in the views):
@example("\x1f")  # the reader refuses the character while the loader is built, outside the try
@example("a: 2001-13-01")  # an implicit date that is no date: ValueError from the constructor
@example("!!timestamp x")  # AttributeError
@example("!!bool x")  # KeyError
@example("!!int")  # IndexError
@example("a: \ud800")  # a lone surrogate: UnicodeEncodeError while measuring the size
@example("apiVersion: v1\nkind: [x]\nmetadata: {name: web}\n")  # an unhashable kind
@example("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: [x]\n")  # spec not a mapping
@example(
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [x]}}}\n"
)  # a container that is a string
@example(
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
    "spec: {template: {spec: {containers: [{image: 5}]}}}\n"
)  # an image that is a number
@example(
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: null}\n"
    "spec: {template: {metadata: null, spec: {containers: [{image: nginx}]}}}\n"
)
@example(
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: [a]}\n"
    "spec: {template: {spec: {containers: [{image: nginx}]}}}\n"
)
def test_generated_documents_meet_only_the_loaders_errors(english, text):
    for _name, load, errors in LOADERS:
        try:
            within_bound(partial(load, text), text)
        except errors:
            pass


@fuzz_settings(examples=300)
@given(data=YAML_BYTES)
@example(b"\x80")  # not UTF-8: ReaderError while the loader is built, outside the try
@example(b"\x00")
def test_generated_bytes_meet_only_document_errors(english, data):
    for load in (documents.load_yaml_documents, documents.load_yaml):
        try:
            within_bound(partial(load, data), data)
        except DocumentError:
            pass


@pytest.mark.django_db
@fuzz_settings(examples=200)
@given(
    accepted=dumped(CLEAN_KUBECONFIG), any_text=KUBECONFIG_TEXT
)  # both: a one_of rarely picks the small space of the first
@example(accepted="", any_text="\ud800")  # UnicodeEncodeError while measuring the size (console/clusters.py)
def test_generated_kubeconfigs_are_connected_to_or_refused(english, accepted, any_text):
    """What the cluster form does with a kubeconfig: parse it, pick its context, build a client
    and probe the server (on loopback, refused at once)."""
    for text in (accepted, any_text):
        try:
            within_bound(partial(clusters.connect, text), text)
        except ClusterError:
            pass


HUGE_YAML = st.builds(
    lambda make, n: make(n),
    st.sampled_from(
        [
            lambda n: "a: " + "x" * n,
            lambda n: 'a: "' + "\\x41" * (n // 4) + '"',
            lambda n: "a: |\n" + "  line\n" * (n // 7),
            lambda n: "#" * n,
            lambda n: "\n" * n,
            lambda n: " " * n,
            lambda n: "k" * n + ": 1",
            lambda n: "---\n" * (n // 4),
            lambda n: "a: !!binary " + "QUFB" * (n // 4),
            lambda n: "[" + "x" * n,
            lambda n: '"' + "\\" * n,
            lambda n: "a: 'b" + "''" * (n // 2) + "'",
        ]
    ),
    st.sampled_from(
        [64 * 1024, 256 * 1024, documents.MAX_BYTES - 16, documents.MAX_BYTES + 1, 4 * documents.MAX_BYTES]
    ),
)


@fuzz_settings(examples=20)
@given(text=HUGE_YAML)
def test_huge_documents_are_read_or_refused_in_time(english, text):
    for call, errors in (
        (lambda: documents.load_yaml_documents(text), DocumentError),
        (lambda: imports.parse(text, "acme-web"), ValidationError),
    ):
        try:
            within_bound(call, text)
        except errors:
            pass


# --- websocket frames ----------------------------------------------------------------------

GROUP_PREFIXES = [
    "user",
    "tenant",
    "project",
    "app",
    "job",
    "kind",
    "nskind",
    "podlog",
    "secret",
    "USER",
    "",
    "user-user",
]
GROUP = st.one_of(
    st.builds(
        lambda prefix, ident: f"{prefix}-{ident}",
        st.sampled_from(GROUP_PREFIXES),
        st.one_of(
            st.integers(-1, 10**25).map(str),
            st.sampled_from(["1.Pod", "1.acme-web.Pod", "1.globex-shop.Pod", "١", "²", "..", "x" * 95, ""]),
            SMALL_TEXT,
        ),
    ),
    SMALL_TEXT,
    st.sampled_from(SPECIAL),
)
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), SMALL_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(SMALL_TEXT, inner, max_size=3)),
    max_leaves=8,
)
JSON_SOUP = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "{",
                "}",
                "[",
                "]",
                '"',
                ":",
                ",",
                "\\",
                "\\u",
                "\\ud800",
                "subscribe",
                '"subscribe"',
                "null",
                "true",
                "1e999",
                "NaN",
                "-",
                "0",
                " ",
                "\n",
                "\x00",
            ]
        ),
        SMALL_TEXT,
    ),
    max_size=20,
).map("".join)


class KnownGroup(int):
    """The n-th group of the test's world (modulo their number), which some roles may follow."""

    def __repr__(self):
        return f"KnownGroup({int(self)})"


FRAME = st.one_of(
    st.integers(0, 40).map(KnownGroup),
    st.builds(
        lambda group, extra: json.dumps({"subscribe": group, **extra}),
        GROUP,
        st.dictionaries(SMALL_TEXT, JSON_VALUE, max_size=2),
    ),
    st.builds(lambda group: json.dumps({"subscribe": group}, ensure_ascii=False), GROUP),
    JSON_VALUE.map(json.dumps),
    JSON_SOUP,
    SMALL_TEXT,
    st.sampled_from(SPECIAL),
    st.builds(lambda piece, n: piece * n, st.sampled_from(["[", '{"a":', "x", "\\", '"']), st.integers(1, 5000)),
    st.binary(max_size=64),
)


STILL_THERE = "still there?"  # the last frame: the socket still answers


def frame_problems(user, frames, groups):
    """Talk to the consumer: every frame must get an answer it can send (or, a subscription
    the user may make, its snapshot or nothing), and the socket must answer at the end."""
    frames = [
        json.dumps({"subscribe": groups[frame % len(groups)]}) if isinstance(frame, KnownGroup) else frame
        for frame in frames
    ]
    expect_answer = [answered(user, frame) for frame in frames]

    async def application(scope, receive, send):
        scope = {**scope, "user": user, "cookies": {"django_language": "en"}}
        return await LiveConsumer.as_asgi()(scope, receive, send)

    async def conversation():
        problems = []
        communicator = WebsocketCommunicator(application, "/ws/live/")
        connected, _code = await communicator.connect(timeout=5)
        assert connected
        try:
            for frame, answer in zip(frames + [STILL_THERE], expect_answer + [True], strict=True):
                SENT["websocket"] += frame is not STILL_THERE
                await communicator.send_input(
                    {"type": "websocket.receive", "bytes" if isinstance(frame, bytes) else "text": frame}
                )
                if not answer:
                    continue
                output = await communicator.receive_output(timeout=5)  # the consumer's exception comes out here
                text = output.get("text") or ""
                if output.get("type") != "websocket.send" or not text:
                    problems.append(f"{frame!r:.100}: {output!r:.200} instead of an answer")
                    break
                try:
                    text.encode("utf-8")  # what daphne does before it sends a text frame
                except UnicodeEncodeError:
                    problems.append(f"{frame!r:.100}: the answer is not UTF-8 text")
        finally:
            await communicator.disconnect()
        return problems

    return async_to_sync(conversation)()


def answered(user, frame):
    """Whether the consumer answers the frame: always, but for a subscription the user may make
    to a group without a status snapshot (joined in silence)."""
    if isinstance(frame, bytes) or len(frame) > 4096:
        return True
    try:
        group = documents.load_json(frame, max_bytes=4096, max_depth=8).get("subscribe")
    except (ValueError, AttributeError):
        return True
    if not isinstance(group, str) or not realtime.may_subscribe(user, group):
        return True
    return bool(realtime.snapshot(user, group))


@pytest.fixture
def socket_world(transactional_db):
    """The four users, and the groups of the world's objects (some theirs, some not)."""
    # Committed data: the consumer's database_sync_to_async closes the connection after each
    # call, which would end the test's own transaction.
    cluster, _tenant, _project, users = setup_world()
    groups = [f"user-{user.pk}" for user in users.values()] + [
        f"tenant-{pk}" for pk in Tenant.objects.values_list("pk", flat=True)
    ]
    groups += [f"project-{pk}" for pk in Project.objects.values_list("pk", flat=True)] + [
        f"app-{pk}" for pk in App.objects.values_list("pk", flat=True)
    ]
    groups += [
        f"kind-{cluster.pk}.Pod",
        f"nskind-{cluster.pk}.acme-web.Pod",
        f"nskind-{cluster.pk}.globex-shop.Deployment",
    ]
    return [users[role] for role in FUZZ_ROLES], groups


@pytest.mark.django_db(transaction=True)
@fuzz_settings(examples=800)
@given(who=st.integers(0, len(FUZZ_ROLES) - 1), frames=st.lists(FRAME, min_size=1, max_size=20))
def test_generated_frames_are_answered_and_the_socket_stays_open(socket_world, who, frames):
    users, groups = socket_world
    problems = frame_problems(users[who], frames, groups)
    assert not problems, "\n".join(problems)


# --- HTTP: every URL of the matrix --------------------------------------------------------


class Sender:
    """One signed-in client per role; each request runs in a savepoint rolled back afterwards,
    with the client's cookies put back, so every input meets the same world."""

    class RollBack(Exception):
        pass

    def __init__(self, users):
        self.clients = {}
        for role in HTTP_ROLES:
            client = Client(
                HTTP_ACCEPT_LANGUAGE="en", raise_request_exception=True
            )  # a view's exception surfaces with its traceback
            if role != "anonymous":
                client.force_login(users[role])
            self.clients[role] = client

    def send(self, role, method, url, generated=True, **kwargs):
        SENT["http"] += generated
        client = self.clients[role]
        cookies = copy.deepcopy(client.cookies)
        try:
            with transaction.atomic():
                response = getattr(client, method)(url, **kwargs)
                raise self.RollBack
        except self.RollBack:
            pass
        finally:
            client.cookies = cookies
        assert response.status_code < 500, f"{role} {method.upper()} {url[:200]}: status {response.status_code}"
        if response.status_code >= 400:
            assert has_message(response), (
                f"{role} {method.upper()} {url[:200]}: {response.status_code} without a message"
            )
        return response


@pytest.fixture
def http_world(request, settings):
    settings.LOGIN_MAX_FAILURES = 10**6  # every sign-in attempt reaches the form, not the lockout
    name, args, method, data, _expected = request.param
    cluster, tenant, project, users = setup_world()
    url = url_for(name, args, cluster)
    if data and data.get("cluster") == "CLUSTER":
        data = {**data, "cluster": cluster.pk}
    base = {key: str(value) for key, value in (data if method == "post" else FORM_PAGES.get(name, {})).items()}
    fields, _sorts = form_fields(name, base, tenant, project)
    sender = Sender(users)
    # The roles the view lets in (anonymous only matters on the sign-in page): the others are
    # refused at the door, before any parsing. Where all are refused (an object that does not
    # exist, signing out), the door itself gets the inputs: middleware, access checks, 404 pages.
    allowed = [
        role
        for role in HTTP_ROLES
        if not refused(sender.send(role, method, url, generated=False, **({"data": base} if method == "post" else {})))
    ]
    allowed = allowed or list(FUZZ_ROLES)
    posts = method == "post" or name in FORM_PAGES
    return {
        "name": name,
        "url": url,
        "method": method,
        "base": base or {},
        "fields": fields,
        "sender": sender,
        "allowed": allowed,
        "posts": posts,
    }


# The fields that carry a YAML document, by view: pasted, or uploaded (multipart bodies only).
DOCUMENT_FIELDS = {
    "console:cluster_add": ("kubeconfig", "kubeconfig_file"),
    "workloads:app_import": ("manifests", "file"),
    "workloads:object_yaml": ("text",),
}
DOCUMENT = st.tuples(st.booleans(), st.one_of(KUBECONFIG_TEXT, MANIFEST_TEXT))
ROWS = MATRIX  # every URL, and each method it takes, once
ROW_IDS = [f"{row[0]}-{row[2]}" for row in ROWS]
HTTP_EXAMPLES = 900  # shared by the rows: a request costs ~30 ms, the most of this file's time


@pytest.mark.django_db
@pytest.mark.parametrize("http_world", ROWS, ids=ROW_IDS, indirect=True)
@fuzz_settings(examples=max(8, HTTP_EXAMPLES // len(ROWS)), shrink=False)
@given(
    role=st.sampled_from(HTTP_ROLES),
    query=QUERY,
    recipe=FORM,
    keep_base=st.booleans(),
    encoding=ENCODING,
    document=DOCUMENT,
    headers=HEADERS,
    behind_proxy=st.booleans(),
)
# Found by this test: behind a proxy, an X-Forwarded-For that is no address went into the
# operation log's inet column (console/middleware.py): a DataError, a 500 on every POST.
@example(
    role="operator",
    query=([], []),
    recipe=[],
    keep_base=True,
    encoding="urlencoded",
    document=(False, ""),
    headers={"X-Forwarded-For": "1.2.3.4, unknown"},
    behind_proxy=True,
)
@example(
    role="tenant_member",
    query=([], []),
    recipe=[],
    keep_base=True,
    encoding="urlencoded",
    document=(False, ""),
    headers={"X-Forwarded-For": "fe80::1%eth0"},
    behind_proxy=True,
)
def test_generated_queries_and_forms_never_make_a_500(
    http_world, role, query, recipe, keep_base, encoding, document, headers, behind_proxy
):
    world = http_world
    role = role if role in world["allowed"] else world["allowed"][HTTP_ROLES.index(role) % len(world["allowed"])]
    url = f"{world['url']}?{query_string(query)}"
    with override_settings(TRUST_X_FORWARDED_FOR=behind_proxy):  # X-Forwarded-For read as the source address, or not
        send_both(world, role, url, recipe, keep_base, encoding, document, headers)


def send_both(world, role, url, recipe, keep_base, encoding, document, headers):
    """The query on a GET (where the view takes GET), the query and a form on a POST (where it takes POST)."""
    if world["method"] == "get":
        world["sender"].send(role, "get", url, headers=headers)
    if world["posts"]:
        base = dict(world["base"]) if keep_base else {}
        upload, text = document
        if world["name"] in DOCUMENT_FIELDS:  # a generated kubeconfig or manifest where the view reads one
            pasted_or_uploaded = DOCUMENT_FIELDS[world["name"]]
            base[pasted_or_uploaded[-1 if upload and encoding == "multipart" else 0]] = text
        fields = form_fields_of(world["fields"], base, recipe)
        body, content_type = form_body(fields, encoding)
        world["sender"].send(role, "post", url, data=body, content_type=content_type, headers=headers)


# --- the last test: the volume ------------------------------------------------------------


def test_at_least_10000_inputs_were_sent(request, capsys):
    selected = [item for item in request.session.items if item.module is request.module]
    tests = {name for name in globals() if name.startswith("test_")}
    with capsys.disabled():  # shown with -q too: the figure the issue asks for
        print(
            f"\nfuzz inputs sent: {sum(SENT.values())} ({', '.join(f'{kind} {n}' for kind, n in sorted(SENT.items()))})"
        )
    if {item.originalname for item in selected} != tests or len(selected) != len(tests) - 1 + len(ROWS):
        pytest.skip("only part of the fuzz tests ran")
    assert sum(SENT.values()) >= MINIMUM_INPUTS, SENT
