"""Regressions in the scheduler's and the Job controller's fidelity: a cordoned node as
kube-scheduler reports it (and the taint the node lifecycle controller gives it), and an
Indexed Job whose pods start together, each with its own completion index."""

import pytest
from kubernetes import client, config

from console.sandbox import SandboxCluster

from .conftest import FAST_DELAYS
from .helpers import kubectl, wait_for

INDEX = "batch.kubernetes.io/job-completion-index"
CORDONED = (
    "0/1 nodes are available: 1 node(s) were unschedulable. "
    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
)


@pytest.fixture(scope="module")
def one_node(tmp_path_factory):
    cluster = SandboxCluster(
        nodes=1, clock_speed=20, delays=FAST_DELAYS, kubeconfig_path=tmp_path_factory.mktemp("kube") / "config"
    ).start()
    api = config.new_client_from_config(str(cluster.kubeconfig_path))
    yield cluster, client.CoreV1Api(api), client.BatchV1Api(api)
    api.close()
    cluster.stop()


def scheduled_condition(core, name):
    pod = core.read_namespaced_pod(name, "default")
    return next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)


def test_cordoned_ready_node_is_unschedulable_not_unreachable(one_node):
    cluster, core, _ = one_node
    cordon = kubectl(cluster, "cordon", "sandbox-node-1")
    assert cordon.returncode == 0 and "node/sandbox-node-1 cordoned" in cordon.stdout, cordon.stderr
    node = wait_for(lambda: (lambda n: n if n.spec.taints else None)(core.read_node("sandbox-node-1")))
    assert [(t.key, t.effect, t.time_added) for t in node.spec.taints] == [
        ("node.kubernetes.io/unschedulable", "NoSchedule", None)
    ]
    assert next(c for c in node.status.conditions if c.type == "Ready").status == "True"
    row = kubectl(cluster, "get", "node", "sandbox-node-1").stdout.split("\n")[1].split()
    assert row[1] == "Ready,SchedulingDisabled"

    core.create_namespaced_pod(
        "default", {"metadata": {"name": "waits"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    )
    scheduled = wait_for(lambda: scheduled_condition(core, "waits"))
    assert (scheduled.status, scheduled.reason, scheduled.message) == ("False", "Unschedulable", CORDONED)
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=waits").items
    assert [(e.reason, e.type, e.message, e.source.component) for e in events] == [
        ("FailedScheduling", "Warning", CORDONED, "default-scheduler")
    ]
    assert any(
        e.reason == "NodeNotSchedulable"
        for e in core.list_namespaced_event("default", field_selector="involvedObject.name=sandbox-node-1").items
    )

    assert kubectl(cluster, "uncordon", "sandbox-node-1").returncode == 0
    assert wait_for(lambda: not core.read_node("sandbox-node-1").spec.taints)
    assert wait_for(lambda: core.read_namespaced_pod("waits", "default").spec.node_name == "sandbox-node-1", timeout=10)


def start_indexed_job(batch, name, completions, parallelism):
    batch.create_namespaced_job(
        "default",
        {
            "metadata": {"name": name},
            "spec": {
                "completionMode": "Indexed",
                "completions": completions,
                "parallelism": parallelism,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:1.36"}]}
                },
            },
        },
    )


def finished_job(batch, name, succeeded):
    """The job once `succeeded` of its pods have."""
    return wait_for(
        lambda: (lambda j: j if j.status.succeeded == succeeded else None)(batch.read_namespaced_job(name, "default")),
        timeout=30,
    )


def test_indexed_job_pods_started_together_get_distinct_indexes(one_node):
    _, core, batch = one_node
    start_indexed_job(batch, "shards", completions=5, parallelism=3)
    first = wait_for(
        lambda: (lambda p: p if len(p) >= 3 else None)(
            core.list_namespaced_pod("default", label_selector="job-name=shards").items
        )
    )
    started = sorted(first, key=lambda p: p.metadata.creation_timestamp)[:3]
    indexes = [p.metadata.annotations[INDEX] for p in started]
    assert sorted(indexes) == ["0", "1", "2"]  # one pass started three pods, each with its own index
    for pod in started:
        index = pod.metadata.annotations[INDEX]
        assert pod.metadata.labels[INDEX] == index
        assert pod.metadata.name.startswith(f"shards-{index}-")
        assert len(pod.metadata.name) == len(f"shards-{index}-") + 5
        assert pod.spec.hostname == f"shards-{index}"
        env = {e.name: e for e in pod.spec.containers[0].env}
        assert env["JOB_COMPLETION_INDEX"].value_from.field_ref.field_path == f"metadata.annotations['{INDEX}']"

    job = finished_job(batch, "shards", succeeded=5)
    assert job.status.completed_indexes == "0-4"
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)
    pods = core.list_namespaced_pod("default", label_selector="job-name=shards").items
    assert sorted(p.metadata.annotations[INDEX] for p in pods) == ["0", "1", "2", "3", "4"]


def test_completed_indexes_of_a_pair_take_a_comma(one_node):
    _, _, batch = one_node
    start_indexed_job(batch, "pair", completions=2, parallelism=2)
    job = finished_job(batch, "pair", succeeded=2)
    assert job.status.completed_indexes == "0,1"
