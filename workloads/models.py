from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Project

from .choices import AppKind, AppStatus


class InNamespace:
    """A model in a tenant namespace (its `project`)."""

    @property
    def tenant(self):
        return self.project.tenant

    @property
    def namespace(self):
        return self.project.name


class App(InNamespace, models.Model):
    """An application in a tenant namespace: one Deployment or StatefulSet (named like the
    app), and what exposes it. `spec` is what the console last applied, in the deploy
    form's terms; the cluster stays the truth for what runs (changes made with kubectl
    show up through the resource mirror)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="apps", verbose_name=_("namespace"))
    name = models.CharField(_("name"), max_length=40)
    kind = models.CharField(_("kind"), max_length=16, choices=AppKind.choices, default=AppKind.DEPLOYMENT)
    status = models.CharField(_("status"), max_length=16, choices=AppStatus.choices, default=AppStatus.DEPLOYING)
    spec = models.JSONField(_("specification"), default=dict)
    # {"type": "ClusterIP"|"NodePort", "port": 80, "target_port": 8080, "node_port": 30080}, {} when not exposed
    service = models.JSONField(_("service"), default=dict, blank=True)
    # {"host": "shop.example.com", "path": "/", "tls_secret": ""}, {} when there is no ingress
    ingress = models.JSONField(_("ingress"), default=dict, blank=True)
    # {"min": 2, "max": 10, "cpu": 70, "memory": null} (target utilisation in %), {} without an autoscaler
    autoscaler = models.JSONField(_("autoscaler"), default=dict, blank=True)
    # A canary beside the stable version: {"image", "replicas", "weight", "header", "header_value", "started_by"},
    # {} without one
    canary = models.JSONField(_("canary"), default=dict, blank=True)
    # Replicas the console last saw the autoscaler set: a change is an automatic scaling action.
    observed_replicas = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="app_unique_name")]

    def __str__(self):
        return self.name

    @property
    def cluster(self):
        return self.project.cluster

    @property
    def status_colour(self):
        return AppStatus.colour(self.status)

    @property
    def image(self):
        return self.spec.get("image", "")

    @property
    def group(self):
        """The websocket group its page follows."""
        return f"app-{self.pk}"

    def target(self, **extra):
        """The operation log's target for actions on this app."""
        return {
            "tenant": self.project.tenant.name,
            "cluster": self.project.cluster.name,
            "namespace": self.project.name,
            "kind": self.kind,
            "name": self.name,
            **extra,
        }


WEEKDAYS = ((0, _("Mon")), (1, _("Tue")), (2, _("Wed")), (3, _("Thu")), (4, _("Fri")), (5, _("Sat")), (6, _("Sun")))


class ScaleSchedule(models.Model):
    """Scale the app to `replicas` at `at` (the tenant's local time) on the given weekdays;
    Celery beat runs the due ones (workloads.tasks.run_scale_schedules)."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="schedules")
    at = models.TimeField(_("time"))
    replicas = models.PositiveIntegerField(_("replicas"))
    weekdays = models.JSONField(_("weekdays"), default=list)  # 0 = Monday ... 6 = Sunday
    last_run_on = models.DateField(null=True, blank=True)  # the tenant-local date it last ran
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.app} to {self.replicas} at {self.at}"

    @property
    def weekday_labels(self):
        if sorted(self.weekdays) == list(range(7)):
            return _("every day")
        return ", ".join(str(label) for day, label in WEEKDAYS if day in self.weekdays)
