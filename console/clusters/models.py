from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import ClusterStatus


class Cluster(models.Model):
    """A Kubernetes cluster the console manages, reached through its kubeconfig."""

    name = models.SlugField(_("name"), max_length=63, unique=True)
    region = models.CharField(_("region"), max_length=63, blank=True)
    description = models.TextField(_("description"), blank=True)
    server = models.CharField(_("API server"), max_length=500)
    context = models.CharField(_("context"), max_length=253)
    kubeconfig_encrypted = models.TextField()  # console.crypto; never shown again
    version = models.CharField(_("version"), max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.READY)
    status_message = models.TextField(blank=True)
    nodes = models.JSONField(default=list, blank=True)  # node summaries from the last sync
    health = models.JSONField(default=list, blank=True)  # [[check, ok]] from /readyz
    last_sync_at = models.DateTimeField(null=True, blank=True)
    # What the console's own identity may not do there (console.clusters.permissions), as of the last
    # check: [{"verb", "group", "resource", "subresource", "text", "features"}]; [] = nothing missing.
    permissions_missing = models.JSONField(default=list, blank=True)
    permissions_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def ready_nodes(self):
        return sum(1 for node in self.nodes if node.get("ready"))


class MirroredObject(models.Model):
    """The console's copy of one Kubernetes object, kept by the watcher. List pages,
    topology and search read these rows instead of calling the API server."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="mirrored_objects")
    kind = models.CharField(max_length=63)
    api_version = models.CharField(max_length=100)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64)
    resource_version = models.CharField(max_length=32)
    labels = models.JSONField(default=dict, blank=True)
    phase = models.CharField(max_length=32, blank=True)  # a one-word status per kind (Running, Ready, Bound, ...)
    owner_uid = models.CharField(max_length=64, blank=True)
    owner_kind = models.CharField(max_length=63, blank=True)
    owner_name = models.CharField(max_length=253, blank=True)
    node_name = models.CharField(max_length=253, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    object = models.JSONField()
    # The part of the object a feature app reads often (the topology's slim form, from
    # mirror.register_graph_facts), as text: "" where no reader registered one.
    graph_facts = models.TextField(blank=True, default="")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "kind", "namespace", "name"], name="mirror_unique_object"),
        ]
        indexes = [
            # (cluster, kind, namespace, name) is indexed by the unique constraint
            models.Index(fields=["cluster", "kind", "name", "namespace"], name="mirror_kind_name"),
            models.Index(fields=["cluster", "kind", "phase", "name", "namespace"], name="mirror_kind_phase"),
            models.Index(fields=["cluster", "owner_uid"], name="mirror_owner"),
            models.Index(fields=["cluster", "uid"], name="mirror_uid"),
        ]

    def __str__(self):
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


class WatchCursor(models.Model):
    """Where the watcher is for one cluster and kind: resume from resource_version."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="cursors")
    kind = models.CharField(max_length=63)
    resource_version = models.CharField(max_length=32, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    relists = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "kind"], name="cursor_unique_kind")]

    def __str__(self):
        return f"{self.kind} watch of cluster {self.cluster_id}"
