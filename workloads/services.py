"""Workload operations. Each takes the acting user, checks the rules (tenant access,
suspended tenants, input: workloads/checks.py, workloads/quota.py), asks the cluster as
that user whether the change would be accepted (server-side apply with dryRun: nothing is
half-created when Kubernetes says no; workloads/cluster.py), writes the operation log and
queues a Job whose Celery task does the work (workloads/tasks.py). Quick single calls
(pause, resume, restart a pod) are done here."""

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from console.accounts.access import require_permission
from console.accounts.models import User
from console.choices import OperationResult
from console.clusters import permissions
from console.jobs import jobs
from console.jobs.models import Job
from console.kube.api import CONSOLE, ClusterAPI
from console.kube.errors import ApiRefused
from console.oplog import oplog
from tenants import access
from tenants.models import Project

from . import imports, manifests, panels, podlogs, podsecurity, specs, terminal
from .checks import (
    check_app,
    check_autoscaler,
    check_canary,
    check_config_refs,
    check_deploy_exposure,
    check_exposure,
    check_may_change,
    check_replicas,
    check_route,
    check_secret,
)
from .choices import AppKind, AppStatus, ScaleReason
from .cluster import (
    app_pod,
    dry_run,
    exposure_plan,
    find_controller_revision,
    find_revision,
    identity,
    live_workload,
    owned_controller_revisions,
    storage_class_for,
    talking_to,
)
from .models import App, ScaleSchedule
from .quota import check_quota, surge_pods


class Conflict(ValidationError):
    """The app changed on the cluster since the form was read. `spec` and `generation`
    are what it is now, for the form to show."""

    def __init__(self, message, spec, generation):
        super().__init__(message)
        self.spec, self.generation = spec, generation


def _queue(app, acting_user, kind, payload=None):
    target = {"cluster": app.project.cluster.name, "namespace": app.project.name, "kind": app.kind, "name": app.name}
    return jobs.create_job(
        kind,
        requested_by=acting_user,
        tenant=(app.project.tenant_id, app.project.tenant.name),
        target=target,
        payload={"app": app.pk, **(payload or {})},
    )


def restore_app(app: App) -> Job:
    """Queue bringing the app back where its cluster lost it (a system action: the namespace
    job that found the cluster empty asked for it)."""
    App.objects.filter(pk=app.pk).update(status=AppStatus.DEPLOYING)
    return _queue(app, None, "app.restore")


# --- deploy and upgrade --------------------------------------------------------------


def deploy_app(
    project: Project, *, acting_user: User, name: str, kind: str, spec: dict, exposure: dict | None = None
) -> tuple[App, Job]:
    """Create an app: checked by a dry run of all its objects, then applied by a job.
    `exposure` (expose_app's keyword arguments) adds its Service and Ingress in the same job."""
    target = {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": kind,
        "name": name,
    }
    payload = {"spec": specs.loggable(spec), **({"exposure": exposure} if exposure else {})}
    with oplog.recorded(acting_user, "app.deploy", target=target, payload=payload) as outcome:
        check_may_change(acting_user, project)
        specs.check_app_name(name)
        specs.validate(kind, spec)
        if App.objects.filter(project=project, name=name).exists():
            raise ValidationError(
                {"name": _("An app named %(name)s exists already in %(ns)s.") % {"name": name, "ns": project.name}}
            )
        if kind == AppKind.STATEFULSET:
            spec = {**spec, "storage_class": storage_class_for(project.cluster) if spec.get("volumes") else ""}
        app = App(project=project, name=name, kind=kind, spec=spec, created_by=acting_user, status=AppStatus.DEPLOYING)
        podsecurity.check_objects(project.tenant.pod_security, manifests.objects(app, spec))
        service, route = check_deploy_exposure(app, exposure or {})
        with talking_to(project, acting_user) as api:
            if api.get(kind, name, project.name) is not None:
                raise ValidationError(
                    {
                        "name": _("A %(kind)s named %(name)s exists already in %(ns)s (made outside the console).")
                        % {"kind": kind, "name": name, "ns": project.name}
                    }
                )
            check_secret(api, project, spec.get("env_secret"), "env_secret")
            check_config_refs(api, project, spec)
            check_quota(api, project, spec, spec["replicas"])
            dry_run(api, manifests.objects(app, spec))
            check_route(api, app, route)  # the checks expose_app makes, before anything exists
            for step in exposure_plan(api, app, service, route):
                step(dry_run=True)
        app.save()
        job = _queue(app, acting_user, "app.deploy", {"spec": spec, "service": service, "ingress": route})
        outcome.accepted(job, storage_class=spec.get("storage_class", ""))
    return app, job


def upgrade_app(app: App, *, acting_user: User, spec: dict, generation: int | str | None = None) -> Job:
    """Roll out a new image, environment or resources. `generation` is the workload's
    generation the form was made from: when the cluster has moved on, Conflict."""
    payload = {"spec": specs.loggable(spec)}
    with oplog.recorded(acting_user, "app.upgrade", target=app.target(), payload=payload) as outcome:
        check_app(acting_user, app)
        specs.validate(app.kind, spec)
        with talking_to(app.project, acting_user) as api:
            obj = live_workload(app, api)
            current, live_generation = manifests.spec_from_workload(obj, app.kind), obj["metadata"].get("generation")
            if generation and str(generation) != str(live_generation):
                raise Conflict(
                    _(
                        "The app was changed by someone else since you opened this form (generation %(old)s, "
                        "now %(new)s). The form now shows its current state: check it and submit again."
                    )
                    % {"old": generation, "new": live_generation},
                    current,
                    live_generation,
                )
            if app.kind == AppKind.STATEFULSET and spec.get("volumes") != current.get("volumes"):
                raise ValidationError({"volumes": _("A StatefulSet's volumes cannot be changed after it is created.")})
            spec = {**spec, "replicas": current["replicas"]}  # scaling is its own action
            if "storage_class" in current:
                spec["storage_class"] = current["storage_class"]
            outcome.before = {"spec": specs.loggable(current)}
            if specs.changes(current, spec) == {}:
                raise ValidationError(_("Nothing to change: the app runs this already."))
            podsecurity.check_objects(app.project.tenant.pod_security, manifests.objects(app, spec))
            check_secret(api, app.project, spec.get("env_secret"), "env_secret")
            check_config_refs(api, app.project, spec)
            check_quota(api, app.project, spec, surge_pods(app.kind, obj))
            dry_run(api, manifests.objects(app, spec)[:-1])  # a StatefulSet's headless Service
            _dry_run_template(api, app, obj, manifests.pod_template(app, spec))
        job = outcome.accepted(
            _queue(app, acting_user, "app.upgrade", {"spec": spec, "before": current}),
            spec=specs.loggable(spec),
            changes=list(specs.changes(current, spec)),
        )
    return job


def _dry_run_template(api, app, workload, template):
    """Would the cluster take the workload with this pod template (the patch the job sends)?"""
    api.json_patch(app.kind, app.name, app.namespace, manifests.template_patch(workload, template), dry_run=True)


def rollback_app(app: App, *, acting_user: User, revision: int) -> Job:
    """Go back to an earlier revision: its pod template is applied again (a Deployment's
    from its old ReplicaSet, a StatefulSet's from its ControllerRevision, as
    `kubectl rollout undo` does)."""
    with oplog.recorded(acting_user, "app.rollback", target=app.target(), payload={"revision": revision}) as outcome:
        check_app(acting_user, app)
        with talking_to(app.project, acting_user) as api:
            current = live_workload(app, api)
            if app.kind == AppKind.STATEFULSET:
                source = find_controller_revision(api, app, current, revision)
                template = manifests.revision_template(source) if source else None
                now_name = (current.get("status") or {}).get("updateRevision")
                now_revision = next(
                    (
                        str(r.get("revision"))
                        for r in owned_controller_revisions(api, app, current)
                        if r["metadata"]["name"] == now_name
                    ),
                    None,
                )
                is_current = source is not None and source["metadata"]["name"] == now_name
                now, source_key = now_revision, "controllerrevision"
            else:
                source = find_revision(api, app, current, revision)
                template = manifests.rollback_template(source) if source else None
                now = (current["metadata"].get("annotations") or {}).get(manifests.REVISION)
                is_current, source_key = str(revision) == str(now), "replicaset"
            if source is None:
                raise ValidationError(_("Revision %(revision)s does not exist (any more).") % {"revision": revision})
            if is_current:
                raise ValidationError(_("Revision %(revision)s is the current one.") % {"revision": revision})
            # a revision from before the tenant's level (or the console's hardened pods) may no longer pass
            workload = {"kind": app.kind, "metadata": {"name": app.name}, "spec": {"template": template}}
            podsecurity.check_objects(app.project.tenant.pod_security, [workload])
            _dry_run_template(api, app, current, template)
        outcome.before = {"revision": now}
        made_from = {"revision": str(revision), source_key: source["metadata"]["name"]}
        job = outcome.accepted(_queue(app, acting_user, "app.rollback", made_from), **made_from)
    return job


# --- scale, pause, resume -------------------------------------------------------------


def scale_app(app: App, *, acting_user: User | None, replicas: int, reason: str = ScaleReason.MANUAL) -> Job:
    """Set the number of replicas. acting_user None: the system (scheduled scaling)."""
    payload = {"replicas": replicas, "reason": reason}
    system = "system" if acting_user is None else ""
    with oplog.recorded(acting_user, "app.scale", target=app.target(), payload=payload, actor_name=system) as outcome:
        if acting_user is not None:
            check_app(acting_user, app)
        elif not app.project.tenant.is_active or app.status == AppStatus.DELETING:
            raise PermissionError(_("The tenant is suspended or the app is being deleted: no scaling."))
        check_replicas(replicas)
        with talking_to(app.project, acting_user) as api:
            current = live_workload(app, api)
            before = (current.get("spec") or {}).get("replicas", 1)
            outcome.before = {"replicas": before}
            if api.get("HorizontalPodAutoscaler", app.name, app.namespace) is not None:
                raise ValidationError(
                    _("An autoscaler sets this app's replicas; change its minimum and maximum instead.")
                )
            if before == replicas:
                raise ValidationError({"replicas": _("The app has %(n)s replicas already.") % {"n": replicas}})
            check_quota(api, app.project, app.spec, replicas - before)
        job = _queue(app, acting_user, "app.scale", {"replicas": replicas, "from": before, "reason": reason})
        outcome.accepted(job, replicas=replicas, reason=reason)
    return job


def pause_app(app: App, *, acting_user: User) -> None:
    _set_paused(app, acting_user, True)


def resume_app(app: App, *, acting_user: User) -> None:
    _set_paused(app, acting_user, False)


def _set_paused(app, acting_user, paused):
    action = "app.pause" if paused else "app.resume"
    with oplog.recorded(acting_user, action, target=app.target()) as outcome:
        check_app(acting_user, app)
        if app.kind != AppKind.DEPLOYMENT:
            raise ValidationError(_("Only Deployments can pause a rollout."))
        with talking_to(app.project, acting_user) as api:
            current = live_workload(app, api)
            was = bool((current.get("spec") or {}).get("paused"))
            if was == paused:
                raise ValidationError(
                    _("The rollout is paused already.") if paused else _("The rollout is not paused.")
                )
            api.patch(app.kind, app.name, app.namespace, {"spec": {"paused": paused}})
        outcome.before, outcome.after = {"paused": was}, {"paused": paused}


# --- pods ----------------------------------------------------------------------------


def restart_pod(app: App, *, acting_user: User, pod_name: str) -> None:
    """Delete one pod of the app; its controller starts a new one."""
    with oplog.recorded(acting_user, "app.restart_pod", target=app.target(kind="Pod", name=pod_name)) as outcome:
        check_app(acting_user, app)
        with talking_to(app.project, acting_user) as api:
            pod = app_pod(api, app, pod_name)
            api.delete("Pod", pod_name, app.namespace)
        outcome.before = {
            "node": (pod.get("spec") or {}).get("nodeName", ""),
            "phase": (pod.get("status") or {}).get("phase", ""),
        }


def pod_log(app: App, *, user: User, pod_name: str, tail_lines: int = 200) -> str:
    """The last lines of a pod's log (read as the user: the cluster's RBAC decides)."""
    with _reading_pod(app, user, pod_name) as (api, _pod):
        return api.pod_log(pod_name, app.namespace, tail_lines=tail_lines)


def open_pod_log(app: App, *, user: User, pod_name: str, container: str = "") -> tuple[str, list[str]]:
    """Start a live log panel on one container of the app's pod (the first one unless named).
    Returns (token, containers): the panel follows group podlog-<token> (workloads/podlogs.py)."""
    with _reading_pod(app, user, pod_name) as (_api, pod):
        container, containers = _container(pod, pod_name, container)
    return podlogs.new_follow(app, user, pod_name, container), containers


def open_terminal(app: App, *, user: User, pod_name: str, container: str = "") -> tuple[str, list[str]]:
    """Check that the user may open a terminal into a container of the app's pod (the first one
    unless named) and return (token, containers): the panel's socket claims the token
    (workloads/terminal.py). Refusals are recorded; the session records its own start and end."""
    payload = {"container": container[:63]}
    try:
        require_permission(
            terminal.may_open(user, app.project.tenant), _("Only the tenant's members and operators open terminals.")
        )
        check_may_change(user, app.project)
        # operators' sessions run as the console itself; tenant users' impersonated (checked above)
        as_console = identity(user, app.project.tenant) == CONSOLE
        blocked = permissions.refusal(app.project.cluster, "terminal") if as_console else ""
        if blocked:
            raise ValidationError(blocked)
        with talking_to(app.project, user) as api:
            pod = app_pod(api, app, pod_name)
        container, containers = _container(pod, pod_name, container)
        phase = (pod.get("status") or {}).get("phase", "")
        if phase != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
            raise ValidationError(
                _("Pod %(pod)s is not running (%(phase)s).") % {"pod": pod_name, "phase": phase or "Pending"}
            )
    except (PermissionError, ValidationError) as exc:
        oplog.record(
            user,
            "app.terminal.start",
            target=app.target(kind="Pod", name=pod_name),
            payload=payload,
            result=OperationResult.DENIED if isinstance(exc, PermissionError) else OperationResult.FAILED,
            error=oplog.error_text(exc),
        )
        raise
    return terminal.new_session(app, user, pod_name, container), containers


@contextmanager
def _reading_pod(app: App, user: User, pod_name: str) -> Iterator[tuple[ClusterAPI, dict]]:
    """The app's pod, read as whoever reads its logs (podlogs.reader_identity: the cluster's
    RBAC decides); refusals in plain words."""
    require_permission(access.may_see(user, app.project.tenant), _("You may not read this app's logs."))
    with talking_to(app.project, user if access.may_operate(user, app.project.tenant) else None) as api:
        yield api, app_pod(api, app, pod_name)


def _container(pod, pod_name, container):
    """The pod's container named `container` (the first one unless named), and all its containers' names."""
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = container or (containers[0] if containers else "")
    if container not in containers:
        raise ValidationError(
            _("Pod %(pod)s has no container named %(container)s.") % {"pod": pod_name, "container": container[:63]}
        )
    return container, containers


# --- expose --------------------------------------------------------------------------


def expose_app(
    app: App,
    *,
    acting_user: User,
    service_type: str,
    port: int | None = None,
    target_port: int | None = None,
    node_port: int | None = None,
    host: str = "",
    path: str = "",
    tls_secret: str = "",
) -> Job:
    """Create, change or remove the app's Service and Ingress."""
    payload = {
        "service_type": service_type,
        "port": port,
        "target_port": target_port,
        "node_port": node_port,
        "host": host,
        "path": path,
        "tls_secret": tls_secret,
    }
    with oplog.recorded(acting_user, "app.expose", target=app.target(), payload=payload) as outcome:
        check_app(acting_user, app)
        service, route = check_exposure(
            app, service_type, port, target_port, node_port, host.strip().lower(), path.strip(), tls_secret.strip()
        )
        outcome.before = {"service": app.service, "ingress": app.ingress}
        if service == app.service and route == app.ingress:
            raise ValidationError(_("Nothing to change."))
        with talking_to(app.project, acting_user) as api:
            check_route(api, app, route)
            for step in exposure_plan(api, app, service, route):
                step(dry_run=True)
        job = outcome.accepted(
            _queue(app, acting_user, "app.expose", {"service": service, "ingress": route}),
            service=service,
            ingress=route,
        )
    return job


# --- delete --------------------------------------------------------------------------


def delete_app(app: App, *, acting_user: User, confirm_name: str, delete_volumes: bool = False) -> Job:
    payload = {"delete_volumes": delete_volumes}
    with oplog.recorded(acting_user, "app.delete", target=app.target(), payload=payload) as outcome:
        check_may_change(acting_user, app.project)
        if confirm_name != app.name:
            raise ValidationError({"confirm_name": _("Type the app's name to confirm.")})
        app = App.objects.select_for_update().get(pk=app.pk)
        panels.before_app_delete(app, bool(delete_volumes))
        outcome.before = {
            "spec": specs.loggable(app.spec),
            "service": app.service,
            "ingress": app.ingress,
            "status": app.status,
        }
        app.status = AppStatus.DELETING
        app.save(update_fields=["status", "updated_at"])
        job = outcome.accepted(_queue(app, acting_user, "app.delete", {"delete_volumes": bool(delete_volumes)}))
    return job


# --- scheduled scaling ---------------------------------------------------------------


def add_scale_schedule(
    app: App, *, acting_user: User, at: datetime.time | None, replicas: int, weekdays: list[int | str]
) -> ScaleSchedule:
    """Scale to `replicas` at `at` (a datetime.time in the tenant's time zone) on `weekdays`."""
    weekdays = sorted({int(day) for day in weekdays or []})
    payload = {"at": at.strftime("%H:%M") if at else None, "replicas": replicas, "weekdays": weekdays}
    with oplog.recorded(acting_user, "app.schedule_add", target=app.target(), payload=payload) as outcome:
        check_app(acting_user, app)
        if at is None:
            raise ValidationError({"at": _("Give the time of day (HH:MM).")})
        check_replicas(replicas)
        if not weekdays or any(day not in range(7) for day in weekdays):
            raise ValidationError({"weekdays": _("Choose at least one day.")})
        if app.autoscaler:
            raise ValidationError(_("An autoscaler sets this app's replicas; remove it before scheduling."))
        if app.schedules.count() >= 20:
            raise ValidationError(_("An app has at most 20 schedules."))
        if app.schedules.filter(at=at, weekdays=weekdays).exists():
            raise ValidationError({"at": _("There is a schedule at that time already.")})
        local_now = timezone.now().astimezone(app.project.tenant.zone)
        schedule = ScaleSchedule.objects.create(
            app=app,
            at=at,
            replicas=replicas,
            weekdays=weekdays,
            created_by=acting_user,
            # made after today's time has passed: it first runs on the next matching day
            last_run_on=local_now.date() if local_now.time() >= at else None,
        )
        outcome.after = {**payload, "id": schedule.pk, "time_zone": app.project.tenant.time_zone}
    return schedule


def remove_scale_schedule(app: App, *, acting_user: User, schedule_id: int) -> None:
    payload = {"schedule": schedule_id}
    with oplog.recorded(acting_user, "app.schedule_remove", target=app.target(), payload=payload) as outcome:
        check_may_change(acting_user, app.project)
        schedule = app.schedules.filter(pk=schedule_id).first()
        if schedule is None:
            raise ValidationError(_("No such schedule."))
        outcome.before = {
            "at": schedule.at.strftime("%H:%M"),
            "replicas": schedule.replicas,
            "weekdays": schedule.weekdays,
        }
        schedule.delete()


# --- autoscaler (HorizontalPodAutoscaler, autoscaling/v2) -----------------------------


def set_autoscaler(
    app: App,
    *,
    acting_user: User,
    min_replicas: int,
    max_replicas: int,
    cpu: int | None = None,
    memory: int | None = None,
) -> Job:
    payload = {"min": min_replicas, "max": max_replicas, "cpu": cpu, "memory": memory}
    with oplog.recorded(acting_user, "app.autoscale", target=app.target(), payload=payload) as outcome:
        check_app(acting_user, app)
        config = check_autoscaler(app, min_replicas, max_replicas, cpu, memory)
        if app.schedules.exists():
            raise ValidationError(_("This app scales on a schedule; remove its schedules before adding an autoscaler."))
        outcome.before = {"autoscaler": app.autoscaler}
        with talking_to(app.project, acting_user) as api:
            live_workload(app, api)
            api.apply(manifests.autoscaler(app, config), dry_run=True)
        job = outcome.accepted(_queue(app, acting_user, "app.autoscale", {"autoscaler": config}), autoscaler=config)
    return job


def remove_autoscaler(app: App, *, acting_user: User) -> Job:
    with oplog.recorded(acting_user, "app.autoscale_remove", target=app.target()) as outcome:
        check_app(acting_user, app)
        if not app.autoscaler:
            raise ValidationError(_("The app has no autoscaler."))
        outcome.before = {"autoscaler": app.autoscaler}
        job = outcome.accepted(_queue(app, acting_user, "app.autoscale", {"autoscaler": {}}))
    return job


# --- YAML import ----------------------------------------------------------------------


@dataclass
class PreviewRow:
    kind: str
    name: str
    action: str = ""  # create, change, unchanged
    diff: str = ""
    error: str = ""


def _preview(project, user, text):
    objects = imports.parse(text, project.name)
    # before the cluster is asked: its refusal would come pod by pod
    podsecurity.check_objects(project.tenant.pod_security, objects)
    rows = []
    with talking_to(project, user) as api:
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            row = PreviewRow(kind, name)
            rows.append(row)
            live = api.get(kind, name, project.name)
            try:
                result = api.apply(obj, dry_run=True)
            except ApiRefused as exc:
                row.error = exc.message
                continue
            row.action, row.diff = imports.diff(live, result)
            if kind in imports.WORKLOAD_KINDS:
                spec = manifests.spec_from_workload(obj, kind)
                before = ((live or {}).get("spec") or {}).get("replicas", 0)
                try:
                    check_quota(api, project, spec, spec["replicas"] - before)
                except ValidationError as exc:
                    row.error = " ".join(exc.messages)
    return objects, rows


def preview_import(project: Project, *, user: User, text: str) -> tuple[list[dict], list[PreviewRow]]:
    """What importing the manifests would create or change, as the cluster answers a dry
    run of each (as the user). Reads only: nothing is recorded or changed."""
    check_may_change(user, project)
    return _preview(project, user, text)


def import_manifests(project: Project, *, acting_user: User, text: str) -> tuple[Job, list[PreviewRow]]:
    """Apply the manifests (after the same checks as the preview) with a job; new
    Deployments and StatefulSets become apps of the console."""
    target = {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": "Manifests",
        "name": "",
    }
    with oplog.recorded(acting_user, "app.import", target=target) as outcome:
        check_may_change(acting_user, project)
        objects, rows = _preview(project, acting_user, text)
        outcome.payload = {"objects": [f"{row.kind}/{row.name}: {row.action or 'refused'}" for row in rows]}
        refused = [f"{row.kind} {row.name}: {row.error}" for row in rows if row.error]
        if refused:
            raise ValidationError(
                _("Nothing was imported; the cluster refuses: %(errors)s") % {"errors": "; ".join(refused)}
            )
        if all(row.action == "unchanged" for row in rows):
            raise ValidationError(_("Nothing to change: the namespace holds all of this already."))
        apps = []
        for obj in objects:
            if obj["kind"] not in imports.WORKLOAD_KINDS:
                continue
            name = obj["metadata"]["name"]
            app = App.objects.filter(project=project, name=name).first()
            if app is not None and app.kind != obj["kind"]:
                raise ValidationError(
                    _("App %(name)s is a %(kind)s; it cannot become a %(other)s.")
                    % {"name": name, "kind": app.kind, "other": obj["kind"]}
                )
            if app is None:
                spec = manifests.spec_from_workload(obj, obj["kind"])
                app = App.objects.create(
                    project=project,
                    name=name,
                    kind=obj["kind"],
                    spec=spec,
                    created_by=acting_user,
                    status=AppStatus.DEPLOYING,
                )
            apps.append(app.pk)
        names = [obj["metadata"]["name"] for obj in objects if obj["kind"] in imports.WORKLOAD_KINDS]
        outcome.target["name"] = names[0] if len(names) == 1 else f"{len(objects)} objects"
        job = jobs.create_job(
            "app.import",
            requested_by=acting_user,
            tenant=(project.tenant_id, project.tenant.name),
            target={
                "cluster": project.cluster.name,
                "namespace": project.name,
                "kind": "Manifests",
                "name": outcome.target["name"],
            },
            payload={"objects": objects, "apps": apps},
        )
        outcome.accepted(job, apps=apps)
    return job, rows


# --- canary releases -------------------------------------------------------------------


def start_canary(
    app: App,
    *,
    acting_user: User,
    image: str,
    replicas: int = 1,
    weight: int | None = None,
    header: str = "",
    header_value: str = "",
) -> Job:
    """Run a new version beside the stable one and send it part of the traffic."""
    payload = {"image": image, "replicas": replicas, "weight": weight, "header": header}
    with oplog.recorded(acting_user, "app.canary_start", target=app.target(), payload=payload) as outcome:
        check_app(acting_user, app)
        if app.kind != AppKind.DEPLOYMENT:
            raise ValidationError(_("Canary releases are offered for Deployments."))
        if app.canary:
            raise ValidationError(_("A canary runs already: promote or abort it first."))
        if not app.service or not app.ingress:
            raise ValidationError(
                _("A canary splits the traffic of the app's Ingress: expose the app with a domain first.")
            )
        canary = check_canary(app, image, replicas, weight, header, header_value)
        with talking_to(app.project, acting_user) as api:
            current = manifests.spec_from_workload(live_workload(app, api), app.kind)
            if canary["image"] == current["image"]:
                raise ValidationError(
                    {"image": _("The stable version runs %(image)s already.") % {"image": canary["image"]}}
                )
            check_quota(api, app.project, current, canary["replicas"])
            objects = manifests.canary_objects(app, current, canary)
            podsecurity.check_objects(app.project.tenant.pod_security, objects)
            twin_name = objects[0]["metadata"]["name"]
            if api.get("Deployment", twin_name, app.namespace) is not None:
                raise ValidationError(_("A Deployment named %(name)s exists already.") % {"name": twin_name})
            dry_run(api, objects)
        canary["started_by"] = acting_user.get_username()
        App.objects.filter(pk=app.pk).update(canary=canary)
        job = outcome.accepted(
            _queue(app, acting_user, "app.canary", {"canary": canary, "spec": current}),
            canary=canary,
            stable_image=current["image"],
        )
    return job


def _check_canary_runs(user, app):
    check_app(user, app)
    if not app.canary:
        raise ValidationError(_("No canary runs."))


def set_canary_traffic(
    app: App, *, acting_user: User, weight: int | None = None, header: str = "", header_value: str = ""
) -> None:
    """Change the canary's share of the traffic (one Ingress change, done at once)."""
    payload = {"weight": weight, "header": header}
    with oplog.recorded(acting_user, "app.canary_traffic", target=app.target(), payload=payload) as outcome:
        _check_canary_runs(acting_user, app)
        outcome.before = {"weight": app.canary.get("weight"), "header": app.canary.get("header")}
        traffic = check_canary(app, app.canary["image"], app.canary["replicas"], weight, header, header_value)
        canary = {**app.canary, **traffic}
        twin = manifests.CanaryOf(app)
        with talking_to(app.project, acting_user) as api:
            route = api.get("Ingress", twin.name, app.namespace)
            if route is None:
                raise ValidationError(_("The canary's Ingress is not there (yet)."))
            annotations = {
                k: v
                for k, v in (route["metadata"].get("annotations") or {}).items()
                if not k.startswith(manifests.NGINX + "canary")
            }
            annotations.update(manifests.canary_annotations(canary))
            api.json_patch(
                "Ingress",
                twin.name,
                app.namespace,
                [
                    {"op": "test", "path": "/metadata/uid", "value": route["metadata"]["uid"]},
                    {"op": "add", "path": "/metadata/annotations", "value": annotations},
                ],
            )
        App.objects.filter(pk=app.pk).update(canary=canary)
        outcome.after = {"weight": canary["weight"], "header": canary["header"]}


def promote_canary(app: App, *, acting_user: User) -> Job:
    """The stable version becomes the canary's (a rolling upgrade), then the canary goes."""
    with oplog.recorded(acting_user, "app.canary_promote", target=app.target()) as outcome:
        _check_canary_runs(acting_user, app)
        with talking_to(app.project, acting_user) as api:
            obj = live_workload(app, api)
            current = manifests.spec_from_workload(obj, app.kind)
            spec = {**current, "image": app.canary["image"]}
            _dry_run_template(api, app, obj, manifests.pod_template(app, spec))
        outcome.before = {"image": current["image"]}
        job = _queue(app, acting_user, "app.canary_promote", {"spec": spec, "before": current, "canary": app.canary})
        outcome.accepted(job, image=spec["image"])
    return job


def abort_canary(app: App, *, acting_user: User) -> Job:
    with oplog.recorded(acting_user, "app.canary_abort", target=app.target()) as outcome:
        _check_canary_runs(acting_user, app)
        outcome.before = {"canary": app.canary}
        job = outcome.accepted(_queue(app, acting_user, "app.canary_abort", {"canary": app.canary}))
    return job
