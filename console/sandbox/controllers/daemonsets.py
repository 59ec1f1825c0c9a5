"""DaemonSets: one pod per matching node (pinned by node affinity, tolerating the node
conditions' taints), pods on nodes that left removed, rolling updates one pod at a time."""

from ..kinds import STORED
from .context import Key
from .helpers import pod_active, pod_ready, revision_hash
from .scheduler import affinity_allows
from .workloads import WorkloadController

R = STORED
COMPONENT = "daemonset-controller"
# the taints of node conditions that DaemonSet pods tolerate, as the controller adds them
TOLERATED = (
    ("not-ready", "NoExecute"),
    ("unreachable", "NoExecute"),
    ("disk-pressure", "NoSchedule"),
    ("memory-pressure", "NoSchedule"),
    ("pid-pressure", "NoSchedule"),
    ("unschedulable", "NoSchedule"),
)


def ds_node(pod: dict) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == "metadata.name" and expr.get("values"):
                return expr["values"][0]
    return None


class DaemonSets(WorkloadController):
    def sync_all(self, key: Key) -> None:
        for ds in self.store.iter_refs(R["daemonsets"]):
            self.ctx.mark(("daemonsets", ds["metadata"]["namespace"], ds["metadata"]["name"]))

    def sync(self, key: Key) -> None:
        ds = self.ctx.live(key)
        if ds is None:
            return
        meta, spec = ds["metadata"], ds.get("spec") or {}
        namespace = key[1]
        template = spec.get("template") or {}
        revision, _ = self.revision_for(ds, template)
        selector = {"spec": {"nodeSelector": (template.get("spec") or {}).get("nodeSelector")}}
        node_names = {n["metadata"]["name"] for n in self.store.iter_refs(R["nodes"]) if affinity_allows(selector, n)}
        by_node = {}
        for pod in self.ctx.owned(R["pods"], ds):
            by_node.setdefault(ds_node(pod), []).append(pod)
        for node in sorted(node_names):
            on_node = by_node.get(node, [])
            if not any(pod_active(p) or p["metadata"].get("deletionTimestamp") for p in on_node):
                self.place(ds, node, revision)
        for node, node_pods in by_node.items():
            if node not in node_names:
                for pod in node_pods:
                    if not pod["metadata"].get("deletionTimestamp"):
                        self.store.delete(R["pods"], namespace, pod["metadata"]["name"])
        self.roll(ds, revision)
        pods = [p for p in self.ctx.owned(R["pods"], ds) if pod_active(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(1 for p in pods if revision_hash(p) == revision)
        status = {
            "currentNumberScheduled": len(pods),
            "desiredNumberScheduled": len(node_names),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": updated,
            "observedGeneration": meta.get("generation", 1),
        }
        if len(node_names) - ready > 0:
            status["numberUnavailable"] = len(node_names) - ready
        self.ctx.put_status(key, status, ds.get("status") or {})

    def place(self, ds: dict, node: str, revision: str) -> None:
        """A pod for `node`: pinned there by node affinity, tolerating its condition taints."""
        template = (ds.get("spec") or {}).get("template") or {}
        affinity = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
                    ]
                }
            }
        }
        tolerations = list((template.get("spec") or {}).get("tolerations") or []) + [
            {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": e} for t, e in TOLERATED
        ]
        labels = {
            "controller-revision-hash": revision,
            "pod-template-generation": str(ds["metadata"].get("generation", 1)),
        }
        self.spawn(
            ds,
            template,
            COMPONENT,
            generate=f"{ds['metadata']['name']}-",
            extra_labels=labels,
            extra_spec={"affinity": affinity, "tolerations": tolerations},
        )

    def roll(self, ds: dict, revision: str) -> None:
        """Replace one stale pod at a time, when all the others are ready."""
        owned = self.ctx.owned(R["pods"], ds)
        pods = [p for p in owned if pod_active(p)]
        stale = [p for p in pods if revision_hash(p) != revision]
        if stale and all(pod_ready(p) for p in pods) and not any(p["metadata"].get("deletionTimestamp") for p in owned):
            self.store.delete(R["pods"], ds["metadata"]["namespace"], stale[0]["metadata"]["name"])
            self.ctx.event(ds, "SuccessfulDelete", f"Deleted pod: {stale[0]['metadata']['name']}", "Normal", COMPONENT)
