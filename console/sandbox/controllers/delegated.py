"""Controllers whose logic lives beside the API it serves: ClusterRole aggregation (rbac.py)
and CustomResourceDefinition establishment (crds.py)."""

from .context import Controller, Key


class Delegated(Controller):
    def aggregate_cluster_roles(self, key: Key) -> None:
        self.ctx.cluster.rbac.aggregate()

    def sync_crd(self, key: Key) -> None:
        if self.ctx.cluster.crds.sync(key[2]):
            self.ctx.wake(key, self.ctx.clock.now() + 0.5)
