"""Stacks and their volumes on the REAL Ceph of the storage tests (the sandbox's ceph-csi makes
a real RBD image per claim): the recommended PostgreSQL template's claim gets the backup
policy its caas.io/backup-policy annotation names; a stack replicated with its data gets
each volume restored from its latest backup (storage's restore to a new volume) before its
StatefulSet starts, with the same content."""

import random

import pytest
from django.core.exceptions import ValidationError

from console import texts
from console.kube.api import ClusterAPI
from tests.storage.conftest import backup_now, ceph, ceph_settings, name, sandbox  # noqa: F401
from tests.storage.conftest import run as run_storage
from tests.workloads.conftest import provisioned_project
from workloads.stacks import services
from workloads.stacks.models import Stack
from workloads.storage.models import BackupPolicy, Volume

from .conftest import recommended, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ceph_settings")]
MIB = 1 << 20


def steps(job):
    return [texts.render(s["text"]) for s in job.steps]


def postgres(project, dev, schedule):
    values = {"storage": "64Mi", "backup_schedule": schedule}
    stack, job = services.create_stack(
        project, acting_user=dev, version=recommended("postgresql"), name="db", values=values
    )
    job = run(job)
    assert job.status == "succeeded", (job.error, steps(job))
    stack.refresh_from_db()
    return stack, job


def test_the_postgresql_templates_claim_gets_its_backup_policy(cluster, project, dev, operator, ceph):  # noqa: F811
    stack, job = postgres(project, dev, "weekly")
    assert "Volume data-postgres-0 is backed up by the weekly policy (caas.io/backup-policy)." in steps(job)
    volume = Volume.objects.get(project=project, name="data-postgres-0")
    with ClusterAPI(cluster) as api:
        claim = api.get("PersistentVolumeClaim", "data-postgres-0", project.name)
        pv = api.get("PersistentVolume", claim["spec"]["volumeName"])
    assert claim["metadata"]["annotations"]["caas.io/backup-policy"] == "weekly"  # copied from the claim template
    assert (volume.pool, volume.image) == (
        pv["spec"]["csi"]["volumeAttributes"]["pool"],
        pv["spec"]["csi"]["volumeAttributes"]["imageName"],
    )
    assert ceph.image(volume.image, pool=volume.pool).size == 64 * MIB  # the real image
    policy = BackupPolicy.objects.get(volume=volume)
    assert (policy.weekday, policy.at.hour, policy.keep_daily, policy.keep_weekly) == (6, 2, 0, 8)
    assert policy.created_by == dev

    # "none": the volume has its chain, and no policy
    other = provisioned_project(project.tenant, cluster, operator, f"{project.name}-none")
    postgres(other, dev, "none")
    volume = Volume.objects.get(project=other, name="data-postgres-0")
    assert not BackupPolicy.objects.filter(volume=volume).exists()


def test_a_stack_replicates_with_its_volume_data(cluster, acme, project, dev, operator, ceph, client):  # noqa: F811
    stack, _job = postgres(project, dev, "daily")
    source = Volume.objects.get(project=project, name="data-postgres-0")
    copy_ns = provisioned_project(acme, cluster, operator, f"{project.name}-copy")

    with pytest.raises(ValidationError, match="Volume data-postgres-0 has no backup yet"):
        services.replicate_stack(stack, acting_user=dev, target=copy_ns, with_data=True)
    client.force_login(dev)  # the stack page's replicate form: the same refusal, a 400 with the message
    page = f"/templates/stacks/acme/{project.name}/db/"
    assert "With its volumes&#x27; data, each restored from its latest backup" in client.get(page).content.decode()
    response = client.post(page + "replicate/", {"project": copy_ns.pk, "with_data": "on"})
    assert response.status_code == 400 and "Volume data-postgres-0 has no backup yet" in response.content.decode()
    assert not Stack.objects.filter(project=copy_ns).exists() and not Volume.objects.filter(project=copy_ns).exists()

    rng = random.Random(17)
    ceph.write(source.image, 0, rng.randbytes(2 * MIB), pool=source.pool)
    ceph.write(source.image, 40 * MIB, rng.randbytes(MIB), pool=source.pool)
    node = backup_now(source, dev)
    ceph.write(source.image, 0, b"\0" * MIB, pool=source.pool)  # written after the backup: not replicated

    copy, job = services.replicate_stack(stack, acting_user=dev, target=copy_ns, with_data=True)
    restored = Volume.objects.get(project=copy_ns, name="data-postgres-0")
    assert (restored.status, restored.restored_from) == ("restoring", node)
    assert job.payload["restores"] == [restored.pk]
    restore_job = run_storage(_restore_job(restored))
    assert restore_job.status == "succeeded", (restore_job.error, steps(restore_job))

    job = run(job)
    assert job.status == "succeeded", (job.error, steps(job))
    said = steps(job)
    assert "Volume data-postgres-0 is restored from its backup." in said
    assert "Volume data-postgres-0 is backed up by the daily policy (caas.io/backup-policy)." in said
    restored.refresh_from_db()
    assert restored.status == "ready" and restored.image != source.image
    assert ceph.checksum(restored.image, pool=restored.pool) == node.checksum  # the backup's content
    assert ceph.checksum(source.image, pool=source.pool) != node.checksum
    with ClusterAPI(cluster) as api:  # the StatefulSet uses the restored claim: the controller made none
        claims = [c["metadata"]["name"] for c in api.list("PersistentVolumeClaim", copy_ns.name)]
        claim = api.get("PersistentVolumeClaim", "data-postgres-0", copy_ns.name)
        pod = api.get("Pod", "postgres-0", copy_ns.name)
    assert claims == ["data-postgres-0"]
    assert claim["metadata"]["labels"]["caas.io/app"] == "postgres"
    assert pod["status"]["phase"] == "Running"
    copy.refresh_from_db()
    assert (copy.status, copy.version, copy.parameters) == ("ready", stack.version, stack.parameters)
    assert BackupPolicy.objects.filter(volume=restored).exists()

    # deleting a stack takes its StatefulSets' claims: refused while their volumes have backups
    with pytest.raises(ValidationError, match="The volumes data-postgres-0 of postgres have backups"):
        services.delete_stack(stack, acting_user=dev, confirm_name="db")
    assert run(services.delete_stack(copy, acting_user=dev, confirm_name="db")).status == "succeeded"
    assert not Volume.objects.filter(project=copy_ns).exists()  # the restored volume went with its claim


def _restore_job(volume):
    from console.jobs.models import Job

    return Job.objects.get(kind="backup.restore", payload__volume=volume.pk)
