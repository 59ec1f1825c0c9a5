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
    with override_settings(
        CACHES=caches, CHANNEL_LAYERS=layers, KEY_PREFIX=KEY_PREFIX, OPLOG_ANCHOR_PATH=str(oplog_anchor_path)
    ):
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


def sandbox_fixture(scope="function", *, nodes=1, clock_speed=20, **options):
    """A `sandbox` fixture: a sandbox cluster on loopback (further `options` go to
    SandboxCluster). A folder's conftest.py or a module shares one per module with
    `sandbox = sandbox_fixture("module", nodes=2)`; the namespaces then differ per test."""

    @pytest.fixture(scope=scope, name="sandbox")
    def sandbox():
        from console.sandbox import SandboxCluster

        with SandboxCluster(nodes=nodes, clock_speed=clock_speed, **options) as cluster:
            yield cluster

    return sandbox


def english_fixture(autouse=False):
    """An `english` fixture: services speak the active language (Chinese by default), tests
    that read their words ask for English. `english = english_fixture(autouse=True)` in a
    folder's conftest.py or a module gives it to all of their tests."""

    @pytest.fixture(autouse=autouse, name="english")
    def english():
        from django.utils import translation

        with translation.override("en"):
            yield

    return english


sandbox = sandbox_fixture()  # one per test unless a folder or module shares one
english = english_fixture()


@pytest.fixture
def quick_rollouts(settings):
    """A rollout's job fails after 20 s without progress (not 5 minutes): tests of stuck
    rollouts end soon."""
    settings.CAAS_ROLLOUT_TIMEOUT = 20


@pytest.fixture
def cluster(db, sandbox):
    """The sandbox registered as cluster "sandbox" (whichever sandbox fixture is nearest)."""
    from .factories import mk_cluster

    return mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())


@pytest.fixture(scope="session")
def ceph_cluster():
    """A real single-node Ceph (scripts/ceph-dev.sh), shared by the whole run and its test
    workers; a CephConfig for the console's client (client.caas). Fails, never skips, when
    Ceph's packages are missing (`make prepare-tests` installs them)."""
    from . import cephdev

    with cephdev.session() as config:
        yield config


@pytest.fixture
def nothing_sent_to_the_broker(monkeypatch):
    """For tests that run their jobs' tasks in their own thread: committed jobs are otherwise
    also sent to the broker, where the session's live worker (live_console, if an earlier
    test in this process started it) would take them first."""
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: None)
