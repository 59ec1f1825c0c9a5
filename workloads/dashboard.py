"""The workloads app's dashboard panel: a tenant user's apps by state. The console's own
status says what it is doing to an app; the mirrored Deployment or StatefulSet says how
the app runs now (replicas ready, or scaled to zero, also by kubectl or an autoscaler)."""

from django.db.models.fields.json import KT
from django.utils.translation import gettext_lazy as _

from console import dashboard
from console.clusters.models import MirroredObject

from .choices import AppStatus
from .models import App

# (key, label, colour), in the order the panel shows them.
STATES = (
    ("running", _("Running"), "success"),
    ("progressing", _("Progressing"), "primary"),
    ("failed", _("Failed or degraded"), "danger"),
    ("zero", _("Scaled to zero"), "secondary"),
)
# The apps the panel names (the ones that want attention first).
NAMED = 8


def state_of(app, workload):
    """One of STATES' keys for an app and its mirrored workload (phase, replicas), or None."""
    phase, replicas = workload if workload else ("", None)
    if app.status == AppStatus.FAILED:
        return "failed"
    if app.status in (AppStatus.DEPLOYING, AppStatus.UPDATING, AppStatus.DELETING):
        return "progressing"
    if str(replicas) == "0":
        return "zero"
    if workload and phase != "Ready":  # the console finished, yet replicas are missing
        return "failed"
    return "running"


def apps_context(request):
    """The apps of the user's tenants, counted by state, in two queries."""
    tenant_ids = [m.tenant_id for m in dashboard.memberships(request)]
    apps = list(
        App.objects.filter(project__tenant_id__in=tenant_ids)
        .select_related("project__tenant")
        .only("name", "kind", "status", "project__name", "project__cluster_id", "project__tenant__name")
        .order_by("project__name", "name")
    )
    rows = MirroredObject.objects.filter(
        kind__in=["Deployment", "StatefulSet"],
        namespace__in={a.project.name for a in apps},
        cluster_id__in={a.project.cluster_id for a in apps},
    ).values_list("cluster_id", "namespace", "kind", "name", "phase", KT("object__spec__replicas"))
    workloads = {row[:4]: row[4:] for row in rows}
    counts = {key: 0 for key, _label, _colour in STATES}
    attention = []
    for app in apps:
        state = state_of(app, workloads.get((app.project.cluster_id, app.project.name, app.kind, app.name)))
        counts[state] += 1
        if state in ("failed", "progressing") and len(attention) < NAMED:
            attention.append((app, state))
    shown = {key: (label, colour) for key, label, colour in STATES}
    return {
        "app_states": [(key, label, colour, counts[key]) for key, label, colour in STATES],
        "app_total": len(apps),
        "attention": [(app, *shown[state]) for app, state in attention],
    }


def register():
    dashboard.register_panel("apps", "workloads/_dash_apps.html", apps_context, ("tenant",), order=20)
