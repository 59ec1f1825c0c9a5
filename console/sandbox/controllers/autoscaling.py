"""HorizontalPodAutoscalers as the HPA controller runs them: every hpa_sync it reads the
target's scale and the pods' resource metrics, proposes a replica count (10% tolerance),
stabilises scale-downs over a window, clamps to min/max and scales through the scale
subresource, with the controller's conditions and events."""

import math

from .. import quantity
from ..admission import container_totals
from ..kinds import STORED
from ..metrics import UNAVAILABLE as UNAVAILABLE_METRICS
from ..selectors import selector_matcher
from ..store import now_iso
from .context import Context, Controller, Key
from .helpers import condition, pod_active, set_condition

R = STORED
COMPONENT = "horizontal-pod-autoscaler"
TARGETS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "ReplicaSet": "replicasets"}


def without_none(status: dict) -> dict:
    return {k: v for k, v in status.items() if v is not None}


class Autoscaling(Controller):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.last = {}  # hpa uid -> sim time of last evaluation
        self.recommendations = {}  # hpa uid -> [(sim time, replicas)]

    def sync(self, key: Key) -> None:
        ctx = self.ctx
        hpa = self.ctx.get(key)
        if hpa is None:
            return
        meta, spec = hpa["metadata"], hpa.get("spec") or {}
        now = ctx.clock.now()
        last = self.last.get(meta["uid"])
        if last is not None and now - last < ctx.delays["hpa_sync"]:
            ctx.wake(key, last + ctx.delays["hpa_sync"])
            return
        self.last[meta["uid"]] = now
        ref = spec.get("scaleTargetRef") or {}
        plural = TARGETS.get(ref.get("kind"))
        target = self.store.get_ref(R[plural], key[1], ref.get("name", "")) if plural else None
        old = hpa.get("status") or {}
        at = now_iso()
        conditions = list(old.get("conditions") or [])
        if target is None:
            conditions = set_condition(
                conditions,
                condition(
                    "AbleToScale",
                    "False",
                    "FailedGetScale",
                    f"the HPA controller was unable to get the target's current "
                    f'scale: {plural or ref.get("kind")} "{ref.get("name")}" not found',
                    at,
                ),
            )
            status = dict(
                old,
                conditions=conditions,
                currentReplicas=old.get("currentReplicas", 0),
                desiredReplicas=old.get("desiredReplicas", 0),
            )
            ctx.put_status(key, status, old)
        else:
            # As the HPA controller does: AbleToScale once the scale was read, then the metrics.
            conditions = set_condition(
                conditions,
                condition(
                    "AbleToScale",
                    "True",
                    "SucceededGetScale",
                    "the HPA controller was able to get the target's current scale",
                    at,
                ),
            )
            self.evaluate(key, hpa, target, plural, conditions, at)
        ctx.wake(key, now + ctx.delays["hpa_sync"])

    def measure(self, spec: dict, pods: list[dict], current: int) -> tuple[list, list, list]:
        """For each Resource metric: (current metric statuses, proposals as (replicas, source, reason),
        invalid metrics as (resource, error))."""
        statuses, proposals, invalid = [], [], []
        metrics = self.ctx.cluster.metrics
        for metric in spec.get("metrics") or []:
            if metric.get("type") != "Resource":
                continue
            resource = (metric.get("resource") or {}).get("name", "cpu")
            target_spec = (metric.get("resource") or {}).get("target") or {}
            utilization = target_spec.get("type", "Utilization") == "Utilization"
            if not metrics.available:
                what = "utilization" if utilization else "usage"
                invalid.append(
                    (
                        resource,
                        f"failed to get {resource} {what}: unable to get metrics for resource "
                        f"{resource}: unable to fetch metrics from resource metrics API: "
                        f"{UNAVAILABLE_METRICS}",
                    )
                )
                statuses.append({"type": ""})  # the controller leaves a failed metric's status empty
                continue
            if not pods:
                continue
            usage_total, request_total = 0.0, 0.0
            for pod in pods:
                usage_total += metrics.pod_usage_totals(pod)[resource]
                request_total += float(container_totals(pod).get(f"requests.{resource}", 0))
            average = usage_total / len(pods)
            shown = quantity.fmt_cpu(round(average, 3)) if resource == "cpu" else quantity.fmt_bytes(average)
            entry = {"type": "Resource", "resource": {"name": resource, "current": {"averageValue": shown}}}
            if utilization:
                lacking = next(
                    (
                        (c.get("name"), p["metadata"]["name"])
                        for p in pods
                        for c in (p.get("spec") or {}).get("containers") or []
                        if not ((c.get("resources") or {}).get("requests") or {}).get(resource)
                    ),
                    None,
                )
                if lacking:
                    invalid.append(
                        (
                            resource,
                            f"failed to get {resource} utilization: missing request for {resource} "
                            f"in container {lacking[0]} of Pod {lacking[1]}",
                        )
                    )
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
        return statuses, proposals, invalid

    def evaluate(self, key: Key, hpa: dict, target: dict, plural: str, conditions: list[dict], at: str) -> None:
        spec = hpa.get("spec") or {}
        current = (target.get("spec") or {}).get("replicas", 1)
        match = selector_matcher((target.get("spec") or {}).get("selector"))
        pods = [
            p
            for p in self.store.iter_refs(R["pods"], key[1])
            if match(p["metadata"].get("labels"))
            and pod_active(p)
            and (p.get("status") or {}).get("phase") == "Running"
        ]
        statuses, proposals, invalid = self.measure(spec, pods, current)
        resource_metrics = [m for m in spec.get("metrics") or [] if m.get("type") == "Resource"]
        best = max(proposals, key=lambda p: p[0]) if proposals else None
        if invalid and (len(invalid) >= len(resource_metrics) or best is None or best[0] < current):
            self.metrics_failed(key, hpa, current, statuses, conditions, invalid, len(resource_metrics), at)
        else:
            self.rescale(key, hpa, plural, current, statuses, conditions, best, at)

    def metrics_failed(
        self,
        key: Key,
        hpa: dict,
        current: int,
        statuses: list,
        conditions: list[dict],
        invalid: list,
        metric_count: int,
        at: str,
    ) -> None:
        """No replica count (or only a smaller one, which the controller does not trust): the
        scale stays, ScalingActive says why, and the errors become Warning events."""
        old = hpa.get("status") or {}
        resource, error = invalid[0]
        conditions = set_condition(
            conditions,
            condition(
                "ScalingActive",
                "False",
                "FailedGetResourceMetric",
                f"the HPA was unable to compute the replica count: {error}",
                at,
            ),
        )
        self.ctx.event(hpa, "FailedGetResourceMetric", error, "Warning", COMPONENT)
        self.ctx.event(
            hpa,
            "FailedComputeMetricsReplicas",
            f"invalid metrics ({len(invalid)} invalid out of "
            f"{metric_count}), first error is: failed to get {resource} resource metric value: {error}",
            "Warning",
            COMPONENT,
        )
        status = {
            "currentReplicas": current,
            "desiredReplicas": old.get("desiredReplicas", 0),
            "currentMetrics": statuses,
            "conditions": conditions,
            "lastScaleTime": old.get("lastScaleTime"),
            "observedGeneration": hpa["metadata"].get("generation", 1),
        }
        self.ctx.put_status(key, without_none(status), old)

    def desired(self, hpa: dict, current: int, recommended: int) -> tuple[int, bool, bool]:
        """(desired replicas, stabilised by the scale-down window, limited by min/max)."""
        spec, now = hpa.get("spec") or {}, self.last[hpa["metadata"]["uid"]]  # the time of this evaluation
        minimum, maximum = spec.get("minReplicas", 1), spec.get("maxReplicas", 1)
        history = self.recommendations.setdefault(hpa["metadata"]["uid"], [])
        history.append((now, recommended))
        window = ((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds")
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
        return desired, stabilized, limited

    def rescale(
        self,
        key: Key,
        hpa: dict,
        plural: str,
        current: int,
        statuses: list,
        conditions: list[dict],
        best: tuple | None,
        at: str,
    ) -> None:
        old, maximum = hpa.get("status") or {}, (hpa.get("spec") or {}).get("maxReplicas", 1)
        desired, stabilized, limited = self.desired(hpa, current, best[0] if best else current)
        if desired != current:
            able = ("SucceededRescale", f"the HPA controller was able to update the target scale to {desired}")
        elif stabilized:
            able = (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        else:
            able = ("ReadyForNewScale", "recommended size matches current size")
        conditions = set_condition(conditions, condition("AbleToScale", "True", *able, at))
        if best:
            conditions = set_condition(
                conditions,
                condition(
                    "ScalingActive",
                    "True",
                    "ValidMetricFound",
                    f"the HPA was able to successfully calculate a replica count from {best[1]}",
                    at,
                ),
            )
        if not limited:
            limit = ("False", "DesiredWithinRange", "the desired count is within the acceptable range")
        elif desired == maximum:
            limit = ("True", "TooManyReplicas", "the desired replica count is more than the maximum replica count")
        else:
            limit = ("True", "TooFewReplicas", "the desired replica count is less than the minimum replica count")
        conditions = set_condition(conditions, condition("ScalingLimited", *limit, at))
        status = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": statuses or None,
            "conditions": conditions,
        }
        if old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if desired != current:

            def scale(obj):
                obj["spec"]["replicas"] = desired

            # through the scale subresource, as the HPA controller does: it then owns spec.replicas
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            self.store.mutate(
                R[plural], key[1], ref["name"], scale, manager="kube-controller-manager", subresource="scale"
            )
            status["lastScaleTime"] = at
            self.ctx.event(
                hpa,
                "SuccessfulRescale",
                f"New size: {desired}; reason: {best[2] if best else 'All metrics below target'}",
                "Normal",
                COMPONENT,
            )
        status = without_none(status)
        status["observedGeneration"] = hpa["metadata"].get("generation", 1)
        self.ctx.put_status(key, status, old)
