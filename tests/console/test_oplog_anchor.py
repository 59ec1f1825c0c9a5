"""The operation log's anchor: signed checkpoints of the chain's head outside the database
show what the hash chain alone cannot, the newest entries or all of them deleted."""

import json
import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from console.oplog import anchor as oplog_anchor
from console.oplog import oplog
from console.oplog.models import OperationLogEntry

from .test_oplog_chain import append, append_at_once, tamper


@pytest.fixture
def anchored(django_capture_on_commit_callbacks):
    """Append entries and run their on-commit work (the checkpoints), as a real commit would."""

    def make(n):
        with django_capture_on_commit_callbacks(execute=True):
            return append(n)

    return make


def checkpoints():
    return [json.loads(line) for line in Path(settings.OPLOG_ANCHOR_PATH).read_text().splitlines()]


@pytest.mark.django_db
def test_untouched_log_is_intact_and_every_entry_is_anchored(anchored, caplog):
    with caplog.at_level(logging.INFO, logger="console.oplog.anchor"):
        entries = anchored(4)
    assert [(c["id"], c["count"], c["hash"]) for c in checkpoints()] == [
        (e.pk, i + 1, e.entry_hash) for i, e in enumerate(entries)
    ]
    assert len([r for r in caplog.records if r.name == "console.oplog.anchor"]) == 4  # the copy for an external sink
    report = oplog.verify_chain()
    assert report.intact and report.checked == 4


@pytest.mark.django_db
def test_counts_carry_on_when_only_the_end_of_a_long_anchor_is_read(anchored, monkeypatch):
    monkeypatch.setattr(oplog_anchor, "TAIL_BYTES", 300)  # a line and a half
    anchored(5)
    assert [c["count"] for c in checkpoints()] == [1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_deleting_the_newest_entries_is_detected(anchored):
    entries = anchored(5)
    tamper("DELETE FROM console_operationlogentry WHERE id >= %s", [entries[3].pk])
    report = oplog.verify_chain()
    assert not report.intact
    assert (report.first_broken_id, report.missing, report.checked) == (entries[4].pk, 2, 3)
    assert "newest entries were deleted" in report.reason
    with pytest.raises(CommandError, match=rf"broken at entry #{entries[4].pk}: .*missing.* \(2 entries missing"):
        call_command("verify_operation_log")


@pytest.mark.django_db
def test_deleting_every_entry_is_detected(anchored):
    entries = anchored(3)
    tamper("DELETE FROM console_operationlogentry")
    report = oplog.verify_chain()
    assert not report.intact
    assert (report.first_broken_id, report.missing, report.checked) == (entries[2].pk, 3, 0)


@pytest.mark.django_db
def test_deleted_newest_entries_stay_missing_after_new_ones_are_appended(anchored):
    """New entries link onto the shortened chain, so the chain itself looks whole again: the
    anchor's count carries on from the previous checkpoint and still misses the two."""
    entries = anchored(4)
    tamper("DELETE FROM console_operationlogentry WHERE id >= %s", [entries[2].pk])
    later = anchored(2)
    report = oplog.verify_chain()
    assert not report.intact
    assert (report.first_broken_id, report.missing) == (later[-1].pk, 2)


@pytest.mark.django_db
def test_rewriting_the_newest_entry_with_a_fresh_hash_is_detected(anchored):
    """The newest entry has no successor whose link would break: only the anchor knows its hash."""
    *_, newest = anchored(3)
    newest.actor_name = "someone-else"
    tamper(
        "UPDATE console_operationlogentry SET actor_name = %s, entry_hash = %s WHERE id = %s",
        [newest.actor_name, oplog.entry_hash(newest), newest.pk],
    )
    report = oplog.verify_chain()
    assert not report.intact
    assert report.first_broken_id == newest.pk and "rewritten" in report.reason


@pytest.mark.django_db
def test_a_checkpoint_with_a_wrong_signature_is_reported(anchored):
    entries = anchored(2)
    forged = {**checkpoints()[-1], "count": 1}
    with open(settings.OPLOG_ANCHOR_PATH, "a") as anchor_file:
        anchor_file.write(json.dumps(forged) + "\n")
    report = oplog.verify_chain()
    assert not report.intact
    assert report.first_broken_id == entries[1].pk and "wrong signature" in report.reason


@pytest.mark.django_db
def test_an_entry_rolled_back_is_never_anchored(anchored, django_capture_on_commit_callbacks):
    anchored(1)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            append(1)
            raise RuntimeError("the action failed")
    assert len(checkpoints()) == 1
    assert oplog.verify_chain().intact


@pytest.mark.django_db
def test_an_unwritable_anchor_does_not_fail_the_action(anchored, settings, tmp_path, caplog):
    settings.OPLOG_ANCHOR_PATH = str(tmp_path / "not-a-directory")
    (tmp_path / "not-a-directory").mkdir()
    (entry,) = anchored(1)
    assert OperationLogEntry.objects.filter(pk=entry.pk).exists()
    assert "could not anchor" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_processes_appending_at_once_keep_one_count():
    append_at_once(4, 10)
    head = oplog_anchor.read().head
    assert (head.id, head.count) == (OperationLogEntry.objects.order_by("-id").first().pk, 40)
    assert oplog.verify_chain().intact
