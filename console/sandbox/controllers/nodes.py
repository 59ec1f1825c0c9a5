"""Nodes: registration (sandbox-node-N) and the node lifecycle controller's conditions and
taints, driven by injected node faults and cordoning (spec.unschedulable)."""

import json

from ..kinds import STORED
from ..store import now_iso
from .context import Controller, Key
from .helpers import condition, set_condition

R = STORED
PRESSURES = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "KubeletHasInsufficientMemory"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "KubeletHasDiskPressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "KubeletHasInsufficientPID"),
)
TAINT_PREFIX = "node.kubernetes.io/"
UNSCHEDULABLE_KEY = f"{TAINT_PREFIX}unschedulable"
# TaintNodesByCondition: the NoSchedule taint a condition in this state brings
CONDITION_TAINTS = {
    ("Ready", "False"): "not-ready",
    ("Ready", "Unknown"): "unreachable",
    ("MemoryPressure", "True"): "memory-pressure",
    ("DiskPressure", "True"): "disk-pressure",
    ("PIDPressure", "True"): "pid-pressure",
}


def node_ip(node: str) -> str:
    index = node.rsplit("-", 1)[-1]
    return f"10.0.0.{10 + int(index)}" if index.isdigit() else "10.0.0.10"


class Nodes(Controller):
    def add_node(self, i: int) -> None:
        name = f"sandbox-node-{i}"
        if self.store.exists(R["nodes"], "", name):
            return
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/zone": f"sandbox-{'abc'[(i - 1) % 3]}",
            "topology.kubernetes.io/region": "sandbox",
        }
        if i == 1:
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        capacity = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi", "hugepages-2Mi": "0"}
        at = now_iso()
        self.store.create(
            R["nodes"],
            "",
            {
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {
                        "node.alpha.kubernetes.io/ttl": "0",
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                        "csi.volume.kubernetes.io/nodeid": json.dumps({"rbd.csi.ceph.com": name}),
                    },
                },
                "spec": {
                    "podCIDR": f"10.244.{i}.0/24",
                    "podCIDRs": [f"10.244.{i}.0/24"],
                    "providerID": f"sandbox://{name}",
                },
                "status": {
                    "capacity": capacity,
                    "allocatable": {**capacity, "cpu": "7800m", "memory": "31Gi", "ephemeral-storage": "95Gi"},
                    "conditions": self.node_conditions(name, at),
                    "nodeInfo": {
                        "kubeletVersion": "v1.37.0-sandbox",
                        "kubeProxyVersion": "v1.37.0-sandbox",
                        "containerRuntimeVersion": "containerd://2.1.4",
                        "osImage": "Sandbox Linux 1.0",
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                        "kernelVersion": "6.12.0-sandbox",
                        "bootID": f"boot-{i:04d}",
                        "machineID": f"{i:032x}",
                        "systemUUID": f"00000000-0000-0000-0000-{i:012d}",
                    },
                    "addresses": [
                        {"type": "InternalIP", "address": f"10.0.0.{10 + i}"},
                        {"type": "Hostname", "address": name},
                    ],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "images": [{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320368}],
                },
            },
        )

    def node_conditions(self, name: str, at: str | None = None) -> list[dict]:
        at = at or now_iso()
        fault = self.ctx.node_faults.get(name)
        conditions = []
        for kind, ok_reason, bad_reason in PRESSURES:
            bad = fault == kind
            conditions.append(
                condition(
                    kind,
                    "True" if bad else "False",
                    bad_reason if bad else ok_reason,
                    f"kubelet has {'' if bad else 'no '}{kind[:-8].lower()} pressure",
                    at,
                    lastHeartbeatTime=at,
                )
            )
        if fault == "NotReady":
            conditions.append(
                condition(
                    "Ready",
                    "Unknown",
                    "NodeStatusUnknown",
                    "Kubelet stopped posting node status.",
                    at,
                    lastHeartbeatTime=at,
                )
            )
        else:
            conditions.append(
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", at, lastHeartbeatTime=at)
            )
        return conditions

    def wanted_taints(self, node: dict, conditions: list[dict]) -> list[dict]:
        """The node's taints as the lifecycle controller keeps them: others' taints untouched, its own
        (node.kubernetes.io/...) following the conditions and spec.unschedulable; a NoExecute taint for a
        node that is not ready (with the time it was added, as eviction counts from it)."""
        current = (node.get("spec") or {}).get("taints") or []
        wanted = [
            (f"{TAINT_PREFIX}{CONDITION_TAINTS[c['type'], c['status']]}", "NoSchedule")
            for c in conditions
            if (c["type"], c["status"]) in CONDITION_TAINTS
        ]
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append((UNSCHEDULABLE_KEY, "NoSchedule"))
        wanted += [(key, "NoExecute") for key, _ in wanted if key.endswith(("/not-ready", "/unreachable"))]
        kept = [
            t for t in current if not t.get("key", "").startswith(TAINT_PREFIX) or (t["key"], t.get("effect")) in wanted
        ]
        have = {(t["key"], t.get("effect")) for t in kept}
        added = [
            {"key": key, "effect": effect} | ({"timeAdded": now_iso()} if effect == "NoExecute" else {})
            for key, effect in wanted
            if (key, effect) not in have
        ]
        return kept + added

    def sync(self, key: Key) -> None:
        node = self.ctx.get(key)
        if node is None:
            return
        name = key[2]
        current = (node.get("status") or {}).get("conditions") or []
        merged = list(current)
        for wanted_condition in self.node_conditions(name):
            merged = set_condition(merged, wanted_condition)
        taints = self.wanted_taints(node, merged)
        conditions_changed = [(c["type"], c["status"]) for c in current] != [(c["type"], c["status"]) for c in merged]
        if not conditions_changed and taints == ((node.get("spec") or {}).get("taints") or []):
            return

        def change(obj):
            obj["status"]["conditions"] = merged
            obj["spec"]["taints"] = taints
            if not taints:
                obj["spec"].pop("taints", None)

        self.store.mutate(R["nodes"], "", name, change, keep_status=True)
        if conditions_changed:
            ready = self.ctx.node_faults.get(name) != "NotReady"
            self.ctx.event(
                node,
                "NodeReady" if ready else "NodeNotReady",
                f"Node {name} status is now: {'NodeReady' if ready else 'NodeNotReady'}",
                "Normal",
                "node-controller",
            )
        cordoned = bool((node.get("spec") or {}).get("unschedulable"))
        if cordoned != any(t.get("key") == UNSCHEDULABLE_KEY for t in (node.get("spec") or {}).get("taints") or []):
            status = "NodeNotSchedulable" if cordoned else "NodeSchedulable"
            self.ctx.event(node, status, f"Node {name} status is now: {status}", "Normal", "kubelet", name)
        for pod in self.store.iter_refs(R["pods"]):
            if (pod.get("spec") or {}).get("nodeName") == name:
                self.ctx.mark(("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]))
