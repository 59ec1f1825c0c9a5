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

import psycopg2
import pytest
from websockets.sync.client import connect

from ..live import ROOT, free_port

pytestmark = pytest.mark.integration


def start(state_dir, port, **services):
    """`manage.py up`: embedded, or with the given DATABASE_URL/REDIS_URL/CONSOLE_KEY_PREFIX."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CONSOLE_KEY_PREFIX")}
    env.update(CONSOLE_STATE_DIR=str(state_dir), PYTHONUNBUFFERED="1", **services)
    log = open(state_dir / f"up-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Referer": self.base + "/", **(headers or {})}
        )
        return self.opener.open(request, timeout=10)


def signed_in_auditor(base, log):
    passwords = dict(re.findall(r"created demo user '(\w+)' \(\w+\) with password: (\S+)", log.read_text()))
    assert set(passwords) == {"operator", "auditor"}
    browser = Browser(base)
    browser.get("/login/")
    browser.post("/login/", {"username": "auditor", "password": passwords["auditor"]})
    assert "auditor" in browser.get("/oplog/")
    return browser


def verification_is_pushed(browser, port):
    """The worker checks the chain and pushes the result to the page's socket."""
    socket_cookie = f"sessionid={browser.cookie('sessionid')}; django_language=en"
    with connect(
        f"ws://127.0.0.1:{port}/ws/live/", origin=browser.base, additional_headers={"Cookie": socket_cookie}
    ) as socket:
        socket.send("{}")  # round trip: the socket has joined its groups
        assert "subscribe" in socket.recv(timeout=5)
        browser.post("/oplog/verify/", headers={"HX-Request": "true"})
        pushed = [socket.recv(timeout=20) for _ in range(2)]
    assert any('data-status="intact"' in html for html in pushed), pushed


def test_embedded_run_serves_works_and_stops_cleanly(tmp_path):
    port = free_port()
    process, base, log = start(tmp_path, port)
    try:
        browser = signed_in_auditor(base, log)
        verification_is_pushed(browser, port)  # in-process worker, in-memory broker and channel layer
        assert (tmp_path / "console.sqlite3").exists() and (tmp_path / "secret_key").exists()

        # the sandbox is the default cluster, and its demo workloads reach the mirror
        deadline = time.monotonic() + 30
        while "web-" not in (pods := browser.get("/clusters/sandbox/resources/Pod/?namespace=demo-shop")):
            assert time.monotonic() < deadline, pods[-2000:]
            time.sleep(0.5)
        assert "sandbox-node-1" in browser.get("/clusters/sandbox/")

        # and the demo tenant's app, deployed by the console once the namespace is provisioned
        # (while the console serves already)
        def storefront_row():
            row = re.search(r'data-app="demo-shop/storefront".*?</tr>', browser.get("/workloads/"), re.S)
            return row.group(0) if row else ""

        while "text-bg-success" not in (row := storefront_row()):  # the Running badge
            assert time.monotonic() < deadline, row
            time.sleep(0.5)
        assert "created demo app 'storefront' in demo-shop" in log.read_text()
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


def test_the_same_command_runs_on_postgresql_and_redis(tmp_path):
    """With DATABASE_URL and REDIS_URL: data in PostgreSQL, Redis as broker and channel layer."""
    database = f"caas_up_{os.getpid()}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    url = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas"))
    port = free_port()
    process, base, log = start(
        tmp_path,
        port,
        DATABASE_URL=url._replace(path=f"/{database}").geturl(),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CONSOLE_KEY_PREFIX=f"caas-up-{os.getpid()}",
    )
    try:
        assert f"database ready: {database}" in log.read_text()
        verification_is_pushed(signed_in_auditor(base, log), port)
        assert "Connected to redis://" in log.read_text()
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as db, db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM console_user WHERE username IN ('operator', 'auditor')")
            assert cursor.fetchone() == (2,)
        assert not (tmp_path / "console.sqlite3").exists()
    finally:
        assert stop_with_ctrl_c(process) == 0, log.read_text()[-2000:]
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()
