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
    (  # every section is built: none has a placeholder page
        "console:section",
        ["templates"],
        "get",
        None,
        {"anonymous": 302, "operator": 404, "auditor": 404, "tenant_user": 404},
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
    # templates (workloads/stacks): the list for everyone signed in; adding and extracting for whoever may work in
    # a tenant; price tables for operators; a template or stack that does not exist is a 404 for all (real ones, and
    # other tenants' ones, in tests/stacks/test_pages.py).
    tenant_row("stacks:template_list", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=200),
    tenant_row("stacks:template_add", [], "get", None, 200, 403, 200, 200, other=200, tenant_user=403),
    tenant_row(
        "stacks:template_add",
        [],
        "post",
        {"name": "t", "owner": "acme", "manifests": "kind: ["},
        400,
        403,
        400,
        400,
        other=400,
        tenant_user=403,
    ),
    tenant_row("stacks:extract", [], "get", None, 200, 403, 200, 200, other=200, tenant_user=403),
    tenant_row("stacks:extract", [], "post", {}, 400, 403, 400, 400, other=400, tenant_user=403),
    tenant_row("stacks:prices", ["c1"], "get", None, 200, 403, 403, 403, other=403, tenant_user=403),
    tenant_row("stacks:prices", ["c1"], "post", {"currency": "USD"}, 400, 403, 403, 403, other=403, tenant_user=403),
    tenant_row("stacks:prices", ["nowhere"], "get", None, 404, 403, 403, 403, other=403, tenant_user=403),
    *[
        tenant_row(f"stacks:{name}", args, method, data, 404, 404, 404, 404, tenant_user=404)
        for name, args, method, data in [
            ("template", [999], "get", None),
            ("version_add", [999], "get", None),
            ("version_add", [999], "post", {"manifests": "x"}),
            ("version", [999, 1], "get", None),
            ("template_copy", [999], "post", {"name": "copy"}),
            ("template_delete", [999], "post", {"confirm_name": "x"}),
            ("instantiate", [999], "get", None),
            ("instantiate", [999], "post", {}),
            ("stack", ["acme", "acme-web", "nope"], "get", None),
            ("stack_upgrade", ["acme", "acme-web", "nope"], "get", None),
            ("stack_upgrade", ["acme", "acme-web", "nope"], "post", {}),
            ("stack_delete", ["acme", "acme-web", "nope"], "post", {"confirm_name": "nope"}),
            ("stack_replicate", ["acme", "acme-web", "nope"], "post", {"project": "1"}),
        ]
    ],
    # pipelines: the list; making one (a bad form: 400); a pipeline or run acme-web does not have (404 for all
    # who may see the namespace); the webhook takes a provider's signature, not a session (tests/pipelines/).
    tenant_row("pipelines:pipeline_list", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row("pipelines:pipeline_add", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row("pipelines:pipeline_add", ["acme", "acme-web"], "post", {"name": "ci"}, 400, 403, 400, 400),
    tenant_row("pipelines:pipeline_import", ["acme", "acme-web"], "get", None, 200, 403, 200, 200),
    tenant_row("pipelines:pipeline_import", ["acme", "acme-web"], "post", {"text": "kind: ["}, 400, 403, 400, 400),
    *[
        tenant_row(f"pipelines:{name}", ["acme", "acme-web", "web-ci", *extra], method, data, 404, 404, 404, 404)
        for name, extra, method, data in [
            ("pipeline", [], "get", None),
            ("pipeline_edit", [], "get", None),
            ("pipeline_delete", [], "post", {}),
            ("pipeline_run", [], "post", {}),
            ("pipeline_secret", [], "post", {}),
            ("pipeline_export", [], "get", None),
            ("pipeline_builds", [], "post", {"enabled": "on"}),
            ("run", [1], "get", None),
            ("run_cancel", [1], "post", {}),
            ("run_rerun", [1], "post", {}),
        ]
    ],
    ("pipelines:webhook", [999, "github"], "post", {}, {r: 404 for r in ROLES}),
    # topology: whole clusters for operators and auditors; a tenant's and its namespaces' graphs for
    # the tenant (404 for others, as a typo); tests/topology/test_pages.py checks them with objects in the mirror.
    tenant_row("topology:index", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    *[
        (name, args, "get", None, {"anonymous": 302, "operator": status, "auditor": status, "tenant_user": 403})
        for name, args, status in [
            ("topology:cluster", ["c1"], 200),
            ("topology:cluster", ["nowhere"], 404),
            ("topology:cluster_graph", ["c1"], 200),
            ("topology:cluster_namespace_graph", ["c1", "acme-web"], 200),
            ("topology:cluster_node", ["c1"], 404),
            ("topology:cluster_reach", ["c1"], 200),
            ("topology:cluster_reach", ["nowhere"], 404),
        ]
    ],
    tenant_row("topology:tenant", ["acme"], "get", None, 200, 200, 200, 200),
    tenant_row("topology:tenant_graph", ["acme"], "get", None, 200, 200, 200, 200),
    tenant_row("topology:tenant_node", ["acme"], "get", None, 404, 404, 404, 404),
    tenant_row("topology:tenant_reach", ["acme"], "get", None, 200, 200, 200, 200),
    tenant_row("topology:namespace", ["acme", "acme-web"], "get", None, 200, 200, 200, 200),
    tenant_row("topology:namespace_graph", ["acme", "acme-web"], "get", None, 200, 200, 200, 200),
    tenant_row("topology:node", ["acme", "acme-web"], "get", None, 404, 404, 404, 404),
    tenant_row("topology:reach", ["acme", "acme-web"], "get", None, 200, 200, 200, 200),
    # metrics: cluster, node and cluster-wide charts for operators and auditors; a namespace's pages for
    # its tenant; everything else, and what does not exist, a 404 (tests/metrics/test_pages.py: with samples).
    tenant_row("metrics:overview", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row("metrics:cluster", ["c1"], "get", None, 200, 200, 404, 404),
    tenant_row("metrics:cluster", ["nowhere"], "get", None, 404, 404, 404, 404),
    tenant_row("metrics:chart", ["cluster", "c1", "cpu"], "get", None, 200, 200, 404, 404),
    tenant_row("metrics:chart", ["cluster", "c1", "nope"], "get", None, 404, 404, 404, 404),
    tenant_row("metrics:prometheus", ["c1"], "post", {"url": ""}, 302, 403, 403, 403, other=403, tenant_user=403),
    tenant_row(
        "metrics:prometheus", ["c1"], "post", {"url": "ftp://x"}, 400, 403, 403, 403, other=403, tenant_user=403
    ),
    tenant_row("metrics:chart", ["node", "c1", "prom-disk"], "get", None, 404, 404, 404, 404),
    tenant_row("metrics:node", ["c1", "n1"], "get", None, 404, 404, 404, 404),
    tenant_row("metrics:namespace", ["c1", "acme-web"], "get", None, 200, 200, 200, 200),
    tenant_row("metrics:namespace", ["c1", "nowhere"], "get", None, 404, 404, 404, 404),
    tenant_row("metrics:pod", ["c1", "acme-web", "web-1"], "get", None, 404, 404, 404, 404),
    tenant_row("metrics:workload", ["c1", "acme-web", "deployment", "web"], "get", None, 404, 404, 404, 404),
    # logs: the search for everyone in a tenant (their namespaces only: tests/logs/test_search.py);
    # tokens and the collector's manifest for operators; the ingest endpoint takes a cluster's token, not a session.
    tenant_row("logs:search", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row("logs:context", [], "get", None, 400, 400, 400, 400, other=400, tenant_user=403),
    tenant_row("logs:histogram", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403),
    tenant_row(
        "logs:saved_search_add", [], "post", {"name": "errors", "query": "level=error"}, 302, 302, 302, 302, other=302
    ),
    tenant_row("logs:app_timeline", ["acme", "acme-web", "web"], "get", None, 200, 200, 200, 200),
    tenant_row("logs:app_timeline", ["acme", "nowhere", "web"], "get", None, 404, 404, 404, 404),
    tenant_row("logs:saved_search", [999], "get", None, 404, 404, 404, 404),
    tenant_row("logs:saved_search_delete", [999], "post", {}, 404, 404, 404, 404),
    tenant_row("logs:token_rotate", ["c1"], "post", {}, 200, 403, 403, 403, other=403),
    tenant_row("logs:token_rotate", ["nowhere"], "post", {}, 404, 403, 403, 403, other=403),
    tenant_row("logs:collector_manifest", ["c1"], "get", None, 200, 403, 403, 403, other=403),
    tenant_row("logs:collector_install", ["nowhere"], "post", {}, 404, 403, 403, 403, other=403),
    ("logs:ingest", [], "post", {}, {r: 401 for r in ROLES}),
    # notification channels (console/notification_channels): operators all, tenant admins their tenant's, auditors
    # read; members and tenant-less users none. tests/alerts/test_channels.py checks them with real channels.
    tenant_row("console:channel_list", [], "get", None, 200, 200, 200, 403, other=200, tenant_user=403),
    tenant_row("console:channel_add", [], "get", None, 200, 403, 200, 403, other=200, tenant_user=403),
    tenant_row("console:channel_add", [], "post", {}, 400, 403, 400, 403, other=400, tenant_user=403),
    *[
        tenant_row(f"console:{name}", [999], method, data, 404, 404, 404, 403, other=404, tenant_user=403)
        for name, method, data in [
            ("channel", "get", None),
            ("channel_delete", "post", {}),
            ("channel_test", "post", {}),
        ]
    ],
    # alerts: everyone in a tenant reads its rules and alerts; operators and tenant admins set rules and act on
    # alerts (tests/alerts/test_rules.py checks them with real rules and alerts).
    *[
        tenant_row(f"alerts:{name}", [], "get", None, 200, 200, 200, 200, other=200, tenant_user=403)
        for name in ("alert_list", "alert_history", "rule_list")
    ],
    tenant_row("alerts:rule_add", [], "get", None, 200, 403, 200, 403, other=200, tenant_user=403),
    tenant_row("alerts:rule_add", [], "post", {}, 400, 403, 400, 403, other=400, tenant_user=403),
    *[
        tenant_row(f"alerts:{name}", [999], method, data, 404, 404, 404, 404, other=404, tenant_user=403)
        for name, method, data in [
            ("rule", "get", None),
            ("rule_delete", "post", {}),
            ("alert_acknowledge", "post", {}),
            ("alert_silence", "post", {"minutes": "10"}),
        ]
    ],
    ("set_language", [], "post", {"language": "en", "next": "/"}, {r: 302 for r in ROLES}),
    ("admin:index", [], "get", None, {"anonymous": 302, "operator": 200, "auditor": 302, "tenant_user": 302}),
]


MACHINE_ENDPOINTS = {"logs:ingest"}  # console.middleware.machine_endpoint


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
    if method == "post" and name in MACHINE_ENDPOINTS:
        # a collector's batches are no person's change: counted on the cluster page instead
        assert not OperationLogEntry.objects.filter(action__startswith="request.").exists()
    elif method == "post":
        # every mutating request lands in the operation log, allowed or not
        assert OperationLogEntry.objects.exists()
        if wanted == 403 or (role == "anonymous" and name not in ("set_language", "console:logout")):
            assert OperationLogEntry.objects.filter(result="denied").exists()
