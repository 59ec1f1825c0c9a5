"""The embedded sandbox starts empty at every run: namespaces are provisioned again, and the
apps in them come back as the console last applied them."""

import pytest

from console.kube.cluster_api import ClusterAPI
from console.clusters.clusters import attach_embedded_cluster
from console.jobs.models import Job
from console.oplog.models import OperationLogEntry
from console.signals import embedded_cluster_attached
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
    cluster = attach_embedded_cluster("sandbox", sandbox.kubeconfig_text())
    embedded_cluster_attached.send(sender=None, cluster=cluster, demo=demo)
    for job in Job.objects.filter(kind="namespace.update", status="pending"):
        assert run_tenant(job).status == "succeeded", job.error
    return cluster


def test_apps_come_back_with_service_ingress_and_autoscaler(web, dev, fresh_sandbox):
    assert run(services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80, host="shop.example.com")).status == "succeeded"
    assert run(services.set_autoscaler(web, acting_user=dev, min_replicas=2, max_replicas=4, cpu=60)).status == "succeeded"

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
    assert sorted(restored.values_list("action", flat=True)) == ["app.revision", "cluster.attach_embedded"], list(restored.values_list("action", "target_name"))

    # a second start finds the app in place and changes nothing
    restart_on(fresh_sandbox)
    again = Job.objects.filter(kind="app.restore").exclude(pk=job.pk).get()
    again = run(again)
    assert again.status == "succeeded" and "nothing to restore" in again.steps[-1]["text"]


def test_an_ordinary_namespace_update_leaves_removed_apps_removed(web, acme, operator, cluster):
    from tenants import services as tenant_services

    with ClusterAPI(cluster) as api:
        api.delete("Deployment", "web", web.namespace)
    project = web.project
    job = tenant_services.update_project(project, acting_user=operator, quota=project.quota, limit_range=project.limit_range)
    assert run_tenant(job).status == "succeeded"
    assert not Job.objects.filter(kind="app.restore").exists()


def test_the_demo_tenant_starts_with_an_app_of_the_console(fresh_sandbox):
    """`make run`: the demo tenant's shop namespace holds the sandbox's objects made outside
    the console, and one app the console deployed, exposed and autoscaled."""
    from console.sandbox.demo import seed_demo

    seed_demo(fresh_sandbox)
    cluster = restart_on(fresh_sandbox, demo=True)
    app = App.objects.get()
    assert (app.namespace, app.name, app.status, app.created_by) == ("demo-shop", "storefront", "deploying", None)
    job = run(Job.objects.get(kind="app.restore"))
    assert job.status == "succeeded", (job.error, job.steps)

    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "storefront", "demo-shop")
        assert api.get("Ingress", "storefront", "demo-shop")["spec"]["rules"][0]["host"] == "storefront.demo.local"
        assert api.get("HorizontalPodAutoscaler", "storefront", "demo-shop")["spec"]["maxReplicas"] == 6
        assert api.get("Deployment", "web", "demo-shop") is not None  # the sandbox's own demo objects stay
    assert deployment["status"]["readyReplicas"] == 2
    assert App.objects.get(pk=app.pk).status == "running"
    # its revision list names the console (the restore), not "outside the console"
    revision = OperationLogEntry.objects.get(action="app.revision", namespace="demo-shop")
    assert (revision.actor_name, revision.after["action"], revision.after["revision"]) == ("system", "app.restore", "1")

    # later starts restore it, and an app the user removed stays removed
    restart_on(fresh_sandbox, demo=True)
    assert App.objects.count() == 1 and Job.objects.filter(kind="app.restore").count() == 2
    App.objects.all().delete()
    restart_on(fresh_sandbox, demo=True)
    assert not App.objects.exists()
