"""An operator makes a cluster's ingest token on the cluster page; a collector (the load
generator speaking fluentd's out_http format) ships lines to the real daphne; a tenant member
finds them on the Logs page (words highlighted, context lines opened in place, a saved search),
and never sees the other tenant's lines; an app's timeline follows new lines live over its socket,
from the collector and from the sandbox cluster's log API. Screenshots in English and Chinese."""

import re
import time
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from console.jobs.models import Job
from workloads.services import deploy_app

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_cluster, mk_member, mk_project, mk_tenant, mk_user
from ..logs import conftest as logs_conftest
from ..logs.conftest import loadgen
from ..workloads.conftest import mirror_namespace, spec
from .conftest import acme_namespace, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
sandbox = sandbox_fixture()  # the second test's cluster
empty_store = logs_conftest.empty_store


def test_lines_shipped_by_a_collector_are_found_by_their_tenant(new_page, live_console, empty_store):
    cluster = mk_cluster("prod")
    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    mk_project(acme, cluster, "web")
    mk_project(globex, cluster, "shop")
    mk_user("ops", "operator")
    mk_member(acme, "acme-dev", password=PASSWORD)

    page = sign_in(new_page(), "ops")
    page.goto("/clusters/prod/")
    expect(page.get_by_test_id("cluster-logs")).to_contain_text("none yet")
    page.get_by_test_id("token-rotate").click()
    token = page.get_by_test_id("ingest-token").inner_text().strip()
    assert token.startswith("caaslog_")
    expect(page.get_by_test_id("fluentd-manifest")).to_have_value(re.compile("kubernetes_metadata"))

    records = [
        loadgen.container_record("acme-web", f"web-{n % 3}", "web", f"GET /api/orders/{n} 200") for n in range(300)
    ]
    records[150] = loadgen.container_record("acme-web", "web-0", "web", "ERROR payment gateway timeout order=150")
    records.append(loadgen.container_record("globex-shop", "shop-0", "shop", "ERROR payment globex secret"))
    body, headers = loadgen.encode(records, "json", compress=True)
    status, answer, _headers = loadgen.post(live_console + "/logs/ingest/", token, body, headers)
    assert status == 200, answer
    status, _answer, _headers = loadgen.post(live_console + "/logs/ingest/", "caaslog_wrong", body, headers)
    assert status == 401

    page.goto("/clusters/prod/")
    expect(page.locator('[data-outcome="accepted"]')).to_contain_text("301")
    expect(page.get_by_test_id("unknown-tokens")).to_contain_text("1")

    member = sign_in(new_page(), "acme-dev")
    member.goto("/logs/")
    member.fill("#id_q", "payment")
    member.click("#log-search button[type=submit]")
    lines = member.get_by_test_id("log-lines").locator("tr.log-line")
    expect(lines).to_have_count(1)
    expect(lines.first.locator("mark")).to_have_text("payment")
    expect(member.get_by_test_id("log-histogram")).to_contain_text("1 matching line")
    lines.first.get_by_test_id("context-button").click()
    context = member.get_by_test_id("context")
    expect(context).to_contain_text("ERROR payment gateway timeout")
    expect(context).to_contain_text("GET /api/orders/")
    screenshot(member, "logs-search-en")
    member.fill('#saved-searches input[name="name"]', "payment errors")
    member.click("#saved-searches button[type=submit]")
    expect(member.get_by_test_id("saved-search")).to_have_text("payment errors")

    member.goto("/logs/?range=1h")
    expect(lines).to_have_count(100)
    member.get_by_test_id("more-lines").click()
    expect(lines).to_have_count(200)
    assert "globex" not in member.content()

    # The app's timeline: the archive, then over its socket (no polling) a line shipped while
    # the page is open, once, and a line shipped late put in its place by time.
    member.goto("/logs/acme/acme-web/apps/web/")
    timeline = member.get_by_test_id("timeline").locator(".timeline-line")
    expect(timeline).to_have_count(200)
    expect(member.get_by_test_id("timeline-status")).to_have_text(
        "No container of this app runs now: following the lines collectors deliver."
    )
    assert member.locator("#timeline [hx-trigger]").count() == 0
    watched = loadgen.container_record("acme-web", "web-1", "web", "shipped while you watched")
    body, headers = loadgen.encode([watched], "msgpack")
    assert loadgen.post(live_console + "/logs/ingest/", token, body, headers)[0] == 200
    expect(timeline.filter(has_text="shipped while you watched")).to_have_count(1, timeout=10_000)
    expect(timeline.last).to_contain_text("shipped while you watched")
    newest = datetime.fromisoformat(watched["time"])
    late = loadgen.container_record("acme-web", "web-2", "web", "shipped late", moment=newest - timedelta(seconds=1))
    body, headers = loadgen.encode([watched, late], "json")  # the collector retried: one copy again
    assert loadgen.post(live_console + "/logs/ingest/", token, body, headers)[0] == 200
    expect(timeline.filter(has_text="shipped late")).to_have_count(1, timeout=10_000)
    member.wait_for_timeout(2500)  # a few more polls of the store: still once each
    expect(timeline.filter(has_text="shipped while you watched")).to_have_count(1)
    expect(timeline.last).to_contain_text("shipped while you watched")  # the late line went before it
    stamps = member.eval_on_selector_all("#timeline .timeline-line", "rows => rows.map(r => Number(r.dataset.ts))")
    assert stamps == sorted(stamps) and len(stamps) == 202
    screenshot(member, "logs-timeline-en")

    chinese = sign_in(new_page("zh-CN"), "acme-dev")
    chinese.goto("/logs/?q=payment")
    expect(chinese.get_by_test_id("log-lines").locator("tr.log-line")).to_have_count(1)
    screenshot(chinese, "logs-search-zh")


def test_an_apps_timeline_follows_its_pods_live_from_the_cluster(new_page, cluster, empty_store):
    """Nothing collected yet: the timeline shows the pod's lines as it writes them, read from the
    sandbox cluster's log API over the page's socket."""
    tenant, project = acme_namespace(cluster, mk_user("t-op", "operator"))
    member = mk_member(tenant, "acme-dev", password=PASSWORD)
    _app, job = deploy_app(project, acting_user=member, name="web", kind="Deployment", spec=spec(replicas=1))
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=job.pk).status != "succeeded":  # the real worker deploys it
        assert time.monotonic() < deadline, Job.objects.get(pk=job.pk).status
        time.sleep(0.2)
    mirror_namespace(cluster, project.name, kinds=("Pod",))

    page = sign_in(new_page(), "acme-dev")
    page.goto(f"/logs/acme/{project.name}/apps/web/")
    expect(page.get_by_test_id("timeline-status")).to_have_text(
        "Following 1 container live from the cluster, and the lines collectors deliver.", timeout=10_000
    )
    rows = page.locator('#timeline .timeline-line[data-origin="api"]')
    expect(rows.first).to_be_visible(timeout=10_000)
    shown = rows.count()
    page.wait_for_function(
        "n => document.querySelectorAll('#timeline .timeline-line').length > n + 5", arg=shown
    )  # new lines arrive as the pod writes them (20 a second)
    expect(rows.last).to_contain_text(re.compile(r"(INFO|DEBUG|WARN|ERROR)"))
    stamps = page.eval_on_selector_all("#timeline .timeline-line", "rows => rows.map(r => Number(r.dataset.ts))")
    assert stamps == sorted(stamps)
    screenshot(page, "logs-timeline-live-en")
    # the page's ?pod= (the pod to follow live first) goes to the socket, which checks it
    page.goto(f"/logs/acme/{project.name}/apps/web/?pod=Not_A_Pod")
    expect(page.get_by_test_id("timeline-status")).to_have_text("Not_A_Pod is not a pod name.", timeout=10_000)
