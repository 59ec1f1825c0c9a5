"""The cluster and tenant topology views in a real browser: namespaces drawn as collapsed groups,
one expanded on a click, the network policy overlay and the reach check; and the tenant view
never holding another tenant's names, neither in the page, nor in the graphs it fetches, nor in
its live updates while the other tenant changes things. Real daphne, watcher and sandbox."""

import json
from collections import Counter

import pytest
from playwright.sync_api import expect

from console.clusters import mirror
from console.clusters.watcher import Announcer, ClusterWatchers
from console.kube.api import ClusterAPI
from console.kube.kinds import KINDS

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_cluster, mk_member, mk_project, mk_tenant, mk_user
from ..topology.conftest import set_up_tenants
from ..topology.test_versions import pod, seed
from .conftest import screenshot, sign_in
from .test_topology_extract_in_browser import click_node
from .test_topology_in_browser import big_graph

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


def tap(page, ident):
    # in braces: an arrow returning Cytoscape's element would have Playwright serialize the whole graph
    page.evaluate(f"() => {{ window.topology.getElementById({ident!r}).emit('tap'); }}")


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
    tap(page, "Namespace//acme-web")
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

    tap(page, "Namespace//acme-web")
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

    page.evaluate("() => { window.topology.getElementById('Namespace//ns-07').select(); }")
    page.wait_for_function("() => window.topology.edges('.policy').length > 0")
    drawn = page.evaluate(
        "window.topology.edges('.policy').map(e => [e.data('source'), e.data('target'), e.data('allowed')])"
    )
    assert len(drawn) == 2 * 59  # its 59 answers, both ways
    assert all("Namespace//ns-07" in (source, target) for source, target, _allowed in drawn)
    allowed = {(source, target) for source, target, is_allowed in drawn if is_allowed}
    assert allowed == {("Namespace//ns-08", "Namespace//ns-07"), ("Namespace//ns-07", "Namespace//ns-06")}


# --- a large namespace's pod groups: opened, closed again, their "runs on" edges, live health


@pytest.fixture
def acme_web_project(db):
    """Tenant acme's namespace acme-web on a cluster known only by its mirror (nothing here
    calls the cluster): its member wile may operate there, so the page offers the extract."""
    cluster = mk_cluster("c1")
    tenant = mk_tenant("acme", clusters=[cluster])
    mk_member(tenant, "wile", password=PASSWORD)
    return mk_project(tenant, cluster, "web")


def spread_graph():
    """big_graph(500) with its pods spread over three nodes (big-<i> on node-<i % 3 + 1>, the
    small app's on node-1) and the big app's pods all mounting one claim."""
    graph = big_graph(500)
    claim = {"id": "PersistentVolumeClaim/acme-web/shared", "kind": "PersistentVolumeClaim", "namespace": "acme-web"}
    graph["nodes"].append({**claim, "name": "shared", "health": "ok"})
    for i in (1, 2, 3):
        graph["nodes"].append({"id": f"Node//node-{i}", "kind": "Node", "namespace": "", "name": f"node-{i}"})
    for node in [n for n in graph["nodes"] if n["kind"] == "Pod"]:
        big = node["name"].startswith("big-")
        node["host"] = f"node-{int(node['name'][4:]) % 3 + 1}" if big else "node-1"
        graph["edges"].append(on_node(node))
        if big:
            graph["edges"].append({"id": f"{node['id']}>mounts>{claim['id']}", "source": node["id"]} | MOUNTS)
    return graph


MOUNTS = {"target": "PersistentVolumeClaim/acme-web/shared", "relation": "mounts"}


def on_node(node):
    target = f"Node//{node['host']}"
    return {"id": f"{node['id']}>on-node>{target}", "source": node["id"], "target": target, "relation": "on-node"}


def moved(graph, name, host, **changes):
    """Pod `name` of `graph` now on `host` (with `changes`): (node as changed, edge removed, edge added)."""
    was = next(n for n in graph["nodes"] if n["id"] == f"Pod/acme-web/{name}")
    now = {**was, "host": host, **changes}
    return now, on_node(was)["id"], on_node(now)


def group_edges(page, group, relation):
    """{target: [pods, label]} of the group's edges of `relation`."""
    selector = json.dumps(f'[source = "{group}"][relation = "{relation}"]')
    pairs = "e => [e.data('target'), [e.data('pods'), e.data('label')]]"
    return page.evaluate(f"Object.fromEntries(window.topology.edges({selector}).map({pairs}))")


def hosts_of(nodes):
    """Pods of the big app per node, counted here from the graph the page was given."""
    counts = Counter(
        f"Node//{n['host']}" for n in nodes.values() if n["kind"] == "Pod" and n["name"].startswith("big-")
    )
    return {host: [count, f"×{count}"] for host, count in counts.items()}


VIEW = (
    "({zoom: window.topology.zoom(), pan: window.topology.pan(), at: Object.fromEntries(window.topology.nodes()"
    ".filter(n => n.data('kind') !== 'Pod').map(n => [n.id(), n.position()]))})"
)
TICK = (
    "() => document.dispatchEvent(new CustomEvent('htmx:oobAfterSwap',"
    " {detail: {target: document.querySelector('.mirror-tick')}}))"
)


def test_a_pod_group_opens_and_collapses_again_in_place(new_page, acme_web_project):
    """A group of 500 pods draws one "runs on" edge per node with its pods' count, and one
    edge to the claim they share; opened, it is 500 pods; "Collapse pods" in the drawer makes
    it one node again where they were, with counts that follow the live diffs, and the zoom
    and every other node stay. Selecting it never counts it for the extract."""
    graph = spread_graph()
    group = "pods:Deployment/acme-web/big"
    # while the group is open: big-007 fails, big-001 moves from node-2 to node-3, big-499 goes
    shifted, gone_edge, new_edge = moved(graph, "big-001", "node-3")
    first = {
        "added": [],
        "changed": [{**graph["nodes"][8], "health": "bad"}, shifted],
        "removed": ["Pod/acme-web/big-499"],
    }
    first_edges = {
        "added": [new_edge],
        "removed": [
            gone_edge,
            "Deployment/acme-web/big>runs>Pod/acme-web/big-499",
            "Pod/acme-web/big-499>on-node>Node//node-2",
            "Pod/acme-web/big-499>mounts>PersistentVolumeClaim/acme-web/shared",
        ],
    }
    # once it is closed again: big-002 moves from node-3 to node-1
    again, gone_again, new_again = moved(graph, "big-002", "node-1")
    second_edges = {"added": [new_again], "removed": [gone_again]}
    answers = {
        "a" * 20: {"version": "b" * 20, "nodes": first, "edges": first_edges},
        "b" * 20: {
            "version": "c" * 20,
            "nodes": {"added": [], "changed": [again], "removed": []},
            "edges": second_edges,
        },
    }

    def answer(route):
        since = route.request.url.partition("since=")[2][:20]
        body = {"scope": "namespace", "since": since, "diff": True, **answers[since]} if since else graph
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page = sign_in(new_page(), "wile")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.route("**/graph.json*", answer)
    page.goto("/topology/tenants/acme/acme-web/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert group_edges(page, group, "on-node") == hosts_of(nodes)
    assert sum(count for count, _label in hosts_of(nodes).values()) == 500
    assert group_edges(page, group, "mounts") == {"PersistentVolumeClaim/acme-web/shared": [500, "×500"]}
    # the small app's two pods are drawn, each with its own edge
    assert page.evaluate("window.topology.edges('[relation = \"on-node\"][!pods]').length") == 2

    # a group is not extractable: selected with its Deployment, it does not count
    extract_count = page.locator("#topology-extract-count")
    page.evaluate(
        f"() => ['Deployment/acme-web/big', {group!r}].forEach(id => window.topology.getElementById(id).select())"
    )
    expect(extract_count).to_have_text("1")
    collapse = page.locator("[data-testid=topology-collapse]")
    expect(collapse).to_be_hidden()

    page.evaluate("() => { window.topology.zoom({level: 1.4, renderedPosition: {x: 500, y: 300}}); }")
    before = page.evaluate(VIEW)
    at = page.evaluate(f"window.topology.getElementById({group!r}).position()")
    tap(page, group)
    page.wait_for_function("() => window.topology.nodes('[kind = \"Pod\"]').length === 502")
    expect(collapse).to_be_visible()
    expect(page.locator("#topology-collapse-count")).to_have_text("500")
    expect(extract_count).to_have_text("1")  # the group went, selected; the Deployment is still counted
    assert group_edges(page, group, "on-node") == group_edges(page, group, "mounts") == {}
    assert page.evaluate("window.topology.edges('[relation = \"on-node\"]').length") == 502
    opened = page.evaluate(VIEW)
    assert opened == {**before, "at": {k: v for k, v in before["at"].items() if k != group}}

    # only a pod of an opened group, or its workload, offers to collapse it
    for ident, offered in (
        ("Pod/acme-web/small-000", False),
        ("Pod/acme-web/big-123", True),
        ("PersistentVolumeClaim/acme-web/shared", False),
        ("Deployment/acme-web/small", False),
        ("Deployment/acme-web/big", True),
    ):
        tap(page, ident)
        expect(collapse).to_be_visible() if offered else expect(collapse).to_be_hidden()

    # a mirror tick while it is open: the diff is drawn pod by pod
    page.evaluate(TICK)
    page.wait_for_function("() => window.topology.getElementById('Pod/acme-web/big-499').length === 0")
    assert page.evaluate("window.topology.getElementById('Pod/acme-web/big-007').data('health')") == "bad"
    expect(page.locator("#topology-collapse-count")).to_have_text("499")

    collapse.click()
    page.wait_for_function(f"() => window.topology.getElementById({group!r}).length === 1")
    expect(collapse).to_be_hidden()
    assert page.evaluate("window.topology.nodes('[kind = \"Pod\"][!podGroup]').length") == 2
    assert page.evaluate(f"window.topology.getElementById({group!r}).data()")["pods"] == 499
    assert page.evaluate(f"window.topology.getElementById({group!r}).data('health')") == "bad"
    assert page.evaluate(f"window.topology.getElementById({group!r}).data('bad')") == 1
    nodes[shifted["id"]] = shifted
    del nodes["Pod/acme-web/big-499"]
    assert group_edges(page, group, "on-node") == hosts_of(nodes)
    assert group_edges(page, group, "mounts") == {"PersistentVolumeClaim/acme-web/shared": [499, "×499"]}
    back = page.evaluate(f"window.topology.getElementById({group!r}).position()")
    assert abs(back["x"] - at["x"]) < 30 and abs(back["y"] - at["y"]) < 30  # where its pods were: near where it was
    closed = page.evaluate(VIEW)
    assert {k: v for k, v in closed["at"].items() if k != group} == opened["at"]
    assert (closed["zoom"], closed["pan"]) == (before["zoom"], before["pan"])
    expect(extract_count).to_have_text("1")

    # a tick while it is closed: the counts of its edges follow
    page.evaluate(TICK)
    nodes[again["id"]] = again
    page.wait_for_function(
        f"() => window.topology.getElementById({group!r} + '>on-node>Node//node-1').data('pods') === "
        f"{hosts_of(nodes)['Node//node-1'][0]}"
    )
    assert group_edges(page, group, "on-node") == hosts_of(nodes)
    assert page.evaluate("window.topologyFetches") == {"full": 1, "diff": 2}
    assert page.evaluate(VIEW)["zoom"] == before["zoom"]


def test_a_pod_group_turns_red_live_when_one_of_its_pods_fails(new_page, acme_web_project):
    """The real path: 450 pods in the mirror, a pod fails, the watcher's announcer ticks, the
    page asks ?since= its version and the group it draws turns red; opened, the failing pod
    is red; another one fails while it is open, the first recovers; closed again, the group
    counts the new one. In English and in Chinese."""
    project = acme_web_project
    seed(project.cluster, project.name, pods=450)
    group = "pods:Deployment/acme-web/web"
    announcer = Announcer()
    announcer.start()

    def change(name, version, **state):
        changes = mirror.apply_events(
            project.cluster_id, "Pod", [("MODIFIED", pod(project.name, name, version, **state))]
        )
        announcer.changed(project.cluster_id, changes)

    def group_is(health, bad):
        return (
            f"() => {{ const g = window.topology.getElementById({group!r});"
            f" return g.length === 1 && g.data('health') === {health!r} && g.data('bad') === {bad}; }}"
        )

    try:
        page = sign_in(new_page(), "wile")
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto("/topology/tenants/acme/acme-web/")
        expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
        expect(page.locator("body")).to_have_attribute("data-live", "open")
        page.wait_for_function(group_is("ok", 0))
        assert group_edges(page, group, "on-node") == {"Node//node-1": [450, "×450"]}

        page.click("#topology-fit")
        page.evaluate("() => { window.topology.zoom({level: 1.2, renderedPosition: {x: 400, y: 300}}); }")
        before = page.evaluate(VIEW)
        change("web-7", 2, waiting="CrashLoopBackOff")
        page.wait_for_function(group_is("bad", 1), timeout=20_000)
        assert page.evaluate(f"window.topology.getElementById({group!r}).data('label')") == "450 pods · 1 ✕"
        fetched = page.evaluate("window.topologyFetches")
        assert fetched["full"] == 1 and fetched["diff"] >= 1, fetched
        assert page.evaluate(VIEW) == before

        # opened with a click: its pods, the failing one red, and its workload in the drawer
        page.click("#topology-fit")
        click_node(page, group)
        page.wait_for_function("() => window.topology.getElementById('Pod/acme-web/web-7').length === 1")
        assert page.evaluate("window.topology.getElementById('Pod/acme-web/web-7').data('health')") == "bad"
        assert page.evaluate(f"window.topology.getElementById({group!r}).length") == 0
        drawer = page.locator("[data-testid=drawer-node]")
        expect(drawer).to_have_attribute("data-node-id", "Deployment/acme-web/web")
        expect(page.locator("#topology-collapse-count")).to_have_text("450")
        screenshot(page, "topology-group-opened-en")

        change("web-7", 3)
        change("web-3", 4, waiting="ImagePullBackOff")
        page.wait_for_function(
            "() => window.topology.getElementById('Pod/acme-web/web-3').data('health') === 'bad' &&"
            " window.topology.getElementById('Pod/acme-web/web-7').data('health') === 'ok'",
            timeout=20_000,
        )
        page.click("[data-testid=topology-collapse]")
        page.wait_for_function(group_is("bad", 1))
        assert page.evaluate("window.topology.nodes('[kind = \"Pod\"][!podGroup]').length") == 0
        expect(page.locator("[data-testid=topology-collapse]")).to_be_hidden()
        screenshot(page, "topology-group-collapsed-en")

        other = sign_in(new_page(locale="zh-CN"), "wile")
        other.set_viewport_size({"width": 1400, "height": 900})
        other.goto("/topology/tenants/acme/acme-web/")
        expect(other.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(other.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
        click_node(other, group)
        expect(other.locator("[data-testid=drawer-node]")).to_have_attribute("data-node-id", "Deployment/acme-web/web")
        expect(other.locator("[data-testid=topology-collapse]")).to_be_visible()
        screenshot(other, "topology-group-opened-zh")
        other.click("[data-testid=topology-collapse]")
        other.wait_for_function(group_is("bad", 1))
        screenshot(other, "topology-group-collapsed-zh")
    finally:
        announcer.stop()
        announcer.join(timeout=5)


def test_a_group_spread_over_too_many_nodes_draws_no_node_edges_until_opened(new_page, acme_web_project):
    """Past 300 group-to-node edges none are drawn (they would cost as much to draw as the pods
    they stand for); opened, the group's pods show their nodes as any pod does."""
    graph = big_graph(500)
    for node in [n for n in graph["nodes"] if n["kind"] == "Pod" and n["name"].startswith("big-")]:
        node["host"] = f"spread-{node['name'][4:]}"
        graph["nodes"].append({"id": f"Node//{node['host']}", "kind": "Node", "namespace": "", "name": node["host"]})
        graph["edges"].append(on_node(node))
    group = "pods:Deployment/acme-web/big"
    page = sign_in(new_page(), "wile")
    page.route(
        "**/graph.json*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(graph)),
    )
    page.goto("/topology/tenants/acme/acme-web/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    assert page.evaluate(f"window.topology.getElementById({group!r}).length") == 1
    assert group_edges(page, group, "on-node") == {}
    page.evaluate(f"() => window.topology.getElementById({group!r}).emit('tap')")
    page.wait_for_function(f"() => window.topology.getElementById({group!r}).length === 0")
    assert page.evaluate('window.topology.nodes(\'[kind = "Pod"][name ^= "big-"]\').length') == 500
    assert page.evaluate("window.topology.edges('[relation = \"on-node\"]').length") == 500
