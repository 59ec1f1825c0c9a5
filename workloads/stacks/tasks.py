"""Celery work of stacks: create every object of a stack in dependency order (each a step
of the job, pushed live), following the rollout of each workload; on any failure, remove
again what this run created. Upgrade applies the new version and removes what it dropped;
delete removes everything the stack created, in reverse order. All as the user who asked
(impersonated), like the workloads' jobs."""

import time

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from console.choices import OperationResult
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.texts import message
from workloads import cluster, imports, manifests
from workloads.choices import AppStatus
from workloads.models import App
from workloads.tasks import follow, tick

from . import live
from .choices import StackStatus
from .models import Stack, TemplateVersion
from .services import live_objects

PUSH_EVERY = 0.5  # seconds between two pushes of the stack's objects while they are created
STACK_GONE = message("The stack is gone.")
EXISTS = message("%(kind)s %(name)s exists already; nothing of this stack was created.")
ROLLED_BACK = message("Removed %(kind)s %(name)s again: nothing of the stack is left half-created.")
REMOVED = message("Removed %(kind)s %(name)s")
CREATED = message("Stack %(name)s is up: %(count)s objects.")
ROLLOUT_NOT_COMPLETE = message("%(kind)s %(name)s did not complete its rollout (%(state)s).")


@shared_task(bind=True, max_retries=3)
def run_stack_job(self, job_id):
    jobs.run(self, job_id)


def _stack(job):
    stack = Stack.objects.select_related("project__tenant", "project__cluster").filter(pk=job.payload["stack"]).first()
    if stack is None:
        raise JobFailed(STACK_GONE())
    return stack


def _api(job, stack):
    return ClusterAPI(stack.project.cluster, cluster.identity(job.requested_by, stack.project.tenant))


def _remove(job, api, namespace, refs, text):
    for ref in reversed(refs):
        try:
            if api.delete(ref["kind"], ref["name"], namespace):
                jobs.step(job, text(kind=ref["kind"], name=ref["name"]))
                jobs.record(job, "stack.delete_object", OperationResult.SUCCEEDED, kind=ref["kind"], name=ref["name"])
        except (ApiRefused, ClusterError) as exc:
            jobs.step(job, jobs.REFUSED(kind=ref["kind"], name=ref["name"], error=str(exc)), ok=False)


def _claims_of(api, namespace, obj):
    """The PVCs a StatefulSet's controller made from its claim templates."""
    name = obj["metadata"]["name"]
    prefixes = [f"{c['metadata']['name']}-{name}-" for c in (obj.get("spec") or {}).get("volumeClaimTemplates") or []]
    if not prefixes:
        return []
    return [
        {"kind": "PersistentVolumeClaim", "name": pvc["metadata"]["name"]}
        for pvc in api.list("PersistentVolumeClaim", namespace)
        if any(pvc["metadata"]["name"].startswith(p) for p in prefixes)
    ]


def _apps_for(job, stack, applied):
    """Workloads become the console's apps (labelled so by imports.prepare)."""
    apps = []
    for obj in applied:
        if obj["kind"] not in imports.WORKLOAD_KINDS:
            continue
        app, _created = App.objects.update_or_create(
            project=stack.project,
            name=obj["metadata"]["name"],
            defaults={
                "kind": obj["kind"],
                "spec": manifests.spec_from_workload(obj, obj["kind"]),
                "status": AppStatus.DEPLOYING,
                "created_by": job.requested_by,
            },
        )
        apps.append((app, obj))
    return apps


def _follow_all(job, api, apps):
    for app, obj in apps:
        state = follow(job, api, app, obj["metadata"].get("generation"))
        if state != "complete":
            raise JobFailed(ROLLOUT_NOT_COMPLETE(kind=app.kind, name=app.name, state=state))
        App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
        tick(app)


def create(job):
    """Create everything in order; a failure (refusal, stuck rollout, cancel) removes what
    this run created, and the stack's apps with it."""
    stack = _stack(job)
    namespace = stack.namespace
    objects = job.payload["objects"]
    created, apps, pushed = [], [], 0.0
    with _api(job, stack) as api:
        try:
            existing = live_objects(api, namespace, objects)
            for obj in objects:
                if (obj["kind"], obj["metadata"]["name"]) in existing:
                    raise JobFailed(EXISTS(kind=obj["kind"], name=obj["metadata"]["name"]))
            applied = []
            for obj in objects:
                result = jobs.apply(job, api, obj, action="stack.apply")
                created.append({"kind": obj["kind"], "name": obj["metadata"]["name"]})
                applied.append(result)
                Stack.objects.filter(pk=stack.pk).update(resources=created)
                if time.monotonic() - pushed > PUSH_EVERY:  # at most twice a second: the job's steps are live too
                    live.push(stack.pk)
                    pushed = time.monotonic()
            apps = _apps_for(job, stack, applied)
            _follow_all(job, api, apps)
        except BaseException:
            extra = [c for o in objects if o["kind"] == "StatefulSet" for c in _safe_claims(api, namespace, o)]
            _remove(job, api, namespace, created + extra, ROLLED_BACK)
            App.objects.filter(pk__in=[app.pk for app, _obj in apps]).delete()
            Stack.objects.filter(pk=stack.pk).update(status=StackStatus.FAILED, resources=[])
            live.push(stack.pk)
            raise
    Stack.objects.filter(pk=stack.pk).update(status=StackStatus.READY, resources=created, updated_at=timezone.now())
    live.push(stack.pk)
    jobs.step(job, CREATED(name=stack.name, count=len(created)))
    return {"objects": [f"{c['kind']}/{c['name']}" for c in created]}


def _safe_claims(api, namespace, obj):
    try:
        return _claims_of(api, namespace, obj)
    except (ApiRefused, ClusterError):
        return []


def upgrade(job):
    """Apply the new version's objects in order, follow the rollouts, remove what it dropped."""
    stack = _stack(job)
    namespace = stack.namespace
    version = TemplateVersion.objects.get(pk=job.payload["version"])
    objects = job.payload["objects"]
    with _api(job, stack) as api:
        applied = [jobs.apply(job, api, obj, action="stack.apply") for obj in objects]
        apps = _apps_for(job, stack, applied)
        _follow_all(job, api, apps)
        removed = job.payload.get("remove") or []
        _remove(job, api, namespace, removed, REMOVED)
        App.objects.filter(
            project=stack.project, name__in=[r["name"] for r in removed if r["kind"] in imports.WORKLOAD_KINDS]
        ).delete()
    from .render import outputs

    Stack.objects.filter(pk=stack.pk).update(
        version=version,
        parameters=job.payload["parameters"],
        outputs=outputs(version, job.payload["parameters"]),
        resources=[{"kind": o["kind"], "name": o["metadata"]["name"]} for o in objects],
        status=StackStatus.READY,
        updated_at=timezone.now(),
    )
    live.push(stack.pk)
    return {"version": version.number}


def delete(job):
    """Everything the stack created, newest first (a StatefulSet's claims too), then the stack."""
    stack = _stack(job)
    namespace = stack.namespace
    with _api(job, stack) as api:
        extra = []
        for ref in stack.resources:
            if ref["kind"] == "StatefulSet":
                current = api.get("StatefulSet", ref["name"], namespace)
                if current is not None:
                    extra += _claims_of(api, namespace, current)
        _remove(job, api, namespace, stack.resources + extra, REMOVED)
    names = [r["name"] for r in stack.resources if r["kind"] in imports.WORKLOAD_KINDS]
    with transaction.atomic():
        App.objects.filter(project=stack.project, name__in=names).delete()
        removed = [f"{r['kind']}/{r['name']}" for r in stack.resources]
        stack.delete()
    return {"removed": removed}


def _failing(job, _error):
    """A failed job (its runner's error, a cancel, a lost worker found by the reaper) leaves the
    stack failed, never "creating" for ever; an upgrade that failed midway is not undone."""
    Stack.objects.filter(pk=job.payload.get("stack")).update(status=StackStatus.FAILED)
    live.push(job.payload.get("stack"))


RUNNERS = {"stack.create": create, "stack.upgrade": upgrade, "stack.delete": delete}
KINDS = jobs.JobKinds(task=run_stack_job, runners=RUNNERS, idempotent=False, failing=_failing)
