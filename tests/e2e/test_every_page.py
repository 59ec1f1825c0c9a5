"""Every page reachable from the navigation, plus an app, a job, a cluster and a resource
page, as each role and in both languages: none may log a browser error (a script error,
an htmx swap without a target, an aborted request). Live updates arrive while the pages
are open: a job runs on the app's page and the watcher mirrors its pods."""

import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from console.clusters.models import MirroredObject
from console.clusters.watcher import ClusterWatchers
from console.jobs.models import Job
from console.kube.kinds import KINDS
from workloads import services as app_services
from workloads.models import App

from ..factories import PASSWORD, mk_cluster, mk_member, mk_user
from .conftest import acme_namespace, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WATCHED = ("Pod", "Deployment", "ReplicaSet", "Event", "Service", "Ingress", "HorizontalPodAutoscaler")

# htmx reports failed swaps and requests as events; the page keeps them for the test.
LISTEN = """() => {
  window.__htmxErrors = [];
  for (const name of ["htmx:oobErrorNoTarget", "htmx:sendAbort", "htmx:sendError", "htmx:responseError",
                      "htmx:swapError", "htmx:targetError", "htmx:onLoadError", "htmx:wsError"]) {
    document.addEventListener(name, (event) => {
      const detail = event.detail || {};
      const where = typeof detail.target === "string"
        ? detail.target
        : (detail.elt && detail.elt.id ? "#" + detail.elt.id : "");
      const what = detail.content
        ? detail.content.outerHTML.slice(0, 120)
        : (detail.requestConfig ? detail.requestConfig.path : "");
      window.__htmxErrors.push(name + " " + where + " " + what);
    });
  }
}"""


def wait(condition, seconds=60, what=""):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.2)


@pytest.fixture
def console_with_an_app(sandbox):
    """Tenant acme with a provisioned namespace, an admin and a member, an app running in
    it, and the watcher keeping the mirror."""
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    operator = mk_user("e-op", "operator")
    mk_user("e-aud", "auditor")
    tenant, project = acme_namespace(cluster, operator)
    mk_member(tenant, "e-admin", "tenant-admin", password=PASSWORD)
    member = mk_member(tenant, "e-dev", password=PASSWORD)
    watchers = ClusterWatchers(kinds=[KINDS[kind] for kind in WATCHED])
    watchers.refresh()
    app, _job = app_services.deploy_app(
        project,
        acting_user=member,
        name="shop",
        kind="Deployment",
        spec={"image": "nginx:1.27", "replicas": 1, "ports": [{"name": "http", "port": 80}]},
    )
    wait(lambda: App.objects.get(pk=app.pk).status == "running", 60, "the app did not come up")
    yield app
    watchers.stop(timeout=5)


def nav_links(page):
    """The pages the navigation leads to (side bar, bell, account menu), on this site."""
    hrefs = page.eval_on_selector_all(
        "#main-nav a, [data-testid=bell], .dropdown-menu a.dropdown-item",
        "links => links.map(a => a.getAttribute('href'))",
    )
    return [href for href in dict.fromkeys(hrefs) if href and href.startswith("/") and not href.startswith("/admin/")]


def visit_all(new_page, username, locale, extra, problems):
    page = new_page(locale=locale)
    page.on(
        "console",
        lambda m: (
            m.type in ("error", "warning") and problems.append(f"{username} {locale} {page.url}: {m.type} {m.text}")
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"{username} {locale} {page.url}: pageerror {exc}"))
    page.add_init_script(f"({LISTEN})()")  # from the start: snapshots arrive right after the socket opens
    sign_in(page, username)
    page.wait_for_url(lambda url: "/login/" not in url)
    pages = nav_links(page) + extra
    for path in dict.fromkeys(pages):
        page.goto(path)
        # live pages: the socket opens, subscriptions go out, snapshots and ticks come back
        page.wait_for_selector("body[data-live=open]", timeout=5_000)
        page.wait_for_timeout(250)
        for error in page.evaluate("window.__htmxErrors"):
            problems.append(f"{username} {locale} {path}: {error}")
        name = f"every-page-{username}-{locale}-{path.strip('/').replace('/', '_') or 'dashboard'}"
        screenshot(page, name[:120])
    return page


def test_every_page_without_browser_errors(new_page, console_with_an_app):
    app = console_with_an_app
    app_path = f"/workloads/acme/{app.namespace}/apps/{app.name}/"
    job = Job.objects.filter(target_name=app.name).first()
    pod = MirroredObject.objects.filter(kind="Pod", namespace=app.namespace).first()
    assert pod is not None
    resource_path = f"/clusters/sandbox/resources/Pod/{app.namespace}/{pod.name}/"
    for_tenant = [app_path, f"/jobs/{job.pk}/"]
    for_platform = for_tenant + ["/clusters/sandbox/", resource_path]
    problems = []
    # every role in Chinese (the default), and in English the widest and the narrowest view:
    # the scripts are the same in both languages, the texts are checked by test_translations
    for locale, username, extra in (
        ("zh-CN", "e-op", for_platform),
        ("zh-CN", "e-aud", for_platform),
        ("zh-CN", "e-admin", for_tenant),
        ("zh-CN", "e-dev", for_tenant),
        ("en-US", "e-op", for_platform),
        ("en-US", "e-dev", for_tenant),
    ):
        visit_all(new_page, username, locale, extra, problems)

    # a page open while a job changes the app: its panels refresh without errors, pushed by
    # the server (console/live/views.py): after the page loads it never asks for them again
    page = visit_all(new_page, "e-dev", "en-US", [app_path], problems)
    rereads = []  # GETs of the app page that are not the page's own loads
    page.on(
        "request",
        lambda r: rereads.append(r.url) if urlsplit(r.url).path == app_path and not r.is_navigation_request() else None,
    )
    page.fill("#scale-form [name=replicas]", "2")
    page.click("#scale-form button[type=submit]")
    page.locator("#pod-table [data-phase]").nth(1).wait_for(timeout=20_000)
    expect(page.locator("#job-list [data-testid=job][data-status=succeeded]")).to_have_count(2, timeout=20_000)
    expect(page.locator("[data-count=ready]")).to_have_text("2", timeout=20_000)
    page.wait_for_timeout(1_000)
    problems += [f"e-dev scaling: {error}" for error in page.evaluate("window.__htmxErrors")]
    assert rereads == [], rereads
    screenshot(page, "every-page-app-after-scaling")
    assert problems == [], "\n".join(problems)
