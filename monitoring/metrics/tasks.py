"""Celery beat work: scrape every cluster, roll samples up, keep partitions ahead, forget old ones."""

import logging

from celery import shared_task

from console.clusters.models import Cluster

from . import collect, live, store

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def scrape_clusters():
    """Scrape every registered cluster; one cluster's failure never stops the others."""
    scraped = {}
    for cluster in Cluster.objects.order_by("pk").defer("permissions_missing"):
        try:
            scrape = collect.scrape_cluster(cluster)
        except Exception:  # a bug or a database hiccup for one cluster: log it, go on
            log.exception("scraping cluster %s failed", cluster.name)
            continue
        scraped[cluster.name] = len(scrape.values)
        live.tick(scrape)
    return scraped


@shared_task(ignore_result=True)
def downsample():
    return store.downsample()


@shared_task(ignore_result=True)
def maintain_partitions():
    """Partitions for the next days, and retention (dropping the days no longer kept)."""
    store.create_partitions_ahead()
    return store.apply_retention()
