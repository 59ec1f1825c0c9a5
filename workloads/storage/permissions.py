"""What the console's own identity needs on a cluster for storage, registered with
console.clusters.permissions: it reads the PersistentVolumes claims are bound to (their RBD
image), and on a CSI-only cluster it makes and deletes the VolumeSnapshots (tenants' built-in
admin/edit roles do not cover snapshot.storage.k8s.io; see csi.py)."""

from django.utils.translation import gettext_lazy as _

from console.clusters import permissions
from console.kube.kinds import KINDS


def needs():
    kind = KINDS.__getitem__
    return [
        *permissions.needs_for(("get",), kind("PersistentVolume")),
        *permissions.needs_for(("create", "patch", "get", "delete"), kind("VolumeSnapshot")),
        *permissions.needs_for(("get",), kind("VolumeSnapshotContent")),
    ]


def register():
    permissions.register(
        "storage",
        _("Volumes and backups"),
        _(
            "Volumes cannot be mapped to their RBD images, and backups through the cluster's snapshot API "
            "(VolumeSnapshots) are refused on this cluster."
        ),
        needs,
    )
