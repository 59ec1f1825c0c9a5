"""The YAML editor on the sandbox cluster: the live object, a diff and the dry run's verdict
before saving, a 409 when someone changed the object meanwhile, import's checks on the text."""

import pytest
import yaml
from django.urls import reverse

from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads import configs, editor
from workloads.models import App

pytestmark = pytest.mark.django_db


def url(project, kind, name):
    return reverse("workloads:object_yaml", args=[project.tenant.name, project.name, kind, name])


def opened(client, project, kind, name):
    """(object, resourceVersion) as the editor shows them."""
    response = client.get(url(project, kind, name))
    assert response.status_code == 200, response.content.decode()[:2000]
    return yaml.safe_load(response.context["text"]), response.context["resource_version"]


def edit(client, project, kind, name, obj, version, action):
    return client.post(
        url(project, kind, name), {"text": yaml.safe_dump(obj), "resource_version": version, "action": action}
    )


def test_preview_shows_a_diff_and_save_applies_it(client, cluster, web, dev):
    project = web.project
    client.force_login(dev)
    obj, version = opened(client, project, "Deployment", "web")
    assert "status" not in obj and "managedFields" not in obj["metadata"] and "resourceVersion" not in obj["metadata"]
    assert version
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    preview = edit(client, project, "Deployment", "web", obj, version, "preview")
    page = preview.content.decode()
    assert preview.status_code == 200 and 'data-testid="dry-run-accepted"' in page
    diff = preview.context["preview"].diff
    assert "-      - image: nginx:1.27" in diff and "+      - image: nginx:1.28" in diff and "after your edit" in diff
    assert "+      - image: nginx:1.28" in page
    with ClusterAPI(cluster) as api:  # a preview changes nothing
        assert (
            api.get("Deployment", "web", project.name)["spec"]["template"]["spec"]["containers"][0]["image"]
            == "nginx:1.27"
        )
    saved = edit(client, project, "Deployment", "web", obj, version, "save")
    assert saved.status_code == 302 and saved["Location"].endswith("/apps/web/")
    with ClusterAPI(cluster) as api:
        assert (
            api.get("Deployment", "web", project.name)["spec"]["template"]["spec"]["containers"][0]["image"]
            == "nginx:1.28"
        )
    entry = OperationLogEntry.objects.get(action="object.edit")
    assert (
        entry.result == "succeeded"
        and entry.actor_name == "acme-dev"
        and "+      - image: nginx:1.28" in entry.payload["diff"]
    )
    assert App.objects.get(pk=web.pk).spec["image"] == "nginx:1.28"
    app_page = client.get(reverse("workloads:app", args=[project.tenant.name, project.name, "web"])).content.decode()
    assert url(project, "Deployment", "web") in app_page


def test_the_dry_run_refusal_is_shown_and_nothing_is_saved(client, cluster, project, dev):
    configs.create_configmap(project, acting_user=dev, name="settings", data={"MODE": "prod"})
    client.force_login(dev)
    obj, version = opened(client, project, "ConfigMap", "settings")
    obj["data"] = {"not a valid key": "x"}
    preview = edit(client, project, "ConfigMap", "settings", obj, version, "preview")
    assert preview.status_code == 400 and 'data-testid="dry-run-refused"' in preview.content.decode()
    assert "a valid config key" in preview.content.decode()
    saved = edit(client, project, "ConfigMap", "settings", obj, version, "save")
    assert saved.status_code == 400 and "The cluster refuses the change" in saved.content.decode()
    with ClusterAPI(cluster) as api:
        assert api.get("ConfigMap", "settings", project.name)["data"] == {"MODE": "prod"}
    assert OperationLogEntry.objects.get(action="object.edit").result == "failed"


def test_a_concurrent_change_makes_the_save_fail_with_409(client, cluster, project, dev):
    configs.create_configmap(project, acting_user=dev, name="settings", data={"MODE": "prod"})
    client.force_login(dev)
    obj, version = opened(client, project, "ConfigMap", "settings")
    with ClusterAPI(cluster) as api:  # someone else, meanwhile
        api.patch("ConfigMap", "settings", project.name, {"data": {"MODE": "theirs"}})
    obj["data"]["MODE"] = "mine"
    for action in ("preview", "save"):
        response = edit(client, project, "ConfigMap", "settings", obj, version, action)
        assert response.status_code == 409 and "changed by someone else" in response.content.decode()
    with ClusterAPI(cluster) as api:
        assert api.get("ConfigMap", "settings", project.name)["data"] == {"MODE": "theirs"}
    # opened again, the editor starts from their version and saves
    obj, version = opened(client, project, "ConfigMap", "settings")
    obj["data"]["MODE"] = "mine"
    assert edit(client, project, "ConfigMap", "settings", obj, version, "save").status_code == 302


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda o: o.update(kind="StatefulSet"), "The kind may not change"),
        (lambda o: o["metadata"].update(name="other"), "The name may not change"),
        (lambda o: o["metadata"].update(namespace="kube-system"), "only"),
        (
            lambda o: o["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(privileged=True),
            "privileged",
        ),
        (lambda o: o.update(apiVersion="apps/v1beta1"), "use apiVersion apps/v1"),
    ],
)
def test_import_checks_apply_to_the_edited_text(client, cluster, web, dev, change, message):
    project = web.project
    client.force_login(dev)
    obj, version = opened(client, project, "Deployment", "web")
    change(obj)
    response = edit(client, project, "Deployment", "web", obj, version, "save")
    assert response.status_code == 400 and message in response.content.decode()
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "web", project.name)["metadata"]["resourceVersion"] == version


def test_secrets_and_bad_yaml_are_refused(client, project, dev, auditor):
    configs.create_secret(project, acting_user=dev, name="db", secret_type="Opaque", data={"A": "b"})
    client.force_login(dev)
    response = client.get(url(project, "Secret", "db"))
    assert response.status_code == 400 and "cannot be edited here" in response.content.decode()
    configs.create_configmap(project, acting_user=dev, name="settings", data={"MODE": "prod"})
    _obj, version = opened(client, project, "ConfigMap", "settings")
    for text in ("a: &x 1\nb: *x\n", "kind: [", "---\nkind: ConfigMap\n---\nkind: ConfigMap\n"):
        response = client.post(
            url(project, "ConfigMap", "settings"), {"text": text, "resource_version": version, "action": "preview"}
        )
        assert response.status_code == 400
    assert editor.EDITABLE_KINDS == editor.imports.ALLOWED_KINDS and "Secret" not in editor.EDITABLE_KINDS
    client.force_login(auditor)
    assert client.get(url(project, "ConfigMap", "settings")).status_code == 403
