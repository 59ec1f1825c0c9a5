from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext, gettext_lazy as _

from .choices import ClusterStatus, JobStatus, NotificationLevel, OperationResult, PlatformRole, VerificationStatus


class User(AbstractUser):
    """A console user. Platform roles live here; tenant roles come from tenant memberships."""

    platform_role = models.CharField(
        _("platform role"), max_length=16, choices=PlatformRole.choices, blank=True, default=PlatformRole.NONE
    )
    # The language the user last used the console in: pushes and notifications use it.
    language = models.CharField(_("language"), max_length=16, blank=True)
    # Set when someone else chose the password (a generated one-time password): the user
    # must choose their own before using the console, so the one-time one stops working.
    must_change_password = models.BooleanField(_("must change password"), default=False)

    @property
    def is_operator(self):
        return self.is_active and self.platform_role == PlatformRole.OPERATOR

    @property
    def is_auditor(self):
        return self.is_active and self.platform_role == PlatformRole.AUDITOR


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("operation log entries are append-only")

    def delete(self):
        raise PermissionError("operation log entries are append-only")


class OperationLogEntry(models.Model):
    """One recorded action. Rows are never changed: each carries a hash over its content
    and the previous row's hash, so a change or removal breaks the chain."""

    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"))
    # No database constraint: deleting a user must not touch (update) the log.
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_name = models.CharField(_("actor"), max_length=150, db_index=True)
    actor_role = models.CharField(_("role"), max_length=32, blank=True)
    tenant = models.CharField(_("tenant"), max_length=100, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    cluster = models.CharField(_("cluster"), max_length=100, blank=True)
    namespace = models.CharField(_("namespace"), max_length=253, blank=True)
    target_kind = models.CharField(_("kind"), max_length=100, blank=True)
    target_name = models.CharField(_("name"), max_length=253, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, db_index=True)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    payload = models.JSONField(_("payload"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=16, choices=OperationResult.choices, db_index=True)
    error = models.TextField(_("error"), blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("operation log entry")
        verbose_name_plural = _("operation log")
        indexes = [models.Index(fields=["cluster", "namespace", "target_kind", "target_name"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("operation log entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("operation log entries are append-only")

    @property
    def target(self):
        return "/".join(part for part in (self.cluster, self.namespace, self.target_kind, self.target_name) if part)

    # For the reader, in their language; the entry itself keeps what was recorded.
    @property
    def actor_display(self):
        return gettext("system") if self.actor_id is None and self.actor_role == "system" else self.actor_name

    @property
    def actor_role_display(self):
        from .roles import role_names

        return role_names(self.actor_role)

    @property
    def error_display(self):
        """The console's own fixed messages (marked with gettext_noop where recorded) translated."""
        return gettext(self.error) if self.error else ""

    def __str__(self):
        return f"#{self.pk} {self.action} by {self.actor_name}: {self.result}"


class ChainVerification(models.Model):
    """A request to check the operation log's hash chain, run by a Celery task."""

    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveBigIntegerField(default=0)
    first_broken_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]


class Notification(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    level = models.CharField(max_length=16, choices=NotificationLevel.choices, default=NotificationLevel.INFO)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    @property
    def is_read(self):
        return self.read_at is not None


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
    # What the console's own identity may not do there (console.permissions), as of the last
    # check: [{"verb", "group", "resource", "subresource", "text", "features"}]; [] = nothing missing.
    permissions_missing = models.JSONField(default=list, blank=True)
    permissions_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
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


class Job(models.Model):
    """A long-running operation: the row comes first (who, what, where), then a Celery
    task runs it and appends its steps here; pages follow it live on group `job-<id>`."""

    kind = models.CharField(_("operation"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Plain columns, not foreign keys: the console core knows no tenants app.
    tenant_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    tenant_name = models.CharField(max_length=100, blank=True)
    cluster = models.CharField(max_length=100, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    target_kind = models.CharField(max_length=100, blank=True)
    target_name = models.CharField(max_length=253, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=list, blank=True)  # [{"at": iso time, "text": ..., "ok": bool}]
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who runs it ("celery-hostname pid N") and when it last said so: the reaper ends or
    # re-queues running jobs whose heartbeat went quiet (their worker is gone).
    owner = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Asked to stop: a pending job never starts, a running one stops before its next step.
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.kind} {self.target_name}"

    @property
    def is_active(self):
        return self.status in JobStatus.active()

    @property
    def colour(self):
        return JobStatus.colour(self.status)

    @property
    def kind_label(self):
        from .jobs import kind_label

        return kind_label(self.kind)
