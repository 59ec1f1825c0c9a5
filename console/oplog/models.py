from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.choices import OperationResult, VerificationStatus


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
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
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

    def __str__(self):
        return f"#{self.pk} {self.action} by {self.actor_name}: {self.result}"

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
        from console.accounts.roles import role_names

        return role_names(self.actor_role)

    @property
    def error_display(self):
        """The console's own fixed messages (marked with gettext_noop where recorded) translated."""
        return gettext(self.error) if self.error else ""


class ChainVerification(models.Model):
    """A request to check the operation log's hash chain, run by a Celery task."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveBigIntegerField(default=0)
    first_broken_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"chain verification #{self.pk}: {self.status}"
