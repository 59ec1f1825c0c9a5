"""manage.py create_user: the first operator of a production install."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import translation

from console.oplog.models import OperationLogEntry

pytestmark = pytest.mark.django_db


def create(*args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    with translation.override("en"):
        call_command("create_user", *args, stdout=out)
    return out.getvalue()


def test_generated_password_is_printed_once_and_signs_in(client):
    output = create("root", "--role", "operator")
    password = re.search(r"with password: (\S+)", output).group(1)
    user = get_user_model().objects.get(username="root")
    assert user.is_operator
    assert client.login(username="root", password=password)
    entry = OperationLogEntry.objects.get(action="account.create")
    assert (entry.actor_name, entry.target_name, entry.after) == ("system", "root", {"platform_role": "operator"})
    assert password not in str(entry.payload) + str(entry.after)


def test_password_from_stdin_is_validated(monkeypatch):
    with pytest.raises(CommandError, match="too short"):
        create("audit", "--role", "auditor", "--password-stdin", stdin="abc\n", monkeypatch=monkeypatch)
    assert not get_user_model().objects.filter(username="audit").exists()
    output = create(
        "audit", "--role", "auditor", "--password-stdin", stdin="long enough pass phrase 42\n", monkeypatch=monkeypatch
    )
    assert "password:" not in output
    assert get_user_model().objects.get(username="audit").check_password("long enough pass phrase 42")


def test_existing_and_malformed_names_are_refused():
    create("taken", "--role", "auditor")
    with pytest.raises(CommandError, match="already exists"):
        create("taken", "--role", "operator")
    with pytest.raises(CommandError, match="username"):
        create("bad name!", "--role", "operator")
    assert get_user_model().objects.get(username="taken").platform_role == "auditor"
