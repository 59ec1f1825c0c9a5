"""Secrets and ConfigMaps of a tenant namespace on the sandbox cluster, through the pages, as a
tenant member: values reach the cluster and nowhere else in the console."""

import base64
import json

import pytest
from django.urls import reverse

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads import configs

from ..certs import self_signed
from ..factories import mk_member, mk_tenant
from .conftest import mirror_namespace

pytestmark = pytest.mark.django_db

VALUE = "hunter2-very-secret-value"


def tls_pair(host="shop.example.com"):
    """A self-signed certificate and its key, PEM."""
    cert, key = self_signed(host)
    return cert.decode(), key.decode()


def stored_text():
    """Everything the console keeps about operations: the log and the jobs."""
    return json.dumps([list(OperationLogEntry.objects.values()), list(Job.objects.values())], default=str)


def url(name, project, *args):
    return reverse(f"workloads:{name}", args=[project.tenant.name, project.name, *args])


def test_member_creates_lists_reveals_and_deletes_a_secret(client, cluster, project, dev):
    client.force_login(dev)
    response = client.post(
        url("secret_add", project),
        {"name": "db", "type": "Opaque", "key": ["DB_PASSWORD", "DB_USER", ""], "value": [VALUE, "shop", ""]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with ClusterAPI(cluster) as api:
        secret = api.get("Secret", "db", project.name)
    assert base64.b64decode(secret["data"]["DB_PASSWORD"]).decode() == VALUE
    # the list: names, types and keys, never values
    page = client.get(url("secret_list", project)).content.decode()
    assert 'data-secret="db"' in page and "DB_PASSWORD" in page and "Opaque" in page
    assert VALUE not in page and base64.b64encode(VALUE.encode()).decode() not in page
    edit = client.get(url("secret_edit", project, "db")).content.decode()
    assert "DB_USER" in edit and VALUE not in edit and "shop" not in edit
    # reveal: a POST, the value once, and who read which key in the log
    response = client.post(url("secret_reveal", project, "db"), {"key": "DB_PASSWORD"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and VALUE in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    reveal = OperationLogEntry.objects.get(action="secret.reveal")
    assert (
        reveal.actor_name == "acme-dev" and reveal.payload == {"data_key": "DB_PASSWORD"} and reveal.target_name == "db"
    )
    assert client.post(url("secret_reveal", project, "db"), {"key": "NOPE"}).status_code == 400
    created = OperationLogEntry.objects.get(action="secret.create")
    assert created.result == "succeeded" and created.after == {"type": "Opaque", "keys": ["DB_PASSWORD", "DB_USER"]}
    # delete needs the name typed
    assert client.post(url("secret_delete", project, "db"), {"confirm_name": "dB"}).status_code == 400
    assert client.post(url("secret_delete", project, "db"), {"confirm_name": "db"}).status_code == 302
    with ClusterAPI(cluster) as api:
        assert api.get("Secret", "db", project.name) is None
    assert VALUE not in stored_text() and base64.b64encode(VALUE.encode()).decode() not in stored_text()
    assert not Job.objects.filter(kind__startswith="secret").exists()


def test_editing_keys_keeps_others_and_refuses_a_stale_form(client, cluster, project, dev):
    client.force_login(dev)
    configs.create_secret(
        project, acting_user=dev, name="api", secret_type="Opaque", data={"A": "1", "B": "2", "C": "3"}
    )
    _type, keys, version = configs.secret_keys(project, user=dev, name="api")
    assert keys == ["A", "B", "C"]
    response = client.post(
        url("secret_edit", project, "api"),
        {
            "resource_version": version,
            "existing_key": ["A", "B", "C"],
            "existing_value": [VALUE, "", ""],
            "remove": ["C"],
            "key": ["D"],
            "value": ["4"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with ClusterAPI(cluster) as api:
        data = api.get("Secret", "api", project.name)["data"]
    assert {k: base64.b64decode(v).decode() for k, v in data.items()} == {"A": VALUE, "B": "2", "D": "4"}
    # the form read at `version` is stale now: 409, nothing changed
    response = client.post(
        url("secret_edit", project, "api"),
        {"resource_version": version, "existing_key": ["A"], "existing_value": ["x"]},
    )
    assert response.status_code == 409 and "changed by someone else" in response.content.decode()
    with ClusterAPI(cluster) as api:
        assert base64.b64decode(api.get("Secret", "api", project.name)["data"]["A"]).decode() == VALUE
    update = OperationLogEntry.objects.filter(action="secret.update", result="succeeded").get()
    assert update.payload == {"set": ["A", "D"], "remove": ["C"]} and update.after == {"keys": ["A", "B", "D"]}
    assert VALUE not in stored_text()


def test_tls_and_registry_secrets(client, cluster, project, dev):
    client.force_login(dev)
    cert, key = tls_pair()
    other_cert, _other_key = tls_pair("other.example.com")
    bad = client.post(
        url("secret_add", project),
        {"name": "shop-tls", "type": "kubernetes.io/tls", "tls_cert": "not a cert", "tls_key": key},
    )
    assert bad.status_code == 400 and "not a PEM certificate" in bad.content.decode()
    mismatch = client.post(
        url("secret_add", project),
        {"name": "shop-tls", "type": "kubernetes.io/tls", "tls_cert": other_cert, "tls_key": key},
    )
    assert mismatch.status_code == 400 and "does not belong to the certificate" in mismatch.content.decode()
    ok = client.post(
        url("secret_add", project), {"name": "shop-tls", "type": "kubernetes.io/tls", "tls_cert": cert, "tls_key": key}
    )
    assert ok.status_code == 302
    ok = client.post(
        url("secret_add", project),
        {
            "name": "pull",
            "type": "kubernetes.io/dockerconfigjson",
            "registry_server": "registry.example.com",
            "registry_username": "bot",
            "registry_password": VALUE,
        },
    )
    assert ok.status_code == 302, ok.content.decode()[:2000]
    with ClusterAPI(cluster) as api:
        tls = api.get("Secret", "shop-tls", project.name)
        pull = api.get("Secret", "pull", project.name)
    assert tls["type"] == "kubernetes.io/tls" and base64.b64decode(tls["data"]["tls.crt"]).decode() == cert
    config = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))
    assert (
        pull["type"] == "kubernetes.io/dockerconfigjson"
        and config["auths"]["registry.example.com"]["password"] == VALUE
    )
    assert configs.choices(project, dev)["tls"] == ["shop-tls"]
    text = stored_text()
    assert VALUE not in text and "PRIVATE KEY" not in text and key.splitlines()[1] not in text


def test_configmaps_list_from_the_mirror_edit_and_delete(client, cluster, project, dev, auditor):
    client.force_login(dev)
    response = client.post(
        url("configmap_add", project),
        {"name": "settings", "key": ["MODE", "nginx.conf"], "value": ["prod", "worker 1;\n"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mirror_namespace(cluster, project.name, kinds=("ConfigMap",))
    page = client.get(url("configmap_list", project)).content.decode()
    assert 'data-configmap="settings"' in page and "nginx.conf" in page
    client.force_login(auditor)  # auditors read the list, change nothing
    assert client.get(url("configmap_list", project)).status_code == 200
    assert client.get(url("configmap_edit", project, "settings")).status_code == 403
    client.force_login(dev)
    _data, version = configs.configmap(project, user=dev, name="settings")
    response = client.post(
        url("configmap_edit", project, "settings"), {"resource_version": version, "key": ["MODE"], "value": ["test"]}
    )
    assert response.status_code == 302
    with ClusterAPI(cluster) as api:
        assert api.get("ConfigMap", "settings", project.name)["data"] == {"MODE": "test"}
    stale = client.post(
        url("configmap_edit", project, "settings"), {"resource_version": version, "key": ["MODE"], "value": ["x"]}
    )
    assert stale.status_code == 409
    assert client.post(url("configmap_delete", project, "settings"), {"confirm_name": "settings"}).status_code == 302
    with ClusterAPI(cluster) as api:
        assert api.get("ConfigMap", "settings", project.name) is None
    assert [
        e.action
        for e in OperationLogEntry.objects.filter(action__startswith="configmap.", result="succeeded").order_by("pk")
    ] == ["configmap.create", "configmap.update", "configmap.delete"]


def test_other_tenants_and_auditors_are_kept_out(client, cluster, project, dev, auditor, operator):
    configs.create_secret(project, acting_user=dev, name="db", secret_type="Opaque", data={"DB_PASSWORD": VALUE})
    globex = mk_tenant("globex", clusters=[cluster])
    stranger = mk_member(globex, "globex-dev", "tenant-admin")
    client.force_login(stranger)
    assert client.get(url("secret_list", project)).status_code == 404
    assert client.post(url("secret_reveal", project, "db"), {"key": "DB_PASSWORD"}).status_code == 404
    assert client.get(url("configmap_list", project)).status_code == 404
    client.force_login(auditor)
    assert client.get(url("secret_list", project)).status_code == 403
    response = client.post(url("secret_reveal", project, "db"), {"key": "DB_PASSWORD"})
    assert response.status_code == 403 and VALUE not in response.content.decode()
    assert OperationLogEntry.objects.filter(result="denied", actor_name="aud").exists()
    # the tenant's admin may manage too; the cluster's RBAC sees the real person
    admin = mk_member(project.tenant, "acme-admin", "tenant-admin")
    client.force_login(admin)
    assert client.post(url("secret_reveal", project, "db"), {"key": "DB_PASSWORD"}).status_code == 200
    assert VALUE not in stored_text()
