from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusChoices, StatusGroup, status


class VolumeStatus(StatusChoices):
    CREATING = status("creating", _("Creating"), "primary", StatusGroup.RUNNING)
    READY = status("ready", _("Ready"), "success")
    RESIZING = status("resizing", _("Resizing"), "primary", StatusGroup.RUNNING)
    ROLLING_BACK = status("rolling_back", _("Rolling back"), "primary", StatusGroup.RUNNING)
    RESTORING = status("restoring", _("Restoring"), "primary", StatusGroup.RUNNING)
    DELETING = status("deleting", _("Deleting"), "warning", StatusGroup.RUNNING)
    FAILED = status("failed", _("Failed"), "danger")


class BackupStatus(StatusChoices):
    PENDING = status("pending", _("Queued"), group=StatusGroup.PENDING)
    RUNNING = status("running", _("Running"), "primary", StatusGroup.RUNNING)
    SUCCEEDED = status("succeeded", _("Succeeded"), "success")
    FAILED = status("failed", _("Failed"), "danger")
    DELETING = status("deleting", _("Deleting"), "warning", StatusGroup.RUNNING)


class BackupMethod(StatusChoices):
    """How a node is stored: an RBD snapshot and its export(-diff) in the backup pool (the console
    reaches Ceph), or a CSI VolumeSnapshot made through the cluster's API (it does not)."""

    RBD = status("rbd", _("Ceph RBD chain"), "dark")
    CSI = status("csi", _("CSI VolumeSnapshot"), "secondary")


class BackupKind(StatusChoices):
    FULL = status("full", _("Full"), "dark")
    INCREMENTAL = status("incremental", _("Incremental"), "info")


JOB_KINDS = {
    "volume.create": _("Create volume"),
    "volume.resize": _("Resize volume"),
    "volume.delete": _("Delete volume"),
    "backup.create": _("Back up volume"),
    "backup.rollback": _("Roll volume back"),
    "backup.restore": _("Restore backup to a new volume"),
    "backup.delete": _("Delete backup"),
    "backup.consolidate": _("Consolidate backup chain"),
    "backup.scheduled": _("Scheduled backup"),
    "ceph.status": _("Read Ceph status"),
}


class Weekday(models.IntegerChoices):
    """The day a weekly backup policy runs (Python's weekday(): 0 is Monday)."""

    MONDAY = 0, _("Every Monday")
    TUESDAY = 1, _("Every Tuesday")
    WEDNESDAY = 2, _("Every Wednesday")
    THURSDAY = 3, _("Every Thursday")
    FRIDAY = 4, _("Every Friday")
    SATURDAY = 5, _("Every Saturday")
    SUNDAY = 6, _("Every Sunday")
