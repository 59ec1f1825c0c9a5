from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from console.choices import NotificationLevel, OperationResult


class BootstrapMixin:
    """Give widgets Bootstrap's classes so templates can render fields plainly. A class set
    on a widget wins. Forms with full-size inputs or small selects set the two class names."""

    control_class = "form-control form-control-sm"
    select_class = "form-select"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            self.bootstrap(field)

    def bootstrap(self, field):
        """Style one field; also for fields a form adds after __init__."""
        widget = field.widget
        if widget.is_hidden:
            return field
        if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):  # RadioSelect: also CheckboxSelectMultiple
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = self.select_class
        else:
            css = self.control_class
        widget.attrs.setdefault("class", css)
        return field


class ConfirmForm(forms.Form):
    """The name typed to confirm a deletion; the service judges it (a value that does not
    parse counts as none)."""

    confirm_name = forms.CharField(required=False)


DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class IsoDateTimeInput(forms.DateTimeInput):
    """2026-01-31 08:00 in every language. A datetime-local input shows the browser's own
    locale (mm/dd/yyyy on an English system, even on the Chinese page)."""

    def __init__(self):
        super().__init__(
            format="%Y-%m-%d %H:%M",
            attrs={
                "placeholder": "2026-01-31 08:00",
                "pattern": r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?",
                "autocomplete": "off",
            },
        )


class LoginForm(BootstrapMixin, AuthenticationForm):
    error_messages = {
        "invalid_login": _("Wrong username or password."),
        "inactive": _("This account is disabled."),
    }


class ConsolePasswordChangeForm(BootstrapMixin, PasswordChangeForm):
    def clean_new_password1(self):
        # "Changing" a one-time password to itself would keep it working.
        password = self.cleaned_data.get("new_password1")
        if password and password == self.cleaned_data.get("old_password"):
            raise forms.ValidationError(_("Choose a new password, not the current one."))
        return password


class OperationLogFilterForm(BootstrapMixin, forms.Form):
    """The auditor's filters; the same form drives the page and the CSV export."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    tenant = forms.CharField(label=_("Tenant"), required=False, max_length=100)
    action = forms.CharField(label=_("Action"), required=False, max_length=100)
    target = forms.CharField(label=_("Target"), required=False, max_length=253)
    result = forms.ChoiceField(label=_("Result"), required=False, choices=[("", _("Any"))] + OperationResult.choices)
    since = forms.DateTimeField(
        label=_("From"), required=False, input_formats=DATETIME_INPUT_FORMATS, widget=IsoDateTimeInput()
    )
    until = forms.DateTimeField(
        label=_("To"), required=False, input_formats=DATETIME_INPUT_FORMATS, widget=IsoDateTimeInput()
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000_000, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("'From' must be before 'To'."))
        return data


class NoticeForm(BootstrapMixin, forms.Form):
    audience = forms.ChoiceField(
        label=_("Send to"),
        choices=[("all", _("Everybody")), ("operator", _("Operators")), ("auditor", _("Auditors"))],
    )
    level = forms.ChoiceField(label=_("Level"), choices=NotificationLevel.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Message"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ClusterForm(BootstrapMixin, forms.Form):
    name = forms.SlugField(label=_("Name"), max_length=63, help_text=_("Lower-case letters, digits and hyphens."))
    region = forms.CharField(label=_("Region"), max_length=63, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    kubeconfig = forms.CharField(
        label=_("Kubeconfig (paste)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_(
            "Inline credentials only: token or client-certificate-data and client-key-data, "
            "with certificate-authority-data and an https:// server. "
            "Exec plugins, auth providers, file paths and proxy-url are refused."
        ),
    )
    kubeconfig_file = forms.FileField(label=_("or upload a kubeconfig file"), required=False)
    context = forms.CharField(
        label=_("Context"), max_length=253, required=False, help_text=_("Empty: the kubeconfig's current context.")
    )
    add_anyway = forms.BooleanField(
        label=_("Add anyway (read-only use)"),
        required=False,
        help_text=_(
            "When the kubeconfig's identity lacks permissions the console needs: "
            "add the cluster all the same, to look at it; tenant namespaces and apps are then refused on it."
        ),
    )

    def clean(self):
        data = super().clean()
        upload = data.get("kubeconfig_file")
        if upload is not None:
            if upload.size > 256 * 1024:
                raise forms.ValidationError(_("The kubeconfig file is larger than 256 KiB."))
            try:
                data["kubeconfig"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The kubeconfig file is not UTF-8 text.")) from None
        if not data.get("kubeconfig", "").strip():
            raise forms.ValidationError(_("Paste a kubeconfig or upload one."))
        return data

    def arguments(self):
        """register_cluster's keyword arguments."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kubeconfig_text": data["kubeconfig"],
            **{key: data[key] for key in ("context", "region", "description", "add_anyway")},
        }


class ResourceFilterForm(BootstrapMixin, forms.Form):
    namespace = forms.RegexField(
        label=_("Namespace"),
        required=False,
        max_length=63,
        regex=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        error_messages={"invalid": _("A namespace name is lower-case letters, digits and hyphens.")},
    )
    labels = forms.CharField(label=_("Label selector"), required=False, max_length=500)
    name = forms.CharField(label=_("Name contains"), required=False, max_length=253)
    status = forms.CharField(label=_("Status"), required=False, max_length=32)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("name", _("Name")),
            ("-name", _("Name, descending")),
            ("namespace", _("Namespace")),
            ("age", _("Newest")),
            ("-age", _("Oldest")),
            ("status", _("Status")),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000, widget=forms.HiddenInput)

    def clean_labels(self):
        from console.clusters.selectors import SelectorError, parse

        value = self.cleaned_data["labels"]
        try:
            parse(value)
        except SelectorError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value
