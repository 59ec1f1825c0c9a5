"""A tenant member has the alerts page open; a pod of the tenant goes into a crash loop,
the next evaluation (the beat's task, run by the live console's Celery worker) fires the
tenant's rule, and the toast arrives live (websocket, real daphne) while the firing table
shows the alert without a reload; the pod recovers, and the "resolved" toast follows.
Screenshots in English and in Chinese."""

import pytest
from playwright.sync_api import expect

from monitoring.alerts import services, tasks

from ..factories import PASSWORD, mk_cluster, mk_member, mk_mirrored_pod, mk_project, mk_tenant
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_alert_fires_and_resolves_live_in_the_browser(new_page):
    cluster = mk_cluster("alerts-c1")
    tenant = mk_tenant("acme", clusters=[cluster])
    project = mk_project(tenant, cluster, "web")
    admin = mk_member(tenant, "acme-admin", "tenant-admin", password=PASSWORD)
    mk_member(tenant, "acme-dev", password=PASSWORD)
    rule = services.create_rule(
        acting_user=admin, name="crash loops", kind="crash_loop", severity="critical", tenant=tenant, cluster=None
    )

    page = sign_in(new_page("en-US"), "acme-dev")
    page.goto("/alerts/")
    expect(page.locator("#no-alerts")).to_be_visible()
    page.wait_for_timeout(1000)  # the websocket is open

    crashing = mk_mirrored_pod(cluster, project.name, "web-1", "CrashLoopBackOff")
    tasks.evaluate_alerts.delay()  # what beat sends every interval; the live console's worker evaluates
    toast = page.locator("[data-testid=toast]", has_text="crash loops")
    expect(toast.first).to_be_visible(timeout=10_000)
    expect(page.locator("#alerts [data-state=firing]")).to_contain_text("web-1", timeout=15_000)
    screenshot(page, "alerts-firing-en")

    chinese = sign_in(new_page("zh-CN"), "acme-admin")
    chinese.goto(f"/alerts/rules/{rule.pk}/")
    expect(chinese.locator("#alert-history")).to_contain_text("web-1")
    chinese.goto("/alerts/")
    expect(chinese.locator("#alerts [data-state=firing]")).to_be_visible()
    screenshot(chinese, "alerts-firing-zh")

    crashing.delete()
    tasks.evaluate_alerts.delay()
    expect(page.locator("[data-testid=toast]", has_text="Resolved").first).to_be_visible(timeout=10_000)
    expect(page.locator("#no-alerts")).to_be_visible(timeout=15_000)


def test_tenant_admin_sets_up_a_webhook_channel_in_the_browser(new_page):
    """The form refuses an internal address with its reason; a channel to a public address is
    made, its test message goes to the worker, and the failure (no route from here) shows on
    the channel's page with its error, to be retried."""
    tenant = mk_tenant("acme")
    mk_member(tenant, "acme-admin", "tenant-admin", password=PASSWORD)
    page = sign_in(new_page("en-US"), "acme-admin")
    page.goto("/notifications/channels/add/")
    page.fill("#id_name", "ops-hook")
    page.select_option("#id_kind", "webhook")
    page.fill("#id_target", "http://127.0.0.1:6379/")
    page.check("input[name=topics][value=alert]")
    page.click("#channel-form button[type=submit]")
    expect(page.locator("#channel-form")).to_contain_text("internal address")
    screenshot(page, "channel-refused-en")
    page.fill("#id_target", "https://93.184.215.14/hook")
    page.click("#channel-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("ops-hook")
    page.click("#channel-test")
    for _ in range(20):  # the worker's attempt: refused, unreachable or timed out, whatever the network here
        page.reload()
        if page.locator("#channel-error").count():
            break
        page.wait_for_timeout(1000)
    expect(page.locator("#channel-error")).to_be_visible()
    expect(page.locator("#deliveries")).to_contain_text("Test message")
    screenshot(page, "channel-failing-en")
