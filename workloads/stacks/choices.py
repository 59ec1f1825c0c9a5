from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusChoices, StatusGroup, status


class ParamType(models.TextChoices):
    STRING = "string", _("text")
    INT = "int", _("whole number")
    QUANTITY = "quantity", _("quantity (100m, 256Mi, 10Gi)")
    IMAGE = "image", _("container image")
    BOOL = "bool", _("yes / no")
    ENUM = "enum", _("one of a list")


class StackStatus(StatusChoices):
    CREATING = status("creating", _("Creating"), "primary", StatusGroup.RUNNING)
    READY = status("ready", _("Ready"), "success")
    UPGRADING = status("upgrading", _("Upgrading"), "primary", StatusGroup.RUNNING)
    DELETING = status("deleting", _("Deleting"), "warning", StatusGroup.RUNNING)
    FAILED = status("failed", _("Failed"), "danger")


JOB_KINDS = {
    "stack.create": _("Instantiate template"),
    "stack.upgrade": _("Upgrade stack"),
    "stack.delete": _("Delete stack"),
}
