"""Changes operators make in the Django admin land in the operation log with their target
and the changed fields, like every other change made through the console."""

import pytest
from django.forms import MultiWidget

from console.accounts.models import User
from console.notifications.models import Notification
from console.oplog.models import OperationLogEntry

from ..factories import mk_user

pytestmark = pytest.mark.django_db


def form_as_posted(form):
    """The admin form's current values, as the browser would post them back unchanged."""
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            data.update(
                {
                    f"{name}_{i}": "" if part is None else str(part)
                    for i, part in enumerate(field.widget.decompress(value))
                }
            )
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, (list, tuple)):
            data[name] = [str(item) for item in value]
        elif value is not None:
            data[name] = str(value)
    return data


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def entries(action):
    return list(OperationLogEntry.objects.filter(action=action).order_by("id"))


def test_a_role_change_is_logged_with_the_field_before_and_after(admin_client):
    alice = mk_user("alice")
    url = f"/admin/console/user/{alice.pk}/change/"
    data = form_as_posted(admin_client.get(url).context["adminform"].form)
    response = admin_client.post(url, {**data, "platform_role": "auditor", "email": "alice@example.com"})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response

    alice.refresh_from_db()
    assert alice.platform_role == "auditor"
    [entry] = entries("admin.user.change")
    assert (entry.actor_name, entry.result, entry.target_kind, entry.target_name) == (
        "op",
        "succeeded",
        "User",
        "alice",
    )
    assert entry.before == {"email": "", "platform_role": ""}
    assert entry.after == {"email": "alice@example.com", "platform_role": "auditor"}
    assert not OperationLogEntry.objects.filter(action__startswith="request.admin").exists()  # one entry, not two

    page = admin_client.get("/oplog/", {"action": "admin.user.change"}).content.decode()
    assert "platform_role" in page and "alice@example.com" in page


def test_a_new_user_is_logged_without_its_password(admin_client):
    response = admin_client.post(
        "/admin/console/user/add/",
        {
            "username": "carol",
            "password1": "Tall-Giraffe-42-Nights",
            "password2": "Tall-Giraffe-42-Nights",
            "usable_password": "true",
            "platform_role": "operator",
        },
    )
    assert response.status_code == 302
    [entry] = entries("admin.user.add")
    assert (entry.target_kind, entry.target_name, entry.result, entry.before) == ("User", "carol", "succeeded", None)
    assert entry.after["platform_role"] == "operator" and entry.after["username"] == "carol"
    assert entry.after["password1"] == entry.after["password2"] == "********"
    assert "Tall-Giraffe" not in str(entry.after) + str(entry.payload)


def test_a_refused_form_is_logged_as_failed_and_changes_nothing(admin_client):
    response = admin_client.post(
        "/admin/console/user/add/",
        {
            "username": "dave",
            "password1": "short",
            "password2": "other",
            "usable_password": "true",
            "platform_role": "operator",
        },
    )
    assert response.status_code == 200  # the admin shows the form again with its errors
    assert not User.objects.filter(username="dave").exists()
    [entry] = entries("request.admin:console_user_add")
    assert entry.result == "failed" and "password2" in entry.error
    assert not entries("admin.user.add")


def test_deletions_are_logged_one_entry_per_object(admin_client, operator, auditor):
    notes = [Notification.objects.create(user=auditor, title=f"note {n}", level="info") for n in range(2)]
    response = admin_client.post(f"/admin/console/notification/{notes[0].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    spare = Notification.objects.create(user=auditor, title="note 3", level="info")
    response = admin_client.post(
        "/admin/console/notification/",
        {"action": "delete_selected", "post": "yes", "_selected_action": [notes[1].pk, spare.pk]},
    )
    assert response.status_code == 302
    assert not Notification.objects.exists()
    logged = entries("admin.notification.delete")
    assert sorted(entry.before["id"] for entry in logged) == [notes[0].pk, notes[1].pk, spare.pk]
    assert all(entry.result == "succeeded" and entry.target_kind == "Notification" for entry in logged)


def test_setting_a_password_is_logged_with_whose_and_never_the_password(admin_client):
    alice = mk_user("alice")
    url = f"/admin/console/user/{alice.pk}/password/"
    refused = admin_client.post(
        url, {"password1": "Quiet-Otter-77-Rivers", "password2": "Loud-Otter-77-Rivers", "usable_password": "true"}
    )
    assert refused.status_code == 200
    done = admin_client.post(
        url, {"password1": "Quiet-Otter-77-Rivers", "password2": "Quiet-Otter-77-Rivers", "usable_password": "true"}
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Quiet-Otter-77-Rivers")
    failed, succeeded = entries("admin.user.password_change")
    assert (failed.result, succeeded.result) == ("failed", "succeeded")
    assert failed.target_name == succeeded.target_name == "alice" and "password2" in failed.error
    assert not OperationLogEntry.objects.filter(action__startswith="request.admin").exists()
    logged = OperationLogEntry.objects.filter(action="admin.user.password_change").values()
    assert "Otter" not in str(list(logged))
