"""scripts/run-production.sh as an operator runs it: two web processes behind nginx, one
address for pages and websockets, requests spread over both, and everything stopped by
Ctrl-C."""

import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from console.notifications import notifications

from ..factories import mk_user
from .test_worker_and_websocket import open_socket, session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def free_ports(count):
    """`count` consecutive free ports on loopback."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65000:
            continue
        held = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                held.append(s)
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free ports")


def test_two_web_processes_behind_the_proxy_serve_pages_and_websockets(live_env, tmp_path):
    port = free_ports(3)
    out = tmp_path / "run.out"
    process = subprocess.Popen(
        ["bash", "scripts/run-production.sh", "--web", "2", "--port", str(port), "--concurrency", "1"]
        + ["--dir", str(tmp_path / "run")],
        cwd=ROOT,
        env={**live_env, "SECRET_KEY": settings.SECRET_KEY},  # this session's sign-ins hold
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while "console at" not in out.read_text():
            assert process.poll() is None and time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.5)
        assert "(nginx, in front of the web processes" in out.read_text()
        url = f"http://127.0.0.1:{port}"

        for _ in range(12):
            with urllib.request.urlopen(url + "/login/", timeout=10) as response:
                assert response.status == 200
        logs = tmp_path / "run" / "logs"
        served = [(logs / f"web-{n}.log").read_text().count('"GET /login/"') for n in (1, 2)]
        assert all(served) and sum(served) >= 12, served  # both served some, none went elsewhere

        # A live page's socket through the proxy: it opens, subscribes, and gets a push.
        user = mk_user("prod-run", "operator", password=None)
        with open_socket(url, session_cookie(user)) as live:
            time.sleep(1)  # subscribed to the user's group
            # From a thread of its own: a browser test earlier in this process may have left
            # Playwright's event loop running on this one, where a push cannot be sent.
            sender = threading.Thread(target=notifications.notify_user, args=(user, "through the proxy"))
            sender.start()
            sender.join()
            assert "through the proxy" in live.recv(timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert not (tmp_path / "run" / "pids").exists()
    with pytest.raises(OSError):  # the proxy went with the rest
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
