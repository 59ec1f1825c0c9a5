"""A newcomer's first look, in Debian's chromium: the language menu, the navigation of each
role, the favicon, and names in narrow columns (screenshots in test-artifacts/)."""

import pytest
from playwright.sync_api import expect

from console.choices import OperationResult
from console.oplog import oplog

from ..factories import PASSWORD, mk_member, mk_tenant, mk_user
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def nav_links(page):
    return page.locator("#main-nav a").evaluate_all("links => links.map(a => a.getAttribute('href'))")


def test_language_menu_navigation_per_role_and_favicon(new_page):
    mk_user("nb-op", "operator")
    mk_member(mk_tenant("acme"), "nb-alice", role="tenant-admin", password=PASSWORD)

    member = sign_in(new_page(locale="zh-CN"), "nb-alice")
    expect(member.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(member.locator("#main-nav")).to_contain_text("租户")
    menu = member.locator("#language-switch select option")
    expect(menu).to_have_text(["简体中文", "English"])  # each language in its own name, not "英语"
    assert "/clusters/" not in nav_links(member) and "/oplog/" not in nav_links(member)
    screenshot(member, "newcomer-tenant-admin-zh")

    member.select_option("#language-switch select", "en")
    expect(member.locator("html")).to_have_attribute("lang", "en")
    expect(member.locator("#main-nav")).to_contain_text("Tenants")
    expect(menu).to_have_text(["简体中文", "English"])
    assert "/clusters/" not in nav_links(member) and "/oplog/" not in nav_links(member)
    screenshot(member, "newcomer-tenant-admin-en")

    operator = sign_in(new_page(), "nb-op")
    expect(operator.locator("#main-nav")).to_contain_text("Operation log")
    assert {"/clusters/", "/oplog/"} <= set(nav_links(operator))
    icon = operator.locator("link[rel=icon]").get_attribute("href")
    answer = operator.request.get(icon)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    assert operator.request.get("/favicon.ico").url.endswith("favicon.svg")
    icon_url = operator.evaluate("href => new URL(href, location.href).href", icon)
    operator.set_content(
        "".join(f'<img src="{icon_url}" width="{size}" height="{size}" style="margin:4px">' for size in (16, 32, 128))
    )
    operator.wait_for_function("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
    screenshot(operator, "newcomer-favicon")


def test_names_stay_whole_and_dates_read_iso_in_a_narrow_window(new_page):
    mk_user("nb-aud", "auditor")
    target = {"cluster": "sandbox", "namespace": "demo-shop", "kind": "Deployment", "name": "storefront-canary"}
    oplog.record(
        None,
        "app.canary",
        actor_name="system",
        result=OperationResult.SUCCEEDED,
        target=target,
        before={"spec": {"image": "registry.local/shop/storefront:3.1.0"}},
        after={"spec": {"image": "registry.local/shop/storefront:3.2.0"}},
    )

    page = new_page(locale="zh-CN")
    page.set_viewport_size({"width": 900, "height": 900})
    sign_in(page, "nb-aud")
    page.goto("/oplog/")
    since = page.locator("#id_since")
    expect(since).to_have_attribute("placeholder", "2026-01-31 08:00")
    page.locator("tr:has-text('storefront-canary') details summary").first.click()
    screenshot(page, "newcomer-oplog-narrow-zh")
    # no name is cut inside a word: each code cell holds one line
    lines = page.locator("#oplog-entries td code").evaluate_all(
        "codes => codes.map(c => "
        "Math.round(c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight || 16)))"
    )
    assert lines and max(lines) <= 1, lines
