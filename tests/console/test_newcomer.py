"""The newcomer's first hour: a second `make run`, navigation per role, the auditor's
export and search, and the small things a first look finds."""

import csv
import io
import socket
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from console.choices import OperationResult
from console.clusters.watcher import ClusterWatchers
from console.management.commands import up
from console.oplog import oplog
from console.oplog.models import OperationLogEntry

from ..factories import mk_member, mk_tenant

# --- a second `make run` ----------------------------------------------------------------


@pytest.fixture
def taken_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_taken_port_is_said_in_one_line_before_anything_starts(taken_port, monkeypatch, capsys):
    def must_not_run(*args, **kwargs):
        raise AssertionError("migrated although the port is taken")

    monkeypatch.setattr(up, "call_command", must_not_run)
    with pytest.raises(SystemExit) as stopped:
        call_command("up", port=taken_port)
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == f"Port {taken_port} is already in use: is the console already running? Use make run PORT=8080."


def test_a_free_port_is_free(taken_port):
    assert up.port_in_use("127.0.0.1", taken_port)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert not up.port_in_use("127.0.0.1", free)


class RefreshingThread:
    """A kind watcher whose interrupt() lands while refresh() adds another cluster's watcher,
    as the rescan thread did while `up` stopped."""

    def __init__(self, watchers):
        self.watchers = watchers
        self.joined = False

    def interrupt(self):
        self.watchers.threads[(99, "Pod")] = RefreshingThread(self.watchers)

    def join(self, timeout=None):
        self.joined = True

    def is_alive(self):
        return False


def test_stopping_watchers_while_they_change_does_not_fail():
    watchers = ClusterWatchers(kinds=[])
    watchers.cluster_stops[1] = threading.Event()
    first = watchers.threads[(1, "Pod")] = RefreshingThread(watchers)
    watchers.stop(timeout=0.1)  # RuntimeError: dictionary changed size during iteration, before
    assert first.joined and watchers.cluster_stops[1].is_set()
    watchers.refresh()  # the rescan thread's late round starts nothing (and reads no database)
    assert not watchers.announcer.is_alive()


# --- navigation per role ------------------------------------------------------------------


def nav(client, user):
    client.force_login(user)
    body = client.get(reverse("console:notification_list")).content.decode()
    menu = body[body.index('id="main-nav"') : body.index("</aside>")]
    return {"clusters": reverse("console:cluster_list") in menu, "oplog": reverse("console:oplog") in menu}


@pytest.mark.django_db
def test_each_role_sees_in_the_navigation_only_what_it_may_open(client, operator, auditor):
    member = mk_member(mk_tenant("acme"), "dev", role="tenant-admin")
    assert nav(client, operator) == {"clusters": True, "oplog": True}
    assert nav(client, auditor) == {"clusters": True, "oplog": True}
    assert nav(client, member) == {"clusters": False, "oplog": False}
    # and what it shows, it may open
    assert client.get(reverse("tenants:tenant_list")).status_code == 200


# --- the auditor's export and search ------------------------------------------------------


@pytest.fixture
def upgrade(operator):
    target = {"cluster": "prod", "namespace": "shop", "kind": "Deployment", "name": "web"}
    oplog.record(
        operator,
        "app.upgrade",
        result=OperationResult.ACCEPTED,
        target=target,
        before={"spec": {"image": "nginx:1.25"}},
        after={"spec": {"image": "nginx:1.27"}},
    )
    oplog.record(operator, "app.scale", result=OperationResult.SUCCEEDED, target=target, payload={"replicas": 3})
    oplog.record(operator, "tenant.create", result=OperationResult.SUCCEEDED, payload={"name": "acme"})


@pytest.mark.django_db
def test_search_looks_into_before_after_and_payload(client, auditor, upgrade):
    client.force_login(auditor)
    found = client.get(reverse("console:oplog"), {"q": "nginx:1.27"}).content.decode()
    assert found.count("data-entry=") == 1 and "app.upgrade" in found
    assert client.get(reverse("console:oplog"), {"q": "NGINX:1.25"}).content.decode().count("data-entry=") == 1
    assert client.get(reverse("console:oplog"), {"q": '"replicas": 3'}).content.decode().count("data-entry=") == 1


@pytest.mark.django_db
def test_the_export_link_follows_the_filter_applied_with_the_button(client, auditor, upgrade):
    client.force_login(auditor)
    # the Filter button swaps in the table only (htmx): the export link must come along
    table = client.get(
        reverse("console:oplog"), {"action": "app.", "q": "nginx"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    link = table[table.index('id="export-csv"') :]
    assert link.startswith('id="export-csv" hx-swap-oob="true"')
    href = link[link.index('href="') + 6 :]
    href = href[: href.index('"')].replace("&amp;", "&")
    assert href.startswith(reverse("console:oplog_export") + "?") and "q=nginx" in href
    rows = list(csv.DictReader(io.StringIO(client.get(href).getvalue().decode().lstrip("\ufeff"))))
    assert [row["action"] for row in rows] == ["app.upgrade"]


@pytest.mark.django_db
def test_search_stays_quick_on_thousands_of_entries(client, auditor):
    import time

    entries = [
        OperationLogEntry(
            started_at=timezone.now(),
            finished_at=timezone.now(),
            actor_name="system",
            action=f"bulk.{i}",
            result="succeeded",
            after={"spec": {"image": f"registry.local/app:{i}"}},
            prev_hash="",
            entry_hash=f"h{i}",
        )
        for i in range(6000)
    ]
    OperationLogEntry.objects.bulk_create(entries, batch_size=2000)
    client.force_login(auditor)
    started = time.monotonic()
    body = client.get(reverse("console:oplog"), {"q": "app:5999"}).content.decode()
    assert body.count("data-entry=") == 1
    assert time.monotonic() - started < 2.0


# --- small things -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_language_menu_names_each_language_in_itself(client, operator, language):
    client.force_login(operator)
    client.cookies["django_language"] = language
    body = client.get(reverse("console:notification_list")).content.decode()
    menu = body[body.index('id="language-switch"') : body.index("</form>", body.index('id="language-switch"'))]
    assert ">English</option>" in menu and ">简体中文</option>" in menu
    assert "英语" not in menu and "Simplified Chinese" not in menu


@pytest.mark.django_db
def test_pages_have_a_favicon(client, operator):
    login = client.get(reverse("console:login")).content.decode()
    assert 'rel="icon"' in login and "favicon.svg" in login
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


@pytest.mark.django_db
def test_the_date_filters_read_the_same_in_every_language(client, auditor):
    client.force_login(auditor)
    client.cookies["django_language"] = "zh-hans"
    body = client.get(reverse("console:oplog"), {"since": "2026-01-31 08:00"}).content.decode()
    assert 'type="datetime-local"' not in body
    assert 'value="2026-01-31 08:00"' in body and 'placeholder="2026-01-31 08:00"' in body


def test_ages_under_a_minute_are_not_zero_minutes():
    render = Template("{% load console %}{{ when|age }}").render
    assert render(Context({"when": timezone.now() - timedelta(seconds=20)})) == "under a minute"
    assert render(Context({"when": timezone.now() - timedelta(hours=3, minutes=5)})) == "3\xa0hours"


def test_pod_log_stamps_are_shown_in_the_console_time_zone(settings):
    from workloads.podlogs import line_view

    settings.TIME_ZONE = "Asia/Shanghai"
    view = line_view("2026-12-06T01:20:00.123456789Z INFO  started")
    assert (view["stamp"], view["utc"], view["text"]) == (
        "2026-12-06 09:20:00.123",
        "2026-12-06T01:20:00.123456789Z",
        "INFO  started",
    )
    assert line_view("no stamp here")["stamp"] == ""


@pytest.mark.django_db
def test_the_app_page_forms_have_ids_of_their_own():
    from workloads.forms import CanaryForm, CanaryTrafficForm, ScaleForm, ScheduleForm

    ids = [field.auto_id for form in (ScaleForm(), ScheduleForm(), CanaryForm(), CanaryTrafficForm()) for field in form]
    assert len(ids) == len(set(ids)), sorted(ids)


@pytest.mark.django_db
def test_the_notice_address_opened_in_a_browser_leads_to_the_form(client, operator):
    client.force_login(operator)
    response = client.get(reverse("console:notice_send"))
    assert response.status_code == 302 and response["Location"] == reverse("console:notification_list")


# --- job lists ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_job_lists_show_the_latest_few_collapsed_and_the_rest_one_click_away(client, operator):
    from console.jobs.models import Job

    tenant = mk_tenant("acme")
    steps = [{"at": "2026-01-01T00:00:00+00:00", "text": f"Applied object {i}", "ok": True} for i in range(12)]
    for i in range(6):
        Job.objects.create(
            kind="namespace.update",
            tenant_id=tenant.pk,
            tenant_name="acme",
            target_name=f"ns{i}",
            steps=steps,
            status="succeeded",
            finished_at=timezone.now(),
        )
    running = Job.objects.create(
        kind="namespace.update",
        tenant_id=tenant.pk,
        tenant_name="acme",
        target_name="busy",
        steps=steps,
        status="running",
    )
    client.force_login(operator)
    body = client.get(reverse("tenants:tenant", args=["acme"])).content.decode()
    jobs = body[body.index('id="job-list"') :]
    latest, older = jobs.split('data-testid="older-jobs"')
    assert latest.count('data-testid="job"') == 3 and older.count('data-testid="job"') == 4
    assert "4 older operations" in older
    # a running job shows its steps, a finished one folds them into one line
    assert f'id="job-{running.pk}"' in latest
    assert latest.count('class="job-steps" open') == 1 and "12 steps" in latest
    # its own page shows them all
    page = client.get(reverse("console:job", args=[Job.objects.filter(status="succeeded").first().pk])).content.decode()
    assert 'class="job-steps" open' in page


def test_long_names_wrap_between_their_parts_not_mid_word():
    render = Template("{% load console %}{{ value|breakable }}").render
    assert (
        render(Context({"value": "registry.local/shop/storefront:3.1.0"}))
        == "registry.local/<wbr>shop/<wbr>storefront:3.1.0"
    )
    assert render(Context({"value": "<b>"})) == "&lt;b&gt;"
