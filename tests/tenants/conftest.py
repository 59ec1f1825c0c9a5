import pytest

from ..conftest import english_fixture, sandbox_fixture
from ..factories import mk_member, mk_tenant

english = english_fixture(autouse=True)
sandbox = sandbox_fixture("module", nodes=2)


@pytest.fixture
def acme(cluster, operator):
    from tenants import services

    tenant = services.create_tenant(
        acting_user=operator,
        name="acme",
        display_name="Acme",
        clusters=[cluster],
        limits={"cpu": "4", "memory": "8Gi", "pods": "20"},
        max_namespaces=3,
        default_quota={"cpu": "1", "memory": "2Gi", "pods": "5"},
        default_limit_range={
            "request_cpu": "100m",
            "limit_cpu": "500m",
            "request_memory": "128Mi",
            "limit_memory": "256Mi",
        },
    )
    return tenant


@pytest.fixture
def acme_admin(acme):
    return mk_member(acme, "acme-admin", "tenant-admin")


@pytest.fixture
def globex(cluster, operator):
    return mk_tenant("globex", clusters=[cluster])


def run(job):
    """Run a queued job's task here, as a worker would (tests do not commit, so nothing
    was sent to the broker)."""
    from console.jobs.models import Job
    from tenants.tasks import run_tenant_job

    run_tenant_job.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)
