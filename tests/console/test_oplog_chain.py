import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from console.choices import OperationResult
from console.oplog import oplog
from console.oplog.models import OperationLogEntry


def append(n, actor=None, **kwargs):
    return [
        oplog.record(actor, f"test.action{i}", actor_name="system", result=OperationResult.SUCCEEDED, **kwargs)
        for i in range(n)
    ]


def append_at_once(workers, each):
    """`workers` threads, each on its own database connection (as separate processes would be),
    append `each` entries at the same time."""

    def worker():
        append(each)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def tamper(sql, params=()):
    """Change rows behind the application's back, as an intruder with database access would."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # skips the append-only trigger
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.django_db
def test_entries_link_to_the_previous_hash():
    first, second, third = append(3)
    assert first.prev_hash == oplog.GENESIS_HASH
    assert second.prev_hash == first.entry_hash
    assert third.prev_hash == second.entry_hash
    assert len({first.entry_hash, second.entry_hash, third.entry_hash}) == 3
    report = oplog.verify_chain()
    assert report.intact and report.checked == 3


@pytest.mark.django_db
def test_changed_content_names_the_entry():
    entries = append(5)
    tamper("UPDATE console_operationlogentry SET actor_name = 'someone-else' WHERE id = %s", [entries[2].pk])
    report = oplog.verify_chain()
    assert not report.intact
    assert report.first_broken_id == entries[2].pk
    assert "content" in report.reason
    assert report.checked == 2


@pytest.mark.django_db
def test_removed_entry_breaks_the_next_link():
    entries = append(4)
    tamper("DELETE FROM console_operationlogentry WHERE id = %s", [entries[1].pk])
    report = oplog.verify_chain()
    assert report.first_broken_id == entries[2].pk
    assert "link" in report.reason


@pytest.mark.django_db
def test_database_refuses_update_and_delete():
    (entry,) = append(1)
    for statement in ("UPDATE console_operationlogentry SET action = 'x'", "DELETE FROM console_operationlogentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    assert OperationLogEntry.objects.get(pk=entry.pk).action == entry.action


@pytest.mark.django_db
def test_application_refuses_update_and_delete():
    (entry,) = append(1)
    entry.action = "changed"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        OperationLogEntry.objects.all().update(action="x")
    with pytest.raises(PermissionError):
        OperationLogEntry.objects.all().delete()


@pytest.mark.django_db
def test_secrets_are_masked_before_storage():
    (entry,) = append(1, payload={"username": "u", "password": "hunter2", "nested": [{"api_key": "k", "ok": 1}]})
    stored = OperationLogEntry.objects.get(pk=entry.pk).payload
    assert stored == {"username": "u", "password": oplog.MASK, "nested": [{"api_key": oplog.MASK, "ok": 1}]}


@pytest.mark.django_db
def test_recorded_rolls_back_the_action_and_records_the_failure(operator):
    with pytest.raises(ValueError):
        with oplog.recorded(operator, "test.fail", target={"kind": "User", "name": "x"}):
            operator.first_name = "changed"
            operator.save()
            raise ValueError("name taken")
    operator.refresh_from_db()
    assert operator.first_name == ""
    entry = OperationLogEntry.objects.get(action="test.fail")
    assert (entry.result, entry.error, entry.actor_name, entry.target_name) == ("failed", "name taken", "op", "x")
    assert entry.finished_at >= entry.started_at


@pytest.mark.django_db
def test_recorded_success_commits_with_the_action(operator):
    with oplog.recorded(operator, "test.ok") as outcome:
        outcome.before, outcome.after = {"replicas": 1}, {"replicas": 3}
    entry = OperationLogEntry.objects.get(action="test.ok")
    assert (entry.result, entry.before, entry.after, entry.actor_role) == (
        "succeeded",
        {"replicas": 1},
        {"replicas": 3},
        "operator",
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain():
    append_at_once(4, 15)
    report = oplog.verify_chain()
    assert report.intact, report
    assert report.checked == 60


@pytest.mark.django_db
def test_verify_command_reports_and_fails_on_broken_chain(capsys):
    entries = append(3)
    call_command("verify_operation_log")
    assert "intact: 3 entries" in capsys.readouterr().out
    tamper("UPDATE console_operationlogentry SET result = 'failed' WHERE id = %s", [entries[0].pk])
    with pytest.raises(CommandError, match=f"broken at entry #{entries[0].pk}"):
        call_command("verify_operation_log")


@pytest.mark.django_db
def test_nul_characters_anywhere_in_an_entrys_data_are_stored_without_them():
    """PostgreSQL's JSON cannot hold NUL: an error quoting a pasted document once made the
    refused request's own log entry fail to save (a 500)."""
    entry = oplog.record(
        None,
        "test.nul",
        actor_name="system",
        result=OperationResult.FAILED,
        payload={"kubeconfig\x00": ["a\x00b"], "n": 1, "error": "server https://127.0.0.1:1/\x00 refused"},
        before={"x": "\x00"},
        error="bad\x00",
    )
    entry.refresh_from_db()
    assert entry.payload == {"kubeconfig": ["ab"], "n": 1, "error": "server https://127.0.0.1:1/ refused"}
    assert entry.before == {"x": ""} and entry.error == "bad"
    assert oplog.verify_chain().intact
