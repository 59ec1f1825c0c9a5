"""The CSI-only path: the console has no Ceph access (no CEPH_CONF), the cluster serves
snapshot.storage.k8s.io. Backups are VolumeSnapshots made through the cluster's API, the chain
is flat, restore is a new claim from the snapshot, rollback makes the claim again from it,
delete deletes the VolumeSnapshot. The sandbox's ceph-csi works on the REAL test Ceph, so the
test reads the images' bytes through its own gateway (the console never does) and checks them."""

import random

import pytest
from django.core.exceptions import ValidationError

from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from tests.storage.conftest import run, succeeded
from workloads.storage import services
from workloads.storage.choices import BackupKind, BackupMethod, BackupStatus, VolumeStatus
from workloads.storage.models import Backup, BackupPolicy, Volume

MIB = 1 << 20
pytestmark = pytest.mark.usefixtures("english", "quick_rollouts", "csi_only")


@pytest.fixture
def csi_only(settings):
    settings.CEPH_CONF = settings.CEPH_KEYRING = ""


def snapshot_of(cluster, node):
    with ClusterAPI(cluster) as api:
        snap = api.get("VolumeSnapshot", node.snapshot, node.volume.namespace)
        content = api.get("VolumeSnapshotContent", node.artefact) if node.artefact else None
    return snap, content


def backed_up(volume, user):
    node, job = services.create_backup(volume, acting_user=user)
    succeeded(job)
    node.refresh_from_db()
    return node


def test_backups_restore_rollback_and_delete_through_volume_snapshots(cluster, project, dev, volume, ceph, client):
    rng = random.Random(5)
    ceph.write(volume.image, 0, rng.randbytes(2 * MIB), pool=volume.pool)
    first_sum = ceph.checksum(volume.image, pool=volume.pool)

    first = backed_up(volume, dev)
    assert (first.method, first.kind, first.parent_id, first.status) == (
        BackupMethod.CSI,
        BackupKind.FULL,
        None,
        BackupStatus.SUCCEEDED,
    )
    assert first.image_size == 64 * MIB and first.checksum == "" and first.artefact.startswith("snapcontent-")
    snap, content = snapshot_of(cluster, first)
    assert snap["status"]["readyToUse"] is True and snap["status"]["boundVolumeSnapshotContentName"] == first.artefact
    assert snap["spec"]["source"] == {"persistentVolumeClaimName": "data"}
    assert content["spec"]["deletionPolicy"] == "Delete" and content["status"]["snapshotHandle"]
    # ceph-csi made it: an RBD image csi-snap-<uuid> with its snapshot, holding the volume's bytes then
    snap_image = "csi-snap-" + content["status"]["snapshotHandle"][-36:]  # the handle ends with its uuid
    assert snap_image in ceph.images(pool=volume.pool)
    assert ceph.checksum(snap_image, pool=volume.pool, snapshot=snap_image) == first_sum

    ceph.write(volume.image, MIB, rng.randbytes(3 * MIB), pool=volume.pool)
    second_sum = ceph.checksum(volume.image, pool=volume.pool)
    second = backed_up(volume, dev)
    assert (second.kind, second.parent_id) == (BackupKind.FULL, None)  # flat: each one stands alone

    # the page draws both nodes, says which way backups go, and offers no consolidation
    client.force_login(dev)
    html = client.get(f"/storage/acme/{project.name}/volumes/data/").content.decode()
    assert html.count('data-method="csi"') >= 2 and 'data-testid="backup-depended"' not in html
    assert f"<code>{first.snapshot}</code>" in html and 'data-testid="backup-method" data-method="unknown"' in html
    from workloads.storage.tasks import refresh_ceph_state

    refresh_ceph_state.apply()  # the worker's reading: this cluster serves the snapshot API
    html = client.get(f"/storage/acme/{project.name}/volumes/data/").content.decode()
    assert 'data-testid="backup-method" data-method="csi"' in html
    assert "each backup is a CSI VolumeSnapshot (full)" in html
    listing = client.get("/storage/").content.decode()
    assert '<tr data-cluster="sandbox" data-method="csi">' in listing

    # restore the first into a new volume: a claim whose dataSource is the VolumeSnapshot
    copy, job = services.restore_backup(first, acting_user=dev, name="copy")
    succeeded(job)
    copy.refresh_from_db()
    assert copy.status == VolumeStatus.READY and copy.image != volume.image and copy.restored_from_id == first.pk
    with ClusterAPI(cluster) as api:
        claim = api.get("PersistentVolumeClaim", "copy", project.name)
    assert claim["spec"]["dataSource"] == {
        "apiGroup": "snapshot.storage.k8s.io",
        "kind": "VolumeSnapshot",
        "name": first.snapshot,
    }
    assert ceph.checksum(copy.image, pool=copy.pool) == first_sum

    # roll the volume back to the first: the claim is made again from the snapshot
    old_image = volume.image
    succeeded(services.rollback_backup(first, acting_user=dev))
    volume.refresh_from_db()
    assert volume.status == VolumeStatus.READY and volume.image != old_image
    assert ceph.checksum(volume.image, pool=volume.pool) == first_sum
    assert second_sum != first_sum

    # delete the second: its VolumeSnapshot, content and RBD snapshot image go
    _, second_content = snapshot_of(cluster, second)
    succeeded(services.delete_backup(second, acting_user=dev))
    assert not Backup.objects.filter(pk=second.pk).exists()
    second.volume = volume
    assert snapshot_of(cluster, second) == (None, None)
    assert "csi-snap-" + second_content["status"]["snapshotHandle"][-36:] not in ceph.images(pool=volume.pool)
    assert OperationLogEntry.objects.filter(action="backup.remove", result="succeeded").exists()

    # the volume with its backups: its VolumeSnapshots go first, then the claim
    succeeded(services.delete_volume(copy, acting_user=dev, confirm_name="copy"))
    succeeded(services.delete_volume(volume, acting_user=dev, with_backups=True, confirm_name="data"))
    assert not Volume.objects.filter(pk=volume.pk).exists()
    first.volume = volume
    assert snapshot_of(cluster, first)[0] is None


def test_a_snapshot_the_cluster_cannot_take_fails_the_node_and_leaves_nothing(cluster, project, dev, volume, settings):
    settings.CAAS_ROLLOUT_TIMEOUT = 3
    with ClusterAPI(cluster) as api:  # the default snapshot class is gone: the snapshot-controller says so
        snap_class = api.get("VolumeSnapshotClass", "ceph-rbd-snapclass")
        api.delete("VolumeSnapshotClass", "ceph-rbd-snapclass")
    try:
        node, job = services.create_backup(volume, acting_user=dev)
        job = run(job)
    finally:
        with ClusterAPI(cluster) as api:
            for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
                snap_class["metadata"].pop(key, None)
            api.apply(snap_class)
    node.refresh_from_db()
    assert job.status == "failed" and node.status == BackupStatus.FAILED
    # no default class: the VolumeSnapshot waits for one until the job's timeout
    assert "was not ready within 3 s" in str(job.error)
    node.volume = volume
    assert snapshot_of(cluster, node)[0] is None


def test_neither_ceph_nor_the_snapshot_api_is_refused_clearly(project, dev, volume, monkeypatch):
    monkeypatch.setattr(ClusterAPI, "has_api_group", lambda self, group: False)  # a cluster without the CRDs
    with pytest.raises(ValidationError, match="No way to back up: Ceph is not configured.*snapshot.storage.k8s.io"):
        services.create_backup(volume, acting_user=dev)
    assert not Backup.objects.exists()


def test_scheduled_volume_snapshots_with_retention(cluster, project, dev, volume):
    from datetime import time as clock

    from tests.storage.test_backup_policies import local, outcome, run_due

    services.set_backup_policy(volume, acting_user=dev, at=clock(2, 0), keep_daily=1, keep_weekly=0)
    BackupPolicy.objects.update(last_run_on=None)
    first = Backup.objects.get(pk=run_due(local(2026, 3, 2, 2, 0)).payload["backup"])
    job = run_due(local(2026, 3, 3, 2, 0))
    second = Backup.objects.get(pk=job.payload["backup"])
    assert (first.method, second.method, second.parent_id) == ("csi", "csi", None)
    assert outcome(job)["removed"] == [first.pk]  # keep 1 daily: Monday's VolumeSnapshot goes
    assert list(volume.backups.values_list("pk", flat=True)) == [second.pk]
    first.volume = second.volume = volume
    assert snapshot_of(cluster, first)[0] is None and snapshot_of(cluster, second)[0]["status"]["readyToUse"]
