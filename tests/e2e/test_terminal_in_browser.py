"""A tenant member opens a terminal into their app's pod from the app page and runs a command
in xterm.js; real daphne (the console's socket and the bridge to pods/exec), Celery worker,
watcher and sandbox cluster. The Content-Security-Policy stays intact (new_page checks)."""

import pytest
from playwright.sync_api import expect

from console.oplog.models import OperationLogEntry
from workloads import services
from workloads.models import App

from ..factories import mk_user
from ..workloads.conftest import spec
from .conftest import screenshot, sign_in
from .test_workloads_in_browser import acme_web, sandbox  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROWS = (
    "Array.from(document.querySelectorAll('#terminal-panel .xterm-rows > div')).map(row => row.textContent.trimEnd())"
)


def test_type_a_command_in_the_terminal(new_page, acme_web):  # noqa: F811
    acme_web.refresh_from_db()  # provisioned by the worker meanwhile
    wile = acme_web.tenant.memberships.get().user
    services.deploy_app(acme_web, acting_user=wile, name="term", kind="Deployment", spec=spec(replicas=1))
    page = sign_in(new_page(), "wile")
    page.goto(f"/workloads/acme/{acme_web.name}/apps/term/")
    expect(page.locator("#pod-table [data-phase]")).to_have_text(["Running"], timeout=30_000)
    page.locator("#pod-table [data-testid=open-terminal]").click()
    panel = page.locator("#terminal-panel")
    expect(panel.locator("[data-terminal-status]")).to_have_text("Connected to term.")
    page.wait_for_function(f"() => ({ROWS}).some(row => row.endsWith('/ #'))")
    panel.locator(".xterm").click()
    page.keyboard.type("echo hello")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({ROWS}).includes('hello')")
    rows = [row for row in page.evaluate(ROWS) if row]
    assert rows[-3:] == ["/ # echo hello", "hello", "/ #"], rows
    screenshot(page, "workloads-terminal")

    page.keyboard.type("exit 2")
    page.keyboard.press("Enter")
    expect(panel.locator("[data-terminal-status]")).to_have_text("The shell exited with code 2.")
    app = App.objects.get(name="term")
    pod = page.locator("#pod-table tr[data-pod]").get_attribute("data-pod")
    entries = OperationLogEntry.objects.filter(actor_name="wile", action__startswith="app.terminal").order_by("id")
    assert [(e.action, e.result, e.target_name, e.namespace) for e in entries] == [
        ("app.terminal.start", "succeeded", pod, app.namespace),
        ("app.terminal.end", "succeeded", pod, app.namespace),
    ]
    assert entries[1].payload["exit_code"] == 2

    # an auditor sees the app but is offered no terminal
    mk_user("term-aud", "auditor")
    auditor = sign_in(new_page(), "term-aud")
    auditor.goto(f"/workloads/acme/{acme_web.name}/apps/term/")
    expect(auditor.locator("#pod-table [data-phase]")).to_have_text(["Running"])
    expect(auditor.locator("[data-testid=open-terminal]")).to_have_count(0)
