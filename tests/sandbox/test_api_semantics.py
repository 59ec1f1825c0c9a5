"""Object semantics as the official Python client sees them: discovery, patches in all four
flavours, dry runs, validation, delete propagation, finalizers, namespaces, quota, selectors,
pagination and watch."""

import json
import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from .helpers import body, deployment, wait_for


@pytest.fixture(scope="module")
def ns(core):
    core.create_namespace({"metadata": {"name": "sem"}})
    return "sem"


def raw(api, method, path, body=None, headers=None, query=None):
    response = api.call_api(
        *api.param_serialize(
            method,
            path,
            query_params=query or [],
            header_params=headers or {},
            body=body,
            auth_settings=["BearerToken"],
        )
    )
    response.read()
    return response.status, json.loads(response.data or b"{}")


def test_discovery_lists_kinds_short_names_and_subresources(api):
    status, core_list = raw(api, "GET", "/api/v1")
    pods = next(r for r in core_list["resources"] if r["name"] == "pods")
    assert status == 200 and pods["shortNames"] == ["po"] and pods["namespaced"] and "watch" in pods["verbs"]
    assert {"pods/log", "pods/status", "pods/eviction"} <= {r["name"] for r in core_list["resources"]}
    _, apps_list = raw(api, "GET", "/apis/apps/v1")
    scale = next(r for r in apps_list["resources"] if r["name"] == "deployments/scale")
    assert scale["kind"] == "Scale" and scale["group"] == "autoscaling"
    assert next(r for r in apps_list["resources"] if r["name"] == "deployments")["shortNames"] == ["deploy"]
    _, groups = raw(api, "GET", "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {
        "apps",
        "batch",
        "networking.k8s.io",
        "autoscaling",
        "storage.k8s.io",
        "snapshot.storage.k8s.io",
        "metrics.k8s.io",
    } <= names
    assert client.VersionApi(api).get_code().git_version.startswith("v1.37")


def test_table_output_as_kubectl_asks(api, ns, core):
    core.create_namespaced_config_map(ns, {"metadata": {"name": "tabled"}, "data": {"a": "1", "b": "2"}})
    status, table = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "tabled")
    assert row["cells"][1] == 2 and row["object"]["metadata"]["name"] == "tabled"


def test_create_conflict_not_found_invalid_and_bad_json(api, core, apps, ns):
    created = core.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"}, "data": {"a": "1"}})
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) == 9 and created.metadata.uid
    with pytest.raises(ApiException) as missing_containers:
        core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": []}})
    status = body(missing_containers.value)
    assert missing_containers.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers",
    }
    bad = deployment("bad")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as mismatch:
        apps.create_namespaced_deployment(ns, bad)
    assert mismatch.value.status == 422 and "`selector` does not match template `labels`" in mismatch.value.body
    with pytest.raises(ApiException) as no_image:
        core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})
    assert body(no_image.value)["details"]["causes"][0]["field"] == "spec.containers[0].image"
    status, answer = raw(
        api,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        body="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and answer["kind"] == "Status" and answer["reason"] == "BadRequest"
    status, answer = raw(api, "POST", f"/api/v1/namespaces/{ns}/configmaps/named", body={})
    assert status == 405 and answer["reason"] == "MethodNotAllowed"
    with pytest.raises(ApiException) as nope:
        apps.read_namespaced_deployment("nope", ns)
    assert nope.value.status == 404 and body(nope.value)["message"] == 'deployments.apps "nope" not found'


def test_generation_changes_on_spec_only(apps, ns):
    apps.create_namespaced_deployment(ns, deployment("gen", replicas=1))
    first = apps.read_namespaced_deployment("gen", ns)
    apps.patch_namespaced_deployment("gen", ns, {"metadata": {"labels": {"x": "y"}}})
    assert apps.read_namespaced_deployment("gen", ns).metadata.generation == first.metadata.generation
    apps.patch_namespaced_deployment("gen", ns, {"spec": {"replicas": 2}})
    assert apps.read_namespaced_deployment("gen", ns).metadata.generation == first.metadata.generation + 1
    assert wait_for(
        lambda: apps.read_namespaced_deployment("gen", ns).status.observed_generation == first.metadata.generation + 1
    )


def test_four_patch_flavours(apps, ns):
    apps.create_namespaced_deployment(ns, deployment("patched", replicas=1))
    merge = apps.patch_namespaced_deployment(
        "patched",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:1"}]}}}},
        _content_type="application/merge-patch+json",
    )
    assert [c.name for c in merge.spec.template.spec.containers] == ["side"]  # merge patch replaces lists
    strategic = apps.patch_namespaced_deployment(
        "patched",
        ns,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "main", "image": "nginx:1.28", "env": [{"name": "A", "value": "1"}]}]
                    }
                }
            }
        },
        _content_type="application/strategic-merge-patch+json",
    )
    assert [(c.name, c.image) for c in strategic.spec.template.spec.containers] == [
        ("side", "busybox:1"),
        ("main", "nginx:1.28"),
    ]
    deleted = apps.patch_namespaced_deployment(
        "patched", ns, {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}
    )
    assert [c.name for c in deleted.spec.template.spec.containers] == ["main"]
    json_patched = apps.patch_namespaced_deployment(
        "patched",
        ns,
        [
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels", "value": {"via": "json-patch"}},
        ],
        _content_type="application/json-patch+json",
    )
    assert json_patched.spec.replicas == 3 and json_patched.metadata.labels == {"via": "json-patch"}
    with pytest.raises(ApiException) as failed_test:
        apps.patch_namespaced_deployment(
            "patched",
            ns,
            [{"op": "test", "path": "/spec/replicas", "value": 9}],
            _content_type="application/json-patch+json",
        )
    assert failed_test.value.status == 422
    ssa = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "patched", "annotations": {"owner": "ssa"}},
        "spec": {"replicas": 4},
    }
    with pytest.raises(ApiException) as taken:  # the JSON patch above made the client (an Update manager) own replicas
        apps.patch_namespaced_deployment(
            "patched", ns, ssa, field_manager="tester", _content_type="application/apply-patch+yaml"
        )
    assert taken.value.status == 409
    assert body(taken.value)["message"] == (
        'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using apps/v1: .spec.replicas'
    )
    applied = apps.patch_namespaced_deployment(
        "patched", ns, ssa, field_manager="tester", force=True, _content_type="application/apply-patch+yaml"
    )
    assert applied.spec.replicas == 4 and applied.metadata.annotations["owner"] == "ssa"
    assert any(m.manager == "tester" and m.operation == "Apply" for m in applied.metadata.managed_fields)
    with pytest.raises(ApiException) as clash:
        apps.patch_namespaced_deployment(
            "patched",
            ns,
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "patched"}, "spec": {"replicas": 5}},
            field_manager="other",
            _content_type="application/apply-patch+yaml",
        )
    assert clash.value.status == 409
    assert body(clash.value)["message"] == 'Apply failed with 1 conflict: conflict with "tester": .spec.replicas'
    forced = apps.patch_namespaced_deployment(
        "patched",
        ns,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "patched"}, "spec": {"replicas": 5}},
        field_manager="other",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert forced.spec.replicas == 5


def test_dry_run_validates_but_stores_nothing(core, ns):
    preview = core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}, "data": {"a": "1"}}, dry_run="All")
    assert preview.metadata.name == "dry" and preview.metadata.uid
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("dry", ns)
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "Dry!"}}, dry_run="All")
    assert invalid.value.status == 422
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}, "data": {"a": "1"}})
    patched = core.patch_namespaced_config_map("dry", ns, {"data": {"a": "2"}}, dry_run="All")
    assert patched.data == {"a": "2"} and core.read_namespaced_config_map("dry", ns).data == {"a": "1"}
    core.delete_namespaced_config_map("dry", ns, dry_run="All")
    assert core.read_namespaced_config_map("dry", ns).data == {"a": "1"}


def test_stale_update_conflicts(core, ns):
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cas"}, "data": {"v": "1"}})
    seen = core.read_namespaced_config_map("cas", ns)
    core.patch_namespaced_config_map("cas", ns, {"data": {"v": "2"}})
    seen.data = {"v": "3"}
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("cas", ns, seen)
    assert stale.value.status == 409 and body(stale.value)["reason"] == "Conflict"


def test_delete_propagation_orphan_foreground_background(apps, core, ns):
    for name in ("orphaned", "foreground", "background"):
        apps.create_namespaced_deployment(ns, deployment(name, replicas=1))
    assert wait_for(
        lambda: all(
            apps.read_namespaced_deployment(n, ns).status.ready_replicas == 1
            for n in ("orphaned", "foreground", "background")
        )
    )

    def replicasets(app):
        return apps.list_namespaced_replica_set(ns, label_selector=f"app={app}").items

    apps.delete_namespaced_deployment("orphaned", ns, propagation_policy="Orphan")
    orphan = replicasets("orphaned")
    assert len(orphan) == 1 and not orphan[0].metadata.owner_references
    apps.delete_namespaced_deployment("foreground", ns, propagation_policy="Foreground")
    held = apps.read_namespaced_deployment("foreground", ns)  # waits for its dependents
    assert held.metadata.deletion_timestamp and "foregroundDeletion" in held.metadata.finalizers
    assert wait_for(
        lambda: (
            not core.list_namespaced_pod(ns, label_selector="app=foreground").items
            and not apps.list_namespaced_deployment(ns, field_selector="metadata.name=foreground").items
        )
    )
    apps.delete_namespaced_deployment("background", ns)
    assert wait_for(
        lambda: (
            not replicasets("background") and not core.list_namespaced_pod(ns, label_selector="app=background").items
        )
    )
    assert core.list_namespaced_pod(ns, label_selector="app=orphaned").items  # orphans live on


def test_finalizers_hold_deletion(core, ns):
    core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("held", ns)
    held = core.read_namespaced_config_map("held", ns)
    assert held.metadata.deletion_timestamp
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", ns)
    assert gone.value.status == 404


def namespace_gone(core, name):
    try:
        core.read_namespace(name)
    except ApiException as exc:
        return exc.status == 404
    return False


def test_namespace_termination(core, apps):
    core.create_namespace({"metadata": {"name": "doomed"}})
    apps.create_namespaced_deployment("doomed", deployment("web", replicas=2))
    assert wait_for(lambda: len(core.list_namespaced_pod("doomed").items) == 2)
    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    with pytest.raises(ApiException) as forbidden:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "late"}})
    assert forbidden.value.status == 403 and "because it is being terminated" in forbidden.value.body

    assert wait_for(lambda: namespace_gone(core, "doomed"))


def test_a_terminating_namespace_survives_status_updates_until_it_is_empty(core):
    """The namespace controller writes conditions on a terminating namespace; such an
    update must not complete the deletion (namespaces have no metadata finalizers)."""
    core.create_namespace({"metadata": {"name": "held-open"}})
    core.create_namespaced_config_map("held-open", {"metadata": {"name": "pin", "finalizers": ["example.com/hold"]}})
    core.delete_namespace("held-open")

    def content_remaining():
        conditions = core.read_namespace("held-open").status.conditions or []
        return any(c.type == "NamespaceContentRemaining" for c in conditions)

    assert wait_for(content_remaining)
    assert core.read_namespace("held-open").status.phase == "Terminating"
    core.patch_namespaced_config_map("pin", "held-open", {"metadata": {"finalizers": None}})

    assert wait_for(lambda: namespace_gone(core, "held-open"))


def test_quota_admission_and_status(core, ns):
    core.create_namespace({"metadata": {"name": "quota"}})
    core.create_namespaced_resource_quota(
        "quota", {"metadata": {"name": "compute"}, "spec": {"hard": {"pods": "2", "configmaps": "10"}}}
    )
    pod = {"spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}
    for i in range(2):
        core.create_namespaced_pod("quota", {"metadata": {"name": f"p{i}"}, **pod})
    with pytest.raises(ApiException) as over:
        core.create_namespaced_pod("quota", {"metadata": {"name": "p2"}, **pod})
    assert over.value.status == 403
    assert (
        body(over.value)["message"]
        == 'pods "p2" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2'
    )
    assert wait_for(
        lambda: (core.read_namespaced_resource_quota("compute", "quota").status.used or {}).get("pods") == "2"
    )
    assert core.read_namespaced_resource_quota("compute", "quota").status.hard == {"pods": "2", "configmaps": "10"}
    core.create_namespace({"metadata": {"name": "quota-cpu"}})
    core.create_namespaced_resource_quota(
        "quota-cpu", {"metadata": {"name": "cpu"}, "spec": {"hard": {"requests.cpu": "1"}}}
    )
    with pytest.raises(ApiException) as unspecified:
        core.create_namespaced_pod("quota-cpu", {"metadata": {"name": "p3"}, **pod})
    assert (
        body(unspecified.value)["message"]
        == 'pods "p3" is forbidden: failed quota: cpu: must specify requests.cpu for: c'
    )
    sized = {"spec": {"containers": [{"name": "c", "image": "busybox:1", "resources": {"requests": {"cpu": "600m"}}}]}}
    core.create_namespaced_pod("quota-cpu", {"metadata": {"name": "p4"}, **sized})
    with pytest.raises(ApiException) as too_big:
        core.create_namespaced_pod("quota-cpu", {"metadata": {"name": "p5"}, **sized})
    assert body(too_big.value)["message"] == (
        'pods "p5" is forbidden: exceeded quota: cpu, requested: requests.cpu=600m, '
        "used: requests.cpu=600m, limited: requests.cpu=1"
    )


def test_selectors_field_selectors_and_pagination(core, ns):
    core.create_namespace({"metadata": {"name": "labels"}})
    for i in range(7):
        core.create_namespaced_config_map(
            "labels", {"metadata": {"name": f"cm-{i}", "labels": {"n": str(i), "tier": "a" if i < 3 else "b"}}}
        )

    def names(selector):
        return [c.metadata.name for c in core.list_namespaced_config_map("labels", label_selector=selector).items]

    assert names("tier=a") == ["cm-0", "cm-1", "cm-2"]
    assert names("tier!=a,n") == ["cm-3", "cm-4", "cm-5", "cm-6"]
    assert names("n notin (0,1,2,3,4),tier") == ["cm-5", "cm-6"]
    assert wait_for(lambda: "kube-root-ca.crt" in names("!n"))
    assert [
        c.metadata.name for c in core.list_namespaced_config_map("labels", field_selector="metadata.name=cm-4").items
    ] == ["cm-4"]
    with pytest.raises(ApiException) as unsupported:
        core.list_namespaced_config_map("labels", field_selector="data.x=1")
    assert unsupported.value.status == 400
    pages, token = [], None
    while True:
        page = core.list_namespaced_config_map("labels", label_selector="n", limit=3, _continue=token)
        pages.append([c.metadata.name for c in page.items])
        token = page.metadata._continue
        if not token:
            break
    assert pages == [["cm-0", "cm-1", "cm-2"], ["cm-3", "cm-4", "cm-5"], ["cm-6"]]
    running = core.list_pod_for_all_namespaces(field_selector="status.phase=Running,spec.nodeName=sandbox-node-1").items
    assert running and all(p.spec.node_name == "sandbox-node-1" and p.status.phase == "Running" for p in running)


def test_events_by_involved_object(core, apps, ns):
    apps.create_namespaced_deployment(ns, deployment("eventful", replicas=1))
    assert wait_for(lambda: core.list_namespaced_pod(ns, label_selector="app=eventful").items)
    pod = core.list_namespaced_pod(ns, label_selector="app=eventful").items[0]
    events = wait_for(
        lambda: [
            e
            for e in core.list_namespaced_event(ns, field_selector=f"involvedObject.name={pod.metadata.name}").items
            if e.reason == "Started"
        ]
    )
    assert events and events[0].involved_object.kind == "Pod" and events[0].count >= 1 and events[0].first_timestamp
    reasons = {
        e.reason
        for e in core.list_namespaced_event(ns, field_selector=f"involvedObject.name={pod.metadata.name}").items
    }
    assert {"Scheduled", "Pulling", "Pulled", "Created", "Started"} <= reasons


def test_watch_selector_transitions_bookmarks_and_gone(core, ns, sandbox):
    core.create_namespace({"metadata": {"name": "watched"}})
    start = core.list_namespaced_config_map("watched").metadata.resource_version

    def writes():
        core.create_namespaced_config_map("watched", {"metadata": {"name": "w", "labels": {"keep": "yes"}}})
        core.patch_namespaced_config_map("w", "watched", {"metadata": {"labels": {"keep": "no"}}})

    threading.Timer(0.2, writes).start()
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map,
        "watched",
        resource_version=start,
        label_selector="keep=yes",
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    ):
        seen.append(event["type"])
        if "DELETED" in seen and "BOOKMARK" in seen:
            break
    assert seen.index("ADDED") < seen.index("DELETED")  # leaving the selector reads as DELETED
    saved = sandbox.store.oldest_rv
    sandbox.store.oldest_rv = sandbox.store.rv
    try:
        with pytest.raises(ApiException) as gone:
            list(
                watch.Watch().stream(
                    core.list_namespaced_config_map, "watched", resource_version=start, timeout_seconds=2
                )
            )
        assert gone.value.status == 410
    finally:
        sandbox.store.oldest_rv = saved


def test_window_expiry_is_410(sandbox, core):
    from console.sandbox.store import Store

    small = Store(event_window=5)
    from console.sandbox.kinds import STORED

    small.namespace_gate = False
    for i in range(10):
        small.create(STORED["configmaps"], "x", {"metadata": {"name": f"c{i}"}})
    from console.sandbox.errors import Expired

    with pytest.raises(Expired):
        small.subscribe(STORED["configmaps"], "x", "2")
    assert small.subscribe(STORED["configmaps"], "x", str(small.rv - 3)).queue


def test_scale_subresource_and_eviction(api, apps, core, ns):
    apps.create_namespaced_deployment(ns, deployment("scaled", replicas=1))
    scale = apps.read_namespaced_deployment_scale("scaled", ns)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=scaled"
    apps.patch_namespaced_deployment_scale("scaled", ns, {"spec": {"replicas": 3}})
    assert wait_for(
        lambda: (
            len(
                [
                    p
                    for p in core.list_namespaced_pod(ns, label_selector="app=scaled").items
                    if p.status.phase == "Running"
                ]
            )
            == 3
        )
    )
    victim = core.list_namespaced_pod(ns, label_selector="app=scaled").items[0].metadata.name
    core.create_namespaced_pod_eviction(victim, ns, {"metadata": {"name": victim, "namespace": ns}})
    assert wait_for(
        lambda: victim not in [p.metadata.name for p in core.list_namespaced_pod(ns, label_selector="app=scaled").items]
    )


def test_tokens(sandbox):
    bad = config.new_client_from_config_dict(sandbox.kubeconfig("wrong-token"))
    with pytest.raises(ApiException) as unauthorised:
        client.CoreV1Api(bad).list_node()
    assert unauthorised.value.status == 401 and body(unauthorised.value)["reason"] == "Unauthorized"
    viewer = client.CoreV1Api(config.new_client_from_config_dict(sandbox.kubeconfig(sandbox.read_only_token)))
    assert viewer.list_node().items
    with pytest.raises(ApiException) as forbidden:
        viewer.create_namespace({"metadata": {"name": "nope"}})
    assert forbidden.value.status == 403
    assert body(forbidden.value)["message"] == (
        'namespaces is forbidden: User "sandbox:viewer" cannot create resource "namespaces" '
        'in API group "" at the cluster scope'
    )
    nobody = client.CoreV1Api(config.new_client_from_config_dict(sandbox.kubeconfig(sandbox.no_access_token)))
    with pytest.raises(ApiException) as no_rights:
        nobody.list_node()
    assert no_rights.value.status == 403 and "system:serviceaccount:default:nobody" in no_rights.value.body
