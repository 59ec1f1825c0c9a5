"""Cluster registry: every way a kubeconfig can fail gets its own clear message."""

import base64
import http.server
import ssl
import threading

import pytest
import yaml
from django.urls import reverse

from console import crypto
from console.clusters.clusters import refresh_cluster
from console.clusters.models import Cluster
from console.oplog.models import OperationLogEntry

from ..certs import self_signed
from ..conftest import sandbox_fixture
from ..live import free_port

pytestmark = pytest.mark.django_db


def kubeconfig(server, token="t0ken", context="main", ca_pem=None):
    cluster = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        }
    )


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server whose certificate the kubeconfig's CA did not sign."""
    cert, key = self_signed("127.0.0.1", ip="127.0.0.1")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def add(client, **fields):
    data = {"name": "prod-1", "region": "cn-north", "description": "", "context": "", **fields}
    return client.post(reverse("console:cluster_add"), data)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("clusters: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "mapping"),
        ("clusters: []\nusers: []\ncontexts: []\n", "non-empty list"),
        (
            "clusters: [{name: c}]\nusers: [{name: u, user: {}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
            "needs a name",
        ),
    ],
)
def test_malformed_kubeconfigs(client, operator, text, expected):
    client.force_login(operator)
    response = add(client, kubeconfig=text)
    assert response.status_code == 400 and expected in response.content.decode()
    assert not Cluster.objects.exists()
    entry = OperationLogEntry.objects.get(action="cluster.register")
    assert entry.result == "failed" and expected in entry.error and not entry.error.startswith("[")


def test_unknown_context(client, operator):
    client.force_login(operator)
    response = add(client, kubeconfig=kubeconfig("http://127.0.0.1:1"), context="staging")
    assert response.status_code == 400 and "no context named &#x27;staging&#x27;" in response.content.decode()


def test_unreachable_server(client, operator):
    client.force_login(operator)
    response = add(client, kubeconfig=kubeconfig(f"https://127.0.0.1:{free_port()}"))
    assert response.status_code == 400 and "could not be reached" in response.content.decode()
    assert not Cluster.objects.exists()


def test_tls_failure(client, operator, tls_server):
    other_ca, _key = self_signed("some other CA")
    client.force_login(operator)
    response = add(client, kubeconfig=kubeconfig(tls_server, ca_pem=other_ca))
    assert response.status_code == 400 and "TLS connection" in response.content.decode()


def test_form_needs_a_kubeconfig_and_a_valid_name(client, operator):
    client.force_login(operator)
    assert "Paste a kubeconfig" in add(client, kubeconfig="  ").content.decode()
    response = add(client, name="Prod_1!", kubeconfig=kubeconfig("http://127.0.0.1:1"))
    assert response.status_code == 400 and "invalid-feedback" in response.content.decode()


def test_auditor_may_look_but_not_add(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("console:cluster_list")).status_code == 200
    assert add(client, kubeconfig=kubeconfig("http://127.0.0.1:1")).status_code == 403
    assert OperationLogEntry.objects.get(action="request.console:cluster_add").result == "denied"


def test_a_cluster_that_stops_answering_is_marked_and_operators_are_told(operator, auditor):
    cluster = Cluster.objects.create(
        name="gone",
        server="http://127.0.0.1:1",
        context="main",
        kubeconfig_encrypted=crypto.encrypt(kubeconfig(f"https://127.0.0.1:{free_port()}")),
    )
    refresh_cluster(cluster)
    cluster.refresh_from_db()
    assert cluster.status == "unreachable" and "could not be reached" in cluster.status_message
    assert cluster.last_sync_at is not None
    assert operator.notifications.get().level == "danger"
    assert not auditor.notifications.exists()
    refresh_cluster(cluster)  # still down: no second alert
    assert operator.notifications.count() == 1


def test_credentials_are_stored_encrypted(operator):
    text = kubeconfig("http://127.0.0.1:1", token="super-secret-token")
    token = crypto.encrypt(text)
    assert "super-secret-token" not in token and crypto.decrypt(token) == text


sandbox = sandbox_fixture("module", nodes=2)


def test_adding_a_reachable_cluster_keeps_it_encrypted_with_its_nodes(client, operator, sandbox):
    client.force_login(operator)
    response = add(client, kubeconfig=sandbox.kubeconfig_text(), description="the sandbox")
    assert response.status_code == 302, response.content.decode()[-2000:]
    cluster = Cluster.objects.get(name="prod-1")
    assert cluster.version.startswith("v1.37") and cluster.status == "ready"
    assert [n["name"] for n in cluster.nodes] == ["sandbox-node-1", "sandbox-node-2"]
    assert cluster.nodes[0]["roles"] == ["control-plane"] and cluster.nodes[0]["allocatable"]["cpu"] == "7800m"
    assert ["etcd", True] in cluster.health
    assert sandbox.token not in cluster.kubeconfig_encrypted
    assert cluster.permissions_missing == [] and cluster.permissions_checked_at is not None  # the admin may do it all
    page = client.get(reverse("console:cluster", args=["prod-1"])).content.decode()
    assert "sandbox-node-2" in page and "v1.37" in page
    assert "every permission the console needs" in page and "may not" not in page
    entry = OperationLogEntry.objects.get(action="cluster.register", result="succeeded")
    assert entry.after["nodes"] == 2 and sandbox.token not in str(entry.payload)

    response = client.post(reverse("console:cluster_remove", args=["prod-1"]), {"confirm_name": "wrong"})
    assert response.status_code == 400 and Cluster.objects.exists()
    client.post(reverse("console:cluster_remove", args=["prod-1"]), {"confirm_name": "prod-1"})
    assert not Cluster.objects.exists()
    assert (
        OperationLogEntry.objects.get(action="cluster.remove", result="succeeded").before["version"].startswith("v1.37")
    )


def test_wrong_token_is_unauthorized(client, operator, sandbox):
    client.force_login(operator)
    response = add(client, kubeconfig=sandbox.kubeconfig_text(token="stolen-or-expired"))
    assert response.status_code == 400 and "401 Unauthorized" in response.content.decode()


def test_token_without_read_rights_is_forbidden(client, operator, sandbox):
    client.force_login(operator)
    response = add(client, kubeconfig=sandbox.kubeconfig_text(token=sandbox.no_access_token))
    body = response.content.decode()
    assert response.status_code == 400 and "403 Forbidden" in body and "system:serviceaccount:default:nobody" in body


# --- what the console's identity may do ------------------------------------------------------


def test_the_permission_list_follows_the_mirror_and_the_namespace_job():
    from console.clusters import permissions
    from console.clusters.permissions import Need
    from console.kube.kinds import MIRRORED_KINDS

    wanted = permissions.required()
    for kind in MIRRORED_KINDS:  # the watcher lists and watches each mirrored kind everywhere
        assert Need("watch", kind.api_version.rpartition("/")[0], kind.plural) in wanted
    # what the namespace job applies as the console (server-side apply: create and patch)
    for group, resource in (
        ("", "namespaces"),
        ("", "resourcequotas"),
        ("", "limitranges"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("networking.k8s.io", "networkpolicies"),
    ):
        assert "namespaces" in wanted[Need("patch", group, resource)] and Need("create", group, resource) in wanted
    assert wanted[Need("impersonate", "", "users")] == ["impersonation"] and Need("impersonate", "", "groups") in wanted
    assert "apps" in wanted[Need("get", "", "pods", "log")] and Need("patch", "apps", "deployments", "scale") in wanted


def test_a_view_only_identity_is_refused_with_what_it_may_not_do(client, operator, sandbox):
    client.force_login(operator)
    response = add(client, kubeconfig=sandbox.kubeconfig_text(token=sandbox.read_only_token))
    body = response.content.decode()
    assert response.status_code == 400 and not Cluster.objects.exists()
    assert "The console&#x27;s identity may not:" in body
    for missing in (
        "patch namespaces",
        "create rolebindings",
        "patch networkpolicies",
        "impersonate users",
        "impersonate groups",
    ):
        assert missing in body
    assert "watch pods" not in body  # reading is allowed: the mirror would work
    assert "Tenant namespaces" in body and "Add anyway (read-only use)" in body
    entry = OperationLogEntry.objects.get(action="cluster.register")
    assert entry.result == "failed" and "patch namespaces" in entry.payload["permissions_missing"]
    assert "patch namespaces" in entry.error and sandbox.read_only_token not in str(entry.payload)


def test_added_anyway_for_read_only_use_then_tenant_namespaces_are_refused_up_front(client, operator, sandbox):
    from django.core.exceptions import ValidationError

    from console.jobs.models import Job
    from tenants import services
    from tenants.models import Project

    client.force_login(operator)
    response = add(client, kubeconfig=sandbox.kubeconfig_text(token=sandbox.read_only_token), add_anyway="on")
    assert response.status_code == 302, response.content.decode()[-2000:]
    cluster = Cluster.objects.get(name="prod-1")
    texts = [m["text"] for m in cluster.permissions_missing]
    assert "patch namespaces" in texts and "impersonate users" in texts and "watch pods" not in texts
    page = client.get(reverse("console:cluster", args=["prod-1"]), follow=True).content.decode()
    assert "added for read-only use" in page  # the add result says so too
    assert 'data-testid="permissions-missing"' in page and "patch namespaces" in page and "Tenant namespaces" in page
    entry = OperationLogEntry.objects.get(action="cluster.register")
    assert (
        entry.result == "succeeded"
        and entry.payload["add_anyway"] is True
        and "patch namespaces" in entry.after["permissions_missing"]
    )

    tenant = services.create_tenant(acting_user=operator, name="acme", display_name="Acme", clusters=[cluster])
    with pytest.raises(ValidationError, match="read-only use: the console's identity may not .*patch namespaces"):
        services.create_project(tenant, acting_user=operator, cluster=cluster, short_name="dev")
    assert not Project.objects.exists() and not Job.objects.exists()
    refused = OperationLogEntry.objects.get(action="namespace.create")
    assert refused.result == "failed" and "patch namespaces" in refused.error


def test_refresh_checks_again(client, operator, sandbox):
    from kubernetes import client as k8s
    from kubernetes import config

    token = sandbox.add_token("system:serviceaccount:caas:console", ("system:serviceaccounts",), read_only=True)
    client.force_login(operator)
    assert add(client, kubeconfig=sandbox.kubeconfig_text(token=token), add_anyway="on").status_code == 302
    cluster = Cluster.objects.get(name="prod-1")
    assert "patch namespaces" in [m["text"] for m in cluster.permissions_missing]
    checked = cluster.permissions_checked_at

    admin = config.new_client_from_config_dict(sandbox.kubeconfig())
    rbac = k8s.RbacAuthorizationV1Api(admin)
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "caas-console"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "console", "namespace": "caas"}],
        }
    )
    try:
        response = client.post(reverse("console:cluster_refresh", args=["prod-1"]), follow=True)
        assert "every permission it needs" in response.content.decode()
        cluster.refresh_from_db()
        assert cluster.permissions_missing == [] and cluster.permissions_checked_at > checked
    finally:
        rbac.delete_cluster_role_binding("caas-console")
        admin.close()
    refresh_cluster(cluster)  # taken away again: the next refresh knows
    cluster.refresh_from_db()
    assert "create rolebindings" in [m["text"] for m in cluster.permissions_missing] and cluster.status == "ready"
