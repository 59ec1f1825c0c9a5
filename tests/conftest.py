"""Shared fixtures. Tests use the machine's real PostgreSQL and Redis (see Makefile)."""

import os

import pytest
from django.test import override_settings

from console.celery import app as celery_app

from .factories import mk_user

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# The process id too: test sessions running side by side on one Redis must not share
# queues (a worker of one session would take, and drop, the other's jobs).
KEY_PREFIX = f"caas-test-{XDIST_WORKER}-{os.getpid()}"


@pytest.fixture(scope="session")
def oplog_anchor_path(tmp_path_factory):
    """Each test worker has its own database, so its own operation log anchor too (shared
    with the console processes it starts on that database)."""
    return tmp_path_factory.getbasetemp() / "oplog-anchor.jsonl"


@pytest.fixture(scope="session", autouse=True)
def isolated_redis_keys(oplog_anchor_path):
    """Parallel test workers share one Redis: give each its own keys, groups and queue
    (and its own operation log anchor)."""
    from django.conf import settings

    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": KEY_PREFIX}}
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    if "CONFIG" in layers["default"]:
        layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": f"{KEY_PREFIX}:asgi"}
    celery_app.conf.task_default_queue = KEY_PREFIX
    with override_settings(CACHES=caches, CHANNEL_LAYERS=layers, KEY_PREFIX=KEY_PREFIX, OPLOG_ANCHOR_PATH=str(oplog_anchor_path)):
        yield


@pytest.fixture(autouse=True)
def fresh_oplog_anchor(oplog_anchor_path):
    """Every test starts with an empty database, so with no checkpoints of the last one's."""
    oplog_anchor_path.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def clear_cache():
    """Forget sign-in counters and the like between tests (only this worker's keys)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{KEY_PREFIX}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def operator(db):
    return mk_user("op", "operator")


@pytest.fixture
def auditor(db):
    return mk_user("aud", "auditor")


@pytest.fixture
def tenant_user(db):
    return mk_user("member", "")


@pytest.fixture(scope="session")
def live_env(django_db_setup, django_db_blocker, oplog_anchor_path):
    """Environment for the console's own processes, pointed at this worker's test database."""
    from django.db import connection

    from . import live

    with django_db_blocker.unblock():
        return live.process_env(connection.settings_dict, KEY_PREFIX, OPLOG_ANCHOR_PATH=str(oplog_anchor_path))


@pytest.fixture(scope="session")
def live_console(live_env):
    """A real daphne serving the console (HTTP and websockets) plus a real Celery worker."""
    from . import live

    with live.celery_worker(live_env, XDIST_WORKER), live.daphne_server(live_env, XDIST_WORKER) as url:
        yield url


@pytest.fixture
def client():
    """Django's test client, reading the pages in English (the default language is Chinese)."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def sandbox():
    """A sandbox cluster on loopback for one test (folders may share one per module)."""
    from console.sandbox import SandboxCluster

    cluster = SandboxCluster(nodes=1, clock_speed=20).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster(db, sandbox):
    """The sandbox registered as cluster "sandbox" (whichever sandbox fixture is nearest)."""
    from .factories import mk_cluster

    return mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
