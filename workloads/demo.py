"""The workloads app's part of the demo (a step of `manage.py seed_demo`): the demo shop
namespace, when the run made it, gets one app of the console's own beside the sandbox's demo
objects (made outside the console): deployed, exposed and autoscaled with this app's
services by the namespace's creator, once the worker has provisioned the namespace."""

from console import demo as console_demo
from console.choices import JobStatus
from console.demo import Demo
from console.jobs.models import Job
from tenants.choices import ProjectStatus
from tenants.models import Project

from . import services, specs
from .choices import AppKind, ServiceType

NAMESPACE = "demo-shop"
APP = "storefront"
SPEC = {
    "image": "registry.local/shop/storefront:3.1.0",
    "replicas": 2,
    "ports": [{"name": "http", "port": 8080}],
    "env": [{"name": "API_URL", "value": "http://api:8080"}],
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "readiness": {"path": "/healthz", "port": 8080},
}
EXPOSURE = {"service_type": ServiceType.CLUSTER_IP, "port": 80, "host": "storefront.demo.local", "path": "/"}
AUTOSCALER = {"min_replicas": 2, "max_replicas": 6, "cpu": 70}


def seed_demo_app(demo: Demo) -> None:
    project = demo.created.get(f"namespace:{NAMESPACE}")
    if project is not None:
        demo.when_ready(f"namespace {NAMESPACE}", lambda: _active(project), lambda: _deploy(demo, project))


def _active(project: Project) -> bool:
    return Project.objects.filter(pk=project.pk, status=ProjectStatus.ACTIVE).exists()


def _deploy(demo: Demo, project: Project) -> None:
    project.refresh_from_db()
    user = project.created_by
    app, job = services.deploy_app(
        project,
        acting_user=user,
        name=APP,
        kind=AppKind.DEPLOYMENT,
        spec={**specs.empty_spec(), **SPEC},
        exposure=EXPOSURE,
    )
    demo.say(f"created demo app {APP!r} in {NAMESPACE}")

    def autoscale() -> None:  # on the Deployment that the job rolled out
        if Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED:
            app.refresh_from_db()
            services.set_autoscaler(app, acting_user=user, **AUTOSCALER)

    demo.when_ready(
        f"app {APP}", lambda: Job.objects.filter(pk=job.pk, status__in=JobStatus.terminal()).exists(), autoscale
    )


def register() -> None:
    console_demo.register_step("workloads", seed_demo_app, order=30)
