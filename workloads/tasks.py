"""Celery work of the workloads app: deploy, upgrade, roll back, scale, expose and delete
apps, following each rollout until it completes (its progress goes to the job's steps and
the app's page). Every step is idempotent (server-side apply; deletes that accept
"already gone"), so a retried job converges."""

import time

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from console.choices import JobStatus, NotificationLevel, OperationResult
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused
from console.live import realtime
from console.notifications import notifications
from console.oplog import oplog
from console.texts import message, plural

from . import cluster, manifests, rollout, services, specs
from .choices import AppKind, AppStatus, ScaleReason
from .models import App

MAX_RETRIES = 5
POLL_SECONDS = 0.3
CANARY_KINDS = ("app.canary", "app.canary_abort")

FINISHED = message("%(what)s of %(app)s finished")
FAILED = message("%(what)s of %(app)s failed")
CANARY = message("Canary")
SYSTEM = message("system")
APP_GONE = message("The app is gone.")
NOT_ON_CLUSTER = message("%(kind)s %(name)s is not on the cluster any more.")
REPLACED_TEMPLATE = message("Replaced the pod template of %(kind)s %(name)s")
ALL_ACCEPTED = message("The cluster accepts all %(count)s objects (dry run).")
REMOVED_AGAIN = message("Removed %(kind)s %(name)s again: nothing is left half-deployed.")
DISAPPEARED = message("%(kind)s %(name)s disappeared from the cluster.")
TAKEN_OVER = message("A newer change to the app took over; this job stops following the rollout.")
PAUSED = message("The rollout is paused; resume it to go on.")
COMPLETE = message("Rollout complete: %(ready)s of %(wanted)s replicas ready.")
STUCK = message("The rollout is stuck: %(problem)s")
TOO_SLOW = message("The rollout did not finish within %(seconds)s s: %(progress)s.")
REVISION_GONE = message("Revision %(revision)s (%(kind)s %(name)s) is gone.")
SCALED = message("Scaled %(kind)s %(name)s from %(before)s to %(after)s (%(why)s).")
APP_SCALED = message("%(app)s scaled from %(before)s to %(after)s replicas")
APP_SCALED_TO = message("%(app)s scaled to %(after)s replicas")
SCALED_BY = message("%(why)s, by %(who)s, in %(ns)s.", capfirst=True)
REMOVED = message("Removed %(kind)s %(name)s")
DELETED = message("Deleted %(kind)s %(name)s")
ALREADY_DELETED = message("already deleted")
APP_DELETED = message("App %(name)s is deleted.")
PODS_GONE = message("All pods are gone.")
PODS_STOPPING = plural("%(count)s pod still stopping", "%(count)s pods still stopping")
PODS_STAY = plural(
    "%(count)s pod is still there after %(seconds)s s.", "%(count)s pods are still there after %(seconds)s s."
)
FOLLOWS_LOAD = message("Replicas now follow the load, between %(min)s and %(max)s.")
AUTOSCALER_REMOVED = message("Removed HorizontalPodAutoscaler %(name)s; replicas stay where they are.")
CANARY_SERVES = message("The canary serves %(weight)s%% of the traffic.")
CANARY_SERVES_HEADER = message("The canary serves %(weight)s%% of the traffic and requests with header %(header)s.")
STABLE_INCOMPLETE = message(
    "The stable rollout did not complete (paused or changed meanwhile); the canary stays until it does."
)
CANARY_GONE = message("The canary is gone; %(name)s serves all the traffic.")
ALREADY_THERE = message("%(kind)s %(name)s is on the cluster; nothing to restore.")
ALREADY_ON_CLUSTER = message("already on the cluster")
SCHEDULE_NOT_RUN = message("Scheduled scaling of %(app)s to %(n)s did not run")
AUTOSCALED_BY = message("Autoscaler: %(metrics)s, in %(ns)s.")
NO_METRICS = message("no metrics yet")


@shared_task(bind=True, max_retries=MAX_RETRIES)
def run_app_job(self, job_id):
    jobs.run(self, job_id)


def _app_ids(job):
    return [job.payload.get("app"), *job.payload.get("apps", [])]


def _failing(job, _error):
    if job.kind not in CANARY_KINDS:  # a canary leaves the stable version untouched: the app did not fail
        App.objects.filter(pk__in=_app_ids(job)).update(status=AppStatus.FAILED, updated_at=timezone.now())


def _ended(job, outcome):
    """The job is over: the open pages of its apps re-read every panel it may have changed
    (status, autoscaler, canary, access...), not only what the mirror shows; whoever asked
    hears how it ended."""
    for app in App.objects.filter(pk__in=_app_ids(job)):
        tick(app)
    ok = job.status == JobStatus.SUCCEEDED
    _notify(job, ok, detail=(outcome.get("message", "") if isinstance(outcome, dict) else "") if ok else outcome)


def _records(job, action, result):
    # A restore re-applies what the log already has; the start's "cluster.attach_embedded" entry says so.
    # Its new revision is kept: the app's revision list reads who made each one from the log.
    return not (job.kind == "app.restore" and result == OperationResult.SUCCEEDED and action != "app.revision")


def _notify(job, ok, detail=""):
    """The person who asked hears how it ended."""
    if job.requested_by is None or job.kind == "app.scale":  # scaling notifies the whole tenant (below)
        return
    what = CANARY() if job.kind == "app.canary" else jobs.kind_label(job.kind)
    notifications.notify_user(
        job.requested_by,
        (FINISHED if ok else FAILED)(what=what, app=job.target_name),
        body=detail,
        level=NotificationLevel.SUCCESS if ok else NotificationLevel.DANGER,
        link=reverse("console:job", args=[job.pk]),
    )


def tick(app):
    """Tell the app's open pages to re-read it (the same tick the mirror sends)."""
    realtime.push_tick(app.group)


def _app(job):
    app = App.objects.select_related("project__tenant", "project__cluster").filter(pk=job.payload.get("app")).first()
    if app is None:
        raise JobFailed(APP_GONE())
    return app


def _api(job, app):
    return ClusterAPI(app.project.cluster, cluster.identity(job.requested_by, app.project.tenant))


def _who(job):
    return job.requested_by.get_username() if job.requested_by else "system"


def _apply(job, api, obj):
    return jobs.apply(job, api, obj, action="app.apply")


def _replace_template(job, api, app, current, template, change_cause):
    """Dry run, then the real patch: the workload's pod template replaced as a whole."""
    operations = manifests.template_patch(current, template, change_cause=change_cause, job_id=job.pk)
    try:
        api.json_patch(app.kind, app.name, app.namespace, operations, dry_run=True)
        patched = api.json_patch(app.kind, app.name, app.namespace, operations)
    except ApiRefused as exc:
        jobs.step(job, jobs.REFUSED(kind=app.kind, name=app.name, error=exc.message), ok=False)
        jobs.record(job, "app.apply", OperationResult.FAILED, error=exc.message)
        raise
    jobs.step(job, REPLACED_TEMPLATE(kind=app.kind, name=app.name))
    jobs.record(
        job,
        "app.apply",
        OperationResult.SUCCEEDED,
        after={"template": template, "change_cause": manifests.cause_annotation(change_cause)},
    )
    return patched


def _current(api, app):
    current = api.get(app.kind, app.name, app.namespace)
    if current is None:
        raise JobFailed(NOT_ON_CLUSTER(kind=app.kind, name=app.name))
    return current


def _apply_all(job, api, objects, *, fresh=False):
    """Dry-run everything first, then apply: a refusal leaves nothing half-done. On a
    fresh deploy, what was created before a later object failed is removed again."""
    for obj in objects:
        try:
            api.apply(obj, dry_run=True)
        except ApiRefused as exc:
            raise JobFailed(jobs.REFUSED(kind=obj["kind"], name=obj["metadata"]["name"], error=exc.message)) from None
    jobs.step(job, ALL_ACCEPTED(count=len(objects)))
    applied = []
    try:
        for obj in objects:
            applied.append(_apply(job, api, obj))
    except ApiRefused:
        if fresh:
            for obj in applied:
                api.delete(obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"])
                jobs.step(job, REMOVED_AGAIN(kind=obj["kind"], name=obj["metadata"]["name"]))
        raise
    return applied


# --- following a rollout --------------------------------------------------------------


def follow(job, api, app, generation):
    """Watch the workload until the rollout is complete; report each change. Returns
    "complete", "paused" or "superseded" (someone changed the app again meanwhile)."""
    deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
    last = None
    while True:
        obj = api.get(app.kind, app.name, app.namespace)
        if obj is None:
            raise JobFailed(DISAPPEARED(kind=app.kind, name=app.name))
        if generation and obj["metadata"].get("generation", 0) > generation:
            jobs.step(job, TAKEN_OVER())
            return "superseded"
        progress = rollout.progress(obj, app.kind)
        if progress.key() != last:
            last = progress.key()
            jobs.step(job, progress.summary())
            tick(app)
        if progress.observed and progress.paused:
            jobs.step(job, PAUSED())
            return "paused"
        if progress.complete:
            jobs.step(job, COMPLETE(ready=progress.wanted, wanted=progress.wanted))
            return "complete"
        if progress.deadline_exceeded:
            raise JobFailed(progress.message)
        if progress.observed:
            problem = _stuck(api, app, obj, progress)
            if problem:
                raise JobFailed(STUCK(problem=problem))
        if time.monotonic() > deadline:
            raise JobFailed(TOO_SLOW(seconds=settings.CAAS_ROLLOUT_TIMEOUT, progress=progress.summary()))
        jobs.wait(job, POLL_SECONDS)


def _stuck(api, app, obj, progress):
    """A reason the new revision cannot come up: its pods crash or cannot pull their image,
    or its pods cannot even be created (quota)."""
    if app.kind == AppKind.STATEFULSET:
        label, revision, owner = "controller-revision-hash", progress.revision, app.name
    else:
        new_rs = next(
            (
                rs
                for rs in api.list("ReplicaSet", app.namespace, label_selector=manifests.selector_text(app))
                if (rs["metadata"].get("annotations") or {}).get(manifests.REVISION) == progress.revision
                and any(o.get("uid") == obj["metadata"]["uid"] for o in rs["metadata"].get("ownerReferences") or [])
            ),
            None,
        )
        if new_rs is None:
            return ""
        label, revision, owner = (
            manifests.POD_TEMPLATE_HASH,
            new_rs["metadata"]["labels"].get(manifests.POD_TEMPLATE_HASH),
            new_rs["metadata"]["name"],
        )
    pods = api.list("Pod", app.namespace, label_selector=f"{manifests.selector_text(app)},{label}={revision}")
    for pod in pods:
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (c.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason", "")
            if reason in rollout.BAD_WAITING and (reason != "CrashLoopBackOff" or c.get("restartCount", 0) >= 2):
                return f"pod {pod['metadata']['name']}: {reason} {waiting.get('message', '')}".strip()
    if len(pods) < progress.wanted:
        events = api.list("Event", app.namespace, field_selector=f"involvedObject.name={owner},reason=FailedCreate")
        if events:
            latest = max(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
            return latest.get("message", "")
    return ""


def _record_revision(job, api, app, cause=""):
    """Tie the workload's current revision (a Deployment's ReplicaSet, a StatefulSet's
    ControllerRevision) to this job, for the revision list's "who" and "why"."""
    obj = api.get(app.kind, app.name, app.namespace)
    if obj is None:
        return None
    if app.kind == AppKind.STATEFULSET:
        name = (obj.get("status") or {}).get("updateRevision")
        source = next(
            (r for r in cluster.owned_controller_revisions(api, app, obj) if r["metadata"]["name"] == name), None
        )
        if source is None:
            return None
        revision, kind, template = (
            str(source.get("revision")),
            "ControllerRevision",
            manifests.revision_template(source),
        )
    else:
        revision = (obj.get("metadata", {}).get("annotations") or {}).get(manifests.REVISION)
        source = cluster.find_revision(api, app, obj, revision) if revision else None
        if source is None:
            return None
        kind, template = "ReplicaSet", (source.get("spec") or {}).get("template")
    jobs.record(
        job,
        "app.revision",
        OperationResult.SUCCEEDED,
        kind=kind,
        name=source["metadata"]["name"],
        after={
            "app": app.name,
            "revision": revision,
            "image": rollout.image_of(template),
            "action": job.kind,
            **manifests.cause_note(cause),
        },
    )
    return revision


# --- runners -------------------------------------------------------------------------


def deploy(job):
    app = _app(job)
    spec = job.payload["spec"]
    cause = manifests.CAUSE_DEPLOYED(image=spec["image"], who=_who(job), job=job.pk)
    service, route = job.payload.get("service") or {}, job.payload.get("ingress") or {}
    # the deploy form's Service and Ingress go with the workload: all accepted, or none applied
    exposure = ([manifests.service(app, service)] if service else []) + (
        [manifests.ingress(app, route, service["port"])] if route else []
    )
    with _api(job, app) as api:
        applied = _apply_all(
            job, api, manifests.objects(app, spec, change_cause=cause, job_id=job.pk) + exposure, fresh=True
        )
        App.objects.filter(pk=app.pk).update(spec=spec, service=service, ingress=route, updated_at=timezone.now())
        tick(app)
        workload = next(obj for obj in applied if obj["kind"] == app.kind)
        state = follow(job, api, app, workload["metadata"].get("generation"))
        revision = _record_revision(job, api, app, cause) if state == "complete" else None
    App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
    tick(app)
    return {"rollout": state, "revision": revision, "image": spec["image"]}


def upgrade(job):
    app = _app(job)
    spec, before = job.payload["spec"], job.payload.get("before") or {}
    changed = ", ".join(
        f"{key} {before.get(key)} → {spec.get(key)}" if key == "image" else key for key in specs.changes(before, spec)
    )
    App.objects.filter(pk=app.pk).update(status=AppStatus.UPDATING, updated_at=timezone.now())
    with _api(job, app) as api:
        current = _current(api, app)
        if app.kind == AppKind.STATEFULSET:
            _apply_all(job, api, [manifests.headless_service(app, spec)])
        cause = manifests.CAUSE_UPGRADED(changes=changed, who=_who(job), job=job.pk)
        patched = _replace_template(job, api, app, current, manifests.pod_template(app, spec), cause)
        App.objects.filter(pk=app.pk).update(spec=spec)
        state = follow(job, api, app, patched["metadata"].get("generation"))
        revision = _record_revision(job, api, app, cause) if state == "complete" else None
    App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
    tick(app)
    return {"rollout": state, "revision": revision, "changes": changed}


def rollback(job):
    app = _app(job)
    with _api(job, app) as api:
        current = _current(api, app)
        if app.kind == AppKind.STATEFULSET:
            source_kind, source_name = "ControllerRevision", job.payload["controllerrevision"]
        else:
            source_kind, source_name = "ReplicaSet", job.payload["replicaset"]
        source = api.get(source_kind, source_name, app.namespace)
        if source is None:
            raise JobFailed(REVISION_GONE(revision=job.payload["revision"], kind=source_kind, name=source_name))
        App.objects.filter(pk=app.pk).update(status=AppStatus.UPDATING, updated_at=timezone.now())
        if app.kind == AppKind.STATEFULSET:
            template = manifests.revision_template(source)
        else:
            template = manifests.rollback_template(source)
        image = rollout.image_of(template)
        cause = manifests.CAUSE_ROLLED_BACK(revision=job.payload["revision"], image=image, who=_who(job), job=job.pk)
        patched = _replace_template(job, api, app, current, template, cause)
        App.objects.filter(pk=app.pk).update(spec=manifests.spec_from_workload(patched, app.kind))
        state = follow(job, api, app, patched["metadata"].get("generation"))
        revision = _record_revision(job, api, app, cause) if state == "complete" else None
    App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
    tick(app)
    return {"rollout": state, "revision": revision, "rolled_back_to": job.payload["revision"], "image": image}


def scale(job):
    app = _app(job)
    wanted, reason = job.payload["replicas"], job.payload.get("reason", ScaleReason.MANUAL)
    with _api(job, app) as api:
        current = _current(api, app)
        before = (current.get("spec") or {}).get("replicas", 1)
        api.scale(app.kind, app.name, app.namespace, wanted)
        why = ScaleReason(reason).label if reason in ScaleReason.values else reason
        jobs.step(job, SCALED(kind=app.kind, name=app.name, before=before, after=wanted, why=why))
        jobs.record(
            job,
            "workload.scale",
            OperationResult.SUCCEEDED,
            before={"replicas": before},
            after={"replicas": wanted, "reason": reason, "by": _who(job)},
        )
        App.objects.filter(pk=app.pk).update(spec={**app.spec, "replicas": wanted}, updated_at=timezone.now())
        tick(app)
        notifications.notify_tenant(
            app.project.tenant_id,
            APP_SCALED(app=app.name, before=before, after=wanted),
            body=SCALED_BY(why=why, who=_who(job) if job.requested_by else SYSTEM(), ns=app.namespace),
            link=reverse("workloads:app", args=[app.project.tenant.name, app.namespace, app.name]),
        )
        generation = api.get(app.kind, app.name, app.namespace)["metadata"].get("generation")
        state = follow(job, api, app, generation)
    App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
    return {"from": before, "to": wanted, "reason": reason, "rollout": state}


def expose(job):
    app = _app(job)
    service, route = job.payload.get("service") or {}, job.payload.get("ingress") or {}
    with _api(job, app) as api:
        plan = cluster.exposure_plan(api, app, service, route)
        try:
            for step in plan:
                step(dry_run=True)
            for step in plan:
                done = step(dry_run=False)
                jobs.step(job, jobs.APPLIED(kind=done.get("kind", ""), name=done["metadata"]["name"]))
                jobs.record(
                    job,
                    "app.apply",
                    OperationResult.SUCCEEDED,
                    kind=done.get("kind", ""),
                    name=done["metadata"]["name"],
                    after={"spec": done.get("spec")},
                )
        except ApiRefused as exc:
            raise JobFailed(exc.message) from None
        for kind, wanted in (("Ingress", route), ("Service", service)):
            if not wanted and api.delete(kind, app.name, app.namespace):
                jobs.step(job, REMOVED(kind=kind, name=app.name))
                jobs.record(job, "app.delete_object", OperationResult.SUCCEEDED, kind=kind, name=app.name)
    App.objects.filter(pk=app.pk).update(service=service, ingress=route, updated_at=timezone.now())
    tick(app)
    where = f"http{'s' if route.get('tls_secret') else ''}://{route['host']}{route['path']}" if route else ""
    return {"service": service, "ingress": route, "message": where}


def delete(job):
    app = App.objects.select_related("project__tenant", "project__cluster").filter(pk=job.payload.get("app")).first()
    if app is None:
        return {"message": ALREADY_DELETED()}
    with _api(job, app) as api:
        for kind, name in (
            ("HorizontalPodAutoscaler", app.name),
            ("Ingress", app.name),
            ("Service", app.name),
            ("Service", manifests.headless_name(app)),
            (app.kind, app.name),
        ):
            if api.delete(kind, name, app.namespace):
                jobs.step(job, DELETED(kind=kind, name=name))
                jobs.record(job, "app.delete_object", OperationResult.SUCCEEDED, kind=kind, name=name)
        _wait_for_pods_gone(job, api, app)
        if job.payload.get("delete_volumes"):
            for claim in api.list("PersistentVolumeClaim", app.namespace, label_selector=manifests.selector_text(app)):
                name = claim["metadata"]["name"]
                if api.delete("PersistentVolumeClaim", name, app.namespace):
                    jobs.step(job, DELETED(kind="PersistentVolumeClaim", name=name))
                    jobs.record(
                        job, "app.delete_object", OperationResult.SUCCEEDED, kind="PersistentVolumeClaim", name=name
                    )
    tick(app)
    app.delete()
    jobs.step(job, APP_DELETED(name=job.target_name))
    return {"message": ""}


def _wait_for_pods_gone(job, api, app):
    deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
    last = None
    while True:
        pods = api.list("Pod", app.namespace, label_selector=manifests.selector_text(app))
        if not pods:
            jobs.step(job, PODS_GONE())
            return
        if len(pods) != last:
            last = len(pods)
            jobs.step(job, PODS_STOPPING(count=last))
            tick(app)
        if time.monotonic() > deadline:
            raise JobFailed(PODS_STAY(count=last, seconds=settings.CAAS_ROLLOUT_TIMEOUT))
        jobs.wait(job, POLL_SECONDS)


def autoscale(job):
    app = _app(job)
    config = job.payload.get("autoscaler") or {}
    with _api(job, app) as api:
        current = _current(api, app)
        if config:
            _apply_all(job, api, [manifests.autoscaler(app, config)])
            jobs.step(job, FOLLOWS_LOAD(min=config["min"], max=config["max"]))
        elif api.delete("HorizontalPodAutoscaler", app.name, app.namespace):
            jobs.step(job, AUTOSCALER_REMOVED(name=app.name))
            jobs.record(
                job, "app.delete_object", OperationResult.SUCCEEDED, kind="HorizontalPodAutoscaler", name=app.name
            )
    replicas = (current.get("spec") or {}).get("replicas")
    App.objects.filter(pk=app.pk).update(
        autoscaler=config, observed_replicas=replicas if config else None, updated_at=timezone.now()
    )
    tick(app)
    return {"autoscaler": config}


def import_manifests(job):
    """Apply imported manifests (all dry-run first), then follow each workload's rollout."""
    objects = job.payload["objects"]
    apps = {
        app.name: app
        for app in App.objects.filter(pk__in=job.payload.get("apps", [])).select_related(
            "project__tenant", "project__cluster"
        )
    }
    project = next(iter(apps.values())).project if apps else None
    if project is None:
        from tenants.models import Project

        project = Project.objects.select_related("tenant", "cluster").get(cluster__name=job.cluster, name=job.namespace)
    with ClusterAPI(project.cluster, cluster.identity(job.requested_by, project.tenant)) as api:
        try:
            applied = _apply_all(job, api, objects)
        except ApiRefused as exc:
            raise JobFailed(exc.message) from None
        results = {}
        for obj in applied:
            app = apps.get(obj["metadata"]["name"]) if obj.get("kind") in ("Deployment", "StatefulSet") else None
            if app is None:
                continue
            App.objects.filter(pk=app.pk).update(
                spec=manifests.spec_from_workload(obj, app.kind), updated_at=timezone.now()
            )
            state = follow(job, api, app, obj["metadata"].get("generation"))
            if state == "complete":
                _record_revision(job, api, app, manifests.CAUSE_IMPORTED(who=_who(job), job=job.pk))
            App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
            tick(app)
            results[app.name] = state
    return {"objects": [f"{o['kind']}/{o['metadata']['name']}" for o in objects], "rollouts": results}


def canary(job):
    """Start the canary: its objects applied (removed again if one is refused), its pods
    followed until ready. The stable version is not touched."""
    app = _app(job)
    twin = manifests.CanaryOf(app)
    with _api(job, app) as api:
        try:
            applied = _apply_all(
                job, api, manifests.canary_objects(app, job.payload["spec"], job.payload["canary"]), fresh=True
            )
        except (ApiRefused, JobFailed):
            App.objects.filter(pk=app.pk).update(canary={})  # nothing of it is left
            raise
        tick(app)
        state = follow(job, api, twin, applied[0]["metadata"].get("generation"))
    weight = job.payload["canary"].get("weight")
    header = job.payload["canary"].get("header")
    if header:
        jobs.step(job, CANARY_SERVES_HEADER(weight=weight, header=header))
    else:
        jobs.step(job, CANARY_SERVES(weight=weight))
    tick(app)
    return {"rollout": state, "canary": job.payload["canary"]["image"]}


def _remove_canary(job, api, app):
    twin = manifests.CanaryOf(app)
    for kind in ("Ingress", "Service", "Deployment"):  # traffic first, pods last
        if api.delete(kind, twin.name, app.namespace):
            jobs.step(job, DELETED(kind=kind, name=twin.name))
            jobs.record(job, "app.delete_object", OperationResult.SUCCEEDED, kind=kind, name=twin.name)
    App.objects.filter(pk=app.pk).update(canary={}, updated_at=timezone.now())


def canary_promote(job):
    """Roll the stable version to the canary's image (old pods keep serving until new ones
    are ready), then remove the canary."""
    app = _app(job)
    spec = job.payload["spec"]
    App.objects.filter(pk=app.pk).update(status=AppStatus.UPDATING, updated_at=timezone.now())
    with _api(job, app) as api:
        current = _current(api, app)
        cause = manifests.CAUSE_PROMOTED(image=spec["image"], who=_who(job), job=job.pk)
        patched = _replace_template(job, api, app, current, manifests.pod_template(app, spec), cause)
        App.objects.filter(pk=app.pk).update(spec=spec)
        state = follow(job, api, app, patched["metadata"].get("generation"))
        if state != "complete":
            raise JobFailed(STABLE_INCOMPLETE())
        _record_revision(job, api, app, cause)
        _remove_canary(job, api, app)
    App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
    tick(app)
    return {"image": spec["image"], "rollout": state}


def canary_abort(job):
    app = _app(job)
    with _api(job, app) as api:
        _remove_canary(job, api, app)
    jobs.step(job, CANARY_GONE(name=app.name))
    tick(app)
    return {"aborted": job.payload["canary"].get("image")}


def restore(job):
    """Bring an app back on a cluster that lost it (the embedded sandbox starts empty at every
    run): workload, Service, Ingress, autoscaler and canary as the console last applied them."""
    app = _app(job)
    with _api(job, app) as api:
        if api.get(app.kind, app.name, app.namespace) is not None:
            jobs.step(job, ALREADY_THERE(kind=app.kind, name=app.name))
            return {"message": ALREADY_ON_CLUSTER()}
        cause = manifests.CAUSE_RESTORED(job=job.pk)
        objects = manifests.objects(app, app.spec, change_cause=cause, job_id=job.pk)
        if app.service:
            objects.append(manifests.service(app, app.service))
            if app.ingress:
                objects.append(manifests.ingress(app, app.ingress, app.service["port"]))
            if app.canary and app.ingress:
                objects += manifests.canary_objects(app, app.spec, app.canary)
        if app.autoscaler:
            objects.append(manifests.autoscaler(app, app.autoscaler))
        applied = _apply_all(job, api, objects, fresh=True)
        tick(app)
        workload = next(obj for obj in applied if obj["kind"] == app.kind and obj["metadata"]["name"] == app.name)
        state = follow(job, api, app, workload["metadata"].get("generation"))
        revision = _record_revision(job, api, app, cause) if state == "complete" else None
    App.objects.filter(pk=app.pk).update(status=AppStatus.RUNNING, updated_at=timezone.now())
    tick(app)
    return {
        "rollout": state,
        "revision": revision,
        "objects": [f"{obj['kind']}/{obj['metadata']['name']}" for obj in applied],
    }


RUNNERS = {
    "app.deploy": deploy,
    "app.upgrade": upgrade,
    "app.rollback": rollback,
    "app.scale": scale,
    "app.expose": expose,
    "app.delete": delete,
    "app.autoscale": autoscale,
    "app.import": import_manifests,
    "app.canary": canary,
    "app.canary_promote": canary_promote,
    "app.canary_abort": canary_abort,
    "app.restore": restore,
}
# A job whose worker died is not run again behind anybody's back: rollouts, revisions and
# notifications are per run, so it fails with the reason and its requester decides.
KINDS = jobs.JobKinds(
    task=run_app_job, runners=RUNNERS, idempotent=False, failing=_failing, ended=_ended, records=_records
)


# --- run by Celery beat ----------------------------------------------------------------


@shared_task
def run_scale_schedules(now=None):
    """Scale the apps whose schedule is due in their tenant's time zone (once a day each;
    a beat that was down catches up on its next run the same day). `now`: for tests."""
    from django.core.exceptions import ValidationError

    from .models import ScaleSchedule

    now = now or timezone.now()
    started = 0
    for schedule in ScaleSchedule.objects.select_related("app__project__tenant", "app__project__cluster"):
        app, tenant = schedule.app, schedule.app.project.tenant
        local = now.astimezone(tenant.zone)
        if (
            local.weekday() not in schedule.weekdays
            or local.time() < schedule.at
            or schedule.last_run_on == local.date()
        ):
            continue
        # claim today's run: two beats (or a retried one) never scale twice
        if not ScaleSchedule.objects.filter(pk=schedule.pk, last_run_on=schedule.last_run_on).update(
            last_run_on=local.date()
        ):
            continue
        try:
            services.scale_app(app, acting_user=None, replicas=schedule.replicas, reason=ScaleReason.SCHEDULE)
            started += 1
        except (ValidationError, PermissionError) as exc:
            message = " ".join(getattr(exc, "messages", [str(exc)]))
            notifications.notify_tenant(
                tenant.pk,
                SCHEDULE_NOT_RUN(app=app.name, n=schedule.replicas),
                body=message,
                level=NotificationLevel.WARNING,
                link=reverse("workloads:app", args=[tenant.name, app.namespace, app.name]),
            )
    return started


@shared_task
def observe_autoscalers():
    """Autoscalers act inside Kubernetes; the console notices each change of replicas they
    make (through the resource mirror) and records and announces it like any scaling."""
    from console.clusters.models import MirroredObject

    changed = 0
    for app in App.objects.exclude(autoscaler={}).select_related("project__tenant", "project__cluster"):
        row = MirroredObject.objects.filter(
            cluster_id=app.project.cluster_id, kind="HorizontalPodAutoscaler", namespace=app.namespace, name=app.name
        ).first()
        status = (row.object.get("status") or {}) if row else {}
        desired = status.get("desiredReplicas")
        # 0 (or absent): the autoscaler has not computed a count yet (no metrics), not a scaling
        if not desired or desired == app.observed_replicas:
            continue
        if not App.objects.filter(pk=app.pk, observed_replicas=app.observed_replicas).update(observed_replicas=desired):
            continue  # another run recorded it
        before = app.observed_replicas
        metrics = ", ".join(
            f"{m['resource']['name']} {m['resource'].get('current', {}).get('averageUtilization')}% "
            f"(target {app.autoscaler.get(m['resource']['name'])}%)"
            for m in status.get("currentMetrics") or []
            if m.get("type") == "Resource"
        )
        target = {**app.target(), "kind": app.kind}
        oplog.record(
            None,
            "workload.scale",
            actor_name="system",
            result=OperationResult.SUCCEEDED,
            target=target,
            before={"replicas": before},
            after={"replicas": desired, "reason": "autoscaler", "metrics": metrics, "by": "HorizontalPodAutoscaler"},
        )
        title = (
            APP_SCALED_TO(app=app.name, after=desired)
            if before is None
            else APP_SCALED(app=app.name, before=before, after=desired)
        )
        notifications.notify_tenant(
            app.project.tenant_id,
            title,
            body=AUTOSCALED_BY(metrics=metrics or NO_METRICS(), ns=app.namespace),
            link=reverse("workloads:app", args=[app.project.tenant.name, app.namespace, app.name]),
        )
        App.objects.filter(pk=app.pk).update(spec={**app.spec, "replicas": desired})
        tick(app)
        changed += 1
    return changed
