"""Jobs whose worker is gone are reaped (queued again or failed, never "running" forever),
and jobs can be cancelled by whoever may act on them."""

import dataclasses
import os
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from console.celery import app as celery_app
from console.jobs import jobs
from console.jobs.models import Job
from console.jobs.tasks import reap_stale_jobs as reap_task
from console.oplog.models import OperationLogEntry
from tenants import services
from tenants.models import Project
from tenants.tasks import run_tenant_job

from ..conftest import sandbox_fixture
from ..factories import mk_member, mk_tenant, mk_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
sandbox = sandbox_fixture("module")  # namespaces differ per test

GONE = "celery@gone-host pid 4242"


@pytest.fixture
def acme(cluster, operator):
    return services.create_tenant(acting_user=operator, name="acme", display_name="Acme", clusters=[cluster])


@pytest.fixture
def admin(acme):
    return mk_member(acme, "acme-admin", "tenant-admin")


@pytest.fixture
def sent(monkeypatch):
    """Tasks the reaper sends again (job ids), instead of sending them to the broker."""
    ids = []
    fake = SimpleNamespace(delay=ids.append)
    for kind, registered in list(jobs._kinds.items()):
        monkeypatch.setitem(jobs._kinds, kind, dataclasses.replace(registered, task=fake))
    return ids


def run(job):
    run_tenant_job.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)


def lose_worker(job, seconds_ago, attempts=1):
    """What a worker killed mid-job leaves: running, its owner, a heartbeat that stopped."""
    beat = timezone.now() - timedelta(seconds=seconds_ago)
    Job.objects.filter(pk=job.pk).update(
        status="running",
        owner=GONE,
        heartbeat_at=beat,
        started_at=beat,
        attempts=attempts,
        steps=[{"at": beat.isoformat(), "text": "Applied Namespace", "ok": True}],
    )


def new_namespace(acme, admin, cluster, name):
    return services.create_project(acme, acting_user=admin, cluster=cluster, short_name=name)


# --- the reaper ----------------------------------------------------------------------------


def test_a_running_job_whose_worker_went_quiet_is_queued_again_and_runs_to_the_end(
    acme, admin, cluster, sent, django_capture_on_commit_callbacks
):
    project, job = new_namespace(acme, admin, cluster, "web")
    lose_worker(job, settings.JOB_HEARTBEAT_TIMEOUT_SECONDS + 30)
    with pytest.raises(Exception, match="still running"):
        services.retry_project(project, acting_user=admin)  # blocked while it looks alive

    with django_capture_on_commit_callbacks(execute=True):
        assert reap_task() == 1  # the task beat runs
    job.refresh_from_db()
    assert sent == [job.pk]
    assert job.status == "pending" and job.owner == ""
    assert GONE in str(job.steps[-1]["text"]) and "queued again" in str(job.steps[-1]["text"])

    job = run(job)
    assert job.status == "succeeded", job.error
    assert job.attempts == 2 and job.owner.endswith(f"pid {os.getpid()}")
    assert Project.objects.get(pk=project.pk).status == "active"


def test_a_fresh_running_job_is_left_alone(acme, admin, cluster, sent):
    _project, job = new_namespace(acme, admin, cluster, "busy")
    lose_worker(job, seconds_ago=2)
    assert jobs.reap_stale_jobs() == 0
    job.refresh_from_db()
    assert job.status == "running" and job.owner == GONE and sent == []


def test_a_job_that_keeps_losing_its_worker_fails_with_the_reason_and_retry_works(acme, admin, cluster, sent):
    project, job = new_namespace(acme, admin, cluster, "cursed")
    lose_worker(job, settings.JOB_HEARTBEAT_TIMEOUT_SECONDS + 30, attempts=jobs.MAX_REQUEUES)
    assert jobs.reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "failed" and sent == []
    error = str(job.error)
    assert error.startswith(f"The worker running this job ({GONE}) stopped") and error.endswith("it can be retried.")
    assert Project.objects.get(pk=project.pk).status == "failed"  # the namespace's own failure path ran
    assert OperationLogEntry.objects.filter(action="namespace.create.finish", result="failed", error=job.error).exists()

    retry = services.retry_project(project, acting_user=admin)  # no longer "still running"
    assert run(retry).status == "succeeded"


def test_a_lost_job_of_a_kind_that_is_not_idempotent_fails_through_its_features_path(admin, monkeypatch, sent):
    ended = []
    monkeypatch.setitem(
        jobs._kinds,
        "test.rollout",
        jobs.JobKinds(
            task=SimpleNamespace(delay=sent.append), failing=lambda job, error: ended.append(error), idempotent=False
        ),
    )
    job = Job.objects.create(kind="test.rollout", requested_by=admin)
    lose_worker(job, settings.JOB_HEARTBEAT_TIMEOUT_SECONDS + 30)
    assert jobs.reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "failed" and ended == [job.error] and sent == []


def test_a_queued_job_no_worker_started_is_sent_again(acme, admin, cluster, sent, django_capture_on_commit_callbacks):
    _project, job = new_namespace(acme, admin, cluster, "lost")
    Job.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.JOB_QUEUE_TIMEOUT_SECONDS + 5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reap_stale_jobs() == 1
    job.refresh_from_db()
    assert sent == [job.pk] and job.status == "pending"
    assert str(job.steps[-1]["text"]).startswith("No worker started this job within")
    assert jobs.reap_stale_jobs() == 0  # sent just now: not lost again yet


def test_after_an_embedded_restart_every_active_job_is_lost(
    acme, admin, cluster, sent, django_capture_on_commit_callbacks
):
    _project, queued = new_namespace(acme, admin, cluster, "q")
    _project, running = new_namespace(acme, admin, cluster, "r")
    lose_worker(running, seconds_ago=1)
    assert jobs.reap_stale_jobs() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.reap_stale_jobs(orphaned=True) == 2
    assert sorted(sent) == sorted([queued.pk, running.pk])


def test_workers_give_tasks_back_when_they_die():
    assert celery_app.conf.task_acks_late and celery_app.conf.task_reject_on_worker_lost
    # Longer than any job, so Redis does not hand a running job to a second worker.
    assert celery_app.conf.broker_transport_options["visibility_timeout"] >= 3600
    assert (
        settings.CELERY_BEAT_SCHEDULE["reap-stale-jobs"]["task"]
        == reap_task.name
        == "console.jobs.tasks.reap_stale_jobs"
    )


@pytest.mark.django_db(transaction=True)
@override_settings(JOB_HEARTBEAT_TIMEOUT_SECONDS=1)
def test_a_working_runner_beats_between_its_steps():
    job = Job.objects.create(
        kind="test.slow", status="running", owner="me pid 1", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    with jobs.heartbeat(job):
        time.sleep(0.8)  # the thread beats every quarter of the timeout (at least 0.5 s)
        beat = Job.objects.get(pk=job.pk).heartbeat_at
        assert beat > timezone.now() - timedelta(seconds=1)
    time.sleep(0.6)
    assert Job.objects.get(pk=job.pk).heartbeat_at == beat  # stopped with the runner


# --- cancelling -------------------------------------------------------------------------------


def test_cancelling_a_queued_job_ends_it_and_it_never_starts(acme, admin, cluster):
    project, job = new_namespace(acme, admin, cluster, "never")
    job = jobs.cancel_job(job, acting_user=admin)
    assert job.status == "cancelled" and str(job.error) == "Cancelled by acme-admin before it started."
    assert OperationLogEntry.objects.filter(
        action="job.cancel", result="succeeded", actor_name="acme-admin", namespace=project.name
    ).exists()
    assert Project.objects.get(pk=project.pk).status == "failed"  # never provisioned: Retry or Delete it

    job = run(job)  # its message arrives anyway
    assert job.status == "cancelled" and job.steps == [] and job.attempts == 0
    assert run(services.retry_project(project, acting_user=admin)).status == "succeeded"


class FakeTask:
    """What jobs.run reads of a Celery task."""

    max_retries = 0
    request = SimpleNamespace(hostname="celery@here", retries=0)


def test_a_running_job_stops_before_its_next_step_once_cancelled(admin, monkeypatch):
    job = Job.objects.create(kind="test.steps", requested_by=admin)
    done = []

    def runner(job):
        jobs.step(job, "one")
        jobs.cancel_job(job, acting_user=admin)  # somebody presses Cancel meanwhile
        jobs.step(job, "two")
        done.append("three")

    monkeypatch.setitem(jobs._kinds, "test.steps", jobs.JobKinds(task=None, runners={"test.steps": runner}))
    jobs.run(FakeTask(), job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and done == []
    assert [s["text"] for s in job.steps] == ["one", "two"]
    assert str(job.error) == "Cancelled on request: the steps above were done, nothing after them."
    assert OperationLogEntry.objects.filter(action="job.cancel", result="accepted").exists()


def test_cancel_button_and_who_may_press_it(client, acme, admin, cluster, auditor):
    _project, job = new_namespace(acme, admin, cluster, "btn")
    url = f"/jobs/{job.pk}/cancel/"
    client.force_login(admin)
    assert 'data-testid="job-cancel"' in client.get(f"/jobs/{job.pk}/").content.decode()

    for user, status in (
        (mk_member(mk_tenant("globex"), "globex-admin", "tenant-admin"), 404),  # cannot even see it
        (mk_member(acme, "acme-dev"), 403),  # sees it, did not ask for it, not an admin
        (auditor, 403),
    ):
        client.force_login(user)
        assert client.post(url).status_code == status, user
        assert Job.objects.get(pk=job.pk).status == "pending"
    assert OperationLogEntry.objects.filter(action="job.cancel", result="denied").count() == 2

    client.force_login(mk_user("op2", "operator"))
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-status="cancelled"' in response.content.decode()
    assert client.post(url).status_code == 409  # ended already


def test_every_beat_task_is_registered_where_workers_load_it():
    """Beat sends tasks by name: a name no loaded module registers is dropped by the worker
    ("unregistered task"). Checked in a fresh process, as a worker starts: only what the
    apps' ready() imports is loaded there (this test module imports tasks itself)."""
    import subprocess
    import sys

    script = (
        "import django; django.setup(); from console.celery import app; "
        "names = {e['task'] for e in app.conf.beat_schedule.values()}; "
        "print(sorted(names - set(app.tasks)) or 'ok', len(names))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    missing, count = done.stdout.split()[-2:] if done.stdout.split()[-2] == "ok" else (done.stdout, "0")
    assert missing == "ok" and int(count) >= 4, done.stdout + done.stderr
