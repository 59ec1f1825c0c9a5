from django import forms
from django.utils.translation import gettext_lazy as _

from console.accounts import roles
from console.clusters.models import Cluster
from console.forms import BootstrapMixin
from console.notifications.models import Channel
from monitoring.metrics import query
from tenants.models import Tenant

from . import services
from .choices import Comparison, RuleKind, Severity


class ChannelChoiceField(forms.ModelMultipleChoiceField):
    """Channels shown as "owner / name": two tenants may each have a channel "oncall"."""

    def label_from_instance(self, obj):
        return f"{obj.tenant_name or obj.tenant_id} / {obj.name}" if obj.tenant_id else f"{_('platform')} / {obj.name}"


class RuleForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    kind = forms.ChoiceField(label=_("watches"), choices=RuleKind.choices)
    severity = forms.ChoiceField(label=_("severity"), choices=Severity.choices, initial=Severity.WARNING)
    tenant = forms.ModelChoiceField(
        label=_("tenant"), queryset=Tenant.objects.none(), required=False, to_field_name="name"
    )
    cluster = forms.ModelChoiceField(
        label=_("cluster"), queryset=Cluster.objects.none(), required=False, to_field_name="name"
    )
    namespace = forms.SlugField(label=_("namespace"), max_length=63, required=False)
    app = forms.SlugField(label=_("app"), max_length=63, required=False)
    metric = forms.CharField(
        label=_("metric"),
        max_length=100,
        required=False,
        help_text=_("For a metric threshold, e.g. pod_memory_usage_bytes."),
        widget=forms.TextInput(attrs={"list": "metric-names"}),
    )
    comparison = forms.ChoiceField(label=_("when it is"), choices=Comparison.choices, initial=Comparison.ABOVE)
    threshold = forms.FloatField(label=_("threshold"), required=False)
    percent_of_limit = forms.BooleanField(
        label=_("the threshold is a percentage of the limit or capacity"),
        required=False,
    )
    for_seconds = forms.IntegerField(
        label=_("for (seconds)"),
        min_value=0,
        max_value=services.MAX_FOR_SECONDS,
        initial=300,
        help_text=_("How long the condition must last before the alert fires."),
    )
    channels = ChannelChoiceField(
        label=_("channels"),
        queryset=Channel.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "list-unstyled mb-0"}),
        help_text=_(
            "Where its notifications go besides the notification list. None chosen: the channels that take "
            "alerts of its level. A tenant's rule names its tenant's channels (operators: the platform's too)."
        ),
        error_messages={"invalid_choice": _("Choose channels of your own tenant: %(value)s is not one of them.")},
    )
    enabled = forms.BooleanField(label=_("enabled"), required=False, initial=True)

    def __init__(self, data=None, files=None, *, user=None, rule=None):
        initial = {}
        if rule is not None:
            initial = {
                "name": rule.name,
                "kind": rule.kind,
                "severity": rule.severity,
                "tenant": rule.tenant,
                "cluster": rule.cluster,
                "namespace": rule.namespace,
                "app": rule.app,
                "metric": rule.metric,
                "comparison": rule.comparison,
                "threshold": rule.threshold,
                "percent_of_limit": rule.percent_of_limit,
                "for_seconds": rule.for_seconds,
                "enabled": rule.enabled,
                "channels": list(rule.channels.all()),
            }
        super().__init__(data, files, initial=initial)
        if roles.is_operator(user):
            self.fields["tenant"].queryset = Tenant.objects.order_by("name")
            self.fields["cluster"].queryset = Cluster.objects.order_by("name")
        else:
            tenants = Tenant.objects.filter(pk__in=services.admin_tenant_ids(user)).order_by("name")
            self.fields["tenant"].queryset = tenants
            self.fields["tenant"].required = True
            self.fields["cluster"].queryset = (
                Cluster.objects.filter(projects__tenant__in=tenants).distinct().order_by("name")
            )
            self.fields["kind"].choices = [
                c for c in RuleKind.choices if c[0] not in ("node_not_ready", "component_unhealthy")
            ]
        channels = services.usable_channels(user)
        if rule is not None:  # what the rule names already stays on offer (an operator may have chosen it)
            channels = channels | Channel.objects.filter(pk__in=rule.channels.values("pk"))
        self.fields["channels"].queryset = channels.distinct().order_by("tenant_name", "name")
        self.metric_names = sorted(query.METRICS)

    def arguments(self):
        data = self.cleaned_data
        names = (
            "name",
            "kind",
            "severity",
            "tenant",
            "cluster",
            "namespace",
            "app",
            "metric",
            "comparison",
            "threshold",
        )
        values = {name: data.get(name) for name in names}
        values["channels"] = list(data.get("channels") or [])
        values.update(
            percent_of_limit=data.get("percent_of_limit", False),
            for_seconds=data.get("for_seconds"),
            enabled=data.get("enabled", False),
        )
        return values


class SilenceForm(BootstrapMixin, forms.Form):
    minutes = forms.IntegerField(label=_("minutes"), min_value=0, max_value=services.MAX_SILENCE_MINUTES, initial=60)
