"""Reading metric history: the one entry point for pages, the dashboard and alert rules.

    METRICS: name -> Metric(unit, level, description)
    samples(cluster_id=, metric=, start=, end=, namespace=None, target=None, step=0)
        -> {target: [(datetime, value), ...]}   oldest first (bucket averages with a step)
    step_for(seconds, every) -> the bucket size that keeps a chart's lines to MAX_POINTS
    windows(...) -> {target: Window}   a recent window summed up per series
    crossing_windows(...) -> the same for the series that may cross a threshold (alert rules)

Series are keyed by target: "node/<name>", "pod/<namespace>/<pod>", "pvc/<namespace>/<claim>",
"deployment/<namespace>/<name>" (and statefulset/, daemonset/), "namespace/<name>",
"component/<check>" and "cluster". A read goes to the finest table still holding `start`
(raw for the last day, 1-minute averages for a week, 1-hour ones for 90 days) and is one
index range scan per table: it reads the rows it returns and no others. Asked for buckets
(`step`), it reads the coarsest table fine enough for them and the database averages its rows
into buckets (`ts - ts % step`, the same on PostgreSQL and SQLite), so a 90-day chart is a few
hundred rows per line, not thousands.
"""

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from django.db import connection
from django.utils.translation import gettext_lazy as _

from . import store
from .models import Series


@dataclass(frozen=True)
class Metric:
    unit: str  # "cores", "bytes", "count", "ratio", "bool" (1 yes, 0 no)
    level: str  # "node", "pod", "workload", "pvc", "namespace", "component", "cluster"
    description: str


def _m(unit, level, description):
    return Metric(unit, level, description)


METRICS: dict[str, Metric] = {
    # nodes (metrics.k8s.io NodeMetrics, Node status)
    "node_cpu_usage_cores": _m("cores", "node", _("CPU used by the node")),
    "node_memory_usage_bytes": _m("bytes", "node", _("Memory used by the node (working set)")),
    "node_cpu_allocatable_cores": _m("cores", "node", _("CPU the node offers to pods")),
    "node_memory_allocatable_bytes": _m("bytes", "node", _("Memory the node offers to pods")),
    "node_cpu_capacity_cores": _m("cores", "node", _("CPU of the node")),
    "node_memory_capacity_bytes": _m("bytes", "node", _("Memory of the node")),
    "node_ready": _m("bool", "node", _("Node Ready condition")),
    "node_memory_pressure": _m("bool", "node", _("Node MemoryPressure condition")),
    "node_disk_pressure": _m("bool", "node", _("Node DiskPressure condition")),
    "node_pid_pressure": _m("bool", "node", _("Node PIDPressure condition")),
    # pods (metrics.k8s.io PodMetrics, the resource mirror)
    "pod_cpu_usage_cores": _m("cores", "pod", _("CPU used by the pod")),
    "pod_memory_usage_bytes": _m("bytes", "pod", _("Memory used by the pod")),
    "pod_cpu_limit_cores": _m("cores", "pod", _("CPU limit of the pod (sum of its containers)")),
    "pod_memory_limit_bytes": _m("bytes", "pod", _("Memory limit of the pod (sum of its containers)")),
    "pod_restarts": _m("count", "pod", _("Container restarts of the pod")),
    "pod_crash_looping": _m("bool", "pod", _("A container of the pod is in CrashLoopBackOff")),
    "pod_pending": _m("bool", "pod", _("The pod is Pending")),
    # workloads (the resource mirror)
    "workload_available_ratio": _m("ratio", "workload", _("Available replicas over desired replicas")),
    "workload_available_replicas": _m("count", "workload", _("Available replicas")),
    "workload_desired_replicas": _m("count", "workload", _("Desired replicas")),
    "workload_cpu_usage_cores": _m("cores", "workload", _("CPU used by the workload's pods")),
    "workload_memory_usage_bytes": _m("bytes", "workload", _("Memory used by the workload's pods")),
    "workload_restarts": _m("count", "workload", _("Container restarts of the workload's pods")),
    # volumes (kubelet volume stats)
    "pvc_used_bytes": _m("bytes", "pvc", _("Bytes used on the volume")),
    "pvc_capacity_bytes": _m("bytes", "pvc", _("Capacity of the volume")),
    # namespaces (sums of their pods)
    "namespace_cpu_usage_cores": _m("cores", "namespace", _("CPU used by the namespace's pods")),
    "namespace_memory_usage_bytes": _m("bytes", "namespace", _("Memory used by the namespace's pods")),
    "namespace_restarts": _m("count", "namespace", _("Container restarts in the namespace")),
    # control plane and cluster
    "component_healthy": _m("bool", "component", _("A control-plane check (readyz, livez, etcd, Calico) passes")),
    "cluster_cpu_usage_cores": _m("cores", "cluster", _("CPU used on all nodes")),
    "cluster_memory_usage_bytes": _m("bytes", "cluster", _("Memory used on all nodes")),
    "cluster_nodes_ready": _m("count", "cluster", _("Ready nodes")),
    "cluster_pods_pending": _m("count", "cluster", _("Pending pods")),
    "cluster_pods_crash_looping": _m("count", "cluster", _("Crash-looping pods")),
    "calico_nodes_ready_ratio": _m("ratio", "cluster", _("Ready calico-node pods over desired")),
}

Points = list[tuple[datetime, float]]


# A chart's line never has more points than this: longer ranges are read in buckets.
MAX_POINTS = 300
# Bucket sizes a chart may ask for (seconds): round ones, so that buckets fall on the minute/hour.
STEPS = (60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)


def table_for(start: datetime, now: float | None = None, step: int = 0) -> store.Table:
    """The coarsest table that still holds `start` and is no coarser than `step` (0: the finest
    holding it): a bucket is made of the fewest rows there are for it."""
    now = time.time() if now is None else now
    age = now - start.timestamp()
    holding = [table for table in store.TABLES if age <= table.keep] or [store.HOUR]
    fitting = [table for table in holding if table.step <= step]
    return fitting[-1] if fitting else holding[0]


def step_for(seconds: int, every: int, max_points: int = MAX_POINTS) -> int:
    """The bucket size (seconds) so that `seconds` of a series sampled `every` seconds make at
    most `max_points` points; 0 when the raw samples are few enough."""
    if seconds <= every * max_points:
        return 0
    wanted = seconds / max_points
    return next((step for step in STEPS if step >= wanted), STEPS[-1])


def samples(
    *,
    cluster_id: int,
    metric: str,
    start: datetime,
    end: datetime,
    namespace: str | None = None,
    target: str | None = None,
    table: store.Table | None = None,
    step: int = 0,
) -> dict[str, Points]:
    """{target: [(time, value)]} of `metric` in [start, end]. With a `step` (seconds), the
    averages of the buckets of that size (their start as time), computed by the database from the
    coarsest table fine enough: a long range comes back as a few hundred points per series.
    `table` forces a table."""
    targets = series_of(cluster_id=cluster_id, metric=metric, namespace=namespace, target=target)
    return read(targets, start, end, table or table_for(start, step=step), step=step)


def series_of(*, cluster_id: int, metric: str, namespace: str | None = None, target: str | None = None) -> dict:
    """{series id: target} of a metric in a cluster (in one namespace, or one target)."""
    if metric not in METRICS:
        raise KeyError(metric)
    series = Series.objects.filter(cluster_id=cluster_id, metric=metric)
    if namespace is not None:
        series = series.filter(namespace=namespace)
    if target is not None:
        series = series.filter(target=target)
    return dict(series.values_list("id", "target"))


def _ids_clause(ids) -> tuple[str, list]:
    if connection.vendor == "postgresql":  # one array parameter: thousands of ids parse and plan faster
        return "series_id = ANY(%s)", [list(ids)]
    return f"series_id IN ({', '.join(['%s'] * len(ids))})", list(ids)


def read(
    targets: dict[int, str], start: datetime, end: datetime, table: store.Table, step: int = 0
) -> dict[str, Points]:
    """The points of the series {id: target} in [start, end] from one table: one range scan of
    the (series_id, ts) index per day partition, reading only the rows it needs. With a `step`,
    the database averages them into buckets of `step` seconds (starting at multiples of it, as
    the downsampled tables do) and returns one row per bucket; the same SQL on SQLite."""
    if not targets:
        return {}
    result: dict[str, Points] = {name: [] for name in targets.values()}
    where, ids = _ids_clause(targets)
    if step > table.step:  # (buckets of the table's own size are its rows: nothing to average)
        bucket = f"ts - ts %% {int(step)}"  # %% : a literal % among the parameters
        sql = (
            f"SELECT series_id, {bucket} AS bucket, AVG(value) FROM {table.name} "
            f"WHERE {where} AND ts >= %s AND ts <= %s GROUP BY series_id, {bucket} ORDER BY series_id, bucket"
        )
    else:
        sql = (
            f"SELECT series_id, ts, value FROM {table.name} WHERE {where} AND ts >= %s AND ts <= %s "
            "ORDER BY series_id, ts"
        )
    stamps: dict[int, datetime] = {}  # the series of a chart share their timestamps: make each once
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, int(start.timestamp()), int(end.timestamp())])
        current_id, points = None, None
        for series_id, ts, value in cursor.fetchall():
            if series_id != current_id:
                current_id, points = series_id, result[targets[series_id]]
            stamp = stamps.get(ts)
            if stamp is None:
                stamp = stamps[ts] = datetime.fromtimestamp(ts, UTC)
            points.append((stamp, value))
    return result


class Window(NamedTuple):
    """A series' samples in a window, summed up in SQL: what a threshold held for a while needs
    (alert evaluation reads 10,000s of series at once, and Python rows cost more than SQL ones).
    For each `since` asked, `stats` holds three values from then on: the least value, the
    greatest, and the epoch second of the first point (None, None, None: no point that recent)."""

    count: int
    ts_sum: int  # with count, first and last: tells whether two series were sampled at the same times
    first: int  # epoch seconds of the oldest point in the window
    last: int  # epoch seconds of the newest point
    value: float  # the newest value
    stats: tuple  # (low, high, first) for each `since`, flat

    def low(self, k):
        return self.stats[3 * k]

    def high(self, k):
        return self.stats[3 * k + 1]

    def since_first(self, k):
        return self.stats[3 * k + 2]

    @classmethod
    def of(cls, points: Points, sinces) -> "Window | None":
        """The same summary from points [(time, value)], oldest first (None without points)."""
        if not points:
            return None
        stamps = [int(t.timestamp()) for t, _v in points]
        stats = []
        for since in sinces:
            recent = [(ts, v) for ts, (_t, v) in zip(stamps, points, strict=True) if ts >= since]
            stats.append(min((v for _ts, v in recent), default=None))
            stats.append(max((v for _ts, v in recent), default=None))
            stats.append(recent[0][0] if recent else None)
        return cls(len(points), sum(stamps), stamps[0], stamps[-1], points[-1][1], tuple(stats))


def _window_sql(where: str, sinces, table: store.Table) -> tuple[str, list]:
    """A CTE body: one row per series of the points in [start, end] (two parameters after
    `where`'s), with columns n, tsum, t0, t1, (lo<k>, hi<k>, f<k>) for each since, and v (newest)."""
    per_since = "".join(
        f", MIN(CASE WHEN ts >= %s THEN value END) AS lo{k}, MAX(CASE WHEN ts >= %s THEN value END) AS hi{k}"
        f", MIN(CASE WHEN ts >= %s THEN ts END) AS f{k}"
        for k, _since in enumerate(sinces)
    )
    grouped = (
        f"SELECT series_id, COUNT(*) AS n, CAST(SUM(ts) AS BIGINT) AS tsum, MIN(ts) AS t0, MAX(ts) AS t1{per_since}"
    )
    params = [since for since in sinces for _ in range(3)]
    if connection.vendor == "postgresql":
        sql = (
            f"{grouped}, (array_agg(value ORDER BY ts DESC))[1] AS v FROM {table.name} "
            f"WHERE {where} AND ts >= %s AND ts <= %s GROUP BY series_id"
        )
    else:  # no ordered aggregates: the newest value is one index lookup per series
        sql = (
            f"SELECT g.*, (SELECT value FROM {table.name} s WHERE s.series_id = g.series_id AND s.ts = g.t1 "
            f"LIMIT 1) AS v FROM ({grouped} FROM {table.name} WHERE {where} AND ts >= %s AND ts <= %s "
            "GROUP BY series_id) g"
        )
    return sql, params


def crossing_windows(
    *,
    cluster_id: int,
    metric: str,
    start: int,
    end: int,
    sinces,
    limit_metric: str | None = None,
    namespace: str | None = None,
    above: float = math.inf,
    below: float = -math.inf,
    table: store.Table = store.RAW,
) -> dict[str, tuple[Window, float | None]]:
    """The windows (as in `windows`, `sinces[0]` being `start`) of a metric's series that may
    cross a threshold: whose highest value over [start, end] is above `above`, or lowest below
    `below` (alert evaluation: most series are far from every rule's threshold, and never leave
    the database). {target: (window, factor)}: values times the factor are what the thresholds
    compare. With a `limit_metric`, as percentages of the target's limit: the factor is
    100 / limit when the limit is one value over the window sampled at the usage's times, None
    otherwise (the caller reads that target point by point). One statement: the samples grouped
    per series, usages paired with their limits by target, and filtered, in SQL."""
    series = series_of(cluster_id=cluster_id, metric=metric, namespace=namespace)
    if not series:
        return {}
    limits = series_of(cluster_id=cluster_id, metric=limit_metric, namespace=namespace) if limit_metric else {}
    where, ids = _ids_clause([*series, *limits])
    body, params = _window_sql(where, sinces, table)
    k = len(sinces)
    stats = [f"{name}{i}" for i in range(k) for name in ("lo", "hi", "f")]
    if not limit_metric:
        columns = ", ".join(["series_id", "n", "tsum", "t0", "t1", "v", *stats])
        sql = f"WITH w AS ({body}) SELECT {columns} FROM w WHERE hi0 > %s OR lo0 < %s"
        extra = [above, below]
    else:
        # Per target, its usage's summary and its limit's, side by side: the series' summaries
        # grouped by target (no join of the summaries with themselves: their count is unknown
        # to the planner). The percentage is exact from the summaries when the limit is one
        # value over the window, at the usage's times.
        usage = ["n", "tsum", "t0", "t1", "v", *stats]
        limit = ["n", "tsum", "t0", "t1", "v", "lo0", "hi0"]
        pivot = ", ".join(
            [f"MAX(CASE WHEN s.metric = %s THEN w.{c} END) AS u{c}" for c in usage]
            + [f"MAX(CASE WHEN s.metric = %s THEN w.{c} END) AS l{c}" for c in limit]
        )
        even = "(llo0 = lhi0 AND lv > 0 AND ln = un AND ltsum = utsum AND lt0 = ut0 AND lt1 = ut1)"
        columns = ", ".join(["target", *(f"u{c}" for c in usage)])
        sql = (
            f"WITH w AS ({body}) SELECT {columns}, CASE WHEN {even} THEN 100.0 / lv END FROM ("
            f"SELECT s.target, {pivot} FROM w JOIN {Series._meta.db_table} s ON s.id = w.series_id "
            "GROUP BY s.target) x "
            f"WHERE un IS NOT NULL AND ln IS NOT NULL "
            f"AND (NOT {even} OR uhi0 * 100.0 / NULLIF(lv, 0) > %s OR ulo0 * 100.0 / NULLIF(lv, 0) < %s)"
        )
        extra = [metric] * len(usage) + [limit_metric] * len(limit) + [above, below]
    stop = 6 + 3 * k
    result = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids, int(start), int(end), *extra])
        for row in cursor.fetchall():
            window = Window(row[1], row[2], row[3], row[4], row[5], row[6:stop])
            if limit_metric:
                result[row[0]] = (window, row[stop])
            else:
                result[series[row[0]]] = (window, 1.0)
    return result


def windows(
    targets: dict[int, str], start: int, end: int, sinces=(), table: store.Table = store.RAW
) -> dict[str, Window]:
    """{target: Window} of the series {id: target} with points in [start, end] (epoch seconds),
    `sinces` being the epoch seconds the lows and highs are taken from. One grouped range scan
    of the (series_id, ts) index: one row per series comes back, not one per point."""
    if not targets:
        return {}
    where, ids = _ids_clause(targets)
    body, params = _window_sql(where, sinces, table)
    stop = 5 + 3 * len(sinces)
    with connection.cursor() as cursor:
        cursor.execute(body, [*params, *ids, int(start), int(end)])
        # columns: series_id, n, tsum, t0, t1, the stats of each since, v
        return {targets[row[0]]: Window(*row[1:5], row[-1], row[5:stop]) for row in cursor.fetchall()}
