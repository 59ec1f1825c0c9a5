"""Pipelines: webhook deliveries per second and the pages of a busy pipeline, measured.

A tenant with one app and its pipeline (queue mode). 500 signed GitHub push deliveries go
through the whole stack (Django's test client: middleware, HMAC check over the raw body,
the hardened JSON loader, the replay table, the run with its stages, the operation-log
entry); then 500 with a wrong signature (refused and logged) and 500 replays. Then the
pipeline's page with those 500 runs, and a run page whose four stages hold 200 KB of log each.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench_pipelines .venv/bin/python bench/pipelines.py

The database named in DATABASE_URL is dropped and created again (REDIS_URL unset: the
in-memory broker, nothing is sent anywhere).
"""

import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench_pipelines")
os.environ.pop("REDIS_URL", None)

from mirror_pages import recreate_database  # noqa: E402

DELIVERIES = 500


def setup():
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(calls):
    took = []
    for call in calls:
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    return took


def report(name, took):
    took = sorted(took)
    total = sum(took) / 1000
    print(
        f"{name:<34} {len(took):>5} in {total:6.2f} s = {len(took) / total:7.1f}/s;"
        f" p50 {statistics.median(took):6.1f} ms, p95 {took[int(len(took) * 0.95) - 1]:6.1f} ms"
    )


def main():
    setup()
    from django.test import Client
    from django.urls import reverse

    from tests.factories import create_two_tenants, mk_app
    from workloads.pipelines import services, webhooks
    from workloads.pipelines.models import Run, StageRun

    cluster, acme, globex, project, users = create_two_tenants()
    mk_app(project, "web")
    values = {
        "app": "web",
        "repository_url": "https://git.example.com/acme/web.git",
        "branch": "main",
        "dockerfile": "Dockerfile",
        "context": ".",
        "image_repository": "registry.example.com/acme/web",
        "test_command": "make test",
        "strategy": "rolling",
        "canary_weight": 20,
        "promote_after_minutes": 10,
        "concurrency": "queue",
        "schedule_minutes": 0,
    }
    pipeline, secret = services.create_pipeline(project, acting_user=users["tenant_member"], name="web-ci", **values)
    url = reverse("pipelines:webhook", args=[pipeline.pk, "github"])
    client = Client(HTTP_HOST="localhost")

    def delivery(signed=True, delivery_id=None, sha=None):
        sha = sha or uuid.uuid4().hex + "abcdef01"
        commit = {"id": sha, "message": "Change", "author": {"name": "Ada", "email": "ada@acme.example"}}
        body = json.dumps(
            {
                "ref": "refs/heads/main",
                "after": sha,
                "commits": [commit],
                "head_commit": commit,
                "pusher": {"name": "acme-dev", "email": "ada@acme.example"},
            }
        ).encode()
        signature = webhooks.sign(secret if signed else "wrong", body)
        headers = {
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={signature}",
        }

        def send():
            response = client.post(url, data=body, content_type="application/json", headers=headers)
            assert response.status_code in (200, 202, 403), response.content

        return send

    ids = [str(uuid.uuid4()) for _ in range(DELIVERIES)]
    report("signed push -> queued run", timed(delivery(delivery_id=i) for i in ids))
    assert Run.objects.filter(pipeline=pipeline).count() == DELIVERIES
    report("wrong signature -> 403, logged", timed(delivery(signed=False) for _ in range(DELIVERIES)))
    report("replayed delivery -> ignored", timed(delivery(delivery_id=i) for i in ids))
    assert Run.objects.filter(pipeline=pipeline).count() == DELIVERIES

    run = pipeline.runs.order_by("number").first()
    line = "2026-12-06T06:00:00.000Z INFO step 0042 of the build: copying files into the image layer\n"
    StageRun.objects.filter(run=run).update(log=line * (200_000 // len(line)))
    viewer = Client(HTTP_HOST="localhost")
    viewer.force_login(users["tenant_member"])
    page = reverse("pipelines:pipeline", args=["acme", project.name, "web-ci"])
    run_page = reverse("pipelines:run", args=["acme", project.name, "web-ci", run.number])
    for name, address in (("pipeline page (500 runs)", page), ("run page (4 x 200 KB of log)", run_page)):
        viewer.get(address)
        report(name, timed([lambda a=address: viewer.get(a)] * 20))


if __name__ == "__main__":
    main()
