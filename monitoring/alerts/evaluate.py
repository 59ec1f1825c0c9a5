"""Evaluating every enabled rule at once (the beat task, every ALERT_EVALUATION_SECONDS).

Each kind of condition is read once per evaluation, not once per rule: one mirror query per
state kind, one metric read of the recent window per (cluster, metric) for the threshold
rules; each rule then picks the targets in its scope. A condition first seen opens a pending
alert (a threshold one when every sample of the window is beyond the threshold; crash loop,
pending, unavailable replicas, node not ready, component unhealthy from the mirror and the
health samples), which fires once it has lasted the rule's `for_seconds` (Prometheus's
`for`) and resolves when the condition is gone. Pending alerts are rows, so a restarted
worker goes on counting.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from console.clusters.models import Cluster, MirroredObject
from monitoring.metrics import query, store
from tenants.models import Project

from .choices import AlertState, Comparison, RuleKind
from .models import Alert, AlertRule

APP_LABEL = "app.kubernetes.io/name"  # Kubernetes' recommended label; the console's apps carry it
# A series whose newest sample is older than this says nothing about now (the target is gone).
STALE = timedelta(seconds=300)
# The metric a percentage rule divides by.
LIMIT_OF = {
    "pod_memory_usage_bytes": "pod_memory_limit_bytes",
    "pod_cpu_usage_cores": "pod_cpu_limit_cores",
    "node_cpu_usage_cores": "node_cpu_allocatable_cores",
    "node_memory_usage_bytes": "node_memory_allocatable_bytes",
    "pvc_used_bytes": "pvc_capacity_bytes",
}
VOLUME_METRIC = "pvc_used_bytes"
COMPONENT_METRIC = "component_healthy"
EVALUATION_LOCK_KEY = 7_302_119_914  # arbitrary: one evaluation at a time across workers


@dataclass
class Hit:
    """A target where a rule's condition holds now."""

    value: float | None = None
    namespace: str = ""
    app: str = ""
    since: datetime | None = None  # when the state began, if the cluster says


@dataclass
class Report:
    rules: int = 0
    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    pending: int = 0
    firing: int = 0


# --- series ------------------------------------------------------------------------------


def percent_series(used, limits):
    """used / limit × 100 at the times both have a point (a target without a limit has no percentage)."""
    result = {}
    for target, points in used.items():
        limit_points = dict(limits.get(target, ()))
        merged = [(t, 100.0 * v / limit_points[t]) for t, v in points if limit_points.get(t)]
        if merged:
            result[target] = merged
    return result


NAMESPACED = frozenset(("pod", "pvc", "deployment", "statefulset", "daemonset"))


def namespace_of(target):
    parts = target.split("/", 2)
    if parts[0] in NAMESPACED and len(parts) > 1:
        return parts[1]
    return parts[1] if parts[0] == "namespace" and len(parts) > 1 else ""


# --- scope -------------------------------------------------------------------------------


class Scopes:
    """What each rule covers: clusters, and the namespaces of its tenant."""

    def __init__(self, rules):
        self.clusters = list(Cluster.objects.values_list("pk", flat=True))
        tenant_ids = {rule.tenant_id for rule in rules if rule.tenant_id}
        self.tenant_namespaces = defaultdict(set)
        self.namespace_tenant = {}
        for tenant_id, cluster_id, name in Project.objects.values_list("tenant_id", "cluster_id", "name"):
            self.namespace_tenant[(cluster_id, name)] = tenant_id
            if tenant_id in tenant_ids:
                self.tenant_namespaces[tenant_id].add((cluster_id, name))

    def clusters_of(self, rule):
        if rule.cluster_id:
            return [rule.cluster_id]
        if rule.tenant_id:
            return sorted({c for c, _ in self.tenant_namespaces[rule.tenant_id]})
        return self.clusters

    def candidates(self, rule, by_namespace):
        """The items of {(cluster, namespace): [item]} a rule may cover (then checked with `covers`)."""
        if rule.namespace:
            clusters = [rule.cluster_id] if rule.cluster_id else self.clusters_of(rule)
            return [item for c in clusters for item in by_namespace.get((c, rule.namespace), ())]
        if rule.tenant_id:
            return [item for key in self.tenant_namespaces[rule.tenant_id] for item in by_namespace.get(key, ())]
        return [
            item
            for (c, _ns), items in by_namespace.items()
            if not rule.cluster_id or c == rule.cluster_id
            for item in items
        ]

    def covers(self, rule, cluster_id, namespace, app=""):
        if rule.cluster_id and rule.cluster_id != cluster_id:
            return False
        if rule.tenant_id and (cluster_id, namespace) not in self.tenant_namespaces[rule.tenant_id]:
            return False
        if rule.namespace and rule.namespace != namespace:
            return False
        return not rule.app or rule.app == app


# --- conditions --------------------------------------------------------------------------


def pod_apps(cluster_ids):
    """(cluster, namespace, pod) -> app, from the mirror's labels."""
    rows = (
        MirroredObject.objects.filter(cluster_id__in=cluster_ids, kind="Pod")
        .annotate(app=KeyTextTransform(APP_LABEL, "labels"))
        .values_list("cluster_id", "namespace", "name", "app")
    )
    return {(c, ns, name): app or "" for c, ns, name, app in rows}


def app_of(target, apps, cluster_id):
    kind, _, rest = target.partition("/")
    namespace, _, name = rest.partition("/")
    if kind == "pod":
        return apps.get((cluster_id, namespace, name), "")
    if kind in ("deployment", "statefulset"):
        return name
    return ""


def state_hits(kind, rules, scopes, now):
    """{rule id: {(cluster, target): Hit}} for a state kind, from one mirror (or metric) read."""
    found = []  # (cluster_id, target, Hit)
    if kind == RuleKind.CRASH_LOOP:
        rows = MirroredObject.objects.filter(kind="Pod", phase="CrashLoopBackOff").values_list(
            "cluster_id", "namespace", "name", "labels"
        )
        found = [(c, f"pod/{ns}/{n}", Hit(namespace=ns, app=(lb or {}).get(APP_LABEL, ""))) for c, ns, n, lb in rows]
    elif kind == RuleKind.PENDING:
        rows = MirroredObject.objects.filter(kind="Pod", phase="Pending").values_list(
            "cluster_id", "namespace", "name", "labels", "created_at"
        )
        found = [
            (c, f"pod/{ns}/{n}", Hit(namespace=ns, app=(lb or {}).get(APP_LABEL, ""), since=created))
            for c, ns, n, lb, created in rows
        ]
    elif kind == RuleKind.UNAVAILABLE:
        rows = MirroredObject.objects.filter(kind__in=("Deployment", "StatefulSet"), phase="Progressing").values_list(
            "cluster_id", "namespace", "name", "kind", "object"
        )
        for c, ns, n, k, obj in rows:
            wanted = (obj.get("spec") or {}).get("replicas", 1)
            available = (obj.get("status") or {}).get("availableReplicas", 0) or 0
            if wanted and available < wanted:
                found.append((c, f"{k.lower()}/{ns}/{n}", Hit(value=float(wanted - available), namespace=ns, app=n)))
    elif kind == RuleKind.NODE_NOT_READY:
        rows = MirroredObject.objects.filter(kind="Node", phase="NotReady").values_list("cluster_id", "name")
        found = [(c, f"node/{n}", Hit()) for c, n in rows]
    elif kind == RuleKind.COMPONENT:
        for cluster_id in {c for rule in rules for c in scopes.clusters_of(rule)}:
            series = query.samples(cluster_id=cluster_id, metric=COMPONENT_METRIC, start=now - STALE, end=now)
            for target, points in series.items():
                if points and points[-1][1] < 0.5 and now - points[-1][0] <= STALE:
                    found.append((cluster_id, target, Hit(value=0.0)))
    if kind in (RuleKind.NODE_NOT_READY, RuleKind.COMPONENT):
        return {
            rule.pk: {(c, t): hit for c, t, hit in found if not rule.cluster_id or rule.cluster_id == c}
            for rule in rules
        }
    by_namespace = defaultdict(list)
    for cluster_id, target, hit in found:
        by_namespace[(cluster_id, hit.namespace)].append((cluster_id, target, hit))
    hits = {}
    for rule in rules:
        hits[rule.pk] = {
            (cluster_id, target): hit
            for cluster_id, target, hit in scopes.candidates(rule, by_namespace)
            if scopes.covers(rule, cluster_id, hit.namespace, hit.app)
        }
    return hits


def recent_window():
    """How much history an evaluation reads: the time since the last one, twice over (a dip
    between two evaluations is seen), at least a minute (several scrapes)."""
    return timedelta(seconds=max(60, 2 * settings.ALERT_EVALUATION_SECONDS))


def bounds(group):
    """(floor, ceiling): a target no rule of the group can find beyond its threshold has its
    highest value at most the lowest "above" threshold and its lowest value at least the highest
    "below" one."""
    above = [r.threshold for r in group if r.kind == RuleKind.VOLUME_FULL or r.comparison == Comparison.ABOVE]
    below = [r.threshold for r in group if r.kind != RuleKind.VOLUME_FULL and r.comparison != Comparison.ABOVE]
    return (
        min((t for t in above if t is not None), default=math.inf),
        max((t for t in below if t is not None), default=-math.inf),
    )


def threshold_windows(cluster_id, metric, percent, group, start, end, sinces):
    """{target: (query.Window, factor)} of the targets of a metric that a rule of the group may
    find beyond its threshold (values times the factor: percentages of the limit for `percent`).
    The database groups the window's samples per series, pairs usages with their limits and
    leaves out the targets whose highest value is under every "above" threshold and lowest over
    every "below" one (most of them). A target whose limit changed within the window, or was
    not sampled at the usage's times, is computed point by point."""
    floor, ceiling = bounds(group)
    namespaces = {rule.namespace for rule in group}
    namespace = next(iter(namespaces)) if len(namespaces) == 1 and "" not in namespaces else None
    limit_metric = LIMIT_OF[metric] if percent else None
    found = query.crossing_windows(
        cluster_id=cluster_id,
        metric=metric,
        limit_metric=limit_metric,
        namespace=namespace,
        start=start,
        end=end,
        sinces=sinces,
        above=floor,
        below=ceiling,
    )
    uneven = {target for target, (_window, factor) in found.items() if factor is None}
    if uneven:
        first, last = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        used = query.series_of(cluster_id=cluster_id, metric=metric, namespace=namespace)
        limits = query.series_of(cluster_id=cluster_id, metric=limit_metric, namespace=namespace)
        points = percent_series(
            query.read({pk: t for pk, t in used.items() if t in uneven}, first, last, store.RAW),
            query.read({pk: t for pk, t in limits.items() if t in uneven}, first, last, store.RAW),
        )
        for target in uneven:
            window = query.Window.of(points.get(target, []), sinces)
            if window is None:
                del found[target]  # no time with both a usage and a limit
            else:
                found[target] = (window, 1.0)
    return found


def threshold_hits(rules, scopes, now):
    """{rule id: {(cluster, target): Hit}} for threshold and volume rules: one grouped read of
    the recent window per (cluster, metric), whatever the number of rules, that comes back as one
    summary per series that may cross a threshold (its newest value, and its lowest and highest
    values since each rule's start); each rule then looks at those in its scope. How long a
    condition has held is the age of its pending alert (as Prometheus's `for`), so an
    evaluation never reads more than the last window."""
    wanted = defaultdict(list)  # (cluster, metric, percent) -> rules
    for rule in rules:
        metric = VOLUME_METRIC if rule.kind == RuleKind.VOLUME_FULL else rule.metric
        percent = rule.percent_of_limit or rule.kind == RuleKind.VOLUME_FULL
        if metric not in query.METRICS:
            continue
        for cluster_id in scopes.clusters_of(rule):
            wanted[(cluster_id, metric, percent)].append(rule)
    hits = {rule.pk: {} for rule in rules}
    apps = pod_apps({c for c, _, _ in wanted}) if any(rule.app for rule in rules) else {}
    recent = recent_window()
    start = int((now - recent).timestamp())
    end = int(now.timestamp())
    stale = now.timestamp() - STALE.total_seconds()
    # every point from a rule's `since` on must be beyond its threshold (the newest one if none
    # is that recent); the window's start comes first (a limit constant over all of it)
    since_of = {}
    for rule in rules:
        since = now - min(timedelta(seconds=rule.for_seconds), recent)
        since_of[rule.pk] = math.ceil(since.timestamp())  # samples are whole seconds
    sinces = [start, *sorted(set(since_of.values()) - {start})]
    index_of = {since: k for k, since in enumerate(sinces)}
    for (cluster_id, metric, percent), group in wanted.items():
        found = threshold_windows(cluster_id, metric, percent, group, start, end, sinces)
        floor, ceiling = bounds(group)  # (again for the targets read point by point)
        by_namespace = defaultdict(list)
        for target, (window, factor) in found.items():
            # stats[0] and stats[1]: the lowest and highest values over the whole window
            if window.last >= stale and (window.stats[1] * factor > floor or window.stats[0] * factor < ceiling):
                target_namespace = namespace_of(target)
                by_namespace[(cluster_id, target_namespace)].append((target, target_namespace, window, factor))
        app_by_target = {}
        for rule in group:
            k = 3 * index_of[since_of[rule.pk]]  # where the rule's (low, high, first) are in a window's stats
            above = rule.kind == RuleKind.VOLUME_FULL or rule.comparison == Comparison.ABOVE
            threshold = rule.threshold
            rule_hits = hits[rule.pk]
            for target, target_namespace, window, factor in scopes.candidates(rule, by_namespace):
                app = ""
                if rule.app:
                    app = app_by_target.get(target)
                    if app is None:
                        app = app_by_target[target] = app_of(target, apps, cluster_id)
                    if app != rule.app:
                        continue
                stats = window.stats
                first = stats[k + 2]
                if first is None:  # no point that recent: the newest one says
                    first = window.last
                    held = window.value * factor > threshold if above else window.value * factor < threshold
                else:
                    held = stats[k] * factor > threshold if above else stats[k + 1] * factor < threshold
                if held:
                    rule_hits[(cluster_id, target)] = Hit(
                        value=window.value * factor,
                        namespace=target_namespace,
                        app=app,
                        since=datetime.fromtimestamp(first, UTC),
                    )
    return hits


# --- transitions -------------------------------------------------------------------------


RULE_FIELDS = (
    "pk",
    "kind",
    "tenant_id",
    "cluster_id",
    "namespace",
    "app",
    "metric",
    "comparison",
    "threshold",
    "percent_of_limit",
    "for_seconds",
)


@dataclass(frozen=True)
class RuleView:
    """What evaluating needs of a rule (10,000 of these cost little; model instances do)."""

    pk: int
    kind: str
    tenant_id: int | None
    cluster_id: int | None
    namespace: str
    app: str
    metric: str
    comparison: str
    threshold: float | None
    percent_of_limit: bool
    for_seconds: int


def enabled_rules():
    return [RuleView(*row) for row in AlertRule.objects.filter(enabled=True).values_list(*RULE_FIELDS)]


def view_of(rule):
    return RuleView(*(getattr(rule, name) for name in RULE_FIELDS))


def _lock():
    """One evaluation at a time (beat may start the next before the last ends)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [EVALUATION_LOCK_KEY])
        return cursor.fetchone()[0]


def evaluate(now=None, rules=None):
    """Evaluate the rules (every enabled one by default); returns what changed. Notifications
    of the alerts that fired or resolved are sent after the transaction commits."""
    now = now or timezone.now()
    report = Report()
    with transaction.atomic():
        if not _lock():
            return report
        if rules is None:
            rules = enabled_rules()
        rules = [rule if isinstance(rule, RuleView) else view_of(rule) for rule in rules]
        report.rules = len(rules)
        scopes = Scopes(rules)
        by_kind = defaultdict(list)
        for rule in rules:
            by_kind[rule.kind].append(rule)
        hits = {}
        for kind, group in by_kind.items():
            if kind in (RuleKind.THRESHOLD, RuleKind.VOLUME_FULL):
                hits.update(threshold_hits(group, scopes, now))
            else:
                hits.update(state_hits(kind, group, scopes, now))
        _apply(rules, hits, scopes, now, report)
    if report.fired or report.resolved:
        from . import live, notify

        transaction.on_commit(lambda: notify.announce(report.fired, report.resolved, now))
        live.tick({alert.tenant_id for alert in report.fired + report.resolved})
    return report


def _apply(rules, hits, scopes, now, report):
    rule_by_id = {rule.pk: rule for rule in rules}
    open_alerts = {
        (a.rule_id, a.cluster_id, a.target): a
        # whole rows: saving a transition and announcing it read their other fields (a deferred
        # field is one query per alert)
        for a in Alert.objects.filter(state__in=(AlertState.PENDING, AlertState.FIRING))
        if a.rule_id in rule_by_id
    }
    new, transitioned, revalued, gone_pending = [], [], [], []
    for rule_id, rule_hits in hits.items():
        rule = rule_by_id[rule_id]
        for (cluster_id, target), hit in rule_hits.items():
            alert = open_alerts.pop((rule_id, cluster_id, target), None)
            if alert is None:
                alert = Alert(
                    rule_id=rule.pk,
                    target=target[:300],
                    cluster_id=cluster_id,
                    tenant_id=rule.tenant_id or scopes.namespace_tenant.get((cluster_id, hit.namespace)),
                    namespace=hit.namespace,
                    app=hit.app,
                    state=AlertState.PENDING,
                    value=hit.value,
                    started_at=hit.since if hit.since and hit.since <= now else now,
                )
                new.append(alert)
            elif alert.value != hit.value:
                alert.value = hit.value
                revalued.append(alert)
            if alert.state == AlertState.PENDING and now - alert.started_at >= timedelta(seconds=rule.for_seconds):
                alert.state = AlertState.FIRING
                alert.fired_at = now
                report.fired.append(alert)
                if alert.pk:
                    transitioned.append(alert)
            if alert.state == AlertState.FIRING:
                report.firing += 1
            else:
                report.pending += 1
    for alert in open_alerts.values():  # the condition is gone
        if alert.state == AlertState.PENDING:
            gone_pending.append(alert.pk)
            continue
        alert.state = AlertState.RESOLVED
        alert.resolved_at = now
        transitioned.append(alert)
        report.resolved.append(alert)
    if gone_pending:
        Alert.objects.filter(pk__in=gone_pending).delete()
    Alert.objects.bulk_create(new, batch_size=2000)
    if transitioned:
        Alert.objects.bulk_update(transitioned, ["state", "value", "fired_at", "resolved_at"], batch_size=500)
    _update_values([a for a in revalued if a not in transitioned])
    # the notifications read the whole rule: only for the alerts that changed
    changed = report.fired + report.resolved
    models = AlertRule.objects.in_bulk({alert.rule_id for alert in changed})
    for alert in changed:
        alert.rule = models[alert.rule_id]


def _update_values(alerts):
    """The latest values of open alerts: one statement (bulk_update's CASE grows with every row)."""
    if not alerts:
        return
    if connection.vendor != "postgresql":
        Alert.objects.bulk_update(alerts, ["value"], batch_size=500)
        return
    table = Alert._meta.db_table
    with connection.cursor() as cursor:
        for chunk in range(0, len(alerts), 5000):
            part = alerts[chunk : chunk + 5000]
            values = ", ".join(["(%s, %s::double precision)"] * len(part))
            cursor.execute(
                f"UPDATE {table} AS a SET value = v.value FROM (VALUES {values}) AS v(id, value) WHERE a.id = v.id",
                [x for alert in part for x in (alert.pk, alert.value)],
            )
