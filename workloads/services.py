"""Workload operations. Each takes the acting user, checks the rules (tenant access,
suspended tenants, input), asks the cluster as that user whether the change would be
accepted (server-side apply with dryRun: nothing is half-created when Kubernetes says
no), writes the operation log and queues a Job whose Celery task does the work
(workloads/tasks.py). Quick single calls (pause, resume, restart a pod) are done here."""

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import quantity

from console.jobs import jobs

from console.kube import kube

from console.oplog import oplog

from console.clusters import permissions
from console.choices import OperationResult
from console.kube.cluster_api import CONSOLE, ApiRefused, ClusterAPI
from tenants import access
from tenants.choices import ProjectStatus

from . import manifests, podlogs, podsecurity, specs, terminal
from .choices import AppKind, AppStatus, ScaleReason, ServiceType
from .models import App

HOST = specs.DNS_SUBDOMAIN


class Conflict(ValidationError):
    """The app changed on the cluster since the form was read. `spec` and `generation`
    are what it is now, for the form to show."""

    def __init__(self, message, spec, generation):
        super().__init__(message)
        self.spec, self.generation = spec, generation


@contextmanager
def recorded(acting_user, action, *, target, payload=None):
    """oplog.recorded, with the system (acting_user None: scheduled scaling) named "system"
    in the entry rather than an anonymous caller."""
    if acting_user is not None:
        with oplog.recorded(acting_user, action, target=target, payload=payload) as outcome:
            yield outcome
        return
    from django.db import transaction
    from django.utils import timezone

    outcome = oplog.Outcome(target=dict(target), payload=payload)
    started_at = timezone.now()
    try:
        with transaction.atomic():
            yield outcome
            outcome.entry = oplog.record(None, action, actor_name="system", result=outcome.result, started_at=started_at,
                                         target=outcome.target, before=outcome.before, after=outcome.after, payload=outcome.payload)
    except Exception as exc:
        result = OperationResult.DENIED if isinstance(exc, PermissionError) else OperationResult.FAILED
        outcome.entry = oplog.record(None, action, actor_name="system", result=result, started_at=started_at, target=outcome.target,
                                     before=outcome.before, payload=outcome.payload, error=oplog.error_text(exc))
        raise


def _require(allowed, message):
    if not allowed:
        raise PermissionError(message)


def _check_may_change(user, project):
    _require(access.may_operate(user, project.tenant), _("Only the tenant's members and operators change its apps."))
    _require(project.tenant.is_active, _("The tenant is suspended: its apps cannot be changed."))
    if project.status not in (ProjectStatus.ACTIVE, ProjectStatus.UPDATING):
        raise ValidationError(_("Namespace %(ns)s is not ready (%(status)s).") % {"ns": project.name, "status": project.get_status_display()})
    blocked = permissions.refusal(project.cluster, "apps", "impersonation")  # a cluster added for read-only use
    if blocked:
        raise ValidationError(blocked)


def _check_app(user, app):
    _check_may_change(user, app.project)
    if app.status == AppStatus.DELETING:
        raise ValidationError(_("App %(name)s is being deleted.") % {"name": app.name})


def identity(user, tenant):
    return CONSOLE if user is None else access.identity_for(user, tenant)


@contextmanager
def talking_to(project, user):
    """A ClusterAPI acting as the user (impersonated); the cluster's refusals become
    ValidationErrors in Kubernetes' own words."""
    try:
        with ClusterAPI(project.cluster, identity(user, project.tenant)) as api:
            yield api
    except ApiRefused as exc:
        raise ValidationError(_("The cluster refused: %(message)s") % {"message": exc.message}) from None
    except kube.ClusterError as exc:
        raise ValidationError(_("Cluster %(cluster)s: %(error)s") % {"cluster": project.cluster.name, "error": exc}) from None


def dry_run(api, objects):
    for obj in objects:
        api.apply(obj, dry_run=True)


def _queue(app, acting_user, kind, payload=None):
    from .tasks import run_app_job

    return jobs.create_job(kind, requested_by=acting_user, task=run_app_job, tenant=(app.project.tenant_id, app.project.tenant.name),
                           target={"cluster": app.project.cluster.name, "namespace": app.project.name, "kind": app.kind, "name": app.name},
                           payload={"app": app.pk, **(payload or {})})


def restore_app(app):
    """Queue bringing the app back where its cluster lost it (a system action: the namespace
    job that found the cluster empty asked for it)."""
    App.objects.filter(pk=app.pk).update(status=AppStatus.DEPLOYING)
    return _queue(app, None, "app.restore")


def _check_secret(api, project, name, what):
    if name and api.get("Secret", name, project.name) is None:
        raise ValidationError({what: _("There is no Secret named %(name)s in %(ns)s.") % {"name": name, "ns": project.name}})


def storage_class_for(cluster):
    """The Ceph RBD StorageClass of the cluster (the default one when there are several)."""
    try:
        with ClusterAPI(cluster) as api:
            classes = [sc for sc in api.list("StorageClass") if sc.get("provisioner") == manifests.CEPH_RBD_PROVISIONER]
    except (ApiRefused, kube.ClusterError) as exc:
        raise ValidationError(_("Cluster %(cluster)s: %(error)s") % {"cluster": cluster.name, "error": exc}) from None
    if not classes:
        raise ValidationError(_("Cluster %(cluster)s has no Ceph RBD StorageClass (provisioner %(p)s): stateful apps cannot get volumes there.")
                              % {"cluster": cluster.name, "p": manifests.CEPH_RBD_PROVISIONER})
    default = [sc for sc in classes if (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    return (default or classes)[0]["metadata"]["name"]


# --- quota ---------------------------------------------------------------------------


def per_pod(project, spec):
    """What one replica asks of the quota, with the namespace's container defaults filling gaps."""
    resources = spec.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    defaults = project.limit_range or {}
    amounts = {"pods": Decimal(1)}
    for resource in ("cpu", "memory"):
        limit = limits.get(resource) or defaults.get(f"limit_{resource}")
        request = requests.get(resource) or limits.get(resource) or defaults.get(f"request_{resource}")
        if request:
            amounts[f"requests.{resource}"] = amounts[resource] = quantity.parse(request)
        if limit:
            amounts[f"limits.{resource}"] = quantity.parse(limit)
    for volume in spec.get("volumes") or []:
        amounts["requests.storage"] = amounts.get("requests.storage", Decimal(0)) + quantity.parse(volume["size"])
        amounts["persistentvolumeclaims"] = amounts.get("persistentvolumeclaims", Decimal(0)) + 1
    return amounts


def _show(key, amount):
    if "memory" in key or "storage" in key:
        return quantity.format_bytes(amount)
    if "cpu" in key:
        return quantity.format_cpu(amount)
    return f"{amount.normalize():f}"


def surge_pods(kind, workload):
    """How many new pods a rolling update starts beside the old ones (maxSurge, 25 % by
    default, rounded up like Kubernetes does); a StatefulSet or a Recreate strategy starts none."""
    spec = workload.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if kind != AppKind.DEPLOYMENT or strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    replicas = spec.get("replicas", 1)
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


def check_quota(api, project, spec, extra_replicas):
    """Refuse before Kubernetes does (its refusal would come later, pod by pod, as events)."""
    if extra_replicas <= 0:
        return
    wanted = per_pod(project, spec)
    for quota in api.list("ResourceQuota", project.name):
        status = quota.get("status") or {}
        hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
        used = status.get("used") or {}
        for key, amount in wanted.items():
            if key not in hard:
                continue
            need = amount * extra_replicas
            limit, in_use = quantity.parse(hard[key]), quantity.parse(used.get(key, "0"))
            if in_use + need > limit:
                raise ValidationError(
                    _("Not enough quota: %(replicas)s more replicas need %(need)s of %(key)s, but quota %(quota)s leaves %(free)s "
                      "of %(hard)s.") % {"replicas": extra_replicas, "need": _show(key, need), "key": key,
                                         "quota": quota["metadata"]["name"], "free": _show(key, max(limit - in_use, Decimal(0))),
                                         "hard": _show(key, limit)})


# --- deploy and upgrade --------------------------------------------------------------


def deploy_app(project, *, acting_user, name, kind, spec, exposure=None):
    """Create an app: checked by a dry run of all its objects, then applied by a job.
    `exposure` (expose_app's keyword arguments) adds its Service and Ingress in the same job."""
    target = {"tenant": project.tenant.name, "cluster": project.cluster.name, "namespace": project.name, "kind": kind, "name": name}
    payload = {"spec": specs.loggable(spec), **({"exposure": exposure} if exposure else {})}
    with oplog.recorded(acting_user, "app.deploy", target=target, payload=payload) as outcome:
        _check_may_change(acting_user, project)
        specs.check_app_name(name)
        specs.validate(kind, spec)
        if App.objects.filter(project=project, name=name).exists():
            raise ValidationError({"name": _("An app named %(name)s exists already in %(ns)s.") % {"name": name, "ns": project.name}})
        if kind == AppKind.STATEFULSET:
            spec = {**spec, "storage_class": storage_class_for(project.cluster) if spec.get("volumes") else ""}
        app = App(project=project, name=name, kind=kind, spec=spec, created_by=acting_user, status=AppStatus.DEPLOYING)
        podsecurity.check_objects(project.tenant.pod_security, manifests.objects(app, spec))
        service, route = _exposure(app, exposure or {})
        with talking_to(project, acting_user) as api:
            if api.get(kind, name, project.name) is not None:
                raise ValidationError({"name": _("A %(kind)s named %(name)s exists already in %(ns)s (made outside the console).")
                                       % {"kind": kind, "name": name, "ns": project.name}})
            _check_secret(api, project, spec.get("env_secret"), "env_secret")
            _check_config_refs(api, project, spec)
            check_quota(api, project, spec, spec["replicas"])
            dry_run(api, manifests.objects(app, spec))
            if route:  # the checks expose_app makes, before anything exists
                _check_secret(api, project, route["tls_secret"], "tls_secret")
                conflict = _host_taken(app, api, route)
                if conflict:
                    raise ValidationError({"host": conflict})
            for step in exposure_plan(api, app, service, route):
                step(dry_run=True)
        app.save()
        job = _queue(app, acting_user, "app.deploy", {"spec": spec, "service": service, "ingress": route})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"job": job.pk, "storage_class": spec.get("storage_class", "")}
    return app, job


def _exposure(app, exposure):
    """The deploy form's Service and Ingress, cleaned as expose_app cleans them: (service, ingress)."""
    if not exposure or not exposure.get("service_type"):
        if exposure and exposure.get("host"):
            raise ValidationError({"host": _("An ingress needs a Service: choose ClusterIP or NodePort.")})
        return {}, {}
    return check_exposure(app, exposure.get("service_type", ""), exposure.get("port"), exposure.get("target_port"), exposure.get("node_port"),
                          (exposure.get("host") or "").strip().lower(), (exposure.get("path") or "").strip(),
                          (exposure.get("tls_secret") or "").strip())


def _check_config_refs(api, project, spec):
    """Each Secret and ConfigMap the app reads must exist (else its pods wait for it forever)."""
    for field in ("env_from", "config_volumes"):
        for ref in spec.get(field) or []:
            if api.get(ref["kind"], ref["name"], project.name) is None:
                raise ValidationError({field: _("There is no %(kind)s named %(name)s in %(ns)s.")
                                       % {"kind": ref["kind"], "name": ref["name"], "ns": project.name}})


def live_workload(app, api):
    obj = api.get(app.kind, app.name, app.namespace)
    if obj is None:
        raise ValidationError(_("The app's %(kind)s is not on the cluster any more.") % {"kind": app.kind})
    return obj


def upgrade_app(app, *, acting_user, spec, generation=None):
    """Roll out a new image, environment or resources. `generation` is the workload's
    generation the form was made from: when the cluster has moved on, Conflict."""
    with oplog.recorded(acting_user, "app.upgrade", target=app.target(), payload={"spec": specs.loggable(spec)}) as outcome:
        _check_app(acting_user, app)
        specs.validate(app.kind, spec)
        with talking_to(app.project, acting_user) as api:
            obj = live_workload(app, api)
            current, live_generation = manifests.spec_from_workload(obj, app.kind), obj["metadata"].get("generation")
            if generation and str(generation) != str(live_generation):
                raise Conflict(_("The app was changed by someone else since you opened this form (generation %(old)s, now %(new)s). "
                                 "The form now shows its current state: check it and submit again.")
                               % {"old": generation, "new": live_generation}, current, live_generation)
            if app.kind == AppKind.STATEFULSET and spec.get("volumes") != current.get("volumes"):
                raise ValidationError({"volumes": _("A StatefulSet's volumes cannot be changed after it is created.")})
            spec = {**spec, "replicas": current["replicas"]}  # scaling is its own action
            if "storage_class" in current:
                spec["storage_class"] = current["storage_class"]
            outcome.before = {"spec": specs.loggable(current)}
            if specs.changes(current, spec) == {}:
                raise ValidationError(_("Nothing to change: the app runs this already."))
            podsecurity.check_objects(app.project.tenant.pod_security, manifests.objects(app, spec))
            _check_secret(api, app.project, spec.get("env_secret"), "env_secret")
            _check_config_refs(api, app.project, spec)
            check_quota(api, app.project, spec, surge_pods(app.kind, obj))
            dry_run(api, manifests.objects(app, spec)[:-1])  # a StatefulSet's headless Service
            api.json_patch(app.kind, app.name, app.namespace, manifests.template_patch(obj, manifests.pod_template(app, spec)), dry_run=True)
        job = _queue(app, acting_user, "app.upgrade", {"spec": spec, "before": current})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"spec": specs.loggable(spec), "changes": list(specs.changes(current, spec)), "job": job.pk}
    return job


def rollback_app(app, *, acting_user, revision):
    """Go back to an earlier revision: its pod template is applied again (a Deployment's
    from its old ReplicaSet, a StatefulSet's from its ControllerRevision, as
    `kubectl rollout undo` does)."""
    with oplog.recorded(acting_user, "app.rollback", target=app.target(), payload={"revision": revision}) as outcome:
        _check_app(acting_user, app)
        with talking_to(app.project, acting_user) as api:
            current = live_workload(app, api)
            if app.kind == AppKind.STATEFULSET:
                source = find_controller_revision(api, app, current, revision)
                template = manifests.revision_template(source) if source else None
                now_name = (current.get("status") or {}).get("updateRevision")
                now_revision = next((str(r.get("revision")) for r in owned_controller_revisions(api, app, current)
                                     if r["metadata"]["name"] == now_name), None)
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
            podsecurity.check_objects(app.project.tenant.pod_security, [{"kind": app.kind, "metadata": {"name": app.name},
                                                                         "spec": {"template": template}}])
            api.json_patch(app.kind, app.name, app.namespace, manifests.template_patch(current, template), dry_run=True)
        outcome.before = {"revision": now}
        job = _queue(app, acting_user, "app.rollback", {"revision": str(revision), source_key: source["metadata"]["name"]})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"revision": str(revision), source_key: source["metadata"]["name"], "job": job.pk}
    return job


def find_revision(api, app, deployment, revision):
    uid = deployment["metadata"]["uid"]
    for rs in api.list("ReplicaSet", app.namespace, label_selector=manifests.selector_text(app)):
        owners = rs["metadata"].get("ownerReferences") or []
        annotations = rs["metadata"].get("annotations") or {}
        if any(o.get("uid") == uid for o in owners) and annotations.get(manifests.REVISION) == str(revision):
            return rs
    return None


def owned_controller_revisions(api, app, statefulset):
    """The StatefulSet's ControllerRevisions (its revision history), oldest first."""
    uid = statefulset["metadata"]["uid"]
    revisions = [r for r in api.list("ControllerRevision", app.namespace, label_selector=manifests.selector_text(app))
                 if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])]
    return sorted(revisions, key=lambda r: r.get("revision", 0))


def find_controller_revision(api, app, statefulset, revision):
    return next((r for r in owned_controller_revisions(api, app, statefulset) if str(r.get("revision")) == str(revision)), None)


# --- scale, pause, resume -------------------------------------------------------------


def scale_app(app, *, acting_user, replicas, reason=ScaleReason.MANUAL):
    """Set the number of replicas. acting_user None: the system (scheduled scaling)."""
    payload = {"replicas": replicas, "reason": reason}
    with recorded(acting_user, "app.scale", target=app.target(), payload=payload) as outcome:
        if acting_user is not None:
            _check_app(acting_user, app)
        elif not app.project.tenant.is_active or app.status == AppStatus.DELETING:
            raise PermissionError(_("The tenant is suspended or the app is being deleted: no scaling."))
        if not isinstance(replicas, int) or not 0 <= replicas <= specs.MAX_REPLICAS:
            raise ValidationError({"replicas": _("Replicas must be a number from 0 to %(max)s.") % {"max": specs.MAX_REPLICAS}})
        with talking_to(app.project, acting_user) as api:
            current = live_workload(app, api)
            before = (current.get("spec") or {}).get("replicas", 1)
            outcome.before = {"replicas": before}
            if api.get("HorizontalPodAutoscaler", app.name, app.namespace) is not None:
                raise ValidationError(_("An autoscaler sets this app's replicas; change its minimum and maximum instead."))
            if before == replicas:
                raise ValidationError({"replicas": _("The app has %(n)s replicas already.") % {"n": replicas}})
            check_quota(api, app.project, app.spec, replicas - before)
        job = _queue(app, acting_user, "app.scale", {"replicas": replicas, "from": before, "reason": reason})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"replicas": replicas, "reason": reason, "job": job.pk}
    return job


def pause_app(app, *, acting_user):
    return _set_paused(app, acting_user, True)


def resume_app(app, *, acting_user):
    return _set_paused(app, acting_user, False)


def _set_paused(app, acting_user, paused):
    action = "app.pause" if paused else "app.resume"
    with oplog.recorded(acting_user, action, target=app.target()) as outcome:
        _check_app(acting_user, app)
        if app.kind != AppKind.DEPLOYMENT:
            raise ValidationError(_("Only Deployments can pause a rollout."))
        with talking_to(app.project, acting_user) as api:
            current = live_workload(app, api)
            was = bool((current.get("spec") or {}).get("paused"))
            if was == paused:
                raise ValidationError(_("The rollout is paused already.") if paused else _("The rollout is not paused."))
            api.patch(app.kind, app.name, app.namespace, {"spec": {"paused": paused}})
        outcome.before, outcome.after = {"paused": was}, {"paused": paused}


# --- pods ----------------------------------------------------------------------------


def restart_pod(app, *, acting_user, pod_name):
    """Delete one pod of the app; its controller starts a new one."""
    with oplog.recorded(acting_user, "app.restart_pod", target=app.target(kind="Pod", name=pod_name)) as outcome:
        _check_app(acting_user, app)
        with talking_to(app.project, acting_user) as api:
            pod = _app_pod(api, app, pod_name)
            api.delete("Pod", pod_name, app.namespace)
        outcome.before = {"node": (pod.get("spec") or {}).get("nodeName", ""), "phase": (pod.get("status") or {}).get("phase", "")}


def pod_log(app, *, user, pod_name, tail_lines=200):
    """The last lines of a pod's log (read as the user: the cluster's RBAC decides)."""
    with _reading_pod(app, user, pod_name) as (api, _pod):
        return api.pod_log(pod_name, app.namespace, tail_lines=tail_lines)


def open_pod_log(app, *, user, pod_name, container=""):
    """Start a live log panel on one container of the app's pod (the first one unless named).
    Returns (token, containers): the panel follows group podlog-<token> (workloads/podlogs.py)."""
    with _reading_pod(app, user, pod_name) as (_api, pod):
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = container or (containers[0] if containers else "")
    if container not in containers:
        raise ValidationError(_("Pod %(pod)s has no container named %(container)s.") % {"pod": pod_name, "container": container[:63]})
    return podlogs.new_follow(app, user, pod_name, container), containers


def open_terminal(app, *, user, pod_name, container=""):
    """Check that the user may open a terminal into a container of the app's pod (the first one
    unless named) and return (token, containers): the panel's socket claims the token
    (workloads/terminal.py). Refusals are recorded; the session records its own start and end."""
    payload = {"container": container[:63]}
    try:
        _require(terminal.may_open(user, app.project.tenant), _("Only the tenant's members and operators open terminals."))
        _check_may_change(user, app.project)
        # operators' sessions run as the console itself; tenant users' impersonated (checked above)
        blocked = permissions.refusal(app.project.cluster, "terminal") if identity(user, app.project.tenant) == CONSOLE else ""
        if blocked:
            raise ValidationError(blocked)
        with talking_to(app.project, user) as api:
            pod = _app_pod(api, app, pod_name)
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = container or (containers[0] if containers else "")
        if container not in containers:
            raise ValidationError(_("Pod %(pod)s has no container named %(container)s.") % {"pod": pod_name, "container": container[:63]})
        phase = (pod.get("status") or {}).get("phase", "")
        if phase != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
            raise ValidationError(_("Pod %(pod)s is not running (%(phase)s).") % {"pod": pod_name, "phase": phase or "Pending"})
    except (PermissionError, ValidationError) as exc:
        oplog.record(user, "app.terminal.start", target=app.target(kind="Pod", name=pod_name), payload=payload,
                     result=OperationResult.DENIED if isinstance(exc, PermissionError) else OperationResult.FAILED,
                     error=oplog.error_text(exc))
        raise
    return terminal.new_session(app, user, pod_name, container), containers


@contextmanager
def _reading_pod(app, user, pod_name):
    """The app's pod, read as whoever reads its logs (podlogs.reader_identity: the cluster's
    RBAC decides); refusals in plain words."""
    _require(access.may_see(user, app.project.tenant), _("You may not read this app's logs."))
    with talking_to(app.project, user if access.may_operate(user, app.project.tenant) else None) as api:
        yield api, _app_pod(api, app, pod_name)


def _app_pod(api, app, pod_name):
    """A pod of the app or of its canary; any other name is refused like a missing one."""
    pod = api.get("Pod", pod_name, app.namespace)
    if pod is None or not manifests.belongs_to(app, pod):
        raise ValidationError(_("App %(app)s has no pod named %(pod)s.") % {"app": app.name, "pod": pod_name})
    return pod


# --- expose --------------------------------------------------------------------------


def check_exposure(app, service_type, port, target_port, node_port, host, path, tls_secret):
    """The Service and Ingress settings, cleaned: (service dict or {}, ingress dict or {})."""
    if service_type not in ServiceType.values:
        raise ValidationError({"service_type": _("Unknown service type.")})
    if not service_type:
        if host:
            raise ValidationError({"host": _("An ingress needs a Service: choose ClusterIP or NodePort.")})
        return {}, {}
    container_ports = [p["port"] for p in app.spec.get("ports") or []]
    target_port = target_port or (container_ports[0] if container_ports else None)
    for field, value in (("port", port), ("target_port", target_port)):
        if not isinstance(value, int) or not 1 <= value <= 65535:
            raise ValidationError({field: _("Ports are numbers from 1 to 65535.")})
    if node_port is not None:
        if service_type != ServiceType.NODE_PORT:
            raise ValidationError({"node_port": _("Only NodePort services have a node port.")})
        if not 30000 <= node_port <= 32767:
            raise ValidationError({"node_port": _("Node ports are numbers from 30000 to 32767.")})
    service = {"type": service_type, "port": port, "target_port": target_port, "node_port": node_port}
    if not host:
        if path or tls_secret:
            raise ValidationError({"host": _("Give the host name the ingress answers for.")})
        return service, {}
    bare = host[2:] if host.startswith("*.") else host
    if len(host) > 253 or not HOST.match(bare) or "." not in bare:
        raise ValidationError({"host": _("%(host)s is not a valid host name (for example shop.example.com).") % {"host": repr(host)}})
    path = path or "/"
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise ValidationError({"path": _("The path must start with '/' and hold no spaces.")})
    if tls_secret and not specs.DNS_SUBDOMAIN.match(tls_secret):
        raise ValidationError({"tls_secret": _("%(name)s is not a valid Secret name.") % {"name": repr(tls_secret)}})
    return service, {"host": host, "path": path, "tls_secret": tls_secret}


def expose_app(app, *, acting_user, service_type, port=None, target_port=None, node_port=None, host="", path="", tls_secret=""):
    """Create, change or remove the app's Service and Ingress."""
    payload = {"service_type": service_type, "port": port, "target_port": target_port, "node_port": node_port, "host": host,
               "path": path, "tls_secret": tls_secret}
    with oplog.recorded(acting_user, "app.expose", target=app.target(), payload=payload) as outcome:
        _check_app(acting_user, app)
        service, route = check_exposure(app, service_type, port, target_port, node_port, host.strip().lower(), path.strip(), tls_secret.strip())
        outcome.before = {"service": app.service, "ingress": app.ingress}
        if service == app.service and route == app.ingress:
            raise ValidationError(_("Nothing to change."))
        with talking_to(app.project, acting_user) as api:
            if route:
                _check_secret(api, app.project, route["tls_secret"], "tls_secret")
                conflict = _host_taken(app, api, route)
                if conflict:
                    raise ValidationError({"host": conflict})
            for step in exposure_plan(api, app, service, route):
                step(dry_run=True)
        job = _queue(app, acting_user, "app.expose", {"service": service, "ingress": route})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"service": service, "ingress": route, "job": job.pk}
    return job


def exposure_plan(api, app, service, route):
    """The calls that bring the app's Service and Ingress to what is wanted, each taking
    dry_run: new objects are applied, a live Service is patched, unwanted ones deleted."""
    steps = []
    current = api.get("Service", app.name, app.namespace)
    if service:
        desired = manifests.service(app, service)
        if current is None:
            steps.append(lambda dry_run: api.apply(desired, dry_run=dry_run))
        else:
            operations = manifests.service_patch(current, desired)
            steps.append(lambda dry_run: api.json_patch("Service", app.name, app.namespace, operations, dry_run=dry_run))
    if route:
        steps.append(lambda dry_run: api.apply(manifests.ingress(app, route, service["port"]), dry_run=dry_run))
    return steps


def _host_taken(app, api, route):
    """Another app of the cluster answering the same host and path would steal its traffic."""
    from console.clusters.models import MirroredObject

    for obj in MirroredObject.objects.filter(cluster=app.project.cluster, kind="Ingress").only("namespace", "name", "object"):
        if (obj.namespace, obj.name) == (app.namespace, app.name):
            continue
        for rule in (obj.object.get("spec") or {}).get("rules") or []:
            paths = [p.get("path") or "/" for p in ((rule.get("http") or {}).get("paths") or [])]
            if rule.get("host") == route["host"] and route["path"] in paths:
                return _("%(host)s%(path)s is served by another ingress already.") % {"host": route["host"], "path": route["path"]}
    return ""


# --- delete --------------------------------------------------------------------------


def delete_app(app, *, acting_user, confirm_name, delete_volumes=False):
    with oplog.recorded(acting_user, "app.delete", target=app.target(), payload={"delete_volumes": delete_volumes}) as outcome:
        _check_may_change(acting_user, app.project)
        if confirm_name != app.name:
            raise ValidationError({"confirm_name": _("Type the app's name to confirm.")})
        app = App.objects.select_for_update().get(pk=app.pk)
        outcome.before = {"spec": specs.loggable(app.spec), "service": app.service, "ingress": app.ingress, "status": app.status}
        app.status = AppStatus.DELETING
        app.save(update_fields=["status", "updated_at"])
        job = _queue(app, acting_user, "app.delete", {"delete_volumes": bool(delete_volumes)})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"job": job.pk}
    return job


# --- scheduled scaling ---------------------------------------------------------------


def add_scale_schedule(app, *, acting_user, at, replicas, weekdays):
    """Scale to `replicas` at `at` (a datetime.time in the tenant's time zone) on `weekdays`."""
    from django.utils import timezone

    from .models import ScaleSchedule

    weekdays = sorted({int(day) for day in weekdays or []})
    payload = {"at": at.strftime("%H:%M") if at else None, "replicas": replicas, "weekdays": weekdays}
    with oplog.recorded(acting_user, "app.schedule_add", target=app.target(), payload=payload) as outcome:
        _check_app(acting_user, app)
        if at is None:
            raise ValidationError({"at": _("Give the time of day (HH:MM).")})
        if not isinstance(replicas, int) or not 0 <= replicas <= specs.MAX_REPLICAS:
            raise ValidationError({"replicas": _("Replicas must be a number from 0 to %(max)s.") % {"max": specs.MAX_REPLICAS}})
        if not weekdays or any(day not in range(7) for day in weekdays):
            raise ValidationError({"weekdays": _("Choose at least one day.")})
        if app.autoscaler:
            raise ValidationError(_("An autoscaler sets this app's replicas; remove it before scheduling."))
        if app.schedules.count() >= 20:
            raise ValidationError(_("An app has at most 20 schedules."))
        if app.schedules.filter(at=at, weekdays=weekdays).exists():
            raise ValidationError({"at": _("There is a schedule at that time already.")})
        local_now = timezone.now().astimezone(tenant_zone(app.project.tenant))
        schedule = ScaleSchedule.objects.create(
            app=app, at=at, replicas=replicas, weekdays=weekdays, created_by=acting_user,
            # made after today's time has passed: it first runs on the next matching day
            last_run_on=local_now.date() if local_now.time() >= at else None)
        outcome.after = {**payload, "id": schedule.pk, "time_zone": app.project.tenant.time_zone}
    return schedule


def remove_scale_schedule(app, *, acting_user, schedule_id):
    with oplog.recorded(acting_user, "app.schedule_remove", target=app.target(), payload={"schedule": schedule_id}) as outcome:
        _check_may_change(acting_user, app.project)
        schedule = app.schedules.filter(pk=schedule_id).first()
        if schedule is None:
            raise ValidationError(_("No such schedule."))
        outcome.before = {"at": schedule.at.strftime("%H:%M"), "replicas": schedule.replicas, "weekdays": schedule.weekdays}
        schedule.delete()


def tenant_zone(tenant):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(tenant.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --- autoscaler (HorizontalPodAutoscaler, autoscaling/v2) -----------------------------


def check_autoscaler(app, min_replicas, max_replicas, cpu, memory):
    for field, value, low in (("min_replicas", min_replicas, 1), ("max_replicas", max_replicas, 1)):
        if not isinstance(value, int) or not low <= value <= specs.MAX_REPLICAS:
            raise ValidationError({field: _("Replicas must be a number from %(low)s to %(max)s.") % {"low": low, "max": specs.MAX_REPLICAS}})
    if min_replicas > max_replicas:
        raise ValidationError({"max_replicas": _("The maximum is below the minimum.")})
    if cpu is None and memory is None:
        raise ValidationError(_("Give a CPU or a memory target (or both)."))
    wanted = per_pod(app.project, app.spec)
    for field, value, resource in (("cpu", cpu, "cpu"), ("memory", memory, "memory")):
        if value is None:
            continue
        if not isinstance(value, int) or not 1 <= value <= 1000:
            raise ValidationError({field: _("Target utilisation is a percentage from 1 to 1000.")})
        if f"requests.{resource}" not in wanted:
            raise ValidationError({field: _("Utilisation is measured against the %(resource)s request: give the app a %(resource)s request first.")
                                   % {"resource": resource}})
    return {"min": min_replicas, "max": max_replicas, "cpu": cpu, "memory": memory}


def set_autoscaler(app, *, acting_user, min_replicas, max_replicas, cpu=None, memory=None):
    payload = {"min": min_replicas, "max": max_replicas, "cpu": cpu, "memory": memory}
    with oplog.recorded(acting_user, "app.autoscale", target=app.target(), payload=payload) as outcome:
        _check_app(acting_user, app)
        config = check_autoscaler(app, min_replicas, max_replicas, cpu, memory)
        if app.schedules.exists():
            raise ValidationError(_("This app scales on a schedule; remove its schedules before adding an autoscaler."))
        outcome.before = {"autoscaler": app.autoscaler}
        with talking_to(app.project, acting_user) as api:
            live_workload(app, api)
            api.apply(manifests.autoscaler(app, config), dry_run=True)
        job = _queue(app, acting_user, "app.autoscale", {"autoscaler": config})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"autoscaler": config, "job": job.pk}
    return job


def remove_autoscaler(app, *, acting_user):
    with oplog.recorded(acting_user, "app.autoscale_remove", target=app.target()) as outcome:
        _check_app(acting_user, app)
        if not app.autoscaler:
            raise ValidationError(_("The app has no autoscaler."))
        outcome.before = {"autoscaler": app.autoscaler}
        job = _queue(app, acting_user, "app.autoscale", {"autoscaler": {}})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"job": job.pk}
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
    from . import imports

    objects = imports.parse(text, project.name)
    podsecurity.check_objects(project.tenant.pod_security, objects)  # before the cluster is asked: its refusal would come pod by pod
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


def preview_import(project, *, user, text):
    """What importing the manifests would create or change, as the cluster answers a dry
    run of each (as the user). Reads only: nothing is recorded or changed."""
    _check_may_change(user, project)
    return _preview(project, user, text)


def import_manifests(project, *, acting_user, text):
    """Apply the manifests (after the same checks as the preview) with a job; new
    Deployments and StatefulSets become apps of the console."""
    from . import imports

    target = {"tenant": project.tenant.name, "cluster": project.cluster.name, "namespace": project.name, "kind": "Manifests", "name": ""}
    with oplog.recorded(acting_user, "app.import", target=target) as outcome:
        _check_may_change(acting_user, project)
        objects, rows = _preview(project, acting_user, text)
        outcome.payload = {"objects": [f"{row.kind}/{row.name}: {row.action or 'refused'}" for row in rows]}
        refused = [f"{row.kind} {row.name}: {row.error}" for row in rows if row.error]
        if refused:
            raise ValidationError(_("Nothing was imported; the cluster refuses: %(errors)s") % {"errors": "; ".join(refused)})
        if all(row.action == "unchanged" for row in rows):
            raise ValidationError(_("Nothing to change: the namespace holds all of this already."))
        apps = []
        for obj in objects:
            if obj["kind"] not in imports.WORKLOAD_KINDS:
                continue
            name = obj["metadata"]["name"]
            app = App.objects.filter(project=project, name=name).first()
            if app is not None and app.kind != obj["kind"]:
                raise ValidationError(_("App %(name)s is a %(kind)s; it cannot become a %(other)s.") % {"name": name, "kind": app.kind, "other": obj["kind"]})
            if app is None:
                app = App.objects.create(project=project, name=name, kind=obj["kind"], spec=manifests.spec_from_workload(obj, obj["kind"]),
                                         created_by=acting_user, status=AppStatus.DEPLOYING)
            apps.append(app.pk)
        names = [obj["metadata"]["name"] for obj in objects if obj["kind"] in imports.WORKLOAD_KINDS]
        outcome.target["name"] = names[0] if len(names) == 1 else f"{len(objects)} objects"
        from .tasks import run_app_job

        job = jobs.create_job("app.import", requested_by=acting_user, task=run_app_job, tenant=(project.tenant_id, project.tenant.name),
                              target={"cluster": project.cluster.name, "namespace": project.name, "kind": "Manifests",
                                      "name": outcome.target["name"]},
                              payload={"objects": objects, "apps": apps})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"job": job.pk, "apps": apps}
    return job, rows


# --- canary releases -------------------------------------------------------------------

HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def check_canary(app, image, replicas, weight, header, header_value):
    image = specs.check_image(image)
    if not isinstance(replicas, int) or not 1 <= replicas <= 10:
        raise ValidationError({"replicas": _("A canary runs 1 to 10 replicas.")})
    if weight is None and not header:
        raise ValidationError(_("Send the canary a share of the traffic (weight), requests with a header, or both."))
    if weight is not None and not 0 <= weight <= 100:
        raise ValidationError({"weight": _("The weight is a percentage from 0 to 100.")})
    if header and not HEADER_NAME.match(header):
        raise ValidationError({"header": _("%(name)s is not a valid header name.") % {"name": repr(header)}})
    if header_value and not header:
        raise ValidationError({"header": _("Name the header whose value selects the canary.")})
    return {"image": image, "replicas": replicas, "weight": weight or 0, "header": header or "", "header_value": header_value or ""}


def start_canary(app, *, acting_user, image, replicas=1, weight=None, header="", header_value=""):
    """Run a new version beside the stable one and send it part of the traffic."""
    payload = {"image": image, "replicas": replicas, "weight": weight, "header": header}
    with oplog.recorded(acting_user, "app.canary_start", target=app.target(), payload=payload) as outcome:
        _check_app(acting_user, app)
        if app.kind != AppKind.DEPLOYMENT:
            raise ValidationError(_("Canary releases are offered for Deployments."))
        if app.canary:
            raise ValidationError(_("A canary runs already: promote or abort it first."))
        if not app.service or not app.ingress:
            raise ValidationError(_("A canary splits the traffic of the app's Ingress: expose the app with a domain first."))
        canary = check_canary(app, image, replicas, weight, header, header_value)
        with talking_to(app.project, acting_user) as api:
            current = manifests.spec_from_workload(live_workload(app, api), app.kind)
            if canary["image"] == current["image"]:
                raise ValidationError({"image": _("The stable version runs %(image)s already.") % {"image": canary["image"]}})
            check_quota(api, app.project, current, canary["replicas"])
            objects = manifests.canary_objects(app, current, canary)
            podsecurity.check_objects(app.project.tenant.pod_security, objects)
            if api.get("Deployment", objects[0]["metadata"]["name"], app.namespace) is not None:
                raise ValidationError(_("A Deployment named %(name)s exists already.") % {"name": objects[0]["metadata"]["name"]})
            dry_run(api, objects)
        canary["started_by"] = acting_user.get_username()
        App.objects.filter(pk=app.pk).update(canary=canary)
        job = _queue(app, acting_user, "app.canary", {"canary": canary, "spec": current})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"canary": canary, "stable_image": current["image"], "job": job.pk}
    return job


def set_canary_traffic(app, *, acting_user, weight=None, header="", header_value=""):
    """Change the canary's share of the traffic (one Ingress change, done at once)."""
    with oplog.recorded(acting_user, "app.canary_traffic", target=app.target(), payload={"weight": weight, "header": header}) as outcome:
        _check_app(acting_user, app)
        if not app.canary:
            raise ValidationError(_("No canary runs."))
        outcome.before = {"weight": app.canary.get("weight"), "header": app.canary.get("header")}
        canary = {**app.canary, **check_canary(app, app.canary["image"], app.canary["replicas"], weight, header, header_value)}
        twin = manifests.CanaryOf(app)
        with talking_to(app.project, acting_user) as api:
            route = api.get("Ingress", twin.name, app.namespace)
            if route is None:
                raise ValidationError(_("The canary's Ingress is not there (yet)."))
            annotations = {k: v for k, v in (route["metadata"].get("annotations") or {}).items() if not k.startswith(manifests.NGINX + "canary")}
            api.json_patch("Ingress", twin.name, app.namespace, [
                {"op": "test", "path": "/metadata/uid", "value": route["metadata"]["uid"]},
                {"op": "add", "path": "/metadata/annotations", "value": {**annotations, **manifests.canary_annotations(canary)}}])
        App.objects.filter(pk=app.pk).update(canary=canary)
        outcome.after = {"weight": canary["weight"], "header": canary["header"]}


def promote_canary(app, *, acting_user):
    """The stable version becomes the canary's (a rolling upgrade), then the canary goes."""
    with oplog.recorded(acting_user, "app.canary_promote", target=app.target()) as outcome:
        _check_app(acting_user, app)
        if not app.canary:
            raise ValidationError(_("No canary runs."))
        with talking_to(app.project, acting_user) as api:
            obj = live_workload(app, api)
            current = manifests.spec_from_workload(obj, app.kind)
            spec = {**current, "image": app.canary["image"]}
            api.json_patch(app.kind, app.name, app.namespace, manifests.template_patch(obj, manifests.pod_template(app, spec)), dry_run=True)
        outcome.before = {"image": current["image"]}
        job = _queue(app, acting_user, "app.canary_promote", {"spec": spec, "before": current, "canary": app.canary})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"image": spec["image"], "job": job.pk}
    return job


def abort_canary(app, *, acting_user):
    with oplog.recorded(acting_user, "app.canary_abort", target=app.target()) as outcome:
        _check_app(acting_user, app)
        if not app.canary:
            raise ValidationError(_("No canary runs."))
        outcome.before = {"canary": app.canary}
        job = _queue(app, acting_user, "app.canary_abort", {"canary": app.canary})
        outcome.result = OperationResult.ACCEPTED
        outcome.after = {"job": job.pk}
    return job
