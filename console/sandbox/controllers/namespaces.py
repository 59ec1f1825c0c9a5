"""Namespaces: the default ServiceAccount and kube-root-ca.crt in each, and finalisation of
a deleted namespace (its content deleted, then the namespace removed)."""

from ..errors import ApiError
from ..kinds import STORED
from .context import Controller, Key
from .helpers import condition

R = STORED
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
    "clusters."
)
PLACEHOLDER_CA = "-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n"


class Namespaces(Controller):
    def sync(self, key: Key) -> None:
        ns = self.ctx.get(key)
        if ns is None:
            return
        if ns["metadata"].get("deletionTimestamp"):
            self.finalize(key)
        else:
            self.furnish(ns, key[2])

    def furnish(self, ns: dict, name: str) -> None:
        store, ctx = self.store, self.ctx
        if ns.get("status", {}).get("phase") == "Active" and not store.exists(R["serviceaccounts"], name, "default"):
            ctx.create_if_missing(R["serviceaccounts"], name, {"metadata": {"name": "default"}})
        if not store.exists(R["configmaps"], name, "kube-root-ca.crt") and ctx.seed_system:
            ca = (ctx.cluster.ca_pem or b"").decode() or PLACEHOLDER_CA
            ctx.create_if_missing(
                R["configmaps"],
                name,
                {
                    "metadata": {
                        "name": "kube-root-ca.crt",
                        "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
                    },
                    "data": {"ca.crt": ca},
                },
            )

    def finalize(self, key: Key) -> None:
        store, name = self.store, key[2]
        remaining = 0
        for resource in R.values():
            if not resource.namespaced:
                continue
            for obj in list(store.iter_refs(resource, name)):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    try:
                        store.delete(resource, name, obj["metadata"]["name"], "Background")
                    except ApiError:
                        pass
        if remaining == 0:
            with store.lock:
                current = store.get_ref(R["namespaces"], "", name)
                if current is not None and not any(store.count(r, name) for r in R.values() if r.namespaced):
                    store._remove(R["namespaces"], ("namespaces", "", name))
            return

        def terminating(obj):
            conditions = [
                condition(
                    "NamespaceContentRemaining",
                    "True",
                    "SomeResourcesRemain",
                    f"Some resources are remaining: {remaining} objects",
                )
            ]
            if obj["status"].get("conditions") and [c.get("message") for c in obj["status"]["conditions"]] == [
                c["message"] for c in conditions
            ]:
                return False
            obj["status"]["conditions"] = conditions

        store.mutate(R["namespaces"], "", name, terminating, status_only=True)
        self.ctx.wake(key, self.ctx.clock.now() + 0.5)
