"""A person at the console, in Debian's chromium driven by Playwright."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from ..factories import mk_user
from .conftest import fill, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def send_notice(operator, title, level=None, body=None):
    """The operator sends the auditors a notice from the notifications page (level and body if given)."""
    operator.goto("/notifications/")
    operator.click("summary")
    operator.select_option("#id_audience", "auditor")
    if level:
        operator.select_option("#id_level", level)
    if body:
        operator.fill("#id_body", body)
    fill(operator, {"#id_title": title}, submit="form[action='/notifications/notice/'] button[type=submit]")


def test_sign_in_and_switch_language(new_page):
    mk_user("lang-op", "operator")
    page = new_page(locale="zh-CN")
    page.goto("/login/")
    expect(page.locator("h2")).to_have_text("登录")
    sign_in(page, "lang-op", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    sign_in(page, "lang-op")
    expect(page.locator("h1")).to_have_text("仪表盘")
    screenshot(page, "dashboard-zh")
    page.select_option("#language-switch select", "en")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("#main-nav")).to_contain_text("Operation log")
    page.click("#main-nav >> text=Templates")
    expect(page.locator("h1")).to_have_text("Templates")


def test_notice_appears_live_and_lands_in_the_operation_log(new_page):
    mk_user("e2e-op", "operator")
    mk_user("e2e-aud", "auditor")

    auditor = sign_in(new_page(), "e2e-aud")
    expect(auditor.locator("h1")).to_have_text("Dashboard")
    expect(auditor.locator("#notif-count")).to_have_text("0")
    expect(auditor.locator("body")).to_have_attribute("data-live", "open")

    operator = sign_in(new_page(), "e2e-op")
    send_notice(operator, "Maintenance tonight 22:00", level="warning", body="etcd defragmentation")
    expect(operator.get_by_role("status")).to_contain_text("Notice sent to 1 users")

    # no reload on the auditor's page: the badge and a toast arrive over the websocket
    expect(auditor.locator("#notif-count")).to_have_text("1")
    expect(auditor.get_by_test_id("toast")).to_contain_text("Maintenance tonight 22:00")
    screenshot(auditor, "live-notification")

    auditor.goto("/notifications/")
    auditor.click("#notification-rows >> text=Mark read")
    expect(auditor.locator("#notif-count")).to_have_text("0")

    # an open list gets the new row on top, live, with no htmx error in the console
    errors = []
    auditor.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    send_notice(operator, "Second notice")
    expect(auditor.locator("#notification-rows tr").first).to_contain_text("Second notice")
    expect(auditor.locator("#notif-count")).to_have_text("1")
    assert errors == []

    auditor.goto("/oplog/")
    fill(auditor, {"#id_action": "notification.send_notice"}, submit="#oplog-filter button[type=submit]")
    row = auditor.locator("#oplog-entries tbody tr").first
    expect(row).to_contain_text("e2e-op")
    expect(row).to_contain_text("Succeeded")
    expect(auditor).to_have_url(re.compile(r"action=notification\.send_notice"))  # pushed once the table is swapped in
    expect(auditor.locator("#export-csv")).to_have_attribute("href", re.compile(r"action=notification\.send_notice"))

    auditor.click("text=Verify chain")
    expect(auditor.get_by_test_id("verification")).to_have_attribute("data-status", "intact", timeout=20_000)
    expect(auditor.get_by_test_id("verification")).to_contain_text("entries checked")
    screenshot(auditor, "oplog-verified")

    auditor.goto("/oplog/?action=notification")
    with auditor.expect_download() as download_info:
        auditor.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text(encoding="utf-8-sig"))))
    assert {row["action"] for row in rows} == {"notification.send_notice", "notification.mark_read"}
    assert any(row["actor_name"] == "e2e-op" and row["result"] == "succeeded" for row in rows)
