"""What the app pages read: the app's objects from the resource mirror, revisions with
who made them from the operation log. The one read from the API server (as the viewing
user) is a StatefulSet's ControllerRevisions, which the mirror does not hold."""

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from console.choices import JobStatus
from console.clusters import resources, selectors
from console.clusters.models import MirroredObject
from console.jobs.models import Job
from console.kube.api import CONSOLE, ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.oplog.models import OperationLogEntry
from tenants import access

from . import manifests, rollout
from .choices import AppKind
from .cluster import owned_controller_revisions
from .models import App

EVENT_LIMIT = 12


def visible_apps(user):
    return App.objects.filter(project__in=access.visible_projects(user)).select_related(
        "project__tenant", "project__cluster"
    )


def _mirror(app, kind):
    return MirroredObject.objects.filter(cluster_id=app.project.cluster_id, kind=kind, namespace=app.namespace)


def workload(app):
    return _mirror(app, app.kind).filter(name=app.name).first()


def pods(app):
    return list(_mirror(app, "Pod").filter(selectors.to_q(manifests.selector_text(app))).order_by("name"))


def replicasets(app, workload_row):
    if workload_row is None or app.kind != AppKind.DEPLOYMENT:
        return []
    return list(_mirror(app, "ReplicaSet").filter(owner_uid=workload_row.uid))


def exposure(app):
    """The Service, headless Service and Ingress named after the app, as mirrored."""
    names = [app.name, manifests.headless_name(app)]
    return list(
        MirroredObject.objects.filter(
            cluster_id=app.project.cluster_id,
            namespace=app.namespace,
            kind__in=["Service", "Ingress", "HorizontalPodAutoscaler"],
            name__in=names,
        ).order_by("kind", "name")
    )


@dataclass
class AutoscalerStatus:
    """What the HorizontalPodAutoscaler reports about itself (status.conditions)."""

    active: bool | None  # None: the cluster has not evaluated it yet
    explanation: str  # why it is not active, in plain words ("" when it is)
    problem: str  # the failing condition's own message
    limited: str  # ScalingLimited's message when the limits hold it back
    current: int | None
    desired: int | None
    conditions: list


def autoscaler_status(app):
    """The app's autoscaler as the cluster sees it, from the mirror; None without one. A real
    cluster without metrics-server keeps it ScalingActive=False: the page must say so."""
    if not app.autoscaler:
        return None
    row = _mirror(app, "HorizontalPodAutoscaler").filter(name=app.name).first()
    status = (row.object.get("status") or {}) if row else {}
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    by_type = {c.get("type"): c for c in conditions}
    able, scaling, limited = by_type.get("AbleToScale"), by_type.get("ScalingActive"), by_type.get("ScalingLimited")
    failing = next((c for c in (able, scaling) if c and c.get("status") == "False"), None)
    if failing:
        active, problem = False, failing.get("message") or failing.get("reason", "")
    else:
        active, problem = (None if scaling is None else scaling.get("status") == "True"), ""
    explanation = ""
    if failing is not None and failing is able:
        explanation = _("The autoscaler cannot read or change the app's scale, so it does not act.")
    elif failing is not None:
        if "metrics.k8s.io" in problem or "resource metrics API" in problem:
            explanation = _(
                "The cluster's metrics API (metrics.k8s.io, served by metrics-server) is not answering, "
                "so the autoscaler cannot measure CPU or memory and leaves the replicas where they are."
            )
        elif "missing request" in problem:
            explanation = _(
                "Utilisation is measured against the containers' requests, and a container has none, so the autoscaler "
                "leaves the replicas where they are."
            )
        else:
            explanation = _("The autoscaler cannot compute a replica count, so it leaves the replicas where they are.")
    return AutoscalerStatus(
        active=active,
        explanation=explanation,
        problem=problem,
        limited=limited.get("message", "") if limited and limited.get("status") == "True" else "",
        current=status.get("currentReplicas"),
        desired=status.get("desiredReplicas") or None,
        conditions=conditions,
    )


def events(app, uids, limit=EVENT_LIMIT):
    if not uids:
        return []
    rows = (
        _mirror(app, "Event").filter(object__involvedObject__uid__in=list(uids)).order_by("-created_at", "-id")[:limit]
    )
    return [_event(row) for row in rows]


@dataclass
class EventRow:
    type: str
    reason: str
    object: str
    message: str
    count: int
    last_seen: datetime | None  # Kubernetes writes UTC; templates show the console's time zone


def _event(row):
    obj = row.object
    involved = obj.get("involvedObject") or {}
    return EventRow(
        type=obj.get("type", ""),
        reason=obj.get("reason", ""),
        object=f"{involved.get('kind', '')}/{involved.get('name', '')}",
        message=obj.get("message", ""),
        count=obj.get("count") or 1,
        last_seen=parse_datetime(obj.get("lastTimestamp") or obj.get("eventTime") or ""),
    )


@dataclass
class Revision:
    number: int
    replicaset: str
    image: str
    created: datetime | None
    replicas: int
    ready: int
    current: bool
    change_cause: str
    by: str  # user name, or "" when the change came from outside the console
    at: datetime | None
    via_console: bool
    entry_id: int | None
    template: dict | None = None
    diff: str = ""  # the pod template against the previous revision's


def revisions(app, workload_row, replicaset_rows):
    """Every revision of a Deployment, newest first. Who made it comes from the console's
    app.revision entries for that ReplicaSet at that revision number; anything else
    (kubectl, CI, GitOps) shows as made outside the console."""
    current = (
        ((workload_row.object.get("metadata") or {}).get("annotations") or {}).get(manifests.REVISION)
        if workload_row
        else None
    )
    entries = _revision_entries(app, "ReplicaSet", [row.name for row in replicaset_rows])
    # A revision whose job still follows its rollout has no entry yet; the running job it is
    # stamped with says it is the console's. Only while it runs: kubectl keeps the stamp on
    # the Deployment, so a later change made outside would carry it too.
    stamps = [_job_stamp(row) for row in replicaset_rows]
    stamped = {
        str(job.pk): job
        for job in Job.objects.filter(
            status__in=JobStatus.active(), pk__in=[int(s) for s in stamps if s.isdigit()]
        ).select_related("requested_by")
    }
    result = []
    for row in replicaset_rows:
        meta = row.object.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        number = annotations.get(manifests.REVISION, "0")
        entry = entries.get((row.name, number))
        job = None if entry else stamped.get(_job_stamp(row))
        status = row.object.get("status") or {}
        result.append(
            Revision(
                number=int(number) if number.isdigit() else 0,
                replicaset=row.name,
                image=rollout.image_of((row.object.get("spec") or {}).get("template")),
                created=row.created_at,
                replicas=status.get("replicas", 0),
                ready=status.get("readyReplicas", 0),
                current=number == current,
                change_cause=(manifests.cause_shown(entry.after) if entry else "")
                or annotations.get(manifests.CHANGE_CAUSE, ""),
                by=entry.actor_name if entry else (job.requested_by.get_username() if job and job.requested_by else ""),
                at=entry.finished_at if entry else row.created_at,
                via_console=entry is not None or job is not None,
                entry_id=entry.pk if entry else None,
                template=(row.object.get("spec") or {}).get("template"),
            )
        )
    result.sort(key=lambda r: -r.number)
    for newer, older in pairwise(result):
        newer.diff = template_diff(older.template, newer.template)
    return result


def _revision_entries(app, kind, names):
    """The console's newest app.revision entry for each (name of a `kind` object, revision number)."""
    entries = {}
    for entry in OperationLogEntry.objects.filter(
        action="app.revision",
        cluster=app.project.cluster.name,
        namespace=app.namespace,
        target_kind=kind,
        target_name__in=names,
    ).order_by("-id"):
        entries.setdefault((entry.target_name, str((entry.after or {}).get("revision"))), entry)
    return entries


def _job_stamp(row):
    return ((row.object.get("metadata") or {}).get("annotations") or {}).get(manifests.JOB_ANNOTATION, "")


def statefulset_revisions(app, user, workload_row, pod_rows):
    """Every revision of a StatefulSet (its ControllerRevisions), newest first, read from
    the cluster as `user`. Who made it comes from the console's app.revision entries for
    that ControllerRevision at that revision number; anything else shows as made outside
    the console. Returns (revisions, error message or "")."""
    if workload_row is None:
        return [], ""
    try:
        who = access.identity_for(user, app.project.tenant)
    except PermissionError:  # may see the app (an auditor) without a tenant role: read-only, as the console
        who = CONSOLE
    try:
        with ClusterAPI(app.project.cluster, who) as api:
            sts = api.get(app.kind, app.name, app.namespace)
            rows = owned_controller_revisions(api, app, sts) if sts else []
    except ApiRefused as exc:
        return [], exc.message
    except ClusterError as exc:
        return [], str(exc)
    status = (sts or {}).get("status") or {}
    entries = _revision_entries(app, "ControllerRevision", [row["metadata"]["name"] for row in rows])
    pods_by_revision = {}
    for pod in pod_rows:
        pods_by_revision.setdefault((pod.labels or {}).get("controller-revision-hash"), []).append(pod.object)
    result = []
    for row in rows:
        name, number = row["metadata"]["name"], row.get("revision", 0)
        entry = entries.get((name, str(number)))
        template = manifests.revision_template(row)
        created = parse_datetime(row["metadata"].get("creationTimestamp") or "")
        its_pods = pods_by_revision.get(name, [])
        result.append(
            Revision(
                number=int(number),
                replicaset=name,
                image=rollout.image_of(template),
                created=created,
                replicas=len(its_pods),
                ready=sum(1 for p in its_pods if _pod_ready(p)),
                current=name == status.get("updateRevision"),
                change_cause=(manifests.cause_shown(entry.after) if entry else ""),
                by=entry.actor_name if entry else "",
                at=entry.finished_at if entry else created,
                via_console=entry is not None,
                entry_id=entry.pk if entry else None,
                template=template,
            )
        )
    result.sort(key=lambda r: -r.number)
    for newer, older in pairwise(result):
        newer.diff = template_diff(older.template, newer.template)
    return result, ""


def _pod_ready(pod):
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def template_diff(older, newer):
    """A unified diff of two pod templates, without the hash label that always differs."""
    import difflib

    import yaml

    def text(template):
        template = yaml.safe_load(yaml.safe_dump(template or {}))
        (template.get("metadata") or {}).get("labels", {}).pop(manifests.POD_TEMPLATE_HASH, None)
        return yaml.safe_dump(template, sort_keys=True).splitlines()

    return "\n".join(
        difflib.unified_diff(text(older), text(newer), _("previous"), _("this revision"), lineterm="", n=1)
    )


def live_context(app, user=None):
    """Everything the live part of the app page shows, from the mirror (a StatefulSet's
    revisions from the cluster, read as `user`: None is the console itself)."""
    workload_row = workload(app)
    rs_rows = replicasets(app, workload_row)
    pod_rows = pods(app)
    revisions_error = ""
    if app.kind == AppKind.STATEFULSET:
        revision_rows, revisions_error = statefulset_revisions(app, user, workload_row, pod_rows)
    else:
        revision_rows = revisions(app, workload_row, rs_rows)
    uids = {row.uid for row in [workload_row, *rs_rows, *pod_rows] if row is not None}
    numbers = {
        (row.labels or {}).get(manifests.POD_TEMPLATE_HASH): (
            (row.object.get("metadata") or {}).get("annotations") or {}
        ).get(manifests.REVISION)
        for row in rs_rows
    }
    pod_rows = [rollout.pod_row(row.object, row.created_at) for row in pod_rows]
    for pod in pod_rows:
        pod.revision_number = numbers.get(pod.revision, "")
    canary_pods = []
    if app.canary:
        twin = manifests.CanaryOf(app)
        canary_pods = [
            rollout.pod_row(row.object, row.created_at)
            for row in _mirror(app, "Pod").filter(selectors.to_q(manifests.selector_text(twin))).order_by("name")
        ]
    return {
        "canary_pods": canary_pods,
        "stable_weight": 100 - int(app.canary.get("weight") or 0) if app.canary else 100,
        "canary_health": health(canary_pods),
        "stable_health": health(pod_rows),
        "workload": workload_row,
        "progress": rollout.progress(workload_row.object if workload_row else None, app.kind),
        "pods": pod_rows,
        "events": events(app, uids),
        "revisions": revision_rows,
        "revisions_error": revisions_error,
        "autoscaler_status": autoscaler_status(app),
    }


def yaml_documents(app):
    """(title, YAML) for each of the app's objects the mirror holds."""
    rows = [row for row in [workload(app)] if row is not None] + exposure(app)
    rows += [row for row in pods(app)]
    return [(f"{row.kind} {row.name}", resources.as_yaml(row)) for row in rows]


def health(pod_rows):
    """Side-by-side signals for stable and canary: pods, ready, restarts, problems."""
    return {
        "pods": len(pod_rows),
        "ready": sum(1 for p in pod_rows if p.ready.split("/")[0] == p.ready.split("/")[1] != "0"),
        "restarts": sum(p.restarts for p in pod_rows),
        "problems": sum(1 for p in pod_rows if p.problem),
    }
