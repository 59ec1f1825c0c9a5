"""The network policy overlay at scale (monitoring/topology/services.overlay), pure: no database,
no cluster. Policies as the tenants module provisions them (deny by default, same tenant allowed,
the ingress controller and DNS), evaluated per selector class (kubesemantics.netpol.Evaluator).

Prints, each the median and worst of SAMPLES runs, with the entries answered and their JSON size:
- 300 workloads in one namespace, each behind a Service on one of three ports, with per-app
  policies (one app in ten accepts only its neighbour);
- 200 namespaces of 80 tenants (180 isolated, 20 open) in a cluster view;
- the same again with the policies unchanged (the overlay kept per process);
- for comparison, can_reach per pair (what the overlay did before, capped at 40 workloads
  and 30 namespaces), extrapolated to all the pairs.

    .venv/bin/python bench/topology_overlay.py
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

WORKLOADS, NAMESPACES, TENANTS, OPEN_NAMESPACES = 300, 200, 80, 20
SAMPLES = 9


def timed(function):
    times, result = [], None
    for _ in range(SAMPLES):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def cluster_world():
    from kubesemantics import netpol
    from monitoring.topology import services
    from tenants import manifests
    from tenants.models import Project, Tenant

    objects, labels = [], {}
    for i in range(NAMESPACES - OPEN_NAMESPACES):
        tenant = Tenant(name=f"t{i % TENANTS}")
        project = Project(name=f"t{i % TENANTS}-n{i}", tenant=tenant)
        objects += manifests.network_policies(project)
        labels[project.name] = {manifests.TENANT_LABEL: tenant.name}
    for i in range(OPEN_NAMESPACES):
        labels[f"open-{i}"] = {}
    return objects, labels, services, netpol


def namespace_graph(namespace):
    """The graph's nodes and edges the overlay reads: a workload with a pod, a Service in front."""
    nodes, edges = [], []
    for w in range(WORKLOADS):
        ident = f"Deployment/{namespace}/app{w}"
        nodes += [
            {"id": ident, "kind": "Deployment", "namespace": namespace, "name": f"app{w}"},
            {
                "id": f"Pod/{namespace}/app{w}-0",
                "kind": "Pod",
                "namespace": namespace,
                "name": f"app{w}-0",
                "labels": {"app": f"app{w}"},
                "workload": ident,
                "ip": f"10.1.{w // 250}.{w % 250}",
            },
            {
                "id": f"Service/{namespace}/app{w}",
                "kind": "Service",
                "namespace": namespace,
                "name": f"app{w}",
                "ports": [f"80/TCP→{8000 + w % 3}"],
            },
        ]
        edges.append({"source": f"Service/{namespace}/app{w}", "target": ident, "relation": "selects"})
    return {"nodes": nodes, "edges": edges}


def per_app_policies(namespace):
    """Default deny in the namespace, then app k (k = 0, 10, 20, ...) open to app k+1 only, and
    every other app open to the whole namespace."""
    policies = [
        {
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
        {
            "kind": "NetworkPolicy",
            "metadata": {"name": "same-namespace", "namespace": namespace},
            "spec": {
                "podSelector": {
                    "matchExpressions": [
                        {"key": "app", "operator": "NotIn", "values": [f"app{k}" for k in range(0, WORKLOADS, 10)]}
                    ]
                },
                "ingress": [{"from": [{"podSelector": {}}]}],
            },
        },
    ]
    for k in range(0, WORKLOADS, 10):
        policies.append(
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": f"only-{k}", "namespace": namespace},
                "spec": {
                    "podSelector": {"matchLabels": {"app": f"app{k}"}},
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": f"app{k + 1}"}}}]}],
                },
            }
        )
    return policies


def main():
    import django

    django.setup()
    from django.utils import translation

    translation.activate("en")
    objects, labels, services, netpol = cluster_world()
    namespaces = netpol.with_default_labels({**labels, "shop": {}})
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")

    result = namespace_graph("shop")
    world = services.PolicyWorld(netpol.load_policies(objects + per_app_policies("shop")), namespaces, False)
    median, worst, paths = timed(lambda: services.overlay(None, world, result, ["shop"]))
    pairs = services.expand_paths(paths, result["policy_endpoints"])
    print(
        f"{WORKLOADS} workloads in a namespace: median {median:.0f} ms, max {worst:.0f} ms; "
        f"{len(paths)} entries ({len(json.dumps(paths)) // 1024} KB) for {len(pairs):,} pairs, "
        f"{sum(not p['allowed'] for p in pairs):,} denied"
    )

    world = services.PolicyWorld(netpol.load_policies(objects), namespaces, False)
    summary = {"nodes": [], "edges": []}
    median, worst, paths = timed(lambda: services.overlay(None, world, summary, sorted(labels)))
    pairs = services.expand_paths(paths, summary["policy_endpoints"])
    print(
        f"{NAMESPACES} namespaces ({len(world.policies)} policies): median {median:.0f} ms, max {worst:.0f} ms; "
        f"{len(paths)} entries ({len(json.dumps(paths)) // 1024} KB) for {len(pairs):,} pairs, "
        f"{sum(p['allowed'] for p in pairs):,} allowed"
    )

    # asked again with the same policies (a live page's next tick): the kept overlay, copied
    kept = services.PolicyWorld(world.policies, namespaces, False, ("bench",))
    services.overlay(None, kept, {"nodes": [], "edges": []}, sorted(labels))
    median, worst, _paths = timed(lambda: services.overlay(None, kept, {"nodes": [], "edges": []}, sorted(labels)))
    print(f"  the same asked again (policies unchanged): median {median:.1f} ms, max {worst:.1f} ms")

    endpoints = [services.namespace_endpoint(name) for name in sorted(labels)][:30]
    started = time.perf_counter()
    for source in endpoints:
        for target in endpoints:
            netpol.can_reach(source, target, None, policies=world.policies, namespaces=namespaces)
    each = (time.perf_counter() - started) / len(endpoints) ** 2
    print(
        f"can_reach per pair (before): {each * 1e6:.0f} µs; all {NAMESPACES} namespaces' pairs would take "
        f"{each * NAMESPACES * (NAMESPACES - 1):.1f} s"
    )
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
