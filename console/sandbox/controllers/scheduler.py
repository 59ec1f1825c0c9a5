"""The scheduler: binds a pending pod to a ready node its tolerations, node affinity and
claims allow and whose allocatable room fits its requests, or says why none does."""

import hashlib

from .. import quantity
from ..admission import container_totals
from ..kinds import STORED
from .context import Controller, Key
from .helpers import condition, has_condition, pod_active, qos_class, set_condition

R = STORED
UNREACHABLE = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"


def affinity_allows(pod: dict, node: dict) -> bool:
    spec = pod.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    if not required:
        return True
    return any(term_matches(term, node["metadata"]["name"], labels) for term in required)


def term_matches(term: dict, name: str, labels: dict) -> bool:
    for expr in term.get("matchFields") or []:
        if expr.get("key") == "metadata.name" and expr.get("operator") == "In" and name not in expr.get("values", []):
            return False
    for expr in term.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values", [])
        value = labels.get(key)
        if (op == "In" and value not in values) or (op == "NotIn" and value in values) or \
                (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def tolerates(pod: dict, node: dict) -> bool:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any((t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key"))) or
                   (t.get("key") == taint.get("key") and t.get("value") == taint.get("value"))
                   for t in tolerations if not t.get("effect") or t.get("effect") == taint.get("effect")):
            return False
    return True


class Scheduler(Controller):
    def sync_pending(self, key: Key) -> None:
        for pod in self.store.iter_refs(R["pods"], key[1]):
            if not (pod.get("spec") or {}).get("nodeName") and pod_active(pod):
                self.ctx.mark(("pods", key[1], pod["metadata"]["name"]))

    def node_usage(self) -> dict[str, list]:
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

    def unbound_claims(self, pod: dict) -> str | None:
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

    def filter_nodes(self, pod: dict, nodes: list[dict]) -> tuple[list, dict[str, int]]:
        """(candidates as (score, tie-break, node name), {reason a node was left out: how many})."""
        reasons, candidates = {}, []

        def reject(reason):
            reasons[reason] = reasons.get(reason, 0) + 1
        usage = self.node_usage()
        totals = container_totals(pod)
        want_cpu, want_mem = float(totals.get("requests.cpu", 0)), float(totals.get("requests.memory", 0))
        for node in nodes:
            name = node["metadata"]["name"]
            ready = has_condition(node, "Ready")
            if not ready or (node.get("spec") or {}).get("unschedulable"):
                reasons.setdefault(UNREACHABLE if ready is False else "node(s) were unschedulable", 0)
                reject(UNREACHABLE)
                continue
            if not tolerates(pod, node):
                reject("node(s) had untolerated taint(s)")
                continue
            if not affinity_allows(pod, node):
                reject("node(s) didn't match Pod's node affinity/selector")
                continue
            allocatable = (node.get("status") or {}).get("allocatable") or {}
            count, cpu, mem = usage.get(name, [0, 0.0, 0.0])
            if count + 1 > int(allocatable.get("pods", 110)):
                reject("Too many pods")
            elif cpu + want_cpu > float(quantity.parse(allocatable.get("cpu", "0"))):
                reject("Insufficient cpu")
            elif mem + want_mem > float(quantity.parse(allocatable.get("memory", "0"))):
                reject("Insufficient memory")
            else:
                score = cpu / max(float(quantity.parse(allocatable.get("cpu", "1"))), 0.001) + count / 1000
                tie = int(hashlib.md5(pod["metadata"]["uid"].encode() + name.encode()).hexdigest()[:4], 16)
                candidates.append((score, tie, name))
        return candidates, reasons

    def schedule(self, pod: dict) -> None:
        meta = pod["metadata"]
        nodes = list(self.store.iter_refs(R["nodes"]))
        claim_problem = self.unbound_claims(pod)
        candidates, reasons = ([], {}) if claim_problem else self.filter_nodes(pod, nodes)
        if not candidates:
            detail = claim_problem or ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or \
                "no nodes available to schedule pods"
            self.unschedulable(pod, f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/{len(nodes)} nodes "
                                    f"are available: {len(nodes)} Preemption is not helpful for scheduling.")
            return
        node = min(candidates)[2]

        def bind(obj):
            obj["spec"]["nodeName"] = node
            obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj),
                             "conditions": [condition("PodScheduled", "True")]}
        self.store.mutate(R["pods"], meta["namespace"], meta["name"], bind, keep_status=True)
        self.ctx.event(pod, "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
                       "Normal", "default-scheduler")

    def unschedulable(self, pod: dict, message: str) -> None:
        meta = pod["metadata"]
        status = dict(pod.get("status") or {})
        wanted = condition("PodScheduled", "False", "Unschedulable", message)
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
        if current.get("message") != message or status.get("phase") != "Pending":
            status.update(phase="Pending", qosClass=qos_class(pod),
                          conditions=set_condition(status.get("conditions"), wanted))
            self.store.update(R["pods"], meta["namespace"], meta["name"], {"status": status}, status_only=True)
            self.ctx.event(pod, "FailedScheduling", message, "Warning", "default-scheduler")
        self.ctx.wake(("pods", meta["namespace"], meta["name"]), self.ctx.clock.now() + 5)
