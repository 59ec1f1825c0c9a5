"""YAML import: checked before the cluster is asked, previewed with a dry run (create or
change, with a diff), applied by a job; workloads become apps."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads import imports, services
from workloads.models import App

from .conftest import run

pytestmark = pytest.mark.django_db

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {team: blue}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example.com/team/api:2.1
        ports: [{containerPort: 8080}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 200m, memory: 128Mi}
        securityContext:  # the tenant's namespaces are Pod Security "restricted"
          allowPrivilegeEscalation: false
          runAsNonRoot: true
          seccompProfile: {type: RuntimeDefault}
          capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
data:
  LEVEL: info
"""


@pytest.mark.parametrize(
    "text,message",
    [
        ("kind: [", "not valid YAML at line 1"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}", "cluster-scoped object"),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: evil}",
            "cluster-scoped object",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kube-system}",
            "is for namespace kube-system",
        ),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}", "Secret objects cannot be imported"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}", "Pod objects cannot be imported"),
        ("apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}", "use apiVersion apps/v1"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}", "not a DNS-1123 label"),
        ("- just\n- a list", "Document 1 is not a Kubernetes object"),
        ("", "nothing to import"),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
            "spec: {template: {spec: {containers: [{name: c, image: 'Bad Image'}]}}}",
            "Document 1: 'Bad Image' is not a valid image reference",
        ),
    ],
)
def test_bad_manifests_are_explained_before_the_cluster_is_asked(text, message):
    with pytest.raises(ValidationError, match=message):
        imports.parse(text, "acme-web")


def test_preview_then_import_then_a_changed_preview(cluster, project, dev):
    objects, rows = services.preview_import(project, user=dev, text=MANIFESTS)
    assert [(r.kind, r.name, r.action, r.error) for r in rows] == [
        ("Deployment", "api", "create", ""),
        ("Service", "api", "create", ""),
        ("ConfigMap", "api-config", "create", ""),
    ]
    with ClusterAPI(cluster) as api:
        assert api.get("Deployment", "api", project.name) is None  # a dry run only
    assert not OperationLogEntry.objects.filter(action="app.import").exists()

    job, _rows = services.import_manifests(project, acting_user=dev, text=MANIFESTS)
    job = run(job)
    assert job.status == "succeeded", job.error
    app = App.objects.get(name="api")
    assert (app.kind, app.status, app.spec["image"], app.spec["replicas"]) == (
        "Deployment",
        "running",
        "registry.example.com/team/api:2.1",
        2,
    )
    with ClusterAPI(cluster) as api:
        pods = api.list("Pod", project.name, label_selector="caas.io/app=api")
        assert api.get("ConfigMap", "api-config", project.name)["data"] == {"LEVEL": "info"}
    assert len(pods) == 2  # labelled as the console's app: its page finds them
    entry = OperationLogEntry.objects.get(action="app.import")
    assert (
        entry.result == "accepted"
        and entry.actor_name == "acme-dev"
        and "Deployment/api: create" in entry.payload["objects"]
    )
    assert OperationLogEntry.objects.filter(action="app.revision", target_kind="ReplicaSet").exists()

    changed = MANIFESTS.replace("LEVEL: info", "LEVEL: debug")
    _objects, rows = services.preview_import(project, user=dev, text=changed)
    actions = {(r.kind, r.name): r for r in rows}
    assert actions[("Deployment", "api")].action == "unchanged"
    assert actions[("ConfigMap", "api-config")].action == "change"
    assert (
        "-  LEVEL: info" in actions[("ConfigMap", "api-config")].diff
        and "+  LEVEL: debug" in actions[("ConfigMap", "api-config")].diff
    )
    with pytest.raises(ValidationError, match="Nothing to change"):
        services.import_manifests(project, acting_user=dev, text=MANIFESTS)


def test_a_refused_object_stops_the_whole_import(cluster, project, dev):
    too_big = MANIFESTS.replace("replicas: 2", "replicas: 30")
    _objects, rows = services.preview_import(project, user=dev, text=too_big)
    assert "Not enough quota" in rows[0].error
    with pytest.raises(
        ValidationError, match="Nothing was imported; the cluster refuses: Deployment api: Not enough quota"
    ):
        services.import_manifests(project, acting_user=dev, text=too_big)
    assert not App.objects.exists() and not Job.objects.filter(kind="app.import").exists()
    with ClusterAPI(cluster) as api:
        assert api.get("Service", "api", project.name) is None


def test_import_page_previews_and_applies(client, project, dev, auditor):
    client.force_login(dev)
    page_url = reverse("workloads:app_import", args=["acme", project.name])
    assert client.get(page_url).status_code == 200
    bad = client.post(page_url, {"manifests": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}"})
    assert bad.status_code == 400 and "cluster-scoped object" in bad.content.decode()
    preview = client.post(page_url, {"manifests": MANIFESTS})
    text = preview.content.decode()
    assert (
        preview.status_code == 200
        and 'data-object="Deployment/api" data-action="create"' in text
        and 'id="confirm-form"' in text
    )
    done = client.post(page_url, {"manifests": MANIFESTS, "confirm": "yes"})
    assert done.status_code == 302 and done["Location"].startswith("/jobs/")
    client.force_login(auditor)
    assert client.post(page_url, {"manifests": MANIFESTS}).status_code == 403
