"""The embedded run's sandbox cluster starts empty every time: provision the tenant
namespaces the console keeps on it again, and create the demo tenant once."""

import secrets

from django.contrib.auth import get_user_model
from django.dispatch import Signal, receiver

from console.jobs import jobs
from console.signals import embedded_cluster_attached

from .choices import ProjectStatus, TenantRole
from .models import Membership, Project, Tenant

DEMO_MEMBERS = [("alice", TenantRole.ADMIN), ("bob", TenantRole.MEMBER)]

# Sent when a namespace job has applied everything: project, and restore_workloads, true when
# the namespace was provisioned again on an emptied cluster (the embedded sandbox after a
# restart), so that what runs in it can be brought back too.
namespace_provisioned = Signal()
# Sent once, when the embedded run creates the demo tenant and its namespaces: tenant, stdout.
demo_tenant_created = Signal()


@receiver(embedded_cluster_attached)
def reprovision_on_embedded_cluster(sender, cluster, demo, stdout=None, **kwargs):
    if demo:
        _seed_demo_tenant(cluster, stdout)
    from .tasks import run_tenant_job

    # No operation-log entry here: the start has one ("cluster.attach_embedded"), and these
    # jobs record only what fails (their steps keep the rest).
    for project in Project.objects.filter(cluster=cluster).exclude(status=ProjectStatus.DELETING).select_related("tenant"):
        project.status = ProjectStatus.UPDATING
        project.save(update_fields=["status"])
        jobs.create_job("namespace.update", requested_by=None, task=run_tenant_job, tenant=(project.tenant_id, project.tenant.name),
                        target={"cluster": cluster.name, "namespace": project.name, "kind": "Namespace", "name": project.name},
                        payload={"project": project.pk, "restore_workloads": True})


def _seed_demo_tenant(cluster, stdout):
    tenant, created = Tenant.objects.get_or_create(name="demo", defaults={
        "display_name": "Demo", "contact": "demo@example.com",
        "limits": {"cpu": "8", "memory": "16Gi", "storage": "100Gi", "pods": "50", "services": "20", "volumes": "20"},
        "max_namespaces": 5,
        "default_quota": {"cpu": "2", "memory": "4Gi", "storage": "20Gi", "pods": "10", "services": "5", "volumes": "5"},
        "default_limit_range": {"request_cpu": "100m", "limit_cpu": "500m", "request_memory": "128Mi", "limit_memory": "512Mi"},
    })
    tenant.clusters.add(cluster)
    User = get_user_model()
    for username, role in DEMO_MEMBERS:
        if not User.objects.filter(username=username).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_user(username=username, password=password)
            if stdout:
                stdout.write(f"created demo user {username!r} ({role} of tenant demo) with password: {password}")
        Membership.objects.get_or_create(tenant=tenant, user=User.objects.get(username=username), defaults={"role": role})
    if created:  # the sandbox's demo workloads live in these two namespaces
        for name, display_name in (("demo-shop", "Shop"), ("demo-batch", "Batch jobs")):
            Project.objects.create(tenant=tenant, cluster=cluster, name=name, display_name=display_name, status=ProjectStatus.CREATING,
                                   quota=tenant.default_quota, limit_range=tenant.default_limit_range)
        demo_tenant_created.send(sender=Tenant, tenant=tenant, stdout=stdout)
