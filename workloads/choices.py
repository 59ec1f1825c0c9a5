from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusChoices, StatusGroup, status


class AppKind(models.TextChoices):
    DEPLOYMENT = "Deployment", _("Stateless (Deployment)")
    STATEFULSET = "StatefulSet", _("Stateful (StatefulSet)")


class AppStatus(StatusChoices):
    DEPLOYING = status("deploying", _("Deploying"), "primary", StatusGroup.RUNNING)
    RUNNING = status("running", _("Running"), "success")  # deployed: no change in flight
    UPDATING = status("updating", _("Updating"), "primary", StatusGroup.RUNNING)
    FAILED = status("failed", _("Failed"), "danger")
    DELETING = status("deleting", _("Deleting"), "warning", StatusGroup.RUNNING)


class ServiceType(models.TextChoices):
    NONE = "", _("Not exposed")
    CLUSTER_IP = "ClusterIP", _("ClusterIP (inside the cluster)")
    NODE_PORT = "NodePort", _("NodePort (on every node)")


# Why replicas changed: shown in notifications and the operation log.
class ScaleReason(models.TextChoices):
    MANUAL = "manual", _("scaled by hand")
    SCHEDULE = "schedule", _("scheduled scaling")
    SUSPEND = "suspend", _("tenant suspended")


# What a person reads for each kind of job the workloads app runs.
JOB_KINDS = {
    "app.deploy": _("Deploy"),
    "app.upgrade": _("Upgrade"),
    "app.rollback": _("Rollback"),
    "app.scale": _("Scale"),
    "app.expose": _("Exposure"),
    "app.delete": _("Deletion"),
    "app.import": _("Import"),
    "app.autoscale": _("Autoscaler change"),
    "app.canary": _("Canary release"),
    "app.canary_promote": _("Promotion"),
    "app.canary_abort": _("Canary abort"),
    "app.restore": _("Restore"),
}
