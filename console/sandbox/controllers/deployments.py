"""Deployments → ReplicaSets → Pods: rollouts (RollingUpdate within maxSurge and
maxUnavailable, Recreate), revisions and rollbacks, history cleanup, the Deployment's
status and conditions; the ReplicaSet controller keeps its pod count."""

from datetime import UTC, datetime

from ..errors import ApiError
from ..kinds import STORED
from ..store import now_iso
from .context import Key
from .helpers import (
    HASH_LABEL,
    condition,
    copied,
    owner_ref,
    pod_active,
    pod_ready,
    resolve_percent,
    safe_hash,
    set_condition,
    template_key,
    time_of,
)
from .workloads import WorkloadController

R = STORED
REVISION = "deployment.kubernetes.io/revision"


def revision(rs: dict) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)


def replicas(rs: dict, field: str = "replicas") -> int:
    """A number from the ReplicaSet's status (0 when unset)."""
    return (rs.get("status") or {}).get(field, 0)


def rollout_limits(spec: dict, wanted: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against the wanted replicas."""
    if (spec.get("strategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return 0, wanted
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    max_surge = resolve_percent(rolling.get("maxSurge", "25%"), wanted, True)
    max_unavailable = resolve_percent(rolling.get("maxUnavailable", "25%"), wanted, False)
    return max_surge, 1 if max_surge == 0 and max_unavailable == 0 else max_unavailable


class Deployments(WorkloadController):
    def sync(self, key: Key) -> None:
        deployment = self.ctx.live(key)
        if deployment is None:
            return
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        namespace = meta["namespace"]
        wanted = spec.get("replicas", 1)
        wanted_key = template_key(spec.get("template") or {})
        replicasets = self.ctx.owned(R["replicasets"], deployment)
        max_revision = max((revision(rs) for rs in replicasets), default=0)
        new_rs = next((rs for rs in replicasets if template_key(rs["spec"].get("template")) == wanted_key), None)
        old_rses = [rs for rs in replicasets if rs is not new_rs]
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        max_surge, max_unavailable = rollout_limits(spec, wanted)
        revision_wanted = None
        if not spec.get("paused"):
            if new_rs is None:
                new_rs = self.create_replicaset(deployment, wanted_key, old_rses, max_revision + 1, max_surge)
                if new_rs is None:
                    return
            elif revision(new_rs) < max_revision:  # a rollback or a return to an older template: it becomes the newest
                new_rs = self.renumber(new_rs, max_revision + 1)
            revision_wanted = str(revision(new_rs))
            self.scale_deployment(deployment, new_rs, old_rses, wanted, strategy, max_surge, max_unavailable)
            self.cleanup_history(
                deployment,
                [
                    rs
                    for rs in self.ctx.owned(R["replicasets"], deployment)
                    if rs["metadata"]["name"] != new_rs["metadata"]["name"]
                ],
            )
        elif new_rs is not None and not old_rses and new_rs["spec"].get("replicas") != wanted:
            self.scale_rs(deployment, new_rs, wanted)  # paused deployments still scale
        if revision_wanted is not None and (meta.get("annotations") or {}).get(REVISION) != revision_wanted:

            def annotate(d):
                d["metadata"].setdefault("annotations", {}).update({REVISION: revision_wanted})

            self.store.mutate(R["deployments"], namespace, meta["name"], annotate)
        self.deployment_status(key, max_unavailable)

    def create_replicaset(
        self, deployment: dict, wanted_key: dict, old_rses: list[dict], number: int, max_surge: int
    ) -> dict | None:
        """The ReplicaSet of the current template, at revision `number`; None when it cannot be made yet."""
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        namespace, wanted, template = meta["namespace"], spec.get("replicas", 1), spec.get("template") or {}
        pod_hash = safe_hash([wanted_key, (deployment.get("status") or {}).get("collisionCount", 0)])
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[HASH_LABEL] = pod_hash
        rs_template = copied(template)
        rs_template.setdefault("metadata", {})["labels"] = labels
        selector = copied(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        rs_annotations = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/last-applied-configuration" and not k.startswith("deployment.kubernetes.io/")
        }
        rs_annotations.update(
            {
                REVISION: str(number),
                "deployment.kubernetes.io/desired-replicas": str(wanted),
                "deployment.kubernetes.io/max-replicas": str(wanted + max_surge),
            }
        )
        if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "Recreate":
            busy = any(rs["spec"].get("replicas") or replicas(rs) for rs in old_rses)
            initial = 0 if busy else wanted
        else:
            total = sum(rs["spec"].get("replicas", 0) for rs in old_rses)
            initial = max(0, min(wanted, wanted + max_surge - total)) if old_rses else wanted
        try:
            new_rs = self.store.create(
                R["replicasets"],
                namespace,
                {
                    "metadata": {
                        "name": f"{meta['name']}-{pod_hash}",
                        "labels": labels,
                        "annotations": rs_annotations,
                        "ownerReferences": [owner_ref(deployment)],
                    },
                    "spec": {
                        "replicas": initial,
                        "minReadySeconds": spec.get("minReadySeconds", 0),
                        "selector": selector,
                        "template": rs_template,
                    },
                },
            )
        except ApiError as exc:
            if exc.code == 409:  # a name clash with a foreign ReplicaSet: bump collisionCount

                def collided(d):
                    d.setdefault("status", {}).update(collisionCount=(d["status"].get("collisionCount") or 0) + 1)

                self.store.mutate(R["deployments"], namespace, meta["name"], collided, status_only=True)
            return None
        self.ctx.event(
            deployment,
            "ScalingReplicaSet",
            f"Scaled up replica set {new_rs['metadata']['name']} from 0 to {initial}",
            "Normal",
            "deployment-controller",
        )
        return new_rs

    def renumber(self, rs: dict, number: int) -> dict:
        """Move an older ReplicaSet to revision `number`, keeping its old number in revision-history."""
        old_revision = revision(rs)

        def bump(obj):
            annotations = obj["metadata"].setdefault("annotations", {})
            history = [h for h in (annotations.get("deployment.kubernetes.io/revision-history") or "").split(",") if h]
            annotations["deployment.kubernetes.io/revision-history"] = ",".join(history + [str(old_revision)])
            annotations[REVISION] = str(number)

        return self.store.mutate(R["replicasets"], rs["metadata"]["namespace"], rs["metadata"]["name"], bump) or rs

    def scale_rs(self, owner: dict, rs: dict, count: int) -> dict:
        old = rs["spec"].get("replicas", 0)
        if old == count:
            return rs

        def change(obj):
            obj["spec"]["replicas"] = count
            obj["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(
                owner["spec"].get("replicas", 1)
            )

        updated = self.store.mutate(R["replicasets"], rs["metadata"]["namespace"], rs["metadata"]["name"], change)
        self.ctx.event(
            owner,
            "ScalingReplicaSet",
            f"Scaled {'up' if count > old else 'down'} replica set {rs['metadata']['name']} from {old} to {count}",
            "Normal",
            "deployment-controller",
        )
        return updated or rs

    def scale_deployment(self, deployment, new_rs, old_rses, wanted, strategy, max_surge, max_unavailable) -> None:
        if strategy == "Recreate":
            for rs in old_rses:
                if rs["spec"].get("replicas"):
                    self.scale_rs(deployment, rs, 0)
            if any(replicas(rs) for rs in old_rses) or any(rs["spec"].get("replicas") for rs in old_rses):
                return
            if new_rs["spec"].get("replicas") != wanted:
                self.scale_rs(deployment, new_rs, wanted)
            return
        active_old = [rs for rs in old_rses if rs["spec"].get("replicas") or replicas(rs)]
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
        all_available = sum(replicas(rs, "availableReplicas") for rs in [new_rs, *old_rses])
        new_unavailable = max(0, new_rs["spec"].get("replicas", 0) - replicas(new_rs, "availableReplicas"))
        budget = all_available - min_available - new_unavailable
        # old pods that are not available can go at once
        for rs in sorted(old_rses, key=lambda r: r["metadata"]["creationTimestamp"]):
            count = rs["spec"].get("replicas", 0)
            cut = max(0, count - replicas(rs, "availableReplicas"))
            if budget > 0:
                extra = min(budget, count - cut)
                cut += extra
                budget -= extra
            if cut > 0:
                self.scale_rs(deployment, rs, count - cut)

    def cleanup_history(self, deployment: dict, old_rses: list[dict]) -> None:
        limit = (deployment.get("spec") or {}).get("revisionHistoryLimit", 10)
        idle = [
            rs
            for rs in old_rses
            if not rs["spec"].get("replicas") and not replicas(rs) and not rs["metadata"].get("deletionTimestamp")
        ]
        idle.sort(key=revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            try:
                self.store.delete(R["replicasets"], rs["metadata"]["namespace"], rs["metadata"]["name"])
            except ApiError:
                pass

    def deployment_status(self, key: Key, max_unavailable: int) -> None:
        deployment = self.ctx.get(key)
        if deployment is None:
            return
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        wanted = spec.get("replicas", 1)
        template_now = template_key(spec.get("template"))
        replicasets = self.ctx.owned(R["replicasets"], deployment)
        new_rs = next((rs for rs in replicasets if template_key(rs["spec"].get("template")) == template_now), None)
        total = sum(replicas(rs) for rs in replicasets)
        updated = replicas(new_rs) if new_rs else 0
        ready = sum(replicas(rs, "readyReplicas") for rs in replicasets)
        available = sum(replicas(rs, "availableReplicas") for rs in replicasets)
        old = deployment.get("status") or {}
        now = now_iso()
        if available >= wanted - max_unavailable:
            availability = condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                lastUpdateTime=now,
            )
        else:
            availability = condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
                lastUpdateTime=now,
            )
        conditions = set_condition(old.get("conditions") or [], availability, "lastUpdateTime")
        complete = (
            new_rs is not None
            and updated == wanted
            and total == wanted
            and available >= wanted
            and replicas(new_rs, "availableReplicas") >= wanted
        )
        progressing = self.progressing(deployment, new_rs, conditions, complete, now)
        conditions = set_condition(conditions, progressing, "lastUpdateTime")
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": max(0, total - available) if total > wanted else max(0, wanted - available),
            "conditions": conditions,
        }
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        for field in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas"):
            if not status[field]:
                del status[field]
        self.ctx.put_status(key, status, old)

    def progressing(
        self, deployment: dict, new_rs: dict | None, conditions: list[dict], complete: bool, now: str
    ) -> dict:
        """The Progressing condition, ProgressDeadlineExceeded once a rollout stalls past its deadline."""
        spec = deployment.get("spec") or {}
        rs_name = new_rs["metadata"]["name"] if new_rs else deployment["metadata"]["name"]

        def progress(status, reason, message):
            return condition("Progressing", status, reason, message, now, lastUpdateTime=now)

        if spec.get("paused"):
            return progress("Unknown", "DeploymentPaused", "Deployment is paused")
        if complete:
            return progress("True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')
        previous = next((c for c in conditions if c["type"] == "Progressing"), None)
        updating = progress("True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
        if previous and previous.get("reason") == "ProgressDeadlineExceeded":
            return previous
        if (
            previous
            and previous.get("reason") == "ReplicaSetUpdated"
            and previous.get("message") == updating["message"]
        ):
            since = datetime.strptime(previous.get("lastUpdateTime", now), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            if (datetime.now(UTC) - since).total_seconds() * self.ctx.clock.speed > spec.get(
                "progressDeadlineSeconds", 600
            ):
                return progress(
                    "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.'
                )
        elif previous is None and new_rs is not None and replicas(new_rs) == 0:
            return progress("True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"')
        return updating


class ReplicaSets(WorkloadController):
    def sync(self, key: Key) -> None:
        rs = self.ctx.get(key)
        if rs is None:
            return
        meta, spec = rs["metadata"], rs.get("spec") or {}
        pods = [p for p in self.ctx.owned(R["pods"], rs) if pod_active(p)]
        wanted = spec.get("replicas", 1)
        if not meta.get("deletionTimestamp"):
            if len(pods) < wanted:
                for _ in range(wanted - len(pods)):
                    if (
                        self.spawn(rs, spec.get("template") or {}, "replicaset-controller", generate=meta["name"] + "-")
                        is None
                    ):
                        break
            elif len(pods) > wanted:
                self.delete_extra(rs, pods, len(pods) - wanted)
        pods = [p for p in self.ctx.owned(R["pods"], rs) if pod_active(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        labelled = sum(
            1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
        )
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": labelled,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        for field in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[field]:
                del status[field]
        self.ctx.put_status(key, status, rs.get("status") or {})

    def delete_extra(self, rs: dict, pods: list[dict], count: int) -> None:
        """Delete `count` pods, the least advanced first: unscheduled, pending, unready, newest."""

        def rank(p):
            return (
                bool((p.get("spec") or {}).get("nodeName")),
                (p.get("status") or {}).get("phase") == "Running",
                pod_ready(p),
                -time_of(p["metadata"]["creationTimestamp"]),
                p["metadata"]["name"],
            )

        for pod in sorted(pods, key=rank)[:count]:
            try:
                self.store.delete(R["pods"], rs["metadata"]["namespace"], pod["metadata"]["name"])
            except ApiError:
                continue
            self.ctx.event(
                rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", "Normal", "replicaset-controller"
            )
