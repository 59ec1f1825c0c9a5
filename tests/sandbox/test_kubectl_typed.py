"""kubectl 1.37's typed commands against the sandbox, for every kind the console uses. They send
built-in kinds in protobuf and ask for protobuf answers; the expected outputs are what kubectl
prints against a real API server (its success lines, tables and `Error from server (...)` lines,
whose text is the server's Status message)."""

import base64
import json

import pytest

from console.sandbox import protobuf, tls
from console.sandbox.kinds import STORED

from .helpers import kubectl, wait_for

NS = "typed"
DNS_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def ok(sandbox, *args, input=None):
    done = kubectl(sandbox, *args, input=input)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def failed(sandbox, *args):
    done = kubectl(sandbox, *args)
    assert done.returncode == 1, (args, done.stdout)
    return done.stderr.strip()


def get(sandbox, plural, name, namespace=NS):
    return sandbox.store.get_ref(STORED[plural], namespace, name)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    _, cert, key = tls.make_certificates()
    folder = tmp_path_factory.mktemp("tls")
    (folder / "tls.crt").write_bytes(cert)
    (folder / "tls.key").write_bytes(key)
    return folder / "tls.crt", folder / "tls.key"


def create_commands(tls_files):
    cert, key = tls_files
    return [
        (["create", "namespace", NS], "namespace/typed created"),
        (["create", "configmap", "settings", "-n", NS, "--from-literal=mode=fast"], "configmap/settings created"),
        (["create", "secret", "generic", "creds", "-n", NS, "--from-literal=password=s3cret"], "secret/creds created"),
        (["create", "secret", "tls", "web-tls", "-n", NS, f"--cert={cert}", f"--key={key}"], "secret/web-tls created"),
        (["create", "quota", "small", "-n", NS, "--hard=pods=20,configmaps=10"], "resourcequota/small created"),
        (["create", "deployment", "web", "-n", NS, "--image=nginx:1.27", "--port=80"], "deployment.apps/web created"),
        (["create", "service", "clusterip", "web-internal", "-n", NS, "--tcp=80:8080"], "service/web-internal created"),
        (
            ["create", "ingress", "web", "-n", NS, "--rule=web.example.com/*=web:80,tls=web-tls"],
            "ingress.networking.k8s.io/web created",
        ),
        (
            ["create", "role", "reader", "-n", NS, "--verb=get,list", "--resource=pods"],
            "role.rbac.authorization.k8s.io/reader created",
        ),
        (
            ["create", "rolebinding", "reader", "-n", NS, "--role=reader", "--user=alice"],
            "rolebinding.rbac.authorization.k8s.io/reader created",
        ),
        (["create", "job", "once", "-n", NS, "--image=busybox:1.36", "--", "true"], "job.batch/once created"),
        (
            ["create", "cronjob", "nightly", "-n", NS, "--image=busybox:1.36", "--schedule=0 3 * * *", "--", "true"],
            "cronjob.batch/nightly created",
        ),
        (
            ["autoscale", "deployment", "web", "-n", NS, "--min=1", "--max=4", "--cpu-percent=70"],
            "horizontalpodautoscaler.autoscaling/web autoscaled",
        ),
    ]


def without_nulls(value):
    """Go's JSON writes a zero Time as null (`creationTimestamp: null`); on the wire it is absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def test_typed_create_commands(sandbox, tls_files, monkeypatch):
    """Each command prints what it prints against a real server, and the protobuf body kubectl sent
    decodes to exactly the object kubectl prints for --dry-run=client -o json (Go's own JSON)."""
    received = []
    decode = protobuf.decode
    monkeypatch.setattr(protobuf, "decode", lambda body: received.append(decode(body)) or received[-1])
    for args, printed in create_commands(tls_files):
        split = args.index("--") if "--" in args else len(args)
        sent = json.loads(ok(sandbox, *args[:split], "--dry-run=client", "-o", "json", *args[split:]))
        received.clear()
        assert ok(sandbox, *args) == printed + "\n"
        assert received and received[-1] == without_nulls(sent), args  # what Go encoded is what Go would show

    assert get(sandbox, "configmaps", "settings")["data"] == {"mode": "fast"}
    assert base64.b64decode(get(sandbox, "secrets", "creds")["data"]["password"]) == b"s3cret"
    tls_secret = get(sandbox, "secrets", "web-tls")
    assert tls_secret["type"] == "kubernetes.io/tls" and base64.b64decode(tls_secret["data"]["tls.crt"]).startswith(
        b"-----BEGIN"
    )
    assert get(sandbox, "resourcequotas", "small")["spec"]["hard"] == {"pods": "20", "configmaps": "10"}
    web = get(sandbox, "deployments", "web")
    assert web["spec"]["replicas"] == 1 and web["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    assert get(sandbox, "services", "web-internal")["spec"]["ports"] == [
        {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}
    ]
    ingress = get(sandbox, "ingresses", "web")["spec"]
    assert ingress["rules"][0]["http"]["paths"][0] == {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    }
    assert ingress["tls"] == [{"hosts": ["web.example.com"], "secretName": "web-tls"}]
    assert get(sandbox, "roles", "reader")["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
    ]
    assert get(sandbox, "rolebindings", "reader")["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}
    ]
    assert get(sandbox, "jobs", "once")["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert get(sandbox, "cronjobs", "nightly")["spec"]["schedule"] == "0 3 * * *"
    hpa = get(sandbox, "horizontalpodautoscalers", "web")  # posted as autoscaling/v1, stored as autoscaling/v2
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    as_v1 = json.loads(ok(sandbox, "get", "horizontalpodautoscalers.v1.autoscaling", "web", "-n", NS, "-o", "json"))
    assert as_v1["apiVersion"] == "autoscaling/v1" and as_v1["spec"]["targetCPUUtilizationPercentage"] == 70


def test_run_expose_scale_set_label_annotate_and_rollouts(sandbox):
    assert ok(sandbox, "create", "namespace", "roll") == "namespace/roll created\n"
    assert (
        ok(sandbox, "create", "deployment", "web", "-n", "roll", "--image=nginx:1.27", "--port=80")
        == "deployment.apps/web created\n"
    )
    assert (
        ok(sandbox, "run", "solo", "-n", "roll", "--image=busybox:1.36", "--", "sleep", "3600") == "pod/solo created\n"
    )
    assert get(sandbox, "pods", "solo", "roll")["spec"]["containers"][0]["args"] == ["sleep", "3600"]
    assert (
        ok(sandbox, "expose", "deployment", "web", "-n", "roll", "--port=80", "--target-port=80")
        == "service/web exposed\n"
    )
    assert get(sandbox, "services", "web", "roll")["spec"]["selector"] == {"app": "web"}
    assert ok(sandbox, "rollout", "status", "deployment/web", "-n", "roll", "--timeout=30s").endswith(
        'deployment "web" successfully rolled out\n'
    )
    assert ok(sandbox, "scale", "deployment", "web", "-n", "roll", "--replicas=2") == "deployment.apps/web scaled\n"
    assert (
        ok(sandbox, "set", "image", "deployment/web", "-n", "roll", "nginx=nginx:1.28")
        == "deployment.apps/web image updated\n"
    )
    assert ok(sandbox, "label", "deployment", "web", "-n", "roll", "tier=front") == "deployment.apps/web labeled\n"
    assert ok(sandbox, "annotate", "deployment", "web", "-n", "roll", "owner=shop") == "deployment.apps/web annotated\n"
    assert ok(sandbox, "rollout", "status", "deployment/web", "-n", "roll", "--timeout=30s").endswith(
        'deployment "web" successfully rolled out\n'
    )
    assert (
        ok(sandbox, "rollout", "history", "deployment/web", "-n", "roll")
        == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    )
    first = ok(sandbox, "rollout", "history", "deployment/web", "-n", "roll", "--revision=1")
    assert first.startswith("deployment.apps/web with revision #1\nPod Template:\n") and "Image:\tnginx:1.27" in first
    assert ok(sandbox, "rollout", "undo", "deployment/web", "-n", "roll") == "deployment.apps/web rolled back\n"
    assert ok(sandbox, "rollout", "status", "deployment/web", "-n", "roll", "--timeout=30s").endswith(
        "successfully rolled out\n"
    )
    image = ok(
        sandbox, "get", "deployment", "web", "-n", "roll", "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    )
    assert image == "nginx:1.27"
    assert ok(sandbox, "rollout", "restart", "deployment/web", "-n", "roll") == "deployment.apps/web restarted\n"
    restarted = get(sandbox, "deployments", "web", "roll")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in restarted
    assert ok(sandbox, "rollout", "status", "deployment/web", "-n", "roll", "--timeout=30s").endswith(
        "successfully rolled out\n"
    )
    assert ok(sandbox, "rollout", "history", "deployment/web", "-n", "roll").split("\n")[2:5] == [
        "2         <none>",
        "3         <none>",
        "4         <none>",
    ]


def test_delete_orphan_and_diff(sandbox, tmp_path):
    assert ok(sandbox, "create", "namespace", "keep") == "namespace/keep created\n"
    ok(sandbox, "create", "deployment", "kept", "-n", "keep", "--image=nginx:1.27")
    assert wait_for(lambda: ok(sandbox, "get", "rs", "-n", "keep", "-o", "name"))
    assert (
        ok(sandbox, "delete", "deployment", "kept", "-n", "keep", "--cascade=orphan")
        == 'deployment.apps "kept" deleted from keep namespace\n'
    )
    assert ok(sandbox, "get", "rs", "-n", "keep", "-o", "jsonpath={.items[*].metadata.ownerReferences}") == ""
    assert ok(sandbox, "get", "rs", "-n", "keep", "-o", "name").startswith("replicaset.apps/kept-")

    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf, namespace: keep}\ndata: {mode: fast}\n"
    )
    ok(sandbox, "create", "-f", str(manifest))
    assert kubectl(sandbox, "diff", "-f", str(manifest)).stdout == ""
    manifest.write_text(manifest.read_text().replace("fast", "slow"))
    changed = kubectl(sandbox, "diff", "-f", str(manifest))
    assert changed.returncode == 1, changed.stderr
    hunk = changed.stdout.split("\n")[3:]  # after the diff -u header: only the data changed (no `annotations: {}`)
    assert hunk[:8] == [
        "@@ -1,6 +1,6 @@",
        " apiVersion: v1",
        " data:",
        "-  mode: fast",
        "+  mode: slow",
        " kind: ConfigMap",
        " metadata:",
        hunk[7],
    ] and hunk[7].startswith("   creationTimestamp: ")


def test_typed_errors_as_a_real_server_words_them(sandbox):
    ok(sandbox, "create", "namespace", "errs")
    ok(sandbox, "create", "configmap", "taken", "-n", "errs", "--from-literal=a=b")
    ok(sandbox, "create", "deployment", "web", "-n", "errs", "--image=nginx:1.27")
    # AlreadyExists: plain for namespaces; typed `create <kind>` commands wrap the server's message
    assert (
        failed(sandbox, "create", "namespace", "errs")
        == 'Error from server (AlreadyExists): namespaces "errs" already exists'
    )
    assert (
        failed(sandbox, "create", "configmap", "taken", "-n", "errs", "--from-literal=a=b")
        == 'error: failed to create configmap: configmaps "taken" already exists'
    )
    ok(sandbox, "expose", "deployment", "web", "-n", "errs", "--port=80")
    assert (
        failed(sandbox, "expose", "deployment", "web", "-n", "errs", "--port=80")
        == 'Error from server (AlreadyExists): services "web" already exists'
    )
    # NotFound
    for args in (
        ["set", "image", "deployment/nope", "nginx=nginx:1.28"],
        ["rollout", "undo", "deployment/nope"],
        ["label", "deployment", "nope", "a=b"],
        ["autoscale", "deployment", "nope", "--max=2"],
    ):
        assert (
            failed(sandbox, *args, "-n", "errs") == 'Error from server (NotFound): deployments.apps "nope" not found'
        ), args
    # Invalid, with the field causes
    assert (
        failed(sandbox, "create", "deployment", "Bad", "-n", "errs", "--image=nginx")
        == 'error: failed to create deployment: Deployment.apps "Bad" is invalid: '
        f'metadata.name: Invalid value: "Bad": {DNS_SUBDOMAIN}'
    )
    assert failed(sandbox, "create", "namespace", "BAD") == (
        'The Namespace "BAD" is invalid: metadata.name: Invalid value: "BAD": '
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    )
    assert (
        failed(sandbox, "create", "deployment", "neg", "-n", "errs", "--image=nginx", "--replicas=-1")
        == 'error: failed to create deployment: Deployment.apps "neg" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    # Forbidden, with the RBAC reason
    assert (
        failed(sandbox, "--as=mallory", "create", "configmap", "x", "-n", "errs")
        == "error: failed to create configmap: configmaps is forbidden: "
        'User "mallory" cannot create resource "configmaps" in API group "" in the namespace "errs"'
    )
    assert (
        failed(sandbox, "--as=mallory", "create", "namespace", "nope")
        == "Error from server (Forbidden): namespaces is forbidden: "
        'User "mallory" cannot create resource "namespaces" in API group "" at the cluster scope'
    )
    # Conflict: a patch carrying a stale resourceVersion
    assert (
        failed(sandbox, "label", "deployment", "web", "-n", "errs", "a=b", "--resource-version=1")
        == 'Error from server (Conflict): Operation cannot be fulfilled on deployments.apps "web": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )


def test_autoscaling_v1_converts_to_and_from_the_stored_v2(sandbox, tmp_path):
    """`kubectl autoscale` speaks autoscaling/v1; the sandbox stores autoscaling/v2 (preferred) and
    converts both ways: v2-only fields ride in the round-trip annotations and survive a v1 replace."""
    ok(sandbox, "create", "namespace", "hpa")
    ok(sandbox, "create", "deployment", "web", "-n", "hpa", "--image=nginx:1.27")
    assert (
        ok(sandbox, "autoscale", "deployment", "web", "-n", "hpa", "--max=3")
        == "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    )
    v1 = "horizontalpodautoscalers.v1.autoscaling"
    assert (
        ok(
            sandbox,
            "patch",
            v1,
            "web",
            "-n",
            "hpa",
            "--type=merge",
            "-p",
            '{"spec":{"targetCPUUtilizationPercentage":55}}',
        )
        == "horizontalpodautoscaler.autoscaling/web patched\n"
    )
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
    }
    ok(
        sandbox,
        "patch",
        "hpa",
        "web",
        "-n",
        "hpa",
        "--type=json",
        "-p",
        json.dumps(
            [
                {"op": "add", "path": "/spec/metrics/-", "value": memory},
                {"op": "add", "path": "/spec/behavior", "value": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
            ]
        ),
    )

    def replace_as_read():  # the HPA controller writes status meanwhile: a stale read is a 409, as on a real server
        as_v1 = json.loads(ok(sandbox, "get", v1, "web", "-n", "hpa", "-o", "json"))
        assert as_v1["spec"] == {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 55,
        }
        assert json.loads(as_v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]) == [memory]
        (tmp_path / "v1.json").write_text(json.dumps(as_v1))
        done = kubectl(sandbox, "replace", "-f", str(tmp_path / "v1.json"))
        assert done.returncode == 0 or "(Conflict)" in done.stderr, done.stderr
        return done.stdout == "horizontalpodautoscaler.autoscaling/web replaced\n"

    assert wait_for(replace_as_read)
    stored = get(sandbox, "horizontalpodautoscalers", "web", "hpa")
    assert stored["spec"]["metrics"][1] == memory and stored["spec"]["behavior"] == {
        "scaleDown": {"stabilizationWindowSeconds": 60}
    }
    assert "annotations" not in stored["metadata"]
    table = ok(sandbox, "get", "hpa", "web", "-n", "hpa").split("\n")
    assert (
        "Deployment/web   cpu: <unknown>/55%, memory: " in table[1] and "/100Mi " in table[1]
    )  # no cpu requests, so no cpu use
    assert ok(sandbox, "api-versions").count("autoscaling/") == 2
