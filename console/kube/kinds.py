"""The Kubernetes kinds the console knows: one table, and the URL paths of each kind.

A kind is in the table when any part of the console reads or writes it; `mirrored` kinds are
also listed and watched into the resource mirror (and browsable on the cluster's pages).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True
    mirrored: bool = False
    # Mirrored without their values: name, namespace, labels, times and owners (and a Secret's
    # type), never data, stringData or annotations (console.clusters.mirror.metadata_only).
    metadata_only: bool = False

    @property
    def api_version(self) -> str:
        """As objects carry it: "v1", "apps/v1"."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str | None = None) -> str:
        """The kind's objects in `namespace`; None means across all namespaces (cluster-scoped
        kinds have that path only)."""
        if self.namespaced and namespace is not None:
            return f"{self.api_prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.api_prefix}/{self.plural}"

    def object_path(self, name: str, namespace: str = "") -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def subresource_path(self, name: str, namespace: str, subresource: str) -> str:
        """`scale`, `log`, `exec`, ... of one object."""
        return f"{self.object_path(name, namespace)}/{subresource}"


_CORE, _APPS, _BATCH, _NETWORKING = "", "apps", "batch", "networking.k8s.io"
_RBAC = "rbac.authorization.k8s.io"

# Mirrored kinds first, in the order the resource pages list them.
KINDS: dict[str, Kind] = {
    k.kind: k
    for k in [
        Kind("Namespace", _CORE, "v1", "namespaces", namespaced=False, mirrored=True),
        Kind("Node", _CORE, "v1", "nodes", namespaced=False, mirrored=True),
        Kind("Pod", _CORE, "v1", "pods", mirrored=True),
        Kind("Service", _CORE, "v1", "services", mirrored=True),
        Kind("Endpoints", _CORE, "v1", "endpoints", mirrored=True),
        Kind("Event", _CORE, "v1", "events", mirrored=True),
        Kind("ConfigMap", _CORE, "v1", "configmaps", mirrored=True),
        Kind("PersistentVolumeClaim", _CORE, "v1", "persistentvolumeclaims", mirrored=True),
        Kind("PersistentVolume", _CORE, "v1", "persistentvolumes", namespaced=False, mirrored=True),
        Kind("ResourceQuota", _CORE, "v1", "resourcequotas", mirrored=True),
        Kind("Deployment", _APPS, "v1", "deployments", mirrored=True),
        Kind("ReplicaSet", _APPS, "v1", "replicasets", mirrored=True),
        Kind("StatefulSet", _APPS, "v1", "statefulsets", mirrored=True),
        Kind("DaemonSet", _APPS, "v1", "daemonsets", mirrored=True),
        Kind("Job", _BATCH, "v1", "jobs", mirrored=True),
        Kind("CronJob", _BATCH, "v1", "cronjobs", mirrored=True),
        Kind("Ingress", _NETWORKING, "v1", "ingresses", mirrored=True),
        Kind("NetworkPolicy", _NETWORKING, "v1", "networkpolicies", mirrored=True),
        Kind("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", mirrored=True),
        # Their metadata only: whether a Secret or ServiceAccount a pod names exists (topology).
        # Secret data must never be copied into the console's database.
        Kind("Secret", _CORE, "v1", "secrets", mirrored=True, metadata_only=True),
        Kind("ServiceAccount", _CORE, "v1", "serviceaccounts", mirrored=True, metadata_only=True),
        # Not mirrored: read or written only by the operations that need them.
        Kind("LimitRange", _CORE, "v1", "limitranges"),
        Kind("Role", _RBAC, "v1", "roles"),
        Kind("RoleBinding", _RBAC, "v1", "rolebindings"),
        Kind("ClusterRole", _RBAC, "v1", "clusterroles", namespaced=False),
        Kind("ClusterRoleBinding", _RBAC, "v1", "clusterrolebindings", namespaced=False),
        Kind("GlobalNetworkPolicy", "crd.projectcalico.org", "v1", "globalnetworkpolicies", namespaced=False),
        Kind("StorageClass", "storage.k8s.io", "v1", "storageclasses", namespaced=False),
        Kind("IngressClass", _NETWORKING, "v1", "ingressclasses", namespaced=False),
        Kind("ControllerRevision", _APPS, "v1", "controllerrevisions"),
        Kind("VolumeSnapshot", "snapshot.storage.k8s.io", "v1", "volumesnapshots"),
        Kind("VolumeSnapshotContent", "snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", namespaced=False),
        Kind("VolumeSnapshotClass", "snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", namespaced=False),
    ]
}

MIRRORED_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS.values() if k.mirrored)


METADATA_ONLY_KINDS: frozenset[str] = frozenset(k.kind for k in MIRRORED_KINDS if k.metadata_only)


def is_mirrored(name: str) -> bool:
    kind = KINDS.get(name)
    return kind is not None and kind.mirrored
