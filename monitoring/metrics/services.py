"""What the monitoring pages and dashboard panels say now: the latest samples, summed up.

Read-only; nothing here changes state (the collector writes, in collect.py). Each function
reads a fixed number of queries whatever the number of series."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from console import quantity
from console.accounts import roles
from console.clusters.models import Cluster
from tenants import access

from . import store
from .models import Series
from .query import read

TOP = 10
# Top-level components shown at a glance (the checks under readyz/ and livez/ on the cluster page).
HEADLINE = ("apiserver", "etcd", "metrics-server", "calico-node", "kube-scheduler", "kube-controller-manager")


def fresh_seconds():
    """How old a sample may be and still count as now: three scrapes."""
    return 3 * settings.METRICS_SCRAPE_SECONDS + 10


def latest(cluster_ids, metrics, *, namespace=None, targets=None):
    """{(cluster id, metric, target): last value} among fresh raw samples."""
    series = Series.objects.filter(cluster_id__in=list(cluster_ids), metric__in=list(metrics))
    if namespace is not None:
        series = series.filter(namespace=namespace)
    if targets is not None:
        series = series.filter(target__in=list(targets))
    keys = {
        pk: (cluster_id, metric, target)
        for pk, cluster_id, metric, target in series.values_list("id", "cluster_id", "metric", "target")
    }
    now = time.time()
    points = read(
        {pk: pk for pk in keys},
        datetime.fromtimestamp(now - fresh_seconds(), UTC),
        datetime.fromtimestamp(now + 60, UTC),
        store.RAW,
    )
    return {keys[pk]: values[-1][1] for pk, values in points.items() if values}


@dataclass
class Usage(quantity.Share):
    resource: str
    used: float
    limit: float | None

    def share_of(self):
        return Decimal(str(self.used)), (Decimal(str(self.limit)) if self.limit else None)

    @property
    def used_display(self):
        return show(self.resource, self.used)

    @property
    def limit_display(self):
        return show(self.resource, self.limit) if self.limit else "—"


def show(resource, amount):
    if amount is None:
        return "—"
    if resource in ("memory", "bytes"):
        return quantity.format_bytes(Decimal(int(amount)))
    return f"{amount:.2f}"


@dataclass
class NodeRow:
    name: str
    ready: bool
    pressures: list
    cpu: Usage
    memory: Usage

    @property
    def trouble(self):
        return (not self.ready) + len(self.pressures)


@dataclass
class ClusterHealth:
    cluster: Cluster
    components: list  # [(name, ok or None)]
    nodes: list  # of NodeRow, the most troubled first
    cpu: Usage
    memory: Usage
    pending: int
    crash_looping: int
    scraped: bool  # any fresh sample at all

    @property
    def failing(self):
        return [name for name, ok in self.components if ok is False]


NODE_METRICS = (
    "node_ready",
    "node_memory_pressure",
    "node_disk_pressure",
    "node_pid_pressure",
    "node_cpu_usage_cores",
    "node_cpu_allocatable_cores",
    "node_memory_usage_bytes",
    "node_memory_allocatable_bytes",
)
PRESSURE_NAMES = {
    "node_memory_pressure": "MemoryPressure",
    "node_disk_pressure": "DiskPressure",
    "node_pid_pressure": "PIDPressure",
}


def cluster_health(clusters, *, checks=False):
    """A ClusterHealth per cluster from the latest samples (one read for all of them)."""
    ids = [c.pk for c in clusters]
    values = latest(
        ids,
        (*NODE_METRICS, "component_healthy", "cluster_pods_pending", "cluster_pods_crash_looping"),
    )
    by_cluster = {pk: {} for pk in ids}
    for (cluster_id, metric, target), value in values.items():
        by_cluster[cluster_id][(metric, target)] = value
    result = []
    for cluster in clusters:
        mine = by_cluster[cluster.pk]
        components = sorted(
            (target.removeprefix("component/"), value >= 1)
            for (metric, target), value in mine.items()
            if metric == "component_healthy" and (checks or target.count("/") == 1)
        )
        if not checks:
            named = dict(components)
            components = [(name, named[name]) for name in HEADLINE if name in named]
        nodes = {}
        for (metric, target), value in mine.items():
            if metric in NODE_METRICS:
                nodes.setdefault(target.removeprefix("node/"), {})[metric] = value
        rows = [
            NodeRow(
                name=name,
                ready=n.get("node_ready", 0) >= 1,
                pressures=[label for metric, label in PRESSURE_NAMES.items() if n.get(metric, 0) >= 1],
                cpu=Usage("cpu", n.get("node_cpu_usage_cores", 0), n.get("node_cpu_allocatable_cores")),
                memory=Usage("memory", n.get("node_memory_usage_bytes", 0), n.get("node_memory_allocatable_bytes")),
            )
            for name, n in nodes.items()
        ]
        rows.sort(key=lambda r: (-r.trouble, -(r.cpu.percent or 0), r.name))
        result.append(
            ClusterHealth(
                cluster=cluster,
                components=components,
                nodes=rows,
                cpu=Usage("cpu", sum(r.cpu.used for r in rows), sum(r.cpu.limit or 0 for r in rows)),
                memory=Usage("memory", sum(r.memory.used for r in rows), sum(r.memory.limit or 0 for r in rows)),
                pending=int(mine.get(("cluster_pods_pending", "cluster"), 0)),
                crash_looping=int(mine.get(("cluster_pods_crash_looping", "cluster"), 0)),
                scraped=bool(mine),
            )
        )
    return result


def top_pods(clusters, *, namespace=None, namespaces=None, limit=TOP):
    """The pods using the most CPU and the most memory now: ([(cluster name, namespace, pod, shown)], [...])."""
    names = {c.pk: c.name for c in clusters}
    values = latest(names, ("pod_cpu_usage_cores", "pod_memory_usage_bytes"), namespace=namespace)
    allowed = None if namespaces is None else set(namespaces)
    rows = {"pod_cpu_usage_cores": [], "pod_memory_usage_bytes": []}
    for (cluster_id, metric, target), value in values.items():
        ns = target.split("/")[1]
        if allowed is None or (cluster_id, ns) in allowed:
            rows[metric].append((names[cluster_id], ns, target.split("/", 2)[2], value))
    cpu = sorted(rows["pod_cpu_usage_cores"], key=lambda r: -r[3])[:limit]
    memory = sorted(rows["pod_memory_usage_bytes"], key=lambda r: -r[3])[:limit]
    return (
        [(c, ns, pod, show("cpu", v)) for c, ns, pod, v in cpu],
        [(c, ns, pod, show("memory", v)) for c, ns, pod, v in memory],
    )


def cluster_summary(cluster):
    health = cluster_health([cluster], checks=True)[0]
    cpu, memory = top_pods([cluster])
    return {"health": health, "top_cpu": cpu, "top_memory": memory}


def namespace_summary(cluster, namespace):
    metrics = (
        "workload_available_replicas",
        "workload_desired_replicas",
        "workload_cpu_usage_cores",
        "workload_memory_usage_bytes",
        "workload_restarts",
        "pvc_used_bytes",
        "pvc_capacity_bytes",
    )
    values = latest([cluster.pk], metrics, namespace=namespace)
    workloads, volumes = {}, {}
    for (_cluster_id, metric, target), value in values.items():
        if metric.startswith("workload_"):
            workloads.setdefault(target, {})[metric.removeprefix("workload_")] = value
        else:
            volumes.setdefault(target.split("/")[-1], {})[metric.removeprefix("pvc_")] = value
    workload_rows = [
        {
            "kind": target.split("/")[0],
            "name": target.split("/")[-1],
            "available": int(v.get("available_replicas", 0)),
            "desired": int(v.get("desired_replicas", 0)),
            "cpu": show("cpu", v.get("cpu_usage_cores", 0)),
            "memory": show("memory", v.get("memory_usage_bytes", 0)),
            "restarts": int(v.get("restarts", 0)),
        }
        for target, v in sorted(workloads.items())
    ]
    volume_rows = [
        (name, Usage("memory", v.get("used_bytes", 0), v.get("capacity_bytes"))) for name, v in sorted(volumes.items())
    ]
    cpu, memory = top_pods([cluster], namespace=namespace)
    return {"workloads": workload_rows, "volumes": volume_rows, "top_cpu": cpu, "top_memory": memory}


def visible_namespaces(user):
    """[(cluster id, namespace)] the user may see; None for every namespace (operators, auditors)."""
    if roles.is_operator(user) or roles.is_auditor(user):
        return None
    return list(access.visible_projects(user).values_list("cluster_id", "name"))


def namespace_usage(user):
    """The user's namespaces with CPU and memory used now against their quotas."""
    projects = list(access.visible_projects(user).select_related("tenant", "cluster").order_by("tenant__name", "name"))
    if not projects:
        return []
    values = latest(
        {p.cluster_id for p in projects},
        ("namespace_cpu_usage_cores", "namespace_memory_usage_bytes"),
        targets={f"namespace/{p.name}" for p in projects},
    )
    rows = []
    for project in projects:
        quota = project.quota or {}
        target = f"namespace/{project.name}"
        rows.append(
            {
                "project": project,
                "cpu": Usage(
                    "cpu",
                    values.get((project.cluster_id, "namespace_cpu_usage_cores", target), 0),
                    _quota(quota.get("cpu")),
                ),
                "memory": Usage(
                    "memory",
                    values.get((project.cluster_id, "namespace_memory_usage_bytes", target), 0),
                    _quota(quota.get("memory")),
                ),
            }
        )
    return rows


def _quota(text):
    if not text:
        return None
    try:
        return float(quantity.parse(str(text)))
    except ValueError:
        return None


def overview(user):
    everything = roles.is_operator(user) or roles.is_auditor(user)
    clusters = list(Cluster.objects.order_by("name").only("id", "name", "region")) if everything else []
    return {
        "healths": cluster_health(clusters) if clusters else [],
        "usage": namespace_usage(user) if not everything else [],
    }


# --- dashboard panels ---------------------------------------------------------------------


def health_panel_context(request):
    """The same for every operator and auditor: computed at most every dashboard.CACHE_SECONDS."""
    from console import dashboard

    def compute():
        clusters = list(Cluster.objects.order_by("name").only("id", "name", "region"))
        cpu, memory = top_pods(clusters, limit=5)
        return {"healths": cluster_health(clusters), "top_cpu": cpu, "top_memory": memory}

    return dashboard.cached("metrics-health", compute)


def usage_panel_context(request):
    return {"usage": namespace_usage(request.user)}


# --- the per-cluster Prometheus (the one change a user makes here) ---------------------------


def set_prometheus_url(cluster, *, acting_user, url):
    """Read disk, network, filesystem and process charts of `cluster` from the Prometheus at
    `url` (empty: no Prometheus). Operators only."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from console.accounts.access import require_permission
    from console.oplog import oplog

    from .models import PrometheusSource
    from .prometheus import valid_url

    target = {"cluster": cluster.name, "kind": "Prometheus", "name": cluster.name}
    with oplog.recorded(acting_user, "metrics.prometheus_set", target=target, payload={"url": url}) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators set a cluster's Prometheus."))
        current = PrometheusSource.objects.filter(cluster=cluster).first()
        outcome.before = {"url": current.url if current else ""}
        if url and not valid_url(url):
            raise ValidationError(
                {"url": _("Give an http:// or https:// URL with a host and no user name or password.")}
            )
        if url:
            PrometheusSource.objects.update_or_create(cluster=cluster, defaults={"url": url})
        elif current:
            current.delete()
        outcome.after = {"url": url}
    return cluster
