from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.clusters.models import Cluster
from tenants.models import Tenant

from .ingest import LEVELS

RANGES = (
    ("15m", _("last 15 minutes"), timedelta(minutes=15)),
    ("1h", _("last hour"), timedelta(hours=1)),
    ("6h", _("last 6 hours"), timedelta(hours=6)),
    ("24h", _("last 24 hours"), timedelta(hours=24)),
    ("7d", _("last 7 days"), timedelta(days=7)),
    ("custom", _("from … to …"), None),
)
LEVEL_CHOICES = [(level, level) for level in LEVELS]
SOURCE_CHOICES = [
    ("", _("any source")),
    ("container", _("containers")),
    ("component", _("components")),
    ("event", _("Kubernetes events")),
]
NAME = {"max_length": 253, "required": False}


class LogSearchForm(forms.Form):
    """The search page's query string. Every field is optional; the time range is bounded by
    the retention (a search never reads more than the days it names)."""

    range = forms.ChoiceField(label=_("Time range"), choices=[(k, label) for k, label, _d in RANGES], required=False)
    start = forms.DateTimeField(label=_("From"), required=False)
    end = forms.DateTimeField(label=_("To"), required=False)
    cluster = forms.ModelChoiceField(
        label=_("Cluster"), queryset=Cluster.objects.all(), to_field_name="name", required=False
    )
    tenant = forms.ModelChoiceField(
        label=_("Tenant"), queryset=Tenant.objects.all(), to_field_name="name", required=False
    )
    namespace = forms.CharField(label=_("Namespace"), **NAME)
    app = forms.CharField(label=_("App"), **NAME)
    pod = forms.CharField(label=_("Pod"), **NAME)
    container = forms.CharField(label=_("Container"), **NAME)
    source = forms.ChoiceField(label=_("Source"), choices=SOURCE_CHOICES, required=False)
    level = forms.MultipleChoiceField(
        label=_("Level"), choices=LEVEL_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    q = forms.CharField(label=_("Words"), max_length=500, required=False)
    substring = forms.CharField(label=_("Contains"), max_length=500, required=False)
    cursor = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, clusters, tenants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = clusters
        if tenants is None:
            del self.fields["tenant"]
        else:
            self.fields["tenant"].queryset = tenants
        self.fields["level"].widget.attrs["class"] = "form-check-input"
        for name, field in self.fields.items():
            if name != "level":
                field.widget.attrs.setdefault(
                    "class",
                    "form-select form-select-sm"
                    if isinstance(field, forms.ChoiceField)
                    else "form-control form-control-sm",
                )

    def clean_substring(self):
        text = self.cleaned_data["substring"]
        if text and len(text) < 3:
            raise forms.ValidationError(_("Look for at least 3 characters (or use Words)."))
        return text

    def clean(self):
        data = super().clean()
        now = timezone.now()
        key = data.get("range") or "1h"
        if data.get("start") or data.get("end"):
            key = "custom"
        if key == "custom":
            end = data.get("end") or now
            start = data.get("start") or end - timedelta(hours=1)
        else:
            span = next(span for k, _label, span in RANGES if k == key)
            start, end = now - span, now
        if start >= end:
            raise forms.ValidationError(_("The start of the time range must be before its end."))
        if end - start > timedelta(days=settings.LOGS_RETENTION_DAYS + 1):
            raise forms.ValidationError(
                _("Search at most %(days)s days at once (lines are kept that long).")
                % {"days": settings.LOGS_RETENTION_DAYS}
            )
        data["start"], data["end"], data["range"] = start, end, key
        return data


class SavedSearchForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
