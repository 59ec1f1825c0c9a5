"""The dashboard: panels, each a partial template and a function giving its context.

The core registers its own panels (clusters, capacity, jobs, notifications, operations);
feature apps add theirs with `register_panel` in their AppConfig.ready(), so the core
imports no feature app. Each panel says which audiences see it: "operator", "auditor"
(platform roles) and "tenant" (a user with tenant memberships). Every panel reads the
database in a fixed number of queries whatever the number of rows (the mirror holds
150k pods): sums over objects happen in SQL, or in Python over a grouped, narrow query.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.template.loader import render_to_string
from django.utils import timezone

from console import quantity
from console.accounts import roles
from console.choices import JobStatus
from console.clusters.models import Cluster, MirroredObject
from console.jobs.models import Job
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry

OPERATORS = ("operator", "auditor")
EVERYONE = ("operator", "auditor", "tenant", "user")
# How often the page asks for fresh panels (htmx poll), in seconds.
REFRESH_SECONDS = 30
# Platform-wide figures (the same for every operator) are computed at most this often:
# summing 150k pods' requests takes a few hundred milliseconds.
CACHE_SECONDS = 30


@dataclass
class Panel:
    key: str
    template: str
    context: object  # context(request) -> dict for the template
    audiences: tuple
    order: int = 50
    width: int = 6  # Bootstrap columns of 12 on a wide screen


_panels = {}


def register_panel(key, template, context, audiences, *, order=50, width=6):
    """Add a panel: `context(request)` gives the template's context; `audiences` are the
    kinds of user who see it (OPERATORS, "tenant", EVERYONE, ...). Lower `order` comes first."""
    _panels[key] = Panel(key, template, context, tuple(audiences), order, width)


def memberships(request):
    """The reader's tenant memberships, looked up once per request (every panel asks)."""
    if not hasattr(request, "_dashboard_memberships"):
        request._dashboard_memberships = roles.memberships(request.user)
    return request._dashboard_memberships


def audiences(request):
    """Which kinds of dashboard reader the user is (several at once are possible)."""
    found = set()
    if roles.is_operator(request.user):
        found.add("operator")
    if roles.is_auditor(request.user):
        found.add("auditor")
    if memberships(request):
        found.add("tenant")
    return found or {"user"}


def panels_for(request):
    mine = audiences(request)
    return sorted((p for p in _panels.values() if mine & set(p.audiences)), key=lambda p: (p.order, p.key))


def panel_for(request, key):
    return next((p for p in panels_for(request) if p.key == key), None)


def cached(key, compute):
    """compute(), shared by every reader for CACHE_SECONDS (0: always fresh)."""
    if not CACHE_SECONDS:
        return compute()
    key = f"dashboard:{key}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def render_panel(request, panel):
    """A panel's HTML. Rendered without the context processors (the page has them once):
    panels get the reader and the role flags they need from here."""
    context = {
        "panel": panel,
        "user": request.user,
        "can_read_oplog": roles.can_read_operation_log(request.user),
        **panel.context(request),
    }
    return render_to_string(panel.template, context)


# --- the core's panels -------------------------------------------------------------------


@dataclass
class Capacity(quantity.Share):
    """One resource of one cluster: what the nodes offer and what is asked of them."""

    resource: str
    allocatable: Decimal
    requested: Decimal

    def share_of(self):
        return self.requested, self.allocatable

    @property
    def allocatable_display(self):
        return show(self.resource, self.allocatable)

    @property
    def requested_display(self):
        return show(self.resource, self.requested)


def show(resource, amount):
    """An amount for a panel: bytes in binary units, cores as 10.5 (not 10500m) from one core up."""
    if amount is None:
        return "—"
    if resource in ("memory", "storage"):
        return quantity.format_bytes(amount)
    if resource == "cpu":
        return f"{amount.quantize(Decimal('0.01')).normalize():f}" if amount >= 1 else quantity.format_cpu(amount)
    return str(int(amount))


def _amount(text):
    """A quantity from the mirror, 0 when missing or not a quantity (the cluster's data, not ours)."""
    if text in (None, ""):
        return Decimal(0)
    try:
        return quantity.parse(str(text))
    except ValueError:
        return Decimal(0)


# Requests of every container of the live pods, grouped by cluster and request value: a
# cluster's pods ask for few distinct amounts, so Python parses a handful of rows, not 150k.
# The same scan counts the pods (their first containers). The JSON functions differ between
# PostgreSQL and SQLite (embedded mode), nothing else.
_REQUESTS_SQL = {
    "postgresql": (
        "SELECT m.cluster_id, c.value->'resources'->'requests'->>'cpu', c.value->'resources'->'requests'->>'memory', "
        "COUNT(*), SUM(CASE WHEN c.ordinality = 1 THEN 1 ELSE 0 END) "
        "FROM {table} m CROSS JOIN LATERAL jsonb_array_elements("
        "  CASE WHEN jsonb_typeof(m.object->'spec'->'containers') = 'array' "
        "THEN m.object->'spec'->'containers' ELSE '[]' END"
        ") WITH ORDINALITY c "
        "WHERE m.kind = 'Pod' AND m.phase NOT IN ('Succeeded', 'Failed') GROUP BY 1, 2, 3"
    ),
    "sqlite": (
        "SELECT m.cluster_id, json_extract(c.value, '$.resources.requests.cpu'), "
        "json_extract(c.value, '$.resources.requests.memory'), COUNT(*), SUM(CASE WHEN c.key = 0 THEN 1 ELSE 0 END) "
        "FROM {table} m, json_each(m.object, '$.spec.containers') c "
        "WHERE m.kind = 'Pod' AND m.phase NOT IN ('Succeeded', 'Failed') GROUP BY 1, 2, 3"
    ),
}


def _live_pod_requests():
    """{cluster id: {"cpu": Decimal, "memory": Decimal, "pods": Decimal}} over live pods."""
    sql = _REQUESTS_SQL[connection.vendor].format(table=MirroredObject._meta.db_table)
    totals = {}
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for cluster_id, cpu, memory, containers, pods in cursor.fetchall():
            sums = totals.setdefault(cluster_id, {"cpu": Decimal(0), "memory": Decimal(0), "pods": Decimal(0)})
            sums["cpu"] += _amount(cpu) * containers
            sums["memory"] += _amount(memory) * containers
            sums["pods"] += pods
    return totals


def _grouped_amounts(kind, path):
    """{cluster id: sum of the quantity at `path`} over a kind's objects, grouped in SQL by value."""
    totals = {}
    rows = (
        MirroredObject.objects.filter(kind=kind)
        .values("cluster_id", amount=KT(path))
        .annotate(n=Count("id"))
        .values_list("cluster_id", "amount", "n")
        .order_by()
    )
    for cluster_id, amount, count in rows:
        totals[cluster_id] = totals.get(cluster_id, Decimal(0)) + _amount(amount) * count
    return totals


@dataclass
class ClusterSummary:
    cluster: Cluster
    nodes_ready: int
    nodes_total: int
    checks_ok: int
    checks_total: int
    capacity: list  # of Capacity: cpu, memory, pods, storage

    @property
    def checks_failing(self):
        return [name for name, ok in self.cluster.health if not ok]


def cluster_summaries():
    """Every cluster with node counts and capacity against requests, from the mirror."""
    clusters = list(Cluster.objects.order_by("name").defer("kubeconfig_encrypted", "permissions_missing"))
    nodes = {}  # cluster id: [ready, total, cpu, memory, pods]
    node_rows = MirroredObject.objects.filter(kind="Node").values_list(
        "cluster_id", "phase", "object__status__allocatable"
    )
    for cluster_id, phase, allocatable in node_rows:
        entry = nodes.setdefault(cluster_id, [0, 0, Decimal(0), Decimal(0), Decimal(0)])
        allocatable = allocatable if isinstance(allocatable, dict) else {}
        entry[0] += phase == "Ready"
        entry[1] += 1
        entry[2] += _amount(allocatable.get("cpu"))
        entry[3] += _amount(allocatable.get("memory"))
        entry[4] += _amount(allocatable.get("pods"))
    requests = _live_pod_requests()
    claimed = _grouped_amounts("PersistentVolumeClaim", "object__spec__resources__requests__storage")
    provisioned = _grouped_amounts("PersistentVolume", "object__spec__capacity__storage")
    summaries = []
    for cluster in clusters:
        entry = nodes.get(cluster.pk)
        if entry is None:  # the watcher has not mirrored its nodes yet: the last sync's summary
            ready, total = cluster.ready_nodes, len(cluster.nodes)
            cpu = sum((_amount(n.get("allocatable", {}).get("cpu")) for n in cluster.nodes), Decimal(0))
            memory = sum((_amount(n.get("allocatable", {}).get("memory")) for n in cluster.nodes), Decimal(0))
            pod_slots = sum((_amount(n.get("allocatable", {}).get("pods")) for n in cluster.nodes), Decimal(0))
        else:
            ready, total, cpu, memory, pod_slots = entry
        asked = requests.get(cluster.pk, {})
        health = [check for check in cluster.health if isinstance(check, (list, tuple)) and len(check) == 2]
        summaries.append(
            ClusterSummary(
                cluster=cluster,
                nodes_ready=ready,
                nodes_total=total,
                checks_ok=sum(1 for _name, ok in health if ok),
                checks_total=len(health),
                capacity=[
                    Capacity("cpu", cpu, asked.get("cpu", Decimal(0))),
                    Capacity("memory", memory, asked.get("memory", Decimal(0))),
                    Capacity("pods", pod_slots, asked.get("pods", Decimal(0))),
                    Capacity("storage", provisioned.get(cluster.pk, Decimal(0)), claimed.get(cluster.pk, Decimal(0))),
                ],
            )
        )
    return summaries


def clusters_context(request):
    return {"summaries": cached("clusters", cluster_summaries)}


def visible_jobs(user, memberships):
    jobs = Job.objects.all()
    if roles.is_operator(user) or roles.is_auditor(user):
        return jobs
    tenant_ids = [m.tenant_id for m in memberships]
    return jobs.filter(Q(requested_by_id=user.pk) | Q(tenant_id__in=tenant_ids))


JOB_ROWS = 6


def jobs_context(request):
    """Jobs running now and those that failed in the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    jobs = visible_jobs(request.user, memberships(request))
    failed = Q(status=JobStatus.FAILED, finished_at__gte=since)
    counts = jobs.aggregate(
        running=Count("id", filter=Q(status__in=JobStatus.active())), failed=Count("id", filter=failed)
    )
    return {
        "running_count": counts["running"],
        "failed_count": counts["failed"],
        "running_jobs": list(jobs.filter(status__in=JobStatus.active()).order_by("-id")[:JOB_ROWS]),
        "failed_jobs": list(jobs.filter(failed).order_by("-finished_at", "-id")[:JOB_ROWS]),
    }


def notifications_context(request):
    unread = Notification.objects.filter(user=request.user, read_at__isnull=True)
    return {"unread_notifications": list(unread.order_by("-id")[:5]), "unread_total": unread.count()}


def operations_context(request):
    recent = OperationLogEntry.objects.all()
    if not roles.can_read_operation_log(request.user):
        recent = recent.filter(actor_id=request.user.pk)
    return {"recent_operations": list(recent.order_by("-id")[:8])}


register_panel("clusters", "console/_dash_clusters.html", clusters_context, OPERATORS, order=10, width=12)
register_panel("jobs", "console/_dash_jobs.html", jobs_context, EVERYONE, order=60)
register_panel("notifications", "console/_dash_notifications.html", notifications_context, EVERYONE, order=70)
register_panel("operations", "console/_dash_operations.html", operations_context, EVERYONE, order=80)
