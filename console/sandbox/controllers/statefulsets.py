"""StatefulSets: claims from volumeClaimTemplates, pods by ordinal (one at a time unless
Parallel), scale-down from the highest ordinal, rolling updates by ControllerRevision with
a partition, and the status."""

from ..errors import ApiError
from ..kinds import STORED
from .context import Key
from .helpers import copied, pod_ready, revision_hash
from .workloads import WorkloadController

R = STORED
COMPONENT = "statefulset-controller"


def ordinal(pod_name: str, set_name: str) -> int:
    suffix = pod_name[len(set_name) + 1 :]
    return int(suffix) if suffix.isdigit() else -1


class StatefulSets(WorkloadController):
    def sync(self, key: Key) -> None:
        sts = self.ctx.live(key)
        if sts is None:
            return
        meta, spec = sts["metadata"], sts.get("spec") or {}
        wanted = spec.get("replicas", 1)
        update_revision, _ = self.revision_for(sts, spec.get("template") or {})
        old_status = sts.get("status") or {}
        current_revision = old_status.get("currentRevision") or update_revision
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pods = self.members(sts)
        self.create_members(sts, pods, update_revision, parallel)
        self.scale_down(sts, pods, parallel)
        self.roll(sts, update_revision)
        live = [p for p in self.ctx.owned(R["pods"], sts) if not p["metadata"].get("deletionTimestamp")]
        updated = sum(1 for p in live if revision_hash(p) == update_revision)
        ready = sum(1 for p in live if pod_ready(p))
        if updated == wanted and ready == wanted and len(live) == wanted:
            current_revision = update_revision
        current = sum(1 for p in live if revision_hash(p) == current_revision)
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": 0,
        }
        self.ctx.put_status(key, status, old_status)

    def members(self, sts: dict) -> dict[str, dict]:
        return {p["metadata"]["name"]: p for p in self.ctx.owned(R["pods"], sts)}

    def event(self, sts: dict, reason: str, message: str, warning: bool = False) -> None:
        self.ctx.event(sts, reason, message, "Warning" if warning else "Normal", COMPONENT)

    def create_members(self, sts: dict, pods: dict[str, dict], update_revision: str, parallel: bool) -> None:
        """Claims first, then pods in order: without Parallel, only once the one before is ready."""
        spec, name = sts.get("spec") or {}, sts["metadata"]["name"]
        for i in range(spec.get("replicas", 1)):
            pod_name = f"{name}-{i}"
            self.create_claims(sts, pod_name)
            pod = pods.get(pod_name)
            if pod is None:
                self.create_member(sts, i, update_revision)
                if not parallel:
                    break
            elif not parallel and (not pod_ready(pod) or pod["metadata"].get("deletionTimestamp")):
                break

    def create_claims(self, sts: dict, pod_name: str) -> None:
        spec, namespace, name = sts.get("spec") or {}, sts["metadata"]["namespace"], sts["metadata"]["name"]
        template = spec.get("template") or {}
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{pod_name}"
            if self.store.exists(R["persistentvolumeclaims"], namespace, claim_name):
                continue
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels.update((claim.get("metadata") or {}).get("labels") or {})
            metadata = {"name": claim_name, "labels": labels}
            annotations = (claim.get("metadata") or {}).get("annotations")
            if annotations:  # the claim template's metadata is copied, annotations included
                metadata["annotations"] = dict(annotations)
            try:
                self.store.create(
                    R["persistentvolumeclaims"],
                    namespace,
                    {"metadata": metadata, "spec": copied(claim.get("spec") or {})},
                )
                self.event(
                    sts, "SuccessfulCreate", f"create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success"
                )
            except ApiError as exc:
                self.event(
                    sts,
                    "FailedCreate",
                    f"create Claim {claim_name} for Pod {pod_name} in StatefulSet {name} failed error: {exc.message}",
                    warning=True,
                )

    def create_member(self, sts: dict, i: int, update_revision: str) -> None:
        spec, name = sts.get("spec") or {}, sts["metadata"]["name"]
        template = spec.get("template") or {}
        pod_name = f"{name}-{i}"
        volumes = list((template.get("spec") or {}).get("volumes") or [])
        for claim in spec.get("volumeClaimTemplates") or []:
            volumes = [v for v in volumes if v.get("name") != claim["metadata"]["name"]]
            volumes.append(
                {
                    "name": claim["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{pod_name}"},
                }
            )
        extra_spec = {"hostname": pod_name}
        if spec.get("serviceName"):
            extra_spec["subdomain"] = spec["serviceName"]
        if volumes:
            extra_spec["volumes"] = volumes
        try:
            self.new_pod(
                sts,
                template,
                name=pod_name,
                extra_labels={
                    "controller-revision-hash": update_revision,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(i),
                },
                extra_spec=extra_spec,
            )
            self.event(sts, "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {name} successful")
        except ApiError as exc:
            self.event(
                sts,
                "FailedCreate",
                f"create Pod {pod_name} in StatefulSet {name} failed error: {exc.message}",
                warning=True,
            )

    def delete_member(self, sts: dict, pod: dict) -> None:
        self.store.delete(R["pods"], sts["metadata"]["namespace"], pod["metadata"]["name"])
        self.event(
            sts,
            "SuccessfulDelete",
            f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful",
        )

    def scale_down(self, sts: dict, pods: dict[str, dict], parallel: bool) -> None:
        """From the highest ordinal, one at a time unless Parallel."""
        name, wanted = sts["metadata"]["name"], (sts.get("spec") or {}).get("replicas", 1)
        extra = sorted(
            (p for n, p in pods.items() if ordinal(n, name) >= wanted),
            key=lambda p: -ordinal(p["metadata"]["name"], name),
        )
        if extra and (parallel or not any(p["metadata"].get("deletionTimestamp") for p in pods.values())):
            for pod in extra if parallel else extra[:1]:
                if not pod["metadata"].get("deletionTimestamp"):
                    self.delete_member(sts, pod)

    def roll(self, sts: dict, update_revision: str) -> None:
        """Replace a pod at an old revision, the highest ordinal first, when everything is ready."""
        spec, name = sts.get("spec") or {}, sts["metadata"]["name"]
        wanted = spec.get("replicas", 1)
        pods = self.members(sts)
        in_range = [pods[f"{name}-{i}"] for i in range(wanted) if f"{name}-{i}" in pods]
        strategy = spec.get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        if (
            strategy.get("type", "RollingUpdate") != "RollingUpdate"
            or len(in_range) != wanted
            or not all(pod_ready(p) and not p["metadata"].get("deletionTimestamp") for p in in_range)
        ):
            return
        stale = [
            p
            for p in in_range
            if revision_hash(p) != update_revision and ordinal(p["metadata"]["name"], name) >= partition
        ]
        if stale:
            self.delete_member(sts, max(stale, key=lambda p: ordinal(p["metadata"]["name"], name)))
