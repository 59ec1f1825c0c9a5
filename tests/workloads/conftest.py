import itertools
import time

import pytest

from ..conftest import english_fixture, sandbox_fixture
from ..factories import mk_member

_namespaces = itertools.count(1)
english = english_fixture(autouse=True)
sandbox = sandbox_fixture("module", nodes=2)  # each test gets its own namespace


@pytest.fixture(autouse=True)
def rollouts_end_soon(quick_rollouts):
    """Every test here has quick rollouts."""


def create_acme(cluster, operator, storage_quota="10Gi"):
    """Tenant acme on `cluster`, each namespace's default quota allowing `storage_quota`."""
    from tenants import services

    return services.create_tenant(
        acting_user=operator,
        name="acme",
        display_name="Acme",
        clusters=[cluster],
        limits={"cpu": "8", "memory": "16Gi", "pods": "40", "storage": "50Gi"},
        default_quota={"cpu": "2", "memory": "4Gi", "pods": "10", "storage": storage_quota},
        default_limit_range={
            "request_cpu": "100m",
            "limit_cpu": "500m",
            "request_memory": "64Mi",
            "limit_memory": "256Mi",
        },
    )


@pytest.fixture
def acme(cluster, operator):
    return create_acme(cluster, operator)


@pytest.fixture
def dev(acme):
    """A tenant member (ClusterRole edit in the tenant's namespaces)."""
    return mk_member(acme, "acme-dev")


@pytest.fixture
def project(acme, cluster, operator):
    """A provisioned namespace of acme, new for every test: quota, container defaults, RBAC."""
    return provisioned_project(acme, cluster, operator, f"ns{next(_namespaces)}")


def provisioned_project(tenant, cluster, operator, short_name):
    """A namespace of `tenant` created and provisioned as the worker would."""
    from tenants import services

    project, job = services.create_project(tenant, acting_user=operator, cluster=cluster, short_name=short_name)
    assert run_tenant(job).status == "succeeded"
    project.refresh_from_db()
    return project


def run_tenant(job):
    from tenants.tasks import run_tenant_job

    return finished(run_tenant_job, job)


def run(job):
    from workloads.tasks import run_app_job

    return finished(run_app_job, job)


def finished(task, job, timeout=60):
    """Run a queued job's task here, as a worker would, and return the job once it ended. A
    test that commits sends its job to the broker too, where the session's live worker (the
    browser tests' live_console, when one ran earlier in this process) may take it first:
    then this waits for that worker."""
    from console.jobs.models import Job

    task.apply(args=[job.pk])
    deadline = time.monotonic() + timeout
    while (current := Job.objects.get(pk=job.pk)).status == "running":  # ours ended: another worker's
        assert time.monotonic() < deadline, current.status
        time.sleep(0.2)
    return current


def spec(**changes):
    from workloads import specs

    value = specs.empty_spec()
    value.update(
        image="nginx:1.27",
        replicas=2,
        ports=[{"name": "http", "port": 80}],
        resources={"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
    )
    value.update(changes)
    return value


def mirror_namespace(
    cluster, namespace, kinds=("Deployment", "StatefulSet", "ReplicaSet", "Pod", "Event", "Service", "Ingress")
):
    """What the watcher would do: copy the namespace's objects into the resource mirror."""
    from console.clusters import mirror
    from console.clusters.models import MirroredObject
    from console.kube.api import ClusterAPI

    with ClusterAPI(cluster) as api:
        for kind in kinds:
            items = api.list(kind, namespace)
            MirroredObject.objects.filter(cluster=cluster, kind=kind, namespace=namespace).delete()
            for item in items:
                item["kind"] = kind
            if items:
                mirror.apply_events(cluster.pk, kind, [("ADDED", item) for item in items])


def deploy_web(project, dev, **changes):
    """Deployment app "web" deployed by the tenant member, rolled out."""
    from workloads import services

    app, job = services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec(**changes))
    assert run(job).status == "succeeded"
    app.refresh_from_db()
    return app


@pytest.fixture
def web(project, dev):
    return deploy_web(project, dev)


@pytest.fixture
def pod(cluster, web):
    """The name of web's first pod (modules that want exactly one deploy web with one replica)."""
    from console.kube.api import ClusterAPI

    with ClusterAPI(cluster) as api:
        return api.list("Pod", web.namespace, label_selector="caas.io/app=web")[0]["metadata"]["name"]
