"""kill -9 of the worker running a namespace job: the job does not stay "running" forever.
The next worker to start finds its heartbeat stale, queues it again (namespace steps are
idempotent) and runs it to the end; the namespace then accepts Retry."""

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from console.celery import app as celery_app
from console.jobs.models import Job
from tenants import services

from .. import live
from ..conftest import KEY_PREFIX
from ..factories import mk_cluster, mk_member, mk_user
from .test_worker_and_websocket import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HEARTBEAT_TIMEOUT = 3


@pytest.fixture
def own_queue(monkeypatch):
    """A queue of this test's own: the session's live console worker must not take the job.
    Afterwards the killed worker's unacknowledged message is forgotten, so Redis does not
    hand it to anybody hours later."""
    queue = f"{KEY_PREFIX}-killed"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    yield queue
    client = redis.Redis.from_url(settings.REDIS_URL)
    for tag, payload in client.hscan_iter("unacked"):
        if json.loads(payload)[2] == queue:  # [message, exchange, routing key]
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue)
    client.close()


def test_a_killed_workers_job_is_run_again_by_the_next_worker(live_env, sandbox, own_queue):
    env = {**live_env, "CONSOLE_KEY_PREFIX": own_queue, "JOB_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT)}
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    operator = mk_user("op-killed", "operator", password=None)
    acme = services.create_tenant(acting_user=operator, name="acme", display_name="Acme", clusters=[cluster])
    admin = mk_member(acme, "acme-admin", "tenant-admin")
    admin.language = "en"
    admin.save(update_fields=["language"])
    sandbox.knobs.set_api_faults(stall_rate=1.0, stall_seconds=1.0)  # every API call takes a second

    with live.celery_worker(env, "doomed") as doomed:
        project, job = services.create_project(acme, acting_user=admin, cluster=cluster, short_name="web")
        assert wait_until(lambda: Job.objects.get(pk=job.pk).steps, timeout=30), live.read_log(doomed)
        doomed.kill()  # SIGKILL: no clean-up of any kind
        doomed.wait()
    job.refresh_from_db()
    assert job.status == "running" and job.owner.startswith("doomed@")
    with pytest.raises(ValidationError):  # "An operation on this namespace is still running"
        services.retry_project(project, acting_user=admin)

    sandbox.knobs.set_api_faults(stall_rate=0.0)
    stale = lambda: Job.objects.get(pk=job.pk).heartbeat_at < timezone.now() - timedelta(seconds=HEARTBEAT_TIMEOUT)  # noqa: E731
    assert wait_until(stale, timeout=10), "the killed worker's heartbeat went on"
    with live.celery_worker(env, "rescuer") as rescuer:
        assert wait_until(lambda: Job.objects.get(pk=job.pk).status == "succeeded", timeout=30), live.read_log(rescuer)
        job.refresh_from_db()
        assert job.attempts == 2 and job.owner.startswith("rescuer@")
        with translation.override("en"):  # steps are read in the reader's language
            assert any("(doomed@" in str(step["text"]) and "queued again" in str(step["text"]) for step in job.steps)
        project.refresh_from_db()
        assert project.status == "active"

        retry = services.retry_project(project, acting_user=admin)  # accepted: nothing is "still running"
        assert wait_until(lambda: Job.objects.get(pk=retry.pk).status == "succeeded", timeout=30), live.read_log(
            rescuer
        )
