"""The scheduler: binds a pending pod to a node its tolerations, node affinity and claims
allow and whose allocatable room fits its requests, or says why none does, in kube-scheduler's
words. Each node is judged by the default filter plugins in their order (NodeUnschedulable,
TaintToleration, NodeAffinity, NodeResourcesFit); the first that refuses it names the reason.
Claims that wait for their first consumer get the chosen node (volume.kubernetes.io/selected-node)
and the pod is bound once they are."""

import hashlib

from .. import quantity
from ..admission import container_totals
from ..kinds import STORED
from .context import Controller, Key
from .helpers import condition, pod_active, qos_class, set_condition
from .nodes import UNSCHEDULABLE_KEY

R = STORED
UNSCHEDULABLE_TAINT = {"key": UNSCHEDULABLE_KEY, "effect": "NoSchedule"}
SELECTED_NODE = "volume.kubernetes.io/selected-node"
# Preemption's verdict on a node: evicting pods cannot cure these reasons (UnschedulableAndUnresolvable)...
NOT_HELPFUL = "Preemption is not helpful for scheduling"
# ...while too little room could be, but the sandbox's pods all share one priority.
NO_VICTIMS = "No preemption victims found for incoming pod"


def affinity_allows(pod: dict, node: dict) -> bool:
    spec = pod.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        or {}
    ).get("nodeSelectorTerms")
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
        if (
            (op == "In" and value not in values)
            or (op == "NotIn" and value in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def tolerated(tolerations: list[dict], taint: dict) -> bool:
    """Toleration.ToleratesTaint: its effect and key (when set) match, and it says Exists or the same value."""
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("key") and toleration["key"] != taint.get("key"):
            continue
        if toleration.get("operator") == "Exists" or (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def untolerated_taint(pod: dict, node: dict) -> dict | None:
    """The first NoSchedule or NoExecute taint of the node the pod does not tolerate."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    return next(
        (
            t
            for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, t)
        ),
        None,
    )


def histogram(counts: dict[str, int]) -> str:
    """ "2 Insufficient cpu, 1 node(s) were unschedulable": counted reasons, sorted as text, as the scheduler does."""
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


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

    def claims(self, pod: dict) -> tuple[str | None, list[dict]]:
        """(what keeps the pod off every node (VolumeBinding's PreFilter), its unbound claims that wait for it)."""
        namespace, waiting = pod["metadata"]["namespace"], []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.store.get_ref(R["persistentvolumeclaims"], namespace, claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found', []
            if pvc["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{claim}" is being deleted', []
            if (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            class_name = (pvc.get("spec") or {}).get("storageClassName")
            sc = self.store.get_ref(R["storageclasses"], "", class_name) if class_name else None
            if (sc or {}).get("volumeBindingMode") != "WaitForFirstConsumer":
                return "pod has unbound immediate PersistentVolumeClaims", []
            waiting.append(pvc)
        return None, waiting

    def filter_nodes(self, pod: dict, nodes: list[dict]) -> tuple[list, dict[str, int], int]:
        """(candidates as (score, tie-break, node name), {reason a node was left out: how many},
        how many of those preemption could not help)."""
        reasons, candidates, unresolvable = {}, [], 0

        def reject(reason):
            reasons[reason] = reasons.get(reason, 0) + 1

        usage = self.node_usage()
        totals = container_totals(pod)
        want_cpu, want_mem = float(totals.get("requests.cpu", 0)), float(totals.get("requests.memory", 0))
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        for node in nodes:
            name = node["metadata"]["name"]
            taint = untolerated_taint(pod, node)
            if (node.get("spec") or {}).get("unschedulable") and not tolerated(tolerations, UNSCHEDULABLE_TAINT):
                reject("node(s) were unschedulable")
            elif taint is not None:
                reject(f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}")
            elif not affinity_allows(pod, node):
                reject("node(s) didn't match Pod's node affinity/selector")
            else:
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
                continue
            unresolvable += 1
        return candidates, reasons, unresolvable

    def schedule(self, pod: dict) -> None:
        nodes = list(self.store.iter_refs(R["nodes"]))
        claim_problem, waiting = self.claims(pod)
        candidates, reasons, unresolvable = ([], {}, len(nodes)) if claim_problem else self.filter_nodes(pod, nodes)
        if not candidates:
            total = len(nodes)
            preemption = {k: n for k, n in ((NOT_HELPFUL, unresolvable), (NO_VICTIMS, total - unresolvable)) if n}
            self.unschedulable(
                pod,
                "no nodes available to schedule pods"
                if not nodes
                else f"0/{total} nodes are available: {claim_problem or histogram(reasons)}. preemption: "
                f"0/{total} nodes are available: {histogram(preemption)}.",
            )
            return
        node = min(candidates)[2]
        chosen = {(c["metadata"].get("annotations") or {}).get(SELECTED_NODE) for c in waiting}
        node = next((n for _, _, n in sorted(candidates) if n in chosen), node)  # stay where provisioning began
        if waiting:
            self.select_node(waiting, node)
            return  # PreBind waits for the claims to be bound; their change brings the pod back
        self.bind(pod, node)

    def select_node(self, claims: list[dict], node: str) -> None:
        def select(obj):
            annotations = obj["metadata"].setdefault("annotations", {})
            if annotations.get(SELECTED_NODE) == node:
                return False
            annotations[SELECTED_NODE] = node

        for claim in claims:
            self.store.mutate(
                R["persistentvolumeclaims"], claim["metadata"]["namespace"], claim["metadata"]["name"], select
            )

    def bind(self, pod: dict, node: str) -> None:
        meta = pod["metadata"]

        def bind(obj):
            obj["spec"]["nodeName"] = node
            obj["status"] = {
                "phase": "Pending",
                "qosClass": qos_class(obj),
                "conditions": [condition("PodScheduled", "True")],
            }

        self.store.mutate(R["pods"], meta["namespace"], meta["name"], bind, keep_status=True)
        self.ctx.event(
            pod,
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
            "Normal",
            "default-scheduler",
        )

    def unschedulable(self, pod: dict, message: str) -> None:
        meta = pod["metadata"]
        status = dict(pod.get("status") or {})
        wanted = condition("PodScheduled", "False", "Unschedulable", message)
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
        if current.get("message") != message or status.get("phase") != "Pending":
            status.update(
                phase="Pending", qosClass=qos_class(pod), conditions=set_condition(status.get("conditions"), wanted)
            )
            self.store.update(R["pods"], meta["namespace"], meta["name"], {"status": status}, status_only=True)
            self.ctx.event(pod, "FailedScheduling", message, "Warning", "default-scheduler")
        self.ctx.wake(("pods", meta["namespace"], meta["name"]), self.ctx.clock.now() + 5)
