"""Instantiating templates on the sandbox: every recommended one comes up; a failure
removes what the run created; a stack is deleted with everything it made; upgrades show
their diff first."""

import time
from threading import Thread

import pytest
from django.core.exceptions import ValidationError

from console import texts
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads.models import App
from workloads.stacks import services
from workloads.stacks.models import Stack

from .conftest import recommended, run

pytestmark = pytest.mark.django_db

VALUES = {
    "web-app": {"host": "shop.example.com"},
    "redis": {},
    "postgresql": {"storage": "2Gi"},
    "three-tier-demo": {"api_replicas": "1"},
}


def live(cluster, namespace, kind):
    with ClusterAPI(cluster) as api:
        return sorted(
            o["metadata"]["name"] for o in api.list(kind, namespace) if o["metadata"]["name"] != "kube-root-ca.crt"
        )


@pytest.mark.parametrize("name", sorted(VALUES))
def test_every_recommended_template_instantiates(cluster, project, dev, name):
    version = recommended(name)
    plan = services.preview_stack(project, user=dev, version=version, values=VALUES[name])
    assert plan.ok, (plan.refused, plan.quota_error)
    assert all(row.action == "create" for row in plan.rows)
    assert live(cluster, project.name, "Deployment") == []  # a dry run only

    stack, job = services.create_stack(project, acting_user=dev, version=version, name=name, values=VALUES[name])
    job = run(job)
    assert job.status == "succeeded", job.error
    stack.refresh_from_db()
    assert stack.status == "ready"
    assert len(stack.resources) == len(plan.objects)
    for ref in stack.resources:
        assert ref["name"] in live(cluster, project.name, ref["kind"])
    workloads = [r["name"] for r in stack.resources if r["kind"] in ("Deployment", "StatefulSet")]
    assert sorted(App.objects.filter(project=project).values_list("name", flat=True)) == sorted(workloads)
    assert set(App.objects.filter(project=project).values_list("status", flat=True)) == {"running"}
    with ClusterAPI(cluster) as api:  # pods carry the console's app label: they show as apps
        assert api.list("Pod", project.name, label_selector=f"caas.io/app={workloads[0]}")


def crash_pods_of_image(sandbox, namespace, image, seconds=10):
    """The sandbox crashes pods by name: crash each pod running `image` as it appears."""
    from console.sandbox.kinds import STORED

    def crash():
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for pod in sandbox.store.list(STORED["pods"], namespace, "")[0]:
                if pod["spec"]["containers"][0]["image"] == image:
                    sandbox.set_pod_fault(namespace, pod["metadata"]["name"], "crash")
            time.sleep(0.02)

    thread = Thread(target=crash, daemon=True)
    thread.start()
    return thread


def test_a_failing_instantiation_removes_what_it_created(cluster, sandbox, project, dev):
    version = recommended("web-app")
    image = "nginxinc/nginx-unprivileged:broken"
    stack, job = services.create_stack(project, acting_user=dev, version=version, name="shop", values={"image": image})
    crash_pods_of_image(sandbox, project.name, image)
    job = run(job)
    assert job.status == "failed"
    assert "The rollout is stuck" in str(job.error)
    steps = " ".join(texts.render(s["text"]) for s in job.steps)
    assert "Removed Ingress web again" in steps and "Removed Service web again" in steps
    for kind in ("Service", "Deployment", "Ingress"):
        assert live(cluster, project.name, kind) == []
    stack.refresh_from_db()
    assert (stack.status, stack.resources) == ("failed", [])
    assert not App.objects.filter(project=project).exists()


def test_refusals_come_before_anything_is_created(cluster, project, dev):
    version = recommended("web-app")
    with pytest.raises(ValidationError, match="replicas: at most 20"):
        services.create_stack(project, acting_user=dev, version=version, name="a", values={"replicas": "50"})
    with pytest.raises(ValidationError, match="does not match"):
        services.create_stack(project, acting_user=dev, version=version, name="a", values={"host": "x\ny: 1"})
    with pytest.raises(ValidationError, match="Not enough quota"):  # 10 pods in the namespace's quota
        services.create_stack(project, acting_user=dev, version=version, name="a", values={"replicas": "12"})
    assert not Stack.objects.exists()
    assert OperationLogEntry.objects.filter(action="stack.create", result="failed").count() == 3


def test_upgrade_shows_a_diff_then_delete_removes_everything(cluster, project, dev, operator):
    version = recommended("redis")
    stack, job = services.create_stack(project, acting_user=dev, version=version, name="cache", values={})
    assert run(job).status == "succeeded"
    stack.refresh_from_db()

    plan = services.preview_upgrade(stack, user=dev, version=version, values={"maxmemory": "50mb"})
    changed = {(r.kind, r.name): r for r in plan.rows}
    assert changed[("ConfigMap", "redis-config")].action == "change"
    assert "+  redis.conf: 'maxmemory 50mb" in changed[("ConfigMap", "redis-config")].diff
    assert changed[("Deployment", "redis")].action == "unchanged"
    job = services.upgrade_stack(stack, acting_user=dev, version=version, values={"maxmemory": "50mb"})
    assert run(job).status == "succeeded"
    stack.refresh_from_db()
    assert stack.parameters["maxmemory"] == "50mb"
    with ClusterAPI(cluster) as api:
        assert "maxmemory 50mb" in api.get("ConfigMap", "redis-config", project.name)["data"]["redis.conf"]

    with pytest.raises(ValidationError, match="Type the stack's name"):
        services.delete_stack(stack, acting_user=dev, confirm_name="nope")
    job = services.delete_stack(stack, acting_user=dev, confirm_name="cache")
    assert run(job).status == "succeeded"
    for kind in ("ConfigMap", "Service", "Deployment"):
        assert live(cluster, project.name, kind) == []
    assert not Stack.objects.exists() and not App.objects.filter(project=project).exists()


def test_an_upgrade_to_a_version_without_an_object_removes_it(cluster, acme, project, dev):
    two = (
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: "${v}"}\n---\n'
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {v: one}\n"
    )
    template = services.create_template(
        acting_user=dev, tenant=acme, name="pair", manifests=two, parameters="- {name: v, default: one}"
    )
    stack, job = services.create_stack(project, acting_user=dev, version=template.latest(), name="pair", values={})
    assert run(job).status == "succeeded"
    stack.refresh_from_db()
    one = two.split("---\n")[0]
    second = services.add_version(template, acting_user=dev, manifests=one, parameters="- {name: v, default: one}")
    plan = services.preview_upgrade(stack, user=dev, version=second, values={"v": "two"})
    assert [(r.kind, r.name, r.action) for r in plan.rows] == [
        ("ConfigMap", "a", "change"),
        ("ConfigMap", "b", "remove"),
    ]
    assert (
        run(services.upgrade_stack(stack, acting_user=dev, version=second, values={"v": "two"})).status == "succeeded"
    )
    stack.refresh_from_db()
    assert (stack.version, stack.resources) == (second, [{"kind": "ConfigMap", "name": "a"}])
    assert live(cluster, project.name, "ConfigMap") == ["a"]
    entry = OperationLogEntry.objects.filter(action="stack.upgrade").get()
    assert (entry.result, entry.before["version"], entry.after["version"]) == ("accepted", 1, 2)
