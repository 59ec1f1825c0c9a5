"""Disabling image builds removes the tenant's build namespace from the cluster, through the
job runner (as the console), recorded in the operation log; refused while a run of the tenant
is running; idempotent (a namespace gone already is fine, a job run twice converges); a
namespace that is not the console's build namespace, or where a build still runs, is kept.
On the sandbox cluster."""

import pytest
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads.pipelines import services, tasks
from workloads.pipelines.models import BuildSpace, Run

from ..factories import mk_app
from ..workloads.conftest import finished
from .conftest import make_pipeline

pytestmark = pytest.mark.django_db
NAMESPACE = "caas-build-acme"


def made_by_a_build(cluster, pipeline):
    """The build namespace as a build makes it (quota, limits, no-ingress policy), with a Secret in it."""
    space = services.build_space(pipeline)
    with ClusterAPI(cluster) as api:
        tasks.build_namespace(api, BuildSpace.objects.select_related("tenant").get(pk=space.pk))
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "web-ci-registry", "namespace": NAMESPACE},
                "stringData": {"x": "y"},
            }
        )
        assert api.get("ResourceQuota", "builds", NAMESPACE) is not None


def with_builds(project, dev):
    """A pipeline of an app (stored only: no build runs here) whose tenant has builds enabled."""
    mk_app(project)
    return make_pipeline(project, dev)[0]


def namespace(cluster, name=NAMESPACE):
    with ClusterAPI(cluster) as api:
        return api.get("Namespace", name)


def removal_jobs():
    return Job.objects.filter(kind="pipeline.builds_remove").order_by("id")


def test_disabling_builds_deletes_the_build_namespace_in_a_job(cluster, project, dev, operator):
    pipeline = with_builds(project, dev)
    made_by_a_build(cluster, pipeline)
    assert services.set_builds(pipeline, acting_user=operator, enabled=False) is None
    assert not BuildSpace.objects.exists()  # builds go back to the tenant's namespaces at once
    (job,) = removal_jobs()
    assert (job.cluster, job.namespace, job.target_kind, job.target_name) == (
        cluster.name,
        NAMESPACE,
        "Namespace",
        NAMESPACE,
    )
    assert namespace(cluster) is not None  # not before the job runs
    job = finished(tasks.remove_build_namespace_job, job)
    assert job.status == "succeeded", (job.error, [str(s["text"]) for s in job.steps])
    assert namespace(cluster) is None  # really gone from the cluster, its objects with it
    with ClusterAPI(cluster) as api:
        assert api.get("Secret", "web-ci-registry", NAMESPACE) is None
    assert [str(s["text"]) for s in job.steps][-1] == f"Namespace {NAMESPACE} is gone."
    entries = OperationLogEntry.objects.filter(target_name=NAMESPACE).order_by("id")
    assert [(e.action, e.result, e.actor_name) for e in entries] == [
        ("pipeline.builds_enable", "succeeded", "op"),
        ("pipeline.builds_disable", "accepted", "op"),
        ("namespace.delete_object", "succeeded", "op"),  # the job's, on behalf of the operator
        ("pipeline.builds_remove.finish", "succeeded", "op"),
    ]
    assert entries[1].after == {"enabled": False, "job": job.pk}

    # idempotent: the job again (a worker died after the deletion) ends well, deleting nothing
    Job.objects.filter(pk=job.pk).update(status="pending", owner="", finished_at=None)
    again = finished(tasks.remove_build_namespace_job, job)
    assert again.status == "succeeded" and again.steps[-1]["text"] == job.steps[-1]["text"]
    assert OperationLogEntry.objects.filter(action="namespace.delete_object").count() == 1
    # disabling what is disabled already, with no namespace left: nothing to do, no job
    assert services.set_builds(pipeline, acting_user=operator, enabled=False) is None
    assert removal_jobs().count() == 1


def test_a_namespace_an_earlier_disabling_left_is_removed_too(cluster, project, dev, operator, sandbox):
    """Disabling used to leave the namespace behind: the mirror shows it, so disabling again
    removes it, though builds are disabled already."""
    from console.clusters.models import MirroredObject

    pipeline = with_builds(project, dev)
    made_by_a_build(cluster, pipeline)
    BuildSpace.objects.all().delete()  # as the old disabling did
    with ClusterAPI(cluster) as api:
        found = api.get("Namespace", NAMESPACE)
    MirroredObject.objects.create(  # what the watcher records (it does not run in these tests)
        cluster=cluster,
        kind="Namespace",
        api_version="v1",
        namespace="",
        name=NAMESPACE,
        uid=found["metadata"]["uid"],
        resource_version=found["metadata"]["resourceVersion"],
        labels=found["metadata"]["labels"],
        phase="Active",
        object=found,
    )
    services.set_builds(pipeline, acting_user=operator, enabled=False)
    assert finished(tasks.remove_build_namespace_job, removal_jobs().get()).status == "succeeded"
    assert namespace(cluster) is None


def test_disabling_is_refused_while_a_run_of_the_tenant_is_running(client, cluster, project, dev, operator):
    pipeline = with_builds(project, dev)
    made_by_a_build(cluster, pipeline)
    run = services.run_pipeline(pipeline, acting_user=dev)
    Run.objects.filter(pk=run.pk).update(status="running")  # its build runs in the build namespace
    client.force_login(operator)
    url = reverse("pipelines:pipeline_builds", args=[project.tenant.name, project.name, pipeline.name])
    refused = client.post(url, {})
    assert refused.status_code == 400
    assert "A run of the tenant is in progress: wait for it or cancel it first." in refused.content.decode()
    assert BuildSpace.objects.exists() and namespace(cluster) is not None and not removal_jobs().exists()
    entry = OperationLogEntry.objects.filter(action="pipeline.builds_disable").get()
    assert entry.result == "failed" and "in progress" in entry.error
    # once the run ended, the same request goes through
    Run.objects.filter(pk=run.pk).update(status="failed")
    assert client.post(url, {}).status_code == 302
    assert finished(tasks.remove_build_namespace_job, removal_jobs().get()).status == "succeeded"
    assert namespace(cluster) is None


def test_the_job_keeps_a_namespace_with_a_build_still_running_or_not_the_consoles(cluster, project, dev, operator):
    pipeline = with_builds(project, dev)
    made_by_a_build(cluster, pipeline)
    with ClusterAPI(cluster) as api:  # a build Job that started as builds were being disabled (suspended: never ends)
        api.apply(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "late-build", "namespace": NAMESPACE},
                "spec": {
                    "suspend": True,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "kaniko", "image": tasks.KANIKO_IMAGE}],
                        }
                    },
                },
            }
        )
    services.set_builds(pipeline, acting_user=operator, enabled=False)
    job = finished(tasks.remove_build_namespace_job, removal_jobs().get())
    assert job.status == "failed" and "late-build" in str(job.error) and "it stays" in str(job.error)
    assert namespace(cluster) is not None
    finish = OperationLogEntry.objects.get(action="pipeline.builds_remove.finish")
    assert finish.result == "failed" and "late-build" in finish.error
    with ClusterAPI(cluster) as api:
        api.delete("Job", "late-build", NAMESPACE)
        # a namespace of that name the console did not make for the tenant is never deleted
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "caas-build-globex"}})
    job = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=job.pk).update(status="pending", owner="", finished_at=None)
    assert finished(tasks.remove_build_namespace_job, job).status == "succeeded"
    assert namespace(cluster) is None
    other = Job.objects.create(
        kind="pipeline.builds_remove",
        tenant_id=project.tenant_id,
        tenant_name="globex",
        cluster=cluster.name,
        payload={"tenant": project.tenant_id, "cluster": cluster.pk, "namespace": "caas-build-globex"},
    )
    refused = finished(tasks.remove_build_namespace_job, other)
    assert refused.status == "failed" and "is not the console's build namespace" in str(refused.error)
    assert namespace(cluster, "caas-build-globex") is not None


def test_enabled_again_before_the_job_ran_keeps_the_namespace(cluster, project, dev, operator):
    pipeline = with_builds(project, dev)
    made_by_a_build(cluster, pipeline)
    services.set_builds(pipeline, acting_user=operator, enabled=False)
    services.set_builds(pipeline, acting_user=operator, enabled=True)
    job = finished(tasks.remove_build_namespace_job, removal_jobs().get())
    assert job.status == "succeeded" and "were enabled again" in str(job.steps[-1]["text"])
    assert namespace(cluster) is not None
