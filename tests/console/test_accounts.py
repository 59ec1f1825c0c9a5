import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from console.oplog.models import OperationLogEntry

from ..factories import PASSWORD, mk_user

pytestmark = pytest.mark.django_db
User = get_user_model()
LOGIN_URL = reverse("console:login")


def test_sign_in_records_success(client, operator):
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}, HTTP_USER_AGENT="pytest-browser")
    assert response.status_code == 302 and response["Location"] == reverse("console:dashboard")
    entry = OperationLogEntry.objects.get(action="account.login")
    assert (entry.actor_name, entry.actor_role, entry.result, entry.user_agent) == (
        "op",
        "operator",
        "succeeded",
        "pytest-browser",
    )
    assert entry.source_ip == "127.0.0.1" and len(entry.request_id) == 32
    assert OperationLogEntry.objects.count() == 1  # the middleware did not record it twice


def test_wrong_password_is_refused_with_a_message_and_recorded(client, operator):
    response = client.post(LOGIN_URL, {"username": "op", "password": "wrong"})
    assert response.status_code == 401
    assert "Wrong username or password" in response.content.decode() or "用户名或密码错误" in response.content.decode()
    entry = OperationLogEntry.objects.get()
    assert (entry.action, entry.actor_name, entry.result) == ("account.login", "op", "failed")
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_account_out(client, operator, settings):
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert client.post(LOGIN_URL, {"username": "op", "password": "wrong"}).status_code == 401
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert OperationLogEntry.objects.filter(action="account.login", result="denied").count() == 1


def test_lockout_also_applies_per_source_address(client, operator, settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_ADDRESS = settings.LOGIN_MAX_FAILURES  # its own, much higher, ceiling
    for i in range(settings.LOGIN_MAX_FAILURES):
        client.post(LOGIN_URL, {"username": f"guess{i}", "password": "x"})
    assert client.post(LOGIN_URL, {"username": "op", "password": PASSWORD}).status_code == 429


def test_open_redirect_after_sign_in_is_ignored(client, operator):
    response = client.post(LOGIN_URL, {"username": "op", "password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse("console:dashboard")


def test_sign_out_is_recorded(client, operator):
    client.force_login(operator)
    response = client.post(reverse("console:logout"))
    assert response.status_code == 302
    assert OperationLogEntry.objects.filter(action="account.logout", actor_name="op").exists()
    assert client.get(reverse("console:dashboard")).status_code == 302


def test_password_change_validates_and_is_recorded(client, auditor):
    client.force_login(auditor)
    url = reverse("console:password_change")
    too_short = {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"}
    response = client.post(url, too_short)
    assert response.status_code == 400
    failed = OperationLogEntry.objects.get(action="account.password_change")
    assert failed.result == "failed" and "too short" in failed.error
    assert "short" not in str(failed.payload)  # no password in the log

    new = "An0ther-Long-Passphrase"
    response = client.post(url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    auditor.refresh_from_db()
    assert auditor.check_password(new)
    assert OperationLogEntry.objects.filter(action="account.password_change", result="succeeded").count() == 1
    assert client.get(reverse("console:dashboard")).status_code == 200  # session kept


def test_forged_csrf_is_refused_and_recorded(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(reverse("console:notification_read_all"), {"csrfmiddlewaretoken": "forged"})
    assert response.status_code == 403
    assert "security token" in response.content.decode() or "安全令牌" in response.content.decode()
    entry = OperationLogEntry.objects.get(action="request.console:notification_read_all")
    assert entry.result == "denied" and "CSRF" in entry.error and entry.actor_name == "op"


def test_htmx_request_without_csrf_header_is_refused(operator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(reverse("console:oplog_verify"), HTTP_HX_REQUEST="true")
    assert response.status_code == 403


def test_language_switch_serves_chinese_and_english(client, operator):
    client.force_login(operator)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "仪表盘" in client.get(reverse("console:dashboard")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Dashboard" in client.get(reverse("console:dashboard")).content.decode()


def test_admin_is_for_operators_only(client):
    auditor = mk_user("aud2", "auditor", is_staff=True)  # even a staff flag does not open it
    client.force_login(auditor)
    assert client.get("/admin/").status_code == 302
    client.force_login(mk_user("op2", "operator"))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/console/operationlogentry/").status_code == 200
    assert client.get("/admin/console/operationlogentry/add/").status_code == 403


def test_a_one_time_password_must_be_changed_and_then_stops_working(client):
    """An account made by an operator: its password works once, to choose a new one."""
    from django.core.management import call_command

    call_command("create_user", "newbie", "--role", "none", stdout=io.StringIO())
    user = User.objects.get(username="newbie")
    assert user.must_change_password
    client.force_login(user)
    assert client.get(reverse("console:dashboard"))["Location"] == reverse("console:password_change")
    assert client.get(reverse("workloads:app_list"), HTTP_HX_REQUEST="true")["HX-Redirect"] == reverse(
        "console:password_change"
    )
    assert client.get(reverse("console:password_change")).status_code == 200
    user.set_password("one-time-Pw-123")
    user.save()
    client.force_login(user)
    # the same password again does not count as a change
    response = client.post(
        reverse("console:password_change"),
        {"old_password": "one-time-Pw-123", "new_password1": "one-time-Pw-123", "new_password2": "one-time-Pw-123"},
    )
    assert response.status_code == 400
    response = client.post(
        reverse("console:password_change"),
        {"old_password": "one-time-Pw-123", "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.must_change_password
    assert client.get(reverse("console:dashboard")).status_code == 200
    client.logout()
    assert client.post(LOGIN_URL, {"username": "newbie", "password": "one-time-Pw-123"}).status_code == 401


def test_sign_out_stays_open_before_the_change(client):
    user = mk_user("fresh", must_change_password=True)
    client.force_login(user)
    assert client.post(reverse("console:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_operator_adding_a_new_name_gives_a_one_time_password(operator):
    from tenants import services as tenant_services

    from ..factories import mk_tenant

    tenant = mk_tenant("acme")
    invited = tenant_services.invite_member(tenant, acting_user=operator, username="newcomer")
    assert invited.password and User.objects.get(username="newcomer").must_change_password
    assert not operator.must_change_password


def test_an_operator_setting_a_password_in_the_admin_makes_it_one_time(client, operator, tenant_user):
    client.force_login(operator)
    url = reverse("admin:auth_user_password_change", args=[tenant_user.pk])
    response = client.post(
        url, {"password1": "Admin-Set-Pw-42", "password2": "Admin-Set-Pw-42", "usable_password": "true"}
    )
    assert response.status_code == 302
    tenant_user.refresh_from_db()
    assert tenant_user.must_change_password
