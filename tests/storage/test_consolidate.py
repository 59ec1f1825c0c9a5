"""Consolidating the backup chain on the real Ceph: a node that later nodes continue is merged
into them (each is stored again from its own snapshot without it), then deleted; every node
left restores to the checksum recorded when it was made."""

import random

import pytest
from django.core.exceptions import ValidationError

from console.jobs.models import Job
from console.oplog.models import OperationLogEntry
from tests.storage.conftest import backup_now, succeeded
from workloads.storage import services
from workloads.storage.choices import BackupKind, BackupStatus
from workloads.storage.models import Backup

MIB = 1 << 20
pytestmark = pytest.mark.usefixtures("english", "ceph_settings")


def restores_to_recorded_checksums(source, user, gateway, prefix):
    """Restore every node of the volume into a new volume: each has the node's checksum."""
    nodes = list(source.backups.order_by("created_at", "pk"))
    for node in nodes:
        assert node.status == BackupStatus.SUCCEEDED
        copy, job = services.restore_backup(node, acting_user=user, name=f"{prefix}-{node.pk}")
        succeeded(job)
        copy.refresh_from_db()
        assert gateway.checksum(copy.image, pool=copy.pool) == node.checksum, node
        succeeded(services.delete_volume(copy, acting_user=user, confirm_name=copy.name))
    return nodes


def test_consolidating_keeps_every_remaining_node_restorable(project, dev, volume, ceph, client):  # noqa: F811
    rng = random.Random(7)
    image, pool = volume.image, volume.pool
    sums = {}
    nodes = []
    for round_ in range(4):  # a full backup, then three incrementals, each after new writes
        ceph.write(image, round_ * 3 * MIB, rng.randbytes(2 * MIB), pool=pool)
        ceph.write(image, 50 * MIB + round_ * MIB, rng.randbytes(MIB // 2), pool=pool)
        node = backup_now(volume, dev)
        sums[node.pk] = ceph.checksum(image, pool=pool)
        assert node.checksum == sums[node.pk]
        nodes.append(node)
    first, second, third, fourth = nodes
    assert [n.parent_id for n in nodes] == [None, first.pk, second.pk, third.pk]

    # the page refuses the plain deletion and offers the consolidation where it says so
    client.force_login(dev)
    base = f"/storage/acme/{project.name}/volumes/data/"
    response = client.post(base + f"backups/{second.pk}/delete/", {"confirm": "on"})
    assert response.status_code == 400
    assert f"incremental backups #{third.pk} continue it" in response.content.decode()
    html = client.get(base).content.decode()
    assert html.count('data-testid="backup-consolidate"') == 3  # not on the last node
    assert f"backups/{second.pk}/consolidate/" in html
    assert client.post(base + f"backups/{second.pk}/consolidate/", {}).status_code == 400  # unconfirmed
    response = client.post(base + f"backups/{second.pk}/consolidate/", {"confirm": "on"})
    assert response.status_code == 302
    job = Job.objects.get(kind="backup.consolidate")
    assert Backup.objects.get(pk=second.pk).status == BackupStatus.DELETING
    with pytest.raises(ValidationError, match="still Deleting"):  # nothing else runs on the chain meanwhile
        services.create_backup(volume, acting_user=dev)
    succeeded(job)

    # the middle node is gone: the third is now incremental from the first, the fourth unchanged
    assert not Backup.objects.filter(pk=second.pk).exists()
    third.refresh_from_db()
    fourth.refresh_from_db()
    assert (third.parent_id, third.kind, third.checksum) == (first.pk, BackupKind.INCREMENTAL, sums[third.pk])
    assert third.artefact.endswith(f"@{third.snapshot}.j{job.pk}")
    assert fourth.parent_id == third.pk
    assert [s.name for s in ceph.snapshots(image, pool=pool)] == [first.snapshot, third.snapshot, fourth.snapshot]
    stored = {b.name for b in ceph.backups(image=image, pool=pool)}
    assert stored == {first.artefact, third.artefact, fourth.artefact}

    # the full node goes too: the third becomes the full backup the chain starts from
    succeeded(services.consolidate_backup(first, acting_user=dev))
    third.refresh_from_db()
    assert (third.parent_id, third.kind) == (None, BackupKind.FULL)
    assert list(volume.backups.order_by("pk").values_list("pk", flat=True)) == [third.pk, fourth.pk]
    assert {b.name for b in ceph.backups(image=image, pool=pool)} == {third.artefact, fourth.artefact}

    # what is left restores to what each node recorded
    restores_to_recorded_checksums(volume, dev, ceph, "copy")
    # and a rollback to the rewritten node still works
    succeeded(services.rollback_backup(third, acting_user=dev))
    assert ceph.checksum(image, pool=pool) == sums[third.pk]

    entries = OperationLogEntry.objects.filter(action__startswith="backup.")
    assert entries.filter(action="backup.consolidate", result="accepted").count() == 2
    assert entries.filter(action="backup.consolidate.finish", result="succeeded").count() == 2
    assert entries.filter(action="backup.rewrite", result="succeeded").count() == 2
    assert entries.filter(action="backup.remove", result="succeeded").count() == 2


def test_consolidation_refusals(project, dev, volume, ceph, client):  # noqa: F811
    only = backup_now(volume, dev)
    with pytest.raises(ValidationError, match="No backup continues"):
        services.consolidate_backup(only, acting_user=dev)
    later = backup_now(volume, dev)
    # another tenant's member: 404; an auditor: 403
    from tests.factories import mk_member, mk_tenant

    globex = mk_tenant("globex", clusters=[project.cluster])
    outsider = mk_member(globex, "globex-dev", "tenant-admin")
    client.force_login(outsider)
    url = f"/storage/acme/{project.name}/volumes/data/backups/{only.pk}/consolidate/"
    assert client.post(url, {"confirm": "on"}).status_code == 404
    assert OperationLogEntry.objects.filter(action="backup.consolidate").count() == 1  # the refused one above
    # a failed node (nothing to rewrite) is refused too
    Backup.objects.filter(pk=only.pk).update(status=BackupStatus.FAILED)
    only.refresh_from_db()
    with pytest.raises(ValidationError, match="only a succeeded backup is consolidated"):
        services.consolidate_backup(only, acting_user=dev)
    Backup.objects.filter(pk=only.pk).update(status=BackupStatus.SUCCEEDED)
    only.refresh_from_db()

    # Ceph fails half-way (the later node's snapshot is gone): the job fails with Ceph's words,
    # and the chain is as it was: the node is good again, nothing rewritten, nothing left over
    ceph.remove_snapshot(volume.image, later.snapshot, pool=volume.pool)
    job = services.consolidate_backup(only, acting_user=dev)
    from tests.storage.conftest import run

    job = run(job)
    assert job.status == "failed" and later.snapshot in str(job.error)
    only.refresh_from_db()
    later.refresh_from_db()
    assert only.status == BackupStatus.SUCCEEDED and later.parent_id == only.pk and later.kind == BackupKind.INCREMENTAL
    assert {b.name for b in ceph.backups(image=volume.image, pool=volume.pool)} == {only.artefact, later.artefact}
