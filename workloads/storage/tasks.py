"""Celery work of the storage app, on the `ceph` queue (settings: CELERY_TASK_ROUTES): claims
and their RBD images through the Kubernetes API, snapshots, backups, rollbacks and restores
through the Ceph gateway (console.ceph), each call bounded by CEPH_TIMEOUT. Ceph's errors
end the job with their own sentence. Progress goes to the job's steps and, as the chain
partial, to the volume's page (group backupchain-<id>)."""

import logging
import re
import time
from functools import wraps

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from console.ceph.errors import (
    BackupExists,
    BackupIncomplete,
    BackupNotFound,
    CephError,
    CephNotConfigured,
    ImageNotFound,
    SnapshotExists,
    SnapshotNotFound,
)
from console.ceph.gateway import Ceph
from console.choices import JobStatus, NotificationLevel, OperationResult
from console.clusters.models import Cluster
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.notifications import notifications
from console.quantity import format_bytes
from console.texts import message
from workloads.choices import AppKind, AppStatus
from workloads.cluster import identity
from workloads.models import App

from . import csi, live, retention, services
from .choices import BackupKind, BackupMethod, BackupStatus, VolumeStatus
from .models import Backup, BackupPolicy, CephState, Volume

log = logging.getLogger(__name__)

MAX_RETRIES = 3
POLL_SECONDS = 0.3

FINISHED = message("%(what)s of %(volume)s finished")
FAILED = message("%(what)s of %(volume)s failed")
VOLUME_GONE = message("The volume is gone.")
BACKUP_GONE = message("The backup is gone.")
CLAIM_BOUND = message("%(name)s is bound to %(pv)s: RBD image %(pool)s/%(image)s.")
NOT_BOUND = message("%(name)s was not bound within %(seconds)s s (%(phase)s).")
NOT_RBD = message("%(pv)s is not a Ceph RBD volume (no pool and imageName in its volumeAttributes).")
GREW = message("%(name)s has grown to %(size)s.")
NOT_GROWN = message("%(name)s did not grow within %(seconds)s s.")
SNAPSHOT_TAKEN = message("Took snapshot %(snapshot)s of %(image)s.")
STORED_FULL = message("Stored a full backup: %(data)s of data, %(size)s artefact, in %(seconds)s s.")
STORED_INCREMENTAL = message(
    "Stored an incremental backup from %(since)s: %(data)s changed, %(size)s artefact, in %(seconds)s s."
)
CHECKSUM = message("Content checksum at the snapshot: %(checksum)s.")
STRAY_REMOVED = message("Removed %(artefact)s, left by an interrupted job: no backup uses it.")
CLEANED_UP = message("Removed what the failed backup left (snapshot %(snapshot)s).")
SCALED_DOWN = message("Scaled %(kind)s %(name)s from %(replicas)s to 0.")
SCALED_BACK = message("Scaled %(kind)s %(name)s back to %(replicas)s.")
UNMOUNTED = message("No pod mounts %(name)s any more.")
STILL_MOUNTED = message("%(name)s is still mounted after %(seconds)s s: nothing was rolled back.")
RECREATED = message("Made %(name)s again from VolumeSnapshot %(snapshot)s.")
ROLLED_BACK = message("Rolled %(image)s back to snapshot %(snapshot)s.")
VERIFIED = message("Verified: the content's checksum is the backup's (%(checksum)s).")
MISMATCH = message("The content's checksum %(found)s differs from the backup's %(expected)s.")
IMPORTED = message("Imported backup %(node)s (%(kind)s) into %(image)s (%(step)s of %(steps)s).")
ALREADY_IMPORTED = message("Backup %(node)s is in %(image)s already.")
RESTORE_REMOVED = message("Removed %(name)s again: nothing is left half-restored.")
BACKUP_REMOVED = message("Removed backup %(node)s (artefact %(artefact)s and snapshot %(snapshot)s).")
CLAIM_DELETED = message("Deleted PersistentVolumeClaim %(name)s.")
CLAIM_STAYS = message("%(name)s is still there after %(seconds)s s.")
VOLUME_DELETED = message("Volume %(name)s is deleted.")
REWRITTEN_FULL = message(
    "Stored backup %(node)s again as a full backup (%(data)s of data, %(size)s artefact): it no longer needs %(old)s."
)
REWRITTEN_INCREMENTAL = message(
    "Stored backup %(node)s again as incremental from %(base)s (%(data)s changed, %(size)s artefact): "
    "it no longer needs %(old)s."
)
REPARENTED = message("Failed backup %(node)s no longer refers to %(old)s.")
NO_POLICY = message("%(name)s has no backup policy any more: no retention.")
RETENTION_WAITS = message("A rollback or restore is using the backups of %(name)s: retention waits for the next run.")
RETENTION = message("Retention (%(daily)s daily, %(weekly)s weekly) keeps %(kept)s and removes %(removed)s.")
RETENTION_NOTHING = message("Retention (%(daily)s daily, %(weekly)s weekly) keeps %(kept)s: nothing to remove.")
SCHEDULED_MADE = message("Made backup %(node)s (%(kind)s, %(data)s of data); retention removed %(removed)s.")
SCHEDULED_MADE_ONLY = message("Made backup %(node)s (%(kind)s, %(data)s of data); retention removed nothing.")
SCHEDULED_NOT_RUN = message("Scheduled backup of %(volume)s did not run")
SCHEDULED_SKIPPED = message("Scheduled backup of %(volume)s skipped today")
NO_POLICY_ATTACHED = message("A volume of %(name)s has no backup policy")


@shared_task(bind=True, max_retries=MAX_RETRIES)
def run_storage_job(self, job_id):
    jobs.run(self, job_id)


def ceph_failures(runner):
    """Ceph's errors end the job with their own sentence (translated for each reader)."""

    @wraps(runner)
    def run(job):
        try:
            return runner(job)
        except CephError as exc:
            raise JobFailed(exc.text) from exc

    return run


# --- shared steps -----------------------------------------------------------------------


def _volume(job):
    volume = (
        Volume.objects.select_related("project__tenant", "project__cluster")
        .filter(pk=job.payload.get("volume"))
        .first()
    )
    if volume is None:
        raise JobFailed(VOLUME_GONE())
    return volume


def _backup(job):
    backup = Backup.objects.select_related("parent", "volume").filter(pk=job.payload.get("backup")).first()
    if backup is None:
        raise JobFailed(BACKUP_GONE())
    return backup


def _api(job, volume):
    return ClusterAPI(volume.project.cluster, identity(job.requested_by, volume.project.tenant))


def _set_volume(volume, **fields):
    Volume.objects.filter(pk=volume.pk).update(**fields)
    for name, value in fields.items():
        setattr(volume, name, value)
    live.push_chain(volume)


def _set_backup(backup, **fields):
    Backup.objects.filter(pk=backup.pk).update(**fields)
    for name, value in fields.items():
        setattr(backup, name, value)
    live.push_chain(backup.volume)


def _claim(job, api, volume, size, source=None):
    after = {"size": size, "storage_class": volume.storage_class}
    if source:
        after["data_source"] = source
    labels = job.payload.get("labels")  # a restore's for a replicated stack: as its StatefulSet sets them
    if labels is None:  # the claim keeps the labels it has (server-side apply would drop what is left out)
        current = api.get("PersistentVolumeClaim", volume.name, volume.namespace) or {}
        labels = (current.get("metadata") or {}).get("labels")
    return jobs.apply(
        job,
        api,
        services.pvc(volume.project, volume.name, size, volume.storage_class, labels=labels, source=source),
        action="volume.apply",
        after=after,
    )


def _replace_claim(job, api, volume, node):
    """CSI rollback: the claim is deleted (nothing mounts it) and made again from the node's
    VolumeSnapshot, under the same name; it is bound to a new PV (a clone of the snapshot)."""
    csi.ready(volume, node)
    _touch(job)  # from here a failure leaves the volume to be made again: failed, not ready
    if api.delete("PersistentVolumeClaim", volume.name, volume.namespace):
        jobs.step(job, CLAIM_DELETED(name=volume.name))
        jobs.record(job, "volume.delete_object", OperationResult.SUCCEEDED, after={"reason": "volume rollback"})
    deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
    while api.get("PersistentVolumeClaim", volume.name, volume.namespace) is not None:
        if time.monotonic() > deadline:
            raise JobFailed(CLAIM_STAYS(name=volume.name, seconds=settings.CAAS_ROLLOUT_TIMEOUT))
        jobs.wait(job, POLL_SECONDS)
    size = max(volume.size_bytes, node.image_size or 0)
    _claim(job, api, volume, size, source=csi.data_source(node))
    _wait_bound(job, api, volume)
    jobs.step(job, RECREATED(name=volume.name, snapshot=node.snapshot))
    if size != volume.size_bytes:
        _set_volume(volume, size_bytes=size)


def _wait_bound(job, api, volume):
    """Wait for the claim to be bound; map it to its RBD image (the PV's ceph-csi attributes)."""
    deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
    while True:
        claim = api.get("PersistentVolumeClaim", volume.name, volume.namespace) or {}
        phase = (claim.get("status") or {}).get("phase", "")
        if phase == "Bound":
            break
        if time.monotonic() > deadline:
            raise JobFailed(NOT_BOUND(name=volume.name, seconds=settings.CAAS_ROLLOUT_TIMEOUT, phase=phase or "-"))
        jobs.wait(job, POLL_SECONDS)
    pv_name = claim["spec"]["volumeName"]
    with ClusterAPI(volume.project.cluster) as console:  # PVs are cluster-wide: read as the console itself
        pv = console.get("PersistentVolume", pv_name) or {}
    attributes = ((pv.get("spec") or {}).get("csi") or {}).get("volumeAttributes") or {}
    pool, image = attributes.get("pool"), attributes.get("imageName")
    if not pool or not image:
        raise JobFailed(NOT_RBD(pv=pv_name))
    _set_volume(volume, pool=pool, image=image)
    jobs.step(job, CLAIM_BOUND(name=volume.name, pv=pv_name, pool=pool, image=image))
    return pv_name


def _capacity(volume, claim):
    """Bytes the claim's PV has (0 while unbound)."""
    pv_name = (claim.get("spec") or {}).get("volumeName")
    if not pv_name:
        return 0
    with ClusterAPI(volume.project.cluster) as console:  # PVs are cluster-wide: read as the console itself
        pv = console.get("PersistentVolume", pv_name) or {}
    capacity = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
    return services.parse_size(capacity) if capacity else 0


def _wait_unmounted(job, api, volume):
    deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
    while services.mounting_pods(api, volume):
        if time.monotonic() > deadline:
            raise JobFailed(STILL_MOUNTED(name=volume.name, seconds=settings.CAAS_ROLLOUT_TIMEOUT))
        jobs.wait(job, POLL_SECONDS)
    jobs.step(job, UNMOUNTED(name=volume.name))


def _verify(job, ceph, volume, backup):
    found = ceph.checksum(volume.image, pool=volume.pool)
    if found != backup.checksum:
        raise JobFailed(MISMATCH(found=found[:16], expected=backup.checksum[:16]))
    jobs.step(job, VERIFIED(checksum=found[:16]))
    return found


# --- runners ----------------------------------------------------------------------------


def create(job):
    volume = _volume(job)
    with _api(job, volume) as api:
        _claim(job, api, volume, volume.size_bytes)
        pv = _wait_bound(job, api, volume)
    _set_volume(volume, status=VolumeStatus.READY)
    return {"pv": pv, "pool": volume.pool, "image": volume.image}


def resize(job):
    volume = _volume(job)
    size = job.payload["size"]
    with _api(job, volume) as api:
        _claim(job, api, volume, size)
        deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
        while True:  # the PV grows once ceph-csi grew the image; the claim's own capacity waits for a node
            claim = api.get("PersistentVolumeClaim", volume.name, volume.namespace) or {}
            if _capacity(volume, claim) >= size:
                break
            if time.monotonic() > deadline:
                raise JobFailed(NOT_GROWN(name=volume.name, seconds=settings.CAAS_ROLLOUT_TIMEOUT))
            jobs.wait(job, POLL_SECONDS)
    before = volume.size_bytes
    _set_volume(volume, size_bytes=size, status=VolumeStatus.READY)
    jobs.step(job, GREW(name=volume.name, size=format_bytes(size)))
    return {"from": before, "to": size}


def _csi_backup(job, node):
    """A node made through the cluster: its VolumeSnapshot, ready to use."""
    volume = node.volume
    try:
        taken = csi.take(job, volume, node)
    except Exception:
        try:
            csi.discard(volume, node)
            jobs.step(job, CLEANED_UP(snapshot=node.snapshot), ok=False)
        except Exception:  # the cluster may be down: the failing hook tries again
            log.warning("could not delete the VolumeSnapshot of failed backup %s", node, exc_info=True)
        raise
    _set_backup(
        node,
        status=BackupStatus.SUCCEEDED,
        artefact=taken["content"],
        image_size=taken["restore_size"],
        finished_at=timezone.now(),
        seconds=taken["seconds"],
    )
    return {
        "backup": node.pk,
        "kind": node.kind,
        "method": node.method,
        "content": taken["content"],
        "restore_size": taken["restore_size"],
        "deletion_policy": taken["deletion_policy"],
        "seconds": taken["seconds"],
    }


STRAY = re.compile(r"@caas-backup-\d+\.j(\d+)$")


def _collect_strays(job, ceph, volume):
    """Remove artefacts of the volume's image that no node names any more and no running job
    is writing: what a consolidation or retention killed mid-way left (`...@<snapshot>.j<job>`,
    or the old artefact of a node it had already stored again)."""
    named = set(Backup.objects.filter(volume=volume).values_list("artefact", flat=True))
    for name in ceph.backup_names(f"{volume.pool}/{volume.image}@caas-backup-"):
        if name in named:
            continue
        match = STRAY.search(name)
        writer = int(match.group(1)) if match else None
        if writer is not None and Job.objects.filter(pk=writer, status__in=JobStatus.active()).exists():
            continue
        if writer is None and not Backup.objects.filter(artefact__startswith=name + ".j").exists():
            continue  # not the old artefact of a node stored again: leave what we do not know
        try:
            ceph.remove_backup(name)
        except BackupNotFound:
            continue
        jobs.step(job, STRAY_REMOVED(artefact=name))
        jobs.record(job, "backup.collect_stray", OperationResult.SUCCEEDED, before={"artefact": name})


@ceph_failures
def backup(job):
    node = _backup(job)
    volume = node.volume
    parent = node.parent
    _set_backup(node, status=BackupStatus.RUNNING)
    if node.method == BackupMethod.CSI:
        return _csi_backup(job, node)
    started = time.monotonic()
    with Ceph() as ceph:
        _collect_strays(job, ceph, volume)
        try:
            try:
                ceph.create_snapshot(volume.image, node.snapshot, pool=volume.pool)
            except SnapshotExists:  # a second delivery of this job: the snapshot is this node's
                pass
            jobs.step(job, SNAPSHOT_TAKEN(snapshot=node.snapshot, image=volume.image))
            since = parent.snapshot if parent else None
            try:
                manifest = ceph.backup(volume.image, node.snapshot, since=since, name=node.artefact, pool=volume.pool)
            except BackupExists:
                manifest = ceph.verify_backup(node.artefact)
            except BackupIncomplete:
                ceph.remove_backup(node.artefact)
                manifest = ceph.backup(volume.image, node.snapshot, since=since, name=node.artefact, pool=volume.pool)
            seconds = round(time.monotonic() - started, 2)
            sizes = {"data": format_bytes(manifest.data_bytes), "size": format_bytes(manifest.size), "seconds": seconds}
            jobs.step(job, STORED_INCREMENTAL(since=since, **sizes) if since else STORED_FULL(**sizes))
            checksum = ceph.checksum(volume.image, pool=volume.pool, snapshot=node.snapshot)
            jobs.step(job, CHECKSUM(checksum=checksum[:16]))
        except (CephError, JobFailed):
            _clean_up(job, ceph, volume, node)
            raise
    _set_backup(
        node,
        status=BackupStatus.SUCCEEDED,
        image_size=manifest.image_size,
        size_bytes=manifest.size,
        data_bytes=manifest.data_bytes,
        artefact_sha256=manifest.sha256,
        checksum=checksum,
        finished_at=timezone.now(),
        seconds=seconds,
    )
    return {
        "backup": node.pk,
        "kind": node.kind,
        "since": since,
        "data_bytes": manifest.data_bytes,
        "size": manifest.size,
        "checksum": checksum,
        "seconds": seconds,
    }


def _remove_from_ceph(ceph, volume, node):
    """Remove a backup node's artefact and snapshot; what is gone already is fine."""
    try:
        ceph.remove_backup(node.artefact)
    except BackupNotFound:
        pass
    try:
        ceph.remove_snapshot(volume.image, node.snapshot, pool=volume.pool)
    except (SnapshotNotFound, ImageNotFound):
        pass


def _clean_up(job, ceph, volume, node):
    """A failed backup leaves neither a snapshot nor an artefact behind (best effort: Ceph may be down)."""
    try:
        _remove_from_ceph(ceph, volume, node)
        jobs.step(job, CLEANED_UP(snapshot=node.snapshot), ok=False)
    except CephError:
        pass


@shared_task(bind=True, max_retries=10)
def clean_up_failed_backup(self, backup_id):
    """Remove what a failed backup left in Ceph: its snapshot and its artefact, finished or
    half-written (the gateway removes an unfinished one too). Queued when the node fails, also
    when the reaper fails it after its worker died mid-way; tried again while Ceph does not
    answer. Returns whether it looked."""
    node = (
        Backup.objects.select_related("volume__project__cluster")
        .filter(pk=backup_id, status=BackupStatus.FAILED)
        .first()
    )
    if node is None or not node.volume.image:
        return False
    volume = node.volume
    if node.method == BackupMethod.CSI:
        try:
            csi.discard(volume, node)
        except ClusterError:
            raise self.retry(countdown=min(2 ** (self.request.retries + 1), 60)) from None
        except ApiRefused as exc:
            log.warning("could not delete the VolumeSnapshot of failed backup %s: %s", node, exc)
            return False
        return True
    try:
        with Ceph() as ceph:
            _remove_from_ceph(ceph, volume, node)
    except CephError as exc:
        if not exc.retryable:
            log.warning("could not remove what the failed backup %s left: %s", node, exc)
            return False
        raise self.retry(countdown=min(2 ** (self.request.retries + 1), 60)) from None
    return True


@ceph_failures
def rollback(job):
    node = _backup(job)
    volume = _volume(job)
    scaled = []
    with _api(job, volume) as api:
        try:
            for app in job.payload.get("apps", []):
                api.scale(app["kind"], app["name"], volume.namespace, 0)
                scaled.append(app)
                jobs.step(job, SCALED_DOWN(kind=app["kind"], name=app["name"], replicas=app["replicas"]))
                jobs.record(
                    job,
                    "workload.scale",
                    OperationResult.SUCCEEDED,
                    kind=app["kind"],
                    name=app["name"],
                    before={"replicas": app["replicas"]},
                    after={"replicas": 0, "reason": "volume rollback"},
                )
            _wait_unmounted(job, api, volume)
            if node.method == BackupMethod.CSI:
                _replace_claim(job, api, volume, node)
                checksum = ""
            else:
                with Ceph() as ceph:
                    ceph.rollback(volume.image, node.snapshot, pool=volume.pool)
                    jobs.step(job, ROLLED_BACK(image=volume.image, snapshot=node.snapshot))
                    checksum = _verify(job, ceph, volume, node)
        finally:
            for app in scaled:  # whatever happened, the apps come back
                api.scale(app["kind"], app["name"], volume.namespace, app["replicas"])
                jobs.step(job, SCALED_BACK(kind=app["kind"], name=app["name"], replicas=app["replicas"]))
                jobs.record(
                    job,
                    "workload.scale",
                    OperationResult.SUCCEEDED,
                    kind=app["kind"],
                    name=app["name"],
                    before={"replicas": 0},
                    after={"replicas": app["replicas"], "reason": "volume rollback"},
                )
    _set_volume(volume, status=VolumeStatus.READY)
    return {"backup": node.pk, "snapshot": node.snapshot, "checksum": checksum}


@ceph_failures
def restore(job):
    node = _backup(job)
    volume = _volume(job)
    chain = node.chain()
    if node.method == BackupMethod.CSI:
        return _csi_restore(job, node, volume)
    with _api(job, volume) as api:
        try:
            _claim(job, api, volume, volume.size_bytes)
            _wait_bound(job, api, volume)
            with Ceph() as ceph:
                present = {snap.name for snap in ceph.snapshots(volume.image, pool=volume.pool)}
                for number, link in enumerate(chain, 1):
                    if link.snapshot in present:
                        jobs.step(job, ALREADY_IMPORTED(node=str(link), image=volume.image))
                        continue
                    ceph.apply_backup(link.artefact, volume.image, pool=volume.pool)
                    jobs.step(
                        job,
                        IMPORTED(
                            node=str(link),
                            kind=link.get_kind_display(),
                            image=volume.image,
                            step=number,
                            steps=len(chain),
                        ),
                    )
                checksum = _verify(job, ceph, volume, node)
        except (CephError, JobFailed):
            if api.delete("PersistentVolumeClaim", volume.name, volume.namespace):
                jobs.step(job, RESTORE_REMOVED(name=volume.name), ok=False)
            raise
    _set_volume(volume, status=VolumeStatus.READY)
    return {"backup": node.pk, "chain": [link.pk for link in chain], "image": volume.image, "checksum": checksum}


def _csi_restore(job, node, volume):
    """A new claim whose dataSource is the node's VolumeSnapshot (ceph-csi clones its RBD snapshot)."""
    csi.ready(node.volume, node)
    with _api(job, volume) as api:
        try:
            _claim(job, api, volume, volume.size_bytes, source=csi.data_source(node))
            _wait_bound(job, api, volume)
        except (ClusterError, JobFailed, ApiRefused):
            if api.delete("PersistentVolumeClaim", volume.name, volume.namespace):
                jobs.step(job, RESTORE_REMOVED(name=volume.name), ok=False)
            raise
    _set_volume(volume, status=VolumeStatus.READY)
    return {"backup": node.pk, "snapshot": node.snapshot, "image": volume.image}


def _touch(job):
    """From here on the job changes what it removes: a failure no longer leaves it whole."""
    if not job.payload.get("touched"):
        job.payload = {**job.payload, "touched": True}
        Job.objects.filter(pk=job.pk).update(payload=job.payload)


class Removal:
    """Removes a volume's nodes, each the way it was made: an RBD node's artefact and snapshot
    through Ceph (connected on first need), a CSI node's VolumeSnapshot through the cluster."""

    def __init__(self, job, volume):
        self.job, self.volume, self._ceph = job, volume, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._ceph is not None:
            self._ceph.close()

    @property
    def ceph(self):
        if self._ceph is None:
            ceph = Ceph()
            ceph.connect()
            self._ceph = ceph
        return self._ceph

    def __call__(self, node):
        job, volume = self.job, self.volume
        if node.method == BackupMethod.CSI:
            csi.remove(job, volume, node, touched=lambda: _touch(job))
            return
        ceph = self.ceph
        _touch(job)
        _remove_from_ceph(ceph, volume, node)
        jobs.step(job, BACKUP_REMOVED(node=str(node), artefact=node.artefact, snapshot=node.snapshot))
        jobs.record(
            job,
            "backup.remove",
            OperationResult.SUCCEEDED,
            before={"backup": node.pk, "artefact": node.artefact, "snapshot": node.snapshot},
        )


@ceph_failures
def delete_backup(job):
    node = _backup(job)
    volume = _volume(job)
    with Removal(job, volume) as remove:
        remove(node)
    node.delete()
    live.push_chain(volume)
    return {"backup": job.payload["backup"]}


@ceph_failures
def delete(job):
    volume = (
        Volume.objects.select_related("project__tenant", "project__cluster")
        .filter(pk=job.payload.get("volume"))
        .first()
    )
    if volume is None:
        return {}
    nodes = list(volume.backups.order_by("-created_at", "-pk"))
    if nodes and volume.image:
        with Removal(job, volume) as remove:
            for node in nodes:  # newest first: no node goes before one that continues it
                remove(node)
                node.delete()
    with _api(job, volume) as api:
        if api.delete("PersistentVolumeClaim", volume.name, volume.namespace):
            jobs.step(job, CLAIM_DELETED(name=volume.name))
            jobs.record(job, "volume.delete_object", OperationResult.SUCCEEDED)
        deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
        while api.get("PersistentVolumeClaim", volume.name, volume.namespace) is not None:
            if time.monotonic() > deadline:
                raise JobFailed(CLAIM_STAYS(name=volume.name, seconds=settings.CAAS_ROLLOUT_TIMEOUT))
            jobs.wait(job, POLL_SECONDS)
    live.push_chain(volume, gone=True)
    volume.delete()
    jobs.step(job, VOLUME_DELETED(name=volume.name))
    return {"backups": len(nodes)}


# --- consolidation and retention ---------------------------------------------------------


def _names(pks):
    return ", ".join(f"#{pk}" for pk in sorted(pks)) or "-"


def _rewrite(job, ceph, volume, node, base):
    """Store the node again from its own snapshot: incremental from `base` (a kept ancestor),
    or full when there is none. Its old artefact goes once the row names the new one."""
    name = f"{volume.pool}/{volume.image}@{node.snapshot}.j{job.pk}"
    since = base.snapshot if base else None
    try:
        manifest = ceph.backup(volume.image, node.snapshot, since=since, name=name, pool=volume.pool)
    except BackupExists:
        manifest = ceph.verify_backup(name)
    except BackupIncomplete:
        ceph.remove_backup(name)
        manifest = ceph.backup(volume.image, node.snapshot, since=since, name=name, pool=volume.pool)
    old_parent, old_artefact, old_kind = node.parent, node.artefact, node.kind
    _set_backup(
        node,
        parent=base,
        kind=BackupKind.INCREMENTAL if base else BackupKind.FULL,
        artefact=name,
        size_bytes=manifest.size,
        data_bytes=manifest.data_bytes,
        artefact_sha256=manifest.sha256,
    )
    sizes = {"data": format_bytes(manifest.data_bytes), "size": format_bytes(manifest.size)}
    old = str(old_parent) if old_parent else "-"
    jobs.step(
        job,
        REWRITTEN_INCREMENTAL(node=str(node), base=str(base), old=old, **sizes)
        if base
        else REWRITTEN_FULL(node=str(node), old=old, **sizes),
    )
    jobs.record(
        job,
        "backup.rewrite",
        OperationResult.SUCCEEDED,
        before={"backup": node.pk, "parent": old_parent.pk if old_parent else None, "kind": old_kind},
        after={"backup": node.pk, "parent": base.pk if base else None, "kind": node.kind, "artefact": name},
    )
    try:
        ceph.remove_backup(old_artefact)
    except BackupNotFound:
        pass


def _drop(job, removal, volume, drop):
    """Remove the nodes `drop` (pks) from the chain and keep every other node restorable: a
    kept node that continues a dropped one is stored again from its nearest kept ancestor
    (full if none), once; then the dropped nodes go, newest first."""
    nodes = list(volume.backups.select_related("parent").order_by("created_at", "pk"))
    by_pk = {node.pk: node for node in nodes}

    def kept_ancestor(node):
        parent = by_pk.get(node.parent_id)
        while parent is not None and parent.pk in drop:
            parent = by_pk.get(parent.parent_id)
        return parent

    for node in nodes:
        if node.pk in drop or node.parent_id not in drop:
            continue
        node.volume = volume
        base = kept_ancestor(node)
        if node.succeeded:
            _rewrite(job, removal.ceph, volume, node, base)
        else:  # a failed attempt holds nothing to rewrite
            old = str(node.parent)
            _set_backup(node, parent=base)
            jobs.step(job, REPARENTED(node=str(node), old=old))
    for node in reversed(nodes):
        if node.pk in drop:
            removal(node)
            node.delete()
    live.push_chain(volume)


@ceph_failures
def consolidate(job):
    node = _backup(job)
    volume = _volume(job)
    merged = sorted(node.children.values_list("pk", flat=True))
    with Removal(job, volume) as removal:
        _collect_strays(job, removal.ceph, volume)
        _drop(job, removal, volume, {node.pk})
    return {"backup": node.pk, "merged_into": merged, "new_parent": node.parent_id}


def _retain(job):
    """The policy's retention after a scheduled backup: which scheduled nodes go (succeeded
    ones it no longer keeps, failed attempts), then the chain without them."""
    volume = _volume(job)
    policy = BackupPolicy.objects.filter(volume=volume).first()
    if policy is None:
        jobs.step(job, NO_POLICY(name=volume.name))
        return {"removed": []}
    try:
        services._check_chain_idle(volume)
    except ValidationError:
        jobs.step(job, RETENTION_WAITS(name=volume.name), ok=False)
        return {"removed": [], "retention": "waited"}
    scheduled = list(volume.backups.filter(scheduled_for__isnull=False))
    keep = retention.kept(
        [node for node in scheduled if node.succeeded],
        daily=policy.keep_daily,
        weekly=policy.keep_weekly,
        zone=volume.project.tenant.zone,
    )
    candidates = [node.pk for node in scheduled if node.pk not in keep]
    ended = (BackupStatus.SUCCEEDED, BackupStatus.FAILED)
    Backup.objects.filter(pk__in=candidates, status__in=ended).update(status=BackupStatus.DELETING)
    drop = set(Backup.objects.filter(pk__in=candidates, status=BackupStatus.DELETING).values_list("pk", flat=True))
    job.payload = {**job.payload, "dropping": sorted(drop)}
    Job.objects.filter(pk=job.pk).update(payload=job.payload)
    counts = {"daily": policy.keep_daily, "weekly": policy.keep_weekly, "kept": _names(keep)}
    jobs.step(job, RETENTION(removed=_names(drop), **counts) if drop else RETENTION_NOTHING(**counts))
    if drop:
        with Removal(job, volume) as removal:
            _drop(job, removal, volume, drop)
    return {"kept": sorted(keep), "removed": sorted(drop)}


@ceph_failures
def scheduled_backup(job):
    """A backup policy's run: the backup, then its retention."""
    made = backup(job)
    return {**made, **_retain(job)}


def _settle_dropped(pks):
    """Nodes a failed consolidation or retention did not remove: still in the chain (others
    continue them) they are good; otherwise they may be half-removed: failed, delete them again."""
    for node in Backup.objects.select_related("volume").filter(pk__in=pks, status=BackupStatus.DELETING):
        _set_backup(node, status=BackupStatus.SUCCEEDED if node.children.exists() else BackupStatus.FAILED)


# --- hooks ------------------------------------------------------------------------------

AFTER_FAILURE = {  # what a volume is after a failed job of this kind
    "volume.create": VolumeStatus.FAILED,
    "backup.restore": VolumeStatus.FAILED,
    "volume.resize": VolumeStatus.READY,
    "backup.rollback": VolumeStatus.READY,
    "volume.delete": VolumeStatus.READY,
}


def _failing(job, _error):
    volume = Volume.objects.filter(pk=job.payload.get("volume")).first()
    if volume is not None and job.kind in AFTER_FAILURE:
        replaced = job.kind == "backup.rollback" and job.payload.get("touched")  # a CSI rollback's claim went
        _set_volume(volume, status=VolumeStatus.FAILED if replaced else AFTER_FAILURE[job.kind])
    if job.kind == "backup.delete":
        node = Backup.objects.select_related("volume").filter(pk=job.payload.get("backup")).first()
        if node is not None and not job.payload.get("touched"):  # nothing was removed: it is as it was
            _set_backup(node, status=BackupStatus.SUCCEEDED)
        elif node is not None:
            _set_backup(node, status=BackupStatus.FAILED, finished_at=timezone.now())
    if job.kind in ("backup.create", "backup.scheduled"):  # a scheduled one: maybe in the retention after
        node = Backup.objects.select_related("volume").filter(pk=job.payload.get("backup")).first()
        if node is not None and node.status in BackupStatus.active():  # a stored node stays good
            _set_backup(node, status=BackupStatus.FAILED, finished_at=timezone.now())
            # Its worker may have died mid-way (the reaper fails the job) or Ceph been down while
            # the runner cleaned up: what it left in Ceph goes once Ceph answers.
            transaction.on_commit(lambda: clean_up_failed_backup.delay(node.pk))
    if job.kind == "backup.scheduled":
        _settle_dropped(job.payload.get("dropping", []))
    if job.kind == "backup.consolidate":
        _settle_dropped([job.payload.get("backup")])


def _ended(job, outcome):
    volume = Volume.objects.filter(pk=job.payload.get("volume")).first()
    if volume is not None:
        live.push_chain(volume)
    ok = job.status == JobStatus.SUCCEEDED
    if job.kind == "backup.scheduled" and job.tenant_id:  # nobody asked: the tenant hears of it
        notifications.notify_tenant(
            job.tenant_id,
            (FINISHED if ok else FAILED)(what=jobs.kind_label(job.kind), volume=job.target_name),
            body=_scheduled_summary(outcome) if ok else outcome,
            level=NotificationLevel.SUCCESS if ok else NotificationLevel.DANGER,
            link=reverse("console:job", args=[job.pk]),
        )
        return
    if job.requested_by is None:
        return
    notifications.notify_user(
        job.requested_by,
        (FINISHED if ok else FAILED)(what=jobs.kind_label(job.kind), volume=job.target_name),
        body="" if ok else outcome,
        level=NotificationLevel.SUCCESS if ok else NotificationLevel.DANGER,
        link=reverse("console:job", args=[job.pk]),
    )


def _scheduled_summary(outcome):
    node = Backup(pk=outcome.get("backup"))
    made = {
        "node": str(node),
        "kind": dict(BackupKind.choices).get(outcome.get("kind"), outcome.get("kind")),
        "data": format_bytes(outcome.get("data_bytes") or 0),
    }
    removed = outcome.get("removed") or []
    return SCHEDULED_MADE(removed=_names(removed), **made) if removed else SCHEDULED_MADE_ONLY(**made)


RUNNERS = {
    "volume.create": create,
    "volume.resize": resize,
    "volume.delete": delete,
    "backup.create": backup,
    "backup.rollback": rollback,
    "backup.restore": restore,
    "backup.delete": delete_backup,
    "backup.consolidate": consolidate,
    "backup.scheduled": scheduled_backup,
}
# Not run again behind anybody's back when a worker dies: the reaper fails the job, and the
# failing hook marks the node failed (never half-done, never silently missing).
KINDS = jobs.JobKinds(task=run_storage_job, runners=RUNNERS, idempotent=False, failing=_failing, ended=_ended)


# --- run by Celery beat -----------------------------------------------------------------


@shared_task
def run_backup_policies(now=None):
    """Start the scheduled backups that are due in their tenant's time zone (once a day each;
    a beat that was down catches up on its next run the same day). `now`: for tests."""
    now = now or timezone.now()
    started = 0
    for policy in BackupPolicy.objects.select_related("volume__project__tenant", "volume__project__cluster"):
        volume, tenant = policy.volume, policy.volume.project.tenant
        local = now.astimezone(tenant.zone)
        if local.time() < policy.at or (policy.last_run_on is not None and policy.last_run_on >= local.date()):
            continue
        if policy.weekday is not None and local.weekday() != policy.weekday:
            continue  # a weekly policy: not its day
        # claim today's run: two beats (or a retried one) never back up twice
        if not BackupPolicy.objects.filter(pk=policy.pk, last_run_on=policy.last_run_on).update(
            last_run_on=local.date()
        ):
            continue
        link = reverse("storage:volume", args=[tenant.name, volume.namespace, volume.name])
        try:
            made, _job = services.run_backup_policy(policy, now=now)
            if made is None:  # busy with another job: that day is skipped, and said so
                policy.refresh_from_db(fields=["skipped_because"])
                log.info("scheduled backup of %s skipped: %s", volume, policy.skipped_because)
                notifications.notify_tenant(
                    tenant.pk,
                    SCHEDULED_SKIPPED(volume=volume.name),
                    body=policy.skipped_because,
                    level=NotificationLevel.WARNING,
                    link=link,
                )
                continue
            started += 1
        except (ValidationError, PermissionError) as exc:
            notifications.notify_tenant(
                tenant.pk,
                SCHEDULED_NOT_RUN(volume=volume.name),
                body=" ".join(getattr(exc, "messages", [str(exc)])),
                level=NotificationLevel.WARNING,
                link=link,
            )
    return started


# --- Ceph's state for the storage page ------------------------------------------------


def snapshot_apis():
    """{cluster name: whether it serves snapshot.storage.k8s.io} (None: it did not answer); the
    storage page says from it which way each cluster's volumes are backed up without Ceph."""
    found = {}
    for cluster in Cluster.objects.order_by("name"):
        try:
            with ClusterAPI(cluster) as api:
                found[cluster.name] = api.has_api_group(services.SNAPSHOT_GROUP)
        except (ClusterError, ApiRefused):
            found[cluster.name] = None
    return found


@shared_task
def adopt_statefulset_volumes():
    """Every StatefulSet's bound claims get their Volume rows (services.adopt_app_volumes), so
    their backup chains exist, and can be backed up, before anyone opens the app's page."""
    apps = App.objects.filter(kind=AppKind.STATEFULSET).exclude(status=AppStatus.DELETING)
    for app in apps.select_related("project__cluster", "project__tenant", "created_by"):
        if (app.spec or {}).get("volumes"):
            notes = []
            services.adopt_app_volumes(app, notes)
            for note in notes:  # a policy its claim names that could not be attached: the tenant hears why
                if note.msgid == services.POLICY_NOT_ATTACHED.msgid:
                    notifications.notify_tenant(
                        app.project.tenant_id,
                        NO_POLICY_ATTACHED(name=app.name),
                        body=note,
                        level=NotificationLevel.WARNING,
                        link=reverse("workloads:app", args=[app.project.tenant.name, app.namespace, app.name]),
                    )


@shared_task
def refresh_ceph_state():
    """Read Ceph's health and pools (pages show the last reading; they never call Ceph)."""
    try:
        with Ceph() as ceph:
            health = ceph.health()
            pools = ceph.pools()
        data = {
            "health": {
                "status": health.status,
                "checks": [
                    {"code": c.code, "severity": c.severity, "summary": c.summary, "details": list(c.details)}
                    for c in health.checks
                ],
            },
            "pools": [
                {
                    "name": p.name,
                    "stored": p.stored_bytes,
                    "used": p.used_bytes,
                    "available": p.available_bytes,
                    "objects": p.objects,
                    "full": p.full,
                }
                for p in pools
            ],
        }
    except CephNotConfigured:
        data = {}
    except CephError as exc:
        data = {"problem": exc.text}
    data["snapshot_api"] = snapshot_apis()
    CephState.objects.update_or_create(pk=1, defaults={"taken_at": timezone.now(), "data": data})
    return data.get("health", {}).get("status", "")
