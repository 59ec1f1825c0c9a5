"""PodDisruptionBudgets: the disruption controller's status, and the check an eviction
passes (429 when it would break a budget)."""

from ..errors import ApiError, not_found
from ..kinds import STORED
from ..selectors import selector_matcher
from ..store import now_iso
from .context import Controller, Key
from .helpers import condition, pod_active, pod_ready, resolve_percent, set_condition

R = STORED


class Disruption(Controller):
    def numbers(self, pdb: dict) -> tuple[int, int, int]:
        """(healthy, desired healthy, expected) pods of the budget."""
        spec = pdb.get("spec") or {}
        match = selector_matcher(spec.get("selector") or {})
        pods = [
            p
            for p in self.store.iter_refs(R["pods"], pdb["metadata"]["namespace"])
            if match(p["metadata"].get("labels")) and pod_active(p)
        ]
        healthy = sum(1 for p in pods if pod_ready(p))
        expected = len(pods)
        if spec.get("minAvailable") is not None:
            desired = resolve_percent(spec["minAvailable"], expected, True)
        elif spec.get("maxUnavailable") is not None:
            desired = max(0, expected - resolve_percent(spec["maxUnavailable"], expected, True))
        else:
            desired = expected
        return healthy, desired, expected

    def sync(self, key: Key) -> None:
        pdb = self.ctx.get(key)
        if pdb is None:
            return
        healthy, desired, expected = self.numbers(pdb)
        allowed = max(0, healthy - desired)
        old = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation", 1)
        conditions = set_condition(
            old.get("conditions"),
            condition(
                "DisruptionAllowed",
                "True" if allowed else "False",
                "SufficientPods" if allowed else "InsufficientPods",
                "",
                now_iso(),
                observedGeneration=generation,
            ),
        )
        status = {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
            "expectedPods": expected,
            "observedGeneration": generation,
            "conditions": conditions,
        }
        self.ctx.put_status(key, status, old)

    def check_eviction(self, namespace: str, pod_name: str) -> None:
        pod = self.store.get_ref(R["pods"], namespace, pod_name)
        if pod is None:
            raise not_found(R["pods"], pod_name)
        for pdb in self.store.iter_refs(R["poddisruptionbudgets"], namespace):
            if not selector_matcher((pdb.get("spec") or {}).get("selector") or {})(pod["metadata"].get("labels")):
                continue
            healthy, desired, _ = self.numbers(pdb)
            if pod_ready(pod) and healthy - 1 < desired:
                message = (
                    f"The disruption budget {pdb['metadata']['name']} needs {desired} healthy pods and has "
                    f"{healthy} currently"
                )
                raise ApiError(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{"reason": "DisruptionBudget", "message": message}]},
                )
