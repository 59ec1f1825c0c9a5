"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics from synthetic load.

Each running container uses a share of its requests (or a small default), wobbling slowly
over simulated time; knobs override it per pod (cpu in cores, memory in bytes)."""

import hashlib
import math

from . import quantity
from .kinds import STORED

SYSTEM_CPU, SYSTEM_MEMORY = 0.15, 900 * 2**20  # what the node itself uses
# What client-go makes of the aggregator's 503 for an APIService whose backend is gone
# (metrics-server not installed or down): the text HPAs and `kubectl top` show.
UNAVAILABLE = "the server is currently unable to handle the request (get pods.metrics.k8s.io)"


def _seed(text):
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def cpu_text(cores):
    return f"{max(0, int(cores * 1e9))}n"


def memory_text(amount):
    return f"{max(0, int(amount) // 1024)}Ki"


class Metrics:
    def __init__(self, cluster):
        self.cluster = cluster
        # False: metrics-server is gone (knob set_metrics_api): /apis/metrics.k8s.io/* answers
        # 503 and the HPA controller cannot compute resource metrics
        self.available = True
        # check name -> reason: failing /readyz and /livez checks (knob set_component_health)
        self.failing_checks = {}
        # (namespace, claim) -> bytes used on the volume (knob set_volume_usage)
        self.volume_usage = {}

    def container_usage(self, pod, container, now):
        load = self.cluster.knobs.load_for(pod)
        uid = pod["metadata"]["uid"] + container.get("name", "")
        wobble = 1 + 0.1 * math.sin(now / 30.0 + _seed(uid) * 6.28)
        count = max(1, len((pod.get("spec") or {}).get("containers") or []))
        requests = (container.get("resources") or {}).get("requests") or {}
        if load and load.get("cpu") is not None:
            cpu = float(load["cpu"]) / count
        elif requests.get("cpu"):
            cpu = float(quantity.parse(requests["cpu"])) * (0.1 + 0.2 * _seed(uid + "cpu")) * wobble
        else:
            cpu = (0.001 + 0.02 * _seed(uid + "cpu")) * wobble
        if load and load.get("memory") is not None:
            memory = float(load["memory"]) / count
        elif requests.get("memory"):
            memory = float(quantity.parse(requests["memory"])) * (0.3 + 0.4 * _seed(uid + "mem"))
        else:
            memory = (8 + 120 * _seed(uid + "mem")) * 2**20
        return cpu, memory

    @staticmethod
    def running(pod):
        return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")

    def pod_usage_totals(self, pod):
        now = self.cluster.clock.now()
        cpu = memory = 0.0
        for container in (pod.get("spec") or {}).get("containers") or []:
            c, m = self.container_usage(pod, container, now)
            cpu, memory = cpu + c, memory + m
        return {"cpu": cpu, "memory": memory}

    def pod_metrics(self, pod):
        now = self.cluster.clock.now()
        containers = []
        for container in (pod.get("spec") or {}).get("containers") or []:
            cpu, memory = self.container_usage(pod, container, now)
            containers.append(
                {"name": container.get("name"), "usage": {"cpu": cpu_text(cpu), "memory": memory_text(memory)}}
            )
        meta = pod["metadata"]
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "creationTimestamp": self.cluster.clock.iso(),
                "labels": dict(meta.get("labels") or {}),
            },
            "timestamp": self.cluster.clock.iso(),
            "window": "15.018s",
            "containers": containers,
        }

    def pod(self, namespace, name):
        pod = self.cluster.store.get_ref(STORED["pods"], namespace, name)
        return self.pod_metrics(pod) if pod is not None and self.running(pod) else None

    def pods(self, namespace=""):
        return [self.pod_metrics(p) for p in self.cluster.store.iter_refs(STORED["pods"], namespace) if self.running(p)]

    def node_totals(self):
        totals = {}
        for pod in self.cluster.store.iter_refs(STORED["pods"]):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and self.running(pod):
                usage = self.pod_usage_totals(pod)
                entry = totals.setdefault(node, [0.0, 0.0])
                entry[0] += usage["cpu"]
                entry[1] += usage["memory"]
        return totals

    def node_metrics(self, node, totals):
        name = node["metadata"]["name"]
        cpu, memory = totals.get(name, (0.0, 0.0))
        wobble = 1 + 0.05 * math.sin(self.cluster.clock.now() / 20.0 + _seed(name) * 6.28)
        return {
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": name,
                "creationTimestamp": self.cluster.clock.iso(),
                "labels": dict(node["metadata"].get("labels") or {}),
            },
            "timestamp": self.cluster.clock.iso(),
            "window": "20.05s",
            "usage": {"cpu": cpu_text((cpu + SYSTEM_CPU) * wobble), "memory": memory_text(memory + SYSTEM_MEMORY)},
        }

    def node(self, name):
        node = self.cluster.store.get_ref(STORED["nodes"], "", name)
        if node is None or self.cluster.controllers.node_faults.get(name) == "NotReady":
            return None
        return self.node_metrics(node, self.node_totals())

    def nodes(self):
        totals = self.node_totals()
        return [
            self.node_metrics(n, totals)
            for n in self.cluster.store.iter_refs(STORED["nodes"])
            if self.cluster.controllers.node_faults.get(n["metadata"]["name"]) != "NotReady"
        ]

    # --- the kubelet's /stats/summary (served through the API server's node proxy)

    def volume_used(self, namespace, claim, capacity, uid):
        """Bytes used on a claim's volume: the knob's figure, else a steady share of its capacity."""
        used = self.volume_usage.get((namespace, claim))
        if used is None:
            used = capacity * (0.05 + 0.3 * _seed(uid + "fs"))
        return int(min(max(used, 0), capacity)) if capacity else int(max(used, 0))

    def stats_summary(self, name):
        node = self.cluster.store.get_ref(STORED["nodes"], "", name)
        if node is None:
            return None
        totals = self.node_totals().get(name, (0.0, 0.0))
        now_iso = self.cluster.clock.iso()
        pods = []
        for pod in self.cluster.store.iter_refs(STORED["pods"]):
            if (pod.get("spec") or {}).get("nodeName") != name or not self.running(pod):
                continue
            meta = pod["metadata"]
            volumes = []
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                if not claim:
                    continue
                pvc = self.cluster.store.get_ref(STORED["persistentvolumeclaims"], meta["namespace"], claim)
                if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
                    continue
                capacity = int(quantity.parse(((pvc.get("status") or {}).get("capacity") or {}).get("storage", "0")))
                used = self.volume_used(meta["namespace"], claim, capacity, pvc["metadata"]["uid"])
                volumes.append(
                    {
                        "time": now_iso,
                        "name": volume.get("name"),
                        "pvcRef": {"name": claim, "namespace": meta["namespace"]},
                        "capacityBytes": capacity,
                        "usedBytes": used,
                        "availableBytes": max(capacity - used, 0),
                        "inodes": 1_000_000,
                        "inodesUsed": 1_000 + used // 65536,
                        "inodesFree": 1_000_000 - 1_000 - used // 65536,
                    }
                )
            usage = self.pod_usage_totals(pod)
            pods.append(
                {
                    "podRef": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
                    "startTime": meta.get("creationTimestamp"),
                    "cpu": {"time": now_iso, "usageNanoCores": int(usage["cpu"] * 1e9)},
                    "memory": {"time": now_iso, "workingSetBytes": int(usage["memory"])},
                    **({"volume": volumes} if volumes else {}),
                }
            )
        capacity = (node.get("status") or {}).get("capacity") or {}
        fs_capacity = int(quantity.parse(capacity.get("ephemeral-storage", "100Gi")))
        return {
            "node": {
                "nodeName": name,
                "startTime": node["metadata"].get("creationTimestamp"),
                "cpu": {"time": now_iso, "usageNanoCores": int((totals[0] + SYSTEM_CPU) * 1e9)},
                "memory": {"time": now_iso, "workingSetBytes": int(totals[1] + SYSTEM_MEMORY)},
                "fs": {
                    "time": now_iso,
                    "capacityBytes": fs_capacity,
                    "usedBytes": int(fs_capacity * (0.2 + 0.1 * _seed(name + "fs"))),
                    "availableBytes": int(fs_capacity * (0.8 - 0.1 * _seed(name + "fs"))),
                },
            },
            "pods": pods,
        }
