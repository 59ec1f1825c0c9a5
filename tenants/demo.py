"""The tenants app's part of the demo (a step of `manage.py seed_demo`): tenant "demo" on the
demo cluster, alice its admin and bob a member, and the two namespaces that hold the sandbox
cluster's demo workloads. Made once, with this app's services: the tenant by the demo's
operator, the namespaces by the tenant's admin."""

from console import demo as console_demo
from console.demo import Demo

from . import services
from .choices import TenantRole
from .models import Tenant

TENANT = "demo"
SETTINGS = {
    "display_name": "Demo",
    "contact": "demo@example.com",
    "limits": {"cpu": "8", "memory": "16Gi", "storage": "100Gi", "pods": "50", "services": "20", "volumes": "20"},
    "max_namespaces": 5,
    "default_quota": {"cpu": "2", "memory": "4Gi", "storage": "20Gi", "pods": "10", "services": "5", "volumes": "5"},
    "default_limit_range": {
        "request_cpu": "100m",
        "limit_cpu": "500m",
        "request_memory": "128Mi",
        "limit_memory": "512Mi",
    },
}
MEMBERS = [("alice", TenantRole.ADMIN), ("bob", TenantRole.MEMBER)]  # the first one administers
NAMESPACES = [("shop", "Shop"), ("batch", "Batch jobs")]  # demo-shop, demo-batch


def seed_demo_tenant(demo: Demo) -> None:
    if demo.cluster is None:
        return
    for username, role in MEMBERS:
        demo.user(username, f"{role} of tenant {TENANT}")
    if Tenant.objects.filter(name=TENANT).exists():
        return
    tenant = services.create_tenant(acting_user=demo.operator, name=TENANT, clusters=[demo.cluster], **SETTINGS)
    for username, role in MEMBERS:
        services.invite_member(tenant, acting_user=demo.operator, username=username, role=role)
    admin = demo.users[MEMBERS[0][0]]
    for short_name, display_name in NAMESPACES:
        project, _job = services.create_project(
            tenant, acting_user=admin, cluster=demo.cluster, short_name=short_name, display_name=display_name
        )
        demo.created[f"namespace:{project.name}"] = project


def register() -> None:
    console_demo.register_step("tenants", seed_demo_tenant, order=20)
