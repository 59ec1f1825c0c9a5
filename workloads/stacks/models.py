"""Orchestration templates: a Template (private to a tenant, or published by operators to
all) has immutable TemplateVersions (manifests text with ${parameter} references, the
parameters' schema, outputs); a Stack is one version instantiated into a tenant namespace
on a cluster, remembering its parameters and every object it created. PriceTable: what an
operator charges per cluster, for cost estimates."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from console.clusters.models import Cluster
from tenants.models import Project, Tenant
from workloads.models import InNamespace

from .choices import StackStatus


class Template(models.Model):
    name = models.SlugField(_("name"), max_length=63)
    # None: published by operators to every tenant; else private to this tenant
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="templates")
    description = models.TextField(_("description"), blank=True)
    recommended = models.BooleanField(default=False)  # shipped with the console (workloads/stacks/recommended/)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="template_unique_name"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(tenant__isnull=True), name="template_unique_public_name"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def owner(self):
        return self.tenant.name if self.tenant_id else "public"

    @property
    def shown_description(self):
        """A shipped template's description in the reader's language (recommended/texts.py)."""
        return gettext(self.description) if self.recommended and self.description else self.description

    def latest(self):
        return self.versions.order_by("-number").first()

    def target(self, **extra):
        return {"tenant": self.tenant.name if self.tenant_id else "", "kind": "Template", "name": self.name, **extra}


class TemplateVersion(models.Model):
    """Immutable once written: a change is a new version."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    manifests = models.TextField(_("manifests"))
    # [{"name", "type", "default", "required", "description", "pattern", "min", "max", "choices"}]
    parameters = models.JSONField(_("parameters"), default=list, blank=True)
    # [{"name", "value"}]: values shown once instantiated (text with ${parameter} references)
    outputs = models.JSONField(_("outputs"), default=list, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="template_version_unique")]

    def __str__(self):
        return f"{self.template.name} v{self.number}"


class Stack(InNamespace, models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stacks", verbose_name=_("namespace"))
    name = models.SlugField(_("name"), max_length=40)
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="stacks")
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    # [{"kind", "name"}] in creation order: what the stack owns on the cluster
    resources = models.JSONField(default=list, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=StackStatus.choices, default=StackStatus.CREATING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="stack_unique_name")]

    def __str__(self):
        return self.name

    @property
    def status_colour(self):
        return StackStatus.colour(self.status)

    @property
    def busy(self):
        return self.status in StackStatus.active()

    @property
    def group(self):
        """The websocket group its page follows."""
        return f"stack-{self.pk}"

    def target(self, **extra):
        return {
            "tenant": self.project.tenant.name,
            "cluster": self.project.cluster.name,
            "namespace": self.project.name,
            "kind": "Stack",
            "name": self.name,
            **extra,
        }


class PriceTable(models.Model):
    """Monthly prices on one cluster (or region), kept by operators."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="price_table")
    currency = models.CharField(_("currency"), max_length=8, default="USD")
    cpu_core_month = models.DecimalField(_("per CPU core and month"), max_digits=12, decimal_places=4, default=0)
    memory_gib_month = models.DecimalField(_("per GiB of memory and month"), max_digits=12, decimal_places=4, default=0)
    storage_gib_month = models.DecimalField(
        _("per GiB of storage and month"), max_digits=12, decimal_places=4, default=0
    )
    load_balancer_month = models.DecimalField(
        _("per load balancer and month"), max_digits=12, decimal_places=4, default=0
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"prices of {self.cluster.name}"
