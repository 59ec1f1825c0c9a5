"""Controllers on a clock: the scheduler and kubelet, Deployments → ReplicaSets → Pods,
StatefulSets, DaemonSets, Jobs, CronJobs, Services → Endpoints, PVC provisioning and
snapshots, HPAs, quotas, namespaces and events.

One background thread ticks. Store changes mark keys dirty (informer-style), timers
wake keys whose next transition is due in simulated time, and a periodic resync
re-examines every workload. Simulated time runs `clock_speed` times faster than real
time; every delay below is in simulated seconds."""

import hashlib
import heapq
import json
import logging
import math
import threading
import time
import traceback
from collections import deque
from datetime import datetime, timezone

from . import cron, quantity
from .admission import container_totals, namespace_usage
from .errors import ApiError
from .kinds import STORED
from .metrics import UNAVAILABLE as UNAVAILABLE_METRICS
from .selectors import selector_matcher
from .store import NAME_CHARS, now_iso

log = logging.getLogger(__name__)
R = STORED
DEFAULT_DELAYS = {
    "schedule": 0.0,  # creation → bound to a node
    "pull": 1.0,  # bound → containers running
    "ready": 1.0,  # running → ready
    "terminate": 1.0,  # graceful deletion → gone (at most the grace period)
    "job_run": 5.0,  # a Job's pod runs this long, then Succeeded
    "pvc_bind": 1.0,  # PVC → PV provisioned and Bound
    "snapshot_ready": 3.0,  # VolumeSnapshot → readyToUse
    "hpa_sync": 15.0,  # HPA evaluation period
    "log_interval": 1.0,  # one log line per container per this many seconds
    "crash_after": 3.0,  # a crashing container runs this long before it exits
    "backoff": 10.0,  # first CrashLoopBackOff delay (doubles, capped at 300)
    "lb": 1.0,  # LoadBalancer/Ingress address assigned
    "cron_start": 0.0,
}
RESYNC_REAL_SECONDS = 1.0
RESYNCED = ("namespaces", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs", "services",
            "persistentvolumeclaims", "volumesnapshots", "horizontalpodautoscalers", "resourcequotas", "ingresses",
            "poddisruptionbudgets")
SYSTEM_STATIC_PODS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


class Clock:
    """Simulated seconds since start, running `speed` times faster than real time."""

    def __init__(self, speed=1.0):
        self.speed = float(speed)
        self._real0, self._sim0 = time.monotonic(), 0.0
        self.wall0 = time.time()

    def now(self):
        return self._sim0 + (time.monotonic() - self._real0) * self.speed

    def set_speed(self, speed):
        self._sim0, self._real0 = self.now(), time.monotonic()
        self.speed = float(speed)

    def wall(self, sim=None):
        """The simulated wall-clock time (UTC datetime) at simulated second `sim` (default: now)."""
        return datetime.fromtimestamp(self.wall0 + (self.now() if sim is None else sim), tz=timezone.utc)

    def iso(self, sim=None):
        return self.wall(sim).strftime("%Y-%m-%dT%H:%M:%SZ")

    def real_seconds(self, sim_seconds):
        return sim_seconds / self.speed if self.speed else float("inf")


def safe_hash(value, length=10):
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).digest()
    return "".join(NAME_CHARS[b % len(NAME_CHARS)] for b in digest[:length])


def normalized(value):
    """Drop empty/None values so templates compare equal after a round trip through typed clients."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def template_key(template):
    template = json.loads(json.dumps(template or {}))
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    labels.pop("controller-revision-hash", None)
    return normalized(template)


def owner_ref(obj, controller=True):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def controller_uid(obj):
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return None


def condition(kind, status, reason="", message="", at=None, **extra):
    c = {"type": kind, "status": status, "lastTransitionTime": at or now_iso()}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    c.update(extra)
    return c


def set_condition(conditions, new, update_time_key=None):
    """Replace a condition by type, keeping lastTransitionTime when the status did not change."""
    conditions = list(conditions or [])
    for n, old in enumerate(conditions):
        if old.get("type") == new["type"]:
            if old.get("status") == new["status"]:
                new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
                if update_time_key and old.get("reason") == new.get("reason") and old.get("message") == new.get("message"):
                    new[update_time_key] = old.get(update_time_key, new.get(update_time_key))
            conditions[n] = new
            return conditions
    conditions.append(new)
    return conditions


def resolve_percent(value, total, round_up):
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value)


def pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def pod_active(pod):
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class PodRun:
    """What the simulated kubelet knows about one pod."""

    __slots__ = ("stage", "since", "bound_at", "restarts", "ready_since", "last_exit", "started_iso", "ip", "events_sent",
                 "node", "unschedulable_message", "exit_code", "finished_iso", "run_started")

    def __init__(self, now):
        self.stage, self.since, self.bound_at, self.restarts = "pulling", now, now, 0
        self.ready_since = None
        self.last_exit = None
        self.started_iso = None
        self.ip = None
        self.events_sent = set()
        self.node = None
        self.unschedulable_message = None
        self.exit_code = 0
        self.finished_iso = None
        self.run_started = None


class Controllers:
    def __init__(self, cluster, nodes=3, clock_speed=1.0, delays=None, seed=True, max_events=5000):
        self.cluster = cluster
        self.store = cluster.store
        self.node_count = nodes
        self.clock = Clock(clock_speed)
        self.delays = dict(DEFAULT_DELAYS, **(delays or {}))
        self.tick_seconds = 0.05
        self.seed_system = seed
        self.seeded = False
        self.stop_event = threading.Event()
        self.thread = None
        self.lock = threading.Lock()
        self.dirty = set()
        self.timers = []  # heap of (sim time, key)
        self.last_resync = 0.0
        self.pods = {}  # uid -> PodRun
        self.pod_faults = {}  # (namespace, name) -> "crash" | "unready" | "slow" | "fail"
        self.node_faults = {}  # node name -> "NotReady" | "MemoryPressure" | "DiskPressure" | "PIDPressure"
        self.ip_counters = {}
        self.event_index = {}  # (uid, reason, message) -> (namespace, event name)
        self.event_order = deque()
        self.max_events = max_events
        self.hpa_last = {}  # hpa uid -> sim time of last evaluation
        self.hpa_recommendations = {}  # hpa uid -> [(sim time, replicas)]
        self.timed = {}  # (kind, uid) -> sim time something becomes due (pvc bind, snapshot ready, lb)
        self.errors = deque(maxlen=50)
        self.store.listeners.append(self.on_event)

    # --- lifecycle

    def start(self):
        if not self.seeded:
            self.seed()
            self.seeded = True
        self.stop_event.clear()
        self.thread = threading.Thread(target=self.loop, name="sandbox-controllers", daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        if self.thread and self.thread is not threading.current_thread():
            self.thread.join(10)

    def loop(self):
        while not self.stop_event.wait(self.tick_seconds):
            try:
                self.step()
            except Exception:  # a controller bug must not stop the cluster
                self.errors.append(traceback.format_exc())
                log.exception("sandbox controller step failed")

    # --- work queue

    def on_event(self, event):
        """Called by the store under its lock for every change: mark what needs a look."""
        plural, ns, obj = event.plural, event.namespace, event.obj
        dirty = self.dirty
        if plural == "events":
            return
        dirty.add((plural, ns, obj["metadata"]["name"]))
        for source in (obj, event.old):
            if source is None:
                continue
            for ref in source["metadata"].get("ownerReferences") or ():
                key = self.store.by_uid.get(ref.get("uid"))
                if key:
                    dirty.add(key)
        if plural == "pods":
            dirty.add(("@endpoints", ns, ""))
            dirty.add(("@quota", ns, ""))
            dirty.add(("@daemonsets", "", ""))
            dirty.add(("@pvc-protection", ns, ""))
        elif plural in ("services", "persistentvolumeclaims", "configmaps", "secrets") or plural == "resourcequotas":
            dirty.add(("@quota", ns, ""))
        if plural == "nodes":
            dirty.add(("@daemonsets", "", ""))
        if plural == "persistentvolumeclaims":
            dirty.add(("@pending-pods", ns, ""))
        if plural == "volumesnapshots":
            dirty.add(("@pvcs", ns, ""))
        if plural == "clusterroles":
            dirty.add(("@clusterrole-aggregation", "", ""))

    def wake(self, key, at):
        with self.lock:
            heapq.heappush(self.timers, (at, key))

    def step(self):
        now = self.clock.now()
        with self.store.lock:
            dirty, self.dirty = self.dirty, set()
        with self.lock:
            while self.timers and self.timers[0][0] <= now:
                dirty.add(heapq.heappop(self.timers)[1])
        if time.monotonic() - self.last_resync >= RESYNC_REAL_SECONDS:
            self.last_resync = time.monotonic()
            for plural in RESYNCED:
                for obj in self.store.iter_refs(R[plural]):
                    dirty.add((plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
            dirty.add(("@daemonsets", "", ""))
            dirty.add(("@cronjobs", "", ""))
        if not dirty:
            return
        order = ["namespaces", "nodes", "@daemonsets", "cronjobs", "@cronjobs", "deployments", "statefulsets", "daemonsets",
                 "jobs", "replicasets", "persistentvolumeclaims", "@pvcs", "volumesnapshots", "@pending-pods", "pods",
                 "services", "@endpoints", "ingresses", "horizontalpodautoscalers", "@quota", "resourcequotas",
                 "@pvc-protection", "poddisruptionbudgets", "@clusterrole-aggregation", "customresourcedefinitions"]
        by_kind = {}
        for key in dirty:
            by_kind.setdefault(key[0], []).append(key)
        for kind in order:
            handler = getattr(self, "sync_" + kind.lstrip("@").replace("-", "_"), None)
            for key in sorted(by_kind.get(kind, ())):
                if self.stop_event.is_set():
                    return
                try:
                    handler(key)
                except ApiError as exc:
                    if exc.code not in (404, 409, 403, 422):
                        self.errors.append(f"{key}: {exc.message}")

    # --- RBAC aggregation and CRDs (their logic lives in rbac.py and crds.py)

    def sync_clusterrole_aggregation(self, key):
        self.cluster.rbac.aggregate()

    def sync_customresourcedefinitions(self, key):
        if self.cluster.crds.sync(key[2]):
            self.wake(key, self.clock.now() + 0.5)

    # --- seed

    def seed(self):
        store = self.store
        for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if not store.exists(R["namespaces"], "", namespace):
                store.create(R["namespaces"], "", {"metadata": {"name": namespace}})
        for i in range(1, self.node_count + 1):
            self.add_node(i)
        if not self.seed_system:
            return
        self.create_if_missing(R["storageclasses"], "", {
            "metadata": {"name": "ceph-rbd", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rbd.csi.ceph.com", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True, "parameters": {"clusterID": "sandbox-ceph", "pool": "kubernetes", "imageFeatures": "layering"}})
        self.create_if_missing(R["volumesnapshotclasses"], "", {
            "metadata": {"name": "ceph-rbd-snapclass", "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
            "driver": "rbd.csi.ceph.com", "deletionPolicy": "Delete", "parameters": {"clusterID": "sandbox-ceph"}})
        self.create_if_missing(R["ingressclasses"], "", {
            "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "k8s.io/ingress-nginx"}})
        node1 = store.get_ref(R["nodes"], "", "sandbox-node-1")
        for component in SYSTEM_STATIC_PODS:
            self.create_if_missing(R["pods"], "kube-system", {
                "metadata": {"name": f"{component}-sandbox-node-1", "labels": {"component": component, "tier": "control-plane"},
                             "annotations": {"kubernetes.io/config.source": "file", "kubernetes.io/config.mirror": safe_hash(component, 32)},
                             "ownerReferences": [owner_ref(node1, controller=True)] if node1 else []},
                "spec": {"nodeName": "sandbox-node-1", "priorityClassName": "system-node-critical", "priority": 2000001000,
                         "hostNetwork": True, "containers": [{"name": component, "image": f"registry.k8s.io/{component}:v1.37.0",
                                                              "resources": {"requests": {"cpu": "100m" if component != "kube-apiserver" else "250m"}}}]}})
        labels = {"k8s-app": "calico-node"}
        self.create_if_missing(R["daemonsets"], "kube-system", {
            "metadata": {"name": "calico-node", "labels": labels},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                "hostNetwork": True, "priorityClassName": "system-node-critical",
                "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.30.0",
                                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}}]}}}})
        labels = {"k8s-app": "kube-dns"}
        self.create_if_missing(R["deployments"], "kube-system", {
            "metadata": {"name": "coredns", "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                "priorityClassName": "system-cluster-critical",
                "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.1",
                                "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}, {"name": "dns-tcp", "containerPort": 53}],
                                "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}}}]}}}})
        self.create_if_missing(R["services"], "kube-system", {
            "metadata": {"name": "kube-dns", "labels": labels},
            "spec": {"selector": labels, "clusterIP": "10.96.0.10", "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}, {"name": "dns-tcp", "port": 53, "targetPort": 53}]}})
        self.create_if_missing(R["services"], "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}})

    def create_if_missing(self, resource, namespace, obj):
        if not self.store.exists(resource, namespace, obj["metadata"]["name"]):
            try:
                return self.store.create(resource, namespace, obj)
            except ApiError as exc:
                if exc.code != 409:
                    raise
        return None

    def add_node(self, i):
        name = f"sandbox-node-{i}"
        if self.store.exists(R["nodes"], "", name):
            return
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                  "topology.kubernetes.io/zone": f"sandbox-{'abc'[(i - 1) % 3]}", "topology.kubernetes.io/region": "sandbox"}
        if i == 1:
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        capacity = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi", "hugepages-2Mi": "0"}
        at = now_iso()
        self.store.create(R["nodes"], "", {
            "metadata": {"name": name, "labels": labels, "annotations": {
                "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "csi.volume.kubernetes.io/nodeid": json.dumps({"rbd.csi.ceph.com": name})}},
            "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"], "providerID": f"sandbox://{name}"},
            "status": {
                "capacity": capacity, "allocatable": {**capacity, "cpu": "7800m", "memory": "31Gi", "ephemeral-storage": "95Gi"},
                "conditions": self.node_conditions(name, at),
                "nodeInfo": {"kubeletVersion": "v1.37.0-sandbox", "kubeProxyVersion": "v1.37.0-sandbox",
                             "containerRuntimeVersion": "containerd://2.1.4", "osImage": "Sandbox Linux 1.0", "operatingSystem": "linux",
                             "architecture": "amd64", "kernelVersion": "6.12.0-sandbox", "bootID": f"boot-{i:04d}",
                             "machineID": f"{i:032x}", "systemUUID": f"00000000-0000-0000-0000-{i:012d}"},
                "addresses": [{"type": "InternalIP", "address": f"10.0.0.{10 + i}"}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "images": [{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320368}],
            },
        })

    def node_conditions(self, name, at=None):
        at = at or now_iso()
        fault = self.node_faults.get(name)
        conditions = []
        for kind, ok_reason, bad_reason in (("MemoryPressure", "KubeletHasSufficientMemory", "KubeletHasInsufficientMemory"),
                                            ("DiskPressure", "KubeletHasNoDiskPressure", "KubeletHasDiskPressure"),
                                            ("PIDPressure", "KubeletHasSufficientPID", "KubeletHasInsufficientPID")):
            bad = fault == kind
            conditions.append(condition(kind, "True" if bad else "False", bad_reason if bad else ok_reason,
                                        f"kubelet has {'' if bad else 'no '}{kind[:-8].lower()} pressure", at, lastHeartbeatTime=at))
        if fault == "NotReady":
            conditions.append(condition("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", at, lastHeartbeatTime=at))
        else:
            conditions.append(condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", at, lastHeartbeatTime=at))
        return conditions

    def ready_nodes(self):
        out = []
        for node in self.store.iter_refs(R["nodes"]):
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or [])
            if ready and not (node.get("spec") or {}).get("unschedulable"):
                out.append(node)
        return out

    def node_is_ready(self, name):
        return self.node_faults.get(name) != "NotReady" and self.store.exists(R["nodes"], "", name)

    def sync_nodes(self, key):
        node = self.store.get_ref(R["nodes"], "", key[2])
        if node is None:
            return
        name = key[2]
        wanted = self.node_conditions(name)
        current = (node.get("status") or {}).get("conditions") or []
        if [(c["type"], c["status"]) for c in current] != [(c["type"], c["status"]) for c in wanted]:
            taints = [t for t in (node.get("spec") or {}).get("taints") or [] if not t.get("key", "").startswith("node.kubernetes.io/")]
            if self.node_faults.get(name) == "NotReady":
                taints += [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": now_iso()},
                           {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": now_iso()}]

            merged = list(current)
            for wanted_condition in wanted:
                merged = set_condition(merged, wanted_condition)

            def change(obj):
                obj["status"]["conditions"] = merged
                obj["spec"]["taints"] = taints
                if not taints:
                    obj["spec"].pop("taints", None)
            self.store.mutate(R["nodes"], "", name, change, keep_status=True)
            ready = self.node_faults.get(name) != "NotReady"
            self.event(node, "NodeReady" if ready else "NodeNotReady",
                       f"Node {name} status is now: {'NodeReady' if ready else 'NodeNotReady'}", "Normal", "node-controller")
            for pod in self.store.iter_refs(R["pods"]):
                if (pod.get("spec") or {}).get("nodeName") == name:
                    self.dirty.add(("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]))

    # --- events

    def event(self, obj, reason, message, kind="Normal", component="", host=None, field_path=None, aggregate=False):
        """Record an event, or count one more of the same. aggregate: one event per object and
        reason whatever the message (failed creations name a new pod each retry), as the
        event recorder combines similar events."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid"), reason, "" if aggregate else message)
        at = now_iso()
        existing = self.event_index.get(key)
        if existing and self.store.exists(R["events"], existing[0], existing[1]):
            def bump(ev):
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = at
                ev["message"] = message
            self.store.mutate(R["events"], existing[0], existing[1], bump)
            return
        involved = {"kind": obj.get("kind"), "namespace": meta.get("namespace", ""), "name": meta.get("name"),
                    "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"), "resourceVersion": meta.get("resourceVersion")}
        if not involved["namespace"]:
            del involved["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        name = f"{meta.get('name')}.{time.time_ns():x}"[:253]
        body = {"metadata": {"name": name}, "involvedObject": involved, "reason": reason, "message": message,
                "source": {"component": component} | ({"host": host} if host else {}), "firstTimestamp": at, "lastTimestamp": at,
                "count": 1, "type": kind, "eventTime": None, "reportingComponent": component, "reportingInstance": host or ""}
        try:
            self.store.create(R["events"], namespace, body)
        except ApiError:
            return
        self.event_index[key] = (namespace, name)
        self.event_order.append((key, namespace, name))
        while len(self.event_order) > self.max_events:
            old_key, old_ns, old_name = self.event_order.popleft()
            self.event_index.pop(old_key, None)
            try:
                self.store.delete(R["events"], old_ns, old_name)
            except ApiError:
                pass

    # --- namespaces

    def sync_namespaces(self, key):
        store = self.store
        ns = store.get_ref(R["namespaces"], "", key[2])
        if ns is None:
            return
        name = key[2]
        if not ns["metadata"].get("deletionTimestamp"):
            if ns.get("status", {}).get("phase") == "Active" and not store.exists(R["serviceaccounts"], name, "default"):
                self.create_if_missing(R["serviceaccounts"], name, {"metadata": {"name": "default"}})
            if not store.exists(R["configmaps"], name, "kube-root-ca.crt") and self.seed_system:
                ca = (self.cluster.ca_pem or b"").decode() or "-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n"
                self.create_if_missing(R["configmaps"], name, {
                    "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                    "data": {"ca.crt": ca}})
            return
        remaining = 0
        for plural, resource in R.items():
            if not resource.namespaced:
                continue
            for obj in list(store.iter_refs(resource, name)):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    try:
                        store.delete(resource, name, obj["metadata"]["name"], "Background")
                    except ApiError:
                        pass
                elif plural != "pods" and obj["metadata"].get("finalizers") and plural not in ("persistentvolumeclaims",):
                    pass
        if remaining == 0:
            with store.lock:
                current = store.get_ref(R["namespaces"], "", name)
                if current is not None and not any(store.count(r, name) for r in R.values() if r.namespaced):
                    store._remove(R["namespaces"], ("namespaces", "", name))
        else:
            def terminating(obj):
                conditions = [condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                                        f"Some resources are remaining: {remaining} objects")]
                if obj["status"].get("conditions") and [c.get("message") for c in obj["status"]["conditions"]] == [c["message"] for c in conditions]:
                    return False
                obj["status"]["conditions"] = conditions
            store.mutate(R["namespaces"], "", name, terminating, status_only=True)
            self.wake(key, self.clock.now() + 0.5)

    # --- scheduler and kubelet

    def node_usage(self):
        usage = {}
        for pod in self.store.iter_refs(R["pods"]):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and pod_active(pod):
                totals = container_totals(pod)
                entry = usage.setdefault(node, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += float(totals.get("requests.cpu", 0))
                entry[2] += float(totals.get("requests.memory", 0))
        return usage

    def tolerates(self, pod, node):
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any((t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key"))) or
                       (t.get("key") == taint.get("key") and t.get("value") == taint.get("value"))
                       for t in tolerations if not t.get("effect") or t.get("effect") == taint.get("effect")):
                return False
        return True

    @staticmethod
    def affinity_allows(pod, node):
        spec = pod.get("spec") or {}
        labels = node["metadata"].get("labels") or {}
        for key, value in (spec.get("nodeSelector") or {}).items():
            if labels.get(key) != value:
                return False
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
        if not required:
            return True
        for term in required:
            ok = True
            for expr in term.get("matchFields") or []:
                if expr.get("key") == "metadata.name" and expr.get("operator") == "In" and node["metadata"]["name"] not in expr.get("values", []):
                    ok = False
            for expr in term.get("matchExpressions") or []:
                op, value = expr.get("operator"), labels.get(expr.get("key"))
                if (op == "In" and value not in expr.get("values", [])) or (op == "NotIn" and value in expr.get("values", [])) or \
                        (op == "Exists" and expr.get("key") not in labels) or (op == "DoesNotExist" and expr.get("key") in labels):
                    ok = False
            if ok:
                return True
        return False

    def unbound_claims(self, pod):
        namespace = pod["metadata"]["namespace"]
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.store.get_ref(R["persistentvolumeclaims"], namespace, claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            if (pvc.get("status") or {}).get("phase") != "Bound":
                return "pod has unbound immediate PersistentVolumeClaims"
        return None

    def schedule(self, pod):
        meta = pod["metadata"]
        nodes = self.store.iter_refs(R["nodes"])
        nodes = list(nodes)
        claim_problem = self.unbound_claims(pod)
        reasons = {}
        candidates = []
        if not claim_problem:
            usage = self.node_usage()
            totals = container_totals(pod)
            want_cpu, want_mem = float(totals.get("requests.cpu", 0)), float(totals.get("requests.memory", 0))
            for node in nodes:
                name = node["metadata"]["name"]
                ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or [])
                if not ready or (node.get("spec") or {}).get("unschedulable"):
                    reasons.setdefault("node(s) had untolerated taint {node.kubernetes.io/unreachable: }" if ready is False else "node(s) were unschedulable", 0)
                    key = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
                    reasons[key] = reasons.get(key, 0) + 1
                    continue
                if not self.tolerates(pod, node):
                    key = "node(s) had untolerated taint(s)"
                    reasons[key] = reasons.get(key, 0) + 1
                    continue
                if not self.affinity_allows(pod, node):
                    key = "node(s) didn't match Pod's node affinity/selector"
                    reasons[key] = reasons.get(key, 0) + 1
                    continue
                allocatable = (node.get("status") or {}).get("allocatable") or {}
                count, cpu, mem = usage.get(name, [0, 0.0, 0.0])
                if count + 1 > int(allocatable.get("pods", 110)):
                    reasons["Too many pods"] = reasons.get("Too many pods", 0) + 1
                    continue
                if cpu + want_cpu > float(quantity.parse(allocatable.get("cpu", "0"))):
                    reasons["Insufficient cpu"] = reasons.get("Insufficient cpu", 0) + 1
                    continue
                if mem + want_mem > float(quantity.parse(allocatable.get("memory", "0"))):
                    reasons["Insufficient memory"] = reasons.get("Insufficient memory", 0) + 1
                    continue
                score = cpu / max(float(quantity.parse(allocatable.get("cpu", "1"))), 0.001) + count / 1000
                candidates.append((score, int(hashlib.md5(meta["uid"].encode() + name.encode()).hexdigest()[:4], 16), name))
        if not candidates:
            if claim_problem:
                message = f"0/{len(nodes)} nodes are available: {claim_problem}. preemption: 0/{len(nodes)} nodes are available: " \
                          f"{len(nodes)} Preemption is not helpful for scheduling."
            else:
                detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "no nodes available to schedule pods"
                message = f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/{len(nodes)} nodes are available: " \
                          f"{len(nodes)} Preemption is not helpful for scheduling."
            status = dict(pod.get("status") or {})
            wanted = condition("PodScheduled", "False", "Unschedulable", message)
            current = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
            if current.get("message") != message or status.get("phase") != "Pending":
                status.update(phase="Pending", qosClass=qos_class(pod), conditions=set_condition(status.get("conditions"), wanted))
                self.store.update(R["pods"], meta["namespace"], meta["name"], {"status": status}, status_only=True)
                self.event(pod, "FailedScheduling", message, "Warning", "default-scheduler")
            self.wake(("pods", meta["namespace"], meta["name"]), self.clock.now() + 5)
            return
        node = min(candidates)[2]

        def bind(obj):
            obj["spec"]["nodeName"] = node
            obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj),
                             "conditions": [condition("PodScheduled", "True")]}
        self.store.mutate(R["pods"], meta["namespace"], meta["name"], bind, keep_status=True)
        self.event(pod, "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}", "Normal", "default-scheduler")

    def sync_pending_pods(self, key):
        for pod in self.store.iter_refs(R["pods"], key[1]):
            if not (pod.get("spec") or {}).get("nodeName") and pod_active(pod):
                self.dirty.add(("pods", key[1], pod["metadata"]["name"]))

    def pod_ip(self, node):
        index = int(node.rsplit("-", 1)[-1]) if node.rsplit("-", 1)[-1].isdigit() else 0
        n = self.ip_counters.get(node, 1) + 1
        self.ip_counters[node] = n
        return f"10.244.{index}.{n % 250 + 2}" if n < 250 else f"10.{244 + n // 62500}.{index}.{n % 250 + 2}"

    def sync_pods(self, key):
        store = self.store
        pod = store.get_ref(R["pods"], key[1], key[2])
        if pod is None:
            return
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        now = self.clock.now()
        if (meta.get("labels") or {}).get("sandbox.k8s.io/bulk") == "true" and not meta.get("deletionTimestamp"):
            return  # bulk-loaded pods are already running; their status belongs to the benchmark that drives them
        if meta.get("deletionTimestamp"):
            run = self.pods.get(uid)
            if run is None or run.stage != "terminating":
                run = run or PodRun(now)
                run.stage, run.since = "terminating", now
                self.pods[uid] = run
                for container in spec.get("containers") or []:
                    self.event(pod, "Killing", f"Stopping container {container.get('name')}", "Normal", "kubelet",
                               spec.get("nodeName"), f"spec.containers{{{container.get('name')}}}")
            due = run.since + min(self.delays["terminate"], meta.get("deletionGracePeriodSeconds") or 0)
            if now >= due or not self.node_is_ready(spec.get("nodeName") or ""):
                if not meta.get("finalizers"):
                    try:
                        store.delete(R["pods"], key[1], key[2], grace_period=0)
                    except ApiError:
                        pass
                self.pods.pop(uid, None)
            else:
                self.wake(key, due)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") and uid not in self.pods:
            return
        if not spec.get("nodeName"):
            created = self.pods.setdefault(uid, PodRun(now))
            if now - created.bound_at < self.delays["schedule"]:
                self.wake(key, created.bound_at + self.delays["schedule"])
                return
            self.pods.pop(uid, None)
            self.schedule(pod)
            return
        self.kubelet(pod, now)

    def kubelet(self, pod, now):
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid, key = meta["uid"], ("pods", meta["namespace"], meta["name"])
        node = spec["nodeName"]
        run = self.pods.get(uid)
        status = pod.get("status") or {}
        if run is None:
            run = PodRun(now)
            self.pods[uid] = run
            if status.get("phase") == "Running":  # a pod we did not start (restart of the controllers, bulk load)
                run.stage, run.since, run.ready_since = "running", now - 3600, now - 3600
                run.started_iso = status.get("startTime") or now_iso()
                run.run_started = now - 3600
                run.ip = status.get("podIP")
                run.events_sent.add("started")
            else:
                for container in spec.get("containers") or []:
                    self.event(pod, "Pulling", f'Pulling image "{container.get("image")}"', "Normal", "kubelet", node,
                               f"spec.containers{{{container.get('name')}}}")
        run.node = node
        fault = self.pod_faults.get((meta["namespace"], meta["name"]))
        node_ready = self.node_is_ready(node)
        job_like = spec.get("restartPolicy") in ("Never", "OnFailure")
        pull = self.delays["pull"] * (4 if fault == "slow" else 1)
        # advance through every transition that is due
        for _ in range(20):
            if run.stage == "pulling":
                if not node_ready:
                    break
                due = run.since + pull
                if now < due:
                    self.wake(key, due)
                    break
                run.stage, run.since, run.run_started = "running", due, due
                run.started_iso = run.started_iso or now_iso()
                run.ip = run.ip or (status.get("podIP") or (self.node_ip(node) if spec.get("hostNetwork") else self.pod_ip(node)))
                for container in spec.get("containers") or []:
                    path = f"spec.containers{{{container.get('name')}}}"
                    if run.restarts == 0:
                        self.event(pod, "Pulled", f'Successfully pulled image "{container.get("image")}" in 1.2s (1.2s including waiting). Image size: 52428800 bytes.',
                                   "Normal", "kubelet", node, path)
                    self.event(pod, "Created", f"Created container: {container.get('name')}", "Normal", "kubelet", node, path)
                    self.event(pod, "Started", f"Started container {container.get('name')}", "Normal", "kubelet", node, path)
            elif run.stage == "running":
                if fault in ("crash", "fail") or (job_like and run_seconds(pod, self.delays) is not None):
                    if fault in ("crash", "fail"):
                        due = run.since + self.delays["crash_after"]
                        exit_code = 1
                    else:
                        due = run.since + run_seconds(pod, self.delays)
                        exit_code = int((meta.get("annotations") or {}).get("sandbox.k8s.io/exit-code", "0"))
                    if now < due:
                        self.wake(key, due)
                        break
                    run.exit_code = exit_code
                    run.last_exit = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                     "startedAt": run.started_iso, "finishedAt": now_iso(),
                                     "containerID": f"containerd://{safe_hash([uid, run.restarts], 32)}"}
                    run.finished_iso = now_iso()
                    if spec.get("restartPolicy") == "Never" or (spec.get("restartPolicy") == "OnFailure" and exit_code == 0):
                        run.stage, run.since = "terminated", due
                        break
                    run.stage, run.since = "backoff", due
                    run.restarts += 1
                    for container in spec.get("containers") or []:
                        self.event(pod, "BackOff", "Back-off restarting failed container "
                                   f"{container.get('name')} in pod {meta['name']}_{meta['namespace']}({uid})", "Warning", "kubelet",
                                   node, f"spec.containers{{{container.get('name')}}}")
                else:
                    ready_due = run.run_started + self.delays["ready"] * (3 if fault == "slow" else 1)
                    if run.ready_since is None and fault != "unready":
                        if now < ready_due:
                            self.wake(key, ready_due)
                        else:
                            run.ready_since = ready_due
                    if fault == "unready":
                        run.ready_since = None
                        if "unhealthy" not in run.events_sent:
                            run.events_sent.add("unhealthy")
                            self.event(pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                                       "Warning", "kubelet", node)
                    break
            elif run.stage == "backoff":
                delay = min(300.0, self.delays["backoff"] * (2 ** (run.restarts - 1)))
                due = run.since + delay
                if now < due:
                    self.wake(key, due)
                    break
                run.stage, run.since, run.run_started, run.ready_since = "running", due, due, None
                run.started_iso = now_iso()
                for container in spec.get("containers") or []:
                    path = f"spec.containers{{{container.get('name')}}}"
                    self.event(pod, "Pulled", f'Container image "{container.get("image")}" already present on machine', "Normal", "kubelet", node, path)
                    self.event(pod, "Started", f"Started container {container.get('name')}", "Normal", "kubelet", node, path)
            else:
                break
        new_status = self.pod_status(pod, run, fault, node_ready)
        if new_status != status:
            self.store.update(R["pods"], meta["namespace"], meta["name"], {"status": new_status}, status_only=True)

    def node_ip(self, node):
        index = node.rsplit("-", 1)[-1]
        return f"10.0.0.{10 + int(index)}" if index.isdigit() else "10.0.0.10"

    def pod_status(self, pod, run, fault, node_ready):
        spec, old = pod.get("spec") or {}, pod.get("status") or {}
        containers = spec.get("containers") or []
        ready = run.stage == "running" and run.ready_since is not None and node_ready and fault != "unready"
        statuses = []
        for n, container in enumerate(containers):
            cid = f"containerd://{safe_hash([pod['metadata']['uid'], container.get('name'), run.restarts], 32)}"
            image = container.get("image", "")
            entry = {"name": container.get("name"), "image": image if ":" in image.rsplit("/", 1)[-1] or "@" in image else image + ":latest",
                     "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                     "restartCount": run.restarts, "ready": ready, "started": run.stage == "running", "lastState": {}}
            if run.stage == "pulling":
                entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
                entry["imageID"] = ""
            elif run.stage == "running":
                entry["state"] = {"running": {"startedAt": run.started_iso}}
                entry["containerID"] = cid
            elif run.stage == "backoff":
                delay = int(min(300.0, self.delays["backoff"] * (2 ** (run.restarts - 1))))
                entry["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                              "message": f"back-off {delay}s restarting failed container={container.get('name')} "
                                                         f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})"}}
                entry["containerID"] = cid
            elif run.stage == "terminated":
                entry["state"] = {"terminated": dict(run.last_exit or {"exitCode": 0, "reason": "Completed"})}
                entry["containerID"] = cid
                entry["started"] = False
            if run.last_exit and run.stage in ("running", "backoff") and run.restarts:
                entry["lastState"] = {"terminated": dict(run.last_exit)}
            entry["volumeMounts"] = [{"name": m.get("name"), "mountPath": m.get("mountPath")} for m in container.get("volumeMounts") or []]
            if not entry["volumeMounts"]:
                del entry["volumeMounts"]
            statuses.append(entry)
        if run.stage == "terminated":
            phase = "Succeeded" if run.exit_code == 0 else "Failed"
        elif run.stage == "pulling":
            phase = "Pending"
        else:
            phase = "Running"
        at = old.get("startTime") or run.started_iso or now_iso()
        conditions = list(old.get("conditions") or [])
        started = run.stage != "pulling"
        for kind, value in (("PodReadyToStartContainers", started or run.stage == "pulling"), ("Initialized", True),
                            ("Ready", ready), ("ContainersReady", ready), ("PodScheduled", True)):
            if phase in ("Succeeded", "Failed") and kind in ("Ready", "ContainersReady"):
                value = False
            reason = "" if value or kind in ("PodReadyToStartContainers", "Initialized", "PodScheduled") else (
                "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady")
            message = "" if not reason or reason == "PodCompleted" else \
                f"containers with unready status: [{' '.join(c.get('name', '') for c in containers)}]"
            conditions = set_condition(conditions, condition(kind, "True" if value else "False", reason, message))
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        conditions.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else 99)
        host_ip = self.node_ip(spec.get("nodeName", ""))
        status = {"phase": phase, "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                  "startTime": at, "containerStatuses": statuses, "qosClass": qos_class(pod)}
        if run.ip and run.stage != "pulling":
            status["podIP"], status["podIPs"] = run.ip, [{"ip": run.ip}]
        elif old.get("podIP"):
            status["podIP"], status["podIPs"] = old["podIP"], old.get("podIPs") or [{"ip": old["podIP"]}]
        return status

    # --- Deployments

    def owned(self, resource, namespace, owner):
        uid = owner["metadata"]["uid"]
        return [o for o in self.store.dependents_of(uid) if o["kind"] == resource.kind and controller_uid(o) == uid]

    def sync_deployments(self, key):
        store = self.store
        deployment = store.get_ref(R["deployments"], key[1], key[2])
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        namespace = meta["namespace"]
        wanted = spec.get("replicas", 1)
        template = spec.get("template") or {}
        wanted_key = template_key(template)
        replicasets = self.owned(R["replicasets"], namespace, deployment)
        revision = lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)  # noqa: E731
        max_revision = max((revision(rs) for rs in replicasets), default=0)
        new_rs = next((rs for rs in replicasets if template_key(rs["spec"].get("template")) == wanted_key), None)
        old_rses = [rs for rs in replicasets if rs is not new_rs]
        paused = bool(spec.get("paused"))
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_surge = resolve_percent(rolling.get("maxSurge", "25%"), wanted, True) if strategy == "RollingUpdate" else 0
        max_unavailable = resolve_percent(rolling.get("maxUnavailable", "25%"), wanted, False) if strategy == "RollingUpdate" else wanted
        if strategy == "RollingUpdate" and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        annotations_wanted = {}
        if not paused:
            if new_rs is None:
                pod_hash = safe_hash([wanted_key, (deployment.get("status") or {}).get("collisionCount", 0)])
                labels = dict((template.get("metadata") or {}).get("labels") or {})
                labels[HASH_LABEL] = pod_hash
                rs_template = json.loads(json.dumps(template))
                rs_template.setdefault("metadata", {})["labels"] = labels
                selector = json.loads(json.dumps(spec.get("selector") or {}))
                selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
                rs_annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != "kubectl.kubernetes.io/last-applied-configuration"
                                  and not k.startswith("deployment.kubernetes.io/")}
                rs_annotations.update({REVISION: str(max_revision + 1), "deployment.kubernetes.io/desired-replicas": str(wanted),
                                       "deployment.kubernetes.io/max-replicas": str(wanted + max_surge)})
                if strategy == "Recreate":
                    initial = 0 if any(rs["spec"].get("replicas") or (rs.get("status") or {}).get("replicas") for rs in old_rses) else wanted
                else:
                    total = sum(rs["spec"].get("replicas", 0) for rs in old_rses)
                    initial = max(0, min(wanted, wanted + max_surge - total)) if old_rses else wanted
                try:
                    new_rs = store.create(R["replicasets"], namespace, {
                        "metadata": {"name": f"{meta['name']}-{pod_hash}", "labels": labels, "annotations": rs_annotations,
                                     "ownerReferences": [owner_ref(deployment)]},
                        "spec": {"replicas": initial, "minReadySeconds": spec.get("minReadySeconds", 0), "selector": selector,
                                 "template": rs_template}})
                except ApiError as exc:
                    if exc.code == 409:  # a name clash with a foreign ReplicaSet: bump collisionCount
                        store.mutate(R["deployments"], namespace, meta["name"], lambda d: d.setdefault("status", {}).update(
                            collisionCount=(d["status"].get("collisionCount") or 0) + 1), status_only=True)
                    return
                self.event(deployment, "ScalingReplicaSet", f"Scaled up replica set {new_rs['metadata']['name']} from 0 to {initial}",
                           "Normal", "deployment-controller")
                max_revision += 1
            elif revision(new_rs) < max_revision:  # a rollback or a return to an older template: it becomes the newest revision
                old_revision = revision(new_rs)

                def bump(rs, old_revision=old_revision, new_revision=max_revision + 1):
                    annotations = rs["metadata"].setdefault("annotations", {})
                    history = [h for h in (annotations.get("deployment.kubernetes.io/revision-history") or "").split(",") if h]
                    annotations["deployment.kubernetes.io/revision-history"] = ",".join(history + [str(old_revision)])
                    annotations[REVISION] = str(new_revision)
                new_rs = store.mutate(R["replicasets"], namespace, new_rs["metadata"]["name"], bump) or new_rs
                max_revision += 1
            annotations_wanted[REVISION] = str(revision(new_rs))
            # scale
            self.scale_deployment(deployment, new_rs, old_rses, wanted, strategy, max_surge, max_unavailable)
            self.cleanup_history(deployment, [rs for rs in self.owned(R["replicasets"], namespace, deployment)
                                              if rs["metadata"]["name"] != new_rs["metadata"]["name"]])
        elif new_rs is not None and not old_rses and new_rs["spec"].get("replicas") != wanted:
            self.scale_rs(deployment, new_rs, wanted)  # paused deployments still scale
        if annotations_wanted and any((meta.get("annotations") or {}).get(k) != v for k, v in annotations_wanted.items()):
            def annotate(d):
                d["metadata"].setdefault("annotations", {}).update(annotations_wanted)
            store.mutate(R["deployments"], namespace, meta["name"], annotate)
        self.deployment_status(key, max_unavailable)

    def scale_rs(self, owner, rs, replicas):
        old = rs["spec"].get("replicas", 0)
        if old == replicas:
            return rs

        def change(obj):
            obj["spec"]["replicas"] = replicas
            obj["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(owner["spec"].get("replicas", 1))
        updated = self.store.mutate(R["replicasets"], rs["metadata"]["namespace"], rs["metadata"]["name"], change)
        self.event(owner, "ScalingReplicaSet", f"Scaled {'up' if replicas > old else 'down'} replica set {rs['metadata']['name']} "
                   f"from {old} to {replicas}", "Normal", "deployment-controller")
        return updated or rs

    def scale_deployment(self, deployment, new_rs, old_rses, wanted, strategy, max_surge, max_unavailable):
        def available(rs):
            return (rs.get("status") or {}).get("availableReplicas", 0)

        def current(rs):
            return (rs.get("status") or {}).get("replicas", 0)

        if strategy == "Recreate":
            for rs in old_rses:
                if rs["spec"].get("replicas"):
                    self.scale_rs(deployment, rs, 0)
            if any(current(rs) for rs in old_rses) or any(rs["spec"].get("replicas") for rs in old_rses):
                return
            if new_rs["spec"].get("replicas") != wanted:
                self.scale_rs(deployment, new_rs, wanted)
            return
        active_old = [rs for rs in old_rses if rs["spec"].get("replicas") or current(rs)]
        if not active_old:
            if new_rs["spec"].get("replicas") != wanted:
                self.scale_rs(deployment, new_rs, wanted)
            return
        # scale up the new ReplicaSet within maxSurge
        total = new_rs["spec"].get("replicas", 0) + sum(rs["spec"].get("replicas", 0) for rs in old_rses)
        new_replicas = new_rs["spec"].get("replicas", 0)
        if new_replicas < wanted:
            room = wanted + max_surge - total
            if room > 0:
                new_rs = self.scale_rs(deployment, new_rs, min(wanted, new_replicas + room))
        elif new_replicas > wanted:
            new_rs = self.scale_rs(deployment, new_rs, wanted)
        # scale down old ReplicaSets within maxUnavailable
        min_available = wanted - max_unavailable
        all_available = available(new_rs) + sum(available(rs) for rs in old_rses)
        new_unavailable = max(0, new_rs["spec"].get("replicas", 0) - available(new_rs))
        budget = all_available - min_available - new_unavailable
        # old pods that are not available can go at once
        for rs in sorted(old_rses, key=lambda r: r["metadata"]["creationTimestamp"]):
            replicas = rs["spec"].get("replicas", 0)
            unhealthy = max(0, replicas - available(rs))
            cut = unhealthy
            if budget > 0:
                extra = min(budget, replicas - cut)
                cut += extra
                budget -= extra
            if cut > 0:
                self.scale_rs(deployment, rs, replicas - cut)

    def cleanup_history(self, deployment, old_rses):
        limit = (deployment.get("spec") or {}).get("revisionHistoryLimit", 10)
        idle = [rs for rs in old_rses if not rs["spec"].get("replicas") and not (rs.get("status") or {}).get("replicas")
                and not rs["metadata"].get("deletionTimestamp")]
        idle.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0))
        for rs in idle[: max(0, len(idle) - limit)]:
            try:
                self.store.delete(R["replicasets"], rs["metadata"]["namespace"], rs["metadata"]["name"])
            except ApiError:
                pass

    def deployment_status(self, key, max_unavailable):
        store = self.store
        deployment = store.get_ref(R["deployments"], key[1], key[2])
        if deployment is None:
            return
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        wanted = spec.get("replicas", 1)
        template_now = template_key(spec.get("template"))
        replicasets = self.owned(R["replicasets"], key[1], deployment)
        new_rs = next((rs for rs in replicasets if template_key(rs["spec"].get("template")) == template_now), None)

        def st(rs, field):
            return (rs.get("status") or {}).get(field, 0)
        replicas = sum(st(rs, "replicas") for rs in replicasets)
        updated = st(new_rs, "replicas") if new_rs else 0
        ready = sum(st(rs, "readyReplicas") for rs in replicasets)
        available = sum(st(rs, "availableReplicas") for rs in replicasets)
        old = deployment.get("status") or {}
        conditions = old.get("conditions") or []
        now = now_iso()
        if available >= wanted - max_unavailable:
            conditions = set_condition(conditions, condition("Available", "True", "MinimumReplicasAvailable",
                                                             "Deployment has minimum availability.", now, lastUpdateTime=now), "lastUpdateTime")
        else:
            conditions = set_condition(conditions, condition("Available", "False", "MinimumReplicasUnavailable",
                                                             "Deployment does not have minimum availability.", now, lastUpdateTime=now), "lastUpdateTime")
        rs_name = new_rs["metadata"]["name"] if new_rs else meta["name"]
        complete = new_rs is not None and updated == wanted and replicas == wanted and available >= wanted and \
            st(new_rs, "availableReplicas") >= wanted
        previous = next((c for c in conditions if c["type"] == "Progressing"), None)
        if spec.get("paused"):
            progressing = condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now, lastUpdateTime=now)
        elif complete:
            progressing = condition("Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.',
                                    now, lastUpdateTime=now)
        else:
            progressing = condition("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', now, lastUpdateTime=now)
            deadline = spec.get("progressDeadlineSeconds", 600)
            if previous and previous.get("reason") == "ProgressDeadlineExceeded":
                progressing = previous
            elif previous and previous.get("reason") == "ReplicaSetUpdated" and previous.get("message") == progressing["message"]:
                since = datetime.strptime(previous.get("lastUpdateTime", now), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                if (datetime.now(timezone.utc) - since).total_seconds() * self.clock.speed > deadline:
                    progressing = condition("Progressing", "False", "ProgressDeadlineExceeded",
                                            f'ReplicaSet "{rs_name}" has timed out progressing.', now, lastUpdateTime=now)
            elif previous is None and new_rs is not None and st(new_rs, "replicas") == 0:
                progressing = condition("Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"', now, lastUpdateTime=now)
        conditions = set_condition(conditions, progressing, "lastUpdateTime")
        status = {"observedGeneration": meta.get("generation", 1), "replicas": replicas, "updatedReplicas": updated,
                  "readyReplicas": ready, "availableReplicas": available, "unavailableReplicas": max(0, replicas - available) if replicas > wanted else max(0, wanted - available),
                  "conditions": conditions}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        for field in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas"):
            if not status[field]:
                del status[field]
        if status != old:
            store.update(R["deployments"], key[1], key[2], {"status": status}, status_only=True)

    # --- ReplicaSets

    def new_pod(self, owner, template, name=None, generate=None, extra_labels=None, extra_spec=None):
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.update(extra_labels or {})
        metadata = {"labels": labels, "ownerReferences": [owner_ref(owner)]}
        annotations = dict((template.get("metadata") or {}).get("annotations") or {})
        if annotations:
            metadata["annotations"] = annotations
        if name:
            metadata["name"] = name
        else:
            metadata["generateName"] = generate
        spec = json.loads(json.dumps(template.get("spec") or {}))
        spec.update(extra_spec or {})
        return self.store.create(R["pods"], owner["metadata"]["namespace"], {"metadata": metadata, "spec": spec})

    def sync_replicasets(self, key):
        store = self.store
        rs = store.get_ref(R["replicasets"], key[1], key[2])
        if rs is None:
            return
        meta, spec = rs["metadata"], rs.get("spec") or {}
        pods = [p for p in self.owned(R["pods"], key[1], rs) if pod_active(p)]
        wanted = spec.get("replicas", 1)
        if not meta.get("deletionTimestamp"):
            if len(pods) < wanted:
                for _ in range(wanted - len(pods)):
                    try:
                        pod = self.new_pod(rs, spec.get("template") or {}, generate=meta["name"] + "-")
                    except ApiError as exc:
                        self.event(rs, "FailedCreate", f"Error creating: {exc.message}", "Warning", "replicaset-controller",
                                   aggregate=True)
                        break
                    self.event(rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", "Normal", "replicaset-controller")
            elif len(pods) > wanted:
                rank = lambda p: (bool((p.get("spec") or {}).get("nodeName")), (p.get("status") or {}).get("phase") == "Running",  # noqa: E731
                                  pod_ready(p), -time_of(p["metadata"]["creationTimestamp"]), p["metadata"]["name"])
                for pod in sorted(pods, key=rank)[: len(pods) - wanted]:
                    try:
                        store.delete(R["pods"], key[1], pod["metadata"]["name"])
                    except ApiError:
                        continue
                    self.event(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", "Normal", "replicaset-controller")
        pods = [p for p in self.owned(R["pods"], key[1], rs) if pod_active(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        status = {"replicas": len(pods), "fullyLabeledReplicas": sum(1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())),
                  "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": meta.get("generation", 1)}
        for field in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[field]:
                del status[field]
        if status != (rs.get("status") or {}):
            store.update(R["replicasets"], key[1], key[2], {"status": status}, status_only=True)

    # --- StatefulSets

    def revision_for(self, owner, template, kind_label="controller-revision-hash"):
        """The ControllerRevision holding this template (created when new): (name, revision number)."""
        namespace, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
        digest = safe_hash(template_key(template), 10)
        rev_name = f"{name}-{digest}"
        revisions = self.owned(R["controllerrevisions"], namespace, owner)
        existing = next((r for r in revisions if r["metadata"]["name"] == rev_name), None)
        if existing:
            return rev_name, existing.get("revision", 1)
        number = max((r.get("revision", 0) for r in revisions), default=0) + 1
        try:
            self.store.create(R["controllerrevisions"], namespace, {
                "metadata": {"name": rev_name, "labels": dict((template.get("metadata") or {}).get("labels") or {}, **{kind_label: digest}),
                             "ownerReferences": [owner_ref(owner)]},
                "data": {"spec": {"template": dict(template, **{"$patch": "replace"})}}, "revision": number})
        except ApiError:
            pass
        limit = (owner.get("spec") or {}).get("revisionHistoryLimit", 10)
        for old in sorted(revisions, key=lambda r: r.get("revision", 0))[: max(0, len(revisions) + 1 - limit - 1)]:
            try:
                self.store.delete(R["controllerrevisions"], namespace, old["metadata"]["name"])
            except ApiError:
                pass
        return rev_name, number

    def sync_statefulsets(self, key):
        store = self.store
        sts = store.get_ref(R["statefulsets"], key[1], key[2])
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        meta, spec = sts["metadata"], sts.get("spec") or {}
        namespace, name = key[1], key[2]
        wanted = spec.get("replicas", 1)
        template = spec.get("template") or {}
        update_revision, _ = self.revision_for(sts, template)
        old_status = sts.get("status") or {}
        current_revision = old_status.get("currentRevision") or update_revision
        pods = {p["metadata"]["name"]: p for p in self.owned(R["pods"], namespace, sts)}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        # claims first, then pods in order
        for i in range(wanted):
            pod_name = f"{name}-{i}"
            for claim in spec.get("volumeClaimTemplates") or []:
                claim_name = f"{claim['metadata']['name']}-{pod_name}"
                if not store.exists(R["persistentvolumeclaims"], namespace, claim_name):
                    labels = dict((template.get("metadata") or {}).get("labels") or {})
                    labels.update((claim.get("metadata") or {}).get("labels") or {})
                    try:
                        store.create(R["persistentvolumeclaims"], namespace, {
                            "metadata": {"name": claim_name, "labels": labels},
                            "spec": json.loads(json.dumps(claim.get("spec") or {}))})
                        self.event(sts, "SuccessfulCreate", f"create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success",
                                   "Normal", "statefulset-controller")
                    except ApiError as exc:
                        self.event(sts, "FailedCreate", f"create Claim {claim_name} for Pod {pod_name} in StatefulSet {name} failed "
                                   f"error: {exc.message}", "Warning", "statefulset-controller")
            pod = pods.get(pod_name)
            if pod is None:
                volumes = list((template.get("spec") or {}).get("volumes") or [])
                for claim in spec.get("volumeClaimTemplates") or []:
                    volumes = [v for v in volumes if v.get("name") != claim["metadata"]["name"]]
                    volumes.append({"name": claim["metadata"]["name"],
                                    "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{pod_name}"}})
                extra_spec = {"hostname": pod_name}
                if spec.get("serviceName"):
                    extra_spec["subdomain"] = spec["serviceName"]
                if volumes:
                    extra_spec["volumes"] = volumes
                try:
                    self.new_pod(sts, template, name=pod_name, extra_labels={
                        "controller-revision-hash": update_revision, "statefulset.kubernetes.io/pod-name": pod_name,
                        "apps.kubernetes.io/pod-index": str(i)}, extra_spec=extra_spec)
                    self.event(sts, "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {name} successful", "Normal", "statefulset-controller")
                except ApiError as exc:
                    self.event(sts, "FailedCreate", f"create Pod {pod_name} in StatefulSet {name} failed error: {exc.message}",
                               "Warning", "statefulset-controller")
                if not parallel:
                    break
            elif not parallel and (not pod_ready(pod) or pod["metadata"].get("deletionTimestamp")):
                break
        # scale down from the highest ordinal, one at a time
        extra = sorted((p for n, p in pods.items() if ordinal(n, name) >= wanted), key=lambda p: -ordinal(p["metadata"]["name"], name))
        if extra and (parallel or not any(p["metadata"].get("deletionTimestamp") for p in pods.values())):
            for pod in extra if parallel else extra[:1]:
                if not pod["metadata"].get("deletionTimestamp"):
                    store.delete(R["pods"], namespace, pod["metadata"]["name"])
                    self.event(sts, "SuccessfulDelete", f"delete Pod {pod['metadata']['name']} in StatefulSet {name} successful",
                               "Normal", "statefulset-controller")
        # rolling update: replace pods at an old revision from the highest ordinal, when everything is ready
        pods = {p["metadata"]["name"]: p for p in self.owned(R["pods"], namespace, sts)}
        in_range = [pods[f"{name}-{i}"] for i in range(wanted) if f"{name}-{i}" in pods]
        strategy = spec.get("updateStrategy") or {}
        partition = ((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and len(in_range) == wanted and \
                all(pod_ready(p) and not p["metadata"].get("deletionTimestamp") for p in in_range):
            stale = [p for p in in_range if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != update_revision
                     and ordinal(p["metadata"]["name"], name) >= partition]
            if stale:
                victim = max(stale, key=lambda p: ordinal(p["metadata"]["name"], name))
                store.delete(R["pods"], namespace, victim["metadata"]["name"])
                self.event(sts, "SuccessfulDelete", f"delete Pod {victim['metadata']['name']} in StatefulSet {name} successful",
                           "Normal", "statefulset-controller")
        pods = [p for p in self.owned(R["pods"], namespace, sts)]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        updated = sum(1 for p in live if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == update_revision)
        ready = sum(1 for p in live if pod_ready(p))
        if updated == wanted and ready == wanted and len(live) == wanted:
            current_revision = update_revision
        current = sum(1 for p in live if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == current_revision)
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(live), "readyReplicas": ready,
                  "currentReplicas": current, "updatedReplicas": updated, "availableReplicas": ready,
                  "currentRevision": current_revision, "updateRevision": update_revision, "collisionCount": 0}
        if status != old_status:
            store.update(R["statefulsets"], namespace, name, {"status": status}, status_only=True)

    # --- DaemonSets

    def sync_daemonsets(self, key):
        if key[0] == "@daemonsets":
            for ds in self.store.iter_refs(R["daemonsets"]):
                self.dirty.add(("daemonsets", ds["metadata"]["namespace"], ds["metadata"]["name"]))
            return
        store = self.store
        ds = store.get_ref(R["daemonsets"], key[1], key[2])
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        meta, spec = ds["metadata"], ds.get("spec") or {}
        namespace, name = key[1], key[2]
        template = spec.get("template") or {}
        revision, _ = self.revision_for(ds, template)
        nodes = [n for n in store.iter_refs(R["nodes"]) if self.affinity_allows({"spec": {"nodeSelector": (template.get("spec") or {}).get("nodeSelector")}}, n)]
        pods = [p for p in self.owned(R["pods"], namespace, ds)]
        by_node = {}
        for pod in pods:
            by_node.setdefault(self.ds_node(pod), []).append(pod)
        node_names = {n["metadata"]["name"] for n in nodes}
        for node in sorted(node_names):
            live = [p for p in by_node.get(node, []) if pod_active(p)]
            if not live and not any(p["metadata"].get("deletionTimestamp") for p in by_node.get(node, [])):
                affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
                tolerations = list((template.get("spec") or {}).get("tolerations") or []) + [
                    {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": e} for t, e in (
                        ("not-ready", "NoExecute"), ("unreachable", "NoExecute"), ("disk-pressure", "NoSchedule"),
                        ("memory-pressure", "NoSchedule"), ("pid-pressure", "NoSchedule"), ("unschedulable", "NoSchedule"))]
                try:
                    pod = self.new_pod(ds, template, generate=f"{name}-", extra_labels={"controller-revision-hash": revision,
                                                                                        "pod-template-generation": str(meta.get("generation", 1))},
                                       extra_spec={"affinity": affinity, "tolerations": tolerations})
                    self.event(ds, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", "Normal", "daemonset-controller")
                except ApiError as exc:
                    self.event(ds, "FailedCreate", f"Error creating: {exc.message}", "Warning", "daemonset-controller", aggregate=True)
        for node, node_pods in by_node.items():
            if node not in node_names:
                for pod in node_pods:
                    if not pod["metadata"].get("deletionTimestamp"):
                        store.delete(R["pods"], namespace, pod["metadata"]["name"])
        # rolling update: one stale pod at a time, when all others are ready
        pods = [p for p in self.owned(R["pods"], namespace, ds) if pod_active(p)]
        stale = [p for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != revision]
        if stale and all(pod_ready(p) for p in pods) and not any(p["metadata"].get("deletionTimestamp") for p in self.owned(R["pods"], namespace, ds)):
            store.delete(R["pods"], namespace, stale[0]["metadata"]["name"])
            self.event(ds, "SuccessfulDelete", f"Deleted pod: {stale[0]['metadata']['name']}", "Normal", "daemonset-controller")
        pods = [p for p in self.owned(R["pods"], namespace, ds) if pod_active(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision)
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(node_names), "numberMisscheduled": 0,
                  "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": updated,
                  "observedGeneration": meta.get("generation", 1)}
        if len(node_names) - ready > 0:
            status["numberUnavailable"] = len(node_names) - ready
        if status != (ds.get("status") or {}):
            store.update(R["daemonsets"], namespace, name, {"status": status}, status_only=True)

    @staticmethod
    def ds_node(pod):
        spec = pod.get("spec") or {}
        if spec.get("nodeName"):
            return spec["nodeName"]
        for term in (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []:
            for expr in term.get("matchFields") or []:
                if expr.get("key") == "metadata.name" and expr.get("values"):
                    return expr["values"][0]
        return None

    # --- Jobs and CronJobs

    def sync_jobs(self, key):
        store = self.store
        job = store.get_ref(R["jobs"], key[1], key[2])
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        spec = job.get("spec") or {}
        namespace, name = key[1], key[2]
        old = job.get("status") or {}
        finished = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in old.get("conditions") or [])
        pods = self.owned(R["pods"], namespace, job)
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        active = [p for p in pods if pod_active(p)]
        completions = spec.get("completions", 1)
        parallelism = spec.get("parallelism", 1)
        status = dict(old)
        now = now_iso()
        status.setdefault("startTime", now)
        if finished:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None and old.get("completionTime"):
                done = time_of(old["completionTime"])
                if (time.time() - done) * self.clock.speed >= ttl:
                    store.delete(R["jobs"], namespace, name, "Background")
                else:
                    self.wake(key, self.clock.now() + ttl)
            return
        conditions = list(old.get("conditions") or [])
        if failed > spec.get("backoffLimit", 6):
            for pod in active:
                store.delete(R["pods"], namespace, pod["metadata"]["name"])
            conditions = set_condition(conditions, condition("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now, lastProbeTime=now))
            conditions = set_condition(conditions, condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now, lastProbeTime=now))
            self.event(job, "BackoffLimitExceeded", "Job has reached the specified backoff limit", "Warning", "job-controller")
            active = []
        elif completions is not None and succeeded >= completions:
            conditions = set_condition(conditions, condition("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", now, lastProbeTime=now))
            conditions = set_condition(conditions, condition("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", now, lastProbeTime=now))
            status["completionTime"] = now
            self.event(job, "Completed", "Job completed", "Normal", "job-controller")
        elif not spec.get("suspend"):
            remaining = (completions - succeeded) if completions is not None else parallelism
            want_active = min(parallelism, remaining)
            for _ in range(max(0, want_active - len(active))):
                try:
                    index = None
                    extra = {}
                    if spec.get("completionMode") == "Indexed":
                        used = {(p["metadata"].get("annotations") or {}).get("batch.kubernetes.io/job-completion-index") for p in pods}
                        index = next(str(i) for i in range(completions or 1000) if str(i) not in used)
                        extra = {"batch.kubernetes.io/job-completion-index": index}
                    template = json.loads(json.dumps(spec.get("template") or {}))
                    if index is not None:
                        template.setdefault("metadata", {}).setdefault("annotations", {}).update(extra)
                    pod = self.new_pod(job, template, generate=f"{name}-{index + '-' if index else ''}", extra_labels=extra)
                    self.event(job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", "Normal", "job-controller")
                    active.append(pod)
                except ApiError as exc:
                    self.event(job, "FailedCreate", f"Error creating: {exc.message}", "Warning", "job-controller", aggregate=True)
                    break
        status.update(active=len(active), succeeded=succeeded, failed=failed, conditions=conditions,
                      ready=sum(1 for p in active if pod_ready(p)), terminating=0,
                      uncountedTerminatedPods={})
        for field in ("active", "succeeded", "failed"):
            if not status[field]:
                del status[field]
        if not status["conditions"]:
            del status["conditions"]
        if status != old:
            store.update(R["jobs"], namespace, name, {"status": status}, status_only=True)

    def sync_cronjobs(self, key):
        if key[0] == "@cronjobs":
            return
        store = self.store
        cj = store.get_ref(R["cronjobs"], key[1], key[2])
        if cj is None or cj["metadata"].get("deletionTimestamp"):
            return
        spec = cj.get("spec") or {}
        namespace, name = key[1], key[2]
        old = cj.get("status") or {}
        jobs = self.owned(R["jobs"], namespace, cj)

        def done(job):
            return next((c["type"] for c in (job.get("status") or {}).get("conditions") or []
                         if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"), None)
        running = [j for j in jobs if not done(j) and not j["metadata"].get("deletionTimestamp")]
        status = dict(old)
        status["active"] = [{"kind": "Job", "namespace": namespace, "name": j["metadata"]["name"], "uid": j["metadata"]["uid"],
                             "apiVersion": "batch/v1", "resourceVersion": j["metadata"]["resourceVersion"]} for j in running]
        successes = [j for j in jobs if done(j) == "Complete"]
        if successes:
            status["lastSuccessfulTime"] = max((j.get("status") or {}).get("completionTime", "") for j in successes) or old.get("lastSuccessfulTime")
        now_wall = self.clock.wall()
        last = old.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"]
        last_dt = self.sim_wall_of(last, bool(old.get("lastScheduleTime")))
        try:
            due = cron.next_after(spec.get("schedule", ""), last_dt)
        except cron.CronError:
            return
        if not spec.get("suspend") and due <= now_wall:
            policy = spec.get("concurrencyPolicy", "Allow")
            if policy == "Forbid" and running:
                pass
            else:
                if policy == "Replace":
                    for job in running:
                        store.delete(R["jobs"], namespace, job["metadata"]["name"], "Background")
                        self.event(cj, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}", "Normal", "cronjob-controller")
                scheduled_minutes = int(due.timestamp() // 60)
                job_name = f"{name}-{scheduled_minutes}"
                template = json.loads(json.dumps(spec.get("jobTemplate") or {}))
                job_meta = template.get("metadata") or {}
                job_meta.update(name=job_name, ownerReferences=[owner_ref(cj)])
                job_meta.setdefault("annotations", {})["batch.kubernetes.io/cronjob-scheduled-timestamp"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
                try:
                    job = store.create(R["jobs"], namespace, {"metadata": job_meta, "spec": template.get("spec") or {}})
                    self.event(cj, "SuccessfulCreate", f"Created job {job_name}", "Normal", "cronjob-controller")
                    status["active"].append({"kind": "Job", "namespace": namespace, "name": job_name, "uid": job["metadata"]["uid"],
                                             "apiVersion": "batch/v1", "resourceVersion": job["metadata"]["resourceVersion"]})
                except ApiError as exc:
                    if exc.code != 409:
                        self.event(cj, "FailedCreate", f"Error creating job: {exc.message}", "Warning", "cronjob-controller")
                status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        # history limits
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)), ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            finished = sorted((j for j in jobs if done(j) == kind), key=lambda j: j["metadata"]["creationTimestamp"] + j["metadata"]["name"])
            for job in finished[: max(0, len(finished) - limit)]:
                try:
                    store.delete(R["jobs"], namespace, job["metadata"]["name"], "Background")
                    self.event(cj, "SawCompletedJob" if kind == "Complete" else "SawFailedJob",
                               f"Saw completed job: {job['metadata']['name']}, condition: {kind}", "Normal", "cronjob-controller")
                except ApiError:
                    pass
        if not status["active"]:
            del status["active"]
        if status != old:
            store.update(R["cronjobs"], namespace, name, {"status": status}, status_only=True)
        try:
            upcoming = cron.next_after(spec.get("schedule", ""), self.sim_wall_of(status.get("lastScheduleTime") or last, bool(status.get("lastScheduleTime") or old.get("lastScheduleTime"))))
            self.wake(key, self.clock.now() + max(0.0, (upcoming - now_wall).total_seconds()) + 0.01)
        except cron.CronError:
            pass

    def sim_wall_of(self, stamp, simulated):
        """A timestamp as simulated wall time: schedule times are simulated already; creation times are real."""
        moment = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        if simulated:
            return moment
        real_offset = moment.timestamp() - self.clock.wall0
        sim = real_offset if real_offset <= 0 else self.clock.now() - (time.time() - moment.timestamp()) * self.clock.speed
        return self.clock.wall(sim)

    # --- Services and Endpoints

    def sync_services(self, key):
        store = self.store
        svc = store.get_ref(R["services"], key[1], key[2])
        if svc is None:
            if store.exists(R["endpoints"], key[1], key[2]):
                try:
                    store.delete(R["endpoints"], key[1], key[2])
                except ApiError:
                    pass
            return
        spec = svc.get("spec") or {}
        if spec.get("type") == "LoadBalancer" and not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            due = self.timed.setdefault(("lb", svc["metadata"]["uid"]), self.clock.now() + self.delays["lb"])
            if self.clock.now() >= due:
                octet = 100 + int(hashlib.md5(svc["metadata"]["uid"].encode()).hexdigest()[:2], 16) % 150
                store.update(R["services"], key[1], key[2], {"status": {"loadBalancer": {"ingress": [{"ip": f"172.18.255.{octet}", "ipMode": "VIP"}]}}},
                             status_only=True)
                self.event(svc, "IPAllocated", f"Assigned IP [\"172.18.255.{octet}\"]", "Normal", "metallb-controller")
            else:
                self.wake(key, due)
        self.sync_endpoints_for(svc)

    def sync_endpoints(self, key):
        for svc in self.store.iter_refs(R["services"], key[1]):
            self.sync_endpoints_for(svc)

    def sync_endpoints_for(self, svc):
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            return
        namespace, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        match = selector_matcher({"matchLabels": selector})
        ready, not_ready = [], []
        pods = [p for p in self.store.iter_refs(R["pods"], namespace) if match(p["metadata"].get("labels"))]
        for pod in sorted(pods, key=lambda p: (p.get("status") or {}).get("podIP") or ""):
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or not pod_active(pod):
                continue
            address = {"ip": ip, "nodeName": (pod.get("spec") or {}).get("nodeName"),
                       "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}}
            (ready if pod_ready(pod) else not_ready).append(address)
        ports = []
        sample = pods[0] if pods else None
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str) and sample:
                target = next((p.get("containerPort") for c in (sample.get("spec") or {}).get("containers") or []
                               for p in c.get("ports") or [] if p.get("name") == target), target)
            entry = {"port": target if isinstance(target, int) else port.get("port"), "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry["name"] = port["name"]
            ports.append(entry)
        subsets = []
        if ready or not_ready:
            subset = {"ports": ports}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subsets.append(subset)
        body = {"metadata": {"name": name, "labels": dict(svc["metadata"].get("labels") or {})}, "subsets": subsets}
        current = self.store.get_ref(R["endpoints"], namespace, name)
        if current is None:
            try:
                self.store.create(R["endpoints"], namespace, body)
            except ApiError:
                pass
        elif current.get("subsets", []) != subsets:
            def change(obj):
                obj["subsets"] = subsets
            self.store.mutate(R["endpoints"], namespace, name, change)

    def sync_ingresses(self, key):
        ing = self.store.get_ref(R["ingresses"], key[1], key[2])
        if ing is None or ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        due = self.timed.setdefault(("lb", ing["metadata"]["uid"]), self.clock.now() + self.delays["lb"])
        if self.clock.now() < due:
            self.wake(key, due)
            return
        self.store.update(R["ingresses"], key[1], key[2], {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.11"}]}}}, status_only=True)
        self.event(ing, "Sync", "Scheduled for sync", "Normal", "nginx-ingress-controller")

    # --- storage

    def sync_persistentvolumeclaims(self, key):
        store = self.store
        pvc = store.get_ref(R["persistentvolumeclaims"], key[1], key[2])
        if pvc is None:
            return
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        namespace, name = key[1], key[2]
        if meta.get("deletionTimestamp"):
            self.pvc_protection(pvc)
            return
        if "kubernetes.io/pvc-protection" not in (meta.get("finalizers") or []):
            store.mutate(R["persistentvolumeclaims"], namespace, name,
                         lambda o: o["metadata"].setdefault("finalizers", []).append("kubernetes.io/pvc-protection"))
            return
        status = pvc.get("status") or {}
        requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        if status.get("phase") == "Bound":
            capacity = (status.get("capacity") or {}).get("storage")
            if capacity and quantity.parse(requested) > quantity.parse(capacity):  # expansion
                pv_name = spec.get("volumeName")
                if pv_name and store.exists(R["persistentvolumes"], "", pv_name):
                    store.mutate(R["persistentvolumes"], "", pv_name, lambda pv: pv["spec"].setdefault("capacity", {}).update(storage=requested))
                store.update(R["persistentvolumeclaims"], namespace, name, {"status": dict(status, capacity={"storage": requested})}, status_only=True)
                self.event(pvc, "VolumeResizeSuccessful", "MountVolume.NodeExpandVolume succeeded for volume", "Normal", "kubelet")
            return
        if not status.get("phase"):
            store.update(R["persistentvolumeclaims"], namespace, name, {"status": {"phase": "Pending"}}, status_only=True)
        class_name = spec.get("storageClassName")
        sc = store.get_ref(R["storageclasses"], "", class_name) if class_name else None
        if sc is None:
            message = f'storageclass.storage.k8s.io "{class_name}" not found' if class_name else \
                "no persistent volumes available for this claim and no storage class is set"
            self.event(pvc, "ProvisioningFailed" if class_name else "FailedBinding", message, "Warning", "persistentvolume-controller")
            return
        source = spec.get("dataSource") or spec.get("dataSourceRef") or {}
        restore_size = None
        if source.get("kind") == "VolumeSnapshot":
            snap = store.get_ref(R["volumesnapshots"], namespace, source.get("name", ""))
            if snap is None or not (snap.get("status") or {}).get("readyToUse"):
                self.event(pvc, "Provisioning", f'External provisioner is provisioning volume for claim "{namespace}/{name}"', "Normal",
                           f"{sc.get('provisioner')}_csi-provisioner")
                return
            restore_size = (snap.get("status") or {}).get("restoreSize")
        due = self.timed.setdefault(("pvc", meta["uid"]), self.clock.now() + self.delays["pvc_bind"])
        if self.clock.now() < due:
            if not status.get("phase"):
                self.event(pvc, "ExternalProvisioning", f"Waiting for a volume to be created either by the external provisioner "
                           f"'{sc.get('provisioner')}' or manually by the system administrator.", "Normal", "persistentvolume-controller")
            self.wake(key, due)
            return
        size = requested
        if restore_size and quantity.parse(restore_size) > quantity.parse(requested):
            size = restore_size
        pv_name = f"pvc-{meta['uid']}"
        if not store.exists(R["persistentvolumes"], "", pv_name):
            store.create(R["persistentvolumes"], "", {
                "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": sc.get("provisioner", ""),
                                                              "volume.kubernetes.io/provisioner-deletion-secret-name": ""},
                             "finalizers": ["kubernetes.io/pv-protection"]},
                "spec": {"capacity": {"storage": size}, "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                         "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"), "storageClassName": class_name,
                         "volumeMode": spec.get("volumeMode", "Filesystem"),
                         "claimRef": {"kind": "PersistentVolumeClaim", "namespace": namespace, "name": name, "uid": meta["uid"],
                                      "apiVersion": "v1", "resourceVersion": meta["resourceVersion"]},
                         "csi": {"driver": sc.get("provisioner", ""), "fsType": "ext4",
                                 "volumeHandle": f"0001-0024-sandbox-ceph-0000000000000001-{meta['uid']}",
                                 "volumeAttributes": {"clusterID": "sandbox-ceph", "pool": "kubernetes", "imageName": f"csi-vol-{meta['uid']}"}}},
                "status": {"phase": "Bound"}})
        self.event(pvc, "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}", "Normal",
                   f"{sc.get('provisioner')}_csi-provisioner")

        def bind(obj):
            obj["spec"]["volumeName"] = pv_name
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations.update({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                                "volume.beta.kubernetes.io/storage-provisioner": sc.get("provisioner", ""),
                                "volume.kubernetes.io/storage-provisioner": sc.get("provisioner", "")})
            obj["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes", ["ReadWriteOnce"]), "capacity": {"storage": size}}
        store.mutate(R["persistentvolumeclaims"], namespace, name, bind, keep_status=True)
        self.dirty.add(("@pending-pods", namespace, ""))

    def sync_pvcs(self, key):
        for pvc in self.store.iter_refs(R["persistentvolumeclaims"], key[1]):
            if (pvc.get("status") or {}).get("phase") != "Bound":
                self.dirty.add(("persistentvolumeclaims", key[1], pvc["metadata"]["name"]))

    def sync_pvc_protection(self, key):
        for pvc in self.store.iter_refs(R["persistentvolumeclaims"], key[1]):
            if pvc["metadata"].get("deletionTimestamp"):
                self.pvc_protection(pvc)

    def pvc_protection(self, pvc):
        namespace, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        in_use = any(pod_active(p) or p["metadata"].get("deletionTimestamp") for p in self.store.iter_refs(R["pods"], namespace)
                     if any((v.get("persistentVolumeClaim") or {}).get("claimName") == name for v in (p.get("spec") or {}).get("volumes") or []))
        if in_use:
            return
        volume = (pvc.get("spec") or {}).get("volumeName")
        self.store.remove_finalizer(R["persistentvolumeclaims"], namespace, name, "kubernetes.io/pvc-protection")
        pv = self.store.get_ref(R["persistentvolumes"], "", volume) if volume else None
        if pv is not None:
            if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
                try:
                    self.store.delete(R["persistentvolumes"], "", volume)
                    self.store.remove_finalizer(R["persistentvolumes"], "", volume, "kubernetes.io/pv-protection")
                except ApiError:
                    pass
            else:
                self.store.update(R["persistentvolumes"], "", volume, {"status": {"phase": "Released"}}, status_only=True)

    def sync_volumesnapshots(self, key):
        store = self.store
        snap = store.get_ref(R["volumesnapshots"], key[1], key[2])
        if snap is None:
            return
        meta, spec = snap["metadata"], snap.get("spec") or {}
        namespace, name = key[1], key[2]
        status = snap.get("status") or {}
        if meta.get("deletionTimestamp"):
            content_name = status.get("boundVolumeSnapshotContentName")
            if content_name and store.exists(R["volumesnapshotcontents"], "", content_name):
                try:
                    store.delete(R["volumesnapshotcontents"], "", content_name)
                except ApiError:
                    pass
            for finalizer in ("snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
                              "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection"):
                store.remove_finalizer(R["volumesnapshots"], namespace, name, finalizer)
            return
        if status.get("readyToUse"):
            return
        class_name = spec.get("volumeSnapshotClassName")
        if not class_name:
            default = next((c for c in store.iter_refs(R["volumesnapshotclasses"])
                            if (c["metadata"].get("annotations") or {}).get("snapshot.storage.kubernetes.io/is-default-class") == "true"), None)
            if default is None:
                return
            class_name = default["metadata"]["name"]
            store.mutate(R["volumesnapshots"], namespace, name, lambda o: o["spec"].update(volumeSnapshotClassName=class_name))
            return
        snap_class = store.get_ref(R["volumesnapshotclasses"], "", class_name)
        source = (spec.get("source") or {}).get("persistentVolumeClaimName")
        pvc = store.get_ref(R["persistentvolumeclaims"], namespace, source) if source else None
        if snap_class is None or pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
            message = (f'failed to get input parameters to create snapshot {name}: "the snapshot source pvc {source} is not bound"'
                       if pvc is not None else f'failed to get input parameters to create snapshot {name}: '
                       f'"persistentvolumeclaim \\"{source}\\" not found"')
            if status.get("error", {}).get("message") != message:
                store.update(R["volumesnapshots"], namespace, name, {"status": {"readyToUse": False, "error": {"message": message, "time": now_iso()}}},
                             status_only=True)
            return
        content_name = f"snapcontent-{meta['uid']}"
        size = (pvc.get("status") or {}).get("capacity", {}).get("storage", "1Gi")
        if "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection" not in (meta.get("finalizers") or []):
            store.mutate(R["volumesnapshots"], namespace, name, lambda o: o["metadata"].setdefault("finalizers", []).extend([
                "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection", "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection"]))
        if not store.exists(R["volumesnapshotcontents"], "", content_name):
            store.create(R["volumesnapshotcontents"], "", {
                "metadata": {"name": content_name, "finalizers": ["snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"]},
                "spec": {"deletionPolicy": snap_class.get("deletionPolicy", "Delete"), "driver": snap_class.get("driver", ""),
                         "source": {"volumeHandle": ((store.get_ref(R["persistentvolumes"], "", pvc["spec"].get("volumeName", "")) or {})
                                                     .get("spec") or {}).get("csi", {}).get("volumeHandle", "")},
                         "sourceVolumeMode": pvc["spec"].get("volumeMode", "Filesystem"), "volumeSnapshotClassName": class_name,
                         "volumeSnapshotRef": {"kind": "VolumeSnapshot", "namespace": namespace, "name": name, "uid": meta["uid"],
                                               "apiVersion": "snapshot.storage.k8s.io/v1", "resourceVersion": meta["resourceVersion"]}}})
            store.update(R["volumesnapshots"], namespace, name, {"status": {"boundVolumeSnapshotContentName": content_name,
                                                                            "readyToUse": False}}, status_only=True)
            self.event(snap, "CreatingSnapshot", f"Waiting for a snapshot {namespace}/{name} to be created by the CSI driver.", "Normal",
                       "snapshot-controller")
        due = self.timed.setdefault(("snap", meta["uid"]), self.clock.now() + self.delays["snapshot_ready"])
        if self.clock.now() < due:
            self.wake(key, due)
            return
        size_bytes = int(quantity.parse(size))
        created_ns = time.time_ns()
        store.update(R["volumesnapshotcontents"], "", content_name, {"status": {
            "creationTime": created_ns, "readyToUse": True, "restoreSize": size_bytes,
            "snapshotHandle": f"0001-0024-sandbox-ceph-0000000000000001-{meta['uid']}"}}, status_only=True)
        store.update(R["volumesnapshots"], namespace, name, {"status": {
            "boundVolumeSnapshotContentName": content_name, "creationTime": now_iso(), "readyToUse": True,
            "restoreSize": size}}, status_only=True)
        self.event(snap, "SnapshotCreated", f"Snapshot {namespace}/{name} was successfully created by the CSI driver.", "Normal", "snapshot-controller")
        self.event(snap, "SnapshotReady", f"Snapshot {namespace}/{name} is ready to use.", "Normal", "snapshot-controller")
        self.dirty.add(("@pvcs", namespace, ""))

    # --- HPA

    def sync_horizontalpodautoscalers(self, key):
        store = self.store
        hpa = store.get_ref(R["horizontalpodautoscalers"], key[1], key[2])
        if hpa is None:
            return
        meta, spec = hpa["metadata"], hpa.get("spec") or {}
        namespace = key[1]
        now = self.clock.now()
        last = self.hpa_last.get(meta["uid"])
        if last is not None and now - last < self.delays["hpa_sync"]:
            self.wake(key, last + self.delays["hpa_sync"])
            return
        self.hpa_last[meta["uid"]] = now
        ref = spec.get("scaleTargetRef") or {}
        plural = {"Deployment": "deployments", "StatefulSet": "statefulsets", "ReplicaSet": "replicasets"}.get(ref.get("kind"))
        target = store.get_ref(R[plural], namespace, ref.get("name", "")) if plural else None
        old = hpa.get("status") or {}
        at = now_iso()
        conditions = list(old.get("conditions") or [])
        if target is None:
            conditions = set_condition(conditions, condition("AbleToScale", "False", "FailedGetScale",
                                                             f'the HPA controller was unable to get the target\'s current scale: '
                                                             f'{plural or ref.get("kind")} "{ref.get("name")}" not found', at))
            status = dict(old, conditions=conditions, currentReplicas=old.get("currentReplicas", 0), desiredReplicas=old.get("desiredReplicas", 0))
            if status != old:
                store.update(R["horizontalpodautoscalers"], namespace, key[2], {"status": status}, status_only=True)
            self.wake(key, now + self.delays["hpa_sync"])
            return
        current = (target.get("spec") or {}).get("replicas", 1)
        match = selector_matcher((target.get("spec") or {}).get("selector"))
        pods = [p for p in store.iter_refs(R["pods"], namespace) if match(p["metadata"].get("labels")) and pod_active(p)
                and (p.get("status") or {}).get("phase") == "Running"]
        # As the HPA controller does: AbleToScale once the scale was read, then the metrics.
        conditions = set_condition(conditions, condition("AbleToScale", "True", "SucceededGetScale",
                                                         "the HPA controller was able to get the target's current scale", at))
        resource_metrics = [m for m in spec.get("metrics") or [] if m.get("type") == "Resource"]
        statuses, proposals, invalid = [], [], []  # invalid: (resource, error) of metrics that could not be computed
        for metric in resource_metrics:
            resource = (metric.get("resource") or {}).get("name", "cpu")
            target_spec = (metric.get("resource") or {}).get("target") or {}
            utilization = target_spec.get("type", "Utilization") == "Utilization"
            if not self.cluster.metrics.available:
                invalid.append((resource, f"failed to get {resource} {'utilization' if utilization else 'usage'}: unable to get metrics "
                                          f"for resource {resource}: unable to fetch metrics from resource metrics API: {UNAVAILABLE_METRICS}"))
                statuses.append({"type": ""})  # the controller leaves a failed metric's status empty
                continue
            if not pods:
                continue
            usage_total, request_total = 0.0, 0.0
            for pod in pods:
                usage = self.cluster.metrics.pod_usage_totals(pod)
                usage_total += usage[resource]
                requests = container_totals(pod)
                request_total += float(requests.get(f"requests.{resource}", 0))
            average = usage_total / len(pods)
            entry = {"type": "Resource", "resource": {"name": resource, "current": {
                "averageValue": quantity.fmt_cpu(round(average, 3)) if resource == "cpu" else quantity.fmt_bytes(average)}}}
            if utilization:
                lacking = next(((c.get("name"), p["metadata"]["name"]) for p in pods for c in (p.get("spec") or {}).get("containers") or []
                                if not ((c.get("resources") or {}).get("requests") or {}).get(resource)), None)
                if lacking:
                    invalid.append((resource, f"failed to get {resource} utilization: missing request for {resource} in container "
                                              f"{lacking[0]} of Pod {lacking[1]}"))
                    statuses.append({"type": ""})
                    continue
                utilization_now = usage_total / request_total * 100
                entry["resource"]["current"]["averageUtilization"] = int(round(utilization_now))
                ratio = utilization_now / float(target_spec.get("averageUtilization", 80))
                source = f"{resource} resource utilization (percentage of request)"
            else:
                wanted_avg = float(quantity.parse(target_spec.get("averageValue", "0")))
                ratio = average / wanted_avg if wanted_avg else 1.0
                source = f"{resource} resource"
            statuses.append(entry)
            proposal = current if abs(ratio - 1.0) <= 0.1 else math.ceil(ratio * len(pods))
            proposals.append((proposal, source, f"{source} {'above' if proposal > current else 'below'} target"))
        best = max(proposals, key=lambda p: p[0]) if proposals else None
        if invalid and (len(invalid) >= len(resource_metrics) or best is None or best[0] < current):
            # No replica count (or only a smaller one, which the controller does not trust): the
            # scale stays, ScalingActive says why, and the errors become Warning events.
            resource, error = invalid[0]
            conditions = set_condition(conditions, condition("ScalingActive", "False", "FailedGetResourceMetric",
                                                             f"the HPA was unable to compute the replica count: {error}", at))
            self.event(hpa, "FailedGetResourceMetric", error, "Warning", "horizontal-pod-autoscaler")
            self.event(hpa, "FailedComputeMetricsReplicas", f"invalid metrics ({len(invalid)} invalid out of {len(resource_metrics)}), "
                       f"first error is: failed to get {resource} resource metric value: {error}", "Warning", "horizontal-pod-autoscaler")
            status = {"currentReplicas": current, "desiredReplicas": old.get("desiredReplicas", 0), "currentMetrics": statuses,
                      "conditions": conditions, "lastScaleTime": old.get("lastScaleTime"), "observedGeneration": meta.get("generation", 1)}
            status = {k: v for k, v in status.items() if v is not None}
            if status != old:
                store.update(R["horizontalpodautoscalers"], namespace, key[2], {"status": status}, status_only=True)
            self.wake(key, now + self.delays["hpa_sync"])
            return
        minimum, maximum = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
        recommended = best[0] if best else current
        history = self.hpa_recommendations.setdefault(meta["uid"], [])
        history.append((now, recommended))
        window = (((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds"))
        window = 300 if window is None else window
        history[:] = [(t, r) for t, r in history if now - t <= window]
        desired = recommended
        if desired < current:
            desired = max(r for _, r in history)  # scale down to the highest recommendation in the window
        stabilized = desired != recommended
        limited = desired < minimum or desired > maximum
        desired = max(minimum, min(maximum, desired))
        if current == 0 and minimum > 0:
            desired = current  # scaling is disabled while the target is at zero
        if desired != current:
            able = ("SucceededRescale", f"the HPA controller was able to update the target scale to {desired}")
        elif stabilized:
            able = ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
        else:
            able = ("ReadyForNewScale", "recommended size matches current size")
        conditions = set_condition(conditions, condition("AbleToScale", "True", *able, at))
        if best:
            conditions = set_condition(conditions, condition("ScalingActive", "True", "ValidMetricFound",
                                                             f"the HPA was able to successfully calculate a replica count from {best[1]}", at))
        conditions = set_condition(conditions, condition("ScalingLimited", "True" if limited else "False",
                                                         ("TooManyReplicas" if limited and desired == maximum else "TooFewReplicas") if limited else "DesiredWithinRange",
                                                         "the desired replica count is more than the maximum replica count" if limited and desired == maximum
                                                         else "the desired count is within the acceptable range" if not limited else
                                                         "the desired replica count is less than the minimum replica count", at))
        status = {"currentReplicas": current, "desiredReplicas": desired, "currentMetrics": statuses or None, "conditions": conditions}
        if old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if desired != current:
            def scale(obj):
                obj["spec"]["replicas"] = desired
            # through the scale subresource, as the HPA controller does: it then owns spec.replicas
            store.mutate(R[plural], namespace, ref["name"], scale, manager="kube-controller-manager", subresource="scale")
            status["lastScaleTime"] = at
            self.event(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {best[2] if best else 'All metrics below target'}",
                       "Normal", "horizontal-pod-autoscaler")
        status = {k: v for k, v in status.items() if v is not None}
        status["observedGeneration"] = meta.get("generation", 1)
        if status != old:
            store.update(R["horizontalpodautoscalers"], namespace, key[2], {"status": status}, status_only=True)
        self.wake(key, now + self.delays["hpa_sync"])

    # --- quotas and disruption budgets

    def sync_quota(self, key):
        for quota in self.store.iter_refs(R["resourcequotas"], key[1]):
            self.sync_resourcequotas(("resourcequotas", key[1], quota["metadata"]["name"]))

    def sync_resourcequotas(self, key):
        quota = self.store.get_ref(R["resourcequotas"], key[1], key[2])
        if quota is None:
            return
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        used = namespace_usage(self.store, key[1], list(hard))
        status = {"hard": hard, "used": {k: quantity.fmt(k, v) for k, v in used.items()}}
        if status != (quota.get("status") or {}):
            self.store.update(R["resourcequotas"], key[1], key[2], {"status": status}, status_only=True)

    def pdb_numbers(self, pdb):
        namespace = pdb["metadata"]["namespace"]
        spec = pdb.get("spec") or {}
        match = selector_matcher(spec.get("selector") or {})
        pods = [p for p in self.store.iter_refs(R["pods"], namespace) if match(p["metadata"].get("labels")) and pod_active(p)]
        healthy = sum(1 for p in pods if pod_ready(p))
        expected = len(pods)
        if spec.get("minAvailable") is not None:
            desired = resolve_percent(spec["minAvailable"], expected, True)
        elif spec.get("maxUnavailable") is not None:
            desired = max(0, expected - resolve_percent(spec["maxUnavailable"], expected, True))
        else:
            desired = expected
        return healthy, desired, expected

    def sync_poddisruptionbudgets(self, key):
        pdb = self.store.get_ref(R["poddisruptionbudgets"], key[1], key[2])
        if pdb is None:
            return
        healthy, desired, expected = self.pdb_numbers(pdb)
        allowed = max(0, healthy - desired)
        old = pdb.get("status") or {}
        conditions = set_condition(old.get("conditions"), condition(
            "DisruptionAllowed", "True" if allowed else "False", "SufficientPods" if allowed else "InsufficientPods",
            "" if allowed else "", now_iso(), observedGeneration=pdb["metadata"].get("generation", 1)))
        status = {"currentHealthy": healthy, "desiredHealthy": desired, "disruptionsAllowed": allowed, "expectedPods": expected,
                  "observedGeneration": pdb["metadata"].get("generation", 1), "conditions": conditions}
        if status != old:
            self.store.update(R["poddisruptionbudgets"], key[1], key[2], {"status": status}, status_only=True)

    def check_disruption(self, namespace, pod_name):
        pod = self.store.get_ref(R["pods"], namespace, pod_name)
        if pod is None:
            from .errors import not_found
            raise not_found(R["pods"], pod_name)
        for pdb in self.store.iter_refs(R["poddisruptionbudgets"], namespace):
            if not selector_matcher((pdb.get("spec") or {}).get("selector") or {})(pod["metadata"].get("labels")):
                continue
            healthy, desired, _ = self.pdb_numbers(pdb)
            if pod_ready(pod) and healthy - 1 < desired:
                raise ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                               {"causes": [{"reason": "DisruptionBudget", "message": f"The disruption budget {pdb['metadata']['name']} "
                                            f"needs {desired} healthy pods and has {healthy} currently"}]})


def run_seconds(pod, delays):
    annotations = pod["metadata"].get("annotations") or {}
    if "sandbox.k8s.io/run-seconds" in annotations:
        try:
            return float(annotations["sandbox.k8s.io/run-seconds"])
        except ValueError:
            pass
    return delays["job_run"]


def qos_class(pod):
    requests, limits, any_set = [], [], False
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        req, lim = resources.get("requests") or {}, resources.get("limits") or {}
        if req or lim:
            any_set = True
        requests.append(req)
        limits.append(lim)
    if not any_set:
        return "BestEffort"
    guaranteed = all(lim.get("cpu") and lim.get("memory") and (req.get("cpu", lim["cpu"]) == lim["cpu"]) and
                     (req.get("memory", lim["memory"]) == lim["memory"]) for req, lim in zip(requests, limits))
    return "Guaranteed" if guaranteed else "Burstable"


def ordinal(pod_name, set_name):
    suffix = pod_name[len(set_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


def time_of(stamp):
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()

