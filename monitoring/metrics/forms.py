from django import forms
from django.utils.translation import gettext_lazy as _

from console.forms import BootstrapMixin


class PrometheusForm(BootstrapMixin, forms.Form):
    url = forms.CharField(
        label=_("Prometheus URL"),
        max_length=500,
        required=False,
        help_text=_("The HTTP API of the cluster's Prometheus, e.g. http://prometheus.monitoring:9090. Empty: none."),
    )

    def arguments(self):
        return {"url": self.cleaned_data["url"].strip()}
