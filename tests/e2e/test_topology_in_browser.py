"""A tenant member watches the topology of a namespace fill in live as an app is deployed
(Ingress → Service → Deployment → pods, its ConfigMap and Secret), then a pod crashes and
turns red in place: same zoom, same positions. Real daphne, watcher and sandbox cluster."""

import json

import pytest
from playwright.sync_api import expect

from console.clusters.watcher import ClusterWatchers
from console.kube.api import ClusterAPI
from console.kube.kinds import KINDS
from tenants import manifests

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_member, mk_project, mk_tenant
from ..topology.conftest import web_objects
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
)
sandbox = sandbox_fixture()


@pytest.fixture
def acme_web(cluster):
    tenant = mk_tenant("acme", clusters=[cluster])
    mk_member(tenant, "wile", password=PASSWORD)
    project = mk_project(tenant, cluster, "web")
    with ClusterAPI(cluster) as api:
        namespace = manifests.namespace(project)
        namespace["metadata"]["labels"] = {manifests.TENANT_LABEL: "acme"}
        api.apply(namespace)
        for policy in manifests.network_policies(project):
            api.apply(policy)
    watchers = ClusterWatchers(kinds=[KINDS[kind] for kind in WATCHED])
    watchers.refresh()
    yield project
    watchers.stop(timeout=5)


def has_node(ident, **data):
    checks = "".join(f" && n.data({key!r}) === {value!r}" for key, value in data.items())
    found = f"const n = window.topology && window.topology.getElementById({ident!r});"
    return f"() => {{ {found} return n && n.length > 0{checks}; }}"


def test_an_app_appears_live_and_a_crashing_pod_turns_red(new_page, acme_web, cluster, sandbox):
    page = sign_in(new_page(), "wile")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.click("#main-nav >> text=Topology")
    page.click("text=acme-web")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    expect(page.locator("[data-testid=topology-status]")).to_contain_text("Nothing here yet")
    expect(page.locator("body")).to_have_attribute("data-live", "open")

    with ClusterAPI(cluster) as api:
        for obj in web_objects("acme-web", "web.acme.example"):
            api.apply(obj)
    # nodes and edges arrive over the websocket (mirror ticks), no reload
    page.wait_for_function(has_node("Ingress/acme-web/web"), timeout=20_000)
    page.wait_for_function(has_node("Deployment/acme-web/web"), timeout=20_000)
    page.wait_for_function(
        '() => window.topology.nodes(\'[kind = "Pod"][health = "ok"]\').length === 2', timeout=30_000
    )
    page.wait_for_function(
        "() => window.topology.getElementById('Service/acme-web/web>selects>Deployment/acme-web/web').length === 1",
        timeout=20_000,
    )
    assert page.evaluate("window.topology.getElementById('ConfigMap/acme-web/web-config').length") == 1
    assert page.evaluate("window.topology.getElementById('Secret/acme-web/web-env').length") == 1
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # each tick asked what changed since the page's version: the whole graph was fetched once, at the start
    fetched = page.evaluate("window.topologyFetches")
    assert fetched["full"] == 1 and fetched["diff"] >= 1, fetched

    # the user zooms in; a pod crashes; it turns red where it is
    page.click("#topology-fit")
    page.evaluate("() => { window.topology.zoom({level: 1.3, renderedPosition: {x: 300, y: 300}}); }")
    before = page.evaluate(
        "({zoom: window.topology.zoom(), pan: window.topology.pan(),"
        " at: window.topology.getElementById('Deployment/acme-web/web').position()})"
    )
    with ClusterAPI(cluster) as api:
        victim = api.list("Pod", "acme-web")[0]["metadata"]["name"]
    sandbox.set_pod_fault("acme-web", victim, "crash")
    page.wait_for_function(has_node(f"Pod/acme-web/{victim}", health="bad"), timeout=30_000)
    page.wait_for_function(has_node("Deployment/acme-web/web", health="bad"), timeout=10_000)
    after = page.evaluate(
        "({zoom: window.topology.zoom(), pan: window.topology.pan(),"
        " at: window.topology.getElementById('Deployment/acme-web/web').position()})"
    )
    assert after == before
    now = page.evaluate("window.topologyFetches")
    assert now["full"] == 1 and now["diff"] > fetched["diff"], now

    # the drawer: the pod's state and its links
    page.evaluate(f"() => {{ window.topology.getElementById('Pod/acme-web/{victim}').emit('tap'); }}")
    expect(page.locator("[data-testid=drawer-health]")).to_have_attribute("data-health", "bad")
    expect(page.locator("[data-testid=drawer-links]")).to_contain_text("Logs")
    page.click("#topology-fit")
    page.check("[data-testid=topology-policies]")
    screenshot(page, "topology-namespace-en")

    # search, filter, group; the reach check in the side panel; export as PNG
    page.fill("[data-testid=topology-search]", "web-config")
    page.wait_for_function("() => window.topology.getElementById('ConfigMap/acme-web/web-config').hasClass('match')")
    page.select_option("[data-testid=topology-kind]", "Pod")
    assert page.evaluate("window.topology.getElementById('Service/acme-web/web').hasClass('filtered')")
    assert not page.evaluate(f"window.topology.getElementById('Pod/acme-web/{victim}').hasClass('filtered')")
    page.select_option("[data-testid=topology-kind]", "")
    page.select_option("[data-testid=topology-group]", "host")
    page.wait_for_function("() => window.topology.getElementById('group:host:sandbox-node-1').isParent()")
    page.fill("#id_source", "acme-web")
    page.fill("#id_target", "Deployment/acme-web/web")
    page.fill("#id_port", "80")
    page.click("[data-testid=reach-form] button[type=submit]")
    expect(page.locator("[data-testid=reach-verdict]")).to_have_attribute("data-allowed", "yes")
    expect(page.locator("[data-testid=reach-why]")).to_contain_text("caas-allow-tenant")
    page.fill("#id_source", "!!")
    page.click("[data-testid=reach-form] button[type=submit]")
    expect(page.locator("#reach-result [data-testid=form-error]")).to_contain_text("is not a workload")
    with page.expect_download() as download:
        page.click("[data-testid=topology-png]")
    assert download.value.suggested_filename == "topology.png"

    # the same page in Chinese
    other = sign_in(new_page(locale="zh-CN"), "wile")
    other.set_viewport_size({"width": 1400, "height": 900})
    other.goto(f"/topology/tenants/acme/{acme_web.name}/")
    expect(other.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(other.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    other.wait_for_function(has_node(f"Pod/acme-web/{victim}", health="bad"), timeout=10_000)
    screenshot(other, "topology-namespace-zh")


def big_graph(pods):
    """A namespace graph as the JSON view answers it: a Deployment with `pods` pods, and a small one with 2."""
    nodes, edges = [], []
    for app, count in (("big", pods), ("small", 2)):
        workload = f"Deployment/acme-web/{app}"
        nodes.append({"id": workload, "kind": "Deployment", "namespace": "acme-web", "name": app, "health": "ok"})
        for i in range(count):
            ident = f"Pod/acme-web/{app}-{i:03d}"
            nodes.append(
                {
                    "id": ident,
                    "kind": "Pod",
                    "namespace": "acme-web",
                    "name": f"{app}-{i:03d}",
                    "health": "ok",
                    "labels": {"app": app},
                    "workload": workload,
                    "host": "node-1",
                }
            )
            edges.append({"id": f"{workload}>runs>{ident}", "source": workload, "target": ident, "relation": "runs"})
    return {"scope": "namespace", "version": "a" * 20, "nodes": nodes, "edges": edges, "paths": []}


def test_a_large_namespace_draws_pod_groups_and_applies_diffs_in_place(new_page, acme_web):
    """The page's side of versions and diffs, on a graph too large to draw pod by pod: the
    JSON answers are the view's shapes (tests/topology/test_versions.py checks the view)."""
    page = sign_in(new_page(), "wile")
    page.set_viewport_size({"width": 1400, "height": 900})
    graph = big_graph(500)
    diff = {
        "scope": "namespace",
        "version": "b" * 20,
        "since": "a" * 20,
        "diff": True,
        "nodes": {
            "added": [{"id": "Service/acme-web/big", "kind": "Service", "namespace": "acme-web", "name": "big"}],
            "changed": [{**graph["nodes"][8], "health": "bad"}],  # Pod big-007
            "removed": ["Pod/acme-web/big-499"],
        },
        "edges": {
            "added": [
                {
                    "id": "Service/acme-web/big>selects>Deployment/acme-web/big",
                    "source": "Service/acme-web/big",
                    "target": "Deployment/acme-web/big",
                    "relation": "selects",
                }
            ],
            "removed": ["Deployment/acme-web/big>runs>Pod/acme-web/big-499"],
        },
    }
    asked = []

    def answer(route):
        asked.append(route.request.url)
        body = diff if "since=" + "a" * 20 in route.request.url else graph
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/graph.json*", answer)
    page.goto(f"/topology/tenants/acme/{acme_web.name}/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    group = "pods:Deployment/acme-web/big"
    # 500 pods of one workload are one node; the small workload's 2 pods are drawn
    assert page.evaluate(f"window.topology.getElementById({group!r}).data('pods')") == 500
    assert page.evaluate("window.topology.nodes('[kind = \"Pod\"][!podGroup]').length") == 2
    assert page.evaluate("window.topology.nodes().length") == 5

    view = (
        "({zoom: window.topology.zoom(), pan: window.topology.pan(),"
        " at: window.topology.getElementById('Deployment/acme-web/big').position()})"
    )
    # in braces: an arrow returning a Cytoscape object has Playwright serialize the whole graph (seconds)
    page.evaluate("() => { window.topology.zoom({level: 1.7, renderedPosition: {x: 400, y: 300}}); }")
    before = page.evaluate(view)
    # a mirror tick: the page asks what changed since its version and patches it in
    page.evaluate(
        "() => document.dispatchEvent(new CustomEvent('htmx:oobAfterSwap',"
        " {detail: {target: document.querySelector('.mirror-tick')}}))"
    )
    page.wait_for_function("() => window.topology.getElementById('Service/acme-web/big').length === 1")
    assert page.evaluate(f"window.topology.getElementById({group!r}).data('health')") == "bad"
    assert page.evaluate(f"window.topology.getElementById({group!r}).data('pods')") == 499
    assert page.evaluate("window.topologyFetches") == {"full": 1, "diff": 1}
    assert any("since=" + "a" * 20 in url for url in asked)
    assert page.evaluate(view) == before

    # opening the group draws its pods where it was, the changed one red, the removed one gone
    page.evaluate(f"() => {{ window.topology.getElementById({group!r}).emit('tap'); }}")
    page.wait_for_function("() => window.topology.nodes('[kind = \"Pod\"]').length === 501")
    assert page.evaluate(f"window.topology.getElementById({group!r}).length") == 0
    assert page.evaluate("window.topology.getElementById('Pod/acme-web/big-007').data('health')") == "bad"
    assert page.evaluate("window.topology.getElementById('Pod/acme-web/big-499').length") == 0
    assert page.evaluate(view) == before
