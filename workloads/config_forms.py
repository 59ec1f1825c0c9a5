"""Forms of the Secrets, ConfigMaps and YAML editor pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from console.forms import BootstrapMixin

from .configs import DOCKER, OPAQUE, TLS

NEW_ROWS = 3  # empty key/value rows offered for new keys


def key_values(data, prefix=""):
    """{key: value} from the repeated `<prefix>key` / `<prefix>value` inputs (rows with neither
    are skipped), and the errors: a value without a key, a key given twice."""
    values, errors = {}, []
    for key, value in zip(data.getlist(prefix + "key"), data.getlist(prefix + "value"), strict=False):
        key = key.strip()
        if not key and not value:
            continue
        if not key:
            errors.append(_("A value has no key."))
        elif key in values:
            errors.append(_("Key %(key)s is given twice.") % {"key": key[:60]})
        else:
            values[key] = value
    return values, errors


class KeyValueRowsMixin:
    """The page's repeated key/value rows, read with the form: `key_values`; their problems
    are the form's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_values = {}

    def clean(self):
        data = super().clean()
        self.key_values, errors = key_values(self.data)
        for error in errors:
            self.add_error(None, error)
        return data


class SecretForm(KeyValueRowsMixin, BootstrapMixin, forms.Form):
    TYPES = (
        (OPAQUE, _("Generic (keys and values)")),
        (TLS, _("TLS certificate and key")),
        (DOCKER, _("Registry credentials")),
    )

    name = forms.CharField(label=_("Name"), max_length=253)
    type = forms.ChoiceField(label=_("Type"), choices=TYPES, initial=OPAQUE)
    tls_cert = forms.CharField(
        label=_("Certificate (PEM)"), required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})
    )
    tls_key = forms.CharField(
        label=_("Private key (PEM)"), required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})
    )
    registry_server = forms.CharField(
        label=_("Registry"), required=False, max_length=253, help_text=_("e.g. registry.example.com")
    )
    registry_username = forms.CharField(label=_("User name"), required=False, max_length=253)
    registry_password = forms.CharField(
        label=_("Password"), required=False, max_length=4096, widget=forms.PasswordInput
    )
    registry_email = forms.CharField(label=_("E-mail"), required=False, max_length=253)

    def registry(self):
        data = self.cleaned_data
        return {
            "server": data["registry_server"],
            "username": data["registry_username"],
            "password": data["registry_password"],
            "email": data["registry_email"],
        }

    def arguments(self):
        """create_secret's keyword arguments."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "secret_type": data["type"],
            "data": self.key_values,
            "tls_cert": data["tls_cert"],
            "tls_key": data["tls_key"],
            "registry": self.registry(),
        }


class ConfigMapForm(KeyValueRowsMixin, BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=253)

    def arguments(self):
        """create_configmap's keyword arguments."""
        return {"name": self.cleaned_data["name"], "data": self.key_values}


class YamlForm(forms.Form):
    text = forms.CharField(required=False, widget=forms.Textarea)
    resource_version = forms.CharField(required=False, max_length=64)
    action = forms.ChoiceField(choices=(("preview", "preview"), ("save", "save")), required=False)
