"""The sandbox stands alone: its tests need no database, Redis or Django, so the project's
autouse fixtures are replaced by no-ops here. One SandboxCluster per test module."""

import pytest
from kubernetes import client, config

from console.sandbox import SandboxCluster

FAST_DELAYS = {
    "pull": 0.5,
    "ready": 0.5,
    "terminate": 0.5,
    "job_run": 2.0,
    "pvc_bind": 0.5,
    "snapshot_ready": 1.0,
    "crash_after": 1.0,
    "backoff": 2.0,
    "hpa_sync": 2.0,
    "lb": 0.5,
    "log_interval": 0.5,
}


@pytest.fixture(scope="session", autouse=True)
def isolated_redis_keys():
    yield


@pytest.fixture(autouse=True)
def clear_cache():
    yield


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    cluster = SandboxCluster(
        nodes=3,
        clock_speed=20,
        bookmark_seconds=0.5,
        delays=FAST_DELAYS,
        kubeconfig_path=tmp_path_factory.mktemp("kube") / "config",
    ).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def api(sandbox):
    api = config.new_client_from_config(str(sandbox.kubeconfig_path))
    yield api
    api.close()


@pytest.fixture(scope="module")
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api):
    return client.AppsV1Api(api)
