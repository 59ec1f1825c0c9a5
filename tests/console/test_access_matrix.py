"""Role × URL matrix: every console URL, for every role. A new URL without a row here fails
`test_every_console_url_is_in_the_matrix`."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.models import OperationLogEntry

from ..factories import mk_user

ROLES = ("anonymous", "operator", "auditor", "tenant_user")
LOGIN = "/login/"

# name, args, method, data, expected status per role (302 to the sign-in page for anonymous)
MATRIX = [
    ("console:dashboard", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200}),
    ("console:login", [], "get", None, {"anonymous": 200, "operator": 302, "auditor": 302, "tenant_user": 302}),
    ("console:logout", [], "post", {}, {"anonymous": 302, "operator": 302, "auditor": 302, "tenant_user": 302}),
    ("console:password_change", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200}),
    ("console:section", ["storage"], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200}),
    ("console:cluster_list", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:cluster_add", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 403, "tenant_user": 403}),
    ("console:cluster", ["nowhere"], "get", None, {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403}),
    ("console:cluster_refresh", ["nowhere"], "post", {}, {"anonymous": 302, "operator": 404, "auditor": 403, "tenant_user": 403}),
    ("console:cluster_remove", ["nowhere"], "post", {"confirm_name": "nowhere"}, {"anonymous": 302, "operator": 404, "auditor": 403, "tenant_user": 403}),
    ("console:resource_index", ["nowhere"], "get", None, {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403}),
    ("console:resource_list", ["nowhere", "Pod"], "get", None, {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403}),
    ("console:resource", ["nowhere", "Pod", "ns", "x"], "get", None, {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403}),
    ("console:oplog", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:oplog_export", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:oplog_verify", [], "post", {}, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:notification_list", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200}),
    ("console:notification_read", [987654], "post", {}, {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 404}),
    ("console:notification_read_all", [], "post", {}, {"anonymous": 302, "operator": 302, "auditor": 302, "tenant_user": 302}),
    (
        "console:notice_send",
        [],
        "post",
        {"audience": "all", "level": "info", "title": "Maintenance", "body": "tonight"},
        {"anonymous": 302, "operator": 302, "auditor": 403, "tenant_user": 403},
    ),
    ("set_language", [], "post", {"language": "en", "next": "/"}, {r: 302 for r in ROLES}),
    ("admin:index", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 302, "tenant_user": 302}),
]


def all_url_names(patterns=None, namespace=""):
    names = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= all_url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(namespace + pattern.name)
    return names


def test_every_console_url_is_in_the_matrix():
    covered = {row[0] for row in MATRIX}
    console_names = {name for name in all_url_names() if not name.startswith("admin:")}
    assert console_names - covered == set()


def client_for(client, role):
    if role != "anonymous":
        client.force_login(mk_user(f"{role}-user", {"operator": "operator", "auditor": "auditor"}.get(role, ""), password=None))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,args,method,data,expected", MATRIX, ids=[row[0] for row in MATRIX])
def test_role_url_matrix(client, role, name, args, method, data, expected):
    client = client_for(client, role)
    url = reverse(name, args=args)
    response = getattr(client, method)(url, data) if method == "post" else client.get(url)
    assert response.status_code == expected[role], (name, role, response.status_code)
    if role == "anonymous" and expected[role] == 302 and name not in ("set_language", "console:logout"):
        assert response["Location"].startswith(LOGIN) or "/login/" in response["Location"]
    if method == "post":
        # every mutating request lands in the operation log, allowed or not
        assert OperationLogEntry.objects.exists()
        if expected[role] in (302, 403) and role != "operator" and name not in ("set_language", "console:logout", "console:notification_read_all"):
            assert OperationLogEntry.objects.filter(result="denied").exists()
