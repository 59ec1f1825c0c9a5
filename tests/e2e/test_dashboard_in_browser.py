"""The dashboard as an operator and as a tenant admin, in English and Chinese (screenshots)."""

import pytest
from playwright.sync_api import expect

from console.jobs.models import Job
from console.notifications import notifications

from ..console.test_dashboard import world  # noqa: F401  (the seeded mirror, tenants and apps)
from ..factories import PASSWORD, mk_user
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_dashboard_for_operator_and_tenant_admin(new_page, world):  # noqa: F811
    world["acme_admin"].set_password(PASSWORD)
    world["acme_admin"].save()
    mk_user("dash-op", "operator")
    Job.objects.create(
        kind="app.deploy",
        status="running",
        tenant_id=world["acme"].pk,
        tenant_name="acme",
        namespace="acme-web",
        target_name="new",
    )
    notifications.notify_user(world["acme_admin"], "Quota of acme-web is 80% used", level="warning")
    for locale, heading in (("en-US", "Dashboard"), ("zh-CN", "仪表盘")):
        operator = sign_in(new_page(locale=locale), "dash-op")
        expect(operator.locator("h1")).to_have_text(heading)
        expect(operator.locator('#dash-clusters tr[data-cluster="c1"] [data-testid=nodes]')).to_have_text("2 / 3")
        expect(operator.locator('#dash-tenant-use tr[data-tenant="acme"]')).to_be_visible()
        screenshot(operator, f"dashboard-operator-{locale[:2]}")

        admin = sign_in(new_page(locale=locale), "acme-admin")
        expect(admin.locator("[data-testid=namespaces]")).to_contain_text("acme-web")
        expect(admin.locator("#dash-clusters")).to_have_count(0)
        expect(admin.locator("#dashboard")).not_to_contain_text("globex")
        screenshot(admin, f"dashboard-tenant-admin-{locale[:2]}")
