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
