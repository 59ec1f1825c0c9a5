"""The embedded sandbox starts empty at every run: namespaces are provisioned again, and the
apps in them come back as the console last applied them."""

import io
import re

import pytest
from django.core.management import call_command

from console.clusters.clusters import attach_embedded_cluster
from console.demo import Demo
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from console.signals import embedded_cluster_attached
from tenants.models import Tenant
from workloads import services
from workloads.models import App

from .conftest import run, run_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_sandbox():
    """An empty sandbox in place of the one the apps were deployed to, as after a restart."""
    from console.sandbox import SandboxCluster

    sandbox = SandboxCluster(nodes=2, clock_speed=20).start()
    yield sandbox
    sandbox.stop()


def restart_on(sandbox, demo=False):
    """What `manage.py up` does at a start: attach the (empty) sandbox, let the apps put back
    what they keep there, then, with the demo, `seed_demo`, whose waits run the queued jobs
    here as up's worker runs them meanwhile."""
    cluster = attach_embedded_cluster("sandbox", sandbox.kubeconfig_text())
    embedded_cluster_attached.send(sender=None, cluster=cluster)
    for job in Job.objects.filter(kind="namespace.update", status="pending"):
        assert run_tenant(job).status == "succeeded", job.error
    if demo:
        out = io.StringIO()
        call_command("seed_demo", cluster=cluster.name, stdout=out)
        run_queued()
        return cluster, out.getvalue()
    return cluster


def run_queued():
    """Run the queued jobs, oldest first, as a worker would."""
    while job := Job.objects.filter(status="pending").order_by("pk").first():
        runner = run_tenant if job.kind.startswith(("namespace.", "tenant.")) else run
        assert runner(job).status == "succeeded", (job.kind, job.error)


@pytest.fixture
def worker(monkeypatch):
    """seed_demo's waits for the worker run the queued jobs here."""

    def wait_for(demo, ready, what):
        run_queued()
        return ready()

    monkeypatch.setattr(Demo, "wait_for", wait_for)


def test_apps_come_back_with_service_ingress_and_autoscaler(web, dev, fresh_sandbox):
    assert (
        run(
            services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80, host="shop.example.com")
        ).status
        == "succeeded"
    )
    assert (
        run(services.set_autoscaler(web, acting_user=dev, min_replicas=2, max_replicas=4, cpu=60)).status == "succeeded"
    )

    before_restart = OperationLogEntry.objects.latest("id").pk
    cluster = restart_on(fresh_sandbox)
    restores = list(Job.objects.filter(kind="app.restore"))
    assert len(restores) == 1 and App.objects.get(pk=web.pk).status == "deploying"
    job = run(restores[0])
    assert job.status == "succeeded", (job.error, job.steps)

    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "web", web.namespace)
        ingress = api.get("Ingress", "web", web.namespace)
        hpa = api.get("HorizontalPodAutoscaler", "web", web.namespace)
        assert api.get("Service", "web", web.namespace)["spec"]["selector"] == {"caas.io/app": "web"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployment["status"]["readyReplicas"] == 2
    assert ingress["spec"]["rules"][0]["host"] == "shop.example.com"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert App.objects.get(pk=web.pk).status == "running"
    # the start is one entry in the operation log (and the new revision, for the revision list)
    restored = OperationLogEntry.objects.filter(pk__gt=before_restart)
    assert sorted(restored.values_list("action", flat=True)) == ["app.revision", "cluster.attach_embedded"], list(
        restored.values_list("action", "target_name")
    )

    # a second start finds the app in place and changes nothing
    restart_on(fresh_sandbox)
    again = Job.objects.filter(kind="app.restore").exclude(pk=job.pk).get()
    again = run(again)
    assert again.status == "succeeded" and "nothing to restore" in str(again.steps[-1]["text"])


def test_an_ordinary_namespace_update_leaves_removed_apps_removed(web, acme, operator, cluster):
    from tenants import services as tenant_services

    with ClusterAPI(cluster) as api:
        api.delete("Deployment", "web", web.namespace)
    project = web.project
    job = tenant_services.update_project(
        project, acting_user=operator, quota=project.quota, limit_range=project.limit_range
    )
    assert run_tenant(job).status == "succeeded"
    assert not Job.objects.filter(kind="app.restore").exists()


def test_the_demo_tenant_starts_with_an_app_of_the_console(fresh_sandbox, worker):
    """`make run`: the demo tenant's shop namespace holds the sandbox's objects made outside
    the console, and one app the console deployed, exposed and autoscaled, all made with the
    services by the demo's people, once: later starts restore them and make nothing."""
    from console.sandbox.demo import seed_demo

    seed_demo(fresh_sandbox)
    cluster, said = restart_on(fresh_sandbox, demo=True)
    assert "created demo app 'storefront' in demo-shop" in said
    tenant = Tenant.objects.get(name="demo")
    assert sorted(tenant.memberships.values_list("user__username", "role")) == [
        ("alice", "tenant-admin"),
        ("bob", "tenant-member"),
    ]
    assert sorted(tenant.projects.values_list("name", "status")) == [("demo-batch", "active"), ("demo-shop", "active")]
    app = App.objects.get()
    assert (app.namespace, app.name, app.status, app.created_by.username) == (
        "demo-shop",
        "storefront",
        "running",
        "alice",
    )
    assert app.autoscaler["max"] == 6 and app.ingress["host"] == "storefront.demo.local"

    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "storefront", "demo-shop")
        assert api.get("Ingress", "storefront", "demo-shop")["spec"]["rules"][0]["host"] == "storefront.demo.local"
        assert api.get("HorizontalPodAutoscaler", "storefront", "demo-shop")["spec"]["maxReplicas"] == 6
        assert api.get("Deployment", "web", "demo-shop") is not None  # the sandbox's own demo objects stay
    assert deployment["status"]["readyReplicas"] == 2
    # each made by a person, in the operation log
    actions = ("tenant.create", "tenant.member_add", "namespace.create", "app.deploy", "app.autoscale")
    made = OperationLogEntry.objects.filter(action__in=actions, result__in=["succeeded", "accepted"])
    assert set(made.values_list("action", "actor_name")) == {
        ("tenant.create", "operator"),
        ("tenant.member_add", "operator"),
        ("namespace.create", "alice"),
        ("app.deploy", "alice"),
        ("app.autoscale", "alice"),
    }

    # running it again changes nothing
    entries, jobs = OperationLogEntry.objects.count(), Job.objects.count()
    out = io.StringIO()
    call_command("seed_demo", cluster="sandbox", stdout=out)
    assert (OperationLogEntry.objects.count(), Job.objects.count()) == (entries, jobs)
    assert "password:" not in out.getvalue() and "demo user 'alice' exists" in out.getvalue()

    # later starts restore the app, and an app the user removed stays removed
    restart_on(fresh_sandbox, demo=True)
    assert App.objects.count() == 1 and Job.objects.filter(kind="app.restore").count() == 1
    App.objects.all().delete()
    restart_on(fresh_sandbox, demo=True)
    assert not App.objects.exists()


def test_the_demo_users_alone_without_a_cluster():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert re.findall(r"created demo user '(\w+)' \((\w+)\) with password: \S+", out.getvalue()) == [
        ("operator", "operator"),
        ("auditor", "auditor"),
    ]
    assert not Tenant.objects.exists()
    call_command("seed_demo", stdout=out)
    assert out.getvalue().count("password:") == 2
