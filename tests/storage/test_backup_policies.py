"""Scheduled backups with retention (keep N daily, M weekly) in the tenant's time zone, run
here as Celery beat runs them (tasks.run_backup_policies with a fixed `now`), on the real
Ceph: retention removes the scheduled nodes it no longer keeps, consolidating the chain where
a kept node continues one of them, and every node left restores to its recorded checksum."""

import random
from datetime import UTC, datetime
from datetime import time as clock
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape

from console.jobs.models import Job
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry
from tests.storage.conftest import backup_now, succeeded
from tests.storage.test_consolidate import restores_to_recorded_checksums
from workloads.storage import retention, services, tasks
from workloads.storage.choices import BackupKind, BackupStatus, VolumeStatus
from workloads.storage.models import Backup, BackupPolicy, Volume

MIB = 1 << 20
pytestmark = pytest.mark.usefixtures("english", "ceph_settings")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def node(pk, *when):
    return SimpleNamespace(pk=pk, scheduled_for=datetime(*when, tzinfo=UTC))


def test_retention_keeps_the_newest_of_each_day_and_week_in_the_tenants_zone():
    nodes = [
        node(1, 2026, 2, 26, 18, 0),  # Fri 27 Feb 02:00 in Shanghai (ISO week 9)
        node(2, 2026, 2, 27, 18, 0),  # Sat 28 Feb
        node(3, 2026, 2, 28, 3, 0),  # Sat 28 Feb 11:00: the newer of that day
        node(4, 2026, 3, 1, 18, 0),  # Mon 2 Mar (week 10)
        node(5, 2026, 3, 2, 18, 0),  # Tue 3 Mar
    ]
    assert retention.kept(nodes, daily=2, weekly=0, zone=SHANGHAI) == {5, 4}
    assert retention.kept(nodes, daily=3, weekly=0, zone=SHANGHAI) == {5, 4, 3}
    assert retention.kept(nodes, daily=0, weekly=2, zone=SHANGHAI) == {5, 3}
    assert retention.kept(nodes, daily=1, weekly=5, zone=SHANGHAI) == {5, 3}
    assert retention.kept(nodes, daily=9, weekly=9, zone=SHANGHAI) == {1, 2, 3, 4, 5} - {2}
    # in UTC, node 3 (Sat 03:00) and node 2 (Fri 18:00) fall on other days
    assert retention.kept(nodes, daily=4, weekly=0, zone=UTC) == {5, 4, 3, 2}
    assert retention.kept([], daily=3, weekly=3, zone=SHANGHAI) == set()


def local(*when):
    return datetime(*when, tzinfo=SHANGHAI)


def outcome(job):
    """What the job achieved, as its "finish" entry in the operation log records it."""
    return OperationLogEntry.objects.get(action=job.kind + ".finish", payload__job=job.pk).after


def run_due(now):
    """Beat's run at `now`; the scheduled job it started (run as the worker runs it), if any."""
    started = tasks.run_backup_policies(now=now)
    pending = list(Job.objects.filter(kind="backup.scheduled", status="pending"))
    assert len(pending) == started
    return succeeded(pending[0]) if pending else None


def test_scheduled_backups_with_retention_on_real_ceph(project, dev, volume, ceph, client):  # noqa: F811
    rng = random.Random(21)
    image, pool = volume.image, volume.pool
    policy = services.set_backup_policy(volume, acting_user=dev, at=clock(2, 0), keep_daily=2, keep_weekly=2)
    BackupPolicy.objects.update(last_run_on=None)
    sums = {}

    def scheduled_run(now, offset):
        ceph.write(image, offset * MIB, rng.randbytes(MIB), pool=pool)
        job = run_due(now)
        assert job is not None
        made = Backup.objects.get(pk=job.payload["backup"])
        sums[made.pk] = ceph.checksum(image, pool=pool)
        assert made.checksum == sums[made.pk] and made.scheduled_for == now
        return made, job

    assert run_due(local(2026, 2, 27, 1, 59)) is None  # Friday 27 Feb, before 02:00 in Shanghai
    first, _ = scheduled_run(local(2026, 2, 27, 2, 1), 0)
    assert (first.kind, first.requested_by_name) == (BackupKind.FULL, "system")
    assert run_due(local(2026, 2, 27, 9, 0)) is None  # once a day
    second, job = scheduled_run(local(2026, 2, 28, 2, 0), 4)  # Saturday
    assert outcome(job)["removed"] == [] and set(outcome(job)["kept"]) == {first.pk, second.pk}
    # Monday 2 Mar (a new ISO week): the first node goes; the second, which continued it, becomes full
    third, job = scheduled_run(local(2026, 3, 2, 2, 0), 8)
    assert outcome(job)["removed"] == [first.pk]
    second.refresh_from_db()
    assert (second.parent_id, second.kind) == (None, BackupKind.FULL)
    # a backup by hand continues the third; retention never removes it
    ceph.write(image, 12 * MIB, rng.randbytes(MIB), pool=pool)
    manual = backup_now(volume, dev)
    sums[manual.pk] = manual.checksum
    fourth, job = scheduled_run(local(2026, 3, 3, 2, 0), 16)
    assert fourth.parent_id == manual.pk and outcome(job)["removed"] == []
    # Wednesday: keep 2 daily (Wed, Tue) and 2 weekly (this week's newest, last week's: Saturday's);
    # Monday's goes, and the manual node that continued it is stored again from Saturday's
    fifth, job = scheduled_run(local(2026, 3, 4, 2, 0), 20)
    assert outcome(job)["removed"] == [third.pk]
    assert set(outcome(job)["kept"]) == {second.pk, fourth.pk, fifth.pk}
    manual.refresh_from_db()
    assert (manual.parent_id, manual.kind) == (second.pk, BackupKind.INCREMENTAL)
    chain = list(volume.backups.order_by("created_at", "pk"))
    assert [n.pk for n in chain] == [second.pk, manual.pk, fourth.pk, fifth.pk]
    assert [n.parent_id for n in chain] == [None, second.pk, manual.pk, fourth.pk]
    assert [s.name for s in ceph.snapshots(image, pool=pool)] == [n.snapshot for n in chain]
    assert {b.name for b in ceph.backups(image=image, pool=pool)} == {n.artefact for n in chain}

    # each result is a notification to the tenant and an operation-log entry
    notes = [(str(n.title), str(n.body)) for n in Notification.objects.filter(user=dev).order_by("pk")]
    finished = [body for title, body in notes if title == "Scheduled backup of data finished"]
    assert len(finished) == 5 and f"retention removed #{first.pk}" in finished[2]
    assert finished[0].endswith("retention removed nothing.")
    entries = OperationLogEntry.objects.filter(action__startswith="backup.scheduled")
    assert entries.filter(action="backup.scheduled", result="accepted", actor_name="system").count() == 5
    assert entries.filter(action="backup.scheduled.finish", result="succeeded").count() == 5
    assert OperationLogEntry.objects.filter(action="backup.policy_set", result="succeeded").count() == 1

    # a volume busy with another job skips that day's backup: logged, announced, shown on the policy
    Volume.objects.filter(pk=volume.pk).update(status=VolumeStatus.RESIZING)
    assert run_due(local(2026, 3, 5, 2, 0)) is None
    skipped = [(str(n.title), str(n.body)) for n in Notification.objects.filter(user=dev, level="warning")]
    reason = "Volume data was busy (Resizing) at the scheduled time: that day's backup is skipped."
    assert skipped == [("Scheduled backup of data skipped today", reason)]
    entry = OperationLogEntry.objects.get(action="backup.scheduled", after__skipped__isnull=False)
    assert (entry.result, entry.after["skipped"]) == ("succeeded", reason)
    assert not OperationLogEntry.objects.filter(action="backup.scheduled", result="failed").exists()
    Volume.objects.filter(pk=volume.pk).update(status=VolumeStatus.READY)
    assert run_due(local(2026, 3, 5, 3, 0)) is None  # not retried that day
    policy.refresh_from_db()
    assert policy.last_run_on.isoformat() == "2026-03-05" and policy.skipped_on.isoformat() == "2026-03-05"
    client.force_login(dev)
    html = client.get(f"/storage/acme/{volume.namespace}/volumes/data/").content.decode()
    assert 'data-testid="policy-skipped"' in html and "Skipped on 2026-03-05:" in html and escape(reason) in html

    # every node left restores to the checksum it recorded
    volume.refresh_from_db()
    for left in restores_to_recorded_checksums(volume, dev, ceph, "copy"):
        assert left.checksum == sums[left.pk]


def test_policy_form_on_the_volume_page(project, dev, volume, client, auditor):  # noqa: F811
    from console.celery import app as celery_app

    beat = celery_app.conf.beat_schedule["storage-backup-policies"]
    assert beat["task"] == "workloads.storage.tasks.run_backup_policies"
    base = f"/storage/acme/{project.name}/volumes/data/"
    client.force_login(dev)
    html = client.get(base).content.decode()
    assert 'id="policy-form"' in html and "Asia/Shanghai" in html
    response = client.post(base + "policy/", {"at": "25:00", "keep_daily": "7", "keep_weekly": "4"})
    assert response.status_code == 400 and not BackupPolicy.objects.exists()
    response = client.post(base + "policy/", {"at": "03:30", "keep_daily": "0", "keep_weekly": "0"})
    assert response.status_code == 400 and "Keep at least one daily or one weekly backup" in response.content.decode()
    response = client.post(base + "policy/", {"at": "03:30", "keep_daily": "7", "keep_weekly": "4"})
    assert response.status_code == 302
    policy = BackupPolicy.objects.get(volume=volume)
    assert (policy.at, policy.keep_daily, policy.keep_weekly) == (clock(3, 30), 7, 4)
    html = client.get(base).content.decode()
    assert "Every day at 03:30 (Asia/Shanghai); keeps 7 daily and 4 weekly backups." in html
    assert client.post(base + "policy/", {"at": "04:00", "keep_daily": "3", "keep_weekly": "1"}).status_code == 302
    policy.refresh_from_db()
    assert (policy.at, policy.keep_daily) == (clock(4, 0), 3)
    entry = OperationLogEntry.objects.filter(action="backup.policy_set", result="succeeded").order_by("pk").last()
    assert entry.before["at"] == "03:30" and entry.after["at"] == "04:00"

    # auditors read, never change; another tenant's member does not see it at all
    client.force_login(auditor)
    assert client.post(base + "policy/remove/").status_code == 403
    from tests.factories import mk_member, mk_tenant

    outsider = mk_member(mk_tenant("globex", clusters=[project.cluster]), "globex-dev", "tenant-admin")
    client.force_login(outsider)
    assert client.post(base + "policy/", {"at": "01:00", "keep_daily": "1", "keep_weekly": "0"}).status_code == 404
    assert client.post(base + "policy/remove/").status_code == 404
    assert BackupPolicy.objects.filter(volume=volume).exists()

    client.force_login(dev)
    assert client.post(base + "policy/remove/").status_code == 302
    assert not BackupPolicy.objects.exists()
    response = client.post(base + "policy/remove/")
    assert response.status_code == 400 and "has no backup policy" in response.content.decode()
    with pytest.raises(ValidationError, match="Give the time of day"):
        services.set_backup_policy(volume, acting_user=dev, at=None, keep_daily=1, keep_weekly=1)
    assert not Backup.objects.filter(status=BackupStatus.PENDING).exists()
