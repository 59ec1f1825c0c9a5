"""RBAC, impersonation, access reviews, the audit log and the Calico knob, through the official
client and kubectl, as a console acting for tenant users would meet them."""

import json
import ssl
import urllib.request

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from console.sandbox import SandboxCluster

from .helpers import body, deployment, kubectl, wait_for

RBAC = "rbac.authorization.k8s.io"


def binding(name, role, *subjects, kind="ClusterRole"):
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
        "subjects": [{"apiGroup": RBAC, "kind": k, "name": n} for k, n in subjects],
    }


def api_for(sandbox, token=None, user=None, group=None):
    """An ApiClient with a token (the admin's by default), impersonating user/group when given."""
    api = config.new_client_from_config_dict(sandbox.kubeconfig(token))
    if user:
        api.set_default_header("Impersonate-User", user)
    if group:
        api.set_default_header("Impersonate-Group", group)
    return api


def raw(sandbox, method, path, headers=(), token=None, data=None):
    """A request without the client (for headers it cannot send, and the knobs): (status, content type, text)."""
    request = urllib.request.Request(
        sandbox.url + path, method=method, data=json.dumps(data).encode() if data is not None else None
    )
    request.add_header("Authorization", f"Bearer {token or sandbox.token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in headers:
        request.add_header(key, value)
    context = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read().decode()


@pytest.fixture(scope="module")
def tenants(sandbox, api, core):
    """Two tenants' namespaces, with the bindings the console creates: members edit, admins admin."""
    rbac = client.RbacAuthorizationV1Api(api)
    for ns in ("acme-web", "globex-web"):
        core.create_namespace({"metadata": {"name": ns}})
    rbac.create_namespaced_role_binding(
        "acme-web", binding("caas-tenant-members", "edit", ("Group", "caas:tenant:acme"))
    )
    rbac.create_namespaced_role_binding(
        "acme-web", binding("caas-tenant-admins", "admin", ("Group", "caas:tenant:acme:admins"))
    )
    rbac.create_namespaced_role_binding(
        "globex-web", binding("caas-tenant-members", "edit", ("Group", "caas:tenant:globex"))
    )
    return rbac


def test_bootstrap_roles_and_bindings(api):
    rbac = client.RbacAuthorizationV1Api(api)
    view, edit, admin = (rbac.read_cluster_role(name) for name in ("view", "edit", "admin"))

    def grants(role, verb, group, resource):
        return any(
            verb in r.verbs and group in r.api_groups and resource in r.resources for r in role.rules if r.resources
        )

    assert (
        grants(view, "list", "", "pods")
        and grants(view, "get", "", "pods/log")
        and not grants(view, "get", "", "secrets")
    )
    assert (
        grants(edit, "create", "apps", "deployments")
        and grants(edit, "get", "", "secrets")
        and grants(edit, "create", "", "pods/exec")
    )
    assert grants(edit, "list", "metrics.k8s.io", "pods") and not grants(edit, "create", RBAC, "rolebindings")
    assert grants(admin, "create", RBAC, "rolebindings") and grants(admin, "patch", "apps", "deployments/scale")
    assert not grants(admin, "update", "", "resourcequotas")  # a tenant admin cannot raise its own quota
    assert view.aggregation_rule.cluster_role_selectors[0].match_labels == {
        "rbac.authorization.k8s.io/aggregate-to-view": "true"
    }
    masters = rbac.read_cluster_role_binding("cluster-admin")
    assert masters.role_ref.name == "cluster-admin" and masters.subjects[0].name == "system:masters"
    assert rbac.read_cluster_role_binding("system:discovery").subjects[0].name == "system:authenticated"


def test_edit_in_one_namespace_only(sandbox, tenants):
    tenants.create_namespaced_role_binding("acme-web", binding("alice-edit", "edit", ("User", "alice")))
    alice = api_for(sandbox, sandbox.add_token("alice"))
    apps, core = client.AppsV1Api(alice), client.CoreV1Api(alice)
    apps.create_namespaced_deployment("acme-web", deployment("shop", replicas=1))
    apps.patch_namespaced_deployment_scale("shop", "acme-web", {"spec": {"replicas": 2}})  # deployments/scale
    with pytest.raises(ApiException) as other_tenant:
        apps.create_namespaced_deployment("globex-web", deployment("shop", replicas=1))
    assert other_tenant.value.status == 403 and body(other_tenant.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": "Forbidden",
        "code": 403,
        "message": 'deployments.apps is forbidden: User "alice" cannot create resource "deployments" '
        'in API group "apps" in the namespace "globex-web"',
        "details": {"group": "apps", "kind": "deployments"},
    }
    with pytest.raises(ApiException) as everywhere:
        core.list_pod_for_all_namespaces()
    assert body(everywhere.value)["message"] == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" at the cluster scope'
    )
    with pytest.raises(ApiException) as watch_everywhere:
        core.list_pod_for_all_namespaces(watch=True, _preload_content=False)
    assert "cannot watch resource" in body(watch_everywhere.value)["message"]
    with pytest.raises(ApiException) as quota:
        core.create_namespaced_resource_quota(
            "acme-web", {"metadata": {"name": "more"}, "spec": {"hard": {"pods": "100"}}}
        )
    assert body(quota.value)["message"] == (
        'resourcequotas is forbidden: User "alice" cannot create resource "resourcequotas" '
        'in API group "" in the namespace "acme-web"'
    )
    assert core.read_namespace("acme-web").metadata.name == "acme-web"  # a namespace's own RoleBindings reach it
    with pytest.raises(ApiException) as named:
        core.read_namespace("globex-web")
    assert body(named.value)["message"].startswith(
        'namespaces "globex-web" is forbidden: User "alice" cannot get resource'
    )


def test_resource_names_and_role_in_namespace(sandbox, api, tenants):
    client.RbacAuthorizationV1Api(api).create_namespaced_role(
        "acme-web",
        {
            "metadata": {"name": "settings-reader"},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["settings"]}
            ],
        },
    )
    tenants.create_namespaced_role_binding(
        "acme-web", binding("bob-settings", "settings-reader", ("User", "bob"), kind="Role")
    )
    tenants.create_namespaced_role_binding("acme-web", binding("bob-missing", "no-such-role", ("User", "bob")))
    core = client.CoreV1Api(api)
    for name in ("settings", "secrets-of-others"):
        core.create_namespaced_config_map("acme-web", {"metadata": {"name": name}, "data": {"a": "1"}})
    bob = client.CoreV1Api(api_for(sandbox, user="bob"))
    assert bob.read_namespaced_config_map("settings", "acme-web").data == {"a": "1"}
    with pytest.raises(ApiException) as other:
        bob.read_namespaced_config_map("secrets-of-others", "acme-web")
    # a binding to a missing role is named in the reason, as the RBAC authorizer does
    assert body(other.value)["message"] == (
        'configmaps "secrets-of-others" is forbidden: User "bob" cannot get resource "configmaps" in API group "" '
        'in the namespace "acme-web": RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found'
    )
    assert body(other.value)["details"] == {"name": "secrets-of-others", "kind": "configmaps"}


def test_tenant_groups_through_client_impersonation_and_audit(sandbox, tenants):
    carol = api_for(sandbox, user="carol", group="caas:tenant:acme")
    apps = client.AppsV1Api(carol)
    apps.create_namespaced_deployment("acme-web", deployment("carol-app", replicas=1))
    with pytest.raises(ApiException) as other_tenant:
        apps.read_namespaced_deployment("shop", "globex-web")
    assert body(other_tenant.value)["message"] == (
        'deployments.apps "shop" is forbidden: User "carol" cannot get resource '
        '"deployments" in API group "apps" in the namespace "globex-web"'
    )
    with pytest.raises(ApiException) as without_group:  # the user alone is bound to nothing
        client.AppsV1Api(api_for(sandbox, user="carol")).list_namespaced_deployment("acme-web")
    assert without_group.value.status == 403
    [created] = sandbox.audit_events(impersonatedUser="carol", verb="create")
    assert created["user"] == "sandbox-admin" and created["groups"] == ["caas:tenant:acme", "system:authenticated"]
    assert (created["apiGroup"], created["resource"], created["namespace"], created["code"]) == (
        "apps",
        "deployments",
        "acme-web",
        201,
    )
    assert created["uri"].startswith("/apis/apps/v1/namespaces/acme-web/deployments")
    status, content_type, text = raw(sandbox, "GET", "/sandbox/v1/audit?impersonatedUser=carol&code=403")
    refused = json.loads(text)["items"]
    assert status == 200 and {(e["user"], e["namespace"], e["verb"]) for e in refused} == {
        ("sandbox-admin", "globex-web", "get"),
        ("sandbox-admin", "acme-web", "list"),
    }


def test_kubectl_as_tenant_user_and_auth_can_i(sandbox, tenants, tmp_path):
    member = ("--as", "dave", "--as-group", "caas:tenant:acme")
    admin = member + ("--as-group", "caas:tenant:acme:admins")
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", **deployment("dave-app", replicas=1)})
    )
    applied = kubectl(sandbox, *member, "apply", "-n", "acme-web", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    refused = kubectl(sandbox, *member, "get", "deployments", "-n", "globex-web")
    assert refused.returncode == 1 and refused.stderr.strip() == (
        'Error from server (Forbidden): deployments.apps is forbidden: User "dave" cannot list resource "deployments" '
        'in API group "apps" in the namespace "globex-web"'
    )

    def can_i(*args):
        result = kubectl(sandbox, "auth", "can-i", *args)
        return result.stdout.strip(), result.returncode

    assert can_i(*member, "create", "deployments", "-n", "acme-web") == ("yes", 0)
    assert can_i(*member, "create", "deployments", "-n", "globex-web") == ("no", 1)
    assert can_i(*member, "create", "rolebindings", "-n", "acme-web") == ("no", 1)
    assert can_i(*admin, "create", "rolebindings", "-n", "acme-web") == ("yes", 0)
    assert can_i(*member, "list", "pods", "--all-namespaces") == ("no", 1)
    assert can_i(*member, "get", "pods", "--subresource=log", "-n", "acme-web") == ("yes", 0)
    assert can_i("delete", "nodes") == ("yes", 0)  # the admin token: system:masters
    rules = kubectl(sandbox, "auth", "can-i", "--list", "-n", "acme-web", *member)
    assert rules.returncode == 0 and "deployments.apps" in rules.stdout
    whoami = kubectl(sandbox, "auth", "whoami", *admin, "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"] == {
        "username": "dave",
        "groups": ["caas:tenant:acme", "caas:tenant:acme:admins", "system:authenticated"],
    }
    [applied_event] = [
        e
        for e in sandbox.audit_events(impersonatedUser="dave", resource="deployments")
        if e["code"] in (200, 201) and e["verb"] in ("create", "patch")
    ]
    assert applied_event["user"] == "sandbox-admin" and "caas:tenant:acme" in applied_event["groups"]


def test_impersonation_needs_the_impersonate_verb(sandbox, api, core):
    viewer = client.CoreV1Api(api_for(sandbox, sandbox.read_only_token, user="alice"))
    with pytest.raises(ApiException) as refused:
        viewer.list_namespaced_pod("acme-web")
    assert refused.value.status == 403 and body(refused.value)["message"] == (
        'users "alice" is forbidden: User "sandbox:viewer" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    )
    assert body(refused.value)["details"] == {"name": "alice", "kind": "users"}
    assert sandbox.audit_events(user="sandbox:viewer", code=403)[-1]["impersonatedUser"] is None

    client.RbacAuthorizationV1Api(api).create_cluster_role(
        {
            "metadata": {"name": "impersonate-alice"},
            "rules": [
                {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]}
            ],
        }
    )
    client.RbacAuthorizationV1Api(api).create_cluster_role_binding(
        binding("impersonate-alice", "impersonate-alice", ("User", "helpdesk"))
    )
    token = sandbox.add_token("helpdesk")
    whoami = client.AuthenticationV1Api(api_for(sandbox, token, user="alice")).create_self_subject_review({})
    assert whoami.status.user_info.username == "alice" and whoami.status.user_info.groups == ["system:authenticated"]
    with pytest.raises(ApiException) as not_bob:
        client.AuthenticationV1Api(api_for(sandbox, token, user="bob")).create_self_subject_review({})
    assert body(not_bob.value)["message"].startswith(
        'users "bob" is forbidden: User "helpdesk" cannot impersonate resource "users"'
    )
    with pytest.raises(ApiException) as no_groups:
        client.AuthenticationV1Api(
            api_for(sandbox, token, user="alice", group="caas:tenant:acme")
        ).create_self_subject_review({})
    assert body(no_groups.value)["message"] == (
        'groups "caas:tenant:acme" is forbidden: User "helpdesk" cannot impersonate '
        'resource "groups" in API group "" at the cluster scope'
    )

    # groups without a user: the real filter's plain-text internal error
    status, content_type, text = raw(sandbox, "GET", "/api/v1/namespaces", [("Impersonate-Group", "caas:tenant:acme")])
    assert status == 500 and content_type.startswith("text/plain")
    assert (
        text.strip() == 'Internal Server Error: "/api/v1/namespaces": '
        "requested [{Group  caas:tenant:acme    }] without impersonating a user"
    )
    # service accounts get their fixed groups
    robot = client.AuthenticationV1Api(
        api_for(sandbox, user="system:serviceaccount:acme-web:deployer")
    ).create_self_subject_review({})
    assert robot.status.user_info.groups == [
        "system:serviceaccounts",
        "system:serviceaccounts:acme-web",
        "system:authenticated",
    ]


def test_access_reviews(sandbox, api, tenants):
    authz = client.AuthorizationV1Api(api)
    review = authz.create_subject_access_review(
        {
            "spec": {
                "user": "erin",
                "groups": ["caas:tenant:acme"],
                "resourceAttributes": {
                    "namespace": "acme-web",
                    "verb": "delete",
                    "group": "apps",
                    "resource": "deployments",
                },
            }
        }
    )
    assert review.status.allowed and review.status.reason == (
        'RBAC: allowed by RoleBinding "caas-tenant-members/acme-web" of ClusterRole "edit" to Group "caas:tenant:acme"'
    )
    local = authz.create_namespaced_local_subject_access_review(
        "globex-web",
        {
            "spec": {
                "user": "erin",
                "groups": ["caas:tenant:acme"],
                "resourceAttributes": {"namespace": "globex-web", "verb": "get", "resource": "pods"},
            }
        },
    )
    assert local.status.allowed is False
    nobody = client.AuthorizationV1Api(api_for(sandbox, sandbox.no_access_token))
    own = nobody.create_self_subject_access_review(
        {"spec": {"nonResourceAttributes": {"path": "/apis", "verb": "get"}}}
    )
    assert own.status.allowed and "system:discovery" in own.status.reason
    with pytest.raises(ApiException) as invalid:
        authz.create_self_subject_access_review({"spec": {}})
    assert (
        invalid.value.status == 422
        and "exactly one of nonResourceAttributes or resourceAttributes" in invalid.value.body
    )


def test_discovery_for_every_authenticated_user(sandbox):
    nobody = api_for(sandbox, sandbox.no_access_token)
    assert any(r.name == "pods" for r in client.CoreV1Api(nobody).get_api_resources().resources)
    assert RBAC in [g.name for g in client.ApisApi(nobody).get_api_versions().groups]
    status, _, text = raw(sandbox, "GET", "/sandbox/v1/stats", token=sandbox.no_access_token)
    assert status == 403 and json.loads(text)["message"] == (
        'forbidden: User "system:serviceaccount:default:nobody" cannot get path "/sandbox/v1/stats"'
    )
    status, _, text = raw(
        sandbox, "POST", "/sandbox/v1/faults", token=sandbox.read_only_token, data={"action": "clear_faults"}
    )
    assert (
        status == 403
        and json.loads(text)["message"] == 'forbidden: User "sandbox:viewer" cannot post path "/sandbox/v1/faults"'
    )


def test_rbac_validation_and_immutable_role_ref(api, tenants):
    with pytest.raises(ApiException) as missing:
        tenants.create_namespaced_role_binding(
            "acme-web",
            {
                "metadata": {"name": "broken"},
                "subjects": [{"kind": "Group", "name": "x"}],
                "roleRef": {"apiGroup": "", "kind": "", "name": ""},
            },
        )
    assert body(missing.value)["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "broken" is invalid: '
        '[roleRef.apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io", '
        'roleRef.kind: Unsupported value: "": supported values: "Role", "ClusterRole", '
        "roleRef.name: Required value]"
    )
    with pytest.raises(ApiException) as changed:
        tenants.patch_namespaced_role_binding("caas-tenant-members", "acme-web", {"roleRef": {"name": "admin"}})
    assert changed.value.status == 422 and body(changed.value)["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "caas-tenant-members" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"admin"}: cannot change roleRef'
    )
    with pytest.raises(ApiException) as urls:
        tenants.create_namespaced_role(
            "acme-web", {"metadata": {"name": "paths"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}
        )
    assert body(urls.value)["message"] == (
        'Role.rbac.authorization.k8s.io "paths" is invalid: rules[0].nonResourceURLs: Invalid '
        'value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs'
    )
    defaulted = tenants.create_namespaced_role_binding(
        "acme-web",
        {
            "metadata": {"name": "viewers"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": "caas:auditors"}],
        },
    )
    assert defaulted.subjects[0].api_group == RBAC and defaulted.metadata.generation is None


def test_tenant_admin_cannot_escalate(sandbox, tenants):
    admin = client.RbacAuthorizationV1Api(
        api_for(sandbox, sandbox.add_token("frank", groups=["caas:tenant:acme:admins"]))
    )
    admin.create_namespaced_role_binding("acme-web", binding("erin-view", "view", ("User", "erin")))
    with pytest.raises(ApiException) as grab:
        admin.create_namespaced_role_binding("acme-web", binding("grab", "cluster-admin", ("User", "frank")))
    message = body(grab.value)["message"]
    assert grab.value.status == 403 and message.startswith(
        'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "frank" (groups=["caas:tenant:acme:admins" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
    )
    assert '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in message.splitlines()
    with pytest.raises(ApiException) as quota_role:
        admin.create_namespaced_role(
            "acme-web",
            {
                "metadata": {"name": "quota-editor"},
                "rules": [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["get", "update"]}],
            },
        )
    assert quota_role.value.status == 403 and body(quota_role.value)["message"].endswith(
        '\n{APIGroups:[""], Resources:["resourcequotas"], Verbs:["update"]}'
    )


def test_aggregated_roles_follow_new_cluster_roles(sandbox, api, tenants):
    client.RbacAuthorizationV1Api(api).create_cluster_role(
        {
            "metadata": {"name": "snapshots-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [
                {
                    "apiGroups": ["snapshot.storage.k8s.io"],
                    "resources": ["volumesnapshots"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        }
    )
    rbac = client.RbacAuthorizationV1Api(api)
    assert wait_for(
        lambda: any("volumesnapshots" in (r.resources or []) for r in rbac.read_cluster_role("admin").rules), timeout=5
    )
    member = client.CustomObjectsApi(api_for(sandbox, user="gina", group="caas:tenant:acme"))
    assert (
        member.list_namespaced_custom_object("snapshot.storage.k8s.io", "v1", "acme-web", "volumesnapshots")["items"]
        == []
    )
    assert "items" in member.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "acme-web", "pods")


def test_calico_follows_the_knob(sandbox, api, tenants):
    def groups():
        return [g.name for g in client.ApisApi(api).get_api_versions().groups]

    assert "crd.projectcalico.org" not in groups()
    sandbox.set_calico(True)
    assert "crd.projectcalico.org" in groups()
    extensions = client.ApiextensionsV1Api(api)

    def established():
        conditions = extensions.read_custom_resource_definition(
            "globalnetworkpolicies.crd.projectcalico.org"
        ).status.conditions
        return {c.type: c.status for c in conditions or []}.get("Established") == "True"

    assert wait_for(established, timeout=5)
    crds = {c.metadata.name: c.spec.scope for c in extensions.list_custom_resource_definition().items}
    assert (
        crds["globalnetworkpolicies.crd.projectcalico.org"] == "Cluster"
        and crds["networkpolicies.crd.projectcalico.org"] == "Namespaced"
    )
    custom = client.CustomObjectsApi(api)
    custom.create_cluster_custom_object(
        "crd.projectcalico.org",
        "v1",
        "globalnetworkpolicies",
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "GlobalNetworkPolicy",
            "metadata": {"name": "caas-tenant-acme"},
            "spec": {"order": 100, "namespaceSelector": "caas.io/tenant == 'acme'", "types": ["Ingress"]},
        },
    )
    custom.create_namespaced_custom_object(
        "crd.projectcalico.org",
        "v1",
        "acme-web",
        "networkpolicies",
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "calico-only"},
            "spec": {},
        },
    )
    listed = kubectl(sandbox, "get", "globalnetworkpolicies", "-o", "name")
    assert listed.returncode == 0 and listed.stdout.split() == [
        "globalnetworkpolicy.crd.projectcalico.org/caas-tenant-acme"
    ]
    builtin = kubectl(
        sandbox, "get", "networkpolicies", "-n", "acme-web", "-o", "name"
    )  # the built-in kind wins the short name
    assert builtin.returncode == 0 and "calico-only" not in builtin.stdout
    assert client.NetworkingV1Api(api).list_namespaced_network_policy("acme-web").items == []
    version = custom.get_cluster_custom_object("crd.projectcalico.org", "v1", "clusterinformations", "default")
    assert version["spec"]["calicoVersion"].startswith("v3.")
    assert raw(sandbox, "POST", "/sandbox/v1/faults", data={"action": "set_calico", "enabled": False})[::2] == (
        200,
        '{"calico":false}',
    )
    assert "crd.projectcalico.org" not in groups()
    with pytest.raises(ApiException) as gone:
        custom.get_cluster_custom_object("crd.projectcalico.org", "v1", "globalnetworkpolicies", "caas-tenant-acme")
    assert gone.value.status == 404
    assert wait_for(lambda: not extensions.list_custom_resource_definition().items, timeout=5)


def test_calico_from_the_constructor():
    with SandboxCluster(nodes=1, calico=True, seed=False) as cluster:
        groups = [
            g.name
            for g in client.ApisApi(config.new_client_from_config_dict(cluster.kubeconfig())).get_api_versions().groups
        ]
    assert "crd.projectcalico.org" in groups and groups.index("crd.projectcalico.org") > groups.index(
        "networking.k8s.io"
    )
