"""What each chart shows, and its figure: the scopes (cluster, node, namespace, workload, pod),
who may see them, their charts, and plotly traces read through query.samples.

A scope is looked up for a user or not at all (Http404, as for a typo): tenants reach only
the namespaces of their tenants, and never a cluster or node scope."""

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from console.accounts import roles
from console.clusters.models import Cluster, MirroredObject
from tenants.models import Project

from . import live
from .models import Series
from .query import MAX_POINTS, METRICS, samples, step_for

# range key -> seconds. A chart asks the store for buckets that keep each line to at most
# query.MAX_POINTS points (query.step_for): raw samples for the short ranges, averages of
# 2 minutes (6 h) to 12 hours (90 d) computed by the database from the coarsest table fine enough.
RANGES = {
    "15m": 900,
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
    "90d": 90 * 86400,
}
# Charts of ranges up to this follow new points live (their last bucket is read again).
LIVE_SECONDS = 86400
DEFAULT_RANGE = "1h"
SCOPES = ("cluster", "node", "namespace", "workload", "pod")
WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset")


@dataclass(frozen=True)
class Scope:
    kind: str  # one of SCOPES
    cluster: Cluster
    name: str = ""  # node name, namespace, "<kind>/<namespace>/<name>", "<namespace>/<pod>"

    @property
    def namespace(self):
        if self.kind == "namespace":
            return self.name
        if self.kind == "workload":
            return self.name.split("/")[1]
        if self.kind == "pod":
            return self.name.split("/")[0]
        return None

    @property
    def group(self):
        if self.namespace is None:
            return live.cluster_group(self.cluster.pk)
        return live.namespace_group(self.cluster.pk, self.namespace)

    @property
    def target(self):
        return {
            "cluster": "cluster",
            "node": f"node/{self.name}",
            "namespace": f"namespace/{self.name}",
            "workload": self.name,
            "pod": f"pod/{self.name}",
        }[self.kind]

    @property
    def label(self):
        return self.name.split("/")[-1] if self.name else self.cluster.name


def _valid_name(kind, name):
    parts = name.split("/")
    shapes = {"cluster": 1, "node": 1, "namespace": 1, "workload": 3, "pod": 2}
    if kind == "cluster":
        return name == ""
    if len(parts) != shapes[kind] or not all(parts) or any(len(p) > 253 for p in parts):
        return False
    return kind != "workload" or parts[0] in WORKLOAD_KINDS


def resolve_scope(user, kind, cluster_name, name=""):
    """The scope if the user may see it and it exists (in the samples, the mirror or, for a
    namespace, the tenants' namespaces); Http404 otherwise, and for what does not parse."""
    if kind not in SCOPES or not _valid_name(kind, name):
        raise Http404("no such chart")
    cluster = Cluster.objects.filter(name=cluster_name).only("id", "name").first()
    if cluster is None:
        raise Http404("no such cluster")
    scope = Scope(kind, cluster, name)
    if scope.namespace is None:
        allowed = roles.is_operator(user) or roles.is_auditor(user)
    else:
        allowed = roles.may_see_namespace(user, cluster.pk, scope.namespace)
    if not allowed or not _exists(scope):
        raise Http404("no such chart")
    return scope


MIRROR_KINDS = {"node": "Node", "pod": "Pod", "deployment": "Deployment", "statefulset": "StatefulSet"}
MIRROR_KINDS["daemonset"] = "DaemonSet"


def _exists(scope):
    if scope.kind == "cluster":
        return True
    if scope.kind == "namespace":
        return (
            Project.objects.filter(cluster=scope.cluster, name=scope.name).exists()
            or Series.objects.filter(cluster=scope.cluster, namespace=scope.name).exists()
        )
    if Series.objects.filter(cluster=scope.cluster, target=scope.target).exists():
        return True
    kind, _, rest = scope.target.partition("/")
    namespace, _, name = rest.rpartition("/")
    return MirroredObject.objects.filter(
        cluster=scope.cluster, kind=MIRROR_KINDS[kind], namespace=namespace, name=name
    ).exists()


# --- the charts of each scope --------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    metric: str
    label: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    lines: tuple  # of Line, all of the scope's target

    @property
    def unit(self):
        return METRICS[self.lines[0].metric].unit


def _chart(key, title, *lines):
    return Chart(key, title, tuple(Line(m, label) for m, label in lines))


CHARTS = {
    "cluster": (
        _chart("cpu", _("CPU"), ("cluster_cpu_usage_cores", _("used"))),
        _chart("memory", _("Memory"), ("cluster_memory_usage_bytes", _("used"))),
        _chart("nodes", _("Ready nodes"), ("cluster_nodes_ready", _("ready"))),
        _chart(
            "pods",
            _("Pods in trouble"),
            ("cluster_pods_pending", _("pending")),
            ("cluster_pods_crash_looping", _("crash looping")),
        ),
    ),
    "node": (
        _chart("cpu", _("CPU"), ("node_cpu_usage_cores", _("used")), ("node_cpu_allocatable_cores", _("allocatable"))),
        _chart(
            "memory",
            _("Memory"),
            ("node_memory_usage_bytes", _("used")),
            ("node_memory_allocatable_bytes", _("allocatable")),
        ),
        _chart(
            "pressure",
            _("Conditions"),
            ("node_ready", _("Ready")),
            ("node_memory_pressure", _("MemoryPressure")),
            ("node_disk_pressure", _("DiskPressure")),
            ("node_pid_pressure", _("PIDPressure")),
        ),
    ),
    "namespace": (
        _chart("cpu", _("CPU"), ("namespace_cpu_usage_cores", _("used"))),
        _chart("memory", _("Memory"), ("namespace_memory_usage_bytes", _("used"))),
        _chart("restarts", _("Restarts"), ("namespace_restarts", _("restarts"))),
    ),
    "workload": (
        _chart("cpu", _("CPU"), ("workload_cpu_usage_cores", _("used"))),
        _chart("memory", _("Memory"), ("workload_memory_usage_bytes", _("used"))),
        _chart("restarts", _("Restarts"), ("workload_restarts", _("restarts"))),
        _chart(
            "replicas",
            _("Replicas"),
            ("workload_available_replicas", _("available")),
            ("workload_desired_replicas", _("desired")),
        ),
    ),
    "pod": (
        _chart("cpu", _("CPU"), ("pod_cpu_usage_cores", _("used")), ("pod_cpu_limit_cores", _("limit"))),
        _chart("memory", _("Memory"), ("pod_memory_usage_bytes", _("used")), ("pod_memory_limit_bytes", _("limit"))),
        _chart("restarts", _("Restarts"), ("pod_restarts", _("restarts"))),
    ),
}


def chart_of(scope, key):
    chart = next((c for c in CHARTS[scope.kind] if c.key == key), None)
    if chart is None:
        raise Http404("no such chart")
    return chart


def range_of(key):
    if key not in RANGES:
        raise Http404("no such range")
    return RANGES[key]


# --- figures ------------------------------------------------------------------------------

UNIT_SCALES = {
    "bytes": ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B")),
    "cores": ((1, _("cores")), (0.001, "m")),
}


def scale_for(unit, peak):
    """(divisor, axis label) so that the largest value reads as 1..1023 of a unit."""
    for divisor, label in UNIT_SCALES.get(unit, ()):
        if peak >= divisor:
            return divisor, str(label)
    scales = UNIT_SCALES.get(unit)
    return (scales[-1][0], str(scales[-1][1])) if scales else (1, "")


def step_of(seconds):
    """The bucket size of a chart of that range (0: raw samples)."""
    return step_for(seconds, settings.METRICS_SCRAPE_SECONDS)


def lines_points(scope, chart, start, end, step):
    return [
        samples(
            cluster_id=scope.cluster.pk, metric=line.metric, start=start, end=end, target=scope.target, step=step
        ).get(scope.target, [])
        for line in chart.lines
    ]


def _isoformat_cache():
    """ts.isoformat(), once per distinct time (the lines of a chart share them)."""
    cache = {}

    def iso(ts):
        text = cache.get(ts)
        if text is None:
            text = cache[ts] = ts.isoformat()
        return text

    return iso


def figure(scope, chart, range_key, now=None):
    """The chart's plotly figure (data and layout) and what the page needs to extend it live."""
    seconds = range_of(range_key)
    step = step_of(seconds)
    now = time.time() if now is None else now
    begin = int(now - seconds)
    begin -= begin % step if step else 0  # whole buckets
    start, end = datetime.fromtimestamp(begin, UTC), datetime.fromtimestamp(now + 60, UTC)
    per_line = lines_points(scope, chart, start, end, step)
    peak = max((value for points in per_line for _ts, value in points), default=0)
    divisor, unit_label = scale_for(chart.unit, peak)
    iso = _isoformat_cache()
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": str(line.label),
            "x": [iso(ts) for ts, _v in points],
            "y": [round(value / divisor, 4) for _ts, value in points],
        }
        for line, points in zip(chart.lines, per_line, strict=True)
    ]
    last = max((points[-1][0].timestamp() for points in per_line if points), default=0)
    layout = {
        "margin": {"l": 50, "r": 10, "t": 10, "b": 30},
        "height": 220,
        "showlegend": len(chart.lines) > 1,
        "legend": {"orientation": "h", "y": -0.2},
        "yaxis": {"title": {"text": unit_label}, "rangemode": "tozero"},
        "xaxis": {"type": "date"},
    }
    return {
        "data": data,
        "layout": layout,
        "divisor": divisor,
        "last": int(last),
        "points": sum(len(points) for points in per_line),
        "live": seconds <= LIVE_SECONDS,
        "window": seconds,
        "step": step,
    }


def new_points(scope, chart, since, divisor, range_key=DEFAULT_RANGE):
    """The points after `since` (epoch seconds: the chart's newest), per line, scaled like the
    chart; for a chart in buckets, from the bucket at `since` on (it was still filling: the page
    replaces it)."""
    step = step_of(range_of(range_key))
    start = datetime.fromtimestamp(since if step else since + 1, UTC)
    per_line = lines_points(scope, chart, start, datetime.now(UTC), step)
    last = max((points[-1][0].timestamp() for points in per_line if points), default=since)
    return {
        "x": [[ts.isoformat() for ts, _v in points] for points in per_line],
        "y": [[round(value / divisor, 4) for _ts, value in points] for points in per_line],
        "last": int(last),
    }


def figure_json(fig):
    return json.dumps(fig, separators=(",", ":"))


# --- charts read from the cluster's Prometheus (PromQL) ------------------------------------


@dataclass(frozen=True)
class PromChart:
    key: str
    title: str
    unit: str
    queries: tuple  # (label, PromQL template with {node}, {namespace}, {pod} selectors)

    @property
    def lines(self):
        return self.queries


RATE = "2m"


def _prom(key, title, unit, *queries):
    return PromChart(key, title, unit, tuple(queries))


NODE_PROM = (
    _prom(
        "prom-network",
        _("Network (bytes/s)"),
        "bytes",
        (_("received"), "sum(rate(node_network_receive_bytes_total{%(sel)s}[" + RATE + "]))"),
        (_("sent"), "sum(rate(node_network_transmit_bytes_total{%(sel)s}[" + RATE + "]))"),
    ),
    _prom(
        "prom-disk",
        _("Disk I/O (bytes/s)"),
        "bytes",
        (_("read"), "sum(rate(node_disk_read_bytes_total{%(sel)s}[" + RATE + "]))"),
        (_("written"), "sum(rate(node_disk_written_bytes_total{%(sel)s}[" + RATE + "]))"),
    ),
    _prom(
        "prom-filesystem",
        _("Filesystem used"),
        "ratio",
        (
            _("used"),
            '1 - sum(node_filesystem_avail_bytes{%(sel)s,fstype!~"tmpfs|overlay"})'
            ' / sum(node_filesystem_size_bytes{%(sel)s,fstype!~"tmpfs|overlay"})',
        ),
    ),
    _prom(
        "prom-processes",
        _("Processes"),
        "count",
        (_("running"), "sum(node_procs_running{%(sel)s})"),
        (_("blocked"), "sum(node_procs_blocked{%(sel)s})"),
    ),
)
POD_PROM = (
    _prom(
        "prom-network",
        _("Network (bytes/s)"),
        "bytes",
        (_("received"), "sum(rate(container_network_receive_bytes_total{%(sel)s}[" + RATE + "]))"),
        (_("sent"), "sum(rate(container_network_transmit_bytes_total{%(sel)s}[" + RATE + "]))"),
    ),
    _prom(
        "prom-filesystem",
        _("Filesystem used"),
        "bytes",
        (_("used"), 'sum(container_fs_usage_bytes{%(sel)s,container!=""})'),
    ),
    _prom("prom-processes", _("Processes"), "count", (_("processes"), "sum(container_processes{%(sel)s})")),
)
PROM_CHARTS = {"cluster": NODE_PROM, "node": NODE_PROM, "namespace": POD_PROM[:1], "pod": POD_PROM}


def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(scope):
    """The PromQL label selector of the scope: node-exporter series carry a `node` label (the
    scrape configuration's relabelling), cAdvisor's their namespace and pod."""
    if scope.kind == "node":
        return f"node={_quote(scope.name)}"
    if scope.kind == "namespace":
        return f"namespace={_quote(scope.name)}"
    if scope.kind == "pod":
        namespace, pod = scope.name.split("/")
        return f"namespace={_quote(namespace)},pod={_quote(pod)}"
    return 'job!=""'


def prom_chart_of(scope, key):
    chart = next((c for c in PROM_CHARTS.get(scope.kind, ()) if c.key == key), None)
    if chart is None:
        raise Http404("no such chart")
    return chart


def prom_figure(scope, chart, range_key, source, now=None):
    """The chart from PromQL over the cluster's Prometheus (a PrometheusError when it cannot answer)."""
    from .prometheus import Prometheus

    seconds = range_of(range_key)
    now = time.time() if now is None else now
    start, end = datetime.fromtimestamp(now - seconds, UTC), datetime.fromtimestamp(now, UTC)
    step = max(5, seconds // MAX_POINTS)
    gateway = Prometheus(source.url)
    sel = selector(scope)
    per_line = []
    for _label, template in chart.queries:
        result = gateway.query_range(template % {"sel": sel}, start, end, step)
        per_line.append(result[0][1] if result else [])
    peak = max((value for points in per_line for _ts, value in points), default=0)
    divisor, unit_label = scale_for(chart.unit, peak)
    if chart.unit == "ratio":
        divisor, unit_label = 0.01, "%"
    iso = _isoformat_cache()
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": str(label),
            "x": [iso(ts) for ts, _v in points],
            "y": [round(value / divisor, 4) for _ts, value in points],
        }
        for (label, _q), points in zip(chart.queries, per_line, strict=True)
    ]
    layout = {
        "margin": {"l": 50, "r": 10, "t": 10, "b": 30},
        "height": 220,
        "showlegend": len(chart.queries) > 1,
        "legend": {"orientation": "h", "y": -0.2},
        "yaxis": {"title": {"text": unit_label}, "rangemode": "tozero"},
        "xaxis": {"type": "date"},
    }
    points = sum(len(p) for p in per_line)
    return {
        "data": data,
        "layout": layout,
        "divisor": divisor,
        "last": int(now),
        "points": points,
        "live": False,
        "window": seconds,
    }
