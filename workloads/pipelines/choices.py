from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusChoices, StatusGroup, status


class RunStatus(StatusChoices):
    QUEUED = status("queued", _("Queued"), "secondary", StatusGroup.PENDING)
    RUNNING = status("running", _("Running"), "primary", StatusGroup.RUNNING)
    SUCCEEDED = status("succeeded", _("Succeeded"), "success")
    FAILED = status("failed", _("Failed"), "danger")
    CANCELLED = status("cancelled", _("Cancelled"), "warning")
    SUPERSEDED = status("superseded", _("Superseded"), "secondary")


class StageStatus(StatusChoices):
    PENDING = status("pending", _("Waiting"), "secondary", StatusGroup.PENDING)
    RUNNING = status("running", _("Running"), "primary", StatusGroup.RUNNING)
    SUCCEEDED = status("succeeded", _("Succeeded"), "success")
    FAILED = status("failed", _("Failed"), "danger")
    SKIPPED = status("skipped", _("Skipped"), "light")
    CANCELLED = status("cancelled", _("Cancelled"), "warning")


class Strategy(models.TextChoices):
    ROLLING = "rolling", _("Rolling upgrade")
    CANARY = "canary", _("Canary, then promote or abort")


class Concurrency(models.TextChoices):
    QUEUE = "queue", _("Queue: later pushes wait for the running one")
    SUPERSEDE = "supersede", _("Supersede: a later push cancels the running one")


class Trigger(models.TextChoices):
    PUSH = "push", _("Push")
    MANUAL = "manual", _("Manual")
    SCHEDULE = "schedule", _("Scheduled")
    RERUN = "rerun", _("Re-run")


class Provider(models.TextChoices):
    GITLAB = "gitlab", "GitLab"
    GITHUB = "github", "GitHub"
    GITEA = "gitea", "Gitea"


class Stage(models.TextChoices):
    BUILD = "build", _("Build image")
    TEST = "test", _("Test")
    SCAN = "scan", _("Code analysis")
    QUALITY = "quality", _("Quality gate")
    DEPLOY = "deploy", _("Deploy")


JOB_KINDS = {"pipeline.run": _("Pipeline run"), "pipeline.builds_remove": _("Build namespace removal")}
