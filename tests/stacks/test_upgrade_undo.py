"""A failed upgrade is undone: what it changed gets its previous manifest back, what it added
goes, and the stack stays on its version, ready; the job says so. Faults: an object the
cluster refuses at run time (a quota set after the preview), and a rollout that never
completes (pods of the new image crash). Also: a claim naming an unknown backup policy is
refused before anything is created."""

import pytest
import yaml
from django.core.exceptions import ValidationError

from console import texts
from console.kube.api import ClusterAPI
from workloads.models import App
from workloads.stacks import services
from workloads.stacks.models import Stack

from .conftest import recommended, run
from .test_instantiate import crash_pods_of_image, live

pytestmark = pytest.mark.django_db

ONE = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: "${v}"}\n'
THREE = (
    ONE + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: new}\n"
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {v: new}\n"
)
PARAMETERS = "- {name: v, default: one}"


def steps(job):
    return [texts.render(s["text"]) for s in job.steps]


def test_an_upgrade_the_cluster_refuses_midway_is_undone(cluster, acme, project, dev):
    template = services.create_template(acting_user=dev, tenant=acme, name="maps", manifests=ONE, parameters=PARAMETERS)
    first = template.latest()
    stack, job = services.create_stack(project, acting_user=dev, version=first, name="maps", values={})
    assert run(job).status == "succeeded"
    stack.refresh_from_db()
    second = services.add_version(template, acting_user=dev, manifests=THREE, parameters=PARAMETERS)
    job = services.upgrade_stack(stack, acting_user=dev, version=second, values={"v": "two"})
    # after the preview, the namespace gets a quota that leaves room for one more ConfigMap:
    # the upgrade changes a, adds c, and the cluster refuses d
    with ClusterAPI(cluster) as api:
        used = len(api.list("ConfigMap", project.name))
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": "maps", "namespace": project.name},
                "spec": {"hard": {"count/configmaps": str(used + 1)}},
            }
        )

    job = run(job)
    assert job.status == "failed"
    assert "exceeded quota" in str(job.error)
    said = steps(job)
    assert "Applied ConfigMap c" in " ".join(said)
    assert "Removed ConfigMap c again: the upgrade had added it." in said
    assert "Put ConfigMap a back as it was before the upgrade." in said
    assert said[-1] == "The upgrade is undone: the stack runs version 1 as before."
    assert live(cluster, project.name, "ConfigMap") == ["a"]
    with ClusterAPI(cluster) as api:
        assert api.get("ConfigMap", "a", project.name)["data"] == {"v": "one"}
    stack.refresh_from_db()
    assert (stack.status, stack.version, stack.parameters["v"]) == ("ready", first, "one")
    assert stack.resources == [{"kind": "ConfigMap", "name": "a"}]


def test_an_upgrade_whose_rollout_never_completes_is_undone(cluster, sandbox, project, dev):
    version = recommended("web-app")
    stack, job = services.create_stack(project, acting_user=dev, version=version, name="shop", values={})
    assert run(job).status == "succeeded"
    stack.refresh_from_db()
    image = "nginxinc/nginx-unprivileged:broken"
    job = services.upgrade_stack(stack, acting_user=dev, version=version, values={"image": image, "host": "b.example"})
    crash_pods_of_image(sandbox, project.name, image)
    job = run(job)
    assert job.status == "failed"
    assert "The rollout is stuck" in str(job.error)
    said = steps(job)
    for kind in ("Ingress", "Deployment", "Service"):
        assert f"Put {kind} web back as it was before the upgrade." in said
    assert said[-1] == "The upgrade is undone: the stack runs version 1 as before."
    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "web", project.name)
        ingress = api.get("Ingress", "web", project.name)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginxinc/nginx-unprivileged:1.27"
    assert ingress["spec"]["rules"][0]["host"] == "web.example.com"
    app = App.objects.get(project=project, name="web")
    assert (app.status, app.spec["image"]) == ("running", "nginxinc/nginx-unprivileged:1.27")
    stack.refresh_from_db()
    assert (stack.status, stack.parameters["image"]) == ("ready", "nginxinc/nginx-unprivileged:1.27")


def test_a_claim_naming_an_unknown_backup_policy_is_refused_first(cluster, acme, project, dev):
    manifests = recommended("postgresql").manifests.replace("${backup_schedule}", "hourly")
    parameters = [p for p in recommended("postgresql").parameters if p["name"] != "backup_schedule"]
    template = services.create_template(
        acting_user=dev, tenant=acme, name="pg", manifests=manifests, parameters=yaml.safe_dump(parameters)
    )
    message = (
        "StatefulSet postgres (data) names the backup policy hourly in caas.io/backup-policy; "
        "known policies are: daily, weekly, none."
    )
    with pytest.raises(ValidationError) as refused:
        services.preview_stack(project, user=dev, version=template.latest(), values={})
    assert refused.value.messages == [message]
    with pytest.raises(ValidationError) as refused:
        services.create_stack(project, acting_user=dev, version=template.latest(), name="pg", values={})
    assert refused.value.messages == [message]
    assert not Stack.objects.exists()
    assert live(cluster, project.name, "StatefulSet") == []
