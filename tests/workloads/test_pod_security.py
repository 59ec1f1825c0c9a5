"""Pod Security in a tenant: its namespaces carry the level's labels (restricted unless an
operator chooses baseline), the console refuses up front what the level forbids (deploy form
and YAML import, with a message naming the field, nothing created), and its own pods pass."""

import pytest
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from tenants import services as tenant_services
from workloads import podsecurity
from workloads.models import App

from .conftest import run, run_tenant

pytestmark = pytest.mark.django_db

FORM = {
    "name": "web",
    "kind": "Deployment",
    "image": "nginx:1.27",
    "replicas": "1",
    "ports": "http:80",
    "cpu_request": "100m",
    "cpu_limit": "200m",
    "memory_request": "64Mi",
    "memory_limit": "128Mi",
}
ROOT_ON_THE_NODE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: node-shell}
spec:
  replicas: 1
  selector: {matchLabels: {app: node-shell}}
  template:
    metadata: {labels: {app: node-shell}}
    spec:
      hostPID: true
      hostNetwork: true
      containers:
      - name: shell
        image: busybox:1.36
        securityContext: {privileged: true, runAsUser: 0}
        volumeMounts: [{name: root, mountPath: /host}]
        resources: {limits: {cpu: 100m, memory: 64Mi}}
      volumes:
      - name: root
        hostPath: {path: /}
"""
HARDENED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: api
        image: registry.example.com/team/api:2.1
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        resources: {limits: {cpu: 100m, memory: 64Mi}}
"""
LABELS = "pod-security.kubernetes.io/"


def namespace_labels(cluster, name):
    with ClusterAPI(cluster) as api:
        labels = api.get("Namespace", name)["metadata"]["labels"]
    return {k[len(LABELS) :]: v for k, v in labels.items() if k.startswith(LABELS)}


def nothing_created(cluster, project, name):
    with ClusterAPI(cluster) as api:
        on_cluster = api.get("Deployment", name, project.name)
    return (
        on_cluster is None
        and not App.objects.filter(name=name).exists()
        and not Job.objects.filter(kind__startswith="app.").exists()
    )


def test_tenant_namespaces_are_labelled_restricted(cluster, project):
    assert project.tenant.pod_security == "restricted"
    assert namespace_labels(cluster, project.name) == {
        "enforce": "restricted",
        "enforce-version": "latest",
        "warn": "restricted",
        "warn-version": "latest",
        "audit": "restricted",
        "audit-version": "latest",
    }


def test_form_deploy_as_root_is_refused_up_front(client, cluster, project, dev):
    client.force_login(dev)
    add = reverse("workloads:app_add", args=["acme", project.name])
    assert b'name="run_as_user"' in client.get(add).content
    # fields the form does not offer (host namespaces, volumes from the node) are not read at all
    refused = client.post(add, {**FORM, "run_as_user": "0", "hostPID": "on", "hostNetwork": "on", "hostPath": "/"})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert (
        "runAsUser: 0 (root) is not allowed in this tenant (Pod Security level restricted): container &quot;web&quot;"
        in text
    )
    assert nothing_created(cluster, project, "web")
    entry = OperationLogEntry.objects.get(action="app.deploy")
    assert entry.result == "failed" and "Pod Security level restricted" in entry.error


def test_import_of_a_pod_that_owns_the_node_is_refused_and_nothing_is_created(client, cluster, project, dev):
    client.force_login(dev)
    url = reverse("workloads:app_import", args=["acme", project.name])
    for confirm in ("", "yes"):  # the preview and the import itself
        refused = client.post(url, {"manifests": ROOT_ON_THE_NODE, "confirm": confirm})
        assert refused.status_code == 400
        text = refused.content.decode()
        for message in (
            "hostNetwork: true is not allowed in this tenant (Pod Security level restricted)",
            "hostPID: true is not allowed in this tenant (Pod Security level restricted)",
            "privileged containers are not allowed in this tenant (Pod Security level restricted): "
            "container &quot;shell&quot;",
            "hostPath volumes are not allowed in this tenant (Pod Security level restricted): volume &quot;root&quot;",
            "runAsUser: 0 (root) is not allowed in this tenant (Pod Security level restricted)",
            "securityContext.allowPrivilegeEscalation must be false",
        ):
            assert message in text, message
        assert "Deployment node-shell:" in text
    assert nothing_created(cluster, project, "node-shell")
    assert OperationLogEntry.objects.get(action="app.import").result == "failed"


def test_a_normal_deploy_and_a_hardened_import_run_under_restricted(client, cluster, project, dev):
    client.force_login(dev)
    assert client.post(reverse("workloads:app_add", args=["acme", project.name]), FORM).status_code == 302
    assert run(Job.objects.get(kind="app.deploy")).status == "succeeded"
    imported = client.post(
        reverse("workloads:app_import", args=["acme", project.name]), {"manifests": HARDENED, "confirm": "yes"}
    )
    assert imported.status_code == 302
    assert run(Job.objects.get(kind="app.import")).status == "succeeded"
    with ClusterAPI(cluster) as api:
        pods = api.list("Pod", project.name)
        deployment = api.get("Deployment", "web", project.name)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"] == podsecurity.RESTRICTED_CONTEXT
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)  # the cluster admitted them


def test_only_operators_choose_baseline_and_the_namespaces_follow(client, cluster, project, dev, operator):
    acme = project.tenant
    edit = reverse("tenants:tenant_edit", args=["acme"])
    form = {
        "display_name": "Acme",
        "contact": "",
        "clusters": [cluster.pk],
        "time_zone": "Asia/Shanghai",
        "max_namespaces": "",
        "limit_cpu": "8",
        "limit_memory": "16Gi",
        "limit_pods": "40",
        "limit_storage": "50Gi",
        "quota_cpu": "2",
        "quota_memory": "4Gi",
        "quota_pods": "10",
        "quota_storage": "10Gi",
        "lr_request_cpu": "100m",
        "lr_limit_cpu": "500m",
        "lr_request_memory": "64Mi",
        "lr_limit_memory": "256Mi",
        "pod_security": "baseline",
    }
    client.force_login(dev)
    assert client.post(edit, form).status_code == 403
    with pytest.raises(PermissionError):
        tenant_services.update_tenant(
            acme,
            acting_user=dev,
            display_name="Acme",
            contact="",
            clusters=[cluster],
            limits=acme.limits,
            max_namespaces=None,
            default_quota={},
            default_limit_range={},
            time_zone="UTC",
            pod_security="baseline",
        )
    client.force_login(operator)
    assert client.post(edit, {**form, "pod_security": "privileged"}).status_code == 400
    assert client.post(edit, form).status_code == 302
    acme.refresh_from_db()
    assert acme.pod_security == "baseline"
    assert (
        "Baseline (no privileged or host access)"
        in client.get(reverse("tenants:tenant", args=["acme"])).content.decode()
    )
    entry = OperationLogEntry.objects.get(action="tenant.update", result="succeeded")
    assert entry.before["pod_security"] == "restricted" and entry.after["pod_security"] == "baseline"
    # the namespace keeps its labels until it is provisioned again, which the change queued
    assert namespace_labels(cluster, project.name)["enforce"] == "restricted"
    job = Job.objects.get(pk=entry.after["reprovisioning"][0])
    assert run_tenant(job).status == "succeeded"
    assert namespace_labels(cluster, project.name) == {
        "enforce": "baseline",
        "enforce-version": "latest",
        "warn": "baseline",
        "warn-version": "latest",
        "audit": "baseline",
        "audit-version": "latest",
    }
    # baseline runs root where restricted refused it, and still refuses the node
    client.force_login(dev)
    assert (
        client.post(reverse("workloads:app_add", args=["acme", project.name]), {**FORM, "run_as_user": "0"}).status_code
        == 302
    )
    assert run(Job.objects.get(kind="app.deploy")).status == "succeeded"
    refused = client.post(reverse("workloads:app_import", args=["acme", project.name]), {"manifests": ROOT_ON_THE_NODE})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "hostPath volumes are not allowed in this tenant (Pod Security level baseline)" in text
    assert "hostPID: true is not allowed in this tenant (Pod Security level baseline)" in text
    assert "runAsUser: 0 (root) is not allowed" not in text  # root is the baseline's to allow
