"""Backups through the cluster's snapshot API (snapshot.storage.k8s.io/v1), for clusters whose
Ceph the console does not reach: each node is a VolumeSnapshot of the volume's claim, which the
external-snapshotter binds to a VolumeSnapshotContent and ceph-csi makes (an RBD snapshot and
its clone). From the user's view each one is full: the chain is flat. Restoring is a new claim
whose dataSource is the VolumeSnapshot; deleting a node deletes its VolumeSnapshot (the class's
deletionPolicy decides whether the content and the RBD snapshot go with it).

The VolumeSnapshots are written as the console itself: Kubernetes' built-in admin/edit roles
do not cover snapshot.storage.k8s.io, and the services have checked the user's rights on the
volume before queueing the job. Used by tasks.py only (queue `ceph`, like every storage job)."""

import time

from django.conf import settings

from console.choices import OperationResult
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused
from console.quantity import format_bytes, parse
from console.texts import message

from .models import Backup, Volume

API_VERSION = "snapshot.storage.k8s.io/v1"
POLL_SECONDS = 0.3
VOLUME_LABEL = "storage.caas.io/volume"

REQUESTED = message("Asked the cluster for VolumeSnapshot %(name)s of %(claim)s.")
SNAPSHOT_READY = message("VolumeSnapshot %(name)s is ready to use (content %(content)s, restore size %(size)s).")
SNAPSHOT_ERROR = message("The cluster could not take VolumeSnapshot %(name)s: %(error)s")
NOT_READY = message("VolumeSnapshot %(name)s was not ready within %(seconds)s s.")
SNAPSHOT_DELETED = message("Deleted VolumeSnapshot %(name)s.")
SNAPSHOT_STAYS = message("VolumeSnapshot %(name)s is still there after %(seconds)s s (finalizers: %(finalizers)s).")
SNAPSHOT_GONE = message("VolumeSnapshot %(name)s is gone: the backup cannot be used.")
REFUSED = message("The cluster refused %(what)s: %(error)s")


def snapshot_object(volume: Volume, node: Backup) -> dict:
    """The VolumeSnapshot of the node: of the volume's claim, in the cluster's default class."""
    return {
        "apiVersion": API_VERSION,
        "kind": "VolumeSnapshot",
        "metadata": {
            "name": node.snapshot,
            "namespace": volume.namespace,
            "labels": {"app.kubernetes.io/managed-by": "caas-console", VOLUME_LABEL: volume.name},
        },
        "spec": {"source": {"persistentVolumeClaimName": volume.name}},
    }


def data_source(node: Backup) -> dict:
    """The dataSource of a claim restored from the node."""
    return {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": node.snapshot}


def _console(volume: Volume) -> ClusterAPI:
    return ClusterAPI(volume.project.cluster)


def take(job, volume: Volume, node: Backup) -> dict:
    """Create the node's VolumeSnapshot (a second delivery finds it) and wait until it is ready
    to use: {content, restore_size, handle, deletion_policy, seconds}. A snapshot the cluster
    reports an error for, or that is not ready in time, fails the job."""
    started = time.monotonic()
    deadline = started + settings.CAAS_ROLLOUT_TIMEOUT
    with _console(volume) as api:
        if api.get("VolumeSnapshot", node.snapshot, volume.namespace) is None:
            try:
                api.apply(snapshot_object(volume, node))
            except ApiRefused as exc:
                raise JobFailed(REFUSED(what=f"VolumeSnapshot {node.snapshot}", error=exc.message)) from exc
            jobs.step(job, REQUESTED(name=node.snapshot, claim=volume.name))
        while True:
            snap = api.get("VolumeSnapshot", node.snapshot, volume.namespace)
            if snap is None:
                raise JobFailed(SNAPSHOT_GONE(name=node.snapshot))
            status = snap.get("status") or {}
            if status.get("readyToUse"):
                break
            error = (status.get("error") or {}).get("message")
            if error:
                raise JobFailed(SNAPSHOT_ERROR(name=node.snapshot, error=error))
            if time.monotonic() > deadline:
                raise JobFailed(NOT_READY(name=node.snapshot, seconds=settings.CAAS_ROLLOUT_TIMEOUT))
            jobs.wait(job, POLL_SECONDS)
        content_name = status.get("boundVolumeSnapshotContentName", "")
        content = api.get("VolumeSnapshotContent", content_name) or {}
    restore_size = int(parse(status.get("restoreSize") or "0"))
    seconds = round(time.monotonic() - started, 2)
    jobs.step(job, SNAPSHOT_READY(name=node.snapshot, content=content_name, size=format_bytes(restore_size)))
    return {
        "content": content_name,
        "restore_size": restore_size,
        "handle": (content.get("status") or {}).get("snapshotHandle", ""),
        "deletion_policy": (content.get("spec") or {}).get("deletionPolicy", ""),
        "seconds": seconds,
    }


def ready(volume: Volume, node: Backup) -> dict:
    """The node's VolumeSnapshot, which must still be there and ready (before restoring from it)."""
    with _console(volume) as api:
        snap = api.get("VolumeSnapshot", node.snapshot, volume.namespace)
    if snap is None or not (snap.get("status") or {}).get("readyToUse"):
        raise JobFailed(SNAPSHOT_GONE(name=node.snapshot))
    return snap


def remove(job, volume: Volume, node: Backup, touched=lambda: None) -> None:
    """Delete the node's VolumeSnapshot and wait until it is gone (its finalizers wait for the
    content's deletion and for claims still being restored from it). `touched()` runs once the
    deletion is asked for: from then on the node is no longer whole."""
    deadline = time.monotonic() + settings.CAAS_ROLLOUT_TIMEOUT
    with _console(volume) as api:
        try:
            asked = api.delete("VolumeSnapshot", node.snapshot, volume.namespace)
        except ApiRefused as exc:
            raise JobFailed(REFUSED(what=f"deleting VolumeSnapshot {node.snapshot}", error=exc.message)) from exc
        if asked:
            touched()
        while (snap := api.get("VolumeSnapshot", node.snapshot, volume.namespace)) is not None:
            if time.monotonic() > deadline:
                finalizers = ", ".join(snap["metadata"].get("finalizers") or []) or "-"
                raise JobFailed(
                    SNAPSHOT_STAYS(name=node.snapshot, seconds=settings.CAAS_ROLLOUT_TIMEOUT, finalizers=finalizers)
                )
            jobs.wait(job, POLL_SECONDS)
    jobs.step(job, SNAPSHOT_DELETED(name=node.snapshot))
    jobs.record(
        job,
        "backup.remove",
        OperationResult.SUCCEEDED,
        kind="VolumeSnapshot",
        name=node.snapshot,
        before={"backup": node.pk, "snapshot": node.snapshot, "content": node.artefact},
    )


def discard(volume: Volume, node: Backup) -> None:
    """Best effort, after a failed backup: its VolumeSnapshot goes (the cluster finishes the rest)."""
    with _console(volume) as api:
        api.delete("VolumeSnapshot", node.snapshot, volume.namespace)
