"""Secrets never reach the operation log: not through services, not through the
middleware's record of a refused form, not through error texts, not into the CSV export.

The unit tests show what `oplog.mask_secrets` recognises; the end-to-end tests post
secrets through every form that takes credentials or environment, with bad input and
with good, and then search every column of every entry and the CSV for them."""

import base64
import json
import time

import pytest
import yaml
from django.urls import reverse

from console.choices import OperationResult
from console.jobs.models import Job
from console.oplog import oplog
from console.oplog.models import OperationLogEntry

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_member, mk_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "quick_rollouts")]

MARK = "S3CRET-MARKER"
MASK = oplog.MASK


def kubeconfig(token, server="https://10.0.0.1:6443", **user):
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "prod",
            "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": "Q0EtREFUQQ=="}}],
            "users": [{"name": "u", "user": {"token": token, **user}}],
            "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
        },
        sort_keys=False,
    )


# --- the masking function ------------------------------------------------------------


def test_secret_looking_keys_are_masked_at_any_depth():
    value = {
        "username": "u",
        "password": "p1",
        "nested": [{"api_key": "k", "ok": 1}],
        "DB_PASSWORD": "p2",
        ".dockerconfigjson": "e30=",
        "webhook_secret": "w",
        "Authorization": "Bearer abc",
        "replicas": 2,
    }
    assert oplog.mask_secrets(value) == {
        "username": "u",
        "password": MASK,
        "nested": [{"api_key": MASK, "ok": 1}],
        "DB_PASSWORD": MASK,
        ".dockerconfigjson": MASK,
        "webhook_secret": MASK,
        "Authorization": MASK,
        "replicas": 2,
    }


def test_ordinary_words_and_values_are_left_alone():
    value = {
        "name": "web",
        "image": "nginx:1.27",
        "env": {"MODE": "prod", "KEYCLOAK_URL": "https://sso.example.com"},
        "note": "Wrong username or password.",
        "error": "The token expired; ask for a new one.",
        "ports": "http:80",
        "limits": {"cpu": "500m"},
        "author": "alice",
        "passage": 3,
    }
    assert oplog.mask_secrets(value) == value
    assert (
        oplog.mask_secrets("Environment variable DB_PASSWORD is set twice.")
        == "Environment variable DB_PASSWORD is set twice."
    )


def test_container_env_lists_mask_values_of_secret_names():
    env = [
        {"name": "DB_PASSWORD", "value": "p"},
        {"name": "MODE", "value": "prod"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
    ]
    assert oplog.mask_secrets({"containers": [{"name": "c", "env": env}]}) == {
        "containers": [
            {
                "name": "c",
                "env": [
                    {"name": "DB_PASSWORD", "value": MASK},
                    {"name": "MODE", "value": "prod"},
                    {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
                ],
            }
        ]
    }
    # which Secret is used is no secret
    assert oplog.mask_secrets({"env_secret": "db-env", "tls_secret": "shop-tls"}) == {
        "env_secret": "db-env",
        "tls_secret": "shop-tls",
    }


def test_env_text_masks_secret_lines_and_passwords_in_urls():
    text = "MODE=prod\nDB_PASSWORD=s3cr3t with spaces\nexport API_TOKEN = abc\nDATABASE_URL=postgres://app:pw0rd@db:5432/app"
    assert oplog.mask_secrets({"env": text}) == {
        "env": (
            f"MODE=prod\nDB_PASSWORD={MASK}\nexport API_TOKEN = {MASK}\nDATABASE_URL=postgres://app:{MASK}@db:5432/app"
        )
    }


def test_kubernetes_secrets_have_all_their_data_masked_whatever_the_keys():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "type": "Opaque",
        "data": {"user": "YWRtaW4=", "dsn": "eHl6"},
        "stringData": {"host": "db.internal"},
    }
    assert oplog.mask_secrets(secret) == {**secret, "data": {"user": MASK, "dsn": MASK}, "stringData": {"host": MASK}}


def test_registry_credentials_are_masked():
    docker = {"auths": {"registry.example.com": {"username": "bot", "password": "p", "auth": "Ym90OnA="}}}
    assert oplog.mask_secrets(docker) == {
        "auths": {"registry.example.com": {"username": "bot", "password": MASK, "auth": MASK}}
    }
    masked = oplog.mask_secrets({"body": json.dumps(docker)})
    assert "Ym90OnA=" not in masked["body"] and "registry.example.com" in masked["body"]


def test_kubeconfigs_become_a_summary_without_credentials():
    text = kubeconfig("tok-123", **{"client-key-data": "S0VZ", "client-certificate-data": "Q0VSVA=="})
    summary = oplog.mask_secrets({"kubeconfig": text})["kubeconfig"]
    assert "prod" in summary and "https://10.0.0.1:6443" in summary
    assert not any(secret in summary for secret in ("tok-123", "S0VZ", "Q0VSVA=="))
    # found by its content under any name, and as parsed data
    assert oplog.mask_secrets({"text": text}) == {"text": summary}
    parsed = oplog.mask_secrets(yaml.safe_load(text))
    assert "tok-123" not in json.dumps(parsed) and parsed["contexts"] == [
        {"name": "prod", "context": {"cluster": "c", "user": "u"}}
    ]
    # what does not parse cannot be summarised: it is not kept at all
    assert oplog.mask_secrets({"kubeconfig": "users:\n- name: u\n  user: {token: tok-9"}) == {"kubeconfig": MASK}
    assert oplog.mask_secrets({"kubeconfig": "just-a-pasted-token"}) == {"kubeconfig": MASK}


def test_manifests_as_text_are_masked_document_by_document():
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {url: 'x://u:p@h'}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        "      - name: api\n        image: api:1\n        env:\n        - name: DB_PASSWORD\n          value: hunter2\n"
    )
    masked = oplog.mask_secrets({"manifests": text})["manifests"]
    assert "hunter2" not in masked and "x://u:p@h" not in masked
    assert "name: db" in masked and "image: api:1" in masked
    assert oplog.mask_secrets({"manifests": "apiVersion: v1\nkind: Secret\ndata: {a: [b"}) == {"manifests": MASK}


def test_bearer_tokens_and_jwts_in_free_text_are_masked():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl"
    text = (
        f"401 from https://api: Authorization: Bearer abc.def-123 refused; token={jwt}; "
        f"also {jwt} and password: hunter2"
    )
    masked = oplog.mask_secrets(text)
    assert not any(secret in masked for secret in ("abc.def-123", jwt, "hunter2"))
    assert masked.startswith("401 from https://api: Authorization: Bearer ")


def test_assignments_are_found_wherever_they_stand():
    text = (
        "note=password=hunter2 --api-key=k1 key=k2 my.key=visible Bearer abc.def-123xyz 'token': 'unclosed, to the end"
    )
    assert (
        oplog.mask_secrets(text)
        == f"note=password={MASK} --api-key={MASK} key={MASK} my.key=visible Bearer {MASK} 'token': '{MASK}"
    )


def test_hostile_texts_are_masked_in_linear_time():
    """The patterns run on whatever a request sent: none may backtrack quadratically."""
    started = time.monotonic()
    for text in (
        "token" * 20_000,
        "a." * 50_000,
        "eyJ-" * 25_000,
        'password="' * 20_000,
        "a://b:" * 20_000,
        "x=password=" * 20_000,
    ):
        oplog.mask_secrets({"field": text})
    assert time.monotonic() - started < 10


def test_error_texts_are_masked_when_recorded(operator):
    entry = oplog.record(
        operator, "test.error", result=OperationResult.FAILED, error="refused: DB_PASSWORD=hunter2, Bearer abcdef123"
    )
    assert OperationLogEntry.objects.get(pk=entry.pk).error == f"refused: DB_PASSWORD={MASK}, Bearer {MASK}"


# --- every form, end to end ----------------------------------------------------------


sandbox = sandbox_fixture("module")


def run(task, job):
    """Run a queued job's task here, as a worker would; its final status."""
    task.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk).status


def assert_no_secrets(client, secrets):
    """No secret in any column of any entry, nor in the CSV an auditor exports."""
    entries = list(OperationLogEntry.objects.order_by("id").values())
    assert len(entries) > 3
    stored = json.dumps(entries, default=str, ensure_ascii=False)
    auditor = mk_user("csv-auditor", "auditor")
    client.force_login(auditor)
    response = client.get(reverse("console:oplog_export"))
    assert response.status_code == 200
    csv_text = b"".join(response.streaming_content).decode()
    for secret in secrets:
        assert secret not in stored, secret
        assert secret not in csv_text, secret
    return entries


def test_cluster_forms_keep_no_kubeconfig_credentials(client, operator, sandbox):
    token = sandbox.add_token("marker-admin", admin=True, token=f"{MARK}-cluster-token")
    key_data = base64.b64encode(f"{MARK}-client-key".encode()).decode()
    refused_config = kubeconfig(f"{MARK}-refused-token", **{"client-key-data": key_data})
    client.force_login(operator)
    add = reverse("console:cluster_add")
    bad_name = client.post(add, {"name": "Bad Name!", "kubeconfig": refused_config, "context": ""})
    assert bad_name.status_code == 400
    unreachable = client.post(
        add, {"name": "far", "kubeconfig": kubeconfig(f"{MARK}-unreachable", server="https://127.0.0.1:1")}
    )
    assert unreachable.status_code == 400
    broken = client.post(add, {"name": "Broken!", "kubeconfig": f"users:\n- name: u\n  user: {{token: {MARK}-broken"})
    assert broken.status_code == 400
    done = client.post(add, {"name": "good", "kubeconfig": sandbox.kubeconfig_text(token)})
    assert done.status_code == 302
    entries = assert_no_secrets(client, [MARK, key_data])
    refused = next(e for e in entries if e["action"] == "request.console:cluster_add")
    assert refused["payload"]["form"]["name"] == "Bad Name!" and "prod" in refused["payload"]["form"]["kubeconfig"]


def test_workload_forms_keep_no_env_values_or_secret_data(client, cluster, operator):
    from tenants import services as tenant_services
    from tenants.tasks import run_tenant_job
    from workloads.models import App
    from workloads.tasks import run_app_job

    acme = tenant_services.create_tenant(
        acting_user=operator,
        name="acme",
        display_name="Acme",
        clusters=[cluster],
        limits={"cpu": "8", "memory": "16Gi", "pods": "40"},
        default_quota={"cpu": "2", "memory": "4Gi", "pods": "10"},
        default_limit_range={
            "request_cpu": "100m",
            "limit_cpu": "500m",
            "request_memory": "64Mi",
            "limit_memory": "256Mi",
        },
        pod_security="baseline",
    )  # the Deployment imported below is a plain one, which restricted would refuse
    project, job = tenant_services.create_project(acme, acting_user=operator, cluster=cluster, short_name="shop")
    assert run(run_tenant_job, job) == "succeeded"
    dev = mk_member(acme, "acme-admin", "tenant-admin", password=PASSWORD)
    client.force_login(dev)

    env = (
        f"MODE=prod\nDB_PASSWORD={MARK}-env with spaces\nAPI_TOKEN={MARK}-api-token\n"
        f"DATABASE_URL=postgres://app:{MARK}-url@db:5432/app"
    )
    form = {
        "name": "web",
        "kind": "Deployment",
        "image": "nginx:1.27",
        "replicas": "1",
        "ports": "http:80",
        "env": env,
        "cpu_request": "100m",
        "cpu_limit": "200m",
        "memory_request": "64Mi",
        "memory_limit": "128Mi",
    }
    add = reverse("workloads:app_add", args=["acme", project.name])
    assert client.post(add, {**form, "image": "Bad Image!"}).status_code == 400  # refused by the form
    assert client.post(add, {**form, "replicas": "30"}).status_code == 400  # refused by the service (quota)
    assert client.post(add, form).status_code == 302
    assert run(run_app_job, Job.objects.get(kind="app.deploy")) == "succeeded"
    app = App.objects.get(name="web")
    upgrade = reverse("workloads:app_upgrade", args=["acme", project.name, app.name])
    assert (
        client.post(
            upgrade, {"image": "Bad Image!", "ports": "http:80", "env": env + f"\nNEW_SECRET={MARK}-upgrade"}
        ).status_code
        == 400
    )
    assert client.post(upgrade, {"image": "nginx:1.28", "ports": "http:80", "env": env}).status_code == 302

    secret_data = base64.b64encode(f"{MARK}-secret-data".encode()).decode()
    secret = (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: kube-system}}\ndata: {{dsn: {secret_data}}}\n"
        f"stringData: {{password: {MARK}-string-data, url: {MARK}-url-data}}\n"
    )
    deployment = (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api}}\nspec:\n  replicas: 1\n"
        f"  selector: {{matchLabels: {{app: api}}}}\n  template:\n    metadata: {{labels: {{app: api}}}}\n    spec:\n"
        f"      containers:\n      - name: api\n        image: nginx:1.27\n"
        f"        resources: {{requests: {{cpu: 100m, memory: 64Mi}}, limits: {{cpu: 200m, memory: 128Mi}}}}\n"
        f"        env:\n        - name: DB_PASSWORD\n          value: {MARK}-import-env\n"
    )
    registry_auth = base64.b64encode(f"bot:{MARK}-registry".encode()).decode()
    pull_secret = json.dumps({"auths": {"registry.example.com": {"auth": registry_auth}}})
    registry = (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: pull}}\ntype: kubernetes.io/dockerconfigjson\n"
        f"stringData:\n  .dockerconfigjson: '{pull_secret}'\n"
    )
    imports = reverse("workloads:app_import", args=["acme", project.name])
    assert client.post(imports, {"manifests": secret}).status_code == 400  # a Secret, in another namespace
    assert client.post(imports, {"manifests": secret, "confirm": "yes"}).status_code == 400  # refused by the service
    assert client.post(imports, {"manifests": registry}).status_code == 400
    elsewhere = deployment.replace("name: api}", "name: api, namespace: other}")
    assert client.post(imports, {"manifests": elsewhere}).status_code == 400
    assert client.post(imports, {"manifests": elsewhere, "confirm": "yes"}).status_code == 400
    assert client.post(imports, {"manifests": deployment, "confirm": "yes"}).status_code == 302
    assert run(run_app_job, Job.objects.get(kind="app.import")) == "succeeded"

    assert (
        client.post(
            reverse("console:password_change"),
            {"old_password": f"{MARK}-old", "new_password1": f"{MARK}-new1", "new_password2": f"{MARK}-new2"},
        ).status_code
        == 400
    )
    client.logout()
    assert (
        client.post(reverse("console:login"), {"username": "acme-admin", "password": f"{MARK}-login"}).status_code
        == 401
    )

    entries = assert_no_secrets(client, [MARK, secret_data, registry_auth])
    actions = {entry["action"] for entry in entries}
    assert {
        "request.workloads:app_add",
        "app.deploy",
        "app.apply",
        "request.workloads:app_upgrade",
        "app.upgrade",
        "request.workloads:app_import",
        "app.import",
        "account.password_change",
    } <= actions
    refused_deploy = next(e for e in entries if e["action"] == "request.workloads:app_add")
    assert refused_deploy["payload"]["form"]["env"].startswith(f"MODE=prod\nDB_PASSWORD={MASK}")
