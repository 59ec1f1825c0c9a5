"""A tenant member deploys an app from the form, watches its pods come up live, exposes it
with a domain, upgrades it and watches the rollout, rolls back; every step lands in the
operation log. Real daphne, Celery worker, watcher and sandbox cluster."""

import re
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from console.clusters.watcher import ClusterWatchers
from console.kube.api import ClusterAPI
from console.kube.kinds import KINDS
from console.oplog.models import OperationLogEntry

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_member, mk_user
from .conftest import acme_namespace, fill, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WATCHED = ("Pod", "Deployment", "ReplicaSet", "Event", "Service", "Ingress")
sandbox = sandbox_fixture(nodes=2)


@pytest.fixture
def acme_web(cluster):
    """Tenant acme with a provisioned namespace acme-web (by the real worker), a member,
    and the watcher keeping the mirror."""
    tenant, project = acme_namespace(cluster, mk_user("w-op", "operator"))
    mk_member(tenant, "wile", password=PASSWORD)
    watchers = ClusterWatchers(kinds=[KINDS[kind] for kind in WATCHED])
    watchers.refresh()
    yield project
    watchers.stop(timeout=5)


def test_deploy_expose_upgrade_and_roll_back_live(new_page, acme_web):
    page = sign_in(new_page(), "wile")
    page.click("#main-nav >> text=Workloads")
    page.click("#deploy-menu")
    page.click("text=into acme-web on sandbox")
    deploy = "#deploy-form button[type=submit]"
    fill(page, {"#id_name": "shop", "#id_image": "nginx 1.27", "#id_ports": "http:80"}, submit=deploy)
    expect(page.locator("[data-field-error=image]")).to_contain_text("is not a valid image reference")
    # the app page's live part is pushed by the server (console/live/views.py): no page asks for it again
    rereads = []
    page.on(
        "request",
        lambda r: (
            rereads.append(r.url)
            if urlsplit(r.url).path.endswith("/apps/shop/") and r.headers.get("hx-request")
            else None
        ),
    )
    fill(
        page,
        {"#id_image": "nginx:1.27", "#id_replicas": "2", "#id_env": "MODE=prod", "#id_readiness_path": "/"},
        submit=deploy,
    )

    expect(page.locator("h1")).to_contain_text("shop")
    # the worker's steps arrive over the websocket, the pods through the watcher's mirror
    expect(page.locator("[data-testid=job]").first).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("#pod-table [data-phase]")).to_have_text(["Running", "Running"], timeout=15_000)
    expect(page.locator("[data-testid=rollout-state]")).to_have_text("Complete")
    expect(page.locator("#revision-table tr[data-revision='1'] [data-who]")).to_have_text("wile")
    expect(page.locator("[data-testid=app-status]")).to_have_text("Running")
    page.evaluate("window.__loads = performance.getEntriesByType('navigation').length")
    screenshot(page, "workloads-app")
    follow_a_pod_log(page, acme_web)

    # expose with a private domain
    page.click("#exposure summary")
    page.select_option("#id_service_type", "ClusterIP")
    fill(page, {"#id_host": "shop.acme.internal"}, submit="#expose-form button[type=submit]")
    expect(page.locator("[data-testid=ingress]")).to_contain_text("shop.acme.internal/", timeout=15_000)

    # upgrade and watch the rollout
    page.click("text=Upgrade")
    expect(page.locator("#id_image")).to_have_value("nginx:1.27")
    fill(page, {"#id_image": "nginx:1.28"}, submit="#upgrade-form button[type=submit]")
    expect(page.locator("#revision-table tr[data-current] td").nth(1)).to_have_text("nginx:1.28", timeout=20_000)
    expect(page.locator("[data-testid=rollout-state]")).to_have_text("Complete", timeout=15_000)
    expect(page.locator("#revision-table tr[data-revision='2'] [data-who]")).to_have_text("wile")
    expect(page.locator("[data-testid=app-image]")).to_have_text("nginx:1.28")

    # roll back to the first revision: it returns as revision 3
    page.click("#revision-table tr[data-revision='1'] [data-testid=rollback]")
    expect(page.locator("#revision-table tr[data-current]")).to_have_attribute("data-revision", "3", timeout=20_000)
    expect(page.locator("#revision-table tr[data-current] td").nth(1)).to_have_text("nginx:1.27")
    expect(page.locator("#pod-table [data-phase]")).to_have_text(["Running", "Running"], timeout=15_000)
    screenshot(page, "workloads-rolled-back")

    # a canary at 20 %, watched beside stable, then promoted
    page.click("#canary summary")
    fill(
        page,
        {"#canary-form [name=image]": "nginx:1.29", "#canary-form [name=weight]": "20"},
        submit="#canary-form button[type=submit]",
    )
    expect(page.locator("[data-testid=canary]")).to_contain_text("20%")
    expect(page.locator("#canary-live [data-canary-ready]")).to_have_text("1", timeout=20_000)
    expect(page.locator("#canary-live tr[data-track=stable]")).to_contain_text("80%")
    screenshot(page, "workloads-canary")
    page.click("[data-testid=promote]")
    expect(page.locator("#revision-table tr[data-current] td").nth(1)).to_have_text("nginx:1.29", timeout=20_000)
    expect(page.locator("[data-testid=canary-live]")).to_have_count(0, timeout=15_000)
    expect(page.locator("[data-testid=app-image]")).to_have_text("nginx:1.29")
    # no pod row outlives its pod (the canary's goes with the promotion): the rows become the
    # cluster's pods, so every row's Logs button names a pod that exists
    deadline = time.monotonic() + 20
    while True:
        rows = sorted(page.locator("#pod-table tr[data-pod]").evaluate_all("rows => rows.map(r => r.dataset.pod)"))
        with ClusterAPI(acme_web.cluster) as api:
            pods = sorted(p["metadata"]["name"] for p in api.list("Pod", acme_web.name, label_selector="caas.io/app"))
        if rows == pods:
            break
        assert time.monotonic() < deadline, ("pod rows differ from the cluster's pods", rows, pods)
        time.sleep(0.3)
    assert rereads == [], rereads

    actions = set(
        OperationLogEntry.objects.filter(actor_name="wile", namespace="acme-web").values_list("action", "result")
    )
    for wanted in [
        ("app.deploy", "accepted"),
        ("app.expose", "accepted"),
        ("app.upgrade", "accepted"),
        ("app.rollback", "accepted"),
        ("app.deploy.finish", "succeeded"),
        ("app.upgrade.finish", "succeeded"),
        ("app.rollback.finish", "succeeded"),
        ("app.revision", "succeeded"),
        ("app.canary_start", "accepted"),
        ("app.canary.finish", "succeeded"),
        ("app.canary_promote", "accepted"),
        ("app.canary_promote.finish", "succeeded"),
    ]:
        assert wanted in actions, wanted
    # the refused form (bad image) was recorded too, by the request log
    assert OperationLogEntry.objects.filter(
        actor_name="wile", action="request.workloads:app_add", result="failed"
    ).exists()


LAST_LINE = "document.querySelector('#pod-log-panel [data-podlog-lines]').lastElementChild?.textContent || ''"


def follow_a_pod_log(page, project):
    """The log panel follows a pod live; pause holds new lines, search filters the shown
    ones in the browser, resume goes on; when the pod goes away, the panel says so."""
    page.locator("#pod-table [data-testid=follow-log]").first.click()
    panel = page.locator("#pod-log-panel")
    expect(panel.locator("[data-podlog-status]")).to_have_text("Following.")
    lines = panel.locator("[data-podlog-lines] .log-line")
    expect(lines.first).to_be_visible()
    seen = page.evaluate(LAST_LINE)
    page.wait_for_function(f"seen => ({LAST_LINE}) !== seen", arg=seen)  # new lines arrive (20 a second)

    panel.locator("[data-podlog-pause]").click()
    expect(panel.locator("[data-podlog-pause]")).to_have_text("Resume")
    paused_at = page.evaluate(LAST_LINE)
    expect(panel.locator("[data-podlog-held]")).to_have_text(re.compile(r"Paused: [1-9]\d* new lines held"))
    page.wait_for_timeout(1000)
    assert page.evaluate(LAST_LINE) == paused_at  # held, not shown

    panel.locator("[data-podlog-search]").fill("IP=10.244")  # request lines (about 60 % of them), case aside
    expect(panel.locator("[data-podlog-matches]")).to_have_text(re.compile(r"\d+ of \d+ lines match"))
    shown = panel.locator("[data-podlog-lines] .log-line:visible")
    assert 0 < shown.count() < lines.count()
    assert all("ip=10.244" in text for text in shown.all_text_contents())
    expect(shown.first.locator("mark")).to_have_text("ip=10.244")
    screenshot(page, "workloads-pod-log")

    panel.locator("[data-podlog-search]").fill("")
    expect(panel.locator("[data-podlog-matches]")).to_be_hidden()
    panel.locator("[data-podlog-pause]").click()
    expect(panel.locator("[data-podlog-held]")).to_be_hidden()
    page.wait_for_function(f"seen => ({LAST_LINE}) !== seen", arg=paused_at)
    assert lines.count() <= 1000

    pod = panel.locator(".card-header code").first.text_content()
    with ClusterAPI(project.cluster) as api:
        api.delete("Pod", pod, project.name)
    expect(panel.locator("[data-podlog-status]")).to_have_text("The log ended: the pod is gone.", timeout=15_000)
    expect(panel.locator("[data-podlog-again]")).to_be_visible()
