"""Which handler each work-queue kind goes to. The dict's order is the order of a step:
owners before what they own (namespaces and nodes first, Deployments before ReplicaSets
before Pods), then what watches pods (endpoints, quotas, budgets)."""

from .autoscaling import Autoscaling
from .context import Context, Handler
from .daemonsets import DaemonSets
from .delegated import Delegated
from .deployments import Deployments, ReplicaSets
from .disruption import Disruption
from .jobs import CronJobs, Jobs
from .namespaces import Namespaces
from .nodes import Nodes
from .pods import Kubelet
from .quota import Quotas
from .scheduler import Scheduler
from .services import Services
from .statefulsets import StatefulSets
from .storage import Storage


class Families:
    """One instance of each controller family, sharing one context."""

    def __init__(self, ctx: Context) -> None:
        self.nodes = Nodes(ctx)
        self.namespaces = Namespaces(ctx)
        self.scheduler = Scheduler(ctx)
        self.kubelet = Kubelet(ctx, self.scheduler)
        self.deployments = Deployments(ctx)
        self.replicasets = ReplicaSets(ctx)
        self.statefulsets = StatefulSets(ctx)
        self.daemonsets = DaemonSets(ctx)
        self.jobs = Jobs(ctx)
        self.cronjobs = CronJobs(ctx)
        self.services = Services(ctx)
        self.storage = Storage(ctx)
        self.autoscaling = Autoscaling(ctx)
        self.quotas = Quotas(ctx)
        self.disruption = Disruption(ctx)
        self.delegated = Delegated(ctx)


def build_registry(f: Families) -> dict[str, Handler]:
    """kind → handler; "@" kinds are sweeps that other changes queue (see runner.FOLLOWERS)."""
    return {
        "namespaces": f.namespaces.sync,
        "nodes": f.nodes.sync,
        "@daemonsets": f.daemonsets.sync_all,
        "cronjobs": f.cronjobs.sync,
        "deployments": f.deployments.sync,
        "statefulsets": f.statefulsets.sync,
        "daemonsets": f.daemonsets.sync,
        "jobs": f.jobs.sync,
        "replicasets": f.replicasets.sync,
        "persistentvolumeclaims": f.storage.sync_claim,
        "@pvcs": f.storage.sync_unbound,
        "persistentvolumes": f.storage.sync_volume,
        "volumesnapshots": f.storage.sync_snapshot,
        "volumesnapshotcontents": f.storage.sync_content,
        "@pending-pods": f.scheduler.sync_pending,
        "pods": f.kubelet.sync,
        "services": f.services.sync,
        "@endpoints": f.services.sync_endpoints,
        "ingresses": f.services.sync_ingress,
        "horizontalpodautoscalers": f.autoscaling.sync,
        "@quota": f.quotas.sync_namespace,
        "resourcequotas": f.quotas.sync,
        "@pvc-users": f.storage.sync_claim_users,
        "poddisruptionbudgets": f.disruption.sync,
        "@clusterrole-aggregation": f.delegated.aggregate_cluster_roles,
        "customresourcedefinitions": f.delegated.sync_crd,
    }
