"""Deploying apps into tenant namespaces on a real (sandbox) API server over HTTPS: jobs run
as the worker runs them, results read back from the cluster."""

import pytest
from django.core.exceptions import ValidationError

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry
from tenants import services as tenant_services
from workloads import services, specs
from workloads.models import App

from ..factories import mk_member, mk_tenant
from .conftest import run, spec

pytestmark = pytest.mark.django_db


def test_member_deploys_a_deployment_with_everything_the_form_offers(cluster, project, dev):
    with ClusterAPI(cluster) as api:
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": project.name},
                "stringData": {"DB_PASSWORD": "s3cret"},
            }
        )
    wanted = spec(
        env=[{"name": "MODE", "value": "prod"}, {"name": "API_TOKEN", "value": "abc"}],
        env_secret="db",
        liveness={"path": "/healthz", "port": 80},
        readiness={"path": "/ready", "port": 80},
        command=["nginx"],
        args=["-g", "daemon off;"],
    )
    app, job = services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=wanted)
    assert app.status == "deploying" and job.status == "pending"
    job = run(job)
    assert job.status == "succeeded", job.error
    assert "Rollout complete: 2 of 2 replicas ready." in [str(s["text"]) for s in job.steps]
    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "web", project.name)
        pods = api.list("Pod", project.name, label_selector="caas.io/app=web")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["env"] == [{"name": "MODE", "value": "prod"}, {"name": "API_TOKEN", "value": "abc"}]
    assert container["envFrom"] == [{"secretRef": {"name": "db"}}]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "200m", "memory": "128Mi"},
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 80}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 80}
    assert container["command"] == ["nginx"] and container["args"] == ["-g", "daemon off;"]
    assert container["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "caas-console"
    assert deployment["metadata"]["annotations"]["caas.io/job"] == str(job.pk)
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    assert App.objects.get(pk=app.pk).status == "running"
    # the operation log: accepted request, each object applied as the member, the revision, the end
    entries = OperationLogEntry.objects.filter(namespace=project.name).exclude(action__startswith="namespace")
    assert entries.get(action="app.deploy").result == "accepted"
    assert entries.get(action="app.deploy").actor_name == "acme-dev"
    assert entries.get(action="app.deploy").payload["spec"]["env"] == {"MODE": "prod", "API_TOKEN": "********"}
    assert entries.get(action="app.apply", target_kind="Deployment").result == "succeeded"
    revision = entries.get(action="app.revision")
    assert (
        revision.actor_name == "acme-dev"
        and revision.after["revision"] == "1"
        and revision.after["image"] == "nginx:1.27"
    )
    assert entries.get(action="app.deploy.finish").result == "succeeded"
    assert "Deploy of web finished" in [str(note.title) for note in Notification.objects.filter(user=dev)]


def test_stateful_app_gets_ceph_rbd_volumes_per_replica(cluster, project, dev):
    wanted = spec(replicas=2, volumes=[{"name": "data", "mount_path": "/var/lib/data", "size": "1Gi"}])
    app, job = services.deploy_app(project, acting_user=dev, name="db", kind="StatefulSet", spec=wanted)
    job = run(job)
    assert job.status == "succeeded", job.error
    assert app.spec["storage_class"] == "ceph-rbd"
    with ClusterAPI(cluster) as api:
        sts = api.get("StatefulSet", "db", project.name)
        claims = api.list("PersistentVolumeClaim", project.name)
        headless = api.get("Service", "db-headless", project.name)
    assert sts["spec"]["serviceName"] == "db-headless" and headless["spec"]["clusterIP"] == "None"
    template = sts["spec"]["volumeClaimTemplates"][0]
    assert (
        template["spec"]["storageClassName"] == "ceph-rbd"
        and template["spec"]["resources"]["requests"]["storage"] == "1Gi"
    )
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert {c["spec"]["storageClassName"] for c in claims} == {"ceph-rbd"}
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "data", "mountPath": "/var/lib/data"}]


@pytest.mark.parametrize(
    "image",
    [
        "Nginx:1.27",
        "nginx:",
        "nginx::1",
        "-nginx",
        "nginx latest",
        "registry.example.com/Team/api",
        "nginx@sha256:abc",
        "",
        "a" * 300,
    ],
)
def test_invalid_image_references_are_refused(project, dev, image):
    with pytest.raises(ValidationError, match="image"):
        services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec(image=image))
    assert not App.objects.exists() and not Job.objects.filter(kind__startswith="app.").exists()
    assert OperationLogEntry.objects.get(action="app.deploy").result == "failed"


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "nginx:1.27",
        "library/nginx:1.27-alpine",
        "registry.example.com:5000/team/api:v2.1",
        "localhost/app",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "quay.io/a/b_c__d-e:1.0_beta",
    ],
)
def test_valid_image_references(image):
    assert specs.check_image(image) == image


@pytest.mark.parametrize("name", ["Web", "-web", "web_1", "", "x" * 41, "web.app"])
def test_invalid_app_names_are_refused(project, dev, name):
    with pytest.raises(ValidationError, match="DNS-1123"):
        services.deploy_app(project, acting_user=dev, name=name, kind="Deployment", spec=spec())


@pytest.mark.parametrize(
    "text,message",
    [
        ("0", "1 to 65535"),
        ("65536", "1 to 65535"),
        ("http:80, web:80", "twice"),
        ("HTTP:80", "Port name"),
        ("a-very-long-port-name:80", "Port name"),
        ("80x", "1 to 65535"),
    ],
)
def test_port_rules(text, message):
    with pytest.raises(ValidationError, match=message):
        specs.parse_ports(text)


def test_ports_env_and_volumes_parse():
    assert specs.parse_ports("80, metrics:9090") == [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]
    assert specs.parse_env("A=1\n# comment\nB=x=y\n") == [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}]
    with pytest.raises(ValidationError, match="twice"):
        specs.parse_env("A=1\nA=2")
    with pytest.raises(ValidationError, match="not KEY=value"):
        specs.parse_env("JUSTAKEY")
    assert specs.parse_volumes("data /data 1Gi") == [{"name": "data", "mount_path": "/data", "size": "1Gi"}]
    with pytest.raises(ValidationError, match="absolute"):
        specs.parse_volumes("data data 1Gi")
    with pytest.raises(ValidationError, match="stateless"):
        specs.validate("Deployment", spec(volumes=[{"name": "data", "mount_path": "/data", "size": "1Gi"}]))
    with pytest.raises(ValidationError, match="above its limit"):
        specs.validate("Deployment", spec(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}))


def test_quota_is_checked_before_anything_is_created(cluster, project, dev):
    # the namespace may hold 10 pods and 2 CPUs of requests; 12 replicas of 100m would need 12 pods
    with pytest.raises(
        ValidationError,
        match=r"Not enough quota: 12 more replicas need 12 of pods, but quota caas-quota leaves 10 of 10",
    ):
        services.deploy_app(project, acting_user=dev, name="big", kind="Deployment", spec=spec(replicas=12))
    with pytest.raises(ValidationError, match=r"need 3 of requests.cpu, but quota caas-quota leaves 2 of 2"):
        services.deploy_app(
            project,
            acting_user=dev,
            name="big",
            kind="Deployment",
            spec=spec(replicas=3, resources={"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}),
        )
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "big", project.name) is None
    assert not App.objects.exists()


def test_a_refusal_in_the_dry_run_leaves_nothing_behind(cluster, project, dev, operator):
    # No Services allowed in this namespace: the StatefulSet's headless Service is refused by
    # Kubernetes during the dry run, so neither it nor the StatefulSet is created.
    tenant_services.update_project(
        project, acting_user=operator, quota={**project.quota, "services": "0"}, limit_range=project.limit_range
    )
    from .conftest import run_tenant

    run_tenant(Job.objects.filter(kind="namespace.update").latest("id"))
    with pytest.raises(
        ValidationError, match=r'The cluster refused: services "db-headless" is forbidden: exceeded quota'
    ):
        services.deploy_app(project, acting_user=dev, name="db", kind="StatefulSet", spec=spec(replicas=1))
    with ClusterAPI(cluster) as api:
        assert api.get("StatefulSet", "db", project.name) is None
        assert api.get("Service", "db-headless", project.name) is None
    assert not App.objects.exists()


def test_missing_secret_existing_object_and_duplicate_names(cluster, project, dev):
    with pytest.raises(ValidationError, match="no Secret named nope"):
        services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec(env_secret="nope"))
    with ClusterAPI(cluster) as api:
        api.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "legacy", "namespace": project.name},
                "spec": {
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
            }
        )
    with pytest.raises(ValidationError, match="exists already .* outside the console"):
        services.deploy_app(project, acting_user=dev, name="legacy", kind="Deployment", spec=spec())
    services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec())
    with pytest.raises(ValidationError, match="An app named web exists already"):
        services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec())


def test_outsiders_auditors_and_suspended_tenants_are_refused(cluster, project, dev, operator, auditor):
    globex_admin = mk_member(mk_tenant("globex", clusters=[cluster]), "globex-admin", "tenant-admin")
    for user in (globex_admin, auditor):
        with pytest.raises(PermissionError):
            services.deploy_app(project, acting_user=user, name="web", kind="Deployment", spec=spec())
    tenant_services.suspend_tenant(project.tenant, acting_user=operator)
    project.refresh_from_db()
    project.tenant.refresh_from_db()
    with pytest.raises(PermissionError, match="suspended"):
        services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec())
    with pytest.raises(PermissionError, match="suspended"):
        services.deploy_app(project, acting_user=operator, name="web", kind="Deployment", spec=spec())
    assert OperationLogEntry.objects.filter(action="app.deploy", result="denied").count() == 4
    assert not App.objects.exists()


def test_operator_deploys_anywhere_with_the_consoles_identity(cluster, project, operator):
    app, job = services.deploy_app(
        project, acting_user=operator, name="ops-tool", kind="Deployment", spec=spec(replicas=1)
    )
    assert run(job).status == "succeeded"
    assert OperationLogEntry.objects.get(action="app.deploy").actor_name == "op"
