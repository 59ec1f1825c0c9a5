"""Load test of the production-shaped run: simulated operators, tenant members and auditors
(bench/locustfile.py, locust) against scripts/run-production.sh — daphne web processes,
Celery worker, beat, the watcher and a sandbox cluster — over PostgreSQL and Redis.

    .venv/bin/python bench/load_users.py [--users 200] [--minutes 3] [--web 2]

By default it starts its own throwaway PostgreSQL (max_connections=100, like a stock
server) and Redis (tests/throwaway.py), so that the load never reaches the machine's
shared servers; --database-url and --redis-url use existing ones (the database is made
if missing; it must be the console's own). It seeds what the users need — accounts with
signed-in sessions, 50 pods in 10 namespaces and a few apps of the demo tenant on the
sandbox, 5,000 operation-log entries — then prints requests/s, errors, p50/p95 per page,
the connections PostgreSQL held and the memory (RSS) of each process.

Users arrive signed in (sessions made like Django's force_login): 200 PBKDF2 sign-ins
would cost over a minute of CPU at ramp-up and measure the hasher, not the pages.
"""

import argparse
import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
KEY_PREFIX = "caas-load"
OPLOG_ENTRIES = 5000


def start_console(env, web, port, run_dir):
    """scripts/run-production.sh with the sandbox; returns the script's process once every web process answers."""
    log = open(run_dir / "run-production.out", "w")
    process = subprocess.Popen(
        [
            "bash",
            "scripts/run-production.sh",
            "--sandbox",
            "--web",
            str(web),
            "--port",
            str(port),
            "--dir",
            str(run_dir),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while "console at" not in (run_dir / "run-production.out").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                "run-production.sh did not start:\n" + (run_dir / "run-production.out").read_text()[-3000:]
            )
        time.sleep(0.5)
    return process


def stop_console(process, run_dir):
    started = time.monotonic()
    process.send_signal(signal.SIGINT)  # the script stops what it started
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    print(f"run-production.sh stopped in {time.monotonic() - started:.1f} s (exit {process.returncode})", flush=True)
    if (run_dir / "pids").exists():  # it did not get to stop them: they are ours, by id
        subprocess.run(["bash", "scripts/run-production.sh", "stop", "--dir", str(run_dir)], cwd=ROOT)


def seed(users):
    """Accounts, sessions, workloads on the sandbox, operation-log entries; returns the locust plan."""
    import logging

    import django

    django.setup()
    logging.disable(logging.INFO)  # the seeding's own progress is not news
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction
    from kubernetes import client as k8s

    from console.accounts.models import User
    from console.choices import OperationResult, PlatformRole
    from console.clusters.models import Cluster, MirroredObject
    from console.kube.config import parse_kubeconfig
    from console.kube.connection import api_client
    from console.oplog import oplog
    from console.oplog.models import OperationLogEntry
    from tenants.choices import TenantRole
    from tenants.models import Membership, Tenant

    cluster = Cluster.objects.get(name="sandbox")
    tenant = Tenant.objects.get(name="demo")
    accounts = {
        "operator": [
            User.objects.get_or_create(username=f"load-op-{i}", defaults={"platform_role": PlatformRole.OPERATOR})[0]
            for i in range(5)
        ],
        "auditor": [
            User.objects.get_or_create(username=f"load-aud-{i}", defaults={"platform_role": PlatformRole.AUDITOR})[0]
            for i in range(3)
        ],
        "tenant": [User.objects.get_or_create(username=f"load-dev-{i}")[0] for i in range(10)],
    }
    for user in accounts["tenant"]:
        Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": TenantRole.MEMBER})

    sessions = {}
    for role, people in accounts.items():
        sessions[role] = []
        for n in range(users):
            user = people[n % len(people)]
            session = SessionStore()
            session.update(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            )
            session.create()
            sessions[role].append(session.session_key)

    # Workloads for the resource browser: 10 namespaces, each a Deployment of 5 pods and 3 ConfigMaps.
    api = api_client(parse_kubeconfig(Path(os.environ["LOAD_KUBECONFIG"]).read_text()), "sandbox")
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    for i in range(10):
        namespace = f"load-{i}"
        core.create_namespace({"metadata": {"name": namespace}})
        for c in range(3):
            core.create_namespaced_config_map(
                namespace, {"metadata": {"name": f"settings-{c}"}, "data": {"level": str(c)}}
            )
        labels = {"app": f"svc-{i}"}
        apps.create_namespaced_deployment(
            namespace,
            {
                "metadata": {"name": f"svc-{i}", "labels": labels},
                "spec": {
                    "replicas": 5,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "app", "image": f"registry.local/svc:{i}"}]},
                    },
                },
            },
        )
    api.close()

    # The tenant's apps: more beside the demo storefront, deployed through the console (worker jobs).
    from workloads import services as workloads
    from workloads import specs
    from workloads.models import App

    admin = Membership.objects.filter(tenant=tenant, role=TenantRole.ADMIN).select_related("user").first().user
    project = tenant.projects.get(name="demo-shop")
    deadline = time.monotonic() + 120  # its namespace job (quota, role bindings) runs on the worker first
    while project.status != "active":
        if time.monotonic() > deadline:
            raise RuntimeError(f"namespace demo-shop is still {project.status} after 2 minutes")
        time.sleep(1)
        project.refresh_from_db()
    for name in ("cart", "search", "checkout"):
        if not App.objects.filter(project=project, name=name).exists():
            spec = {
                **specs.empty_spec(),
                "image": f"registry.local/shop/{name}:1.0",
                "replicas": 1,
                "ports": [{"name": "http", "port": 8080}],
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "100m", "memory": "128Mi"},
                },
            }
            workloads.deploy_app(project, acting_user=admin, name=name, kind="Deployment", spec=spec)

    # 5,000 operation-log entries for the auditors (the chain is appended to as the console does).
    actions = [
        "app.deploy",
        "app.scale",
        "app.upgrade",
        "namespace.create",
        "cluster.refresh",
        "tenant.update",
        "account.login",
    ]
    results = [OperationResult.SUCCEEDED] * 6 + [OperationResult.FAILED, OperationResult.DENIED]
    missing = OPLOG_ENTRIES - OperationLogEntry.objects.count()
    people = accounts["operator"] + accounts["tenant"]
    for start in range(0, max(missing, 0), 500):
        with transaction.atomic():
            for n in range(start, min(missing, start + 500)):
                oplog.record(
                    people[n % len(people)],
                    actions[n % len(actions)],
                    result=results[n % len(results)],
                    target={
                        "tenant": "demo",
                        "cluster": "sandbox",
                        "namespace": f"load-{n % 10}",
                        "kind": "Deployment",
                        "name": f"svc-{n % 10}",
                    },
                    payload={"replicas": n % 7},
                    error="quota exceeded" if n % 8 == 6 else "",
                )

    deadline = time.monotonic() + 120  # the watcher mirrors what was made on the sandbox
    while MirroredObject.objects.filter(cluster=cluster, kind="Pod", namespace__startswith="load-").count() < 50:
        if time.monotonic() > deadline:
            raise RuntimeError("the watcher did not mirror the seeded pods within 2 minutes")
        time.sleep(1)
    objects = list(
        MirroredObject.objects.filter(cluster=cluster, namespace__startswith="load-").values_list(
            "kind", "namespace", "name"
        )[:200]
    )
    app_urls = [
        f"/workloads/{tenant.name}/{app.project.name}/apps/{app.name}/"
        for app in App.objects.filter(project__tenant=tenant).select_related("project")
    ]
    return {
        "sessions": sessions,
        "cluster": cluster.name,
        "tenant": tenant.name,
        "lists": [(kind, f"load-{i}") for i in range(10) for kind in ("Pod", "ConfigMap", "Deployment")],
        "objects": objects,
        "apps": app_urls,
        "namespaces": [f"/tenants/{tenant.name}/namespaces/{p.name}/" for p in tenant.projects.all()],
        "oplog_filters": [
            "actor=load-op-1",
            "action=app.&result=failed",
            "tenant=demo&result=denied",
            "target=sandbox/load-3",
            "action=account.login",
            "actor=load-dev&action=app.scale",
        ],
        "oplog_words": ["quota", "svc-4", "load-dev-2", "namespace"],
    }


class Sampler(threading.Thread):
    """Every 2 s: connections PostgreSQL holds, and RSS of each process of the run (with its children)."""

    def __init__(self, database_url, pids_file):
        import psycopg2

        super().__init__(daemon=True)
        self.pids_file = pids_file
        self.connections, self.rss = [], {}
        self.done = threading.Event()
        # Connected before the load: a server out of connections still answers this one.
        self.db = psycopg2.connect(database_url)
        self.db.autocommit = True

    def connection_count(self):
        with self.db.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    def run(self):
        while not self.done.wait(2):
            self.connections.append(self.connection_count())
            for line in self.pids_file.read_text().splitlines():
                pid, name = line.split()
                try:
                    process = psutil.Process(int(pid))
                    rss = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
                except psutil.Error:
                    continue
                self.rss[name] = max(self.rss.get(name, 0), rss)


def run_locust(plan_file, users, seconds, spawn_rate, csv_prefix):
    env = {**os.environ, "LOAD_PLAN": str(plan_file)}
    args = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{seconds}s",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--stop-timeout",
        "5",
        "--loglevel",
        "WARNING",
    ]
    subprocess.run(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(f"{csv_prefix}.log", "w")
    )  # exits 1 when any request failed: read the CSV


def report(csv_prefix, sampler, seconds, idle_connections):
    rows = list(csv.DictReader(open(f"{csv_prefix}_stats.csv")))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    print(f"\n{'page':32} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7}")
    for row in sorted((r for r in rows if r["Name"] != "Aggregated"), key=lambda r: r["Name"]):
        print(f"{row['Name']:32} {row['Request Count']:>8} {row['Failure Count']:>6} {row['50%']:>7} {row['95%']:>7}")
    print(
        f"{'all pages':32} {total['Request Count']:>8} {total['Failure Count']:>6} {total['50%']:>7} {total['95%']:>7}"
    )
    print(f"\n{int(total['Request Count']) / seconds:.1f} requests/s over {seconds} s, {total['Failure Count']} errors")
    failures = Path(f"{csv_prefix}_failures.csv")
    for row in list(csv.DictReader(open(failures)))[:10] if failures.exists() else []:
        print(f"  {row['Occurrences']}× {row['Name']}: {row['Error']}")
    if sampler.connections:
        print(
            f"PostgreSQL connections of the console: at most {max(sampler.connections)} during the load, "
            f"{idle_connections} held after it"
        )
    print("RSS at most: " + ", ".join(f"{name} {rss / 2**20:.0f} MiB" for name, rss in sorted(sampler.rss.items())))
    return int(total["Failure Count"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    parser.add_argument("--web", type=int, default=2, help="daphne processes")
    parser.add_argument("--port", type=int, default=8600, help="the console's port (nginx's, when installed)")
    parser.add_argument("--database-url", help="an existing PostgreSQL database instead of a throwaway server")
    parser.add_argument("--redis-url", help="an existing Redis instead of a throwaway server")
    args = parser.parse_args()

    from tests import throwaway

    postgres = redis = None
    work = Path(tempfile.mkdtemp(prefix="caas-load-"))
    try:
        if args.database_url:
            database_url = args.database_url
        else:
            postgres = throwaway.Postgres(max_connections=100).start()
            postgres.create_database("console")
            database_url = postgres.url("console")
        if args.redis_url:
            redis_url = args.redis_url
        else:
            redis = throwaway.Redis().start()
            redis_url = redis.url
        run_dir = work / "run"
        (run_dir / "logs").mkdir(parents=True)
        # The bench seeds sessions itself: it must share the run's secret key.
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CONSOLE_KEY_PREFIX": KEY_PREFIX,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "LOAD_KUBECONFIG": str(run_dir / "sandbox.kubeconfig"),
            "DJANGO_SETTINGS_MODULE": "console.settings",
        }
        env.pop("CONSOLE_ENV", None)
        console = start_console({**env, "CONSOLE_ENV": "production"}, args.web, args.port, run_dir)
        try:
            os.environ.update(env)
            started = time.monotonic()
            plan = seed(args.users)
            if "(nginx, in front" in (run_dir / "run-production.out").read_text():
                plan["bases"] = [f"http://127.0.0.1:{args.port}"]  # the proxy spreads the users
            else:
                plan["bases"] = [f"http://127.0.0.1:{args.port + i}" for i in range(args.web)]
            plan_file = work / "plan.json"
            plan_file.write_text(json.dumps(plan))
            print(
                f"seeded in {time.monotonic() - started:.0f} s; "
                f"{args.users} users for {args.minutes:g} min on {args.web} web processes "
                f"(logs in {run_dir / 'logs'})",
                flush=True,
            )
            sampler = Sampler(database_url, run_dir / "pids")
            sampler.start()
            seconds = int(args.minutes * 60)
            run_locust(plan_file, args.users, seconds, args.spawn_rate, work / "locust")
            sampler.done.set()
            sampler.join()
            time.sleep(3)
            errors = report(work / "locust", sampler, seconds, sampler.connection_count())
        finally:
            stop_console(console, run_dir)
        tracebacks = sum(
            path.read_text(errors="replace").count("Traceback") for path in (run_dir / "logs").glob("*.log")
        )
        print(f"tracebacks in the processes' logs: {tracebacks}")
        return 1 if errors else 0
    finally:
        for server in (postgres, redis):
            if server:
                server.destroy()


if __name__ == "__main__":
    sys.exit(main())
