"""Instantiating a 30-object template on the sandbox cluster, measured (target: < 5 s).

The template: 10 small apps, each a ConfigMap, a Service and a one-pod Deployment (30 objects).
Timed end to end as a tenant member would see it: the service (render, Pod Security, a
server-side dry run of all 30 objects as the member, the quota check, the job row), then the
job (30 objects applied in dependency order, each a step and an operation-log entry, and the
10 rollouts followed until every pod is ready), run here as a worker would. Three runs, each
into a fresh namespace; the sandbox runs at its test clock speed (20x).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench .venv/bin/python bench/stacks.py

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

from mirror_pages import recreate_database  # noqa: E402

APPS, RUNS = 10, 3
SECURITY = (
    "{allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, "
    "capabilities: {drop: [ALL]}}"
)
PARAMETERS = [
    {"name": "image", "type": "image", "default": "nginxinc/nginx-unprivileged:1.27"},
    {"name": "cpu", "type": "quantity", "default": "50m"},
]


def manifests():
    docs = []
    for n in range(APPS):
        name = f"app{n:02d}"
        docs.append(f'apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}-config}}\ndata: {{N: "{n}"}}\n')
        docs.append(
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
            f"spec: {{selector: {{caas.io/app: {name}}}, ports: [{{port: 80, targetPort: 8080}}]}}\n"
        )
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 1\n"
            f"  selector: {{matchLabels: {{caas.io/app: {name}}}}}\n  template:\n"
            f"    metadata: {{labels: {{caas.io/app: {name}}}}}\n    spec:\n      containers:\n"
            f'      - name: web\n        image: "${{image}}"\n'
            f"        envFrom: [{{configMapRef: {{name: {name}-config}}}}]\n"
            f'        resources: {{requests: {{cpu: "${{cpu}}", memory: 32Mi}}, limits: {{cpu: 100m, memory: 64Mi}}}}\n'
            f"        securityContext: {SECURITY}\n"
        )
    return "---\n".join(docs)


def main():
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from console.jobs.models import Job
    from console.sandbox import SandboxCluster
    from tenants import services as tenant_services
    from tenants.tasks import run_tenant_job
    from tests.factories import mk_cluster, mk_member, mk_user
    from workloads.stacks import services
    from workloads.stacks.tasks import run_stack_job

    with SandboxCluster(nodes=3, clock_speed=20) as sandbox:
        cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
        operator = mk_user("bench-op", "operator")
        tenant = tenant_services.create_tenant(
            acting_user=operator,
            name="bench",
            display_name="Bench",
            clusters=[cluster],
            limits={"cpu": "40", "memory": "80Gi", "pods": "200", "storage": "100Gi"},
            default_quota={"cpu": "4", "memory": "8Gi", "pods": "40", "storage": "10Gi"},
        )
        dev = mk_member(tenant, "bench-dev")
        template = services.create_template(
            acting_user=dev, tenant=tenant, name="thirty", manifests=manifests(), parameters=_yaml(PARAMETERS)
        )
        version = template.latest()
        checks, jobs, totals = [], [], []
        for run in range(RUNS):
            project, job = tenant_services.create_project(
                tenant, acting_user=operator, cluster=cluster, short_name=f"run{run}"
            )
            run_tenant_job.apply(args=[job.pk])
            project.refresh_from_db()
            started = time.perf_counter()
            stack, job = services.create_stack(project, acting_user=dev, version=version, name="thirty", values={})
            checked = time.perf_counter()
            run_stack_job.apply(args=[job.pk])
            done = time.perf_counter()
            job = Job.objects.get(pk=job.pk)
            stack.refresh_from_db()
            assert job.status == "succeeded", job.error
            assert len(stack.resources) == 3 * APPS
            checks.append(checked - started)
            jobs.append(done - checked)
            totals.append(done - started)
        print(f"instantiate a {3 * APPS}-object template ({APPS} Deployments followed to ready), {RUNS} runs:")
        print(f"  checks before the job (render, dry run of all, quota): median {statistics.median(checks):.2f} s")
        print(f"  the job (apply in order + rollouts):                   median {statistics.median(jobs):.2f} s")
        print(
            f"  total: median {statistics.median(totals):.2f} s, worst {max(totals):.2f} s "
            f"({', '.join(f'{t:.2f}' for t in totals)})   target < 5 s"
        )


def _yaml(data):
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


if __name__ == "__main__":
    main()
