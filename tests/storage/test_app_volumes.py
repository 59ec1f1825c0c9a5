"""A StatefulSet's volumes from the deploy form, end to end: its volumeClaimTemplates give each
replica a claim on ceph-rbd (a REAL RBD image on the test Ceph), the app's page lists them with
links to their backup chains, and each backs up like a volume made on the Storage page. Also:
a backup deletion that removed nothing leaves the node as it was."""

import time

import pytest
from django.core.exceptions import ValidationError

from console.kube.api import ClusterAPI
from tests.storage.conftest import backup_now, run, succeeded
from tests.workloads.conftest import mirror_namespace, spec
from tests.workloads.conftest import run as run_app
from workloads import services as app_services
from workloads.storage import services, tasks
from workloads.storage.choices import BackupKind, BackupStatus, VolumeStatus
from workloads.storage.models import Backup, Volume

MIB = 1 << 20
pytestmark = pytest.mark.usefixtures("english", "ceph_settings")


def test_a_statefulsets_claims_are_its_volumes_with_backup_chains(cluster, project, dev, ceph, client):
    volumes = [{"name": "data", "mount_path": "/var/lib/data", "size": "64Mi"}]
    app, job = app_services.deploy_app(
        project, acting_user=dev, name="db", kind="StatefulSet", spec=spec(replicas=1, volumes=volumes)
    )
    assert run_app(job).status == "succeeded"
    client.force_login(dev)
    page = f"/workloads/acme/{project.name}/apps/db/"
    html = client.get(page).content.decode()
    assert 'data-testid="app-volumes"' in html and "data at /var/lib/data, 64Mi per replica" in html
    assert "No claim bound yet" in html  # the mirror has not seen the claim yet

    mirror_namespace(cluster, project.name, kinds=("StatefulSet", "Pod", "PersistentVolumeClaim", "PersistentVolume"))
    tasks.adopt_statefulset_volumes()  # beat's pass: the chain exists before anyone opens the page
    assert Volume.objects.filter(project=project, name="data-db-0").exists()
    html = client.get(page).content.decode()
    link = f'href="/storage/acme/{project.name}/volumes/data-db-0/"'
    assert link in html, html[html.find('id="app-volumes"') :][:2000]
    volume = Volume.objects.get(project=project, name="data-db-0")
    with ClusterAPI(cluster) as api:
        claim = api.get("PersistentVolumeClaim", "data-db-0", project.name)
        pv = api.get("PersistentVolume", claim["spec"]["volumeName"])
    attributes = pv["spec"]["csi"]["volumeAttributes"]
    assert (volume.pool, volume.image, volume.status) == (attributes["pool"], attributes["imageName"], "ready")
    assert volume.size_bytes == 64 * MIB and volume.storage_class == "ceph-rbd"
    assert ceph.image(volume.image, pool=volume.pool).size == 64 * MIB  # the real image

    node = backup_now(volume, dev)
    assert node.kind == BackupKind.FULL and node.checksum == ceph.checksum(volume.image, pool=volume.pool)
    assert client.get(f"/storage/acme/{project.name}/volumes/data-db-0/").status_code == 200
    html = client.get(page).content.decode()
    assert Volume.objects.filter(project=project).count() == 1  # adopted once
    # the row shows one backup
    row = html[html.find('data-volume="data-db-0"') :][:600]
    assert "<td>1</td>" in row

    # deleting the volume is refused while db-0 mounts it
    with pytest.raises(ValidationError, match="is mounted by db-0"):
        services.delete_volume(volume, acting_user=dev, with_backups=True, confirm_name="data-db-0")
    # ... and deleting the app with its volumes while they have backups (the backups would outlive them)
    with pytest.raises(ValidationError, match="The volumes data-db-0 of db have backups"):
        app_services.delete_app(app, acting_user=dev, confirm_name="db", delete_volumes=True)
    app.refresh_from_db()
    assert app.status != "deleting"
    succeeded(services.delete_backup(node, acting_user=dev))
    job = app_services.delete_app(app, acting_user=dev, confirm_name="db", delete_volumes=True)
    assert not Volume.objects.filter(project=project).exists()  # the mapping goes with the claims
    assert run_app(job).status == "succeeded"
    with ClusterAPI(cluster) as api:  # the claim's pvc-protection finalizer holds it until its pod is gone
        deadline = time.monotonic() + 20
        while api.get("PersistentVolumeClaim", "data-db-0", project.name) is not None:
            assert time.monotonic() < deadline, "the app's claim outlived it"
            time.sleep(0.2)


def test_deployments_are_told_to_use_a_statefulset_for_volumes(project, dev, client):
    client.force_login(dev)
    html = client.get(f"/workloads/acme/{project.name}/deploy/").content.decode()
    assert "Persistent volumes (StatefulSet only)" in html
    volumes = [{"name": "data", "mount_path": "/data", "size": "64Mi"}]
    with pytest.raises(ValidationError, match="Deployments are stateless: use a StatefulSet for persistent volumes"):
        app_services.deploy_app(project, acting_user=dev, name="web", kind="Deployment", spec=spec(volumes=volumes))


def test_a_backup_deletion_that_removed_nothing_leaves_the_node_as_it_was(project, dev, volume, settings, tmp_path):
    node = backup_now(volume, dev)
    conf = settings.CEPH_CONF
    settings.CEPH_CONF = str(tmp_path / "gone.conf")  # Ceph cannot be reached by the worker
    job = run(services.delete_backup(node, acting_user=dev))
    node.refresh_from_db()
    assert job.status == "failed" and node.status == BackupStatus.SUCCEEDED, job.error
    assert "touched" not in job.payload
    settings.CEPH_CONF = conf
    succeeded(services.delete_backup(node, acting_user=dev))  # and it can be deleted once Ceph answers
    assert not Backup.objects.filter(pk=node.pk).exists()
    volume.refresh_from_db()
    assert volume.status == VolumeStatus.READY
