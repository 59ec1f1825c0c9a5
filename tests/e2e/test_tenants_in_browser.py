"""An operator sets up a tenant, its admin creates a namespace and watches it being
provisioned live; a member of another tenant cannot reach it."""

import re

import pytest
from playwright.sync_api import expect

from console.oplog.models import OperationLogEntry

from ..factories import PASSWORD, mk_member, mk_tenant, mk_user
from .conftest import fill, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CREATE = "button[type=submit]:has-text('Create')"


def test_tenant_setup_namespace_and_isolation(new_page, cluster):
    mk_user("t-op", "operator")
    mk_member(mk_tenant("globex"), "globex-dev", password=PASSWORD)

    operator = sign_in(new_page(), "t-op")
    operator.click("#main-nav >> text=Tenants")
    operator.click("text=Create tenant")
    fill(operator, {"#id_name": "acme", "#id_display_name": "Acme Corp"})
    operator.select_option("#id_clusters", label=cluster.name)
    fill(
        operator,
        {
            "#id_limit_cpu": "4",
            "#id_limit_memory": "8Gi",
            "#id_limit_pods": "20",
            "#id_quota_cpu": "1",
            "#id_quota_memory": "2Gi",
            "#id_quota_pods": "10",
        },
        submit=CREATE,
    )
    expect(operator.locator("h1")).to_contain_text("Acme Corp")
    operator.fill("#member-form input[name=username]", "wile")
    operator.select_option("#member-form select[name=role]", "tenant-admin")
    operator.click("#member-form button[type=submit]")
    notice = operator.get_by_role("status").filter(has_text="one-time password")
    password = re.search(r"one-time password (\S+)", notice.inner_text()).group(1)
    expect(operator.locator("#member-table")).to_contain_text("wile")

    member = sign_in(new_page(), "wile", password)
    # the one-time password works once: the console asks for the member's own first
    expect(member.get_by_test_id("must-change-password")).to_be_visible()
    fill(
        member,
        {
            "#id_old_password": password,
            "#id_new_password1": "Wile-E-Coyote-2026",
            "#id_new_password2": "Wile-E-Coyote-2026",
        },
        submit="button[type=submit]:has-text('Change password')",
    )
    expect(member.get_by_test_id("must-change-password")).to_have_count(0)
    expect(member.locator("#tenant-select")).to_have_value("acme")
    member.click("#main-nav >> text=Tenants")
    member.click("text=Acme Corp")
    member.click("text=Create namespace")
    fill(member, {"#id_short_name": "Shop!"}, submit=CREATE)
    expect(member.get_by_role("alert")).to_contain_text("DNS-1123")
    fill(member, {"#id_short_name": "shop", "#id_quota_cpu": "9"}, submit=CREATE)
    expect(member.get_by_role("alert")).to_contain_text("only 4 of the tenant's 4 is left")
    fill(member, {"#id_quota_cpu": "1"}, submit=CREATE)
    expect(member.locator("h1")).to_contain_text("acme-shop")
    # The worker provisions it; the steps and the end arrive over the websocket.
    expect(member.locator("[data-testid=job]")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(member.locator("[data-testid=job]")).to_contain_text("Applied NetworkPolicy caas-default-deny")
    expect(member.locator("[data-testid=project-status]")).to_have_text("Active")
    expect(member.locator("[data-testid=usage-bars] tr[data-resource=cpu]")).to_contain_text("1")
    screenshot(member, "tenant-namespace")
    member.goto("/tenants/acme/")
    expect(member.locator("[data-testid=usage-bars] tr[data-resource=cpu] .progress")).to_have_count(1)
    expect(member.locator("[data-testid=isolation]")).to_contain_text("Calico")
    screenshot(member, "tenant-page")

    outsider = sign_in(new_page(), "globex-dev")
    response = outsider.goto("/tenants/acme/namespaces/acme-shop/")
    assert response.status == 404
    outsider.goto("/tenants/")
    expect(outsider.locator("#tenant-table")).not_to_contain_text("Acme")

    assert OperationLogEntry.objects.filter(action="namespace.create", actor_name="wile", result="accepted").exists()
    assert OperationLogEntry.objects.filter(action="namespace.create", actor_name="wile", result="failed").count() == 2
    assert (
        OperationLogEntry.objects.filter(action="namespace.apply", namespace="acme-shop").count() == 8
    )  # no LimitRange: no defaults
