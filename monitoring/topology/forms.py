import ipaddress

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

PROTOCOLS = [("TCP", "TCP"), ("UDP", "UDP"), ("SCTP", "SCTP")]
ENDPOINT_HELP = _("A workload or pod (Deployment/namespace/name), a whole namespace (its name), or an IP address.")


def parse_endpoint(text):
    """("ip", address) | ("namespace", name) | ("object", kind, namespace, name); ValidationError otherwise."""
    text = (text or "").strip()
    try:
        return ("ip", str(ipaddress.ip_address(text)))
    except ValueError:
        pass
    parts = text.split("/")
    if len(parts) == 1 and _dns_label(parts[0]):
        return ("namespace", parts[0])
    if len(parts) == 3 and parts[0] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"):
        if _dns_label(parts[1]) and parts[2] and len(parts[2]) <= 253:
            return ("object", parts[0], parts[1], parts[2])
    raise ValidationError(
        _("%(text)s is not a workload (Deployment/namespace/name), a namespace or an IP address."),
        params={"text": repr(text[:100])},
    )


def _dns_label(text):
    return 0 < len(text) <= 63 and all(c.isalnum() and c.islower() or c.isdigit() or c == "-" for c in text)


PICK = forms.TextInput(attrs={"list": "reach-choices", "autocomplete": "off"})  # the page's datalist, if any


class ReachForm(forms.Form):
    source = forms.CharField(label=_("From"), max_length=400, help_text=ENDPOINT_HELP, widget=PICK)
    target = forms.CharField(label=_("To"), max_length=400, help_text=ENDPOINT_HELP, widget=PICK)
    port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535)
    protocol = forms.ChoiceField(label=_("Protocol"), choices=PROTOCOLS, initial="TCP")

    def clean_source(self):
        return parse_endpoint(self.cleaned_data["source"])

    def clean_target(self):
        return parse_endpoint(self.cleaned_data["target"])

    def clean(self):
        data = super().clean()
        if data.get("source") and data.get("target") and data["source"][0] == data["target"][0] == "ip":
            raise ValidationError(_("At least one side must be inside the cluster."))
        return data
