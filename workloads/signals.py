"""Reactions of the workloads app to what happens elsewhere in the console."""

from django.dispatch import receiver

from tenants.signals import demo_tenant_created, namespace_provisioned

from . import services, specs
from .choices import AppKind, AppStatus, ServiceType
from .models import App


@receiver(namespace_provisioned)
def restore_apps_of_reprovisioned_namespace(sender, project, restore_workloads=False, **kwargs):
    """A namespace provisioned again on an emptied cluster gets its apps back; an ordinary
    namespace update leaves alone what people removed with kubectl."""
    if restore_workloads:
        for app in App.objects.filter(project=project).exclude(status=AppStatus.DELETING).select_related("project__tenant", "project__cluster"):
            services.restore_app(app)


DEMO_APP = "storefront"


@receiver(demo_tenant_created)
def seed_demo_app(sender, tenant, stdout=None, **kwargs):
    """The demo tenant starts with one app of the console's own (the sandbox's demo objects
    were made outside it). Only its record is made here: the namespace job that provisions
    demo-shop brings it onto the cluster the way it restores any app the sandbox lost."""
    project = tenant.projects.get(name="demo-shop")
    spec = {**specs.empty_spec(), "image": "registry.local/shop/storefront:3.1.0", "replicas": 2,
            "ports": [{"name": "http", "port": 8080}], "env": [{"name": "API_URL", "value": "http://api:8080"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
            "readiness": {"path": "/healthz", "port": 8080}}
    specs.validate(AppKind.DEPLOYMENT, spec)
    app = App(project=project, name=DEMO_APP, kind=AppKind.DEPLOYMENT, spec=spec, status=AppStatus.DEPLOYING)
    app.service, app.ingress = services.check_exposure(app, ServiceType.CLUSTER_IP, 80, None, None, "storefront.demo.local", "/", "")
    app.autoscaler = services.check_autoscaler(app, 2, 6, 70, None)
    app.save()
    if stdout:
        stdout.write(f"created demo app {DEMO_APP!r} in {project.name}")
