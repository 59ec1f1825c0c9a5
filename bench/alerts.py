"""Evaluating 10,000 alert rules (target < 1 s), measured.

One cluster with 200 tenants of 5 namespaces each (1,000 namespaces), 10,000 pods in the
resource mirror (2% crash-looping, 2% pending) and 2,500 Deployments (4% short of replicas);
5 minutes of metric history at 15 s for every pod (memory and CPU usage and limits: 40,000
series, ~0.9 M samples written through monitoring.metrics' own writer), with 3% of the pods
above 90% of their memory limit the whole time. 10,000 rules over them, as tenants write
them: 6,000 threshold rules (pod memory or CPU over a percentage of the limit for 5 minutes,
per namespace or per app), 1,500 crash-loop, 1,000 pending-too-long, 1,000 unavailable-replica
rules per namespace or tenant, and 500 cluster-wide rules of operators (nodes, components,
volumes, restarts). Who hears them: two members per tenant and two operators; every tenant
has a webhook channel taking its alerts, the platform one that takes every tenant's too, and
one rule in ten names its tenant's channel.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench_alerts .venv/bin/python bench/alerts.py

The database named in DATABASE_URL is dropped and created again. Prints: the first
evaluation (which opens every alert), then steady evaluations (nothing changes: the beat's
usual case), median and max of 5, and one where 1% of the alerts resolve. Notifying (in-app
rows, live pushes, channel deliveries queued) is timed apart, with its number of queries.
"""

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench_alerts")

from mirror_pages import recreate_database  # noqa: E402

TENANTS, NAMESPACES_EACH, PODS_EACH = 200, 5, 10
SAMPLES, STEP = 21, 15  # 5 minutes at 15 s
RULES = 10_000
MIB = 1 << 20


def setup():
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate():
    from django.utils import timezone

    from console import crypto
    from console.clusters.models import Cluster, MirroredObject
    from monitoring.metrics.collect import Scrape, write_scrape
    from tenants.models import Project, Tenant

    cluster = Cluster.objects.create(
        name="c1", server="https://127.0.0.1:1", context="c1", kubeconfig_encrypted=crypto.encrypt("{}")
    )
    tenants = Tenant.objects.bulk_create([Tenant(name=f"t{i:03d}", display_name=f"T{i}") for i in range(TENANTS)])
    projects = Project.objects.bulk_create(
        [
            Project(tenant=t, cluster=cluster, name=f"{t.name}-ns{j}", status="active")
            for t in tenants
            for j in range(NAMESPACES_EACH)
        ]
    )
    now = timezone.now()
    rows, pods = [], []
    for p_index, project in enumerate(projects):
        for k in range(PODS_EACH):
            index = p_index * PODS_EACH + k
            app = ("web", "api", "worker", "cache", "db")[k % 5]
            name = f"{app}-{index:06d}"
            phase = "CrashLoopBackOff" if index % 50 == 1 else "Pending" if index % 50 == 2 else "Running"
            rows.append(
                MirroredObject(
                    cluster=cluster,
                    kind="Pod",
                    api_version="v1",
                    namespace=project.name,
                    name=name,
                    uid=f"pod-{index}",
                    resource_version="1",
                    labels={"app.kubernetes.io/name": app},
                    phase=phase,
                    created_at=now - timezone.timedelta(minutes=10),
                    object={"kind": "Pod"},
                )
            )
            pods.append((project.name, name, index))
        for d, app in enumerate(("web", "api")):
            short = (p_index * 2 + d) % 25 == 0
            rows.append(
                MirroredObject(
                    cluster=cluster,
                    kind="Deployment",
                    api_version="apps/v1",
                    namespace=project.name,
                    name=app,
                    uid=f"dep-{p_index}-{d}",
                    resource_version="1",
                    labels={},
                    phase="Progressing" if short else "Ready",
                    created_at=now,
                    object={"spec": {"replicas": 3}, "status": {"availableReplicas": 1 if short else 3}},
                )
            )
    MirroredObject.objects.bulk_create(rows, batch_size=5000)
    populate_listeners(tenants)
    started = time.perf_counter()
    written = 0
    base = int(now.timestamp()) - (SAMPLES - 1) * STEP
    for s in range(SAMPLES):
        scrape = Scrape(cluster.pk, base + s * STEP)
        for namespace, name, index in pods:
            target = f"pod/{namespace}/{name}"
            hot = index % 33 == 0
            scrape.put("pod_memory_usage_bytes", target, (240 if hot else 100) * MIB)
            scrape.put("pod_memory_limit_bytes", target, 256 * MIB)
            scrape.put("pod_cpu_usage_cores", target, 0.05 + (index % 7) * 0.01)
            scrape.put("pod_cpu_limit_cores", target, 0.5)
        written += write_scrape(scrape)
    seconds = time.perf_counter() - started
    print(f"history: {written:,} samples of {len(pods) * 4:,} series written in {seconds:.1f} s")
    last = base + (SAMPLES - 1) * STEP
    return cluster, tenants, projects, last


def populate_listeners(tenants):
    """Who hears the alerts: members, operators, channels (what notifying writes for)."""
    from console import crypto
    from console.accounts.models import User
    from console.notifications.models import Channel
    from tenants.models import Membership

    users = User.objects.bulk_create(
        [User(username=f"{t.name}-{role}") for t in tenants for role in ("admin", "dev")]
        + [User(username=f"op{i}", platform_role="operator") for i in range(2)]
    )
    Membership.objects.bulk_create(
        [
            Membership(tenant=t, user=users[2 * i + k], role=("tenant-admin", "tenant-member")[k])
            for i, t in enumerate(tenants)
            for k in (0, 1)
        ]
    )
    target = crypto.encrypt("https://hooks.example.com/alerts")
    webhook = {"kind": "webhook", "target_encrypted": target, "target_hint": "https://hooks.example.com/..."}
    Channel.objects.bulk_create(
        [
            Channel(tenant_id=t.pk, tenant_name=t.name, name="alerts", topics=["alert"], min_level="info", **webhook)
            for t in tenants
        ]
        + [Channel(name="noc", topics=["alert"], min_level="warning", all_tenants=True, **webhook)]
    )


def make_rules(cluster, tenants, projects):
    from console.notifications.models import Channel
    from monitoring.alerts.models import AlertRule

    rules = []
    for i in range(RULES):
        project = projects[i % len(projects)]
        tenant = project.tenant
        base = {"tenant": tenant, "namespace": project.name, "severity": "warning", "for_seconds": 300}
        if i < 6000:
            metric = "pod_memory_usage_bytes" if i % 2 == 0 else "pod_cpu_usage_cores"
            app = ("web", "api", "")[i % 3]
            rules.append(
                AlertRule(
                    name=f"r{i}",
                    kind="threshold",
                    metric=metric,
                    comparison=">",
                    threshold=90,
                    percent_of_limit=True,
                    app=app,
                    **base,
                )
            )
        elif i < 7500:
            rules.append(AlertRule(name=f"r{i}", kind="crash_loop", **{**base, "for_seconds": 0}))
        elif i < 8500:
            rules.append(AlertRule(name=f"r{i}", kind="pending_too_long", **base))
        elif i < 9500:
            scope = base if i % 2 else {**base, "namespace": ""}
            rules.append(AlertRule(name=f"r{i}", kind="unavailable_replicas", **{**scope, "for_seconds": 0}))
        else:
            kind = ("node_not_ready", "component_unhealthy", "volume_full", "threshold")[i % 4]
            extra = {"metric": "pod_restarts", "comparison": ">", "threshold": 5} if kind == "threshold" else {}
            if kind == "volume_full":
                extra = {"threshold": 90}
            rules.append(AlertRule(name=f"op{i}", kind=kind, severity="critical", cluster=cluster, **extra))
    AlertRule.objects.bulk_create(rules, batch_size=2000)
    channel_of = dict(Channel.objects.filter(tenant_id__isnull=False).values_list("tenant_id", "pk"))
    named = [
        AlertRule.channels.through(alertrule_id=rule.pk, channel_id=channel_of[rule.tenant_id])
        for rule in rules[::10]
        if rule.tenant_id
    ]
    AlertRule.channels.through.objects.bulk_create(named)


NOTIFYING = []
QUERIES = []


def timed(now=None):
    """The evaluation alone: the notifications it sends afterwards (in the same task) are timed apart."""
    from django.db import connection

    from monitoring.alerts import evaluate, notify

    announce = notify.announce

    def count(execute, sql, params, many, context):
        QUERIES.append(sql)
        return execute(sql, params, many, context)

    def timed_announce(*args):
        started = time.perf_counter()
        with connection.execute_wrapper(count):
            announce(*args)
        NOTIFYING.append(time.perf_counter() - started)

    notify.announce = timed_announce
    try:
        started = time.perf_counter()
        report = evaluate.evaluate(now=now)
        elapsed = time.perf_counter() - started - sum(NOTIFYING)
    finally:
        notify.announce = announce
        notifying, queries = sum(NOTIFYING), len(QUERIES)
        NOTIFYING.clear()
        QUERIES.clear()
    report.notifying, report.queries = notifying, queries
    return elapsed, report


def main():
    setup()
    from django.db import connection
    from django.utils import timezone

    from console.clusters.models import MirroredObject
    from monitoring.alerts.models import Alert

    cluster, tenants, projects, last = populate()
    make_rules(cluster, tenants, projects)
    connection.close()  # what the beat's worker has: no warm query cache in this process either
    # evaluated as the beat would, a few seconds after the newest scrape
    now = datetime.fromtimestamp(last + 5, UTC)
    first, report = timed(now)
    print(
        f"first evaluation of {report.rules:,} rules: {first * 1000:.0f} ms "
        f"({len(report.fired):,} fired, {report.pending:,} pending); then notifying them (in-app, live pushes, "
        f"channels queued) {report.notifying * 1000:.0f} ms, {report.queries:,} queries"
    )
    steady = []
    for run in range(5):
        seconds, report = timed(now + timezone.timedelta(seconds=run + 1))
        steady.append(seconds)
    print(
        f"steady evaluation (nothing changes): median {statistics.median(steady) * 1000:.0f} ms, "
        f"max {max(steady) * 1000:.0f} ms ({report.firing:,} firing)"
    )
    if os.environ.get("ALERTS_PROFILE"):  # where a steady evaluation spends its time
        import cProfile
        import pstats

        from monitoring.alerts import evaluate

        cProfile.runctx("evaluate.evaluate(now=now)", globals(), {"evaluate": evaluate, "now": now}, "/tmp/alerts.prof")
        pstats.Stats("/tmp/alerts.prof").sort_stats("tottime").print_stats(15)
    crashing = MirroredObject.objects.filter(kind="Pod", phase="CrashLoopBackOff")
    healed = list(crashing.values_list("pk", flat=True)[: max(1, crashing.count() // 2)])
    MirroredObject.objects.filter(pk__in=healed).update(phase="Running")
    seconds, report = timed(now + timezone.timedelta(seconds=10))
    print(
        f"evaluation with {len(report.resolved):,} alerts resolving: {seconds * 1000:.0f} ms "
        f"(+ {report.notifying * 1000:.0f} ms notifying, {report.queries:,} queries)"
    )
    from console.notifications.models import Delivery, Notification

    print(
        f"alerts stored: {Alert.objects.count():,}; in-app notifications {Notification.objects.count():,}, "
        f"channel deliveries {Delivery.objects.count():,}; target: 10,000 rules < 1 s"
    )


if __name__ == "__main__":
    main()
