"""Weekly backup policies (run only on their day of the week, in the tenant's time zone) and
the named policies a claim asks for in its caas.io/backup-policy annotation: attached when
the claim becomes a volume; an unknown name leaves the volume without a policy and says why."""

from datetime import UTC, datetime
from datetime import time as clock

import pytest

from console import texts
from workloads.storage import services, tasks
from workloads.storage.models import Backup, BackupPolicy, Volume

pytestmark = pytest.mark.usefixtures("english", "ceph_settings")


def test_a_weekly_policy_runs_on_its_day_only(project, dev, volume, client):
    base = f"/storage/acme/{project.name}/volumes/data/"
    client.force_login(dev)
    response = client.post(base + "policy/", {"weekday": "9", "at": "02:00", "keep_daily": "0", "keep_weekly": "4"})
    assert response.status_code == 400 and not BackupPolicy.objects.exists()
    response = client.post(base + "policy/", {"weekday": "6", "at": "02:00", "keep_daily": "0", "keep_weekly": "4"})
    assert response.status_code == 302
    policy = BackupPolicy.objects.get(volume=volume)
    assert (policy.weekday, policy.at) == (6, clock(2, 0))
    html = client.get(base).content.decode()
    assert "Every Sunday at 02:00 (Asia/Shanghai); keeps 0 daily and 4 weekly backups." in html

    BackupPolicy.objects.filter(pk=policy.pk).update(last_run_on=None)  # as if set long before
    # 2026-12-05 is a Saturday, 2026-12-06 a Sunday; 03:00 in Shanghai is 19:00 UTC the day before
    assert tasks.run_backup_policies(now=datetime(2026, 12, 4, 19, 0, tzinfo=UTC)) == 0  # Saturday 03:00
    assert not Backup.objects.filter(volume=volume).exists()
    assert tasks.run_backup_policies(now=datetime(2026, 12, 5, 19, 0, tzinfo=UTC)) == 1  # Sunday 03:00
    assert Backup.objects.filter(volume=volume, scheduled_for__isnull=False).count() == 1
    assert tasks.run_backup_policies(now=datetime(2026, 12, 5, 20, 0, tzinfo=UTC)) == 0  # once that day


def bound_claim(name, annotation):
    return {
        "metadata": {"name": name, "annotations": {services.POLICY_ANNOTATION: annotation}},
        "spec": {
            "volumeName": f"pv-{name}",
            "storageClassName": "ceph-rbd",
            "resources": {"requests": {"storage": "64Mi"}},
        },
        "status": {"phase": "Bound", "capacity": {"storage": "64Mi"}},
    }


def test_an_adopted_claim_gets_the_policy_it_names(project, dev):
    pv = {"spec": {"csi": {"volumeAttributes": {"pool": "rbd", "imageName": "csi-vol-x"}}}}
    volume = services.adopt_claim(project, bound_claim("daily-0", "daily"), pv, acting_user=dev)
    assert str(volume.adopted_note) == "Volume daily-0 is backed up by the daily policy (caas.io/backup-policy)."
    policy = BackupPolicy.objects.get(volume=volume)
    assert (policy.weekday, policy.at, policy.keep_daily, policy.keep_weekly) == (None, clock(2, 0), 7, 4)
    assert (volume.pool, volume.image, volume.size_bytes) == ("rbd", "csi-vol-x", 64 << 20)
    again = services.adopt_claim(project, bound_claim("daily-0", "weekly"), pv, acting_user=dev)
    assert again == volume and not hasattr(again, "adopted_note")  # adopted once: its policy is the person's now

    volume = services.adopt_claim(project, bound_claim("odd-0", "hourly"), pv, acting_user=dev)
    assert texts.render(volume.adopted_note) == (
        "Volume odd-0 has no backup policy: PersistentVolumeClaim odd-0 names the backup policy hourly in "
        "caas.io/backup-policy; known policies are: daily, weekly, none."
    )
    assert Volume.objects.filter(project=project, name="odd-0").exists()
    assert not BackupPolicy.objects.filter(volume=volume).exists()
    pending = dict(bound_claim("later-0", "daily"), status={"phase": "Pending"})
    assert services.adopt_claim(project, pending, None, acting_user=dev) is None  # adopted once bound
