"""The sandbox's Kubernetes protobuf codec: every schema'd kind round-trips, zero values and unknown
fields behave as with Go's generated code, and the server speaks protobuf both ways (request
bodies, and answers and Status errors when the client lists protobuf first)."""

import base64
import json
import ssl
import time
import urllib.error
import urllib.request

import pytest

from console.sandbox import protobuf
from console.sandbox.demo import seed_demo
from console.sandbox.kinds import STORED
from console.sandbox.proto_schema import KINDS, MESSAGES

from .helpers import kubectl

PB = protobuf.CONTENT_TYPE


def sample(name, depth=0):
    """An instance of a message with every field set to a distinct non-zero value (nested messages
    a few levels deep), so each field number and type goes through the codec."""
    obj = {}
    for number, field in MESSAGES[name].items():
        if field.inline:
            obj.update(sample(field.type, depth))
            continue
        value = _value(field.type, number, depth)
        if value is None:
            continue
        obj[field.name] = (
            {"key-a": value, "key.b/c": _value(field.type, number + 1, depth)}
            if field.map
            else [value, _value(field.type, number + 1, depth)]
            if field.repeated
            else value
        )
    return obj


def _value(kind, number, depth):
    values = {
        "s": f"text-{number}",
        "b": True,
        "i": -number if number % 3 == 0 else number * 1000,
        "y": base64.b64encode(bytes([number, 0, 255])).decode(),
        "time": "2024-05-06T07:08:09Z",
        "mtime": "2024-05-06T07:08:09.123456Z",
        "q": f"{number}50m",
        "ios": number if number % 2 else f"{number}%",
        "raw": {"n": number, "list": ["a"]},
        "fields": {"f:metadata": {"f:labels": {".": {}}}},
    }
    if kind in values:
        return values[kind]
    return sample(kind, depth + 1) if depth < 3 else None


@pytest.mark.parametrize("api_version,kind", sorted(KINDS))
def test_every_kind_round_trips_json_protobuf_json(api_version, kind):
    obj = {"apiVersion": api_version, "kind": kind, **sample(KINDS[(api_version, kind)])}
    data = protobuf.encode(obj)
    assert data.startswith(b"k8s\x00")
    assert protobuf.decode(data) == obj
    listed = {
        "apiVersion": api_version,
        "kind": kind + "List",
        "metadata": {"resourceVersion": "7", "continue": "x"},
        "items": [{"apiVersion": api_version, "kind": kind, **sample(KINDS[(api_version, kind)])}],
    }
    back = protobuf.decode(protobuf.encode(listed))
    assert back["metadata"] == listed["metadata"]
    assert back["items"] == [
        {k: v for k, v in listed["items"][0].items() if k not in ("apiVersion", "kind")}
    ]  # TypeMeta is the list's


def test_envelope_layout():
    """magic, then runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding, contentType}
    around the object's message (fields a Go encoder would also write as zeros are left out: a
    protobuf reader, Go's included, takes a missing field as its zero value)."""
    data = protobuf.encode({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert data == b"k8s\x00" + bytes([0x0A, 0x0F, 0x0A, 0x02]) + b"v1" + bytes([0x12, 0x09]) + b"Namespace" + bytes(
        [0x12, 0x05, 0x0A, 0x03, 0x0A, 0x01]
    ) + b"x" + bytes([0x1A, 0x00, 0x22, 0x00])


def test_zero_values_follow_go_pointers_and_omitempty():
    """Go writes non-pointer fields even when zero; Go's JSON then omits the omitempty ones, while
    pointers (replicas: 0, allowPrivilegeEscalation: false) and required fields keep their zero."""
    sent = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "z", "namespace": "", "generation": 0, "creationTimestamp": None},
        "spec": {
            "replicas": 0,
            "minReadySeconds": 0,
            "paused": False,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "",
                            "ports": [{"containerPort": 0, "hostPort": 0}],
                            "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 0},
                        }
                    ]
                }
            },
        },
    }
    assert protobuf.decode(protobuf.encode(sent)) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "z"},
        "spec": {
            "replicas": 0,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "ports": [{"containerPort": 0}],
                            "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 0},
                        }
                    ]
                }
            },
        },
    }


def test_negative_numbers_packed_lists_and_int_or_string():
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {
            "activeDeadlineSeconds": -5,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "livenessProbe": {"httpGet": {"port": "http"}, "tcpSocket": {"port": 8080}}}
                    ]
                }
            },
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1, 42]}}]},
        },
    }
    assert protobuf.decode(protobuf.encode(obj)) == obj
    # client-go may pack repeated numbers: one length-delimited field holding the varints
    rule = bytes([0x0A, 0x06]) + b"Ignore" + bytes([0x12, 0x08, 0x12, 0x02]) + b"In" + bytes([0x1A, 0x02, 0x01, 0x2A])
    policy = bytes([0x0A, len(rule)]) + rule
    spec = bytes([0x5A, len(policy)]) + policy
    assert protobuf.decode_message(spec, "JobSpec") == {
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1, 42]}}]}
    }


def envelope(api_version, kind, raw):
    type_meta = bytes([0x0A, len(api_version)]) + api_version.encode() + bytes([0x12, len(kind)]) + kind.encode()
    return b"k8s\x00" + bytes([0x0A, len(type_meta)]) + type_meta + bytes([0x12, len(raw)]) + raw


def configmap_with_unknown_fields(name):
    """ConfigMap{metadata{name, field 98: "?"}, data{a: b}, field 99: 7}: numbers no version defines."""
    meta = bytes([0x0A, len(name)]) + name.encode() + bytes([0x92, 0x06, 0x01]) + b"?"
    entry = bytes([0x0A, 0x01]) + b"a" + bytes([0x12, 0x01]) + b"b"
    raw = bytes([0x0A, len(meta)]) + meta + bytes([0x12, len(entry)]) + entry + bytes([0x98, 0x06, 0x07])
    return envelope("v1", "ConfigMap", raw)


def test_unknown_field_numbers_are_dropped_like_go_unmarshal():
    assert protobuf.decode(configmap_with_unknown_fields("u")) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "u"},
        "data": {"a": "b"},
    }


def test_malformed_bodies_are_refused():
    with pytest.raises(protobuf.Undecodable, match="wrong wireType = 0 for field name"):
        protobuf.decode(envelope("v1", "ConfigMap", bytes([0x0A, 0x02, 0x08, 0x01])))  # metadata.name as a varint
    with pytest.raises(protobuf.Undecodable, match="unexpected EOF"):
        protobuf.decode(envelope("v1", "ConfigMap", bytes([0x0A, 0x09, 0x0A])))
    with pytest.raises(protobuf.Undecodable, match="expected prefix"):
        protobuf.decode(b'{"kind": "ConfigMap"}')
    assert protobuf.decode(envelope("example.com/v1", "Widget", b"")) is None  # custom resources: no protobuf


def test_encoding_refuses_what_it_cannot_carry():
    with pytest.raises(protobuf.Unencodable, match="ConfigMap has no field surprise"):
        protobuf.encode({"apiVersion": "v1", "kind": "ConfigMap", "surprise": 1})
    with pytest.raises(protobuf.Unencodable, match="not an integer"):
        protobuf.encode({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "3"}})
    with pytest.raises(protobuf.Unencodable, match="no protobuf schema"):
        protobuf.encode({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot"})


def test_accept_negotiation():
    assert protobuf.wants_protobuf("application/vnd.kubernetes.protobuf,application/json")
    assert protobuf.wants_protobuf("application/vnd.kubernetes.protobuf")
    assert not protobuf.wants_protobuf("application/json, */*")
    assert not protobuf.wants_protobuf("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not protobuf.wants_protobuf("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io")
    assert not protobuf.wants_protobuf(None)


# --- over HTTP


def call(sandbox, method, path, body=None, content_type=PB, accept=f"{PB},application/json", headers=None):
    request = urllib.request.Request(
        sandbox.url + path,
        data=body,
        method=method,
        headers={
            "Authorization": f"Bearer {sandbox.token}",
            "Content-Type": content_type,
            "Accept": accept,
            **(headers or {}),
        },
    )
    context = ssl.create_default_context(cadata=sandbox.ca_pem.decode())
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()


@pytest.fixture(scope="module")
def ns(sandbox):
    status, _, _ = call(
        sandbox,
        "POST",
        "/api/v1/namespaces",
        protobuf.encode({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pb"}}),
    )
    assert status == 201
    return "pb"


def test_unknown_fields_in_a_request_are_dropped_not_refused(sandbox, ns):
    status, content_type, data = call(
        sandbox,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict",
        configmap_with_unknown_fields("extra"),
    )
    assert (
        status == 201 and content_type == PB
    )  # strict field validation does not apply to protobuf, as on a real server
    created = protobuf.decode(data)
    assert created["data"] == {"a": "b"} and "?" not in json.dumps(created)
    status, content_type, data = call(
        sandbox, "GET", f"/api/v1/namespaces/{ns}/configmaps/extra", accept="application/json"
    )
    assert status == 200 and content_type == "application/json" and json.loads(data)["data"] == {"a": "b"}


def test_a_malformed_body_is_a_bad_request(sandbox, ns):
    status, _, data = call(
        sandbox,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        envelope("v1", "ConfigMap", bytes([0x0A, 0x02, 0x08, 0x01])),
    )
    assert status == 400 and protobuf.decode(data)["reason"] == "BadRequest"


def test_protobuf_for_a_custom_resource_is_unsupported_media_type(sandbox, ns):
    status, _, data = call(sandbox, "POST", "/api/v1/namespaces", envelope("example.com/v1", "Widget", b""))
    assert status == 415 and protobuf.decode(data)["reason"] == "UnsupportedMediaType"


def test_errors_come_back_as_protobuf_status_with_the_json_shape(sandbox, ns):
    """AlreadyExists, NotFound, Invalid with causes, Forbidden with the RBAC reason, Conflict: the
    same Status a JSON client gets, in protobuf for a client that asked for it first."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}, "data": {"k": "v"}}
    assert call(sandbox, "POST", f"/api/v1/namespaces/{ns}/configmaps", protobuf.encode(cm))[0] == 201
    cases = {
        "AlreadyExists": ("POST", f"/api/v1/namespaces/{ns}/configmaps", protobuf.encode(cm), {}),
        "NotFound": ("GET", "/apis/apps/v1/namespaces/pb/deployments/nope", None, {}),
        "Invalid": (
            "POST",
            "/api/v1/namespaces",
            protobuf.encode({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}),
            {},
        ),
        "Forbidden": (
            "POST",
            f"/api/v1/namespaces/{ns}/configmaps",
            protobuf.encode(cm),
            {"Impersonate-User": "alice"},
        ),
        "Conflict": (
            "PUT",
            f"/api/v1/namespaces/{ns}/configmaps/dup",
            protobuf.encode(dict(cm, metadata={"name": "dup", "resourceVersion": "1"})),
            {},
        ),
    }
    for reason, (method, path, body, headers) in cases.items():
        code, content_type, data = call(sandbox, method, path, body, headers=headers)
        status = protobuf.decode(data)
        _, _, as_json = call(sandbox, method, path, body, headers=headers, accept="application/json")
        assert content_type == PB and status["reason"] == reason, (reason, status)
        assert status == json.loads(as_json), reason
        assert status["code"] == code and status["status"] == "Failure" and status["metadata"] == {}
    invalid = protobuf.decode(call(sandbox, *cases["Invalid"][:3])[2])
    assert invalid["details"] == {
        "name": "Bad_Name",
        "kind": "Namespace",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "field": "metadata.name",
                "message": 'Invalid value: "Bad_Name": '
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            }
        ],
    }
    forbidden = protobuf.decode(call(sandbox, *cases["Forbidden"][:3], headers={"Impersonate-User": "alice"})[2])
    assert (
        forbidden["message"]
        == 'configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" '
        f'in the namespace "{ns}"'
    )


def test_lists_and_tables_negotiate_like_a_real_server(sandbox, ns):
    status, content_type, data = call(sandbox, "GET", f"/api/v1/namespaces/{ns}/configmaps", accept=PB)
    listed = protobuf.decode(data)
    assert (
        status == 200
        and content_type == PB
        and listed["kind"] == "ConfigMapList"
        and listed["metadata"]["resourceVersion"]
    )
    assert all("kind" not in item for item in listed["items"]) and {i["metadata"]["name"] for i in listed["items"]} >= {
        "dup"
    }
    _, content_type, data = call(
        sandbox,
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    assert content_type == "application/json" and json.loads(data)["kind"] == "Table"
    _, content_type, data = call(sandbox, "GET", "/apis/apps/v1", accept=PB)  # discovery has no schema here: JSON
    assert content_type == "application/json" and json.loads(data)["kind"] == "APIResourceList"


def test_everything_the_sandbox_stores_encodes(sandbox):
    """Every object the controllers and kubectl leave in the store has a schema for each of its
    fields, so protobuf clients get it in protobuf rather than the JSON fallback."""
    seed_demo(sandbox)
    for args in (
        ["create", "ns", "cover"],
        ["create", "deployment", "web", "-n", "cover", "--image=nginx:1.27", "--port=80"],
        ["expose", "deployment", "web", "-n", "cover", "--port=80"],
        ["autoscale", "deployment", "web", "-n", "cover", "--max=3"],
        ["create", "cronjob", "cj", "-n", "cover", "--image=busybox", "--schedule=* * * * *", "--", "true"],
        ["create", "pdb", "web", "-n", "cover", "--selector=app=web", "--min-available=1"],
    ):
        assert kubectl(sandbox, *args).returncode == 0
    time.sleep(3)  # let pods start and statuses fill in
    seen = set()
    for resource in STORED.values():
        for obj in list(sandbox.store.iter_refs(resource)):
            if (obj["apiVersion"], obj["kind"]) not in KINDS:
                continue  # custom-resource kinds (snapshots) and CRDs stay JSON, as on a real cluster
            once = protobuf.decode(protobuf.encode(obj))
            assert protobuf.decode(protobuf.encode(once)) == once
            seen.add(obj["kind"])
    assert {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "Service",
        "Endpoints",
        "Event",
        "Node",
        "PersistentVolumeClaim",
        "PersistentVolume",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "CronJob",
        "ClusterRole",
    } <= seen


def test_kubectl_reads_protobuf_answers(sandbox):
    """kubectl decodes the sandbox's protobuf with Go's generated code: what `create -o json`
    prints is the server's object (uid, resourceVersion, defaults), not what kubectl sent."""
    assert kubectl(sandbox, "create", "namespace", "pbread").returncode == 0
    created = kubectl(
        sandbox, "create", "deployment", "web", "-n", "pbread", "--image=nginx:1.27", "-o", "json", "-v=8"
    )
    answer_headers = created.stderr.split("Response Headers:")[-1].split('"Response Body"')[0]
    assert "Content-Type: application/vnd.kubernetes.protobuf" in answer_headers
    printed = json.loads(created.stdout)
    stored = sandbox.store.get_ref(STORED["deployments"], "pbread", "web")
    assert printed["metadata"]["uid"] == stored["metadata"]["uid"] and printed["metadata"]["resourceVersion"]
    container = printed["spec"]["template"]["spec"]["containers"][0]
    assert (
        container["terminationMessagePath"] == "/dev/termination-log" and container["imagePullPolicy"] == "IfNotPresent"
    )
    assert printed["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
