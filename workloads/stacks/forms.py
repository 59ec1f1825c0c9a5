from django import forms
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from console.accounts import roles
from console.clusters.models import Cluster
from console.forms import BootstrapMixin
from tenants import access
from tenants.models import Project, Tenant

from .choices import ParamType
from .render import parameters_of

TEXTAREA = {"class": "form-control font-monospace small", "spellcheck": "false"}
SMALL_SELECT = "form-select form-select-sm"


def operable_projects(user):
    return [
        p
        for p in access.visible_projects(user).select_related("tenant", "cluster").order_by("tenant__name", "name")
        if access.may_operate(user, p.tenant)
    ]


class ProjectChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.cluster.name})"


class VersionForm(BootstrapMixin, forms.Form):
    control_class = "form-control"

    manifests = forms.CharField(
        label=_("Manifests (YAML, documents separated by ---; ${parameter} where a value goes)"),
        widget=forms.Textarea(attrs={**TEXTAREA, "rows": 22}),
        required=False,
    )
    parameters = forms.CharField(
        label=_("Parameters (YAML list: name, type, default, required, description, pattern, min, max, choices)"),
        widget=forms.Textarea(attrs={**TEXTAREA, "rows": 10}),
        required=False,
    )
    outputs = forms.CharField(
        label=_("Outputs (YAML list of name and value)"),
        widget=forms.Textarea(attrs={**TEXTAREA, "rows": 3}),
        required=False,
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class TemplateForm(VersionForm):
    name = forms.CharField(label=_("Name"), max_length=63)
    owner = forms.ChoiceField(label=_("Owner"))
    description = forms.CharField(label=_("Description"), required=False, max_length=2000)
    field_order = ["name", "owner", "description", "manifests", "parameters", "outputs", "note"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        choices = [
            (t.name, t.display_name or t.name) for t in access.visible_tenants(user) if access.may_operate(user, t)
        ]
        if roles.is_operator(user):
            choices.insert(0, ("", _("Published to every tenant")))
        self.fields["owner"].choices = choices

    def arguments(self):
        data = self.cleaned_data
        owner = data.get("owner") or ""
        tenant = Tenant.objects.filter(name=owner).first() if owner else None
        return {
            "tenant": tenant,
            "name": data.get("name", ""),
            "description": data.get("description", ""),
            "manifests": data.get("manifests", ""),
            "parameters": data.get("parameters", ""),
            "outputs": data.get("outputs", ""),
            "note": data.get("note", ""),
        }


class CopyForm(BootstrapMixin, forms.Form):
    select_class = SMALL_SELECT

    name = forms.CharField(label=_("Name of the copy"), max_length=63)
    owner = forms.ChoiceField(label=_("Owner"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            (t.name, t.display_name or t.name) for t in access.visible_tenants(user) if access.may_operate(user, t)
        ]
        if roles.is_operator(user):
            choices.insert(0, ("", _("Published to every tenant")))
        self.fields["owner"].choices = choices

    def arguments(self):
        owner = self.cleaned_data.get("owner") or ""
        return {
            "name": self.cleaned_data.get("name", ""),
            "tenant": Tenant.objects.filter(name=owner).first() if owner else None,
        }


class ConfirmNameForm(BootstrapMixin, forms.Form):
    confirm_name = forms.CharField(label=_("Type the name to confirm"), required=False)


class StackForm(BootstrapMixin, forms.Form):
    control_class = "form-control"

    project = ProjectChoice(label=_("Namespace (cluster)"), queryset=Project.objects.none())
    stack_name = forms.CharField(label=_("Stack name"), max_length=40)
    compare_with = forms.ModelChoiceField(
        label=_("Compare the cost with cluster"), queryset=Cluster.objects.all(), required=False
    )

    def __init__(self, *args, user=None, template=None, **kwargs):
        super().__init__(*args, **kwargs)
        projects = [
            p.pk for p in operable_projects(user) if template is None or template.tenant_id in (None, p.tenant_id)
        ]
        self.fields["project"].queryset = (
            Project.objects.filter(pk__in=projects).select_related("cluster").order_by("name")
        )


class ParameterForm(BootstrapMixin, forms.Form):
    select_class = SMALL_SELECT


def parameter_form(version, data=None, initial=None):
    """A form with one field per parameter of the version (validated by the service)."""
    form = ParameterForm(data, prefix="p", initial=initial)
    for p in parameters_of(version):
        if p.type == ParamType.BOOL:
            field = forms.BooleanField(required=False)
        elif p.type == ParamType.ENUM:
            field = forms.ChoiceField(choices=[(c, c) for c in p.choices])
        else:
            field = forms.CharField(
                required=False, max_length=1000, widget=forms.TextInput(attrs={"data-type": p.type})
            )
        form.bootstrap(field)
        field.label = p.name
        kind = ParamType(p.type).label
        field.help_text = escape(f"{p.description} ({kind})" if p.description else str(kind).capitalize())
        field.initial = p.default
        form.fields[p.name] = field
    return form


def parameter_values(form):
    """The raw values (the service checks them by type)."""
    values = {}
    for name, field in form.fields.items():
        raw = form[name].value()
        values[name] = bool(raw) if isinstance(field, forms.BooleanField) else (raw or "")
    return values


class ReplicateForm(BootstrapMixin, forms.Form):
    select_class = SMALL_SELECT

    project = ProjectChoice(label=_("Namespace (cluster)"), queryset=Project.objects.none())

    def __init__(self, *args, user=None, stack=None, **kwargs):
        super().__init__(*args, **kwargs)
        projects = [
            p.pk for p in operable_projects(user) if p.tenant_id == stack.project.tenant_id and p != stack.project
        ]
        self.fields["project"].queryset = (
            Project.objects.filter(pk__in=projects).select_related("cluster").order_by("cluster__name", "name")
        )

    with_data = forms.BooleanField(
        label=_("With its volumes' data, each restored from its latest backup"), required=False
    )

    def arguments(self):
        return {"target": self.cleaned_data.get("project"), "with_data": self.cleaned_data.get("with_data", False)}


class ExtractForm(BootstrapMixin, forms.Form):
    control_class = "form-control"

    project = ProjectChoice(label=_("Namespace (cluster)"), queryset=Project.objects.none())
    app = forms.CharField(label=_("App (empty: the whole namespace)"), required=False, max_length=63)
    name = forms.CharField(label=_("Template name"), max_length=63)
    # the topology page's selection: "Kind/namespace/name,..." (node ids)
    objects = forms.CharField(required=False, max_length=20000, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(
            pk__in=[p.pk for p in operable_projects(user)]
        ).select_related("cluster")

    def selection(self):
        """The selected objects to show, as "Kind/name" (empty: none came with the form)."""
        text = self["objects"].value() or ""
        return [item.strip() for item in text.split(",") if item.strip()][:200]


def price_field(label):
    """A price per unit and month (0 or more, four decimals)."""
    widget = forms.NumberInput(attrs={"step": "any"})
    return forms.DecimalField(label=label, min_value=0, max_digits=12, decimal_places=4, widget=widget)


class PriceForm(BootstrapMixin, forms.Form):
    control_class = "form-control"

    currency = forms.CharField(label=_("Currency"), max_length=8, initial="USD")
    cpu_core_month = price_field(_("Per CPU core and month"))
    memory_gib_month = price_field(_("Per GiB of memory and month"))
    storage_gib_month = price_field(_("Per GiB of storage and month"))
    load_balancer_month = price_field(_("Per load balancer and month"))
