"""Network policy evaluation (kubesemantics.netpol) against answers worked out by hand: the
tenants module's deny-by-default namespaces with extra paths, with and without Calico, and
the Kubernetes NetworkPolicy rules one at a time."""

import pytest

from kubesemantics import netpol
from tenants import manifests
from tenants.models import NetworkPath, Project, Tenant

TENANT = manifests.TENANT_LABEL


def pod(namespace, name, labels=None, ports=None, ip=""):
    return netpol.Endpoint(namespace=namespace, name=name, labels=labels or {}, ip=ip, named_ports=ports or {})


@pytest.fixture
def platform(settings):
    """acme (acme-web, acme-db) and globex (globex-shop), isolated as tenants provisions them;
    extra paths: acme-db accepts globex-shop on 5432 (across tenants, both halves), acme-web
    may send to 10.20.0.0/16 on 443. Plus the ingress controller and kube-dns."""
    settings.CAAS_INGRESS_NAMESPACE = "ingress-nginx"
    acme, globex = Tenant(name="acme"), Tenant(name="globex")
    web, db = Project(name="acme-web", tenant=acme), Project(name="acme-db", tenant=acme)
    shop = Project(name="globex-shop", tenant=globex)
    objects = []
    for project in (web, db, shop):
        objects += manifests.network_policies(project)
    cross = NetworkPath(pk=1, project=db, kind="namespace", peer_namespace="globex-shop", port=5432, cross_tenant=True)
    cidr = NetworkPath(pk=2, project=web, kind="cidr", cidr="10.20.0.0/16", port=443)
    objects += [
        manifests.path_policy(cross),
        manifests.peer_egress_policy(cross, "globex"),
        manifests.path_policy(cidr),
    ]
    namespaces = netpol.with_default_labels(
        {
            "acme-web": {TENANT: "acme"},
            "acme-db": {TENANT: "acme"},
            "globex-shop": {TENANT: "globex"},
            "ingress-nginx": {},
            "kube-system": {},
        }
    )
    return {
        "objects": objects,
        "calico": [manifests.global_network_policy(acme, [cross]), manifests.global_network_policy(globex)],
        "namespaces": namespaces,
        "web": pod("acme-web", "web-1", {"app": "web"}),
        "db": pod("acme-db", "db-0", {"app": "db"}),
        "shop": pod("globex-shop", "shop-1", {"app": "shop"}),
        "controller": pod("ingress-nginx", "controller-1", {"app": "ingress-nginx"}),
        "dns": pod("kube-system", "coredns-1", {"k8s-app": "kube-dns"}),
    }


def ask(platform, source, target, port, protocol="TCP", calico=False):
    policies = netpol.load_policies(platform["objects"], platform["calico"] if calico else ())
    return netpol.can_reach(
        source, target, port, policies=policies, namespaces=platform["namespaces"], protocol=protocol
    )


def test_within_a_tenant_both_ways_across_its_namespaces(platform):
    verdict = ask(platform, platform["web"], platform["db"], 5432)
    assert verdict.allowed
    assert verdict.egress.reasons == [("allowed-by", "acme-web/caas-allow-tenant")]
    assert verdict.ingress.reasons == [("allowed-by", "acme-db/caas-allow-tenant")]
    assert ask(platform, platform["db"], platform["web"], 8080).allowed


def test_a_cross_tenant_path_opens_its_port_only(platform):
    verdict = ask(platform, platform["shop"], platform["db"], 5432)
    assert verdict.allowed
    assert verdict.egress.reasons == [("allowed-by", "globex-shop/caas-path-1-egress")]
    assert verdict.ingress.reasons == [("allowed-by", "acme-db/caas-path-1")]

    other_port = ask(platform, platform["shop"], platform["db"], 80)
    assert not other_port.allowed
    assert not other_port.egress.allowed and not other_port.ingress.allowed
    # denied by default: every policy selecting the pod is named
    assert {ref for code, ref in other_port.ingress.reasons} == {
        "acme-db/caas-allow-ingress-controller",
        "acme-db/caas-allow-tenant",
        "acme-db/caas-default-deny",
        "acme-db/caas-path-1",
    }
    assert {code for code, _ref in other_port.ingress.reasons} == {"default-deny"}


def test_other_tenants_are_denied_by_default(platform):
    verdict = ask(platform, platform["shop"], platform["web"], 80)
    assert not verdict.allowed
    assert not verdict.egress.allowed  # globex-shop may send only inside globex and on its path
    assert not verdict.ingress.allowed  # acme-web accepts no traffic from globex
    assert not ask(platform, platform["web"], platform["shop"], 80).allowed


def test_the_ingress_controller_and_dns(platform):
    verdict = ask(platform, platform["controller"], platform["web"], 80)
    assert verdict.allowed
    assert verdict.egress.reasons == [("not-selected", "")]  # nothing isolates the controller
    assert verdict.ingress.reasons == [("allowed-by", "acme-web/caas-allow-ingress-controller")]

    dns = ask(platform, platform["web"], platform["dns"], 53, "UDP")
    assert dns.allowed and dns.egress.reasons == [("allowed-by", "acme-web/caas-allow-dns")]
    assert not ask(platform, platform["web"], platform["dns"], 8080).allowed  # only port 53
    # Pods of kube-system other than DNS are not reachable either
    assert not ask(platform, platform["web"], pod("kube-system", "etcd-1", {"component": "etcd"}), 53, "UDP").allowed


def test_a_cidr_path_opens_egress_to_the_block_on_its_port(platform):
    outside = netpol.Endpoint(ip="10.20.3.4")
    verdict = ask(platform, platform["web"], outside, 443)
    assert verdict.allowed
    assert verdict.egress.reasons == [("allowed-by", "acme-web/caas-path-2")]
    assert verdict.ingress.reasons == [("not-applicable", "")]
    assert not ask(platform, platform["web"], outside, 80).allowed
    assert not ask(platform, platform["web"], netpol.Endpoint(ip="10.21.0.1"), 443).allowed
    assert not ask(platform, platform["db"], outside, 443).allowed  # the path is acme-web's


def test_with_calico_the_tenant_policy_comes_first(platform):
    inside = ask(platform, platform["web"], platform["db"], 5432, calico=True)
    assert inside.allowed and inside.ingress.reasons == [("allowed-by", "caas-tenant-acme")]
    controller = ask(platform, platform["controller"], platform["web"], 80, calico=True)
    assert controller.allowed and controller.ingress.reasons == [("allowed-by", "caas-tenant-acme")]
    # The GlobalNetworkPolicy (order 100) is read before the Kubernetes path policy (order
    # 1000): it carries the cross-tenant path itself, on its port only.
    cross = ask(platform, platform["shop"], platform["db"], 5432, calico=True)
    assert cross.allowed and cross.egress.allowed
    assert cross.ingress.reasons == [("allowed-by", "caas-tenant-acme")]
    other_port = ask(platform, platform["shop"], platform["db"], 22, calico=True)
    assert not other_port.allowed and other_port.ingress.reasons == [("denied-by", "caas-tenant-acme")]
    into_web = ask(platform, platform["shop"], platform["web"], 80, calico=True)  # the path opens acme-db only
    assert not into_web.allowed and into_web.ingress.reasons == [("denied-by", "caas-tenant-acme")]


# --- NetworkPolicy rules, one at a time ------------------------------------------------------


def policy(namespace, spec, name="p"):
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def check(policies, source, target, port, namespaces=None, protocol="TCP"):
    names = namespaces or {"a": {"team": "a"}, "b": {"team": "b"}}
    return netpol.can_reach(
        source,
        target,
        port,
        policies=netpol.load_policies(policies),
        namespaces=netpol.with_default_labels(names),
        protocol=protocol,
    )


def test_no_policy_means_open_and_a_selecting_policy_closes_the_pod():
    a, b = pod("a", "x", {"app": "x"}), pod("b", "y", {"app": "y"})
    assert check([], a, b, 80).allowed
    # a policy selecting only other pods changes nothing for y
    other = policy("b", {"podSelector": {"matchLabels": {"app": "z"}}, "ingress": []})
    assert check([other], a, b, 80).allowed
    closing = policy("b", {"podSelector": {"matchLabels": {"app": "y"}}})  # policyTypes: Ingress by default
    assert not check([closing], a, b, 80).allowed
    assert check([closing], b, a, 80).allowed  # egress is not closed by an Ingress-only policy


def test_peers_and_or_semantics():
    frontend_in_a = pod("a", "x", {"role": "frontend"})
    frontend_in_b = pod("b", "y2", {"role": "frontend"})
    backend = pod("b", "y", {"role": "backend"})
    select = {"podSelector": {"matchLabels": {"role": "backend"}}}
    both = policy(
        "b",
        {
            **select,
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"team": "a"}},
                            "podSelector": {"matchLabels": {"role": "frontend"}},
                        }
                    ]
                }
            ],
        },
    )
    assert check([both], frontend_in_a, backend, 80).allowed
    assert not check([both], frontend_in_b, backend, 80).allowed  # same labels, wrong namespace
    either = policy(
        "b",
        {
            **select,
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"team": "a"}}},
                        {"podSelector": {"matchLabels": {"role": "frontend"}}},
                    ]
                }
            ],
        },
    )
    assert check([either], frontend_in_a, backend, 80).allowed
    assert check([either], frontend_in_b, backend, 80).allowed  # podSelector alone: the policy's namespace
    assert not check([either], pod("b", "z", {"role": "other"}), backend, 80).allowed
    expressions = policy(
        "b",
        {
            **select,
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["db"]}]}}
                    ]
                }
            ],
        },
    )
    assert check([expressions], frontend_in_b, backend, 80).allowed
    assert not check([expressions], pod("b", "d", {"role": "db"}), backend, 80).allowed


def test_ports_named_ranges_and_protocols():
    source = pod("a", "x")
    target = pod("a", "y", {"app": "y"}, ports={"http": [(8080, "TCP")], "dns": [(53, "UDP")]})
    spec = {
        "podSelector": {"matchLabels": {"app": "y"}},
        "ingress": [{"ports": [{"port": "http"}, {"port": 9000, "endPort": 9010}, {"protocol": "UDP", "port": "dns"}]}],
    }
    rules = [policy("a", spec)]
    assert check(rules, source, target, 8080).allowed  # the named port, resolved on the destination pod
    assert not check(rules, source, target, 80).allowed
    assert check(rules, source, target, 9005).allowed and not check(rules, source, target, 9011).allowed
    assert check(rules, source, target, 53, protocol="UDP").allowed
    assert not check(rules, source, target, 8080, protocol="UDP").allowed


def test_ip_blocks_with_exceptions_and_egress_policy_types():
    source = pod("a", "x", {"app": "x"})
    spec = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}],
    }
    rules = [policy("a", spec)]
    assert check(rules, source, netpol.Endpoint(ip="10.2.3.4"), 443).allowed
    assert not check(rules, source, netpol.Endpoint(ip="10.1.3.4"), 443).allowed
    assert not check(rules, source, pod("b", "y"), 443).allowed  # a pod without an IP is no block member
    # an egress section without policyTypes makes the policy Ingress and Egress
    implicit = policy("a", {"podSelector": {}, "egress": []}, name="q")
    assert not check([implicit], pod("b", "z"), source, 80).allowed
    assert not check([implicit], source, pod("b", "z"), 80).allowed


@pytest.mark.parametrize(
    "selector,labels,expected",
    [
        ("", {}, True),
        ("all()", {"a": "1"}, True),
        ("app == 'web'", {"app": "web"}, True),
        ("app == 'web'", {"app": "db"}, False),
        ("app != 'web'", {}, True),
        ("has(app) && !has(canary)", {"app": "x"}, True),
        ("has(app) && !has(canary)", {"app": "x", "canary": "1"}, False),
        ("tier in {'a', 'b'}", {"tier": "b"}, True),
        ("tier not in {'a', 'b'}", {"tier": "b"}, False),
        ("tier not in {'a', 'b'}", {}, True),
        ("(a == '1' || b == '2') && c starts with 'x'", {"b": "2", "c": "xyz"}, True),
        ("name ends with '-db' || name contains 'cache'", {"name": "my-cache-1"}, True),
        (f"{TENANT} == 'acme'", {TENANT: "acme"}, True),
    ],
)
def test_calico_selectors(selector, labels, expected):
    assert netpol.calico_selector(selector)(labels) is expected


def test_bad_calico_selectors_are_refused():
    for text in ("app ==", "app = 'x'", "has(", "x in {'a'"):
        with pytest.raises(netpol.SelectorSyntaxError):
            netpol.calico_selector(text)


# --- many pairs at once: per selector class, the same answers ------------------------------


def everyone(platform):
    named = pod("acme-web", "web-2", {"app": "web", "tier": "front"}, ports={"http": [(8080, "TCP")]})
    outside = netpol.Endpoint(ip="10.20.3.4")
    spaces = [netpol.Endpoint(namespace=ns, name="*") for ns in ("acme-web", "acme-db", "globex-shop")]
    pods = [platform[k] for k in ("web", "db", "shop", "controller", "dns")]
    return pods + [named, outside] + spaces


@pytest.mark.parametrize("calico", [False, True])
def test_the_evaluator_answers_as_can_reach_for_every_pair_and_class(platform, calico):
    policies = netpol.load_policies(platform["objects"], platform["calico"] if calico else ())
    evaluator = netpol.Evaluator(policies, platform["namespaces"])
    endpoints = everyone(platform)
    for port in (None, 80, 443, 5432, "http"):
        port_of = 8080 if port == "http" else port
        destinations = [e for e in endpoints if e.is_pod]
        sources, targets = evaluator.classes(endpoints, destinations, [port_of] * len(destinations))
        assert len(sources) < len(endpoints)  # some endpoints do share a class
        source_class = {i: key for key, members in sources.items() for i in members}
        target_class = {i: key for key, members in targets.items() for i in members}
        for s, source in enumerate(endpoints):
            for d, destination in enumerate(destinations):
                expected = netpol.can_reach(
                    source, destination, port_of, policies=policies, namespaces=platform["namespaces"]
                )
                got = evaluator.verdict(source, destination, port_of)
                assert (got.allowed, got.egress.reasons, got.ingress.reasons) == (
                    expected.allowed,
                    expected.egress.reasons,
                    expected.ingress.reasons,
                ), (source, destination, port)
                # decided per pair of classes, from their signatures: the same answer
                stand_in = evaluator.class_verdict(
                    source_class[s], target_class[d], destinations[targets[target_class[d]][0]]
                )
                assert (stand_in.allowed, stand_in.egress.reasons, stand_in.ingress.reasons) == (
                    expected.allowed,
                    expected.egress.reasons,
                    expected.ingress.reasons,
                ), (source, destination, port)


def test_the_overlay_of_many_namespaces_is_compact_and_expands_to_every_pair(english):
    """Twelve deny-by-default namespaces of four tenants plus three open ones: the overlay's
    entries expand to the 210 ordered pairs with can_reach's answers, in far fewer entries."""
    from monitoring.topology import services

    objects, labels = [], {}
    for t in range(4):
        tenant = Tenant(name=f"t{t}")
        for n in range(3):
            project = Project(name=f"t{t}-n{n}", tenant=tenant)
            objects += manifests.network_policies(project)
            labels[project.name] = {TENANT: tenant.name}
    labels.update({"open-a": {}, "open-b": {}, "open-c": {}})
    namespaces = netpol.with_default_labels(labels)
    world = services.PolicyWorld(netpol.load_policies(objects), namespaces, False)
    result = {"nodes": [], "edges": []}
    paths = services.overlay(None, world, result, sorted(labels))
    pairs = services.expand_paths(paths, result["policy_endpoints"])
    assert len(pairs) == 15 * 14 and len({(p["source"], p["target"]) for p in pairs}) == 15 * 14
    # per target: one "*" entry, one for its own tenant's other namespaces, one for the open ones
    assert len(paths) <= 15 * 3 and any(len(p.get("sources", ())) == 3 for p in paths)
    for entry in pairs:
        source, target = entry["source"].split("/")[2], entry["target"].split("/")[2]
        expected = netpol.can_reach(
            services.namespace_endpoint(source),
            services.namespace_endpoint(target),
            None,
            policies=world.policies,
            namespaces=namespaces,
        )
        assert entry["allowed"] == expected.allowed, (source, target)
    allowed = {(p["source"], p["target"]) for p in pairs if p["allowed"]}
    assert ("Namespace//t1-n0", "Namespace//t1-n2") in allowed  # within a tenant
    assert ("Namespace//t1-n0", "Namespace//t2-n0") not in allowed  # across tenants
    assert ("Namespace//open-b", "Namespace//open-a") in allowed  # open both ways
    assert ("Namespace//t1-n0", "Namespace//open-a") not in allowed  # a tenant's egress is closed too
    tenants_out = next(p for p in paths if p["target"] == "Namespace//open-a" and p.get("source") == "*")
    assert not tenants_out["allowed"] and "(its namespace)/caas-default-deny" in " ".join(tenants_out["why"])
    denied = next(p for p in paths if p["target"] == "Namespace//t2-n0" and p.get("source") == "*")
    assert not denied["allowed"] and "t2-n0/caas-default-deny" in " ".join(denied["why"])
