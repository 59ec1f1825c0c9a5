"""The sandbox behaves like a Kubernetes API server for clients nobody here wrote:
the official Python client and kubectl 1.37."""

import threading
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from .helpers import kubectl, wait_for


def test_version_nodes_and_readiness(api, core):
    assert client.VersionApi(api).get_code().git_version.startswith("v1.37")
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == ["sandbox-node-1", "sandbox-node-2", "sandbox-node-3"]
    assert all(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes)


def test_object_semantics(core):
    core.create_namespace({"metadata": {"name": "semantics"}})
    created = core.create_namespaced_config_map("semantics", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    assert created.metadata.uid and int(created.metadata.resource_version) > 0
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("semantics", {"metadata": {"name": "cfg"}})
    assert exists.value.status == 409 and "already exists" in exists.value.body
    stale = {"metadata": {"name": "cfg", "resourceVersion": "1"}, "data": {"a": "2"}}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("cfg", "semantics", stale)
    assert conflict.value.status == 409 and "has been modified" in conflict.value.body
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map("semantics", {"metadata": {"name": "Bad_Name"}})
    assert invalid.value.status == 422 and "RFC 1123" in invalid.value.body
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "semantics")
    assert missing.value.status == 404
    patched = core.patch_namespaced_config_map("cfg", "semantics", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)


def test_selectors_and_pagination(core):
    core.create_namespace({"metadata": {"name": "paging"}})
    for i in range(7):
        core.create_namespaced_config_map(
            "paging", {"metadata": {"name": f"cm-{i}", "labels": {"n": str(i), "even": str(i % 2 == 0).lower()}}}
        )
    assert len(core.list_namespaced_config_map("paging", label_selector="even=true").items) == 4
    assert [c.metadata.name for c in core.list_namespaced_config_map("paging", label_selector="n in (1,2)").items] == [
        "cm-1",
        "cm-2",
    ]
    assert len(core.list_namespaced_config_map("paging", field_selector="metadata.name=cm-3").items) == 1
    names, token = [], None
    while True:
        page = core.list_namespaced_config_map("paging", limit=3, _continue=token, label_selector="n")
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"cm-{i}" for i in range(7)]


def config_map_events(core, namespace, start, seconds):
    """A watch of the namespace's config maps from resourceVersion start, with bookmarks."""
    return watch.Watch().stream(
        core.list_namespaced_config_map,
        namespace,
        resource_version=start,
        allow_watch_bookmarks=True,
        timeout_seconds=seconds,
    )


def test_watch_streams_changes_bookmarks_and_410(core, sandbox):
    core.create_namespace({"metadata": {"name": "watching"}})
    start = core.list_namespaced_config_map("watching").metadata.resource_version
    threading.Timer(0.3, lambda: core.create_namespaced_config_map("watching", {"metadata": {"name": "w1"}})).start()
    seen = []
    for event in config_map_events(core, "watching", start, 3):
        seen.append((event["type"], event["object"].metadata.name if event["type"] != "BOOKMARK" else None))
        if ("BOOKMARK", None) in seen and ("ADDED", "w1") in seen:
            break
    assert ("ADDED", "w1") in seen and ("BOOKMARK", None) in seen
    sandbox.store.oldest_rv = sandbox.store.rv  # pretend the event window moved on
    with pytest.raises(ApiException) as gone:
        list(
            watch.Watch().stream(core.list_namespaced_config_map, "watching", resource_version=start, timeout_seconds=2)
        )
    assert gone.value.status == 410
    sandbox.store.oldest_rv = 0


def test_deployment_rolls_out_pods_and_cascades(apps, core):
    core.create_namespace({"metadata": {"name": "rollout"}})
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        "rollout",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
    )
    assert wait_for(
        lambda: (apps.read_namespaced_deployment("web", "rollout").status.ready_replicas or 0) == 2, timeout=10
    )
    pods = core.list_namespaced_pod("rollout").items
    assert {p.status.phase for p in pods} == {"Running"} and all(p.spec.node_name for p in pods)
    assert pods[0].metadata.owner_references[0].kind == "ReplicaSet"
    apps.delete_namespaced_deployment("web", "rollout", propagation_policy="Background")
    assert wait_for(lambda: not core.list_namespaced_pod("rollout").items, timeout=10)


def test_bad_token_is_401_and_read_only_token_is_403(sandbox):
    bad = config.new_client_from_config_dict(sandbox.kubeconfig("wrong-token"))
    with pytest.raises(ApiException) as unauthorised:
        client.CoreV1Api(bad).list_node()
    assert unauthorised.value.status == 401
    viewer = client.CoreV1Api(config.new_client_from_config_dict(sandbox.kubeconfig(sandbox.read_only_token)))
    assert viewer.list_node().items
    with pytest.raises(ApiException) as forbidden:
        viewer.create_namespace({"metadata": {"name": "nope"}})
    assert forbidden.value.status == 403


def test_kubectl_reads_applies_and_scales(sandbox, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text("""apiVersion: v1
kind: Namespace
metadata: {name: kubectl-demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: kubectl-demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "registry.local/api:1"}]}
""")
    # --validate=false: the sandbox publishes no OpenAPI schema for kubectl's client-side validation
    applied = kubectl(sandbox, "apply", "--server-side", "--validate=false", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/api" in applied.stdout
    nodes = kubectl(sandbox, "get", "nodes", "-o", "name")
    assert nodes.stdout.split() == ["node/sandbox-node-1", "node/sandbox-node-2", "node/sandbox-node-3"]
    scaled = kubectl(sandbox, "scale", "deployment/api", "-n", "kubectl-demo", "--replicas=3")
    assert scaled.returncode == 0, scaled.stderr
    assert wait_for(
        lambda: len(kubectl(sandbox, "get", "pods", "-n", "kubectl-demo", "-o", "name").stdout.split()) == 3, timeout=10
    )
    missing = kubectl(sandbox, "get", "deployment", "nope", "-n", "kubectl-demo")
    assert missing.returncode == 1 and 'deployments.apps "nope" not found' in missing.stderr


def test_no_event_is_lost_around_bookmarks(core, sandbox):
    """Bookmarks only vouch for what was already sent (an event arriving during the quiet
    wait was once skipped by the bookmark after it)."""
    core.create_namespace({"metadata": {"name": "bookmarks"}})
    start = core.list_namespaced_config_map("bookmarks").metadata.resource_version
    sandbox.bookmark_seconds, saved = 0.05, sandbox.bookmark_seconds
    names = [f"cm-{i}" for i in range(25)]

    def create_slowly():
        for i, name in enumerate(names):
            time.sleep(0.02 * (i % 5))
            core.create_namespaced_config_map("bookmarks", {"metadata": {"name": name}})

    writer = threading.Thread(target=create_slowly)
    writer.start()
    seen = []
    try:
        for event in config_map_events(core, "bookmarks", start, 5):
            if event["type"] == "ADDED" and event["object"].metadata.name.startswith("cm-"):  # not kube-root-ca.crt
                seen.append(event["object"].metadata.name)
            if len(seen) == len(names):
                break
    finally:
        writer.join()
        sandbox.bookmark_seconds = saved
    assert seen == names
