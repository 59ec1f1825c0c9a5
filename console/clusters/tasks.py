"""Celery work of the cluster registry."""

from celery import shared_task

from console.clusters.clusters import refresh_cluster
from console.clusters.models import Cluster


@shared_task
def refresh_clusters():
    """Beat: probe every cluster (version, nodes, control-plane checks) for its page."""
    for cluster in Cluster.objects.all():
        refresh_cluster(cluster)
