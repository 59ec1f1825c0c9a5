import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.choices import OperationResult
from console.oplog import oplog
from console.oplog.models import ChainVerification, OperationLogEntry
from console.oplog.tasks import verify_operation_log

pytestmark = pytest.mark.django_db
URL = reverse("console:oplog")


@pytest.fixture
def entries(operator, auditor):
    oplog.record(
        operator,
        "app.deploy",
        result=OperationResult.SUCCEEDED,
        target={"cluster": "prod", "namespace": "shop", "kind": "Deployment", "name": "web"},
    )
    oplog.record(
        operator,
        "app.scale",
        result=OperationResult.FAILED,
        target={"cluster": "prod", "namespace": "shop", "kind": "Deployment", "name": "web"},
        error="quota exceeded",
    )
    oplog.record(auditor, "oplog.export", result=OperationResult.SUCCEEDED)
    oplog.record(
        None,
        "account.login",
        actor_name="mallory",
        result=OperationResult.FAILED,
        payload={"password": "nope", "note": "=cmd|calc"},
    )


def rows(response):
    return response.content.decode().count("data-entry=")


def test_filters_by_actor_action_target_result(client, auditor, entries):
    client.force_login(auditor)  # records its own account.login entry
    assert rows(client.get(URL)) == 5
    assert rows(client.get(URL, {"actor": "op"})) == 2
    assert rows(client.get(URL, {"action": "app."})) == 2
    assert rows(client.get(URL, {"target": "prod/shop/Deployment/web"})) == 2
    assert rows(client.get(URL, {"result": "failed"})) == 2
    assert rows(client.get(URL, {"q": "quota"})) == 1
    assert rows(client.get(URL, {"actor": "op", "result": "failed", "q": "quota"})) == 1


def test_filters_by_time_range(client, auditor, entries):
    client.force_login(auditor)
    now = timezone.localtime()
    later = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    earlier = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert rows(client.get(URL, {"since": earlier, "until": later})) == 5
    assert rows(client.get(URL, {"since": later})) == 0


def test_htmx_filter_returns_the_table_fragment(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(URL, {"actor": "mallory"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and "mallory" in body


def test_paginates(client, auditor):
    for i in range(120):
        oplog.record(None, f"bulk.{i}", actor_name="system", result=OperationResult.SUCCEEDED)
    client.force_login(auditor)
    page1 = client.get(URL)
    assert rows(page1) == 50 and "bulk.119" in page1.content.decode()
    page3 = client.get(URL, {"page": 3})
    assert rows(page3) == 21 and "bulk.0<" in page3.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"page": "abc"},
        {"page": "-1"},
        {"since": "yesterday"},
        {"until": "2026-13-45"},
        {"result": "hacked"},
        {"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"},
        {"q": "x" * 500},
    ],
)
def test_malformed_query_strings_get_400_with_a_message(client, auditor, query):
    client.force_login(auditor)
    response = client.get(URL, query)
    assert response.status_code == 400
    assert "alert-danger" in response.content.decode()
    assert client.get(reverse("console:oplog_export"), query).status_code == 400


def test_csv_export_follows_the_filter_and_is_recorded(client, auditor, entries):
    client.force_login(auditor)
    response = client.get(reverse("console:oplog_export"), {"actor": "mallory"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [row["actor_name"] for row in table] == ["mallory"]
    assert table[0]["action"] == "account.login" and len(table[0]["entry_hash"]) == 64
    assert '"password": "********"' in table[0]["payload"]
    export = OperationLogEntry.objects.filter(action="oplog.export", actor_name="aud").latest("id")
    assert export.payload == {"filters": {"actor": "mallory"}}


def test_csv_cells_cannot_start_a_formula(client, auditor):
    oplog.record(None, '=HYPERLINK("x")', actor_name="+cmd", result=OperationResult.FAILED)
    client.force_login(auditor)
    text = b"".join(client.get(reverse("console:oplog_export")).streaming_content).decode("utf-8-sig")
    row = list(csv.DictReader(io.StringIO(text)))[0]
    assert row["actor_name"] == "'+cmd" and row["action"].startswith("'=")


def test_verify_button_queues_a_check_and_the_task_reports(
    client, auditor, entries, django_capture_on_commit_callbacks
):
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("console:oplog_verify"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-status="pending"' in response.content.decode()
    verification = ChainVerification.objects.get()
    assert callbacks, "the task is queued after commit"
    accepted = OperationLogEntry.objects.get(action="oplog.verify")
    assert accepted.result == "accepted" and accepted.payload == {"verification": verification.pk}

    verify_operation_log(verification.pk)  # what the worker runs (the worker itself: tests/integration)
    verification.refresh_from_db()
    assert verification.status == "intact" and verification.checked == 6  # 4 + sign-in + the request
    assert str(auditor.notifications.get().title).startswith(("Operation log intact", "操作日志完整"))
    verify_operation_log(verification.pk)  # idempotent: a finished check is left alone
    assert auditor.notifications.count() == 1


def test_scheduled_check_alerts_auditors_and_operators_when_broken(operator, auditor, entries):
    from django.db import connection

    from console.oplog.tasks import verify_operation_log_scheduled

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE console_operationlogentry SET error = '' WHERE action = 'app.scale'")
        cursor.execute("SET session_replication_role = DEFAULT")
    verify_operation_log_scheduled()
    broken = OperationLogEntry.objects.get(action="app.scale")
    for user in (operator, auditor):
        note = user.notifications.get()
        assert note.level == "danger" and f"#{broken.pk}" in str(note.title)


def test_filters_by_tenant(client, auditor, operator, entries):
    oplog.record(
        operator,
        "tenant.edit",
        result=OperationResult.SUCCEEDED,
        target={"tenant": "acme", "kind": "Tenant", "name": "acme"},
    )
    oplog.record(
        operator,
        "tenant.edit",
        result=OperationResult.SUCCEEDED,
        target={"tenant": "acme-labs", "kind": "Tenant", "name": "acme-labs"},
    )
    client.force_login(auditor)
    body = client.get(URL, {"tenant": "acme"}).content.decode()
    assert body.count("data-entry=") == 1 and "acme-labs" not in body


def test_details_show_what_changed_field_by_field(client, auditor, operator):
    oplog.record(
        operator,
        "app.upgrade",
        result=OperationResult.SUCCEEDED,
        before={"image": "nginx:1.27", "replicas": 2, "env": {"MODE": "a"}, "old": True},
        after={"image": "nginx:1.28", "replicas": 2, "env": {"MODE": "b"}, "new": 1},
    )
    client.force_login(auditor)
    body = client.get(URL, {"action": "app.upgrade"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "4 changes" in body
    changed = body.split('class="table table-sm table-borderless mb-1 oplog-changes"')[1].split("</table>")[0]
    for path in ("image", "env.MODE", "old", "new"):
        assert f"<code>{path}</code>" in changed
    assert "<code>replicas</code>" not in changed
    assert "nginx:1.27" in changed and "nginx:1.28" in changed


def test_field_changes_walks_dicts_and_marks_added_and_removed():
    changes = oplog.field_changes({"a": {"b": 1, "c": [1]}, "gone": 1}, {"a": {"b": 2, "c": [1, 2]}, "fresh": None})
    assert [(c.path, c.before, c.after, c.added, c.removed) for c in changes] == [
        ("a.b", 1, 2, False, False),
        ("a.c", [1], [1, 2], False, False),
        ("fresh", None, None, True, False),
        ("gone", 1, None, False, True),
    ]
    assert oplog.field_changes(None, {"a": 1}) == []
