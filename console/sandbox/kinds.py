"""The resource types the sandbox serves, as discovery describes them (built in; custom
resources come from CustomResourceDefinitions, see crds.py)."""

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list")


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool = True
    short_names: tuple = ()
    subresources: tuple = ("status",)
    verbs: tuple = ALL_VERBS
    categories: tuple = ()
    stored: bool = True  # False: computed on read (metrics) or answered on create (access reviews)
    key: str = ""  # what the store files objects under: the plural, or plural.group for custom resources

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", self.plural)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self):
        return self.kind.lower()

    @property
    def has_status(self):
        return "status" in self.subresources


ALL = ("all",)
RBAC_GROUP = "rbac.authorization.k8s.io"
RESOURCES = [
    Resource("namespaces", "Namespace", "", "v1", False, ("ns",)),
    Resource("nodes", "Node", "", "v1", False, ("no",)),
    Resource(
        "pods",
        "Pod",
        "",
        "v1",
        True,
        ("po",),
        ("status", "log", "exec", "attach", "eviction", "binding"),
        categories=ALL,
    ),
    Resource("services", "Service", "", "v1", True, ("svc",), categories=ALL),
    Resource("endpoints", "Endpoints", "", "v1", True, ("ep",), ()),
    Resource("events", "Event", "", "v1", True, ("ev",), ()),
    Resource("configmaps", "ConfigMap", "", "v1", True, ("cm",), ()),
    Resource("secrets", "Secret", "", "v1", True, (), ()),
    Resource("persistentvolumeclaims", "PersistentVolumeClaim", "", "v1", True, ("pvc",)),
    Resource("persistentvolumes", "PersistentVolume", "", "v1", False, ("pv",)),
    Resource("resourcequotas", "ResourceQuota", "", "v1", True, ("quota",)),
    Resource("limitranges", "LimitRange", "", "v1", True, ("limits",), ()),
    Resource("serviceaccounts", "ServiceAccount", "", "v1", True, ("sa",), ()),
    Resource("deployments", "Deployment", "apps", "v1", True, ("deploy",), ("status", "scale"), categories=ALL),
    Resource("replicasets", "ReplicaSet", "apps", "v1", True, ("rs",), ("status", "scale"), categories=ALL),
    Resource("statefulsets", "StatefulSet", "apps", "v1", True, ("sts",), ("status", "scale"), categories=ALL),
    Resource("daemonsets", "DaemonSet", "apps", "v1", True, ("ds",), categories=ALL),
    Resource("controllerrevisions", "ControllerRevision", "apps", "v1", True, (), ()),
    Resource("jobs", "Job", "batch", "v1", True, (), categories=ALL),
    Resource("cronjobs", "CronJob", "batch", "v1", True, ("cj",), categories=ALL),
    Resource("ingresses", "Ingress", "networking.k8s.io", "v1", True, ("ing",)),
    Resource("ingressclasses", "IngressClass", "networking.k8s.io", "v1", False, (), ()),
    Resource("networkpolicies", "NetworkPolicy", "networking.k8s.io", "v1", True, ("netpol",), ()),
    Resource(
        "horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v2", True, ("hpa",), categories=ALL
    ),
    Resource("poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", True, ("pdb",)),
    Resource("storageclasses", "StorageClass", "storage.k8s.io", "v1", False, ("sc",), ()),
    Resource("volumesnapshots", "VolumeSnapshot", "snapshot.storage.k8s.io", "v1", True, ("vs",)),
    Resource(
        "volumesnapshotcontents", "VolumeSnapshotContent", "snapshot.storage.k8s.io", "v1", False, ("vsc", "vscs")
    ),
    Resource(
        "volumesnapshotclasses",
        "VolumeSnapshotClass",
        "snapshot.storage.k8s.io",
        "v1",
        False,
        ("vsclass", "vsclasses"),
        (),
    ),
    Resource("nodes", "NodeMetrics", "metrics.k8s.io", "v1beta1", False, (), (), READ_VERBS, stored=False),
    Resource("pods", "PodMetrics", "metrics.k8s.io", "v1beta1", True, (), (), READ_VERBS, stored=False),
    Resource("clusterrolebindings", "ClusterRoleBinding", RBAC_GROUP, "v1", False, (), ()),
    Resource("clusterroles", "ClusterRole", RBAC_GROUP, "v1", False, (), ()),
    Resource("rolebindings", "RoleBinding", RBAC_GROUP, "v1", True, (), ()),
    Resource("roles", "Role", RBAC_GROUP, "v1", True, (), ()),
    Resource(
        "customresourcedefinitions",
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "v1",
        False,
        ("crd", "crds"),
        ("status",),
        categories=("api-extensions",),
    ),
    Resource(
        "selfsubjectreviews",
        "SelfSubjectReview",
        "authentication.k8s.io",
        "v1",
        False,
        (),
        (),
        ("create",),
        stored=False,
    ),
    Resource(
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        "authorization.k8s.io",
        "v1",
        True,
        (),
        (),
        ("create",),
        stored=False,
    ),
    Resource(
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        "authorization.k8s.io",
        "v1",
        False,
        (),
        (),
        ("create",),
        stored=False,
    ),
    Resource(
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        "authorization.k8s.io",
        "v1",
        False,
        (),
        (),
        ("create",),
        stored=False,
    ),
    Resource(
        "subjectaccessreviews",
        "SubjectAccessReview",
        "authorization.k8s.io",
        "v1",
        False,
        (),
        (),
        ("create",),
        stored=False,
    ),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
STORED = {r.key: r for r in RESOURCES if r.stored}  # store key (the plural for built-in kinds) -> Resource
BY_KIND = {r.kind: r for r in RESOURCES if r.stored}
GROUPS = {}
for _r in RESOURCES:
    GROUPS.setdefault(_r.group, _r.version)
# Older versions a real API server still serves, converted to and from the stored one (versions.py):
# `kubectl autoscale` posts autoscaling/v1. Discovery lists them after the preferred version.
CONVERTED = [
    Resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v1", True, ("hpa",), categories=ALL)
]
BY_PATH.update({(r.group, r.version, r.plural): r for r in CONVERTED})
SCALABLE = {"deployments", "replicasets", "statefulsets"}


def of(plural):
    """The stored resource for a plural: of("pods")."""
    return STORED[plural]
