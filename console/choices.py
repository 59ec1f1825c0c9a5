from django.db import models
from django.utils.translation import gettext_lazy as _


class PlatformRole(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    AUDITOR = "auditor", _("Auditor")
    NONE = "", _("Tenant user")


class OperationResult(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    ACCEPTED = "accepted", _("Accepted")  # queued: the worker records the outcome later
    FAILED = "failed", _("Failed")
    DENIED = "denied", _("Denied")

    @classmethod
    def colour(cls, value):
        return {cls.SUCCEEDED: "success", cls.ACCEPTED: "info", cls.FAILED: "danger", cls.DENIED: "warning"}.get(
            value, "secondary"
        )


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    INTACT = "intact", _("Chain intact")
    BROKEN = "broken", _("Chain broken")
    ERROR = "error", _("Error")

    @classmethod
    def terminal(cls):
        return (cls.INTACT, cls.BROKEN, cls.ERROR)

    @classmethod
    def colour(cls, value):
        return {cls.INTACT: "success", cls.BROKEN: "danger", cls.ERROR: "danger"}.get(value, "secondary")


class NotificationLevel(models.TextChoices):
    INFO = "info", _("Info")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    DANGER = "danger", _("Alert")


class ClusterStatus(models.TextChoices):
    READY = "ready", _("Ready")
    DEGRADED = "degraded", _("Degraded")
    UNREACHABLE = "unreachable", _("Unreachable")

    @classmethod
    def colour(cls, value):
        return {cls.READY: "success", cls.DEGRADED: "warning", cls.UNREACHABLE: "danger"}.get(value, "secondary")


class JobStatus(models.TextChoices):
    PENDING = "pending", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")

    @classmethod
    def active(cls):
        return (cls.PENDING, cls.RUNNING)

    @classmethod
    def terminal(cls):
        return (cls.SUCCEEDED, cls.FAILED, cls.CANCELLED)

    @classmethod
    def colour(cls, value):
        return {cls.SUCCEEDED: "success", cls.FAILED: "danger", cls.RUNNING: "primary", cls.CANCELLED: "warning"}.get(value, "secondary")
