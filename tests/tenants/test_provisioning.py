"""Namespaces provisioned on a real (sandbox) API server over HTTPS, jobs run as the
worker runs them, results read back from the cluster."""

import pytest
from django.core.exceptions import ValidationError

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused
from console.oplog.models import OperationLogEntry
from tenants import access, manifests, services
from tenants.models import NetworkPath, Project, SuspendedWorkload, Tenant

from ..factories import mk_member
from ..integration.test_worker_and_websocket import wait_until
from .conftest import run

pytestmark = pytest.mark.django_db
# tenant namespaces enforce Pod Security "restricted": pods made here directly must pass it
HARDENED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}


def test_namespace_is_provisioned_with_quota_defaults_bindings_and_policies(cluster, acme, acme_admin):
    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="web")
    assert project.name == "acme-web" and job.status == "pending"
    job = run(job)
    assert job.status == "succeeded", job.error
    assert Project.objects.get(pk=project.pk).status == "active"
    with ClusterAPI(cluster) as api:
        ns = api.get("Namespace", "acme-web")
        assert ns["metadata"]["labels"][manifests.TENANT_LABEL] == "acme"
        assert ns["metadata"]["annotations"]["caas.io/requested-by"] == "acme-admin"
        quota = api.get("ResourceQuota", "caas-quota", "acme-web")
        assert quota["spec"]["hard"] == {
            "requests.cpu": "1",
            "limits.cpu": "1",
            "requests.memory": "2Gi",
            "limits.memory": "2Gi",
            "pods": "5",
        }
        limits = api.get("LimitRange", "caas-defaults", "acme-web")["spec"]["limits"][0]
        assert limits["default"] == {"cpu": "500m", "memory": "256Mi"} and limits["defaultRequest"] == {
            "cpu": "100m",
            "memory": "128Mi",
        }
        bindings = {b["metadata"]["name"]: b for b in api.list("RoleBinding", "acme-web")}
        assert bindings["caas-tenant-admins"]["subjects"][0]["name"] == "caas:tenant:acme:admins"
        assert bindings["caas-tenant-members"]["roleRef"]["name"] == "edit"
        policies = {p["metadata"]["name"]: p["spec"] for p in api.list("NetworkPolicy", "acme-web")}
        assert set(policies) == set(manifests.BASE_POLICIES)
        assert policies["caas-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert policies["caas-allow-tenant"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
            manifests.TENANT_LABEL: "acme"
        }
        assert {"protocol": "UDP", "port": 53} in policies["caas-allow-dns"]["egress"][0]["ports"]
    steps = OperationLogEntry.objects.filter(action="namespace.apply", tenant="acme", result="succeeded")
    assert steps.count() == 9 and set(steps.values_list("actor_name", flat=True)) == {"acme-admin"}
    assert OperationLogEntry.objects.filter(action="namespace.create", result="accepted", tenant="acme").exists()
    assert OperationLogEntry.objects.filter(action="namespace.create.finish", result="succeeded").exists()
    # The cluster has no Calico here, and the tenant page will say so.
    assert Tenant.objects.get(pk=acme.pk).isolation["sandbox"]["calico"] is False


def test_running_a_job_twice_converges(cluster, acme, acme_admin):
    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="twice")
    run(job)
    Job.objects.filter(pk=job.pk).update(status="pending")  # a redelivered task
    assert run(job).status == "succeeded"
    with ClusterAPI(cluster) as api:
        assert len(api.list("NetworkPolicy", "acme-twice")) == 4


def test_tenant_limits_are_enforced_before_kubernetes_is_called(cluster, acme, acme_admin):
    services.create_project(
        acme, acting_user=acme_admin, cluster=cluster, short_name="a", quota={"cpu": "3", "memory": "2Gi", "pods": "5"}
    )
    with pytest.raises(ValidationError, match=r"cpu: asking for 2, but only 1 of the tenant's 4 is left"):
        services.create_project(
            acme,
            acting_user=acme_admin,
            cluster=cluster,
            short_name="b",
            quota={"cpu": "2", "memory": "1Gi", "pods": "1"},
        )
    with pytest.raises(ValidationError, match="needs a memory quota"):
        services.create_project(
            acme, acting_user=acme_admin, cluster=cluster, short_name="b", quota={"cpu": "1", "pods": "1"}
        )
    assert list(Project.objects.values_list("name", flat=True)) == ["acme-a"]
    assert Job.objects.count() == 1
    assert OperationLogEntry.objects.filter(action="namespace.create", result="failed").count() == 2


@pytest.mark.parametrize("short_name", ["Web", "-web", "web_1", "", "x" * 60])
def test_invalid_namespace_names_are_refused(cluster, acme, acme_admin, short_name):
    with pytest.raises(ValidationError, match="DNS-1123"):
        services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name=short_name)
    assert not Project.objects.exists()


def test_duplicates_foreign_clusters_and_namespace_count(cluster, acme, acme_admin, operator):
    from ..factories import mk_cluster

    services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="web")
    with pytest.raises(ValidationError, match="exists already"):
        services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="web")
    with pytest.raises(ValidationError, match="may not use this cluster"):
        services.create_project(acme, acting_user=acme_admin, cluster=mk_cluster("other"), short_name="x")
    small = {"cpu": "100m", "memory": "100Mi", "pods": "1"}
    services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="two", quota=small)
    services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="three", quota=small)
    with pytest.raises(ValidationError, match="3 namespaces and has them all"):
        services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="four", quota=small)
    with pytest.raises(ValidationError, match="A tenant named acme exists already"):
        services.create_tenant(acting_user=operator, name="acme", display_name="Again")


def test_members_may_not_create_namespaces_and_suspended_tenants_refuse(cluster, acme, operator):
    member = mk_member(acme, "acme-dev")
    with pytest.raises(PermissionError):
        services.create_project(acme, acting_user=member, cluster=cluster, short_name="web")
    services.suspend_tenant(acme, acting_user=operator)
    admin = mk_member(acme, "acme-boss", "tenant-admin")
    with pytest.raises(PermissionError, match="suspended"):
        services.create_project(Tenant.objects.get(pk=acme.pk), acting_user=admin, cluster=cluster, short_name="web")
    assert OperationLogEntry.objects.filter(action="namespace.create", result="denied").count() == 2


def test_quota_below_current_usage_is_refused(cluster, acme, acme_admin, sandbox):
    from console.clusters import mirror

    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="busy")
    run(job)
    with ClusterAPI(cluster) as api:
        for i in range(3):
            api.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"p{i}", "namespace": "acme-busy"},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "nginx:1.27",
                                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                                "securityContext": HARDENED,
                            }
                        ]
                    },
                }
            )
    # The watcher keeps the mirror; here the test mirrors the quota's current state itself.
    with ClusterAPI(cluster) as api:
        assert wait_until(
            lambda: (
                (api.get("ResourceQuota", "caas-quota", "acme-busy").get("status") or {}).get("used", {}).get("pods")
                == "3"
            ),
            timeout=10,
        )
        quota = api.get("ResourceQuota", "caas-quota", "acme-busy")
    quota["kind"] = "ResourceQuota"
    mirror.apply_events(cluster.pk, "ResourceQuota", [("ADDED", quota)])
    with pytest.raises(ValidationError, match=r"pods quota 2 is below what the namespace uses now \(3\)"):
        services.update_project(
            project, acting_user=acme_admin, quota={"cpu": "1", "memory": "2Gi", "pods": "2"}, limit_range={}
        )
    with pytest.raises(ValidationError, match=r"pods limit 2 is below what the tenant has"):
        services.update_tenant(
            acme,
            acting_user=_operator(),
            display_name="Acme",
            contact="",
            clusters=[cluster],
            limits={"cpu": "4", "memory": "8Gi", "pods": "2"},
            max_namespaces=3,
            default_quota={},
            default_limit_range={},
            time_zone="UTC",
        )
    job = services.update_project(
        project, acting_user=acme_admin, quota={"cpu": "1", "memory": "2Gi", "pods": "4"}, limit_range={}
    )
    assert run(job).status == "succeeded"
    with ClusterAPI(cluster) as api:
        assert api.get("ResourceQuota", "caas-quota", "acme-busy")["spec"]["hard"]["pods"] == "4"
        assert api.get("LimitRange", "caas-defaults", "acme-busy") is None  # defaults cleared


def test_kubernetes_quota_refusal_reaches_the_user_in_its_own_words(cluster, acme, acme_admin):
    project, job = services.create_project(
        acme,
        acting_user=acme_admin,
        cluster=cluster,
        short_name="tight",
        quota={"cpu": "1", "memory": "1Gi", "pods": "1"},
    )
    run(job)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "securityContext": HARDENED}]},
    }
    with ClusterAPI(cluster) as api:
        api.apply({**pod, "metadata": {"name": "one", "namespace": "acme-tight"}})
        with pytest.raises(ApiRefused) as refused:
            api.apply({**pod, "metadata": {"name": "two", "namespace": "acme-tight"}})
    assert refused.value.status == 403
    assert refused.value.message.startswith('pods "two" is forbidden: exceeded quota: caas-quota')


def test_a_namespace_of_someone_else_is_not_taken_over(cluster, acme, acme_admin):
    with ClusterAPI(cluster) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-legacy"}})
    _project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="legacy")
    job = run(job)
    assert job.status == "failed" and "does not belong to this tenant" in str(job.error)
    assert Project.objects.get(name="acme-legacy").status == "failed"
    assert OperationLogEntry.objects.filter(action="namespace.create.finish", result="failed").exists()


def test_network_paths(cluster, acme, acme_admin, globex, operator):
    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="api")
    run(job)
    shop, job = services.create_project(globex, acting_user=operator, cluster=cluster, short_name="shop")
    run(job)
    with pytest.raises(ValidationError, match="only operators open paths across tenants"):
        services.add_path(project, acting_user=acme_admin, kind="namespace", peer_namespace="globex-shop")
    with pytest.raises(ValidationError, match="is not an IP block"):
        services.add_path(project, acting_user=acme_admin, kind="cidr", cidr="10.0.0.300/8")
    with pytest.raises(ValidationError, match="Ports go from 1 to 65535"):
        services.add_path(project, acting_user=acme_admin, kind="cidr", cidr="10.0.0.0/8", port=70000)
    egress, job = services.add_path(project, acting_user=acme_admin, kind="cidr", cidr="10.20.0.1/16", port=5432)
    run(job)
    cross, job = services.add_path(
        project, acting_user=operator, kind="namespace", peer_namespace="globex-shop", port=8080
    )
    assert cross.cross_tenant
    run(job)
    with ClusterAPI(cluster) as api:
        spec = api.get("NetworkPolicy", egress.policy_name, "acme-api")["spec"]
        assert spec["egress"] == [
            {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]}
        ]
        ingress = api.get("NetworkPolicy", cross.policy_name, "acme-api")["spec"]["ingress"][0]
        assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {manifests.NAMESPACE_NAME_LABEL: "globex-shop"}
        assert api.get("NetworkPolicy", f"{cross.policy_name}-egress", "globex-shop") is not None
    with pytest.raises(PermissionError):
        services.remove_path(project, acting_user=acme_admin, path_id=cross.pk)
    run(services.remove_path(project, acting_user=operator, path_id=cross.pk))
    with ClusterAPI(cluster) as api:
        assert api.get("NetworkPolicy", cross.policy_name, "acme-api") is None
        assert api.get("NetworkPolicy", f"{cross.policy_name}-egress", "globex-shop") is None
        assert api.get("NetworkPolicy", egress.policy_name, "acme-api") is not None
    assert list(NetworkPath.objects.values_list("pk", flat=True)) == [egress.pk]


def test_suspend_scales_to_zero_and_resume_restores(cluster, acme, acme_admin, operator):
    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="app")
    run(job)
    with ClusterAPI(cluster) as api:
        for name, replicas in (("web", 3), ("idle", 0)):
            api.apply(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": "acme-app"},
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                        },
                    },
                }
            )
    assert run(services.suspend_tenant(acme, acting_user=operator)).status == "succeeded"
    acme.refresh_from_db()
    assert acme.status == "suspended"
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "web", "acme-app")["spec"]["replicas"] == 0
    assert dict(SuspendedWorkload.objects.values_list("name", "replicas")) == {"web": 3, "idle": 0}
    scale = OperationLogEntry.objects.get(action="workload.scale", target_name="web")
    assert scale.before == {"replicas": 3} and scale.after == {"replicas": 0, "reason": "tenant suspended"}
    with pytest.raises(PermissionError, match="suspended"):
        services.invite_member(acme, acting_user=acme_admin, username="late")
    assert run(services.resume_tenant(acme, acting_user=operator)).status == "succeeded"
    acme.refresh_from_db()
    assert acme.is_active and not SuspendedWorkload.objects.exists()
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "web", "acme-app")["spec"]["replicas"] == 3
        assert api.get("Deployment", "idle", "acme-app")["spec"]["replicas"] == 0


def test_delete_namespace_and_tenant(cluster, acme, acme_admin, operator):
    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="tmp")
    run(job)
    with pytest.raises(ValidationError, match="Type the namespace's name"):
        services.delete_project(project, acting_user=acme_admin, confirm_name="tmp")
    job = run(services.delete_project(project, acting_user=acme_admin, confirm_name="acme-tmp"))
    assert job.status == "succeeded", job.error
    assert not Project.objects.filter(pk=project.pk).exists()
    with ClusterAPI(cluster) as api:
        assert api.get("Namespace", "acme-tmp") is None
    project, job = services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="last")
    with pytest.raises(ValidationError, match="still running"):
        services.delete_tenant(acme, acting_user=operator, confirm_name="acme")
    run(job)
    with pytest.raises(ValidationError, match="Type the tenant's name"):
        services.delete_tenant(acme, acting_user=operator, confirm_name="ACME")
    job = run(services.delete_tenant(acme, acting_user=operator, confirm_name="acme"))
    assert job.status == "succeeded", job.error
    assert not Tenant.objects.filter(name="acme").exists()
    with ClusterAPI(cluster) as api:
        assert api.get("Namespace", "acme-last") is None
    assert OperationLogEntry.objects.filter(action="namespace.delete_object", target_name="acme-last").exists()


def test_identity_for_tenant_users_carries_their_groups(acme, acme_admin, operator):
    member = mk_member(acme, "acme-dev")
    assert access.identity_for(operator, acme).user is None
    assert access.identity_for(acme_admin, acme).groups == ("caas:tenant:acme", "caas:tenant:acme:admins")
    assert access.identity_for(member, acme).groups == ("caas:tenant:acme",)


def _operator():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="op")


def test_the_clusters_own_rbac_refuses_cross_tenant_access(cluster, acme, acme_admin, globex, operator, sandbox):
    """Even with every console check bypassed, a tenant user's impersonated request is
    refused by the cluster outside the tenant's namespaces, and its audit names them."""
    run(services.create_project(acme, acting_user=acme_admin, cluster=cluster, short_name="own")[1])
    run(services.create_project(globex, acting_user=operator, cluster=cluster, short_name="theirs")[1])
    member = mk_member(acme, "acme-dev")
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    with ClusterAPI(cluster, access.identity_for(member, acme)) as api:
        api.apply({**config_map, "metadata": {"name": "mine", "namespace": "acme-own"}})
        with pytest.raises(ApiRefused) as foreign:
            api.apply({**config_map, "metadata": {"name": "sneaky", "namespace": "globex-theirs"}})
        with pytest.raises(ApiRefused) as everywhere:
            api.list("Pod")
        with pytest.raises(ApiRefused) as quota:  # members may not loosen their own quota
            api.patch("ResourceQuota", "caas-quota", "acme-own", {"spec": {"hard": {"pods": "1000"}}})
    assert foreign.value.status == 403
    assert (
        'User "acme-dev" cannot patch resource "configmaps" in API group "" in the namespace "globex-theirs"'
        in foreign.value.message
    )
    assert everywhere.value.status == 403 and "at the cluster scope" in everywhere.value.message
    assert quota.value.status == 403
    audit = [
        e for e in sandbox.audit_events() if e.get("impersonatedUser") == "acme-dev" or e.get("user") == "acme-dev"
    ]
    assert any(e.get("namespace") == "globex-theirs" and e.get("code") == 403 for e in audit)


def test_calico_global_policy_where_the_cluster_has_calico(db, operator):
    from console.sandbox import SandboxCluster

    from ..factories import mk_cluster

    with SandboxCluster(nodes=1, calico=True) as sandbox:
        cluster = mk_cluster("calico", kubeconfig_text=sandbox.kubeconfig_text())
        tenant = services.create_tenant(
            acting_user=operator, name="initech", display_name="Initech", clusters=[cluster]
        )
        _project, job = services.create_project(tenant, acting_user=operator, cluster=cluster, short_name="app")
        assert run(job).status == "succeeded"
        with ClusterAPI(cluster) as api:
            policy = api.get("GlobalNetworkPolicy", "caas-tenant-initech")
        assert policy["spec"]["namespaceSelector"] == "caas.io/tenant == 'initech'"
        assert policy["spec"]["ingress"][-1] == {"action": "Deny"}
        assert Tenant.objects.get(pk=tenant.pk).isolation["calico"]["calico"] is True
        # a path an operator opens from another tenant is in the Calico policy too (read first:
        # without it, Calico would deny what the NetworkPolicies allow), and goes with the path
        hooli = services.create_tenant(acting_user=operator, name="hooli", display_name="Hooli", clusters=[cluster])
        _peer, job = services.create_project(hooli, acting_user=operator, cluster=cluster, short_name="web")
        assert run(job).status == "succeeded"
        path, job = services.add_path(
            _project, acting_user=operator, kind="namespace", peer_namespace="hooli-web", port=8080
        )
        assert run(job).status == "succeeded"
        with ClusterAPI(cluster) as api:
            ingress = api.get("GlobalNetworkPolicy", "caas-tenant-initech")["spec"]["ingress"]
        assert ingress[-2:] == [
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"namespaceSelector": "kubernetes.io/metadata.name == 'hooli-web'"},
                "destination": {"namespaceSelector": "kubernetes.io/metadata.name == 'initech-app'", "ports": [8080]},
            },
            {"action": "Deny"},
        ]
        assert run(services.remove_path(_project, acting_user=operator, path_id=path.pk)).status == "succeeded"
        with ClusterAPI(cluster) as api:
            ingress = api.get("GlobalNetworkPolicy", "caas-tenant-initech")["spec"]["ingress"]
        assert len(ingress) == 3 and ingress[-1] == {"action": "Deny"}
        assert (
            run(
                services.delete_tenant(Tenant.objects.get(pk=tenant.pk), acting_user=operator, confirm_name="initech")
            ).status
            == "succeeded"
        )
        with ClusterAPI(cluster) as api:
            assert api.get("GlobalNetworkPolicy", "caas-tenant-initech") is None
