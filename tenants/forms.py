from zoneinfo import available_timezones

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _

from console.clusters.models import Cluster
from console.forms import BootstrapMixin

from .choices import QUOTA_RESOURCES, PathKind, PodSecurityLevel, TenantRole

LIMIT_RANGE_FIELDS = {
    "request_cpu": _("Default CPU request"),
    "limit_cpu": _("Default CPU limit"),
    "request_memory": _("Default memory request"),
    "limit_memory": _("Default memory limit"),
}
QUANTITY_HELP = _("Kubernetes quantities: 500m or 2 for CPU, 512Mi or 4Gi for memory and storage. Empty: no limit.")


def quantity_field(label, initial):
    widget = forms.TextInput(attrs={"placeholder": "—"})
    return forms.CharField(label=label, required=False, max_length=32, initial=initial, widget=widget)


class QuotaFieldsMixin:
    """quota_<resource> fields and limit_range fields, read back as two dicts (beside BootstrapMixin)."""

    def add_quota_fields(self, prefix, initial):
        for resource, (label, _keys) in QUOTA_RESOURCES.items():
            self.fields[f"{prefix}{resource}"] = self.bootstrap(quantity_field(label, initial.get(resource, "")))

    def add_limit_range_fields(self, prefix, initial):
        for key, label in LIMIT_RANGE_FIELDS.items():
            self.fields[f"{prefix}{key}"] = self.bootstrap(quantity_field(label, initial.get(key, "")))

    def amounts(self, prefix, keys):
        values = {key: (self.cleaned_data.get(f"{prefix}{key}") or "").strip() for key in keys}
        return {key: value for key, value in values.items() if value}

    @property
    def quota(self):
        return self.amounts("quota_", QUOTA_RESOURCES)

    @property
    def limit_range(self):
        return self.amounts("lr_", LIMIT_RANGE_FIELDS)


class TenantForm(QuotaFieldsMixin, BootstrapMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=30,
        help_text=_("Lower-case letters, digits and '-'; prefixes the tenant's namespaces."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)
    contact = forms.CharField(label=_("Contact"), max_length=200, required=False)
    clusters = forms.ModelMultipleChoiceField(
        label=_("Clusters"),
        queryset=Cluster.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), initial="Asia/Shanghai")
    max_namespaces = forms.IntegerField(label=_("Namespaces"), required=False, min_value=0, max_value=10_000)
    pod_security = forms.ChoiceField(
        label=_("Pod Security level"),
        choices=PodSecurityLevel.choices,
        initial=PodSecurityLevel.RESTRICTED,
        help_text=_(
            "What the tenant's pods may do on the nodes (Kubernetes Pod Security Standards). "
            "Changing it provisions the tenant's namespaces again."
        ),
    )

    def __init__(self, *args, tenant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["time_zone"].choices = [(z, z) for z in sorted(available_timezones())]
        self.add_quota_fields("limit_", tenant.limits if tenant else {})
        self.add_quota_fields("quota_", tenant.default_quota if tenant else {})
        self.add_limit_range_fields("lr_", tenant.default_limit_range if tenant else {})
        if tenant is not None:
            self.fields["name"].disabled = True

    @property
    def limits(self):
        return self.amounts("limit_", QUOTA_RESOURCES)

    def arguments(self):
        """update_tenant's keyword arguments; create_tenant's with the name."""
        data = self.cleaned_data
        keys = ("display_name", "contact", "clusters", "max_namespaces", "time_zone", "pod_security")
        settings = {key: data[key] for key in keys}
        settings.update(limits=self.limits, default_quota=self.quota, default_limit_range=self.limit_range)
        return settings if self.tenant else {"name": data["name"], **settings}


class MemberForm(BootstrapMixin, forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=TenantRole.choices, initial=TenantRole.MEMBER)


class NewAccountForm(BootstrapMixin, forms.Form):
    """The password someone new chooses when their invitation link makes their account."""

    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, username, **kwargs):
        super().__init__(*args, **kwargs)
        self.username = username

    def clean(self):
        data = super().clean()
        password = data.get("password1")
        if password and password != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            try:
                password_validation.validate_password(password, get_user_model()(username=self.username))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data

    def arguments(self):
        return {"password": self.cleaned_data["password1"]}


class ProjectForm(QuotaFieldsMixin, BootstrapMixin, forms.Form):
    cluster = forms.ModelChoiceField(label=_("Cluster"), queryset=Cluster.objects.none(), empty_label=None)
    short_name = forms.CharField(label=_("Name"), max_length=62, help_text=_("The namespace is named <tenant>-<name>."))
    display_name = forms.CharField(label=_("Display name"), max_length=100, required=False)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = tenant.clusters.all()
        self.add_quota_fields("quota_", tenant.default_quota)
        self.add_limit_range_fields("lr_", tenant.default_limit_range)

    def arguments(self):
        """create_project's keyword arguments."""
        data = self.cleaned_data
        return {
            "cluster": data["cluster"],
            "short_name": data["short_name"],
            "display_name": data["display_name"],
            "quota": self.quota,
            "limit_range": self.limit_range,
        }


class ProjectQuotaForm(QuotaFieldsMixin, BootstrapMixin, forms.Form):
    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_quota_fields("quota_", project.quota)
        self.add_limit_range_fields("lr_", project.limit_range)

    def arguments(self):
        """update_project's keyword arguments."""
        return {"quota": self.quota, "limit_range": self.limit_range}


class PathForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Path"), choices=PathKind.choices)
    peer_namespace = forms.CharField(label=_("From namespace"), max_length=63, required=False)
    cidr = forms.CharField(label=_("To CIDR"), max_length=64, required=False)
    port = forms.IntegerField(label=_("TCP port"), required=False, help_text=_("Empty: all ports."))
