import itertools

import pytest

from ..conftest import english_fixture, sandbox_fixture
from ..factories import mk_member
from ..workloads.conftest import create_acme, provisioned_project

_namespaces = itertools.count(1)
english = english_fixture(autouse=True)
sandbox = sandbox_fixture("module", nodes=2)


@pytest.fixture(autouse=True)
def rollouts_end_soon(quick_rollouts):
    """A stuck rollout fails its job within seconds here."""


@pytest.fixture
def acme(cluster, operator):
    return create_acme(cluster, operator)


@pytest.fixture
def dev(acme):
    return mk_member(acme, "acme-dev")


@pytest.fixture
def project(acme, cluster, operator):
    return provisioned_project(acme, cluster, operator, f"st{next(_namespaces)}")


def run(job):
    """Run a queued stack job here, as a worker would."""
    from console.jobs.models import Job
    from workloads.stacks.tasks import run_stack_job

    run_stack_job.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)


def recommended(name):
    from workloads.stacks import recommended as shipped
    from workloads.stacks.models import Template

    shipped.sync()
    return Template.objects.get(tenant=None, name=name).latest()
