"""Server-side apply ownership and conflicts, as a real API server keeps them: kubectl 1.37's
own commands (apply --server-side, --field-manager, --force-conflicts, scale, create, label)
and raw HTTP for the exact shape of metadata.managedFields and of the 409 Status."""

import json
import ssl
import urllib.error
import urllib.request

import pytest

from .helpers import kubectl, wait_for

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: main
        image: {image}
        ports: [{{containerPort: 80}}]
"""


def manifest(tmp_path, name, namespace, replicas=2, image="nginx:1.27"):
    path = tmp_path / f"{name}-{replicas}-{image.replace(':', '-').replace('/', '-')}.yaml"
    path.write_text(DEPLOYMENT.format(name=name, namespace=namespace, replicas=replicas, image=image))
    return str(path)


def request(sandbox, method, path, body=None, content_type="application/json", query=""):
    """(status, JSON body) of one raw request, keys in the order the server wrote them."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{sandbox.url}{path}{'?' + query if query else ''}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {sandbox.token}", "Content-Type": content_type},
    )
    context = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def apply(sandbox, path, obj, manager, force=None):
    """A server-side apply over raw HTTP (JSON is YAML too)."""
    query = f"fieldManager={manager}" + ("" if force is None else f"&force={'true' if force else 'false'}")
    return request(sandbox, "PATCH", path, obj, "application/apply-patch+yaml", query)


def managed(obj):
    """{(manager, operation, subresource): fieldsV1}"""
    return {
        (m["manager"], m["operation"], m.get("subresource", "")): m["fieldsV1"]
        for m in obj["metadata"].get("managedFields") or []
    }


def get(sandbox, kind, name, namespace):
    done = kubectl(sandbox, "get", kind, name, "-n", namespace, "-o", "json", "--show-managed-fields")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def namespace(sandbox):
    assert kubectl(sandbox, "create", "namespace", "ssa").returncode == 0
    return "ssa"


def test_second_manager_conflicts_shares_equal_values_and_forces(sandbox, namespace, tmp_path):
    first = kubectl(sandbox, "apply", "--server-side", "-f", manifest(tmp_path, "owned", namespace))
    assert first.returncode == 0 and "deployment.apps/owned serverside-applied" in first.stdout, first.stderr

    clash = kubectl(
        sandbox, "apply", "--server-side", "--field-manager=other", "-f", manifest(tmp_path, "owned", namespace, 3)
    )
    assert clash.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in clash.stderr
    assert "--force-conflicts" in clash.stderr  # kubectl's own advice follows the server's message
    live = get(sandbox, "deployment", "owned", namespace)
    assert live["spec"]["replicas"] == 2 and set(managed(live)) == {("kubectl", "Apply", "")}

    # the same over raw HTTP: the Status a real server answers with
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "owned"}, "spec": {"replicas": 3}}
    status, answer = apply(
        sandbox, f"/apis/apps/v1/namespaces/{namespace}/deployments/owned", config, "other", force=False
    )
    assert status == 409
    assert answer == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas',
        "reason": "Conflict",
        "details": {
            "causes": [
                {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"', "field": ".spec.replicas"}
            ]
        },
        "code": 409,
    }

    # an equal value is no conflict: both managers own the field
    shared = kubectl(
        sandbox, "apply", "--server-side", "--field-manager=other", "-f", manifest(tmp_path, "owned", namespace)
    )
    assert shared.returncode == 0, shared.stderr
    owners = managed(get(sandbox, "deployment", "owned", namespace))
    assert "f:replicas" in owners[("kubectl", "Apply", "")]["f:spec"]
    assert "f:replicas" in owners[("other", "Apply", "")]["f:spec"]

    forced = kubectl(
        sandbox,
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        manifest(tmp_path, "owned", namespace, 3, "nginx:1.28"),
    )
    assert forced.returncode == 0, forced.stderr
    live = get(sandbox, "deployment", "owned", namespace)
    assert live["spec"]["replicas"] == 3 and live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    owners = managed(live)
    other = owners[("other", "Apply", "")]["f:spec"]
    assert "f:replicas" in other and "f:image" in other["f:template"]["f:spec"]["f:containers"]['k:{"name":"main"}']
    kubectl_fields = owners[("kubectl", "Apply", "")]["f:spec"]  # kubectl lost what moved, kept the rest
    assert "f:replicas" not in kubectl_fields and "f:selector" in kubectl_fields
    assert "f:image" not in kubectl_fields["f:template"]["f:spec"]["f:containers"]['k:{"name":"main"}']

    # kubectl re-applying its old values now conflicts with "other"
    back = kubectl(sandbox, "apply", "--server-side", "-f", manifest(tmp_path, "owned", namespace))
    assert back.returncode == 1
    assert (
        'Apply failed with 2 conflicts: conflicts with "other":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="main"].image'
    ) in back.stderr


def test_update_operations_own_what_they_change(sandbox, namespace, tmp_path):
    created = kubectl(
        sandbox, "create", "deployment", "made", "-n", namespace, "--image=nginx:1.27", "--port=80"
    )  # container "nginx"
    assert created.returncode == 0, created.stderr
    _, live = request(sandbox, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/made")  # kubectl sorts keys
    [entry] = live["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == (
        "kubectl-create",
        "Update",
        "apps/v1",
        "FieldsV1",
    )
    fields = entry["fieldsV1"]
    # a create owns what it set and the defaults; new maps, lists and items are owned themselves (".")
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    spec = fields["f:spec"]
    assert spec["f:selector"] == {} and spec["f:replicas"] == {}  # LabelSelector is atomic
    assert spec["f:strategy"] == {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}}
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert list(container)[:2] == [".", "f:image"]
    assert container["f:ports"] == {
        ".": {},
        'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:protocol": {}},
    }
    assert container["f:resources"] == {} and "f:imagePullPolicy" in container
    assert "." not in spec["f:template"]["f:spec"]["f:containers"]  # containers is never absent from a PodSpec

    scaled = kubectl(sandbox, "scale", "deployment/made", "-n", namespace, "--replicas=3")
    assert scaled.returncode == 0, scaled.stderr
    labelled = kubectl(sandbox, "label", "deployment/made", "-n", namespace, "team=blue")
    assert labelled.returncode == 0, labelled.stderr
    _, live = request(sandbox, "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/made")
    owners = managed(live)
    assert owners[("kubectl", "Update", "scale")] == {"f:spec": {"f:replicas": {}}}
    assert owners[("kubectl-label", "Update", "")] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    assert "f:replicas" not in owners[("kubectl-create", "Update", "")]["f:spec"]
    scale_entry = next(m for m in live["metadata"]["managedFields"] if m.get("subresource"))
    assert scale_entry["apiVersion"] == "apps/v1" and list(scale_entry)[-1] == "subresource"

    # applying other values conflicts with each Update manager, named as the server names them
    path = tmp_path / "made.yaml"
    path.write_text(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: made, namespace: {namespace}}}
spec:
  replicas: 5
  selector: {{matchLabels: {{app: made}}}}
  template:
    metadata: {{labels: {{app: made}}}}
    spec:
      containers: [{{name: nginx, image: "nginx:1.28"}}]
""")
    clash = kubectl(sandbox, "apply", "--server-side", "-f", str(path))
    assert clash.returncode == 1
    assert (
        'Apply failed with 2 conflicts: conflicts with "kubectl" with subresource "scale" using apps/v1:\n'
        '- .spec.replicas\nconflicts with "kubectl-create" using apps/v1:\n'
        '- .spec.template.spec.containers[name="nginx"].image'
    ) in clash.stderr
    status, answer = apply(
        sandbox,
        f"/apis/apps/v1/namespaces/{namespace}/deployments/made",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "made"}, "spec": {"replicas": 5}},
        "tester",
    )
    assert status == 409 and answer["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas'
    )
    assert answer["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "field": ".spec.replicas",
            "message": 'conflict with "kubectl" with subresource "scale" using apps/v1',
        }
    ]

    # an Update never conflicts: a patch takes the image from kubectl-create
    patched = kubectl(
        sandbox,
        "patch",
        "deployment/made",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.29"}]',
    )
    assert patched.returncode == 0, patched.stderr
    owners = managed(get(sandbox, "deployment", "made", namespace))
    image_owner = owners[("kubectl-patch", "Update", "")]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert image_owner == {'k:{"name":"nginx"}': {"f:image": {}}}
    assert (
        "f:image"
        not in owners[("kubectl-create", "Update", "")]["f:spec"]["f:template"]["f:spec"]["f:containers"][
            'k:{"name":"nginx"}'
        ]
    )


def test_dropping_a_field_from_the_configuration_releases_it(sandbox, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps/shared"

    def config(**data):
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shared"},
            **({"data": data} if data else {}),
        }

    status, obj = apply(sandbox, path, config(a="1", b="2"), "alpha")
    assert status == 201 and obj["data"] == {"a": "1", "b": "2"}
    status, obj = apply(sandbox, path, config(b="2", c="3"), "beta")
    assert status == 200 and managed(obj) == {
        ("alpha", "Apply", ""): {"f:data": {"f:a": {}, "f:b": {}}},
        ("beta", "Apply", ""): {"f:data": {"f:b": {}, "f:c": {}}},
    }

    # alpha lets go of b: beta still owns it, so it stays
    status, obj = apply(sandbox, path, config(a="1"), "alpha")
    assert status == 200 and obj["data"] == {"a": "1", "b": "2", "c": "3"}
    assert managed(obj)[("alpha", "Apply", "")] == {"f:data": {"f:a": {}}}

    # an Update manager's field stays too when an applier that shared it lets it go
    status, obj = request(
        sandbox, "PATCH", path, {"data": {"d": "4"}}, "application/merge-patch+json", "fieldManager=editor"
    )
    assert status == 200 and managed(obj)[("editor", "Update", "")] == {"f:data": {"f:d": {}}}
    assert apply(sandbox, path, config(a="1", d="4"), "alpha")[0] == 200
    status, obj = apply(sandbox, path, config(a="1"), "alpha")
    assert obj["data"]["d"] == "4" and managed(obj)[("alpha", "Apply", "")] == {"f:data": {"f:a": {}}}

    # a field only its applier owned goes with it; a manager left owning nothing is dropped
    status, obj = apply(sandbox, path, config(), "alpha")
    assert status == 200 and obj["data"] == {"b": "2", "c": "3", "d": "4"}
    assert ("alpha", "Apply", "") not in managed(obj)
    status, obj = apply(sandbox, path, config(), "beta")
    assert obj["data"] == {"d": "4"} and set(managed(obj)) == {("editor", "Update", "")}


def test_list_items_are_owned_by_key(sandbox, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/keyed"
    container = {
        "name": "app",
        "image": "nginx:1.27",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        "env": [{"name": "MODE", "value": "fast"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "keyed", "finalizers": ["example.com/keep"]},
        "spec": {
            "selector": {"matchLabels": {"app": "keyed"}},
            "template": {
                "metadata": {"labels": {"app": "keyed"}},
                "spec": {
                    "containers": [container, {"name": "side", "image": "busybox:1.36", "command": ["sleep", "1d"]}],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }
    status, obj = apply(sandbox, path, config, "keys")
    assert status == 201, obj
    [entry] = obj["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"example.com/keep"': {}}},
        "f:spec": {
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"app"}': {
                            ".": {},
                            "f:env": {'k:{"name":"MODE"}': {".": {}, "f:name": {}, "f:value": {}}},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":53,"protocol":"UDP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                    "f:protocol": {},
                                },
                                'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}},
                            },
                            "f:volumeMounts": {'k:{"mountPath":"/data"}': {".": {}, "f:mountPath": {}, "f:name": {}}},
                        },
                        'k:{"name":"side"}': {".": {}, "f:command": {}, "f:image": {}, "f:name": {}},
                    },
                    "f:volumes": {'k:{"name":"data"}': {".": {}, "f:emptyDir": {}, "f:name": {}}},
                },
            },
        },
    }

    # dropping a container, a port and the finalizer from the configuration removes them
    container = dict(container, ports=[{"containerPort": 80}])
    config["metadata"].pop("finalizers")
    config["spec"]["template"]["spec"]["containers"] = [container]
    status, obj = apply(sandbox, path, config, "keys")
    assert status == 200
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["app"]
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert "finalizers" not in obj["metadata"]

    # a Service's ports are keyed by port and protocol
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "dns"},
        "spec": {
            "selector": {"app": "dns"},
            "ports": [{"name": "udp", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53}],
        },
    }
    status, obj = apply(sandbox, f"/api/v1/namespaces/{namespace}/services/dns", service, "keys")
    assert status == 201
    assert obj["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"] == {
        "f:ports": {
            'k:{"port":53,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}},
            'k:{"port":53,"protocol":"UDP"}': {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}},
        },
        "f:selector": {},
    }  # a Service's selector is an atomic map

    # an item whose key repeats cannot be taken apart: a plain error, as on a real server
    twice = dict(
        config,
        metadata={"name": "keyed", "namespace": namespace},
        spec=dict(
            config["spec"],
            template={
                "metadata": {"labels": {"app": "keyed"}},
                "spec": {"containers": [{"name": "app", "image": "a"}, {"name": "app", "image": "b"}]},
            },
        ),
    )
    status, answer = apply(sandbox, path, twice, "keys")
    assert status == 500 and "reason" not in answer
    assert answer["message"] == (
        f"failed to create typed patch object ({namespace}/keyed; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers: duplicate entries for key [name="app"]'
    )


def test_client_side_apply_moves_to_server_side_apply(sandbox, namespace, tmp_path):
    """kubectl apply, then kubectl apply --server-side with a new replica count: the server lets
    `kubectl` take what the last-applied annotation still matches, and kubectl migrates the rest."""
    created = kubectl(sandbox, "apply", "-f", manifest(tmp_path, "moved", namespace))
    assert created.returncode == 0, created.stderr
    owners = managed(get(sandbox, "deployment", "moved", namespace))
    assert set(owners) == {("kubectl-client-side-apply", "Update", "")}
    assert (
        "f:kubectl.kubernetes.io/last-applied-configuration"
        in owners[("kubectl-client-side-apply", "Update", "")]["f:metadata"]["f:annotations"]
    )

    # another manager meets client-side apply's ownership as an Update manager's
    clash = kubectl(
        sandbox, "apply", "--server-side", "--field-manager=deployer", "-f", manifest(tmp_path, "moved", namespace, 3)
    )
    assert clash.returncode == 1
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
        in clash.stderr
    )

    moved = kubectl(sandbox, "apply", "--server-side", "-f", manifest(tmp_path, "moved", namespace, 4))
    assert moved.returncode == 0, moved.stderr
    live = get(sandbox, "deployment", "moved", namespace)
    assert live["spec"]["replicas"] == 4
    assert set(managed(live)) == {("kubectl", "Apply", ""), ("kubectl-last-applied", "Apply", "")}
    last_applied = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["spec"]["replicas"] == 4  # the server keeps kubectl's annotation up to date

    # the migration is no licence for another manager: it still conflicts
    clash = kubectl(
        sandbox, "apply", "--server-side", "--field-manager=deployer", "-f", manifest(tmp_path, "moved", namespace, 5)
    )
    assert clash.returncode == 1 and 'conflict with "kubectl": .spec.replicas' in clash.stderr


def test_first_apply_to_an_unowned_object_and_subresources(sandbox, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/bare"
    status, obj = request(
        sandbox,
        "POST",
        f"/apis/apps/v1/namespaces/{namespace}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bare"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "bare"}},
                "template": {
                    "metadata": {"labels": {"app": "bare"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
        query="fieldManager=maker",
    )
    assert status == 201
    # a list holding one empty entry resets managedFields (an empty list keeps them)
    status, obj = request(sandbox, "PATCH", path, {"metadata": {"managedFields": []}}, "application/merge-patch+json")
    assert set(managed(obj)) == {("maker", "Update", "")}
    status, obj = request(sandbox, "PATCH", path, {"metadata": {"managedFields": [{}]}}, "application/merge-patch+json")
    assert status == 200 and "managedFields" not in obj["metadata"]

    # the fields of an object nobody owns belong to "before-first-apply" on its first apply
    status, answer = apply(
        sandbox,
        path,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bare"}, "spec": {"replicas": 2}},
        "late",
    )
    assert status == 409
    assert (
        answer["message"]
        == 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas'
    )

    # applying the scale subresource owns spec.replicas with subresource "scale"
    status, scale = apply(
        sandbox,
        path + "/scale",
        {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "bare"}, "spec": {"replicas": 2}},
        "scaler",
        force=True,
    )
    assert status == 200 and scale["spec"]["replicas"] == 2
    status, obj = request(sandbox, "GET", path)
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "scaler")
    assert (entry["operation"], entry["apiVersion"], entry["subresource"], entry["fieldsV1"]) == (
        "Apply",
        "apps/v1",
        "scale",
        {"f:spec": {"f:replicas": {}}},
    )
    before = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "before-first-apply")
    assert "f:replicas" not in before["fieldsV1"]["f:spec"]

    # status writes are owned through the status subresource, and only status
    status, obj = request(
        sandbox,
        "PATCH",
        path + "/status",
        {"status": {"observedGeneration": 9}},
        "application/merge-patch+json",
        "fieldManager=reporter",
    )
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "reporter")
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}

    # what the API server refuses before looking at fields
    status, answer = request(
        sandbox, "PATCH", path, {"spec": {"replicas": 3}}, "application/merge-patch+json", "force=true"
    )
    assert status == 422 and answer["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'
    )
    status, answer = apply(
        sandbox,
        path,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bare", "managedFields": [{"manager": "x"}]},
        },
        "late",
    )
    assert status == 400 and answer["message"] == "metadata.managedFields must be nil"
    status, answer = apply(
        sandbox, path, {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "bare"}}, "late"
    )
    assert status == 400 and answer["message"] == (
        "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"
    )


def test_custom_resources_follow_their_schema(sandbox, namespace):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "parts": {
                                            "type": "array",
                                            "x-kubernetes-list-type": "map",
                                            "x-kubernetes-list-map-keys": ["name"],
                                            "items": {
                                                "type": "object",
                                                "properties": {
                                                    "name": {"type": "string"},
                                                    "count": {"type": "integer"},
                                                },
                                            },
                                        },
                                        "tags": {"type": "array", "items": {"type": "string"}},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    assert request(sandbox, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)[0] == 201
    path = f"/apis/example.com/v1/namespaces/{namespace}/widgets/w"

    def apply_parts(parts, force=None):
        """helper applies a configuration of only these spec.parts."""
        spec = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"parts": parts}}
        return apply(sandbox, path, spec, "helper", force)

    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "parts": [{"name": "a", "count": 1}, {"name": "b", "count": 2}], "tags": ["x"]},
    }
    status, obj = apply(sandbox, path, widget, "maker")
    assert status == 201, obj
    assert managed(obj)[("maker", "Apply", "")] == {
        "f:spec": {
            "f:parts": {
                'k:{"name":"a"}': {".": {}, "f:count": {}, "f:name": {}},
                'k:{"name":"b"}': {".": {}, "f:count": {}, "f:name": {}},
            },
            "f:size": {},
            "f:tags": {},
        }
    }  # lists without x-kubernetes-list-type are atomic

    # another applier adds a part of its own, and conflicts on one it does not own
    status, obj = apply_parts([{"name": "c", "count": 3}])
    assert status == 200 and [p["name"] for p in obj["spec"]["parts"]] == ["a", "b", "c"]
    status, answer = apply_parts([{"name": "b", "count": 5}])
    assert status == 409 and answer["message"] == (
        'Apply failed with 1 conflict: conflict with "maker": .spec.parts[name="b"].count'
    )
    # dropping part c from helper's configuration (it applied b with force now) removes c only
    status, obj = apply_parts([{"name": "b", "count": 5}], force=True)
    assert status == 200 and obj["spec"]["parts"] == [{"name": "a", "count": 1}, {"name": "b", "count": 5}]


def test_update_managers_are_capped_at_ten(sandbox, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps/crowded"
    assert (
        request(
            sandbox,
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"metadata": {"name": "crowded"}},
            query="fieldManager=maker",
        )[0]
        == 201
    )
    for n in range(11):
        status, obj = request(
            sandbox, "PATCH", path, {"data": {f"k{n}": "v"}}, "application/merge-patch+json", f"fieldManager=m{n:02}"
        )
        assert status == 200
    updaters = [m for m in obj["metadata"]["managedFields"] if m["operation"] == "Update"]
    assert len(updaters) == 10  # the oldest merged into one entry, nothing lost
    ancient = next(m for m in updaters if m["manager"] == "ancient-changes")
    owned = set(ancient["fieldsV1"]["f:data"]) | {
        f for m in updaters if m is not ancient for f in m["fieldsV1"].get("f:data", {})
    }
    assert owned - {"."} == {f"f:k{n}" for n in range(11)}  # "." : whoever added the data map owns it too


def test_autoscaler_owns_the_replicas_it_sets(sandbox, namespace, tmp_path):
    """The HPA controller scales through the scale subresource: an apply of another replica count
    then conflicts with it, as the well-known clash between manifests and autoscalers goes."""
    path = tmp_path / "busy.yaml"
    path.write_text(
        DEPLOYMENT.format(name="busy", namespace=namespace, replicas=1, image="busy:1").replace(
            "ports: [{containerPort: 80}]", "resources: {requests: {cpu: 100m}}"
        )
    )
    assert kubectl(sandbox, "apply", "--server-side", "-f", str(path)).returncode == 0
    assert wait_for(lambda: get(sandbox, "deployment", "busy", namespace).get("status", {}).get("readyReplicas") == 1)
    sandbox.set_pod_load(namespace, selector="app=busy", cpu="300m", memory="64Mi")
    done = kubectl(sandbox, "autoscale", "deployment/busy", "-n", namespace, "--max=3", "--cpu-percent=50")
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: get(sandbox, "deployment", "busy", namespace)["spec"]["replicas"] == 3, timeout=20)
    owners = managed(get(sandbox, "deployment", "busy", namespace))
    assert owners[("kube-controller-manager", "Update", "scale")] == {"f:spec": {"f:replicas": {}}}
    clash = kubectl(sandbox, "apply", "--server-side", "-f", str(path))
    assert clash.returncode == 1
    assert (
        'conflict with "kube-controller-manager" with subresource "scale" using apps/v1: .spec.replicas' in clash.stderr
    )


def test_dropping_the_last_metadata_field_keeps_metadata(sandbox, namespace):
    path = f"/api/v1/namespaces/{namespace}/configmaps/labelled"
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "labelled", "labels": {"tier": "web"}},
        "data": {"a": "1"},
    }
    status, obj = apply(sandbox, path, config, "only")
    assert status == 201
    # a controller's annotation, which no manager owns
    sandbox.store.mutate(
        sandbox.store.kinds["configmaps"],
        namespace,
        "labelled",
        lambda cm: cm["metadata"].setdefault("annotations", {}).update(note="kept"),
    )
    del config["metadata"]["labels"]
    status, obj = apply(sandbox, path, config, "only")
    assert status == 200 and "labels" not in obj["metadata"] and obj["metadata"]["annotations"] == {"note": "kept"}
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:a": {}}}
