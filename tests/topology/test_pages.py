"""Topology pages and JSON on a real sandbox cluster mirrored into PostgreSQL: what a tenant
sees, what it never sees of another tenant (404s, the same as a typo; websocket groups
refused), the drawer's links, the reach check and its bad input, the operators' cluster view."""

import json

import pytest
from django.urls import reverse

from console.clusters import mirror
from console.live import realtime
from monitoring.topology import services

from ..conftest import sandbox_fixture
from ..factories import mk_user

pytestmark = pytest.mark.django_db
sandbox = sandbox_fixture("module")


def get(client, user, name, *args, query=""):
    client.force_login(user)
    return client.get(reverse(name, args=args) + query)


def test_a_tenant_sees_its_namespace_graph_and_nothing_of_others(client, tenants_world):
    dev = tenants_world["users"]["acme"]
    response = get(client, dev, "topology:namespace_graph", "acme", "acme-web")
    assert response.status_code == 200
    data = response.json()
    ids = {n["id"] for n in data["nodes"]}
    relations = {(e["source"], e["relation"], e["target"]) for e in data["edges"]}
    assert {
        "Ingress/acme-web/web",
        "Service/acme-web/web",
        "Deployment/acme-web/web",
        "ConfigMap/acme-web/web-config",
        "Secret/acme-web/web-env",
        "ServiceAccount/acme-web/default",
    } <= ids
    pods = [n for n in data["nodes"] if n["kind"] == "Pod"]
    assert len(pods) == 2 and all(p["health"] == "ok" for p in pods)
    assert ("Ingress/acme-web/web", "routes", "Service/acme-web/web") in relations
    assert ("Service/acme-web/web", "selects", "Deployment/acme-web/web") in relations
    assert next(n for n in data["nodes"] if n["id"] == "Ingress/acme-web/web")["hosts"] == ["web.acme.example"]
    assert next(n for n in data["nodes"] if n["id"] == "Service/acme-web/web")["endpoints"] == 2
    assert any(e["relation"] == "on-node" for e in data["edges"])
    assert "globex" not in response.content.decode()

    export = get(client, dev, "topology:namespace_graph", "acme", "acme-web", query="?download=1")
    assert export["Content-Disposition"] == 'attachment; filename="topology-sandbox-acme-web.json"'
    page = get(client, dev, "topology:namespace", "acme", "acme-web")
    assert page.status_code == 200
    body = page.content.decode()
    assert "vendor/cytoscape/cytoscape-3.35.0.min.js" in body
    # the page follows the namespace's mirror groups, which its members may join
    group = mirror.namespace_kind_group(tenants_world["web"].cluster_id, "acme-web", "Pod")
    assert group in body and realtime.may_subscribe(dev, group)


def test_another_tenant_gets_404_everywhere(client, tenants_world):
    stranger = tenants_world["users"]["globex"]
    for name, args, query in [
        ("topology:namespace", ["acme", "acme-web"], ""),
        ("topology:namespace_graph", ["acme", "acme-web"], ""),
        ("topology:node", ["acme", "acme-web"], "?id=Deployment/acme-web/web"),
        ("topology:reach", ["acme", "acme-web"], "?source=acme-web&target=acme-web&port=80&protocol=TCP"),
        ("topology:tenant", ["acme"], ""),
        ("topology:tenant_graph", ["acme"], ""),
        ("topology:tenant_node", ["acme"], "?id=Namespace//acme-web"),
    ]:
        assert get(client, stranger, name, *args, query=query).status_code == 404, name
    # nor through its own pages: a node id of acme's namespace asked on globex's
    for query in ("?id=Deployment/acme-web/web", "?id=Namespace//acme-web", "?id=Node//nowhere"):
        assert get(client, stranger, "topology:node", "globex", "globex-shop", query=query).status_code == 404
    assert get(client, stranger, "topology:tenant_node", "globex", query="?id=Pod/acme-web/x").status_code == 404
    # nor over the websocket
    cluster_id = tenants_world["web"].cluster_id
    assert not realtime.may_subscribe(stranger, mirror.namespace_kind_group(cluster_id, "acme-web", "Pod"))
    assert not realtime.may_subscribe(stranger, mirror.kind_group(cluster_id, "Pod"))
    # the tenant view of globex holds globex's namespace only
    data = get(client, stranger, "topology:tenant_graph", "globex").json()
    assert [n["name"] for n in data["nodes"]] == ["globex-shop"]
    assert "acme" not in json.dumps(data)


def test_the_drawer_shows_a_node_with_its_links(client, tenants_world):
    dev = tenants_world["users"]["acme"]
    response = get(client, dev, "topology:node", "acme", "acme-web", query="?id=Deployment/acme-web/web")
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("workloads:app", args=["acme", "acme-web", "web"]) in body
    assert "2 / 2" in body  # ready / wanted replicas
    assert "ConfigMap/acme-web/web-config" in body  # what it depends on
    pod = next(
        n["name"]
        for n in get(client, dev, "topology:namespace_graph", "acme", "acme-web").json()["nodes"]
        if n["kind"] == "Pod"
    )
    body = get(client, dev, "topology:node", "acme", "acme-web", query=f"?id=Pod/acme-web/{pod}").content.decode()
    assert reverse("workloads:pod_log", args=["acme", "acme-web", "web", pod]) in body
    assert get(client, dev, "topology:node", "acme", "acme-web", query="?id=Pod/acme-web/gone").status_code == 404
    assert get(client, dev, "topology:node", "acme", "acme-web", query="?id=bogus").status_code == 404


def test_can_a_reach_b(client, tenants_world):
    operator = mk_user("topo-op", "operator")
    dev = tenants_world["users"]["acme"]
    query = "?source=Deployment/globex-shop/web&target=Deployment/acme-web/web&port=80&protocol=TCP"
    response = get(client, operator, "topology:reach", "acme", "acme-web", query=query)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-allowed="no"' in body
    assert "acme-web/caas-default-deny" in body and "denied by default" in body

    inside = get(
        client,
        dev,
        "topology:reach",
        "acme",
        "acme-web",
        query="?source=acme-web&target=Deployment/acme-web/web&port=80&protocol=TCP",
    )
    assert inside.status_code == 200 and 'data-allowed="yes"' in inside.content.decode()
    assert "allowed by acme-web/caas-allow-tenant" in inside.content.decode()

    # a tenant may not ask about another tenant's namespace: the same answer as a typo
    foreign = get(client, dev, "topology:reach", "acme", "acme-web", query=query)
    assert foreign.status_code == 400
    assert "No namespace globex-shop on this cluster." in foreign.content.decode()
    for bad, message in [
        ("?source=acme-web&target=acme-web&port=x&protocol=TCP", "Enter a whole number."),
        ("?source=acme-web&target=acme-web&port=70000&protocol=TCP", "less than or equal to 65535"),
        ("?source=%21%21&target=acme-web&port=80&protocol=TCP", "is not a workload"),
        ("?source=10.0.0.1&target=10.0.0.2&port=80&protocol=TCP", "At least one side must be inside the cluster."),
        (
            "?source=Deployment/acme-web/nope&target=acme-web&port=80&protocol=TCP",
            "No Deployment acme-web/nope in the mirror.",
        ),
        ("?source=acme-web&target=acme-web&port=80&protocol=ICMP", "Select a valid choice."),
    ]:
        response = get(client, dev, "topology:reach", "acme", "acme-web", query=bad)
        assert response.status_code == 400, bad
        assert message in response.content.decode(), bad


def test_the_cluster_view_counts_instead_of_drawing(client, tenants_world):
    operator = mk_user("topo-op", "operator")
    data = get(client, operator, "topology:cluster_graph", "sandbox").json()
    groups = {n["name"]: n for n in data["nodes"]}
    assert groups["acme-web"]["pods"] == 2 and groups["acme-web"]["collapsed"]
    assert groups["globex-shop"]["health"] == "ok"
    pairs = services.expand_paths(data["paths"], data["policy_endpoints"])
    denied = {(p["source"], p["target"]) for p in pairs if not p["allowed"]}
    assert ("Namespace//globex-shop", "Namespace//acme-web") in denied
    # the overlay follows a policy change (a world and an overlay are kept between requests)
    from console.kube.api import ClusterAPI

    from .conftest import mirror_cluster

    cluster = tenants_world["web"].cluster
    with ClusterAPI(cluster) as api:
        for namespace, direction, peer in (
            ("acme-web", "ingress", "globex-shop"),
            ("globex-shop", "egress", "acme-web"),
        ):
            selector = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": peer}}}
            api.apply(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": f"{direction}-{peer}", "namespace": namespace},
                    "spec": {
                        "podSelector": {},
                        "policyTypes": [direction.title()],
                        direction: [{"from" if direction == "ingress" else "to": [selector]}],
                    },
                }
            )
    mirror_cluster(cluster, ("NetworkPolicy",))
    data = get(client, operator, "topology:cluster_graph", "sandbox").json()
    pairs = services.expand_paths(data["paths"], data["policy_endpoints"])
    allowed = {(p["source"], p["target"]) for p in pairs if p["allowed"]}
    assert ("Namespace//globex-shop", "Namespace//acme-web") in allowed
    assert ("Namespace//acme-web", "Namespace//globex-shop") not in allowed
    with ClusterAPI(cluster) as api:  # the sandbox is the module's: leave it as it was
        api.delete("NetworkPolicy", "ingress-globex-shop", "acme-web")
        api.delete("NetworkPolicy", "egress-acme-web", "globex-shop")
    mirror_cluster(cluster, ("NetworkPolicy",))
    data = get(client, operator, "topology:cluster_graph", "sandbox").json()
    pairs = services.expand_paths(data["paths"], data["policy_endpoints"])
    assert ("Namespace//globex-shop", "Namespace//acme-web") not in {
        (p["source"], p["target"]) for p in pairs if p["allowed"]
    }
    expanded = get(client, operator, "topology:cluster_namespace_graph", "sandbox", "acme-web").json()
    assert "Deployment/acme-web/web" in {n["id"] for n in expanded["nodes"]}
    auditor = mk_user("topo-aud", "auditor")
    assert get(client, auditor, "topology:cluster", "sandbox").status_code == 200
    assert get(client, tenants_world["users"]["acme"], "topology:cluster_graph", "sandbox").status_code == 403


def test_can_a_reach_b_on_the_cluster_and_tenant_pages(client, tenants_world):
    operator = mk_user("topo-op", "operator")
    dev, stranger = tenants_world["users"]["acme"], tenants_world["users"]["globex"]
    across = "source=Deployment/globex-shop/web&target=Deployment/acme-web/web&port=80&protocol=TCP"
    # the operators' cluster page: any namespace of the cluster
    page = get(client, operator, "topology:cluster", "sandbox").content.decode()
    assert 'data-testid="reach-form"' in page and reverse("topology:cluster_reach", args=["sandbox"]) in page
    response = get(client, operator, "topology:cluster_reach", "sandbox", query="?" + across)
    assert response.status_code == 200 and 'data-allowed="no"' in response.content.decode()
    assert "acme-web/caas-default-deny" in response.content.decode()
    assert get(client, dev, "topology:cluster_reach", "sandbox", query="?" + across).status_code == 403

    # the tenant's page: its own namespaces only, whoever asks there
    assert '<option value="Deployment/globex-shop/web">' in page  # offered to pick: the whole cluster
    page = get(client, dev, "topology:tenant", "acme").content.decode()
    assert 'data-testid="reach-form"' in page and 'name="cluster" value="sandbox"' in page
    choices = page.split('data-testid="reach-choices">')[1].split("</datalist>")[0]
    assert '<option value="acme-web">' in choices and '<option value="Deployment/acme-web/web">' in choices
    assert "globex" not in page  # nothing of the other tenant offered, nor anywhere on the page
    inside = "?cluster=sandbox&source=acme-web&target=Deployment/acme-web/web&port=80&protocol=TCP"
    response = get(client, dev, "topology:tenant_reach", "acme", query=inside)
    assert response.status_code == 200 and 'data-allowed="yes"' in response.content.decode()
    for who in (dev, operator):
        response = get(client, who, "topology:tenant_reach", "acme", query="?cluster=sandbox&" + across)
        assert response.status_code == 400
        assert "No namespace globex-shop on this cluster." in response.content.decode()
        assert "acme-web/caas" not in response.content.decode()  # no verdict, no policy named
    outside = "?source=203.0.113.9&target=Deployment/acme-web/web&port=80&protocol=TCP"
    assert get(client, dev, "topology:tenant_reach", "acme", query=outside).status_code == 200
    # another tenant: the same answer as a typo, asked on its own page or on acme's
    assert get(client, stranger, "topology:tenant_reach", "acme", query=inside).status_code == 404
    foreign = "?source=globex-shop&target=Deployment/acme-web/web&port=80&protocol=TCP"
    response = get(client, stranger, "topology:tenant_reach", "globex", query=foreign)
    assert response.status_code == 400 and "No namespace acme-web on this cluster." in response.content.decode()
    assert get(client, dev, "topology:tenant_reach", "acme", query="?cluster=elsewhere").status_code == 404
