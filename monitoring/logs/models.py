"""The log store's bookkeeping. The lines themselves live in the time-partitioned table
`logs_line` (created by the migration, written with COPY: see store.py); Django only maps it
read-only through LogLine for the admin-free, query-only uses."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.clusters.models import Cluster


class IngestToken(models.Model):
    """A cluster's ingest token: only its SHA-256 is kept; the token is shown once when made."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="log_ingest_token")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)  # the first characters, to recognise it
    created_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self):
        return f"{self.cluster} {self.prefix}…"


class IngestCounter(models.Model):
    """What the ingest endpoint did for one cluster, by outcome (accepted lines, refused batches)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="log_ingest_counters")
    outcome = models.CharField(max_length=32)
    count = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)
    last_message = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "outcome"], name="logs_counter_unique")]

    def __str__(self):
        return f"{self.cluster_id} {self.outcome}: {self.count}"


class UnknownTokenCounter(models.Model):
    """Batches with no or an unknown token: they name no cluster, so they are counted platform-wide."""

    count = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)
    last_source = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return f"unknown tokens: {self.count}"


class SavedSearch(models.Model):
    """A person's named search: the query string of the search page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="log_searches")
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="logs_saved_search_unique")]

    def __str__(self):
        return self.name


class EventCursor(models.Model):
    """How far the Kubernetes events of one cluster's resource mirror have been copied into the store."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="log_event_cursor")
    synced_after = models.DateTimeField(null=True, blank=True)
    last_id = models.BigIntegerField(default=0)  # the last mirror row copied at synced_after

    def __str__(self):
        return f"{self.cluster_id} events until {self.synced_after}"
