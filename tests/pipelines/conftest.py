import pytest

from ..conftest import english_fixture, sandbox_fixture
from ..workloads.conftest import acme, deploy_web, dev, project, rollouts_end_soon, run  # noqa: F401

english = english_fixture(autouse=True)
sandbox = sandbox_fixture("module", nodes=2)  # each test gets its own namespace


@pytest.fixture(autouse=True)
def runs_run_here(nothing_sent_to_the_broker):
    """Runs and jobs here are run in the test's own threads, never by a live worker."""


GITHUB_SECRET_HEADERS = ("X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery")


def pipeline_values(**changes):
    values = {
        "app": "web",
        "repository_url": "https://git.example.com/acme/web.git",
        "branch": "main",
        "dockerfile": "Dockerfile",
        "context": ".",
        "image_repository": "registry.example.com/acme/web",
        "registry_username": "ci",
        "registry_password": "s3cret-registry-pass",
        "test_command": "echo running the tests; echo all 12 passed",
        "sonar_url": "",
        "sonar_project_key": "",
        "sonar_token": "",
        "strategy": "rolling",
        "canary_weight": 20,
        "promote_after_minutes": 0.05,
        "concurrency": "queue",
        "schedule_minutes": 0,
    }
    values.update(changes)
    return values


def make_pipeline(namespace, user, name="web-ci", builds=True, **changes):
    """A pipeline; with `builds`, an operator has enabled image builds for its tenant (Kaniko runs
    in the tenant's build namespace, Pod Security baseline)."""
    from workloads.pipelines import services

    pipeline, secret = services.create_pipeline(namespace, acting_user=user, name=name, **pipeline_values(**changes))
    if builds:
        enable_builds(pipeline)
    return pipeline, secret


def enable_builds(pipeline):
    from console.accounts.models import User
    from tests.factories import mk_user
    from workloads.pipelines import services

    operator = User.objects.filter(platform_role="operator").first() or mk_user("pipelines-op", "operator")
    return services.set_builds(pipeline, acting_user=operator, enabled=True)


def run_job(job):
    """Run a queued pipeline job here, as a worker would."""
    from console.jobs.models import Job
    from workloads.pipelines.tasks import run_pipeline_job

    run_pipeline_job.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def web(project, dev):  # noqa: F811 (the fixtures of the same names)
    return deploy_web(project, dev)
