import pytest
from django.urls import reverse

from console.clusters import mirror
from console.clusters.models import Cluster

from .test_mirror import pod

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    cluster = Cluster.objects.create(name="c1", server="http://127.0.0.1:1", context="main", kubeconfig_encrypted="x")
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-web", "resourceVersion": "1"},
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2},
    }
    replicaset = {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "uid-web-1",
            "resourceVersion": "2",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "uid-web", "controller": True}],
        },
    }
    event = {
        "kind": "Event",
        "apiVersion": "v1",
        "type": "Warning",
        "reason": "BackOff",
        "message": "restarting failed container",
        "metadata": {"name": "web-1-a.1", "namespace": "shop", "uid": "ev1", "resourceVersion": "9"},
        "involvedObject": {"kind": "Pod", "name": "web-1-a", "uid": "uid-web-1-a"},
        "lastTimestamp": "2026-11-25T12:05:39Z",
    }
    mirror.replace_kind(cluster.pk, "Deployment", [deployment], "3")
    mirror.replace_kind(cluster.pk, "ReplicaSet", [replicaset], "3")
    mirror.replace_kind(
        cluster.pk,
        "Pod",
        [
            pod("web-1-a", 4, owner="web-1"),
            pod("web-1-b", 5, owner="web-1", phase="Pending"),
            pod("cache-0", 6, namespace="infra", labels={"app": "cache"}),
        ],
        "7",
    )
    mirror.replace_kind(cluster.pk, "Event", [event], "9")
    return cluster


def names(response):
    return [row.split('"')[0].split("/")[1] for row in response.content.decode().split('data-object="')[1:]]


def test_list_filters_sorts_and_paginates(client, auditor, cluster):
    client.force_login(auditor)
    url = reverse("console:resource_list", args=["c1", "Pod"])
    assert names(client.get(url)) == ["cache-0", "web-1-a", "web-1-b"]
    assert names(client.get(url, {"namespace": "shop"})) == ["web-1-a", "web-1-b"]
    assert names(client.get(url, {"labels": "app=web"})) == ["web-1-a", "web-1-b"]
    assert names(client.get(url, {"labels": "app notin (web)"})) == ["cache-0"]
    assert names(client.get(url, {"name": "1-b"})) == ["web-1-b"]
    assert names(client.get(url, {"status": "Pending"})) == ["web-1-b"]
    assert names(client.get(url, {"sort": "-name"})) == ["web-1-b", "web-1-a", "cache-0"]
    fragment = client.get(url, {"namespace": "shop"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "web-1-a" in fragment
    page = client.get(url, {"namespace": "shop"}).content.decode()
    assert f'value="nskind-{cluster.pk}.shop.Pod"' in page  # the page follows its namespace live


@pytest.mark.parametrize(
    "query", [{"labels": "app in ("}, {"namespace": "Not_A_Namespace"}, {"sort": "size"}, {"page": "x"}]
)
def test_bad_filters_get_400(client, auditor, cluster, query):
    client.force_login(auditor)
    response = client.get(reverse("console:resource_list", args=["c1", "Pod"]), query)
    assert response.status_code == 400 and "alert-danger" in response.content.decode()


def test_unknown_kind_or_object_is_404(client, auditor, cluster):
    client.force_login(auditor)
    assert client.get(reverse("console:resource_list", args=["c1", "Role"])).status_code == 404  # not mirrored
    assert client.get(reverse("console:resource", args=["c1", "Pod", "shop", "nope"])).status_code == 404


def test_detail_shows_yaml_owner_chain_children_and_events(client, operator, cluster, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    client.force_login(operator)
    body = client.get(reverse("console:resource", args=["c1", "Pod", "shop", "web-1-a"])).content.decode()
    chain = body.split('id="owner-chain"')[1].split("</ul>")[0]
    assert chain.index("ReplicaSet/web-1") < chain.index("Deployment/web")
    assert "BackOff" in body and "restarting failed container" in body
    assert "2026-11-25 20:05:39" in body  # Kubernetes' UTC shown in the console's time zone
    assert "uid: uid-web-1-a" in body
    rs = client.get(reverse("console:resource", args=["c1", "ReplicaSet", "shop", "web-1"])).content.decode()
    children = rs.split('id="children"')[1].split("</ul>")[0]
    assert "Pod/web-1-a" in children and "Pod/web-1-b" in children


def test_kind_index_counts_from_the_mirror(client, auditor, cluster):
    client.force_login(auditor)
    body = client.get(reverse("console:resource_index", args=["c1"])).content.decode()
    pods = body.split(">Pod<")[1]
    assert '<span class="fs-5">3</span>' in pods.split("</a>")[0]
