"""Long-running operations: a `Job` row first, then a Celery task queued on commit.

A task claims its job (pending -> running, with this worker as owner), beats while it
works, appends steps as it goes (each step is pushed to the job's page) and finishes it.
A job whose worker dies is found by the reaper (`reap_stale_jobs`) and queued again or
failed; a job can be cancelled. Feature apps own the task and the work; this module owns
the row, its status and its live view, and the steps every feature takes the same way.

A feature app's jobs, in three parts:

    # tasks.py: the runners (each returns what it achieved), the task, the kinds
    @shared_task(bind=True, max_retries=5)
    def run_volume_job(self, job_id):
        jobs.run(self, job_id)

    KINDS = jobs.JobKinds(task=run_volume_job, runners={"volume.create": create_volume}, idempotent=True)

    # apps.py, in ready():
    jobs.register(tasks.KINDS)

    # services.py: the row first; the registered task runs it once the transaction commits
    job = jobs.create_job("volume.create", requested_by=acting_user, target={...}, payload={...})

A runner reports with `step(job, TEXT(...))` (texts defined with console.texts.message),
applies objects with `apply`, records with `record`, raises JobFailed(TEXT(...)) to fail,
and calls `wait(job, seconds)` between the polls of a long wait. `run` ends the job with
`succeed` or `fail`, which call the feature's hooks.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from console import outages, texts
from console.accounts import roles
from console.choices import JobStatus, OperationResult
from console.jobs.models import KIND_LABELS, Job
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.live import realtime
from console.oplog import oplog
from console.oplog.models import OperationLogEntry
from console.texts import Stored

log = logging.getLogger(__name__)

# A job whose worker died this many times is failed, not sent again (it may be what kills it).
MAX_REQUEUES = 3
# How long a job that met a PostgreSQL or Redis outage waits for it to end.
OUTAGE_WAIT_SECONDS = 60
REAPER = "reaper"

APPLIED = texts.message("Applied %(kind)s %(name)s")
REFUSED = texts.message("%(kind)s %(name)s: %(error)s")
CLUSTER_SILENT = texts.message("The cluster did not answer (%(error)s); trying again in %(delay)s s.")
CANCELLED_RUNNING = texts.message("Cancelled on request: the steps above were done, nothing after them.")
CANCELLED_QUEUED = texts.message("Cancelled by %(who)s before it started.")
CANCELLED_LOST = texts.message("Cancelled before it could finish.")
OUTAGE = texts.message("%(service)s was unavailable while this job ran (%(error)s); it can be retried.")
WORKER_LOST = texts.message("The worker running this job (%(owner)s) stopped: last heard of %(seconds)s s ago")
NEVER_STARTED = texts.message("No worker started this job within %(seconds)s s")
QUEUED_AGAIN = texts.message("%(what)s; it is queued again.")
MAY_RETRY = texts.message("%(what)s; it can be retried.")


def register_kind_labels(labels: Mapping[str, str]) -> None:
    """Feature apps name their kinds of job for people: {kind: lazy translated label}."""
    KIND_LABELS.update(labels)


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


class Task(Protocol):
    """A Celery task that runs jobs: its body is `jobs.run(self, job_id)`."""

    def delay(self, job_id: int) -> Any: ...


def _nothing(*_args: Any) -> None:
    return None


def _everything(*_args: Any) -> bool:
    return True


@dataclass(frozen=True)
class JobKinds:
    """How a feature app runs its kinds of job; registered in its AppConfig.ready()."""

    task: Task | None  # the Celery task that runs them
    runners: Mapping[str, Callable[[Job], Any]] = field(default_factory=dict)  # kind -> runner(job) -> outcome
    idempotent: bool = False  # every step converges when repeated: a job cut off mid-way may run again
    # Hooks, each optional:
    failing: Callable[[Job, Stored], None] = _nothing  # before a job ends failed or cancelled: mark what it worked on
    ended: Callable[[Job, Any], None] = _nothing  # once it ended and is recorded, with the outcome (or the error)
    records: Callable[[Job, str, str], bool] = _everything  # whether to write the entry (action, result) at all


NO_KINDS = JobKinds(task=None)
_kinds: dict[str, JobKinds] = {}


def register(kinds: JobKinds) -> None:
    """Called in a feature app's AppConfig.ready(): create_job, the reaper and run find its
    task, runners and hooks here by the job's kind."""
    for kind in kinds.runners:
        _kinds[kind] = kinds


def kinds_of(kind: str) -> JobKinds:
    return _kinds.get(kind, NO_KINDS)


class JobFailed(Exception):
    """A step failed for a reason the user must read: a Text, or the cluster's own words."""


class JobStopped(Exception):
    """The runner must stop before its next step."""


class JobCancelled(JobStopped):
    """Somebody cancelled the job."""


class JobSuperseded(JobStopped):
    """The job is no longer this worker's: the reaper ended it or gave it to another worker."""


def create_job(
    kind: str,
    *,
    requested_by: Any,
    target: dict | None = None,
    tenant: tuple[int, str] | None = None,
    payload: dict | None = None,
) -> Job:
    """Record the job and queue the task registered for its kind once the caller's transaction commits.

    target: dict with any of cluster, namespace, kind, name; tenant: (id, name) or None.
    """
    registered = kinds_of(kind).task
    if registered is None:  # before anything is recorded
        raise LookupError(f"no task is registered for jobs of kind {kind!r}")
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
    transaction.on_commit(lambda: registered.delay(job.pk))
    return job


def run(task: Any, job_id: int) -> None:
    """The body of every job task: claim the job (a finished, cancelled or vanished one, or
    one another worker runs, is a duplicate delivery: nothing to do), run its kind's runner
    while beating, retry with backoff while the cluster does not answer, and end with
    `succeed(job, outcome)` or `fail(job, error)`."""
    job = Job.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or not claim(job, worker_name(task)):
        return
    with speaking(job.requested_by), heartbeat(job):
        try:
            try:
                outcome = _kinds[job.kind].runners[job.kind](job)
            except ClusterError as exc:
                if exc.reason != "unreachable" or task.request.retries >= task.max_retries:
                    fail(job, str(exc))
                    return
                delay = 2 ** (task.request.retries + 1)
                step(job, CLUSTER_SILENT(error=str(exc), delay=delay), ok=False)
                release(job)
                raise task.retry(countdown=delay) from None
            except (JobFailed, ApiRefused, PermissionError) as exc:
                fail(job, reason(exc))
            except JobStopped:
                raise
            except Exception as exc:  # an unforeseen failure still ends the job visibly
                if outages.outage_of(exc):
                    raise  # PostgreSQL or Redis went away: see below
                log.exception("job %s failed", job.pk)
                fail(job, f"{type(exc).__name__}: {exc}")
            else:
                succeed(job, outcome)
        except JobCancelled:
            job.cancel_requested = True
            fail(job, CANCELLED_RUNNING())
        except JobSuperseded:
            log.warning("job %s was taken from %s (its heartbeat was stale); this run stops", job.pk, job.owner)
        except Exception as exc:
            service = outages.outage_of(exc)
            if service is None:
                raise
            after_outage(task, job, service, exc)


def reason(exc: Exception) -> Stored:
    """What an exception says: the Text it carries (JobFailed(TEXT(...))), else its own words."""
    first = exc.args[0] if len(exc.args) == 1 else None
    return first if isinstance(first, (texts.Text, texts.Joined)) else str(exc)


# --- the steps every feature takes ---------------------------------------------------------


def succeed(job: Job, outcome: Any = None) -> None:
    """End the job well: finished, its "<kind>.finish" entry (with the outcome when that is a
    dict), then the feature's `ended` hook."""
    finish(job)
    record(job, job.kind + ".finish", OperationResult.SUCCEEDED, after=outcome if isinstance(outcome, dict) else None)
    kinds_of(job.kind).ended(job, outcome)


def fail(job: Job, error: Stored) -> None:
    """End the job failed (cancelled, when that was asked for): the feature's `failing` hook,
    finished with the error, its "<kind>.finish" entry, then the feature's `ended` hook."""
    kinds = kinds_of(job.kind)
    kinds.failing(job, error)
    finish(job, error=error)
    record(job, job.kind + ".finish", OperationResult.FAILED, error=error)
    kinds.ended(job, error)


def record(
    job: Job,
    action: str,
    result: str,
    *,
    kind: str = "",
    name: str = "",
    namespace: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    error: Stored = "",
) -> OperationLogEntry | None:
    """An operation-log entry for what the job did: actor "system", on behalf of whoever asked.
    kind, name and namespace: the object, when not the job's target. The feature's `records`
    hook may leave it out (None then)."""
    if not kinds_of(job.kind).records(job, action, result):
        return None
    target = {
        "tenant": job.tenant_name,
        "cluster": job.cluster,
        "namespace": job.namespace if namespace is None else namespace,
        "kind": kind or job.target_kind,
        "name": name or job.target_name,
    }
    return oplog.record(
        job.requested_by,
        action,
        result=result,
        actor_name="system",
        target=target,
        before=texts.plain(before),
        after=texts.plain(after),
        payload={"job": job.pk},
        error=texts.render(error),
    )


def apply(job: Job, api: ClusterAPI, obj: dict, *, action: str, after: dict | None = None) -> dict:
    """Apply an object through the cluster API (server-side apply) as a step of the job: a step
    and an operation-log entry `action` (after: what it records, by default the object's spec)
    either way. A refusal (ApiRefused) is raised again once both are written."""
    meta = obj["metadata"]
    kind, name = obj["kind"], meta["name"]
    namespace = meta.get("namespace") or (name if kind == "Namespace" else "")
    try:
        applied = api.apply(obj)
    except ApiRefused as exc:
        step(job, REFUSED(kind=kind, name=name, error=exc.message), ok=False)
        record(job, action, OperationResult.FAILED, kind=kind, name=name, namespace=namespace, error=exc.message)
        raise
    step(job, APPLIED(kind=kind, name=name))
    record(
        job,
        action,
        OperationResult.SUCCEEDED,
        kind=kind,
        name=name,
        namespace=namespace,
        after={"spec": obj.get("spec")} if after is None else after,
    )
    return applied


def wait(job: Job, seconds: float) -> None:
    """Sleep between two polls of a long wait (a rollout, a namespace going away), then stop
    here if the job was cancelled or taken away meanwhile: no wait outlasts a cancel by more
    than one poll."""
    time.sleep(seconds)
    checkpoint(job)


def checkpoint(job: Job) -> None:
    """Raise JobSuperseded when the job is no longer this worker's, JobCancelled when it was cancelled."""
    state = Job.objects.filter(pk=job.pk).values_list("status", "owner", "cancel_requested").first()
    if state is None or state[:2] != (JobStatus.RUNNING, job.owner):
        raise JobSuperseded(job.pk)
    if state[2]:
        raise JobCancelled(job.pk)


def after_outage(task: Any, job: Job, service: str, exc: Exception) -> None:
    """PostgreSQL or Redis went away under the runner (a restart). Once it is back, the job
    goes back to the queue and runs again when its steps are idempotent; otherwise it ends
    failed, saying so, ready to be retried. Never left "running" for the reaper."""
    from django.db import close_old_connections

    outages.noticed(service, exc, where=f"job {job.pk}")
    outages.wait_until_back(service, OUTAGE_WAIT_SECONDS)
    close_old_connections()  # this thread's connection died with the server
    if not kinds_of(job.kind).idempotent:
        fail(job, OUTAGE(service=outages.NAMES[service], error=str(exc)))
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
    taken = (
        Job.objects.filter(pk=job.pk, status=JobStatus.PENDING, cancel_requested=False)
        .exclude(owner=REAPER)
        .update(
            status=JobStatus.RUNNING,
            owner=owner,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            error="",
            started_at=Coalesce("started_at", Value(now, output_field=models.DateTimeField())),
        )
    )
    if not taken:
        return False
    job.refresh_from_db(
        fields=["status", "owner", "heartbeat_at", "attempts", "started_at", "error", "steps", "cancel_requested"]
    )
    push(job)
    return True


def release(job):
    """Give the job back to the queue (its task retries later, on whichever worker)."""
    Job.objects.filter(pk=job.pk, owner=job.owner).update(
        status=JobStatus.PENDING, owner="", heartbeat_at=timezone.now()
    )
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
                if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, owner=owner).update(
                    heartbeat_at=timezone.now()
                ):
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


def step(job: Job, text: Stored, ok: bool = True) -> None:
    """Record a step (it beats too): a Text, translated for each reader, or plain text (the
    cluster's own words). Here the runner learns that it must stop: the job was cancelled,
    or the reaper took it from this worker."""
    job.steps = [*job.steps, {"at": timezone.now().isoformat(), "text": text, "ok": ok}]
    job.heartbeat_at = timezone.now()
    if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, owner=job.owner).update(
        steps=job.steps, heartbeat_at=job.heartbeat_at
    ):
        raise JobSuperseded(job.pk)
    push(job)
    if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise JobCancelled(job.pk)


def finish(job: Job, error: Stored = "") -> None:
    """End the job: succeeded, failed with the error, or cancelled when that was asked for
    (the error then says how far it went)."""
    if job.cancel_requested:
        job.status = JobStatus.CANCELLED
    else:
        job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.error = error if isinstance(error, (texts.Text, texts.Joined)) else str(error)[:4000]
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
            owner=REAPER, heartbeat_at=now
        ):
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
    kinds = kinds_of(job.kind)
    started = job.status == JobStatus.RUNNING
    with speaking(job.requested_by):
        what = WORKER_LOST(owner=lost_owner, seconds=seconds) if started else NEVER_STARTED(seconds=seconds)
        if kinds.task and (kinds.idempotent or not started) and job.attempts < MAX_REQUEUES:
            text = QUEUED_AGAIN(what=what)
            steps = [*job.steps, {"at": now.isoformat(), "text": text, "ok": False}]
            # cancel_requested=False: a cancel that came in meanwhile wins over the re-run
            if Job.objects.filter(pk=job.pk, owner=REAPER, cancel_requested=False).update(
                status=JobStatus.PENDING, owner="", steps=steps, heartbeat_at=now
            ):
                log.warning("job %s: %s", job.pk, text)
                job.status, job.owner, job.steps = JobStatus.PENDING, "", steps
                push(job)
                transaction.on_commit(lambda: kinds.task.delay(job.pk))
                return
        job.cancel_requested = Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
        ending = CANCELLED_LOST() if job.cancel_requested else MAY_RETRY(what=what)
        log.warning("job %s ended by the reaper: %s", job.pk, ending)
        fail(job, ending)


# --- cancelling ------------------------------------------------------------------------------


def may_run(user, job):
    """Who may act on a job (cancel it): whoever asked for it, an admin of its tenant, an operator."""
    if roles.is_operator(user):
        return True
    if job.requested_by_id is not None and job.requested_by_id == user.pk:
        return True
    return job.tenant_id is not None and any(
        m.tenant_id == job.tenant_id and m.role == "tenant-admin" for m in roles.memberships(user)
    )


def cancel_job(job, *, acting_user):
    """Cancel a job: a queued one ends now and never starts; a running one is flagged and its
    runner stops before its next step (the page shows "cancelling" until then)."""
    target = {
        "tenant": job.tenant_name,
        "cluster": job.cluster,
        "namespace": job.namespace,
        "kind": job.target_kind,
        "name": job.target_name,
    }
    with oplog.recorded(acting_user, "job.cancel", target=target, payload={"job": job.pk, "kind": job.kind}) as outcome:
        if not may_run(acting_user, job):
            raise PermissionError(
                _("Only whoever asked for this operation, the tenant's admins and operators may cancel it.")
            )
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
        with speaking(job.requested_by):
            fail(job, CANCELLED_QUEUED(who=acting_user.get_username()))
    else:
        push(job)
    return job


def active_for_tenant(tenant_id):
    return Job.objects.filter(tenant_id=tenant_id, status__in=JobStatus.active())


def group(job):
    return f"job-{job.pk}"


def push(job: Job) -> None:
    push_fragment(job, "console/_job.html", {"job": job})


def push_fragment(job: Job, template_name: str, context: dict, to_group: str | None = None) -> None:
    """Send a fragment to everyone following the job (or `to_group`), each in the language
    of their own page."""
    realtime.push_in_each_language(to_group or group(job), template_name, {**context, "oob": True})


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
