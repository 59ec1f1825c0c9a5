"""Reading metric history: the one entry point for pages, the dashboard and alert rules.

    METRICS: name -> Metric(unit, level, description)
    samples(cluster_id=, metric=, start=, end=, namespace=None, target=None)
        -> {target: [(datetime, value), ...]}   oldest first

Series are keyed by target: "node/<name>", "pod/<namespace>/<pod>", "pvc/<namespace>/<claim>",
"deployment/<namespace>/<name>" (and statefulset/, daemonset/), "namespace/<name>",
"component/<check>" and "cluster". A read goes to the finest table still holding `start`
(raw for the last day, 1-minute averages for a week, 1-hour ones for 90 days) and is one
index range scan per table: it reads the rows it returns and no others.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

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


def table_for(start: datetime, now: float | None = None) -> store.Table:
    """The finest table that still holds `start`."""
    now = time.time() if now is None else now
    age = now - start.timestamp()
    for table in store.TABLES:
        if age <= table.keep:
            return table
    return store.HOUR


def samples(
    *,
    cluster_id: int,
    metric: str,
    start: datetime,
    end: datetime,
    namespace: str | None = None,
    target: str | None = None,
    table: store.Table | None = None,
) -> dict[str, Points]:
    """{target: [(time, value)]} of `metric` in [start, end]. `table` forces a resolution
    (charts of long ranges ask for a coarser one than the finest kept)."""
    if metric not in METRICS:
        raise KeyError(metric)
    series = Series.objects.filter(cluster_id=cluster_id, metric=metric)
    if namespace is not None:
        series = series.filter(namespace=namespace)
    if target is not None:
        series = series.filter(target=target)
    targets = dict(series.values_list("id", "target"))
    return read(targets, start, end, table or table_for(start))


def read(targets: dict[int, str], start: datetime, end: datetime, table: store.Table) -> dict[str, Points]:
    """The points of the series {id: target} in [start, end] from one table: one range scan of
    the (series_id, ts) index per day partition, reading only the rows it returns."""
    if not targets:
        return {}
    result: dict[str, Points] = {name: [] for name in targets.values()}
    if connection.vendor == "postgresql":  # one array parameter: thousands of ids parse and plan faster
        where, ids = "series_id = ANY(%s)", [list(targets)]
    else:
        where, ids = f"series_id IN ({', '.join(['%s'] * len(targets))})", list(targets)
    sql = (
        f"SELECT series_id, ts, value FROM {table.name} WHERE {where} AND ts >= %s AND ts <= %s ORDER BY series_id, ts"
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
