"""Knobs for tests and benchmarks, from Python (`cluster.<method>(...)`) and over HTTP
(`POST /sandbox/v1/faults` with {"action": "<method>", ...arguments}, `GET /sandbox/v1/stats`,
`GET /sandbox/v1/audit?user=...&verb=...`), with the same bearer token as the Kubernetes API.
RBAC treats them as non-resource paths: the read-only token may GET them, not POST."""

import time
from dataclasses import dataclass

from . import quantity
from .errors import ApiError, bad_request
from .kinds import STORED
from .selectors import label_matcher

R = STORED
POD_FAULTS = (None, "crash", "unready", "slow", "fail")
NODE_FAULTS = (None, "NotReady", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass
class Faults:
    error_rate: float = 0.0  # share of API requests answered with error_code
    error_code: int = 500
    stall_rate: float = 0.0  # share of API requests that wait stall_seconds first
    stall_seconds: float = 0.0
    watch_drop_seconds: float = 0.0  # >0: every watch stream is cut after this many seconds

    def as_dict(self):
        return dict(self.__dict__)


def _rss_bytes():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Knobs:
    HTTP_ACTIONS = (
        "set_clock_speed",
        "set_nodes",
        "set_node_fault",
        "set_node_ready",
        "set_pod_load",
        "set_pod_fault",
        "crash_pod",
        "set_api_faults",
        "clear_faults",
        "drop_watches",
        "bulk_load",
        "generate_pod_updates",
        "stats",
        "seed_demo",
        "set_delays",
        "set_calico",
        "set_metrics_api",
        "set_component_health",
        "set_volume_usage",
        "audit",
        "clear_audit",
    )

    def __init__(self, cluster):
        self.cluster = cluster
        self.pod_load = {}  # (namespace, name) -> {"cpu": cores, "memory": bytes, "latency_ms": ms}
        self.selector_load = []  # (namespace, matcher, selector text, load)

    @property
    def controllers(self):
        return self.cluster.controllers

    # --- time and nodes

    def set_clock_speed(self, speed):
        """Simulated seconds per real second from now on."""
        if float(speed) <= 0:
            raise bad_request("speed must be positive")
        self.controllers.clock.set_speed(float(speed))
        return {"clock_speed": float(speed)}

    def set_delays(self, **delays):
        """Override controller delays (simulated seconds): schedule, pull, ready, terminate, job_run, pvc_bind, ..."""
        unknown = set(delays) - set(self.controllers.delays)
        if unknown:
            raise bad_request(f"unknown delays: {sorted(unknown)}")
        self.controllers.delays.update({k: float(v) for k, v in delays.items()})
        return dict(self.controllers.delays)

    def set_nodes(self, count):
        """Grow or shrink to `count` nodes (sandbox-node-1..count); pods on removed nodes go with them."""
        count = int(count)
        if count < 1:
            raise bad_request("a cluster needs at least one node")
        store = self.cluster.store
        controllers = self.controllers
        for i in range(1, count + 1):
            controllers.add_node(i)
        removed = []
        for node in list(store.iter_refs(R["nodes"])):
            name = node["metadata"]["name"]
            index = name.rsplit("-", 1)[-1]
            if name.startswith("sandbox-node-") and index.isdigit() and int(index) > count:
                store.delete(R["nodes"], "", name)
                removed.append(name)
        if removed:
            for pod in list(store.iter_refs(R["pods"])):
                if (pod.get("spec") or {}).get("nodeName") in removed:
                    try:
                        store.delete(R["pods"], pod["metadata"]["namespace"], pod["metadata"]["name"], grace_period=0)
                    except ApiError:
                        pass
        controllers.node_count = count
        return {"nodes": sorted(n["metadata"]["name"] for n in store.iter_refs(R["nodes"]))}

    def set_node_fault(self, name, fault=None):
        """fault: None (healthy), "NotReady", "MemoryPressure", "DiskPressure" or "PIDPressure"."""
        if fault not in NODE_FAULTS:
            raise bad_request(f"fault must be one of {NODE_FAULTS}")
        if not self.cluster.store.exists(R["nodes"], "", name):
            raise ApiError(404, "NotFound", f'nodes "{name}" not found')
        if fault:
            self.controllers.node_faults[name] = fault
        else:
            self.controllers.node_faults.pop(name, None)
        with self.cluster.store.lock:
            self.controllers.dirty.add(("nodes", "", name))
        return {"node": name, "fault": fault}

    def set_node_ready(self, name, ready=True):
        return self.set_node_fault(name, None if ready else "NotReady")

    # --- pods

    def set_pod_load(self, namespace, name=None, selector=None, cpu=None, memory=None, latency_ms=None):
        """Synthetic usage for a pod (or every pod matching a label selector in the namespace):
        cpu as cores or a quantity ("250m"), memory as bytes or a quantity ("256Mi"), latency in ms (logs)."""
        load = {}
        if cpu is not None:
            load["cpu"] = float(quantity.parse(cpu))
        if memory is not None:
            load["memory"] = float(quantity.parse(memory))
        if latency_ms is not None:
            load["latency_ms"] = float(latency_ms)
        if name:
            self.pod_load[(namespace, name)] = load
        else:
            self.selector_load = [
                entry for entry in self.selector_load if (entry[0], entry[2]) != (namespace, selector or "")
            ]
            self.selector_load.append((namespace, label_matcher(selector or ""), selector or "", load))
        return {"namespace": namespace, "name": name, "selector": selector, "load": load}

    def load_for(self, pod):
        meta = pod["metadata"]
        load = self.pod_load.get((meta.get("namespace"), meta.get("name")))
        if load is not None:
            return load
        for namespace, matcher, _, selector_load in reversed(self.selector_load):
            if namespace == meta.get("namespace") and matcher(meta.get("labels") or {}):
                return selector_load
        return None

    def set_pod_fault(self, namespace, name, fault="crash"):
        """fault: "crash" (exits after crash_after, restarts, CrashLoopBackOff), "fail" (like crash; Jobs fail),
        "unready" (runs, readiness fails), "slow" (pulls and readies 3-4x slower), or None to heal."""
        if fault not in POD_FAULTS:
            raise bad_request(f"fault must be one of {POD_FAULTS}")
        if fault:
            self.controllers.pod_faults[(namespace, name)] = fault
        else:
            self.controllers.pod_faults.pop((namespace, name), None)
        with self.cluster.store.lock:
            self.controllers.dirty.add(("pods", namespace, name))
        return {"namespace": namespace, "name": name, "fault": fault}

    def crash_pod(self, namespace, name):
        return self.set_pod_fault(namespace, name, "crash")

    # --- API server faults

    def set_api_faults(
        self, error_rate=None, error_code=None, stall_rate=None, stall_seconds=None, watch_drop_seconds=None
    ):
        """A share of API requests fails (500/503/429) or stalls; watch streams are cut after N seconds."""
        faults = self.cluster.faults
        for field, value in (
            ("error_rate", error_rate),
            ("error_code", error_code),
            ("stall_rate", stall_rate),
            ("stall_seconds", stall_seconds),
            ("watch_drop_seconds", watch_drop_seconds),
        ):
            if value is not None:
                setattr(faults, field, type(getattr(faults, field))(value))
        return faults.as_dict()

    def clear_faults(self):
        self.cluster.faults = Faults()
        self.cluster.failing = None
        self.controllers.pod_faults.clear()
        for name in list(self.controllers.node_faults):
            self.set_node_fault(name, None)
        return {"cleared": True}

    def drop_watches(self):
        """End every open watch stream now (clients see the connection close and must resume)."""
        count = len(self.cluster.store.subscriptions)
        self.cluster.store.close_watches("dropped by fault injection")
        return {"dropped": count}

    # --- bulk data and event bursts

    def bulk_load(self, namespaces=100, pods_per_namespace=30, prefix="bulk", start=0):
        """Create `namespaces` namespaces (<prefix>-<n>) with `pods_per_namespace` Running pods each, fast:
        objects are complete and served like any other (pods share their immutable spec/status parts)."""
        store, controllers = self.cluster.store, self.controllers
        namespaces, pods_per_namespace = int(namespaces), int(pods_per_namespace)
        began = time.perf_counter()
        nodes = [n["metadata"]["name"] for n in store.iter_refs(R["nodes"])] or ["sandbox-node-1"]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        tolerations = [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ]
        container = {
            "name": "app",
            "image": "registry.local/bulk/app:1.0",
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
        base_spec = {
            "containers": [container],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "terminationGracePeriodSeconds": 30,
            "securityContext": {},
            "enableServiceLinks": True,
            "priority": 0,
            "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": tolerations,
        }
        conditions = [
            {"type": t, "status": "True", "lastTransitionTime": stamp, "lastProbeTime": None}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        specs = {node: dict(base_spec, nodeName=node) for node in nodes}
        statuses = {}
        for node in nodes:
            host_ip = controllers.node_ip(node)
            statuses[node] = {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
        container_status = [
            {
                "name": "app",
                "image": "registry.local/bulk/app:1.0",
                "imageID": "registry.local/bulk/app@sha256:" + "0" * 64,
                "containerID": "containerd://" + "b" * 64,
                "ready": True,
                "started": True,
                "restartCount": 0,
                "lastState": {},
                "state": {"running": {"startedAt": stamp}},
            }
        ]
        label_sets = [
            {"app": f"bulk-{k}", "sandbox.k8s.io/bulk": "true", "tier": "backend" if k % 2 else "frontend"}
            for k in range(10)
        ]
        created = 0
        listeners = store.listeners
        for i in range(start, start + namespaces):
            ns = f"{prefix}-{i}"
            ns_obj = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns, "sandbox.k8s.io/bulk": "true"}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            pods = []
            for j in range(pods_per_namespace):
                node = nodes[(i * pods_per_namespace + j) % len(nodes)]
                ip = f"10.{100 + (created // 65000) % 100}.{(created // 250) % 260 % 256}.{created % 250 + 2}"
                created += 1
                status = {
                    "phase": "Running",
                    "conditions": conditions,
                    "qosClass": "Burstable",
                    "startTime": stamp,
                    "containerStatuses": container_status,
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    **statuses[node],
                }
                pods.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {
                            "name": f"app-{j:05d}",
                            "namespace": ns,
                            "labels": label_sets[j % 10],
                            "creationTimestamp": stamp,
                        },
                        "spec": specs[node],
                        "status": status,
                    }
                )
            with store.lock:
                store.listeners = []  # controllers need not look at bulk pods: they are already running
                try:
                    store.insert_many(R["namespaces"], [ns_obj])
                    store.insert_many(R["pods"], pods)
                finally:
                    store.listeners = listeners
                controllers.dirty.add(("namespaces", "", ns))
        seconds = time.perf_counter() - began
        return {
            "namespaces": namespaces,
            "pods": created,
            "seconds": round(seconds, 3),
            "objects_total": len(store.objects),
            "rss_bytes": _rss_bytes(),
        }

    def generate_pod_updates(self, count=10_000, namespace_prefix=None, namespace=None):
        """A burst of `count` pod status updates as fast as the store takes them (readiness flapping on
        existing pods, round robin), for watch-ingestion benchmarks. Returns the rate achieved."""
        store = self.cluster.store
        pods = R["pods"]
        keys = [
            (("pods",) + key)
            for key in store.keys.get("pods", [])
            if (namespace is None or key[0] == namespace)
            and (namespace_prefix is None or key[0].startswith(namespace_prefix))
        ]
        if not keys:
            raise bad_request("no pods to update")
        began = time.perf_counter()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        done = 0
        for n in range(int(count)):
            key = keys[n % len(keys)]
            current = store.objects.get(key)
            if current is None:
                continue
            status = dict(current.get("status") or {})
            ready = "False" if (n // len(keys)) % 2 == 0 else "True"
            status["conditions"] = [
                {
                    "type": "PodReadyToStartContainers",
                    "status": "True",
                    "lastTransitionTime": stamp,
                    "lastProbeTime": None,
                },
                {"type": "Initialized", "status": "True", "lastTransitionTime": stamp, "lastProbeTime": None},
                {"type": "Ready", "status": ready, "lastTransitionTime": stamp, "lastProbeTime": None},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": stamp, "lastProbeTime": None},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp, "lastProbeTime": None},
            ]
            if store.replace_status_fast(pods, key, status) is not None:
                done += 1
        seconds = time.perf_counter() - began
        return {
            "updates": done,
            "seconds": round(seconds, 3),
            "per_second": round(done / seconds) if seconds else None,
            "resourceVersion": str(store.rv),
        }

    # --- Calico and the audit log

    def set_calico(self, enabled=True):
        """Install (or remove) Calico's CRDs: discovery then lists crd.projectcalico.org/v1."""
        self.cluster.crds.set_calico(bool(enabled))
        return {"calico": bool(enabled)}

    def set_metrics_api(self, enabled=True):
        """Switch metrics.k8s.io off (metrics-server gone: its APIService answers 503, HPAs report
        ScalingActive=False / FailedGetResourceMetric) or back on."""
        self.cluster.metrics.available = bool(enabled)
        return {"metrics_api": self.cluster.metrics.available}

    def set_component_health(self, check, healthy=True, reason="reason withheld"):
        """Make a /readyz or /livez check ("etcd", "informer-sync", ...) fail or pass again."""
        from .api import LIVEZ_CHECKS, READYZ_CHECKS

        if check not in set(READYZ_CHECKS) | set(LIVEZ_CHECKS):
            raise bad_request(f"unknown check {check!r}")
        healthy = str(healthy).lower() not in ("false", "0", "no")
        if healthy:
            self.cluster.metrics.failing_checks.pop(check, None)
        else:
            self.cluster.metrics.failing_checks[check] = str(reason)
        return {"failing": sorted(self.cluster.metrics.failing_checks)}

    def set_volume_usage(self, namespace, claim, used=None):
        """Bytes used on a claim's volume as the kubelet reports it (a quantity or bytes; None: back to default)."""
        if used is None:
            self.cluster.metrics.volume_usage.pop((namespace, claim), None)
        else:
            self.cluster.metrics.volume_usage[(namespace, claim)] = float(quantity.parse(used))
        return {"namespace": namespace, "claim": claim, "used": used}

    def audit(self, limit=None, **match):
        """Audit records (see SandboxCluster.audit_events), filtered by field equality; code as a number."""
        if "code" in match:
            match["code"] = int(match["code"])
        if match.get("impersonatedUser") == "":
            match["impersonatedUser"] = None
        return {"items": self.cluster.audit.query(limit, **match)}

    def clear_audit(self):
        self.cluster.audit.clear()
        return {"cleared": True}

    def seed_demo(self):
        from .demo import seed_demo

        return {"created": seed_demo(self.cluster)}

    def stats(self):
        store = self.cluster.store
        counts = {plural: len(keys) for plural, keys in store.keys.items() if keys}
        return {
            "objects": len(store.objects),
            "by_resource": counts,
            "resourceVersion": str(store.rv),
            "event_window": len(store.events),
            "oldest_watchable_rv": store.oldest_rv,
            "watchers": len(store.subscriptions),
            "rss_bytes": _rss_bytes(),
            "clock_speed": self.controllers.clock.speed,
            "simulated_seconds": round(self.controllers.clock.now(), 1),
            "faults": self.cluster.faults.as_dict(),
            "pod_faults": {f"{k[0]}/{k[1]}": v for k, v in self.controllers.pod_faults.items()},
            "node_faults": dict(self.controllers.node_faults),
            "controller_errors": len(self.controllers.errors),
            "calico": self.cluster.crds.calico_installed(),
            "metrics_api": self.cluster.metrics.available,
            "audit_events": len(self.cluster.audit.events),
        }

    # --- HTTP

    def http(self, method, action, body):
        """GET /sandbox/v1/stats, GET /sandbox/v1/audit?<field>=<value>&limit=N;
        POST /sandbox/v1/faults {"action": ..., ...} (or POST /sandbox/v1/<action> {...})."""
        if method == "GET" and action in ("", "stats"):
            return self.stats()
        if method == "GET" and action == "audit":
            return self.audit(**(body or {}))
        if method != "POST":
            raise ApiError(405, "MethodNotAllowed", "use POST /sandbox/v1/faults with a JSON body")
        body = dict(body or {})
        if action == "faults":
            action = body.pop("action", None)
        if action not in self.HTTP_ACTIONS:
            raise bad_request(f"unknown action {action!r}; one of: {', '.join(self.HTTP_ACTIONS)}")
        try:
            return getattr(self, action)(**body)
        except TypeError as exc:
            raise bad_request(f"bad arguments for {action}: {exc}") from None
