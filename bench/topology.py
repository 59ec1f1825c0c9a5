"""Topology at scale: a 2,000-pod namespace and a 20,000-pod cluster in the resource mirror.

Prints
- the server time to build the graph of the 2,000-pod namespace (the mirror query plus the
  pure builder; the reading alone and the builder alone), target < 100 ms; the load average
  with it (figures on a busy machine are not comparable);
- the time of the whole JSON view of that namespace (policy overlay included), warm and in a
  process that has parsed none of its objects yet; and of a live page's question after one pod
  changed (?since=<its version>: the diff, its size);
- the cluster view of 20,000 pods in 200 namespaces (collapsed groups, aggregate queries);
- the browser time to first render of the 2,000-pod namespace (Debian chromium: navigation
  start to the first painted frame, the page's scripts, the JSON and the layout included),
  target < 1 s; and of the 200-group cluster view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench_topology .venv/bin/python bench/topology.py

The database named in DATABASE_URL is dropped and created again.
"""

import http.server
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench_topology")

BIG_NAMESPACE_PODS = 2_000
APPS_IN_BIG_NAMESPACE = 40  # 50 pods each
CLUSTER_PODS, CLUSTER_NAMESPACES = 20_000, 200
SAMPLES = 15


def recreate_database():
    import dj_database_url
    import psycopg2

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    admin = psycopg2.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}"')
        cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    admin.close()


def managed_fields(manager):
    """Server-side apply bookkeeping, as the API server stores it on every object (the mirror keeps it)."""
    return [
        {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2026-11-25T06:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"app"}': {}}},
            },
        }
    ]


def app_objects(namespace, app, pods, rv):
    labels = {"caas.io/app": app, "tier": "back"}
    uid = f"{namespace}-{app}"
    template_spec = {
        "serviceAccountName": f"{app}-sa",
        "containers": [
            {
                "name": "app",
                "image": f"registry.local/{app}:1.0",
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": f"{app}-config", "key": "mode"}}}],
                "envFrom": [{"secretRef": {"name": f"{app}-env"}}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "200m", "memory": "128Mi"},
                },
            }
        ],
    }
    objects = [
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": app, "namespace": namespace, "uid": uid, "resourceVersion": str(rv), "labels": labels},
            "spec": {
                "replicas": pods,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": template_spec},
            },
            "status": {"readyReplicas": pods},
        },
        {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": f"{app}-rs",
                "namespace": namespace,
                "uid": f"{uid}-rs",
                "resourceVersion": str(rv),
                "ownerReferences": [{"kind": "Deployment", "name": app, "uid": uid, "controller": True}],
            },
        },
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": app, "namespace": namespace, "uid": f"{uid}-svc", "resourceVersion": str(rv)},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
        },
        {
            "kind": "Endpoints",
            "apiVersion": "v1",
            "metadata": {"name": app, "namespace": namespace, "uid": f"{uid}-ep", "resourceVersion": str(rv)},
            "subsets": [{"addresses": [{"ip": f"10.244.{i // 250}.{i % 250}"} for i in range(pods)]}],
        },
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": f"{app}-config",
                "namespace": namespace,
                "uid": f"{uid}-cm",
                "resourceVersion": str(rv),
            },
        },
    ]
    for i in range(pods):
        objects.append(
            {
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {
                    "name": f"{app}-rs-{i:05d}",
                    "namespace": namespace,
                    "uid": f"{uid}-pod-{i}",
                    "resourceVersion": str(rv),
                    "labels": {**labels, "pod-template-hash": "rs"},
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T06:00:00Z"},
                    "creationTimestamp": "2026-11-25T06:00:00Z",
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": f"{app}-rs", "uid": f"{uid}-rs", "controller": True}
                    ],
                    "managedFields": managed_fields("kube-controller-manager"),
                },
                "spec": {**template_spec, "nodeName": f"node-{i % 50}"},
                "status": {
                    "phase": "Running",
                    "podIP": f"10.244.{i // 250}.{i % 250}",
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                    "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}],
                },
            }
        )
    return objects


def seed(cluster):
    from console.clusters import mirror

    by_kind = {}

    def add(objects):
        for obj in objects:
            by_kind.setdefault(obj["kind"], []).append(obj)

    per_app = BIG_NAMESPACE_PODS // APPS_IN_BIG_NAMESPACE
    for a in range(APPS_IN_BIG_NAMESPACE):
        add(app_objects("big", f"app{a:02d}", per_app, 1))
    per_namespace = CLUSTER_PODS // CLUSTER_NAMESPACES
    for n in range(CLUSTER_NAMESPACES):
        for a in range(4):
            add(app_objects(f"tenant-{n:03d}", f"svc{a}", per_namespace // 4, 1))
    add(
        [
            {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": ns, "uid": ns}}
            for ns in ["big"] + [f"tenant-{n:03d}" for n in range(CLUSTER_NAMESPACES)]
        ]
    )
    for kind, objects in by_kind.items():
        mirror.replace_kind_paged(
            cluster.pk, kind, [(objects[start : start + 5000], "1") for start in range(0, len(objects), 5000)]
        )
    return {kind: len(objects) for kind, objects in by_kind.items()}


def timed(function, samples=SAMPLES):
    times = []
    result = None
    for _ in range(samples):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def browser_first_render(graph_json, scope):
    """Load the topology page's scripts and markup in chromium, the graph JSON served as the view would."""
    from django.template.loader import render_to_string
    from playwright.sync_api import sync_playwright

    from monitoring.topology import graph

    toolbar = render_to_string("topology/_toolbar.html", {"kinds": graph.KIND_ORDER, "graph_url": "/graph.json"})
    html = f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/bootstrap/bootstrap-5.3.9.min.css">
<link rel="stylesheet" href="/static/css/topology.css"></head><body>
{toolbar}
<div id="topology" class="topology-canvas" data-scope="{scope}" data-graph-url="/graph.json"
 data-expand-url="/ns/NAMESPACE.json" data-node-url="/node/" data-text-no-objects="-" data-text-pods="pods"></div>
<div id="topology-status"></div><div id="topology-drawer"></div>
<script src="/static/vendor/cytoscape/cytoscape-3.35.0.min.js"></script>
<script src="/static/vendor/cytoscape/layout-base-2.0.1.js"></script>
<script src="/static/vendor/cytoscape/cose-base-2.2.0.js"></script>
<script src="/static/vendor/cytoscape/cytoscape-fcose-2.2.0.js"></script>
<script src="/static/js/topology.js"></script></body></html>"""
    body = json.dumps(graph_json).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        """The page, its static files and the graph JSON, over real HTTP on loopback."""

        def do_GET(self):  # noqa: N802 (the http.server API)
            path = self.path.split("?")[0].lstrip("/")
            if path == "":
                content, kind = html.encode(), "text/html"
            elif path == "graph.json":
                content, kind = body, "application/json"
            elif path.startswith("static/") and ".." not in path and (ROOT / path).is_file():
                content = (ROOT / path).read_bytes()
                kind = "text/css" if path.endswith(".css") else "application/javascript"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            page.wait_for_selector("#topology[data-ready='1']", state="attached", timeout=60_000)
            results.append(int(page.get_attribute("#topology", "data-ready-at")))
            drawn = page.evaluate("window.topology.nodes().length")
            if os.environ.get("BENCH_VERBOSE"):
                print("   ", page.evaluate("window.topologyTimings"))
            page.close()
        browser.close()
    server.shutdown()
    return min(results), max(results), drawn


def main():
    recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from console.accounts.models import User
    from console.clusters.models import Cluster, MirroredObject
    from monitoring.topology import graph, services

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    cluster = Cluster.objects.create(name="big", server="http://127.0.0.1:1", context="x", kubeconfig_encrypted="x")
    started = time.perf_counter()
    counts = seed(cluster)
    with connection.cursor() as cursor:  # what autovacuum does on a live database
        cursor.execute(f"VACUUM ANALYZE {MirroredObject._meta.db_table}")
    print(f"seeded {sum(counts.values()):,} objects ({counts['Pod']:,} pods) in {time.perf_counter() - started:.1f} s")

    median, worst, result = timed(lambda: services.build_namespace_graph(cluster, ["big"]))
    print(
        f"namespace of {BIG_NAMESPACE_PODS:,} pods, server build from the mirror (query + builder, no cache): "
        f"median {median:.0f} ms, max {worst:.0f} ms  (target < 100 ms); "
        f"{len(result['nodes']):,} nodes, {len(result['edges']):,} edges; load average {os.getloadavg()[0]:.1f}"
    )
    services.namespace_graph(cluster, ["big"])  # parsed once; then each live update reads what changed
    from console.clusters import mirror

    pod = app_objects("big", "app00", 1, 1)[-1]
    times = []
    for i in range(SAMPLES):
        pod["metadata"]["resourceVersion"] = str(100 + i)
        pod["status"]["phase"] = ("Running", "Pending")[i % 2]
        mirror.apply_events(cluster.pk, "Pod", [("MODIFIED", pod)])
        started = time.perf_counter()
        services.namespace_graph(cluster, ["big"])
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"  the same after one pod changed (a live update: versions read, that row parsed, graph built again): "
        f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms  (target < 100 ms)"
    )

    def read_mirror():
        with services.gc_paused():  # as the build reads them
            return services._objects(cluster.pk, services.GRAPH_KINDS, ["big"])

    median, worst, objects = timed(read_mirror)
    print(
        f"  of which reading the mirror (the query, and parsing the slim facts stored with each row): "
        f"median {median:.0f} ms, max {worst:.0f} ms"
    )
    median, worst, _ = timed(lambda: graph.build(objects))
    print(f"  of which the pure builder: median {median:.0f} ms, max {worst:.0f} ms")

    operator = User.objects.create_user(username="bench-op", password=None, platform_role="operator")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)
    url = "/topology/clusters/big/namespaces/big/graph.json"
    median, worst, response = timed(lambda: client.get(url))
    assert response.status_code == 200, response.status_code
    namespace_json = response.json()
    print(
        f"  the whole JSON view (overlay of {len(namespace_json['paths'])} paths included): "
        f"median {median:.0f} ms, max {worst:.0f} ms, {len(response.content) / 1e6:.1f} MB"
    )

    def cold_view():
        services._parsed.clear()  # as in a web process that never drew this namespace
        return client.get(url)

    median, worst, _response = timed(cold_view)
    print(f"  the same in a process that parsed none of its objects yet: median {median:.0f} ms, max {worst:.0f} ms")
    times, sizes = [], []
    for i in range(SAMPLES):
        version = client.get(url).json()["version"]
        pod["metadata"]["resourceVersion"] = str(200 + i)
        pod["status"]["phase"] = ("Pending", "Running")[i % 2]
        mirror.apply_events(cluster.pk, "Pod", [("MODIFIED", pod)])
        started = time.perf_counter()
        response = client.get(url, {"since": version})
        times.append((time.perf_counter() - started) * 1000)
        assert response.json()["diff"], "a diff"
        sizes.append(len(response.content))
    print(
        f"  a live page's question after one pod changed (?since=<its version>: the diff): "
        f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms, {statistics.median(sizes) / 1e3:.1f} kB"
    )

    median, worst, response = timed(lambda: client.get("/topology/clusters/big/graph.json"), samples=5)
    cluster_json = response.json()
    print(
        f"cluster view of {counts['Pod']:,} pods: {len(cluster_json['nodes'])} collapsed namespace groups "
        f"(and {len(cluster_json['paths']):,} namespace-to-namespace paths), median {median:.0f} ms, max {worst:.0f} ms"
    )

    fastest, slowest, drawn = browser_first_render(namespace_json, "namespace")
    print(
        f"browser, {BIG_NAMESPACE_PODS:,}-pod namespace: navigation start to first painted frame "
        f"{fastest}-{slowest} ms (target < 1 s; {len(namespace_json['nodes']):,} nodes drawn as {drawn}: each "
        f"workload's pods one node until opened; layered layout)"
    )
    fastest, slowest, _drawn = browser_first_render(cluster_json, "cluster")
    print(
        f"browser, cluster view ({counts['Pod']:,} pods as {len(cluster_json['nodes'])} groups): {fastest}-{slowest} ms"
    )


if __name__ == "__main__":
    main()
