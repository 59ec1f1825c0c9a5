"""The tenants app's hook for the feature apps built on it, and its part of the embedded
cluster's start."""

from typing import Any

from django.dispatch import Signal, receiver

from console.clusters.models import Cluster
from console.jobs import jobs
from console.signals import embedded_cluster_attached

from .choices import ProjectStatus
from .models import Project

# Sent when a namespace job has applied everything: project, and restore_workloads, true when
# the namespace was provisioned again on an emptied cluster (the embedded sandbox after a
# restart), so that what runs in it can be brought back too.
namespace_provisioned = Signal()


@receiver(embedded_cluster_attached)
def reprovision_on_embedded_cluster(sender: Any, cluster: Cluster, **kwargs: Any) -> None:
    """The embedded sandbox starts empty at every run: provision the namespaces the console
    keeps on it again, asking for what runs in them to come back too. No operation-log entry
    here: the start has one ("cluster.attach_embedded"), and these jobs record only what
    fails (their steps keep the rest)."""
    kept = Project.objects.filter(cluster=cluster).exclude(status=ProjectStatus.DELETING).select_related("tenant")
    for project in kept:
        project.status = ProjectStatus.UPDATING
        project.save(update_fields=["status"])
        target = {"cluster": cluster.name, "namespace": project.name, "kind": "Namespace", "name": project.name}
        jobs.create_job(
            "namespace.update",
            requested_by=None,
            tenant=(project.tenant_id, project.tenant.name),
            target=target,
            payload={"project": project.pk, "restore_workloads": True},
        )
