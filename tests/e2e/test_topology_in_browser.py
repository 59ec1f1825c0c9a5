"""A tenant member watches the topology of a namespace fill in live as an app is deployed
(Ingress → Service → Deployment → pods, its ConfigMap and Secret), then a pod crashes and
turns red in place: same zoom, same positions. Real daphne, watcher and sandbox cluster."""

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

    # the drawer: the pod's state and its links
    page.evaluate(f"() => {{ window.topology.getElementById('Pod/acme-web/{victim}').emit('tap'); }}")
    expect(page.locator("[data-testid=drawer-health]")).to_have_text("bad")
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
