"""A job cancelled while it waits (a rollout that does not finish, a namespace that does not
go away) stops at its next poll, not at the end of the wait: it ends "cancelled" within a
second or two, with the steps it had done."""

import threading
import time

import pytest
from django.db import connection

from console.jobs import jobs
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from tenants import services as tenant_services
from tenants.tasks import run_tenant_job
from workloads import services
from workloads.tasks import run_app_job

from .conftest import spec

pytestmark = pytest.mark.django_db(transaction=True)  # the job runs in a worker thread, with its own connection
CANCELLED = "Cancelled on request: the steps above were done, nothing after them."


@pytest.fixture(autouse=True)
def jobs_run_here(nothing_sent_to_the_broker):
    """These jobs run in the test's own thread."""


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def cancel_while_waiting(task, job, user, waiting_after):
    """Run the job in a worker thread; once it waits (the step `waiting_after` is done and
    nothing new happens), cancel it. Returns the job, the seconds it took to stop, and the
    number of steps it had when it was cancelled."""

    def work():
        try:
            task.apply(args=[job.pk])
        finally:
            connection.close()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    wait_for(lambda: any(waiting_after in str(s["text"]) for s in Job.objects.get(pk=job.pk).steps))
    time.sleep(1.5)  # into the wait: only polls now, no steps
    steps = len(Job.objects.get(pk=job.pk).steps)
    started = time.monotonic()
    jobs.cancel_job(Job.objects.get(pk=job.pk), acting_user=user)
    worker.join(timeout=15)
    assert not worker.is_alive()
    return Job.objects.get(pk=job.pk), time.monotonic() - started, steps


def test_a_job_following_a_rollout_stops_at_its_next_poll_once_cancelled(sandbox, project, dev):
    sandbox.set_delays(ready=100_000)  # the pods start, and are never ready
    try:
        _app, job = services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec())
        job, seconds, steps = cancel_while_waiting(run_app_job, job, dev, "2/2 updated")
    finally:
        sandbox.set_delays(ready=1.0)
    assert job.status == "cancelled" and str(job.error) == CANCELLED
    assert seconds < 3, seconds
    texts = [str(s["text"]) for s in job.steps]
    assert len(texts) == steps, texts  # it stopped in the wait, not at a step
    assert "Applied Deployment web" in texts and any(text.startswith("2/2 updated, 0 ready") for text in texts)
    assert not any(text.startswith("Rollout complete") for text in texts)


def test_a_job_waiting_for_a_namespace_to_go_stops_at_its_next_poll_once_cancelled(cluster, project, operator):
    held = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": project.name, "finalizers": ["example.com/hold"]},
    }
    with ClusterAPI(cluster) as api:
        api.apply(held)  # the namespace cannot be finalised while this waits for its finalizer
        try:
            job = tenant_services.delete_project(project, acting_user=operator, confirm_name=project.name)
            job, seconds, steps = cancel_while_waiting(run_tenant_job, job, operator, "Deleting namespace")
        finally:
            api.apply({**held, "metadata": {**held["metadata"], "finalizers": []}})
    assert job.status == "cancelled" and str(job.error) == CANCELLED
    assert seconds < 3, seconds
    texts = [str(s["text"]) for s in job.steps]
    assert len(texts) == steps, texts
    assert f"Deleting namespace {project.name} and everything in it" in texts
    assert f"Namespace {project.name} is gone." not in texts
