"""The one-command embedded run: SQLite, in-process Celery worker and beat over the
in-memory transport, in-memory channel layer, daphne; and a clean stop on Ctrl-C."""

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from ..live import ROOT, free_port

pytestmark = pytest.mark.integration


def start(state_dir, port):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CONSOLE_KEY_PREFIX")}
    env.update(CONSOLE_STATE_DIR=str(state_dir), PYTHONUNBUFFERED="1")
    log = open(state_dir / f"up-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "manage.py", "up", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, Path(log.name).read_text()
        try:
            if urllib.request.urlopen(base + "/login/", timeout=2).status == 200:
                return process, base, Path(log.name)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise TimeoutError(Path(log.name).read_text())


def stop_with_ctrl_c(process):
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


class Browser:
    """Just enough of a browser: cookies and the CSRF token."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name):
        return next(c.value for c in self.jar if c.name == name)

    def get(self, path):
        return self.opener.open(self.base + path, timeout=10).read().decode()

    def post(self, path, data=None, headers=None):
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.cookie("csrftoken"), **(data or {})}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + "/", **(headers or {})})
        return self.opener.open(request, timeout=10)


def test_embedded_run_serves_works_and_stops_cleanly(tmp_path):
    port = free_port()
    process, base, log = start(tmp_path, port)
    try:
        output = log.read_text()
        passwords = dict(re.findall(r"created demo user '(\w+)' \(\w+\) with password: (\S+)", output))
        assert set(passwords) == {"operator", "auditor"}

        browser = Browser(base)
        browser.get("/login/")
        browser.post("/login/", {"username": "auditor", "password": passwords["auditor"]})
        assert "auditor" in browser.get("/oplog/")

        socket_cookie = f"sessionid={browser.cookie('sessionid')}; django_language=en"
        with connect(f"ws://127.0.0.1:{port}/ws/live/", origin=base, additional_headers={"Cookie": socket_cookie}) as socket:
            socket.send("{}")  # round trip: the socket has joined its groups
            assert "subscribe" in socket.recv(timeout=5)
            browser.post("/oplog/verify/", headers={"HX-Request": "true"})
            # the in-process worker checks the chain and pushes the result to this socket
            pushed = [socket.recv(timeout=20) for _ in range(2)]
        assert any('data-status="intact"' in html for html in pushed), pushed
        assert (tmp_path / "console.sqlite3").exists() and (tmp_path / "secret_key").exists()

        # the sandbox is the default cluster, and its demo workloads reach the mirror
        deadline = time.monotonic() + 30
        while "web-" not in (pods := browser.get("/clusters/sandbox/resources/Pod/?namespace=demo-shop")):
            assert time.monotonic() < deadline, pods[-2000:]
            time.sleep(0.5)
        assert "sandbox-node-1" in browser.get("/clusters/sandbox/")
    finally:
        returncode = stop_with_ctrl_c(process)
    assert returncode == 0, log.read_text()[-2000:]
    assert "stopped" in log.read_text()

    process, base, log = start(tmp_path, port)  # second run: same data, no new passwords
    try:
        assert "demo user 'operator' exists" in log.read_text()
        assert "password:" not in log.read_text()
    finally:
        assert stop_with_ctrl_c(process) == 0
