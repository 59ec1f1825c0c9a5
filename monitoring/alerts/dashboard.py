"""The alerts app's dashboard panel: the alerts firing now. Operators and auditors see every
cluster's, counted by severity overall and per cluster; tenant users their tenants' only (the
alerts page's own rule, services.visible_alerts). A fixed number of queries whatever the
number of alerts; the dashboard polls the panel like the others."""

from django.db.models import Case, Count, IntegerField, Value, When

from console import dashboard
from console.clusters.models import Cluster
from tenants import access

from . import services
from .choices import SEVERITY_COLOUR, AlertState, Severity

# The alerts the panel names, most severe and most recent first.
NAMED = 8
RANK = Case(
    When(rule__severity=Severity.CRITICAL, then=Value(0)),
    When(rule__severity=Severity.WARNING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def firing_context(request):
    tenant_ids = {m.tenant_id for m in dashboard.memberships(request)}
    firing = services.visible_alerts(request.user, tenant_ids).filter(state=AlertState.FIRING)
    counts = {severity: 0 for severity in Severity.values}
    per_cluster = {}
    see_all = access.may_see_all(request.user)
    for cluster_id, severity, count in (
        firing.values_list("cluster_id", "rule__severity").annotate(n=Count("id")).order_by()
    ):
        counts[severity] = counts.get(severity, 0) + count
        if see_all:
            per_cluster.setdefault(cluster_id, {s: 0 for s in Severity.values})[severity] += count
    names = dict(Cluster.objects.filter(pk__in=[pk for pk in per_cluster if pk]).values_list("pk", "name"))
    if see_all:
        clusters = sorted(
            (
                (names.get(pk, "—"), [(s, SEVERITY_COLOUR[s], n[s]) for s in reversed(Severity.values)])
                for pk, n in per_cluster.items()
            ),
            key=lambda row: row[0],
        )
    else:
        clusters = []
    # One query when nothing fires (the usual case): the counts say so.
    alerts = (
        list(firing.select_related("rule").order_by(RANK, "-fired_at", "-id")[:NAMED]) if any(counts.values()) else []
    )
    for alert in alerts:
        alert.cluster_name = names.get(alert.cluster_id, "")
    return {
        "firing_total": sum(counts.values()),
        "severity_counts": [
            (severity, label, SEVERITY_COLOUR[severity], counts[severity])
            for severity, label in reversed(Severity.choices)
        ],
        "firing_clusters": clusters,
        "firing_alerts": alerts,
        "see_all": see_all,
    }


def register():
    dashboard.register_panel(
        "alerts", "alerts/_dash_alerts.html", firing_context, ("operator", "auditor", "tenant"), order=16
    )
