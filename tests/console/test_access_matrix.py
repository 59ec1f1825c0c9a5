"""Role × URL matrix: every console URL, for every role. A new URL without a row here fails
`test_every_console_url_is_in_the_matrix`."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.oplog.models import OperationLogEntry

from ..factories import create_two_tenants, mk_user

ROLES = ("anonymous", "operator", "auditor", "tenant_user", "tenant_admin", "tenant_member", "other_member")
# tenant_user belongs to no tenant; tenant_admin and tenant_member belong to acme, whose
# objects the tenant rows name; other_member is an admin of globex. Rows that do not name
# the three tenant roles expect for them what they expect for tenant_user.
TENANT_ROLES = ("tenant_admin", "tenant_member", "other_member")


def tenant_row(name, args, method, data, operator, auditor, admin, member, other=404, tenant_user=None):
    """A tenant URL: anonymous goes to sign-in; tenant_user (no tenant) sees what a foreigner sees."""
    return (
        name,
        args,
        method,
        data,
        {
            "anonymous": 302,
            "operator": operator,
            "auditor": auditor,
            "tenant_user": other if tenant_user is None else tenant_user,
            "tenant_admin": admin,
            "tenant_member": member,
            "other_member": other,
        },
    )


QUOTA = {"quota_cpu": "1", "quota_memory": "1Gi"}
LOGIN = "/login/"
DEPLOY = {"name": "web", "kind": "Deployment", "image": "nginx:1.27", "replicas": "1"}
APP_ARGS = ["acme", "acme-web", "web"]
VOLUME_ARGS = ["acme", "acme-web", "data"]

# name, args, method, data, expected status per role (302 to the sign-in page for anonymous)
MATRIX = [
    ("console:dashboard", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200}),
    (
        "console:dashboard_panel",
        ["clusters"],
        "get",
        None,
        {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 404},
    ),
    ("console:login", [], "get", None, {"anonymous": 200, "operator": 302, "auditor": 302, "tenant_user": 302}),
    ("console:logout", [], "post", {}, {"anonymous": 302, "operator": 302, "auditor": 302, "tenant_user": 302}),
    (
        "console:password_change",
        [],
        "get",
        None,
        {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200},
    ),
    (
        "console:section",
        ["templates"],
        "get",
        None,
        {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200},
    ),
    ("console:cluster_list", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:cluster_add", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 403, "tenant_user": 403}),
    (
        "console:cluster",
        ["nowhere"],
        "get",
        None,
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403},
    ),
    (
        "console:cluster_refresh",
        ["nowhere"],
        "post",
        {},
        {"anonymous": 302, "operator": 404, "auditor": 403, "tenant_user": 403},
    ),
    (
        "console:cluster_remove",
        ["nowhere"],
        "post",
        {"confirm_name": "nowhere"},
        {"anonymous": 302, "operator": 404, "auditor": 403, "tenant_user": 403},
    ),
    (
        "console:resource_index",
        ["nowhere"],
        "get",
        None,
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403},
    ),
    (
        "console:resource_list",
        ["nowhere", "Pod"],
        "get",
        None,
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403},
    ),
    (
        "console:resource",
        ["nowhere", "Pod", "ns", "x"],
        "get",
        None,
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 403},
    ),
    ("console:oplog", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:oplog_export", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    ("console:oplog_verify", [], "post", {}, {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 403}),
    (
        "console:notification_list",
        [],
        "get",
        None,
        {"anonymous": 302, "operator": 200, "auditor": 200, "tenant_user": 200},
    ),
    (
        "console:notification_read",
        [987654],
        "post",
        {},
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 404},
    ),
    (
        "console:notification_read_all",
        [],
        "post",
        {},
        {"anonymous": 302, "operator": 302, "auditor": 302, "tenant_user": 302},
    ),
    (
        "console:notice_send",
        [],
        "post",
        {"audience": "all", "level": "info", "title": "Maintenance", "body": "tonight"},
        {"anonymous": 302, "operator": 302, "auditor": 403, "tenant_user": 403},
    ),
    ("console:job", [987654], "get", None, {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 404}),
    (
        "console:job_cancel",
        [987654],
        "post",
        {},
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 404},
    ),
    tenant_row("tenants:tenant_list", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row("tenants:tenant_add", [], "get", None, 200, 403, 403, 403, other=403),
    tenant_row("tenants:tenant_switch", [], "post", {"tenant": "acme"}, 302, 302, 302, 302),
    tenant_row("tenants:tenant", ["acme"], "get", None, 200, 200, 200, 200),
    tenant_row("tenants:tenant_edit", ["acme"], "get", None, 200, 403, 403, 403, other=403),
    tenant_row("tenants:tenant_suspend", ["acme"], "post", {}, 302, 403, 403, 403, other=403),
    tenant_row("tenants:tenant_resume", ["acme"], "post", {}, 400, 403, 403, 403, other=403),
    tenant_row("tenants:tenant_delete", ["acme"], "post", {"confirm_name": "acme"}, 302, 403, 403, 403, other=403),
    tenant_row(
        "tenants:member_add", ["acme"], "post", {"username": "newbie", "role": "tenant-member"}, 302, 403, 302, 403
    ),
    tenant_row("tenants:member_remove", ["acme", 987654], "post", {}, 400, 403, 400, 403),
    (
        "tenants:invitation_accept",
        [],
        "post",
        {"token": "not-a-token"},
        {"anonymous": 302, "operator": 403, "auditor": 403, "tenant_user": 403},
    ),
    tenant_row(
        "tenants:project_add",
        ["acme"],
        "post",
        {"cluster": "CLUSTER", "short_name": "api", **QUOTA},
        302,
        403,
        302,
        403,
    ),
    tenant_row("tenants:project", ["acme", "acme-web"], "get", None, 200, 200, 200, 200),
    tenant_row("tenants:project_edit", ["acme", "acme-web"], "post", QUOTA, 302, 403, 302, 403),
    tenant_row("tenants:project_retry", ["acme", "acme-web"], "post", {}, 302, 403, 302, 403),
    tenant_row(
        "tenants:project_delete", ["acme", "acme-web"], "post", {"confirm_name": "acme-web"}, 302, 403, 302, 403
    ),
    tenant_row(
        "tenants:path_add", ["acme", "acme-web"], "post", {"kind": "cidr", "cidr": "10.0.0.0/8"}, 302, 403, 302, 403
    ),
    tenant_row("tenants:path_remove", ["acme", "acme-web", 987654], "post", {}, 400, 403, 400, 403),
    # workloads: the app rows name an app acme-web does not have (404 for all who may see the
    # namespace); tests/workloads/test_pages.py checks the same views against a real app.
    tenant_row("workloads:app_list", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row("workloads:app_add", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row("workloads:app_add", ["acme", "acme-web"], "post", DEPLOY, 400, 403, 400, 400),
    tenant_row("workloads:app_import", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row("workloads:app_import", ["acme", "acme-web"], "post", {"manifests": "kind: ["}, 400, 403, 400, 400),
    *[
        tenant_row(f"workloads:{name}", APP_ARGS + extra, method, data, 404, 404, 404, 404)
        for name, extra, method, data in [
            ("app", [], "get", None),
            ("app_upgrade", [], "get", None),
            ("app_scale", [], "post", {"replicas": "2"}),
            ("app_pause", [], "post", {}),
            ("app_resume", [], "post", {}),
            ("app_rollback", [], "post", {"revision": "1"}),
            ("app_expose", [], "post", {"service_type": "ClusterIP", "port": "80"}),
            ("app_delete", [], "post", {"confirm_name": "web"}),
            ("pod_restart", ["web-1"], "post", {}),
            ("pod_log", ["web-1"], "get", None),
            ("pod_terminal", ["web-1"], "get", None),
            ("schedule_add", [], "post", {"at": "08:00", "replicas": "3", "weekdays": ["0"]}),
            ("schedule_remove", [1], "post", {}),
            ("autoscaler_set", [], "post", {"min_replicas": "1", "max_replicas": "3", "cpu": "70"}),
            ("autoscaler_remove", [], "post", {}),
            ("canary_start", [], "post", {"image": "nginx:1.28", "replicas": "1", "weight": "20"}),
            ("canary_traffic", [], "post", {"weight": "50"}),
            ("canary_promote", [], "post", {}),
            ("canary_abort", [], "post", {}),
        ]
    ],
    # Secrets and ConfigMaps: members and operators (auditors 403: they read the log, not the Secrets). acme-web's
    # cluster cannot be reached: the pages say so (200), actions and reads of one object are refused (400).
    tenant_row("workloads:secret_list", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row("workloads:secret_add", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row(
        "workloads:secret_add",
        ["acme", "acme-web"],
        "post",
        {"name": "db", "type": "Opaque", "key": "A", "value": "b"},
        400,
        403,
        400,
        400,
    ),
    tenant_row("workloads:secret_edit", ["acme", "acme-web", "db"], "get", None, 400, 403, 400, 400),
    tenant_row(
        "workloads:secret_edit", ["acme", "acme-web", "db"], "post", {"key": "A", "value": "b"}, 400, 403, 400, 400
    ),
    tenant_row("workloads:secret_reveal", ["acme", "acme-web", "db"], "post", {"key": "A"}, 400, 403, 400, 400),
    tenant_row(
        "workloads:secret_delete", ["acme", "acme-web", "db"], "post", {"confirm_name": "db"}, 400, 403, 400, 400
    ),
    tenant_row("workloads:configmap_list", ["acme", "acme-web"], "get", None, 200, 200, 200, 200),
    tenant_row("workloads:configmap_add", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row(
        "workloads:configmap_add",
        ["acme", "acme-web"],
        "post",
        {"name": "cfg", "key": "A", "value": "b"},
        400,
        403,
        400,
        400,
    ),
    tenant_row("workloads:configmap_edit", ["acme", "acme-web", "cfg"], "get", None, 400, 403, 400, 400),
    tenant_row(
        "workloads:configmap_edit", ["acme", "acme-web", "cfg"], "post", {"key": "A", "value": "b"}, 400, 403, 400, 400
    ),
    tenant_row(
        "workloads:configmap_delete", ["acme", "acme-web", "cfg"], "post", {"confirm_name": "cfg"}, 400, 403, 400, 400
    ),
    tenant_row("workloads:object_yaml", ["acme", "acme-web", "Service", "web"], "get", None, 400, 403, 400, 400),
    tenant_row(
        "workloads:object_yaml",
        ["acme", "acme-web", "Service", "web"],
        "post",
        {"text": "kind: [", "action": "preview"},
        400,
        403,
        400,
        400,
    ),
    # storage: the list; a volume acme-web does not have (404 for all who may see the namespace);
    # tests/storage/test_volumes.py checks the same views against real volumes on a real Ceph.
    tenant_row("storage:volume_list", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row("storage:volume_add", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row("storage:volume_add", ["acme", "acme-web"], "post", {"name": "data", "size": "1Gi"}, 400, 403, 400, 400),
    *[
        tenant_row(f"storage:{name}", VOLUME_ARGS + extra, method, data, 404, 404, 404, 404)
        for name, extra, method, data in [
            ("volume", [], "get", None),
            ("volume_resize", [], "post", {"size": "2Gi"}),
            ("volume_delete", [], "post", {"confirm_name": "data"}),
            ("backup_add", [], "post", {}),
            ("backup_rollback", [1], "post", {"confirm": "on"}),
            ("backup_restore", [1], "post", {"name": "copy"}),
            ("backup_delete", [1], "post", {"confirm": "on"}),
            ("backup_consolidate", [1], "post", {"confirm": "on"}),
            ("backup_policy", [], "post", {"at": "02:00", "keep_daily": "7", "keep_weekly": "4"}),
            ("backup_policy_remove", [], "post", {}),
        ]
    ],
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


def client_for(client, role, tenant_users):
    if role in tenant_users:
        client.force_login(tenant_users[role])
    elif role != "anonymous":
        client.force_login(
            mk_user(f"{role}-user", {"operator": "operator", "auditor": "auditor"}.get(role, ""), password=None)
        )
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,args,method,data,expected", MATRIX, ids=[row[0] for row in MATRIX])
def test_role_url_matrix(client, role, name, args, method, data, expected):
    cluster, _acme, _globex, _project, tenant_users = create_two_tenants()
    client = client_for(client, role, tenant_users)
    url = reverse(name, args=args)
    if data and data.get("cluster") == "CLUSTER":
        data = {**data, "cluster": cluster.pk}
    response = getattr(client, method)(url, data) if method == "post" else client.get(url)
    wanted = expected.get(role, expected["tenant_user"])
    assert response.status_code == wanted, (name, role, response.status_code)
    if role == "anonymous" and expected[role] == 302 and name not in ("set_language", "console:logout"):
        assert response["Location"].startswith(LOGIN) or "/login/" in response["Location"]
    if method == "post":
        # every mutating request lands in the operation log, allowed or not
        assert OperationLogEntry.objects.exists()
        if wanted == 403 or (role == "anonymous" and name not in ("set_language", "console:logout")):
            assert OperationLogEntry.objects.filter(result="denied").exists()
