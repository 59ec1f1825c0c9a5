from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import JobStatus
from console.texts import StoredTextField, TextDecoder, TextEncoder

# What people read for each kind of job, {kind: lazy translated label}: feature apps fill it
# through jobs.register_kind_labels.
KIND_LABELS: dict[str, str] = {}


class Job(models.Model):
    """A long-running operation: the row comes first (who, what, where), then a Celery
    task runs it and appends its steps here; pages follow it live on group `job-<id>`."""

    kind = models.CharField(_("operation"), max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Plain columns, not foreign keys: the console core knows no tenants app.
    tenant_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    tenant_name = models.CharField(max_length=100, blank=True)
    cluster = models.CharField(max_length=100, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    target_kind = models.CharField(max_length=100, blank=True)
    target_name = models.CharField(max_length=253, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # [{"at": iso time, "text": a console.texts Text (or plain text: the cluster's words, older rows), "ok": bool}]
    steps = models.JSONField(default=list, blank=True, encoder=TextEncoder, decoder=TextDecoder)
    error = StoredTextField(blank=True)  # a Text, or plain text
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
        return KIND_LABELS.get(self.kind, self.kind)
