"""Scraping one cluster: what the API server, metrics.k8s.io, the kubelets (through the node
proxy) and the resource mirror say now, turned into samples of the METRICS in query.py.

    scrape_cluster(cluster) -> Scrape   (writes the samples; never raises for the cluster's faults)

Every read goes through the cluster gateway (console.kube.api.ClusterAPI) as the console's
own identity, or reads the mirror the watcher keeps.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction

from console import quantity
from console.clusters.models import Cluster, MirroredObject
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError

from . import store
from .models import Series

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT = 10.0  # seconds per request: a slow cluster must not hold up the next one
PRESSURES = {"MemoryPressure": "node_memory_pressure", "DiskPressure": "node_disk_pressure"}
PRESSURES["PIDPressure"] = "node_pid_pressure"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# Control-plane static pods, by their "component" label (kubeadm), where the cluster has them
# (etcd's health is the API server's own etcd check, from /readyz).
STATIC_COMPONENTS = ("kube-scheduler", "kube-controller-manager")


@dataclass
class Scrape:
    """What one scrape found: samples by (metric, target), and what could not be read."""

    cluster_id: int
    ts: int
    values: dict = field(default_factory=dict)  # (metric, target) -> value
    missing: list = field(default_factory=list)  # [(source, error text)]

    def put(self, metric, target, value):
        self.values[(metric, target)] = float(value)

    def add(self, metric, target, value):
        self.values[(metric, target)] = self.values.get((metric, target), 0.0) + float(value)

    @property
    def namespaces(self):
        return {namespace_of(target) for _metric, target in self.values} - {""}


def namespace_of(target):
    kind, _, rest = target.partition("/")
    if kind == "namespace":
        return rest
    if kind in ("pod", "pvc", "deployment", "statefulset", "daemonset"):
        return rest.partition("/")[0]
    return ""


def _amount(text):
    if text in (None, ""):
        return 0.0
    try:
        return float(quantity.parse(str(text)))
    except ValueError:
        return 0.0


# --- reading the cluster ----------------------------------------------------------------


def read_health(api, scrape):
    ready = True
    for endpoint in ("readyz", "livez"):
        checks = api.health_checks(endpoint, timeout=SCRAPE_TIMEOUT)
        for name, ok in checks:
            scrape.put("component_healthy", f"component/{endpoint}/{name}", ok)
        passed = all(ok for _name, ok in checks)
        scrape.put("component_healthy", f"component/{endpoint}", passed)
        ready = ready and passed
        if endpoint == "readyz":
            etcd = [ok for name, ok in checks if name == "etcd"]
            if etcd:
                scrape.put("component_healthy", "component/etcd", etcd[0])
    scrape.put("component_healthy", "component/apiserver", ready)


def read_nodes(api, scrape):
    nodes = api.list("Node")
    ready_count = 0
    for node in nodes:
        name = node["metadata"]["name"]
        target = f"node/{name}"
        status = node.get("status") or {}
        for resource, unit in (("cpu", "cores"), ("memory", "bytes")):
            scrape.put(
                f"node_{resource}_allocatable_{unit}", target, _amount((status.get("allocatable") or {}).get(resource))
            )
            scrape.put(
                f"node_{resource}_capacity_{unit}", target, _amount((status.get("capacity") or {}).get(resource))
            )
        conditions = {c.get("type"): c.get("status") == "True" for c in status.get("conditions") or []}
        scrape.put("node_ready", target, conditions.get("Ready", False))
        ready_count += conditions.get("Ready", False)
        for condition, metric in PRESSURES.items():
            scrape.put(metric, target, conditions.get(condition, False))
    scrape.put("cluster_nodes_ready", "cluster", ready_count)
    return [n["metadata"]["name"] for n in nodes]


def read_usage(api, scrape):
    """metrics.k8s.io: node and pod usage, and the namespace and cluster sums."""
    try:
        node_items = api.read_path("/apis/metrics.k8s.io/v1beta1/nodes", timeout=SCRAPE_TIMEOUT).get("items") or []
        pod_items = api.read_path("/apis/metrics.k8s.io/v1beta1/pods", timeout=SCRAPE_TIMEOUT).get("items") or []
    except ApiRefused as exc:  # metrics-server missing or down: the API group answers 503/404
        scrape.put("component_healthy", "component/metrics-server", False)
        scrape.missing.append(("metrics.k8s.io", str(exc)))
        return
    scrape.put("component_healthy", "component/metrics-server", True)
    cpu_total = memory_total = 0.0
    for item in node_items:
        usage = item.get("usage") or {}
        cpu, memory = _amount(usage.get("cpu")), _amount(usage.get("memory"))
        target = f"node/{item['metadata']['name']}"
        scrape.put("node_cpu_usage_cores", target, cpu)
        scrape.put("node_memory_usage_bytes", target, memory)
        cpu_total, memory_total = cpu_total + cpu, memory_total + memory
    scrape.put("cluster_cpu_usage_cores", "cluster", cpu_total)
    scrape.put("cluster_memory_usage_bytes", "cluster", memory_total)
    for item in pod_items:
        meta = item["metadata"]
        cpu = sum(_amount((c.get("usage") or {}).get("cpu")) for c in item.get("containers") or [])
        memory = sum(_amount((c.get("usage") or {}).get("memory")) for c in item.get("containers") or [])
        target = f"pod/{meta['namespace']}/{meta['name']}"
        scrape.put("pod_cpu_usage_cores", target, cpu)
        scrape.put("pod_memory_usage_bytes", target, memory)
        scrape.add("namespace_cpu_usage_cores", f"namespace/{meta['namespace']}", cpu)
        scrape.add("namespace_memory_usage_bytes", f"namespace/{meta['namespace']}", memory)


def read_volumes(api, scrape, nodes):
    """The kubelets' volume stats (/stats/summary through the node proxy): PVC used and capacity."""
    for name in nodes:
        try:
            summary = api.read_path(f"/api/v1/nodes/{name}/proxy/stats/summary", timeout=SCRAPE_TIMEOUT)
        except ApiRefused as exc:  # a NotReady node's kubelet does not answer; the others do
            scrape.missing.append((f"node/{name}/stats", str(exc)))
            continue
        for pod in summary.get("pods") or []:
            for volume in pod.get("volume") or []:
                ref = volume.get("pvcRef")
                if not ref:
                    continue
                target = f"pvc/{ref.get('namespace')}/{ref.get('name')}"
                scrape.put("pvc_used_bytes", target, volume.get("usedBytes") or 0)
                scrape.put("pvc_capacity_bytes", target, volume.get("capacityBytes") or 0)


def read_calico(api, scrape):
    """calico-node's DaemonSet readiness, where Calico is installed (kube-system or calico-system)."""
    for namespace in ("kube-system", "calico-system"):
        daemonset = api.get("DaemonSet", "calico-node", namespace)
        if daemonset is not None:
            status = daemonset.get("status") or {}
            desired = status.get("desiredNumberScheduled") or 0
            ready = status.get("numberReady") or 0
            scrape.put("calico_nodes_ready_ratio", "cluster", ready / desired if desired else 0)
            scrape.put("component_healthy", "component/calico-node", desired > 0 and ready >= desired)
            return


# --- reading the mirror -----------------------------------------------------------------


def read_mirror(cluster_id, scrape):
    """Pods (limits, restarts, crash loops, pending) and workloads (available vs desired)."""
    pending = crash_looping = 0
    pods = MirroredObject.objects.filter(cluster_id=cluster_id, kind="Pod").exclude(phase__in=("Succeeded", "Failed"))
    static = defaultdict(list)
    # ReplicaSet -> its Deployment, so that a pod's usage adds up to its workload's
    deployments = MirroredObject.objects.filter(cluster_id=cluster_id, kind="ReplicaSet", owner_kind="Deployment")
    replica_sets = {(ns, name): owner for ns, name, owner in deployments.values_list("namespace", "name", "owner_name")}
    rows = pods.values_list(
        "namespace",
        "name",
        "phase",
        "labels",
        "owner_kind",
        "owner_name",
        "object__spec__containers",
        "object__status__containerStatuses",
    )
    for namespace, name, phase, labels, owner_kind, owner_name, containers, statuses in rows.iterator(chunk_size=2000):
        target = f"pod/{namespace}/{name}"
        workload = None
        if owner_kind == "ReplicaSet" and (namespace, owner_name) in replica_sets:
            workload = f"deployment/{namespace}/{replica_sets[(namespace, owner_name)]}"
        elif owner_kind in ("StatefulSet", "DaemonSet"):
            workload = f"{owner_kind.lower()}/{namespace}/{owner_name}"
        containers = containers if isinstance(containers, list) else []
        statuses = statuses if isinstance(statuses, list) else []
        limits = [(c.get("resources") or {}).get("limits") or {} for c in containers if isinstance(c, dict)]
        if limits and all(limit.get("cpu") for limit in limits):
            scrape.put("pod_cpu_limit_cores", target, sum(_amount(limit["cpu"]) for limit in limits))
        if limits and all(limit.get("memory") for limit in limits):
            scrape.put("pod_memory_limit_bytes", target, sum(_amount(limit["memory"]) for limit in limits))
        restarts = sum(int(s.get("restartCount") or 0) for s in statuses if isinstance(s, dict))
        looping = any(
            ((s.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
            for s in statuses
            if isinstance(s, dict)
        )
        scrape.put("pod_restarts", target, restarts)
        if workload:
            scrape.add("workload_restarts", workload, restarts)
            scrape.add("workload_cpu_usage_cores", workload, scrape.values.get(("pod_cpu_usage_cores", target), 0))
            scrape.add(
                "workload_memory_usage_bytes", workload, scrape.values.get(("pod_memory_usage_bytes", target), 0)
            )
        scrape.add("namespace_restarts", f"namespace/{namespace}", restarts)
        scrape.put("pod_crash_looping", target, looping)
        scrape.put("pod_pending", target, phase == "Pending")
        pending += phase == "Pending"
        crash_looping += looping
        component = (labels or {}).get("component") if namespace == "kube-system" else None
        if component in STATIC_COMPONENTS:
            ready = phase == "Running" and bool(statuses) and all(s.get("ready") for s in statuses)
            static[component].append(ready)
    scrape.put("cluster_pods_pending", "cluster", pending)
    scrape.put("cluster_pods_crash_looping", "cluster", crash_looping)
    for component, states in static.items():
        scrape.put("component_healthy", f"component/{component}", all(states))

    workloads = MirroredObject.objects.filter(cluster_id=cluster_id, kind__in=WORKLOAD_KINDS).values_list(
        "kind", "namespace", "name", "object__spec__replicas", "object__status"
    )
    for kind, namespace, name, replicas, status in workloads.iterator(chunk_size=2000):
        status = status if isinstance(status, dict) else {}
        if kind == "DaemonSet":
            desired, available = status.get("desiredNumberScheduled") or 0, status.get("numberAvailable") or 0
        else:
            desired = 1 if replicas is None else int(replicas)
            available = status.get("availableReplicas") or 0
        target = f"{kind.lower()}/{namespace}/{name}"
        scrape.put("workload_desired_replicas", target, desired)
        scrape.put("workload_available_replicas", target, available)
        scrape.put("workload_available_ratio", target, min(available / desired, 1.0) if desired else 1.0)


# --- one cluster ------------------------------------------------------------------------


def scrape_cluster(cluster: Cluster, now: float | None = None) -> Scrape:
    """Read everything there is to read now and write it; a part that fails is noted in
    `missing` and the rest is still written. An unreachable API server is itself a sample
    (component/apiserver = 0)."""
    scrape = Scrape(cluster.pk, int(now if now is not None else time.time()))
    try:
        with ClusterAPI(cluster) as api:
            nodes = []
            for step in (read_health, read_nodes, read_usage, read_calico):
                try:
                    found = step(api, scrape)
                except ApiRefused as exc:
                    scrape.missing.append((step.__name__, str(exc)))
                    continue
                if step is read_nodes:
                    nodes = found
            read_volumes(api, scrape, nodes)
    except ClusterError as exc:
        scrape.put("component_healthy", "component/apiserver", False)
        scrape.missing.append(("apiserver", str(exc)))
    read_mirror(cluster.pk, scrape)
    write_scrape(scrape)
    return scrape


def series_ids(cluster_id: int, keys) -> dict[tuple[str, str], int]:
    """{(metric, target): series id}, creating the series not seen before."""
    keys = set(keys)
    found = {}
    existing = Series.objects.filter(cluster_id=cluster_id).values_list("metric", "target", "id")
    if len(keys) < 200:
        metrics = {metric for metric, _target in keys}
        existing = existing.filter(metric__in=metrics, target__in={target for _metric, target in keys})
    for metric, target, pk in existing.iterator(chunk_size=5000):
        if (metric, target) in keys:
            found[(metric, target)] = pk
    new = keys - set(found)
    if new:
        Series.objects.bulk_create(
            [Series(cluster_id=cluster_id, metric=m, target=t, namespace=namespace_of(t)) for m, t in new],
            ignore_conflicts=True,
            batch_size=2000,
        )
        # ignore_conflicts gives no ids back (another writer may have made some): read them
        created = Series.objects.filter(cluster_id=cluster_id, target__in={t for _m, t in new})
        for metric, target, pk in created.values_list("metric", "target", "id"):
            if (metric, target) in new:
                found[(metric, target)] = pk
    return found


def write_scrape(scrape: Scrape) -> int:
    with transaction.atomic():
        ids = series_ids(scrape.cluster_id, scrape.values)
        rows = sorted((ids[key], scrape.ts, value) for key, value in scrape.values.items())
        return store.write(rows)
