"""The cluster and tenant topology views in a real browser: namespaces drawn as collapsed groups,
one expanded on a click, the network policy overlay and the reach check; and the tenant view
never holding another tenant's names, neither in the page, nor in the graphs it fetches, nor in
its live updates while the other tenant changes things. Real daphne, watcher and sandbox."""

import pytest
from playwright.sync_api import expect

from console.clusters.watcher import ClusterWatchers
from console.kube.api import ClusterAPI
from console.kube.kinds import KINDS

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_user
from ..topology.conftest import set_up_tenants
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WATCHED = (
    "Namespace",
    "Pod",
    "Deployment",
    "ReplicaSet",
    "Service",
    "Endpoints",
    "Ingress",
    "ConfigMap",
    "NetworkPolicy",
    "Secret",
    "ServiceAccount",
)
sandbox = sandbox_fixture()
NAMESPACES_ONLY = (
    "() => window.topology && window.topology.nodes().length > 0 &&"
    " window.topology.nodes().every(n => n.data('kind') === 'Namespace' && n.data('collapsed'))"
)


def has_node(ident):
    return f"() => window.topology && window.topology.getElementById({ident!r}).length > 0"


def deployment(namespace, name):
    labels = {"caas.io/app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


@pytest.fixture
def world(cluster):
    world = set_up_tenants(cluster)
    for user in world["users"].values():
        user.set_password(PASSWORD)
        user.save()
    watchers = ClusterWatchers(kinds=[KINDS[kind] for kind in WATCHED])
    watchers.refresh()
    yield world
    watchers.stop(timeout=5)


def test_the_cluster_view_draws_collapsed_namespaces_and_expands_one(new_page, world):
    mk_user("ops", "operator")
    page = sign_in(new_page(), "ops")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/topology/clusters/sandbox/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    page.wait_for_function(NAMESPACES_ONLY)
    for name in ("acme-web", "globex-shop"):
        assert page.evaluate(f"window.topology.getElementById('Namespace//{name}').data('pods')") == 2
    assert not page.evaluate("window.topology.getElementById('Deployment/acme-web/web').length")

    # the overlay: globex-shop may not reach acme-web (a "*" entry of the compact overlay, drawn)
    page.check("[data-testid=topology-policies]")
    page.wait_for_function(
        '() => window.topology.edges(\'.policy[source = "Namespace//globex-shop"][target = "Namespace//acme-web"]\')'
        ".some(e => e.data('allowed') === false)"
    )

    # a click expands acme-web in place; the others stay collapsed
    page.evaluate("() => window.topology.getElementById('Namespace//acme-web').emit('tap')")
    page.wait_for_function(has_node("Deployment/acme-web/web"), timeout=15_000)
    assert page.evaluate("window.topology.getElementById('Deployment/acme-web/web').parent().id()") == (
        "Namespace//acme-web"
    )
    assert page.evaluate("window.topology.getElementById('Namespace//globex-shop').isParent()") is False
    expect(page.locator("[data-testid=drawer-node]")).to_have_attribute("data-node-id", "Namespace//acme-web")

    # the reach check on the cluster page: any namespace of the cluster
    page.fill("#id_source", "Deployment/globex-shop/web")
    page.fill("#id_target", "Deployment/acme-web/web")
    page.fill("#id_port", "80")
    page.click("[data-testid=reach-form] button[type=submit]")
    expect(page.locator("[data-testid=reach-verdict]")).to_have_attribute("data-allowed", "no")
    expect(page.locator("[data-testid=reach-why]")).to_contain_text("acme-web/caas-default-deny")
    screenshot(page, "topology-cluster-en")


def test_the_tenant_view_holds_nothing_of_another_tenant_even_live(new_page, world, cluster):
    page = sign_in(new_page(), "acme-dev")
    page.set_viewport_size({"width": 1400, "height": 900})
    seen = []  # every graph the page fetched, and every websocket frame it received
    page.on("response", lambda response: "graph.json" in response.url and seen.append(response.url + response.text()))
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: seen.append(str(frame))))
    page.goto("/topology/tenants/acme/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    page.wait_for_function(NAMESPACES_ONLY)
    assert page.evaluate("window.topology.nodes().map(n => n.id())") == ["Namespace//acme-web"]

    page.evaluate("() => window.topology.getElementById('Namespace//acme-web').emit('tap')")
    page.wait_for_function(has_node("Deployment/acme-web/web"), timeout=15_000)
    assert page.evaluate("window.topology.getElementById('Secret/acme-web/web-env').data('health')") == "ok"

    # both tenants change things; acme's change arrives live, globex's never reaches this page
    with ClusterAPI(cluster) as api:
        api.apply(deployment("globex-shop", "globex-secret-plan"))
        api.apply(deployment("acme-web", "api"))
    page.wait_for_function(has_node("Deployment/acme-web/api"), timeout=20_000)
    page.wait_for_timeout(1500)  # a moment for anything else that might still be pushed

    ids = page.evaluate("window.topology.nodes().map(n => n.id()).concat(window.topology.edges().map(e => e.id()))")
    assert ids and not [i for i in ids if "globex" in i]
    assert len(seen) > 2 and not [text for text in seen if "globex" in text]
    assert "globex" not in page.content()

    # the reach check on the tenant page: its own namespaces only
    page.fill("#id_source", "globex-shop")
    page.fill("#id_target", "Deployment/acme-web/web")
    page.fill("#id_port", "80")
    page.click("[data-testid=reach-form] button[type=submit]")
    expect(page.locator("#reach-result [data-testid=form-error]")).to_contain_text("No namespace globex-shop")
    page.fill("#id_source", "acme-web")
    page.click("[data-testid=reach-form] button[type=submit]")
    expect(page.locator("[data-testid=reach-verdict]")).to_have_attribute("data-allowed", "yes")

    screenshot(page, "topology-tenant-en")


def test_a_large_overlay_draws_the_selected_nodes_paths(new_page, cluster):
    """60 namespaces are 3,540 pairs, answered in 60 "*" entries and a few groups: too many to
    draw at once, so the overlay draws the paths of the node the user selects."""
    import json

    mk_user("ops", "operator")
    names = [f"ns-{i:02d}" for i in range(60)]
    nodes = [
        {"id": f"Namespace//{n}", "kind": "Namespace", "namespace": n, "name": n, "health": "ok", "collapsed": True}
        for n in names
    ]
    paths = []
    for target in names:  # every namespace denies all but its neighbour, which it allows
        neighbour = names[(names.index(target) + 1) % len(names)]
        paths.append(
            {"source": "*", "target": f"Namespace//{target}", "port": None, "allowed": False, "why": ["denied"]}
            | {"among": "namespaces"}
        )
        paths.append(
            {"sources": [f"Namespace//{neighbour}"], "target": f"Namespace//{target}", "port": None}
            | {"allowed": True, "why": ["allowed"], "among": "namespaces"}
        )
    graph = {"nodes": nodes, "edges": [], "paths": paths, "scope": "cluster", "cluster": "sandbox"}
    page = sign_in(new_page(), "ops")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.route("**/graph.json*", lambda route: route.fulfill(status=200, body=json.dumps(graph)))
    page.goto("/topology/clusters/sandbox/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    page.check("[data-testid=topology-policies]")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-policy-paths", str(60 * 59))
    expect(page.locator("[data-testid=topology-status]")).to_contain_text("too many to draw at once")
    assert page.evaluate("window.topology.edges('.policy').length") == 0

    page.evaluate("() => window.topology.getElementById('Namespace//ns-07').select()")
    page.wait_for_function("() => window.topology.edges('.policy').length > 0")
    drawn = page.evaluate(
        "window.topology.edges('.policy').map(e => [e.data('source'), e.data('target'), e.data('allowed')])"
    )
    assert len(drawn) == 2 * 59  # its 59 answers, both ways
    assert all("Namespace//ns-07" in (source, target) for source, target, _allowed in drawn)
    allowed = {(source, target) for source, target, is_allowed in drawn if is_allowed}
    assert allowed == {("Namespace//ns-08", "Namespace//ns-07"), ("Namespace//ns-07", "Namespace//ns-06")}
