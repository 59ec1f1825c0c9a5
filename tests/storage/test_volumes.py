"""Volumes and their backup chains end to end: the storage app's services and pages, its
jobs run as the worker runs them, against the sandbox cluster whose ceph-csi creates the
REAL RBD image of each claim on the test suite's throwaway Ceph. Data is written into the
volume's image through the gateway and checked by checksum after rollback and restore."""

import random
import time

import pytest
from django.core.exceptions import ValidationError

from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from tests.factories import mk_member, mk_tenant
from tests.storage.conftest import backup_now, succeeded
from workloads.storage import services
from workloads.storage.choices import BackupKind, BackupStatus, VolumeStatus
from workloads.storage.models import Backup, Volume

MIB = 1 << 20
pytestmark = pytest.mark.usefixtures("english", "ceph_settings")


def test_backup_chain_rollback_and_restore_keep_the_bytes(cluster, project, dev, volume, ceph, client):
    assert volume.status == VolumeStatus.READY and volume.image.startswith("csi-vol-") and volume.pool == "rbd"
    assert ceph.image(volume.image, pool=volume.pool).size == 64 * MIB  # the real image ceph-csi made
    rng = random.Random(13)
    ceph.write(volume.image, 0, rng.randbytes(3 * MIB), pool=volume.pool)
    ceph.write(volume.image, 40 * MIB, rng.randbytes(MIB), pool=volume.pool)
    at_first = ceph.checksum(volume.image, pool=volume.pool)

    first = backup_now(volume, dev)
    assert (first.kind, first.status, first.parent) == (BackupKind.FULL, BackupStatus.SUCCEEDED, None)
    assert first.checksum == at_first and first.data_bytes >= 4 * MIB

    ceph.write(volume.image, MIB, rng.randbytes(MIB), pool=volume.pool)  # overwrite part of it
    at_second = ceph.checksum(volume.image, pool=volume.pool)
    second = backup_now(volume, dev)
    assert (second.kind, second.parent_id) == (BackupKind.INCREMENTAL, first.pk)
    assert second.checksum == at_second != at_first and second.data_bytes < first.data_bytes

    ceph.write(volume.image, 0, b"\xff" * MIB, pool=volume.pool)  # the volume moves on after the last backup
    job = succeeded(services.rollback_backup(first, acting_user=dev))
    assert ceph.checksum(volume.image, pool=volume.pool) == at_first
    assert any("Verified" in str(step["text"]) for step in job.steps)
    volume.refresh_from_db()
    assert volume.status == VolumeStatus.READY

    copy, job = services.restore_backup(second, acting_user=dev, name="data-copy")
    succeeded(job)
    copy.refresh_from_db()
    assert copy.status == VolumeStatus.READY and copy.image and copy.image != volume.image
    assert copy.restored_from == second
    assert ceph.checksum(copy.image, pool=copy.pool) == at_second

    # a third backup after the rollback continues the chain from the last node
    third = backup_now(volume, dev)
    assert third.parent_id == second.pk and third.checksum == at_first

    # the page draws the chain, the volume list shows both volumes
    client.force_login(dev)
    page = client.get(f"/storage/acme/{project.name}/volumes/data/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="backup-node"') == 3 and first.checksum[:16] in html
    listing = client.get("/storage/").content.decode()
    assert "data-copy" in listing and f'data-volume="{project.name}/data"' in listing

    assert OperationLogEntry.objects.filter(action="backup.create", result="accepted").count() == 3
    assert OperationLogEntry.objects.filter(action="backup.create.finish", result="succeeded").count() == 3
    assert OperationLogEntry.objects.filter(action="backup.rollback.finish", result="succeeded").exists()


def test_bad_input_is_refused_with_a_clear_message_and_nothing_done(cluster, project, dev, volume, ceph, client):
    node = backup_now(volume, dev)
    later = backup_now(volume, dev)
    client.force_login(dev)
    base = f"/storage/acme/{project.name}/volumes/data/"
    jobs_before = set(Volume.objects.values_list("pk", flat=True)), Backup.objects.count()

    response = client.post(base + "resize/", {"size": "32Mi"})
    assert response.status_code == 400 and "only grows" in response.content.decode()
    response = client.post(base + f"backups/{later.pk}/restore/", {"name": "data"})
    assert response.status_code == 400 and "exists already" in response.content.decode()
    response = client.post(base + "delete/", {"confirm_name": "data"})
    assert response.status_code == 400 and "has 2 backups" in response.content.decode()
    response = client.post(base + f"backups/{node.pk}/delete/", {"confirm": "on"})
    assert response.status_code == 400
    assert f"incremental backups #{later.pk} continue it" in response.content.decode()
    response = client.post(base + "resize/", {"size": "2Gi"})  # the namespace's quota is 1Gi
    assert response.status_code == 400 and "Not enough quota" in response.content.decode()
    response = client.post(base + f"backups/{node.pk}/rollback/", {})
    assert response.status_code == 400 and "Tick the confirmation" in response.content.decode()

    # a pod mounts the volume: no rollback, no deletion
    with ClusterAPI(cluster) as api:
        api.apply(mounting_pod(project.name, "data"))
    response = client.post(base + f"backups/{node.pk}/rollback/", {"confirm": "on"})
    assert response.status_code == 400 and "is mounted by user-pod" in response.content.decode()
    response = client.post(base + f"backups/{node.pk}/rollback/", {"confirm": "on", "scale_down": "on"})
    assert response.status_code == 400 and "no console app runs (user-pod)" in response.content.decode()
    response = client.post(base + "delete/", {"confirm_name": "data", "with_backups": "on"})
    assert response.status_code == 400 and "is mounted by user-pod" in response.content.decode()

    assert (set(Volume.objects.values_list("pk", flat=True)), Backup.objects.count()) == jobs_before
    volume.refresh_from_db()
    assert volume.status == VolumeStatus.READY and volume.size_bytes == 64 * MIB
    assert [s.name for s in ceph.snapshots(volume.image, pool=volume.pool)] == [node.snapshot, later.snapshot]
    assert OperationLogEntry.objects.filter(action="backup.rollback", result="failed").count() == 2

    with ClusterAPI(cluster) as api:
        api.delete("Pod", "user-pod", project.name)
    # the newest node goes, then the volume with the rest
    succeeded(services.delete_backup(later, acting_user=dev))
    assert [s.name for s in ceph.snapshots(volume.image, pool=volume.pool)] == [node.snapshot]
    image = volume.image
    volume.refresh_from_db()
    succeeded(services.delete_volume(volume, acting_user=dev, with_backups=True, confirm_name="data"))
    assert not Volume.objects.filter(pk=volume.pk).exists()
    assert not [b for b in ceph.backups() if b.image == image]
    deadline = time.monotonic() + 30
    while image in ceph.images() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert image not in ceph.images()


def test_growing_a_volume_grows_its_image(project, dev, volume, ceph):
    with pytest.raises(ValidationError, match="has this size already"):
        services.resize_volume(volume, acting_user=dev, size="64Mi")
    succeeded(services.resize_volume(volume, acting_user=dev, size="128Mi"))
    volume.refresh_from_db()
    assert volume.size_bytes == 128 * MIB and ceph.image(volume.image, pool=volume.pool).size == 128 * MIB


def test_other_tenants_get_404_and_auditors_cannot_act(cluster, project, dev, volume, client, auditor):
    node = backup_now(volume, dev)
    globex = mk_tenant("globex", clusters=[cluster])
    outsider = mk_member(globex, "globex-dev", "tenant-admin")
    base = f"/storage/acme/{project.name}/volumes/data/"
    client.force_login(outsider)
    assert client.get(base).status_code == 404
    assert client.post(base + "backups/").status_code == 404
    assert client.post(base + f"backups/{node.pk}/restore/", {"name": "mine"}).status_code == 404
    assert "data" not in client.get("/storage/").content.decode().split('id="volume-table"')[1]
    from console.live import realtime

    assert not realtime.may_subscribe(outsider, volume.group)
    assert realtime.may_subscribe(dev, volume.group)
    client.force_login(auditor)
    assert client.get(base).status_code == 200
    assert client.post(base + "backups/").status_code == 403
    assert Backup.objects.filter(volume=volume).count() == 1


def test_operators_see_ceph_health_and_pools(operator, client, ceph_cluster):
    from workloads.storage.models import CephState
    from workloads.storage.tasks import refresh_ceph_state

    refresh_ceph_state.apply()
    state = CephState.objects.get(pk=1)
    assert state.data["health"]["status"].startswith("HEALTH_")
    client.force_login(operator)
    html = client.get("/storage/").content.decode()
    assert 'data-testid="ceph-health"' in html and f'data-pool="{ceph_cluster.pool}"' in html


def test_without_ceph_the_page_says_how_to_enable_it(settings, operator, client):
    settings.CEPH_CONF = settings.CEPH_KEYRING = ""
    client.force_login(operator)
    html = client.get("/storage/").content.decode()
    assert "Ceph is not configured: set CEPH_CONF, CEPH_KEYRING" in html


def mounting_pod(namespace, claim):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "user-pod", "namespace": namespace},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "c",
                    "image": "busybox:1.36",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "d", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }
