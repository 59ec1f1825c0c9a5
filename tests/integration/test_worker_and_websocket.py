"""Real processes: a Celery worker, and daphne serving websockets, over real Redis and PostgreSQL."""

import json
import time

import pytest
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from console import actions
from console.notifications import notifications
from console.oplog.models import ChainVerification

from ..factories import mk_user

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def session_cookie(user):
    client = Client()
    client.force_login(user)  # stored in the shared database: the live server reads it
    return f"sessionid={client.cookies['sessionid'].value}; django_language=en"


def open_socket(live_console, cookie=None, origin=None):
    headers = {"Cookie": cookie} if cookie else {}
    return connect(
        live_console.replace("http", "ws") + "/ws/live/",
        origin=origin or live_console,
        additional_headers=headers,
        open_timeout=5,
    )


def test_worker_process_runs_a_requested_verification(live_console):
    auditor = mk_user("aud-w", "auditor", password=None)
    verification = actions.request_verification(acting_user=auditor)
    assert wait_until(lambda: ChainVerification.objects.get(pk=verification.pk).status == "intact"), (
        "worker did not finish"
    )
    verification.refresh_from_db()
    assert verification.checked >= 1
    assert auditor.notifications.filter(level="success").exists()


def test_anonymous_and_foreign_origin_sockets_are_refused(live_console):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(live_console)
    assert refused.value.response.status_code == 403
    cookie = session_cookie(mk_user("ws-origin", password=None))
    with pytest.raises(InvalidStatus):
        open_socket(live_console, cookie, origin="http://evil.example")


def test_notification_is_pushed_live_and_bad_messages_get_clear_errors(live_console):
    user = mk_user("ws-user", password=None)
    other = mk_user("ws-other", password=None)
    with open_socket(live_console, session_cookie(user)) as socket:
        socket.send("this is not json")
        assert "valid JSON" in socket.recv(timeout=5)
        socket.send(json.dumps(["subscribe"]))
        assert "JSON objects" in socket.recv(timeout=5)
        socket.send(json.dumps({"subscribe": f"user-{other.pk}"}))
        assert f"user-{other.pk}" in socket.recv(timeout=5)  # "You may not follow user-N"
        socket.send(b"\x00\x01")
        assert "4 KB" in socket.recv(timeout=5)

        notifications.notify_user(user, "Deployment web scaled", body="2 → 5 replicas")
        html = socket.recv(timeout=5)
        assert "Deployment web scaled" in html and 'id="notif-count"' in html
        notifications.notify_user(other, "not for you")
        with pytest.raises(TimeoutError):
            socket.recv(timeout=1)


def test_an_idle_socket_stays_open_and_still_gets_pushes(live_console):
    """redis-py 8 times reads out after 5 s by default; the channel layer's blocking
    pop must not turn that into a closed socket (it did, every 5 s)."""
    user = mk_user("ws-idle", password=None)
    with open_socket(live_console, session_cookie(user)) as socket:
        time.sleep(6.5)
        notifications.notify_user(user, "still here")
        assert "still here" in socket.recv(timeout=5)
