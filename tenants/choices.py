from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    DELETING = "deleting", _("Deleting")

    @classmethod
    def colour(cls, value):
        return {cls.ACTIVE: "success", cls.SUSPENDED: "warning", cls.DELETING: "danger"}.get(value, "secondary")


class PodSecurityLevel(models.TextChoices):
    """The Pod Security Standard a tenant's namespaces enforce (their pod-security.kubernetes.io
    labels). Privileged is not offered: it would give tenants the nodes."""

    RESTRICTED = "restricted", _("Restricted (hardened pods)")
    BASELINE = "baseline", _("Baseline (no privileged or host access)")


class TenantRole(models.TextChoices):
    ADMIN = "tenant-admin", _("Tenant admin")
    MEMBER = "tenant-member", _("Tenant member")


class ProjectStatus(models.TextChoices):
    CREATING = "creating", _("Creating")
    ACTIVE = "active", _("Active")
    UPDATING = "updating", _("Updating")
    DELETING = "deleting", _("Deleting")
    FAILED = "failed", _("Failed")

    @classmethod
    def colour(cls, value):
        return {cls.ACTIVE: "success", cls.FAILED: "danger", cls.DELETING: "warning"}.get(value, "primary")


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
