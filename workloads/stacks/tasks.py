"""Celery work of stacks: create every object of a stack in dependency order (each a step
of the job, pushed live), following the rollout of each workload; on any failure, remove
again what this run created (a replication with data first waits for the restores of its
volumes). Each claim made becomes a volume with the backup policy its caas.io/backup-policy
annotation names. Upgrade applies the new version and removes what it dropped, and undoes
itself when it fails on the way (previous manifests back, added objects removed);
delete removes everything the stack created, in reverse order. All as the user who asked
(impersonated), like the workloads' jobs."""

import time

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from console.choices import OperationResult
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.texts import message
from workloads import cluster, imports, manifests
from workloads.choices import AppStatus
from workloads.models import App
from workloads.storage import services as storage
from workloads.storage.choices import VolumeStatus
from workloads.storage.models import Volume
from workloads.tasks import follow, tick

from . import live
from .choices import StackStatus
from .models import Stack, TemplateVersion
from .services import live_objects

CLAIM = "PersistentVolumeClaim"
PUSH_EVERY = 0.5  # seconds between two pushes of the stack's objects while they are created
STACK_GONE = message("The stack is gone.")
EXISTS = message("%(kind)s %(name)s exists already; nothing of this stack was created.")
ROLLED_BACK = message("Removed %(kind)s %(name)s again: nothing of the stack is left half-created.")
REMOVED = message("Removed %(kind)s %(name)s")
CREATED = message("Stack %(name)s is up: %(count)s objects.")
RESTORE_POLL = 0.5  # seconds between two looks at a restore the stack waits for
WAITING_FOR_RESTORE = message("Waiting for volume %(name)s to be restored from its backup.")
RESTORED = message("Volume %(name)s is restored from its backup.")
RESTORE_FAILED = message("Volume %(name)s could not be restored from its backup: nothing of the stack is created.")
UNDOING = message("The upgrade failed: putting back what it changed.")
UNDO_RESTORED = message("Put %(kind)s %(name)s back as it was before the upgrade.")
UNDO_REMOVED = message("Removed %(kind)s %(name)s again: the upgrade had added it.")
UNDONE = message("The upgrade is undone: the stack runs version %(version)s as before.")
NOT_UNDONE = message("The upgrade could not be undone entirely: see the steps above.")
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


def _adopt_volumes(job, api, stack, objects):
    """Each bound claim the stack made (its own, its StatefulSets') becomes a volume with a
    backup chain, given the backup policy its claim or claim template names; a volume
    restored for this stack (a replication with data) gets that policy too."""
    namespace = stack.namespace
    wanted = []  # (claim name, policy named by the object that made it)
    claims = None
    for obj in objects:
        if obj["kind"] == "PersistentVolumeClaim":
            wanted.append((obj["metadata"]["name"], storage.claim_policy(obj)))
        elif obj["kind"] == "StatefulSet":
            claims = claims if claims is not None else api.list("PersistentVolumeClaim", namespace)
            for template in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
                prefix = f"{template['metadata']['name']}-{obj['metadata']['name']}-"
                policy = storage.claim_policy(template)
                wanted += [(c["metadata"]["name"], policy) for c in claims if c["metadata"]["name"].startswith(prefix)]
    if not wanted:
        return
    restored = set(job.payload.get("restores") or [])
    with ClusterAPI(stack.project.cluster) as console:  # PVs are cluster-wide: read as the console itself
        for name, policy in wanted:
            claim = api.get("PersistentVolumeClaim", name, namespace)
            if claim is None:
                continue
            volume_name = (claim.get("spec") or {}).get("volumeName")
            pv = console.get("PersistentVolume", volume_name) if volume_name else None
            volume = storage.adopt_claim(stack.project, claim, pv, acting_user=job.requested_by, policy=policy)
            note = getattr(volume, "adopted_note", None)
            if volume is not None and note is None and volume.pk in restored and not hasattr(volume, "policy"):
                policy = policy if policy is not None else storage.claim_policy(claim)
                note = storage.attach_named_policy(volume, policy, acting_user=job.requested_by)
            if note is not None:
                jobs.step(job, note, ok=note.msgid == storage.POLICY_ATTACHED.msgid)


def _wait_restored(job, volumes):
    """A replication with data: the volumes restored for it (storage's restore jobs) are ready
    before anything that mounts them is created. A restore job ends (the reaper ends one whose
    worker died), so this wait does too."""
    for pk in volumes:
        said = False
        while True:
            volume = Volume.objects.filter(pk=pk).first()
            if volume is None or volume.status == VolumeStatus.FAILED:
                raise JobFailed(RESTORE_FAILED(name=volume.name if volume else f"#{pk}"))
            if volume.status == VolumeStatus.READY:
                jobs.step(job, RESTORED(name=volume.name))
                break
            if not said:
                jobs.step(job, WAITING_FOR_RESTORE(name=volume.name))
                said = True
            jobs.wait(job, RESTORE_POLL)


def create(job):
    """Create everything in order; a failure (refusal, stuck rollout, cancel) removes what
    this run created, and the stack's apps with it."""
    stack = _stack(job)
    namespace = stack.namespace
    objects = job.payload["objects"]
    created, apps, pushed = [], [], 0.0
    with _api(job, stack) as api:
        try:
            _wait_restored(job, job.payload.get("restores") or [])
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
            _adopt_volumes(job, api, stack, objects)
        except BaseException:
            extra = [c for o in objects if o["kind"] == "StatefulSet" for c in _safe_claims(api, namespace, o)]
            _remove(job, api, namespace, created + extra, ROLLED_BACK)
            App.objects.filter(pk__in=[app.pk for app, _obj in apps]).delete()
            storage.forget_volumes(stack.project, [r["name"] for r in created + extra if r["kind"] == CLAIM])
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


def _previous(live, obj):
    """What to apply to put a live object back as it was: without status and server bookkeeping."""
    previous = imports.prepare(
        {**live, "apiVersion": obj["apiVersion"], "kind": obj["kind"]}, obj["metadata"]["namespace"]
    )
    annotations = previous["metadata"].get("annotations") or {}
    for key in [k for k in annotations if k.startswith("deployment.kubernetes.io/")]:
        annotations.pop(key)
    return previous


def _before_upgrade(job, api, namespace, objects):
    """{"kind/name": the manifest it had, or None: it is new}, read once before anything is
    applied and kept with the job, so that a retried run undoes to the same state."""
    if "previous" not in job.payload:
        existing = live_objects(api, namespace, objects)
        previous = {}
        for obj in objects:
            key = (obj["kind"], obj["metadata"]["name"])
            previous["/".join(key)] = _previous(existing[key], obj) if key in existing else None
        job.payload = {**job.payload, "previous": previous}
        Job.objects.filter(pk=job.pk).update(payload=job.payload)
    return job.payload["previous"]


def _undo_upgrade(job, api, stack, objects, previous, applied):
    """Put back what the failed upgrade changed (the manifests they had) and remove what it
    added, newest first; the apps it touched get their previous specs back. Returns whether
    every object is as before."""
    namespace, whole = stack.namespace, True
    jobs.step(job, UNDOING(), ok=False)
    for obj in reversed([o for o in objects if "/".join((o["kind"], o["metadata"]["name"])) in applied]):
        kind, name = obj["kind"], obj["metadata"]["name"]
        before = previous["/".join((kind, name))]
        try:
            if before is None:
                if api.delete(kind, name, namespace):
                    jobs.step(job, UNDO_REMOVED(kind=kind, name=name))
                    jobs.record(job, "stack.delete_object", OperationResult.SUCCEEDED, kind=kind, name=name)
                if kind in imports.WORKLOAD_KINDS:
                    App.objects.filter(project=stack.project, name=name).delete()
            else:
                restored = api.apply(before)
                jobs.step(job, UNDO_RESTORED(kind=kind, name=name))
                jobs.record(
                    job,
                    "stack.restore_object",
                    OperationResult.SUCCEEDED,
                    kind=kind,
                    name=name,
                    after={"spec": before.get("spec")},
                )
                if kind in imports.WORKLOAD_KINDS:
                    App.objects.filter(project=stack.project, name=name).update(
                        spec=manifests.spec_from_workload(restored, kind),
                        status=AppStatus.RUNNING,
                        updated_at=timezone.now(),
                    )
        except (ApiRefused, ClusterError) as exc:
            whole = False
            jobs.step(job, jobs.REFUSED(kind=kind, name=name, error=str(exc)), ok=False)
    jobs.step(job, UNDONE(version=stack.version.number) if whole else NOT_UNDONE(), ok=False)
    return whole


def upgrade(job):
    """Apply the new version's objects in order, follow the rollouts, remove what it dropped.
    A failure on the way (a refusal, a stuck rollout, a cancel) undoes it: what it changed
    gets its previous manifest back, what it added goes; the stack stays on its version."""
    stack = _stack(job)
    namespace = stack.namespace
    version = TemplateVersion.objects.get(pk=job.payload["version"])
    objects = job.payload["objects"]
    with _api(job, stack) as api:
        previous = _before_upgrade(job, api, namespace, objects)
        touched = set()
        try:
            applied = []
            for obj in objects:
                touched.add("/".join((obj["kind"], obj["metadata"]["name"])))  # a refused apply may have done part
                applied.append(jobs.apply(job, api, obj, action="stack.apply"))
            apps = _apps_for(job, stack, applied)
            _follow_all(job, api, apps)
            _adopt_volumes(job, api, stack, objects)
        except BaseException:
            if _undo_upgrade(job, api, stack, objects, previous, touched):
                job.payload = {**job.payload, "undone": True}
                Job.objects.filter(pk=job.pk).update(payload=job.payload)
            live.push(stack.pk)
            raise
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
    stack failed, never "creating" for ever; an upgrade its runner undid leaves it ready, as
    it was on its previous version."""
    undone = job.kind == "stack.upgrade" and job.payload.get("undone")
    Stack.objects.filter(pk=job.payload.get("stack")).update(status=StackStatus.READY if undone else StackStatus.FAILED)
    live.push(job.payload.get("stack"))


RUNNERS = {"stack.create": create, "stack.upgrade": upgrade, "stack.delete": delete}
KINDS = jobs.JobKinds(task=run_stack_job, runners=RUNNERS, idempotent=False, failing=_failing)
