from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import NotificationLevel
from console.texts import StoredTextField


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    level = models.CharField(max_length=16, choices=NotificationLevel.choices, default=NotificationLevel.INFO)
    # console.texts Texts, translated for each reader; plain text from operators (notices) and older rows
    title = StoredTextField(_("title"))
    body = StoredTextField(_("message"), blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self):
        return str(self.title)

    @property
    def is_read(self):
        return self.read_at is not None


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook (JSON)")
    DINGTALK = "dingtalk", _("DingTalk robot")
    WECOM = "wecom", _("WeCom robot")
    SLACK = "slack", _("Slack incoming webhook")


class Topic(models.TextChoices):
    """What a notification is about, so a channel can take only some."""

    ALERT = "alert", _("Alerts")
    GENERAL = "general", _("Other notifications (scheduled tasks, scaling, jobs)")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Channel(models.Model):
    """Where notifications go besides the in-app list: an email list or a webhook. A channel
    with no tenant is the operators' (platform notifications, and every tenant's if
    `all_tenants`); a tenant's channel takes that tenant's notifications."""

    tenant_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # tenants.Tenant, by id
    tenant_name = models.CharField(max_length=100, blank=True)  # copied when made (the core knows no Tenant)
    name = models.SlugField(_("name"), max_length=63)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    # Addresses (email) or the URL (webhooks; a webhook's URL often is its credential): encrypted.
    target_encrypted = models.TextField()
    target_hint = models.CharField(max_length=300)  # what pages show: addresses, or scheme://host/...
    secret_encrypted = models.TextField(blank=True)  # DingTalk's signing secret
    topics = models.JSONField(default=list)
    min_level = models.CharField(
        _("lowest level"), max_length=16, choices=NotificationLevel.choices, default=NotificationLevel.WARNING
    )
    all_tenants = models.BooleanField(_("every tenant's notifications too"), default=False)
    group_seconds = models.PositiveIntegerField(_("grouping window (seconds)"), default=30)
    dedup_seconds = models.PositiveIntegerField(_("duplicates ignored for (seconds)"), default=3600)
    max_per_hour = models.PositiveIntegerField(_("messages per hour at most"), default=20)
    enabled = models.BooleanField(_("enabled"), default=True)
    language = models.CharField(_("language of the messages"), max_length=16, default=settings.LANGUAGE_CODE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "name"], name="channel_name_per_tenant"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(tenant_id__isnull=True), name="platform_channel_name"
            ),
        ]

    def __str__(self):
        return self.name


class Delivery(models.Model):
    """One notification for one channel: waits for its group, is sent (with others of the
    group in one message), or is retried with backoff until it fails for good."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=200)  # de-duplication: the same key within dedup_seconds is dropped
    title = StoredTextField(_("title"))
    body = StoredTextField(_("message"), blank=True)
    level = models.CharField(max_length=16, choices=NotificationLevel.choices, default=NotificationLevel.INFO)
    link = models.CharField(max_length=500, blank=True)
    resolved = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["channel", "status", "due_at"]),
            models.Index(fields=["channel", "key", "created_at"]),
            models.Index(fields=["channel", "sent_at"]),
        ]

    def __str__(self):
        return f"{self.channel_id}: {self.title}"
