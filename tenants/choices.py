from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusChoices, StatusGroup, status


class TenantStatus(StatusChoices):
    ACTIVE = status("active", _("Active"), "success")
    SUSPENDED = status("suspended", _("Suspended"), "warning")
    DELETING = status("deleting", _("Deleting"), "danger", StatusGroup.RUNNING)


class PodSecurityLevel(models.TextChoices):
    """The Pod Security Standard a tenant's namespaces enforce (their pod-security.kubernetes.io
    labels). Privileged is not offered: it would give tenants the nodes."""

    RESTRICTED = "restricted", _("Restricted (hardened pods)")
    BASELINE = "baseline", _("Baseline (no privileged or host access)")


class TenantRole(models.TextChoices):
    ADMIN = "tenant-admin", _("Tenant admin")
    MEMBER = "tenant-member", _("Tenant member")


class ProjectStatus(StatusChoices):
    CREATING = status("creating", _("Creating"), "primary", StatusGroup.RUNNING)
    ACTIVE = status("active", _("Active"), "success")
    UPDATING = status("updating", _("Updating"), "primary", StatusGroup.RUNNING)
    DELETING = status("deleting", _("Deleting"), "warning", StatusGroup.RUNNING)
    FAILED = status("failed", _("Failed"), "danger")


class PathKind(models.TextChoices):
    NAMESPACE = "namespace", _("Allow traffic from a namespace")
    CIDR = "cidr", _("Allow egress to a CIDR")


# The tenant-wide limits an operator sets, and the ResourceQuota keys each one caps.
# Namespace quotas of a tenant may not add up to more than its limits.
QUOTA_RESOURCES = {
    "cpu": (_("CPU (cores)"), ("requests.cpu", "limits.cpu")),
    "memory": (_("Memory"), ("requests.memory", "limits.memory")),
    "storage": (_("Storage"), ("requests.storage",)),
    "pods": (_("Pods"), ("pods",)),
    "services": (_("Services"), ("services",)),
    "volumes": (_("Volumes"), ("persistentvolumeclaims",)),
}
COUNT_RESOURCES = ("pods", "services", "volumes")
BYTE_RESOURCES = ("memory", "storage")

# What a person reads for each kind of job the tenants app runs.
JOB_KINDS = {
    "namespace.create": _("Create namespace"),
    "namespace.update": _("Update namespace"),
    "namespace.delete": _("Delete namespace"),
    "tenant.suspend": _("Suspend tenant"),
    "tenant.resume": _("Resume tenant"),
    "tenant.delete": _("Delete tenant"),
}
