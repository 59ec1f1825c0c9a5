"""Long-running operations: a `Job` row first, then a Celery task queued on commit.

A task claims its job (pending -> running, with this worker as owner), beats while it
works, appends steps as it goes (each step is pushed to the job's page) and finishes it.
A job whose worker dies is found by the reaper (`reap_stale_jobs`) and queued again or
failed; a job can be cancelled. Feature apps own the task and the work; this module owns
the row, its status and its live view.
"""

import logging
import os
import socket
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from console import outages

from console.kube import kube

from console.oplog import oplog

from console.live import realtime

from console.accounts import roles
from console.choices import JobStatus, OperationResult
from console.kube.cluster_api import ApiRefused
from console.jobs.models import Job

log = logging.getLogger(__name__)

# A job whose worker died this many times is failed, not sent again (it may be what kills it).
MAX_REQUEUES = 3
# How long a job that met a PostgreSQL or Redis outage waits for it to end.
OUTAGE_WAIT_SECONDS = 60
REAPER = "reaper"


_kind_labels = {}


def register_kind_labels(labels):
    """Feature apps name their kinds of job for people: {kind: lazy translated label}."""
    _kind_labels.update(labels)


def kind_label(kind):
    return _kind_labels.get(kind, kind)


@dataclass(frozen=True)
class KindTask:
    task: object  # the Celery task that runs the kind: task.delay(job_id)
    failed: object  # failed(job, error): how the feature ends a job of this kind that failed
    idempotent: bool  # every step converges when repeated: a job cut off mid-way may run again


_kind_tasks = {}


def register_task(task, kinds, *, failed, idempotent):
    """Feature apps tell the reaper how to send a lost job of each kind again, and how to end it."""
    for kind in kinds:
        _kind_tasks[kind] = KindTask(task, failed, idempotent)


class JobFailed(Exception):
    """A step failed for a reason the user must read (the cluster's own words)."""


class JobStopped(Exception):
    """The runner must stop before its next step."""


class JobCancelled(JobStopped):
    """Somebody cancelled the job."""


class JobSuperseded(JobStopped):
    """The job is no longer this worker's: the reaper ended it or gave it to another worker."""


def create_job(kind, *, requested_by, task, target=None, tenant=None, payload=None):
    """Record the job and queue `task(job_id)` once the caller's transaction commits.

    target: dict with any of cluster, namespace, kind, name; tenant: (id, name) or None.
    """
    target = target or {}
    job = Job.objects.create(
        kind=kind,
        requested_by=requested_by if requested_by and requested_by.is_authenticated else None,
        tenant_id=tenant[0] if tenant else None,
        tenant_name=tenant[1] if tenant else "",
        cluster=target.get("cluster", ""),
        namespace=target.get("namespace", ""),
        target_kind=target.get("kind", ""),
        target_name=target.get("name", ""),
        payload=payload or {},
    )
    transaction.on_commit(lambda: task.delay(job.pk))
    return job


def run(task, job_id, runners, *, succeeded, failed):
    """The body of every job task: claim the job (a finished, cancelled or vanished one, or
    one another worker runs, is a duplicate delivery: nothing to do), run
    `runners[job.kind](job)` while beating, retry with backoff while the cluster does not
    answer, and end with `succeeded(job, outcome)` or `failed(job, error)`."""
    job = Job.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or not claim(job, worker_name(task)):
        return
    with speaking(job.requested_by), heartbeat(job):
        try:
            try:
                outcome = runners[job.kind](job)
            except kube.ClusterError as exc:
                if exc.reason != "unreachable" or task.request.retries >= task.max_retries:
                    failed(job, str(exc))
                    return
                delay = 2 ** (task.request.retries + 1)
                step(job, _("The cluster did not answer (%(error)s); trying again in %(delay)s s.") % {"error": exc, "delay": delay},
                     ok=False)
                release(job)
                raise task.retry(countdown=delay) from None
            except (JobFailed, ApiRefused, PermissionError) as exc:
                failed(job, str(exc))
            except JobStopped:
                raise
            except Exception as exc:  # an unforeseen failure still ends the job visibly
                if outages.outage_of(exc):
                    raise  # PostgreSQL or Redis went away: see below
                log.exception("job %s failed", job.pk)
                failed(job, f"{type(exc).__name__}: {exc}")
            else:
                succeeded(job, outcome)
        except JobCancelled:
            job.cancel_requested = True
            failed(job, _("Cancelled on request: the steps above were done, nothing after them."))
        except JobSuperseded:
            log.warning("job %s was taken from %s (its heartbeat was stale); this run stops", job.pk, job.owner)
        except Exception as exc:
            service = outages.outage_of(exc)
            if service is None:
                raise
            after_outage(task, job, service, exc, failed)


def after_outage(task, job, service, exc, failed):
    """PostgreSQL or Redis went away under the runner (a restart). Once it is back, the job
    goes back to the queue and runs again when its steps are idempotent; otherwise it ends
    failed, saying so, ready to be retried. Never left "running" for the reaper."""
    from django.db import close_old_connections

    outages.noticed(service, exc, where=f"job {job.pk}")
    outages.wait_until_back(service, OUTAGE_WAIT_SECONDS)
    close_old_connections()  # this thread's connection died with the server
    kind = _kind_tasks.get(job.kind)
    if kind is None or not kind.idempotent:
        failed(job, _("%(service)s was unavailable while this job ran (%(error)s); it can be retried.")
               % {"service": outages.NAMES[service], "error": exc})
        return
    release(job)
    raise task.retry(countdown=1, max_retries=None) from None


def worker_name(task):
    """Who runs a job: the Celery node and the process (pool children share the node name)."""
    return f"{task.request.hostname or socket.gethostname()} pid {os.getpid()}"


def speaking(user):
    """Steps, errors and notifications of a job in the language its requester last used
    (none known: the worker's active language, the default one)."""
    language = getattr(user, "language", "") if user is not None else ""
    return translation.override(language) if language else nullcontext()


def claim(job, owner):
    """Take a queued job for this worker, in one statement: of two deliveries of one job,
    only one runs it; a cancelled job never starts."""
    now = timezone.now()
    taken = Job.objects.filter(pk=job.pk, status=JobStatus.PENDING, cancel_requested=False).exclude(owner=REAPER).update(
        status=JobStatus.RUNNING, owner=owner, heartbeat_at=now, attempts=F("attempts") + 1, error="",
        started_at=Coalesce("started_at", Value(now, output_field=models.DateTimeField())))
    if not taken:
        return False
    job.refresh_from_db(fields=["status", "owner", "heartbeat_at", "attempts", "started_at", "error", "steps", "cancel_requested"])
    push(job)
    return True


def release(job):
    """Give the job back to the queue (its task retries later, on whichever worker)."""
    Job.objects.filter(pk=job.pk, owner=job.owner).update(status=JobStatus.PENDING, owner="", heartbeat_at=timezone.now())
    job.status, job.owner = JobStatus.PENDING, ""
    push(job)


@contextmanager
def heartbeat(job):
    """Beat for the job from a thread while its runner works. A thread, not only the steps:
    steps can be minutes apart (a rollout or a namespace deletion is waited for), and a short
    stale threshold is what lets the reaper recover a killed worker's job quickly. The thread
    dies with its process, which is exactly what the reaper detects; a runner stuck in a call
    keeps beating, but cluster calls have their own timeouts."""
    stop = threading.Event()
    owner, interval = job.owner, max(settings.JOB_HEARTBEAT_TIMEOUT_SECONDS / 4, 0.5)

    def beat():
        try:
            while not stop.wait(interval):
                if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, owner=owner).update(heartbeat_at=timezone.now()):
                    return  # ended, released or reaped: nothing of ours to keep alive
        except Exception:  # the runner goes on; a stale heartbeat only lets the reaper look
            log.exception("heartbeat of job %s", job.pk)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"job-{job.pk}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def step(job, text, ok=True):
    """Record a step (it beats too). Here the runner learns that it must stop: the job was
    cancelled, or the reaper took it from this worker."""
    job.steps = [*job.steps, {"at": timezone.now().isoformat(), "text": str(text), "ok": ok}]
    job.heartbeat_at = timezone.now()
    if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, owner=job.owner).update(steps=job.steps, heartbeat_at=job.heartbeat_at):
        raise JobSuperseded(job.pk)
    push(job)
    if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise JobCancelled(job.pk)


def finish(job, error=""):
    """End the job: succeeded, failed with the error, or cancelled when that was asked for
    (the error then says how far it went)."""
    if job.cancel_requested:
        job.status = JobStatus.CANCELLED
    else:
        job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.error = str(error)[:4000]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    push(job)


# --- the reaper ----------------------------------------------------------------------------


def reap_stale_jobs(*, orphaned=False):
    """Nothing stays "running" forever: a running job whose heartbeat is older than
    JOB_HEARTBEAT_TIMEOUT_SECONDS lost its worker, a queued one that no worker started within
    JOB_QUEUE_TIMEOUT_SECONDS lost its message. Such a job is sent again when it never started
    or its kind is idempotent (at most MAX_REQUEUES runs), else it ends failed with the reason,
    ready to be retried (cancelled, when that was asked for). Runs from beat, at worker start
    and at the embedded run's start. orphaned: every active job is lost (the embedded run's
    in-memory queue and worker died with the previous process). Returns how many were reaped."""
    now = timezone.now()
    lost = Job.objects.filter(status__in=JobStatus.active()).annotate(last_sign=Coalesce("heartbeat_at", "created_at"))
    if not orphaned:
        lost = lost.filter(
            Q(status=JobStatus.RUNNING, last_sign__lt=now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS))
            | Q(status=JobStatus.PENDING, last_sign__lt=now - timedelta(seconds=settings.JOB_QUEUE_TIMEOUT_SECONDS))
        )
    reaped = 0
    for job in lost.select_related("requested_by").order_by("pk"):
        # Take it first, in one statement: a worker that beats (or claims) meanwhile keeps it,
        # and of two reapers only one goes on.
        if Job.objects.filter(pk=job.pk, status=job.status, owner=job.owner, heartbeat_at=job.heartbeat_at).update(
                owner=REAPER, heartbeat_at=now):
            try:
                _reap(job, now)
            except Exception:  # the others are still reaped; this one again once its new beat is stale
                log.exception("reaping job %s failed", job.pk)
                continue
            reaped += 1
    return reaped


def _reap(job, now):
    lost_owner, job.owner, job.heartbeat_at = job.owner, REAPER, now
    seconds = int((now - job.last_sign).total_seconds())
    kind = _kind_tasks.get(job.kind)
    started = job.status == JobStatus.RUNNING
    with speaking(job.requested_by):
        if started:
            what = _("The worker running this job (%(owner)s) stopped: last heard of %(seconds)s s ago") % {
                "owner": lost_owner, "seconds": seconds}
        else:
            what = _("No worker started this job within %(seconds)s s") % {"seconds": seconds}
        if kind and (kind.idempotent or not started) and job.attempts < MAX_REQUEUES:
            text = _("%(what)s; it is queued again.") % {"what": what}
            steps = [*job.steps, {"at": now.isoformat(), "text": text, "ok": False}]
            # cancel_requested=False: a cancel that came in meanwhile wins over the re-run
            if Job.objects.filter(pk=job.pk, owner=REAPER, cancel_requested=False).update(
                    status=JobStatus.PENDING, owner="", steps=steps, heartbeat_at=now):
                log.warning("job %s: %s", job.pk, text)
                job.status, job.owner, job.steps = JobStatus.PENDING, "", steps
                push(job)
                transaction.on_commit(lambda: kind.task.delay(job.pk))
                return
        job.cancel_requested = Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
        reason = _("Cancelled before it could finish.") if job.cancel_requested else _("%(what)s; it can be retried.") % {"what": what}
        log.warning("job %s ended by the reaper: %s", job.pk, reason)
        (kind.failed if kind else finish)(job, reason)


# --- cancelling ------------------------------------------------------------------------------


def may_run(user, job):
    """Who may act on a job (cancel it): whoever asked for it, an admin of its tenant, an operator."""
    if roles.is_operator(user):
        return True
    if job.requested_by_id is not None and job.requested_by_id == user.pk:
        return True
    return job.tenant_id is not None and any(m.tenant_id == job.tenant_id and m.role == "tenant-admin" for m in roles.memberships(user))


def cancel_job(job, *, acting_user):
    """Cancel a job: a queued one ends now and never starts; a running one is flagged and its
    runner stops before its next step (the page shows "cancelling" until then)."""
    target = {"tenant": job.tenant_name, "cluster": job.cluster, "namespace": job.namespace, "kind": job.target_kind,
              "name": job.target_name}
    with oplog.recorded(acting_user, "job.cancel", target=target, payload={"job": job.pk, "kind": job.kind}) as outcome:
        if not may_run(acting_user, job):
            raise PermissionError(_("Only whoever asked for this operation, the tenant's admins and operators may cancel it."))
        job = Job.objects.select_for_update(of=("self",)).select_related("requested_by").get(pk=job.pk)
        if job.status not in JobStatus.active():
            raise ValidationError(_("This operation has ended already; there is nothing to cancel."))
        outcome.before = {"status": job.status}
        queued = job.status == JobStatus.PENDING and job.owner != REAPER  # no worker (nor the reaper) has it
        job.cancel_requested = True
        if queued:
            job.status = JobStatus.CANCELLED
        job.save(update_fields=["cancel_requested", "status"])
        outcome.result = OperationResult.SUCCEEDED if queued else OperationResult.ACCEPTED
        outcome.after = {"status": job.status, "cancel_requested": True}
    if queued:  # ended the way its feature ends a job (the namespace or app shows it failed)
        kind = _kind_tasks.get(job.kind)
        with speaking(job.requested_by):
            reason = _("Cancelled by %(who)s before it started.") % {"who": acting_user.get_username()}
            (kind.failed if kind else finish)(job, reason)
    else:
        push(job)
    return job


def active_for_tenant(tenant_id):
    return Job.objects.filter(tenant_id=tenant_id, status__in=JobStatus.active())


def group(job):
    return f"job-{job.pk}"


def push(job):
    push_fragment(job, "console/_job.html", {"job": job})


def push_fragment(job, template_name, context, to_group=None):
    """Send a fragment to everyone following the job (or `to_group`), in the requester's
    language (system jobs: the default language)."""
    context = {**context, "oob": True}
    user = job.requested_by
    html = realtime.render_for(user, template_name, context) if user else render_to_string(template_name, context)
    realtime.push_html(to_group or group(job), html)


def may_see(user, job):
    if roles.is_operator(user) or roles.is_auditor(user):
        return True
    if job.requested_by_id == user.pk:
        return True
    return job.tenant_id is not None and job.tenant_id in {m.tenant_id for m in roles.memberships(user)}


def _authorise(user, ident):
    job = Job.objects.filter(pk=int(ident)).first() if ident.isdigit() else None
    return job is not None and may_see(user, job)


def _snapshot(user, ident):
    return realtime.render_for(user, "console/_job.html", {"job": Job.objects.get(pk=int(ident)), "oob": True})


realtime.register_group("job", _authorise, _snapshot)
