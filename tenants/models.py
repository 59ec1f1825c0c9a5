from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.clusters.models import Cluster

from .choices import PathKind, PodSecurityLevel, ProjectStatus, TenantRole, TenantStatus


class Tenant(models.Model):
    """A customer of the platform: its members, the clusters it may use and its limits."""

    name = models.SlugField(_("name"), max_length=30, unique=True)  # DNS-1123 label; prefixes namespaces
    display_name = models.CharField(_("display name"), max_length=100)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    clusters = models.ManyToManyField(Cluster, related_name="tenants", blank=True, verbose_name=_("clusters"))
    status = models.CharField(_("status"), max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    # Labels every namespace of the tenant with this Pod Security level (enforce, warn, audit).
    pod_security = models.CharField(
        _("Pod Security level"), max_length=16, choices=PodSecurityLevel.choices, default=PodSecurityLevel.RESTRICTED
    )
    # Tenant-wide limits: {"cpu": "8", "memory": "32Gi", ...}; a missing key means no limit.
    limits = models.JSONField(_("limits"), default=dict, blank=True)
    max_namespaces = models.PositiveIntegerField(_("namespaces"), null=True, blank=True)
    # What a new namespace gets unless its creator asks for less.
    default_quota = models.JSONField(default=dict, blank=True)
    default_limit_range = models.JSONField(default=dict, blank=True)
    # Per cluster: whether Calico's CRDs were found when the tenant's namespaces were last
    # provisioned there, {"<cluster>": {"calico": bool, "checked_at": iso time}}.
    isolation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.display_name or self.name

    @property
    def is_active(self):
        return self.status == TenantStatus.ACTIVE

    @property
    def status_colour(self):
        return TenantStatus.colour(self.status)

    @property
    def zone(self) -> ZoneInfo:
        """The tenant's time zone (its schedules run in it); UTC when the name is unknown here."""
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def group(self):
        """The Kubernetes group every member is impersonated with."""
        return f"caas:tenant:{self.name}"

    @property
    def admin_group(self):
        return f"caas:tenant:{self.name}:admins"


class Membership(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships")
    role = models.CharField(_("role"), max_length=16, choices=TenantRole.choices, default=TenantRole.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self):
        return f"{self.user} in {self.tenant} ({self.role})"


class Project(models.Model):
    """A tenant namespace on one of its clusters."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="projects")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("namespace"), max_length=63)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.CREATING)
    quota = models.JSONField(_("quota"), default=dict, blank=True)  # same keys as Tenant.limits
    limit_range = models.JSONField(_("container defaults"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="project_unique_namespace")]

    def __str__(self):
        return self.name

    @property
    def status_colour(self):
        return ProjectStatus.colour(self.status)


class NetworkPath(models.Model):
    """An extra allowed path on top of a namespace's default isolation."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="paths")
    kind = models.CharField(max_length=16, choices=PathKind.choices)
    peer_namespace = models.CharField(max_length=63, blank=True)  # kind namespace: traffic from here is allowed in
    cidr = models.CharField(max_length=64, blank=True)  # kind cidr: egress allowed to this block
    port = models.PositiveIntegerField(null=True, blank=True)
    cross_tenant = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        peer = f"from {self.peer_namespace}" if self.kind == PathKind.NAMESPACE else f"to {self.cidr}"
        return f"{self.policy_name}: {peer}" + (f" port {self.port}" if self.port else "")

    @property
    def policy_name(self):
        return f"caas-path-{self.pk}"


class SuspendedWorkload(models.Model):
    """Replica count a workload had when its tenant was suspended; resuming restores it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="suspended_workloads")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    namespace = models.CharField(max_length=63)
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=253)
    replicas = models.PositiveIntegerField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "cluster", "namespace", "kind", "name"], name="suspended_unique_workload"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.namespace}/{self.name} ({self.replicas} replicas)"
