"""Long-running operations: a `Job` row first, then a Celery task queued on commit.

A task reloads its job, marks it running, appends steps as it goes (each step is
pushed to the job's page) and finishes it. Feature apps own the task and the work;
this module owns the row, its status and its live view.
"""

import logging
from contextlib import nullcontext

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import kube, realtime, roles
from .choices import JobStatus
from .cluster_api import ApiRefused
from .models import Job

log = logging.getLogger(__name__)


_kind_labels = {}


def register_kind_labels(labels):
    """Feature apps name their kinds of job for people: {kind: lazy translated label}."""
    _kind_labels.update(labels)


def kind_label(kind):
    return _kind_labels.get(kind, kind)


class JobFailed(Exception):
    """A step failed for a reason the user must read (the cluster's own words)."""


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
    """The body of every job task: load the job (a finished or vanished one is a duplicate
    delivery: nothing to do), run `runners[job.kind](job)`, retry with backoff while the
    cluster does not answer, and end with `succeeded(job, outcome)` or `failed(job, error)`."""
    job = Job.objects.select_related("requested_by").filter(pk=job_id).first()
    if job is None or job.status in JobStatus.terminal():
        return
    with speaking(job.requested_by):
        start(job)
        try:
            outcome = runners[job.kind](job)
        except kube.ClusterError as exc:
            if exc.reason == "unreachable" and task.request.retries < task.max_retries:
                delay = 2 ** (task.request.retries + 1)
                step(job, _("The cluster did not answer (%(error)s); trying again in %(delay)s s.") % {"error": exc, "delay": delay},
                     ok=False)
                raise task.retry(countdown=delay) from None
            failed(job, str(exc))
        except (JobFailed, ApiRefused, PermissionError) as exc:
            failed(job, str(exc))
        except Exception as exc:  # an unforeseen failure still ends the job visibly
            log.exception("job %s failed", job.pk)
            failed(job, f"{type(exc).__name__}: {exc}")
        else:
            succeeded(job, outcome)


def speaking(user):
    """Steps, errors and notifications of a job in the language its requester last used
    (none known: the worker's active language, the default one)."""
    language = getattr(user, "language", "") if user is not None else ""
    return translation.override(language) if language else nullcontext()


def start(job):
    job.status = JobStatus.RUNNING
    job.attempts += 1
    job.started_at = job.started_at or timezone.now()
    job.error = ""
    job.save(update_fields=["status", "attempts", "started_at", "error"])
    push(job)


def step(job, text, ok=True):
    job.steps = [*job.steps, {"at": timezone.now().isoformat(), "text": str(text), "ok": ok}]
    job.save(update_fields=["steps"])
    push(job)


def finish(job, error=""):
    job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.error = str(error)[:4000]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    push(job)


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
