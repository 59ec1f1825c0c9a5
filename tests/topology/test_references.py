"""Secrets and ServiceAccounts in the resource mirror: their metadata only, so the topology
knows whether a Secret or ServiceAccount a workload names exists, and not one value of a
Secret ever reaches the database. A real watcher against the sandbox cluster."""

import base64
import json

import pytest
from django.db import connection
from django.urls import reverse

from console.clusters import mirror, permissions
from console.clusters.models import MirroredObject, WatchCursor
from console.clusters.watcher import ClusterWatchers
from console.kube.api import ClusterAPI
from console.kube.kinds import KINDS
from monitoring.topology import services

from ..conftest import sandbox_fixture
from ..factories import mk_cluster, mk_user
from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
sandbox = sandbox_fixture("module")
NS = "vault"
IN_DATA, IN_STRING_DATA, IN_ANNOTATION, IN_UPDATE = (
    "data-value-7Qx2",
    "stringdata-value-Pz81",
    "annotation-value-Lk40",
    "updated-value-Mw93",
)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def rows_holding(text):
    """Mirror rows (and watch cursors) whose stored text holds `text` anywhere: any column."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kind, name FROM {MirroredObject._meta.db_table} t WHERE t::text LIKE %s",
            ["%" + text + "%"],
        )
        found = cursor.fetchall()
        cursor.execute(f"SELECT kind FROM {WatchCursor._meta.db_table} t WHERE t::text LIKE %s", ["%" + text + "%"])
        return found + cursor.fetchall()


def secret(name, annotation_value=IN_ANNOTATION):
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "web"}},
        "type": "Opaque",
        "data": {"password": b64(IN_DATA)},
        "stringData": {"token": IN_STRING_DATA},
    }
    # what `kubectl apply` leaves on an object: all of it, values included
    body["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps({**body, "x": annotation_value})
    }
    return body


def deployment(name, secret_name, account="default"):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": account,
                    "containers": [{"name": "c", "image": "nginx", "envFrom": [{"secretRef": {"name": secret_name}}]}],
                },
            },
        },
    }


@pytest.fixture
def watched(cluster):
    with ClusterAPI(cluster) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    watchers = ClusterWatchers(kinds=[KINDS[k] for k in ("Secret", "ServiceAccount", "Deployment")])
    watchers.refresh()
    yield cluster
    watchers.stop(timeout=5)


def mirrored(cluster, kind, name):
    return MirroredObject.objects.filter(cluster=cluster, kind=kind, namespace=NS, name=name).first()


def test_no_secret_value_ever_reaches_the_database(watched, client):
    cluster = watched
    with ClusterAPI(cluster) as api:
        api.apply(secret("db"))
        wait_for(lambda: mirrored(cluster, "Secret", "db") is not None, what="the Secret in the mirror")
        row = mirrored(cluster, "Secret", "db")
        # its metadata is there: name, labels, type, creation time, owners; the graph needs no more
        assert row.labels == {"app": "web"} and row.created_at is not None and row.uid
        assert row.object["type"] == "Opaque" and row.object["metadata"]["labels"] == {"app": "web"}
        assert set(row.object) == {"apiVersion", "kind", "metadata", "type"}
        assert "annotations" not in row.object["metadata"] and "managedFields" not in row.object["metadata"]
        # the default ServiceAccount the namespace got, too
        wait_for(lambda: mirrored(cluster, "ServiceAccount", "default") is not None, what="the ServiceAccount")

        # a change arrives over the watch, not a list: the same reduction on that path
        changed = api.patch("Secret", "db", NS, {"data": {"password": b64(IN_UPDATE)}})
        version = changed["metadata"]["resourceVersion"]
        wait_for(lambda: mirrored(cluster, "Secret", "db").resource_version == version, what="the watch event")
        # and a full list (the relist after 410 Gone, the tests' helper)
        items = api.list("Secret", NS)
    assert any(item.get("data") for item in items)  # the API does hand the values out
    for item in items:
        item["kind"] = "Secret"
    mirror.replace_kind(cluster.pk, "Secret", items, "")

    assert rows_holding("db")  # the search does find what is there
    for value in (IN_DATA, IN_STRING_DATA, IN_ANNOTATION, IN_UPDATE):
        for text in (value, b64(value), b64(value)[:12]):
            assert rows_holding(text) == [], text
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {MirroredObject._meta.db_table} WHERE object ? 'data'")
        assert cursor.fetchone()[0] == 0

    # the resource browser now lists Secrets (operators and auditors): their metadata, no value
    client.force_login(mk_user("ops", "operator"))
    listed = client.get(reverse("console:resource_list", args=[cluster.name, "Secret"]) + f"?namespace={NS}")
    assert listed.status_code == 200 and ">db<" in listed.content.decode()
    detail = client.get(reverse("console:resource", args=[cluster.name, "Secret", NS, "db"])).content.decode()
    assert "Opaque" in detail and "app: web" in detail
    for value in (IN_DATA, IN_STRING_DATA, IN_ANNOTATION, IN_UPDATE):
        assert value not in detail and b64(value) not in detail


def test_the_graph_draws_a_missing_secret_or_account_broken_and_heals_live(watched):
    cluster = watched
    with ClusterAPI(cluster) as api:
        api.apply(secret("web-env"))
        api.apply(deployment("web", "web-env"))
        api.apply(deployment("api", "api-env", account="robot"))
    wait_for(lambda: mirrored(cluster, "Deployment", "api") is not None, what="the Deployments")
    wait_for(lambda: mirrored(cluster, "Secret", "web-env") is not None, what="the Secret")

    def health(ident):
        nodes = {n["id"]: n for n in services.namespace_graph(cluster, [NS])["nodes"]}
        return nodes[ident]["health"], nodes[ident].get("reason", "")

    assert health(f"Secret/{NS}/web-env") == ("ok", "")
    assert health(f"ServiceAccount/{NS}/default") == ("ok", "")
    assert health(f"Secret/{NS}/api-env") == ("bad", "missing")
    assert health(f"ServiceAccount/{NS}/robot") == ("bad", "missing")

    with ClusterAPI(cluster) as api:
        api.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": NS}})
        api.apply(secret("api-env"))
    wait_for(lambda: health(f"Secret/{NS}/api-env")[0] == "ok", what="the Secret created")
    wait_for(lambda: health(f"ServiceAccount/{NS}/robot")[0] == "ok", what="the ServiceAccount created")


def test_an_identity_that_may_not_list_secrets_is_told_and_the_graph_does_not_guess(sandbox, cluster):
    """Mirroring Secrets needs `list` and `watch secrets` cluster-wide, which Kubernetes' own
    view role does not grant: the identity check names them, the watcher keeps its error on the
    cursor, and the graph shows Secrets as not known rather than missing."""
    with ClusterAPI(cluster) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        api.apply(secret("web-env"))
        api.apply(deployment("web", "web-env"))
        api.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "caas-viewers"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "caas:viewers"}],
            }
        )
    wanted = permissions.required()
    assert wanted[permissions.Need("list", "", "secrets")] == ["mirror"]
    assert "mirror" in wanted[permissions.Need("watch", "", "serviceaccounts")]

    viewer = mk_cluster(
        "viewer", kubeconfig_text=sandbox.kubeconfig_text(token=sandbox.add_token("v", ["caas:viewers"]))
    )
    with ClusterAPI(viewer) as api:
        missing = {m["text"]: m["features"] for m in permissions.check(api)}
    assert missing["list secrets"] == ["mirror"] and missing["watch secrets"] == ["mirror"]
    assert "list serviceaccounts" not in missing and "watch deployments" not in missing

    watchers = ClusterWatchers(kinds=[KINDS[k] for k in ("Secret", "ServiceAccount", "Deployment")])
    watchers.refresh()
    try:
        wait_for(
            lambda: WatchCursor.objects.filter(cluster=viewer, kind="Secret").exclude(last_error="").exists(),
            what="the Secret watcher's error",
        )
        wait_for(lambda: mirrored(viewer, "Deployment", "web") is not None, what="the Deployment")
        wait_for(lambda: mirrored(viewer, "ServiceAccount", "default") is not None, what="the ServiceAccount")
    finally:
        watchers.stop(timeout=5)
    assert "403" in WatchCursor.objects.get(cluster=viewer, kind="Secret").last_error
    nodes = {n["id"]: n for n in services.namespace_graph(viewer, [NS])["nodes"]}
    assert nodes[f"Secret/{NS}/web-env"]["health"] == "idle"  # not known: not "missing"
    assert nodes[f"ServiceAccount/{NS}/default"]["health"] == "ok"


def test_a_missing_reference_marked_optional_is_not_drawn_broken(cluster, client):
    """env valueFrom, envFrom and volumes may mark a ConfigMap or Secret optional: Kubernetes starts
    the pod without it, so missing it is not an error (unknown, "optional, missing"). One reference
    that is not optional makes it required again; created, it is ok."""
    with ClusterAPI(cluster) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    watchers = ClusterWatchers(kinds=[KINDS[k] for k in ("ConfigMap", "Secret", "ServiceAccount", "Deployment")])
    watchers.refresh()
    try:
        optional = deployment("opt", "opt-env")
        container = optional["spec"]["template"]["spec"]["containers"][0]
        container["envFrom"] = [{"secretRef": {"name": "opt-env", "optional": True}}]
        container["env"] = [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "opt-cm", "key": "a", "optional": True}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "opt-key", "key": "b", "optional": True}}},
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "shared", "key": "c", "optional": True}}},
        ]
        optional["spec"]["template"]["spec"]["volumes"] = [
            {"name": "v", "configMap": {"name": "opt-volume", "optional": True}},
            {"name": "w", "secret": {"secretName": "opt-secret-volume", "optional": True}},
        ]
        required = deployment("req", "req-env")  # envFrom "req-env", not optional
        required["spec"]["template"]["spec"]["containers"][0]["envFrom"].append({"configMapRef": {"name": "shared"}})
        with ClusterAPI(cluster) as api:
            api.apply(optional)
            api.apply(required)
        wait_for(lambda: mirrored(cluster, "Deployment", "req") is not None, what="the Deployments")
        wait_for(lambda: mirrored(cluster, "Deployment", "opt") is not None, what="the Deployments")
        wait_for(lambda: not services.unlisted_kinds(cluster.pk), what="Secrets and ServiceAccounts listed")

        def health(kind, name):
            nodes = {n["id"]: n for n in services.namespace_graph(cluster, [NS])["nodes"]}
            node = nodes[f"{kind}/{NS}/{name}"]
            return node["health"], node.get("reason", "")

        for kind, name in [
            ("Secret", "opt-env"),
            ("ConfigMap", "opt-cm"),
            ("Secret", "opt-key"),
            ("ConfigMap", "opt-volume"),
            ("Secret", "opt-secret-volume"),
        ]:
            assert health(kind, name) == ("unknown", "optional, missing"), (kind, name)
        assert health("Secret", "req-env") == ("bad", "missing")
        assert health("ConfigMap", "shared") == ("bad", "missing")  # optional for one, required by the other

        client.force_login(mk_user("ops-opt", "operator"))
        url = reverse("topology:cluster_node", args=[cluster.name])
        drawer = client.get(url, {"id": f"ConfigMap/{NS}/opt-cm"}).content.decode()
        assert "optional, missing: the pods start without it" in drawer and 'topology-badge-unknown"' in drawer
        assert ">missing<" in client.get(url, {"id": f"Secret/{NS}/req-env"}).content.decode()

        with ClusterAPI(cluster) as api:
            api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "opt-cm", "namespace": NS}})
        wait_for(lambda: health("ConfigMap", "opt-cm") == ("ok", ""), what="the ConfigMap created")
    finally:
        watchers.stop(timeout=5)
