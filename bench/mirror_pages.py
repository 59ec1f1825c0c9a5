"""Resource mirror at scale: seed 150,000 pods across 5,000 namespaces into PostgreSQL,
then measure the server time of filtered 50-row pod pages (p50/p95) and the rate at
which watch events are applied to the mirror.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench .venv/bin/python bench/mirror_pages.py

The database named in DATABASE_URL is dropped and created again.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench")

PODS, NAMESPACES, SAMPLES = 150_000, 5_000, 200


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


def pod(i, rv, phase="Running"):
    namespace = f"tenant-{i % NAMESPACES:04d}"
    app = ("web", "api", "worker", "cache")[i % 4]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{app}-{i:06d}",
            "namespace": namespace,
            "uid": f"uid-{i}",
            "resourceVersion": str(rv),
            "labels": {"app": app, "tier": "front" if app == "web" else "back"},
            "creationTimestamp": "2026-11-25T06:00:00Z",
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{app}-rs", "uid": f"rs-{app}", "controller": True}],
        },
        "spec": {"nodeName": f"node-{i % 50}", "containers": [{"name": app, "image": f"registry.local/{app}:1.0"}]},
        "status": {"phase": phase},
    }


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main():
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from console.accounts.models import User
    from console.clusters import mirror
    from console.clusters.models import Cluster

    call_command("migrate", verbosity=0)
    cluster = Cluster.objects.create(name="big", server="http://127.0.0.1:1", context="x", kubeconfig_encrypted="x")

    started = time.perf_counter()
    for start in range(0, PODS, 5000):
        mirror.apply_events(
            cluster.pk, "Pod", [("ADDED", pod(i, i + 1)) for i in range(start, min(PODS, start + 5000))]
        )
    seeded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE console_mirroredobject")
    print(f"seeded {PODS:,} pods in {NAMESPACES:,} namespaces: {seeded:.1f} s ({PODS / seeded:,.0f} objects/s)")

    # watch-event ingestion: batches of 500 MODIFIED events, as the watcher applies them
    events = [("MODIFIED", pod(i, PODS + i, phase="Pending")) for i in range(20_000)]
    started = time.perf_counter()
    for start in range(0, len(events), 500):
        mirror.apply_events(cluster.pk, "Pod", events[start : start + 500])
    rate = len(events) / (time.perf_counter() - started)
    print(f"mirror ingestion (MODIFIED events, batches of 500): {rate:,.0f} events/s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE console_mirroredobject")  # what autovacuum does after such a burst

    user = User.objects.create_user("bench", platform_role="operator")
    client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_HOST="127.0.0.1")
    client.force_login(user)
    url = f"/clusters/{cluster.name}/resources/Pod/"
    queries = {
        "namespace": lambda n: {"namespace": f"tenant-{n % NAMESPACES:04d}"},
        "label selector": lambda n: {"labels": "app=api,tier=back"},
        "status": lambda n: {"status": "Pending"},
        "name text": lambda n: {"name": f"{n % 9}{n % 7}{n % 5}"},
        "nothing (all pods), page 100": lambda n: {"page": "100"},
    }
    for label, make_query in queries.items():
        timings = []
        for n in range(SAMPLES):
            started = time.perf_counter()
            response = client.get(url, make_query(n), HTTP_HX_REQUEST="true")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        print(
            f"pods page, filter by {label}: "
            f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms"
        )


if __name__ == "__main__":
    main()
