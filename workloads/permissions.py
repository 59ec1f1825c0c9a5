"""What the console's own identity needs on a cluster to run apps: operators, schedules and
restores act as the console (tenant members are impersonated), registered with
console.clusters.permissions. Kinds as workloads/manifests.py and tasks.py use them."""

from django.utils.translation import gettext_lazy as _

from console.clusters import permissions
from console.kube.kinds import KINDS

APPLIED = (
    "Deployment",
    "StatefulSet",
    "Service",
    "Ingress",
    "HorizontalPodAutoscaler",
)  # server-side apply: create + patch
DELETED = APPLIED + ("Pod", "PersistentVolumeClaim")  # app deletion, pod restarts, volumes
READ = ("Pod", "Secret")  # a pod's state and log, an env Secret's existence
LISTED = ("Pod", "ReplicaSet", "ControllerRevision", "Event", "PersistentVolumeClaim", "ResourceQuota", "StorageClass")
SCALED = ("Deployment", "StatefulSet")


def needs():
    kind = KINDS.__getitem__
    return [
        *[need for name in APPLIED for need in permissions.needs_for(("create", "patch", "get"), kind(name))],
        *[need for name in DELETED for need in permissions.needs_for(("delete",), kind(name))],
        *[need for name in READ for need in permissions.needs_for(("get",), kind(name))],
        *[need for name in LISTED for need in permissions.needs_for(("list",), kind(name))],
        *[need for name in SCALED for need in permissions.needs_for(("patch",), kind(name), "scale")],
        *permissions.needs_for(("get",), kind("Pod"), "log"),
    ]


def terminal_needs():
    """pods/exec over websocket: a GET the API server also checks for `create`."""
    return permissions.needs_for(("get", "create"), KINDS["Pod"], "exec")


def register():
    permissions.register(
        "terminal",
        _("Terminals"),
        _("Operators cannot open terminals into containers on this cluster (they act as the console itself)."),
        terminal_needs,
    )
    permissions.register(
        "apps",
        _("Apps"),
        _(
            "Deploying, changing, scaling and deleting apps is refused on this cluster (operators, schedules and "
            "restores act as the console itself)."
        ),
        needs,
    )
