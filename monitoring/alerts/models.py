from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from console.clusters.models import Cluster
from console.notifications.models import Channel
from console.texts import StoredTextField
from tenants.models import Tenant

from .choices import SEVERITY_COLOUR, AlertState, Comparison, RuleKind, Severity


class AlertRule(models.Model):
    """What to watch, where (scope: a cluster, a tenant, a namespace, an app), and how
    serious it is. A threshold rule watches a metric (monitoring.metrics.query) held beyond
    its threshold for `for_seconds`; the other kinds read the resource mirror and the
    clusters' health, and fire once the state has lasted `for_seconds`."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=RuleKind.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices, default=Severity.WARNING)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules")
    namespace = models.CharField(_("namespace"), max_length=63, blank=True)
    app = models.CharField(_("app"), max_length=63, blank=True)
    metric = models.CharField(_("metric"), max_length=100, blank=True)
    comparison = models.CharField(max_length=1, choices=Comparison.choices, default=Comparison.ABOVE)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    # The threshold is a percentage of the metric's limit or capacity (pod memory > 90% of its limit).
    percent_of_limit = models.BooleanField(_("percent of the limit"), default=False)
    for_seconds = models.PositiveIntegerField(_("for (seconds)"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Where its notifications go besides the in-app list; none named: the channels that take
    # alerts of its level (console.notifications.delivery). A tenant's rule names only that
    # tenant's channels (or the platform's, when an operator chooses them).
    channels = models.ManyToManyField(Channel, blank=True, related_name="+", verbose_name=_("channels"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["enabled", "kind"])]

    def __str__(self):
        return self.name

    @property
    def colour(self):
        return SEVERITY_COLOUR.get(self.severity, "secondary")

    def target(self):
        return {
            "tenant": self.tenant.name if self.tenant_id else "",
            "cluster": self.cluster.name if self.cluster_id else "",
            "namespace": self.namespace,
            "kind": "AlertRule",
            "name": self.name,
        }


class Alert(models.Model):
    """One rule on one target (a pod, an app, a node, a component, a volume): pending while
    the condition has not lasted long enough, firing, then resolved. Resolved alerts are the
    rule's history."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    target = models.CharField(max_length=300)  # "pod/<ns>/<name>", "node/<name>", "component/<check>", ...
    cluster_id = models.BigIntegerField(null=True, blank=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    namespace = models.CharField(max_length=63, blank=True)
    app = models.CharField(max_length=63, blank=True)
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.PENDING)
    value = models.FloatField(null=True, blank=True)
    summary = StoredTextField(_("summary"), blank=True)
    started_at = models.DateTimeField()  # the condition was first seen
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    notified = models.BooleanField(default=False)  # its firing was announced (so its end is too)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "cluster_id", "namespace"]),
            models.Index(fields=["rule", "state"]),
            models.Index(fields=["rule", "-id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "cluster_id", "target"],
                condition=~models.Q(state="resolved"),
                name="one_open_alert_per_rule_target",
            )
        ]

    def __str__(self):
        return f"{self.rule.name}: {self.target}"

    @property
    def colour(self):
        return AlertState.colour(self.state)

    def silenced(self, now):
        return self.silenced_until is not None and self.silenced_until > now
