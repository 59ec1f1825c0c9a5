"""The dashboard at scale: 150,000 mirrored pods (with container requests) on 50 nodes,
5,000 tenant namespaces with ResourceQuotas across 500 tenants, 2,000 volume claims;
then the server time of the dashboard (p50/p95) for an operator and a tenant admin,
and of the clusters panel alone (what the 30 s poll asks for).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench .venv/bin/python bench/dashboard_page.py

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

from mirror_pages import NAMESPACES, PODS, percentile, pod, recreate_database  # noqa: E402

NODES, TENANTS, CLAIMS, SAMPLES = 50, 500, 2_000, 30


def pod_with_requests(i, rv):
    obj = pod(i, rv, phase="Succeeded" if i % 20 == 0 else "Running")
    obj["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": ("100m", "250m", "500m")[i % 3], "memory": ("128Mi", "256Mi")[i % 2]}
    }
    return obj


def node(i):
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {"name": f"node-{i}", "uid": f"node-{i}", "resourceVersion": "1"},
        "status": {
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "4000"},
            "conditions": [{"type": "Ready", "status": "True" if i % 25 else "False"}],
        },
    }


def quota(namespace, i):
    hard = {"requests.cpu": "40", "requests.memory": "64Gi", "pods": "50", "requests.storage": "100Gi"}
    used = {
        "requests.cpu": f"{i % 40}",
        "requests.memory": f"{i % 64}Gi",
        "pods": str(i % 50),
        "requests.storage": "10Gi",
    }
    return {
        "kind": "ResourceQuota",
        "apiVersion": "v1",
        "metadata": {"name": "caas-quota", "namespace": namespace, "uid": f"q-{i}", "resourceVersion": "1"},
        "status": {"hard": hard, "used": used},
    }


def claim(i):
    return {
        "kind": "PersistentVolumeClaim",
        "apiVersion": "v1",
        "metadata": {
            "name": f"data-{i}",
            "namespace": f"tenant-{i % NAMESPACES:04d}",
            "uid": f"pvc-{i}",
            "resourceVersion": "1",
        },
        "spec": {"resources": {"requests": {"storage": "20Gi"}}},
    }


def timed(client, url, samples=SAMPLES):
    timings = []
    for _n in range(samples):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return f"p50 {statistics.median(timings):.0f} ms, p95 {percentile(timings, 0.95):.0f} ms"


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
    from tenants.models import Membership, Project, Tenant

    call_command("migrate", verbosity=0)
    cluster = Cluster.objects.create(
        name="big",
        server="http://127.0.0.1:1",
        context="x",
        kubeconfig_encrypted="x",
        version="v1.31.0",
        health=[["etcd", True], ["scheduler", True]],
    )
    started = time.perf_counter()
    for start in range(0, PODS, 5000):
        mirror.apply_events(
            cluster.pk, "Pod", [("ADDED", pod_with_requests(i, i + 1)) for i in range(start, min(PODS, start + 5000))]
        )
    mirror.replace_kind(cluster.pk, "Node", [node(i) for i in range(NODES)], "1")
    mirror.replace_kind(cluster.pk, "ResourceQuota", [quota(f"tenant-{i:04d}", i) for i in range(NAMESPACES)], "1")
    mirror.replace_kind(cluster.pk, "PersistentVolumeClaim", [claim(i) for i in range(CLAIMS)], "1")
    tenants = Tenant.objects.bulk_create([Tenant(name=f"t{i:03d}", display_name=f"Tenant {i}") for i in range(TENANTS)])
    Project.objects.bulk_create(
        [
            Project(tenant=tenants[i % TENANTS], cluster=cluster, name=f"tenant-{i:04d}", status="active")
            for i in range(NAMESPACES)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE console_mirroredobject")
    print(
        f"seeded {PODS:,} pods, {NODES} nodes, {NAMESPACES:,} namespaces of {TENANTS} tenants: "
        f"{time.perf_counter() - started:.0f} s"
    )

    operator = User.objects.create_user("bench-op", platform_role="operator")
    tenant_admin = User.objects.create_user("bench-admin")
    Membership.objects.create(tenant=tenants[7], user=tenant_admin, role="tenant-admin")
    from console import dashboard

    shared = dashboard.CACHE_SECONDS
    for label, user in (("operator", operator), ("tenant admin", tenant_admin)):
        client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_HOST="127.0.0.1")
        client.force_login(user)
        client.get("/")  # warm: the session's first write, templates compiled
        dashboard.CACHE_SECONDS = 0  # every view computes the platform-wide figures: the worst case
        print(f"dashboard as {label}, figures computed: {timed(client, '/')}")
        if user is operator:
            print(f"  clusters panel alone: {timed(client, '/dashboard/panels/clusters/')}")
            print(f"  quota use per tenant panel alone: {timed(client, '/dashboard/panels/tenant_use/')}")
            dashboard.CACHE_SECONDS = shared
            print(f"dashboard as {label}, figures shared for {shared} s: {timed(client, '/')}")


if __name__ == "__main__":
    main()
