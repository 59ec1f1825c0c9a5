from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import NotificationLevel, StatusChoices, StatusGroup, status


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", _("Metric above or below a threshold")
    CRASH_LOOP = "crash_loop", _("Pods in a crash loop")
    UNAVAILABLE = "unavailable_replicas", _("Apps with unavailable replicas")
    PENDING = "pending_too_long", _("Pods pending too long")
    NODE_NOT_READY = "node_not_ready", _("Node not ready")
    COMPONENT = "component_unhealthy", _("Control-plane component unhealthy")
    VOLUME_FULL = "volume_full", _("Volume nearly full")


# Kinds only operators may set: they watch the cluster itself, not a tenant's workloads.
CLUSTER_KINDS = (RuleKind.NODE_NOT_READY, RuleKind.COMPONENT)


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


SEVERITY_LEVEL = {
    Severity.INFO: NotificationLevel.INFO,
    Severity.WARNING: NotificationLevel.WARNING,
    Severity.CRITICAL: NotificationLevel.DANGER,
}
SEVERITY_COLOUR = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "danger"}


class Comparison(models.TextChoices):
    ABOVE = ">", _("above")
    BELOW = "<", _("below")


class AlertState(StatusChoices):
    PENDING = status("pending", _("Pending"), "secondary", StatusGroup.PENDING)
    FIRING = status("firing", _("Firing"), "danger", StatusGroup.RUNNING)
    RESOLVED = status("resolved", _("Resolved"), "success")
