import os
import time
from pathlib import Path

import pytest

from ..factories import PASSWORD

ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are plain synchronous calls, so Django's async guard is lifted.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# Per module, not per session: while Playwright runs, its event loop runs on this thread, and
# the tests of other folders that a worker runs after these (async_to_sync, asyncio.run, the
# pushes of services) could not run their own here.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_console):
    contexts, refused = [], []

    def make(locale="en-US"):
        context = browser.new_context(base_url=live_console, locale=locale, accept_downloads=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        # Whatever the Content-Security-Policy blocks (an inline script, a handler) no longer works.
        page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
        return page

    yield make
    for context in contexts:
        context.close()
    assert refused == [], refused


def fill(page, fields, submit=None):
    """Type each value into its field ({selector: text}, in this order), then press `submit` if given."""
    for selector, text in fields.items():
        page.fill(selector, text)
    if submit:
        page.click(submit)


def sign_in(page, username, password=PASSWORD):
    """Submit the sign-in form on the page; returns the page."""
    page.goto("/login/")
    fill(page, {"#id_username": username, "#id_password": password}, submit="button[type=submit]")
    return page


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


SMALL_PODS = {"request_cpu": "100m", "limit_cpu": "200m", "request_memory": "64Mi", "limit_memory": "128Mi"}


def acme_namespace(
    cluster,
    operator,
    short_name="web",
    *,
    limits=None,
    default_quota=None,
    default_limit_range=SMALL_PODS,
    timeout=30,
    worker_log=lambda: "",
):
    """Tenant acme on `cluster` with its namespace acme-<short_name>, provisioned by the real
    worker; returns (tenant, project). Members are the test's to add."""
    from tenants import services as tenant_services
    from tenants.models import Project

    tenant = tenant_services.create_tenant(
        acting_user=operator,
        name="acme",
        display_name="Acme",
        clusters=[cluster],
        limits=limits or {"cpu": "4", "memory": "8Gi", "pods": "20"},
        default_quota=default_quota or {"cpu": "2", "memory": "4Gi", "pods": "10"},
        **({"default_limit_range": default_limit_range} if default_limit_range else {}),
    )
    project, _job = tenant_services.create_project(tenant, acting_user=operator, cluster=cluster, short_name=short_name)
    deadline = time.monotonic() + timeout
    while Project.objects.get(pk=project.pk).status != "active":
        assert time.monotonic() < deadline, "the namespace was not provisioned: " + worker_log()
        time.sleep(0.2)
    project.refresh_from_db()
    return tenant, project
