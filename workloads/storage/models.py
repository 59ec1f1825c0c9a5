"""Volumes (a PVC on the Ceph RBD StorageClass in a tenant namespace, mapped to its RBD image)
and their backup chains: each Backup is a node whose parent is the node it is incremental
from (a full backup has none). A node's snapshot stays on the volume's image while the node
exists: it is what the next incremental starts from, and what a rollback goes back to."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.jobs.models import Job
from console.texts import StoredTextField, TextDecoder, TextEncoder
from tenants.models import Project
from workloads.models import InNamespace

from .choices import BackupKind, BackupMethod, BackupStatus, VolumeStatus, Weekday


class Volume(InNamespace, models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="volumes", verbose_name=_("namespace"))
    name = models.CharField(_("name"), max_length=63)  # the PersistentVolumeClaim's
    size_bytes = models.BigIntegerField(_("size"))
    storage_class = models.CharField(_("storage class"), max_length=253, blank=True)
    # Where its data lives, from the bound PV's volumeAttributes (ceph-csi's pool and imageName).
    pool = models.CharField(_("pool"), max_length=128, blank=True)
    image = models.CharField(_("image"), max_length=128, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=VolumeStatus.choices, default=VolumeStatus.CREATING)
    restored_from = models.ForeignKey(
        "Backup", null=True, blank=True, on_delete=models.SET_NULL, related_name="restored_volumes"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__tenant__name", "project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="volume_unique_name")]

    def __str__(self):
        return self.name

    @property
    def status_colour(self):
        return VolumeStatus.colour(self.status)

    @property
    def busy(self):
        return self.status in VolumeStatus.active()

    @property
    def group(self):
        """The websocket group its page (the backup chain) follows."""
        return f"backupchain-{self.pk}"

    def target(self, **extra):
        return {
            "tenant": self.project.tenant.name,
            "cluster": self.project.cluster.name,
            "namespace": self.project.name,
            "kind": "PersistentVolumeClaim",
            "name": self.name,
            **extra,
        }


class Backup(models.Model):
    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="backups")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.RESTRICT, related_name="children")
    kind = models.CharField(_("kind"), max_length=16, choices=BackupKind.choices)
    # rbd: `snapshot` is on the volume's image, `artefact` in the backup pool; csi: `snapshot` is the
    # VolumeSnapshot (in the volume's namespace), `artefact` its bound VolumeSnapshotContent.
    method = models.CharField(_("method"), max_length=8, choices=BackupMethod.choices, default=BackupMethod.RBD)
    snapshot = models.CharField(_("snapshot"), max_length=128, blank=True)
    artefact = models.CharField(_("artefact"), max_length=255, blank=True)
    image_size = models.BigIntegerField(_("volume size"), null=True, blank=True)  # the image's, at the snapshot
    size_bytes = models.BigIntegerField(_("size"), null=True, blank=True)  # the artefact's
    data_bytes = models.BigIntegerField(_("data"), null=True, blank=True)  # changed data it holds
    checksum = models.CharField(_("checksum"), max_length=64, blank=True)  # SHA-256 of the content at the snapshot
    artefact_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=BackupStatus.choices, default=BackupStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)  # how long the backup took
    # The slot a backup policy made it for (None: made by hand); the policy's retention counts
    # days and weeks by it, in the tenant's time zone, and removes only such nodes.
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)

    class Meta:
        ordering = ["volume", "created_at", "pk"]

    def __str__(self):
        return f"#{self.pk}"

    @property
    def status_colour(self):
        return BackupStatus.colour(self.status)

    @property
    def kind_colour(self):
        return BackupKind.colour(self.kind)

    @property
    def succeeded(self):
        return self.status == BackupStatus.SUCCEEDED

    @property
    def csi(self):
        return self.method == BackupMethod.CSI

    def chain(self):
        """The nodes a restore of this one replays: the full backup first, this node last."""
        nodes, node = [], self
        while node is not None:
            nodes.append(node)
            node = node.parent
        return list(reversed(nodes))


class BackupPolicy(models.Model):
    """Back the volume up every day (or every `weekday`) at `at` (the tenant's local time); after each scheduled
    backup, keep the newest scheduled node of each of the last `keep_daily` days and of each
    of the last `keep_weekly` ISO weeks that have one, and remove the other scheduled nodes
    (consolidating the chain where a kept node continues one that goes). Nodes made by hand
    are never removed by it. Celery beat runs the due ones (tasks.run_backup_policies)."""

    volume = models.OneToOneField(Volume, on_delete=models.CASCADE, related_name="policy")
    at = models.TimeField(_("time"))
    # None: every day; else only on that day of the week (0 Monday ... 6 Sunday, the tenant's calendar)
    weekday = models.PositiveSmallIntegerField(_("day of the week"), choices=Weekday.choices, null=True, blank=True)
    keep_daily = models.PositiveSmallIntegerField(_("daily backups kept"), default=7)
    keep_weekly = models.PositiveSmallIntegerField(_("weekly backups kept"), default=4)
    last_run_on = models.DateField(null=True, blank=True)  # the tenant-local date it last ran
    # the last day a scheduled backup was skipped (the volume was busy with another job), and why
    skipped_on = models.DateField(_("skipped on"), null=True, blank=True)
    skipped_because = StoredTextField(_("skipped because"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        every = "" if self.weekday is None else f" on weekday {self.weekday}"
        return f"{self.volume}{every} at {self.at:%H:%M}, keep {self.keep_daily} daily and {self.keep_weekly} weekly"


class CephState(models.Model):
    """The last health and pool usage a worker read from Ceph (pages never call Ceph)."""

    taken_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(
        default=dict, blank=True, encoder=TextEncoder, decoder=TextDecoder
    )  # {"health": {...}, "pools": [...]} or {"problem": "..."}

    def __str__(self):
        return f"Ceph state at {self.taken_at}"
