"""Jobs run to success or failure as their command says: `sh -c` scripts run in the sandbox's
shell (exit status, output served by the pod log API, `sleep` in simulated time), Kaniko's
executor reports the digest it pushed in the termination message, and the Job controller
applies backoffLimit (OnFailure restarts count), activeDeadlineSeconds and TTL."""

import pytest
from kubernetes import client, config

from console.sandbox import SandboxCluster

from .conftest import FAST_DELAYS
from .helpers import wait_for


@pytest.fixture(scope="module")
def batch_cluster(tmp_path_factory):
    cluster = SandboxCluster(
        nodes=1, clock_speed=20, delays=FAST_DELAYS, kubeconfig_path=tmp_path_factory.mktemp("kube") / "config"
    ).start()
    api = config.new_client_from_config(str(cluster.kubeconfig_path))
    yield cluster, client.CoreV1Api(api), client.BatchV1Api(api)
    api.close()
    cluster.stop()


def start_job(batch, name, command, *, image="busybox:1.36", restart="Never", args=None, **spec):
    container = {"name": "main", "image": image, "command": command}
    if args:
        container["args"] = args
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [container]}}, **spec},
    }
    batch.create_namespaced_job("default", body)


def finished(batch, name, timeout=20):
    def done():
        job = batch.read_namespaced_job(name, "default")
        conditions = {c.type: c for c in job.status.conditions or [] if c.status == "True"}
        return job if {"Complete", "Failed"} & set(conditions) else None

    job = wait_for(done, timeout=timeout)
    assert job is not None, f"job {name} did not finish"
    return job, {c.type: c for c in job.status.conditions if c.status == "True"}


def pods_of(core, name):
    return core.list_namespaced_pod("default", label_selector=f"job-name={name}").items


def test_a_script_that_exits_zero_completes_with_its_output_as_the_log(batch_cluster):
    _, core, batch = batch_cluster
    start_job(batch, "hello", ["sh", "-c", 'echo "testing $GREETING"; echo second line; exit 0'], backoffLimit=0)
    job, conditions = finished(batch, "hello")
    assert "Complete" in conditions and job.status.succeeded == 1 and not job.status.failed
    (pod,) = pods_of(core, "hello")
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0
    log = core.read_namespaced_pod_log(pod.metadata.name, "default")
    assert log == "testing \nsecond line\n"


def test_a_failing_script_fails_the_job_after_its_backoff_limit(batch_cluster):
    _, core, batch = batch_cluster
    start_job(batch, "broken", ["sh", "-c", "echo 2 tests failed >&2; exit 3"], backoffLimit=1)
    job, conditions = finished(batch, "broken")
    assert conditions["Failed"].reason == "BackoffLimitExceeded" and job.status.failed == 2
    pods = pods_of(core, "broken")
    assert len(pods) == 2 and {p.status.phase for p in pods} == {"Failed"}
    assert {p.status.container_statuses[0].state.terminated.exit_code for p in pods} == {3}
    assert core.read_namespaced_pod_log(pods[0].metadata.name, "default") == "2 tests failed\n"


def test_on_failure_restarts_count_against_the_backoff_limit(batch_cluster):
    _, core, batch = batch_cluster
    start_job(batch, "flaky", ["sh", "-c", "false"], restart="OnFailure", backoffLimit=1)
    _, conditions = finished(batch, "flaky", timeout=30)
    assert conditions["Failed"].reason == "BackoffLimitExceeded"
    assert len(pods_of(core, "flaky")) <= 1  # one pod, restarted in place (then deleted with the failure)


def test_active_deadline_stops_a_long_script(batch_cluster):
    _, core, batch = batch_cluster
    start_job(batch, "slow", ["sh", "-c", "echo started; sleep 600; echo never"], activeDeadlineSeconds=20)
    job, conditions = finished(batch, "slow")
    assert conditions["Failed"].reason == "DeadlineExceeded"
    assert not job.status.active


def test_kaniko_pushes_and_reports_its_digest_in_the_termination_message(batch_cluster):
    _, core, batch = batch_cluster
    args = [
        "--context=git://git.example.com/acme/web.git#refs/heads/main",
        "--dockerfile=Dockerfile",
        "--destination=registry.example.com/acme/web:abc123",
        "--digest-file=/dev/termination-log",
    ]
    start_job(batch, "build", None, image="gcr.io/kaniko-project/executor:v1.23.2", args=args, backoffLimit=0)
    _, conditions = finished(batch, "build")
    assert "Complete" in conditions
    (pod,) = pods_of(core, "build")
    digest = pod.status.container_statuses[0].state.terminated.message
    assert digest.startswith("sha256:") and len(digest) == 71
    log = core.read_namespaced_pod_log(pod.metadata.name, "default")
    assert f"Pushed registry.example.com/acme/web@{digest}" in log
    start_job(batch, "nowhere", None, image="gcr.io/kaniko-project/executor:v1.23.2", args=args[:2], backoffLimit=0)
    _, conditions = finished(batch, "nowhere")
    assert "Failed" in conditions


def test_a_finished_job_goes_after_its_ttl(batch_cluster):
    _, _, batch = batch_cluster
    start_job(batch, "shortlived", ["sh", "-c", "true"], ttlSecondsAfterFinished=30)
    finished(batch, "shortlived")
    gone = wait_for(
        lambda: not [j for j in batch.list_namespaced_job("default").items if j.metadata.name == "shortlived"]
    )
    assert gone
