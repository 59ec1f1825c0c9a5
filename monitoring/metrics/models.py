"""Metric history: one row per series (cluster, metric, target), samples in narrow tables.

The sample tables are not Django models: they are written with COPY and read with one
indexed range query (see store.py), and on PostgreSQL they are partitioned by day. Their
timestamps are integer epoch seconds, the same on PostgreSQL and SQLite (embedded run).
"""

from django.db import models

from console.clusters.models import Cluster


class Series(models.Model):
    """One time series: a metric of one target ("node/n1", "pod/shop/web-1", "cluster", ...)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=64)
    target = models.CharField(max_length=600)
    # The target's namespace ("" for node, cluster and component series): tenants read only theirs.
    namespace = models.CharField(max_length=253, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "metric", "target"], name="metrics_series_unique")]
        indexes = [models.Index(fields=["cluster", "metric", "namespace"], name="metrics_series_ns")]

    def __str__(self):
        return f"{self.metric}{{{self.target}}}"


class Watermark(models.Model):
    """How far a downsampling step has got (epoch seconds): the next run starts there."""

    name = models.CharField(max_length=32, unique=True)
    done_until = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.name} until {self.done_until}"


class PrometheusSource(models.Model):
    """A cluster's Prometheus HTTP API (set by operators on the cluster's monitoring page):
    disk, network, filesystem and process charts are PromQL over it."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.cluster_id}: {self.url}"
