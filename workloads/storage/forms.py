from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import Weekday


class VolumeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=63, widget=forms.TextInput(attrs={"class": "form-control"}))
    size = forms.CharField(
        label=_("Size"),
        max_length=20,
        initial="1Gi",
        help_text=_("e.g. 512Mi, 10Gi; checked against the namespace's storage quota"),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class ResizeForm(forms.Form):
    size = forms.CharField(
        label=_("New size"), max_length=20, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"})
    )


class VolumeDeleteForm(forms.Form):
    confirm_name = forms.CharField(
        label=_("Type the volume's name to confirm"),
        max_length=63,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    with_backups = forms.BooleanField(label=_("Delete its backups too"), required=False)


class RollbackForm(forms.Form):
    confirm = forms.BooleanField(label=_("Roll back: what was written after the backup is lost"))
    scale_down = forms.BooleanField(
        label=_("Scale the apps that mount it to zero during the rollback, and back after"), required=False
    )

    def arguments(self):
        return {"scale_down": self.cleaned_data.get("scale_down", False)}


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label=_("Confirm"))

    def arguments(self):
        return {}


class RestoreForm(forms.Form):
    name = forms.CharField(
        label=_("New volume"), max_length=63, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"})
    )


WEEKDAYS = [("", _("Every day")), *((str(value), label) for value, label in Weekday.choices)]


class BackupPolicyForm(forms.Form):
    weekday = forms.TypedChoiceField(
        label=_("When"),
        choices=WEEKDAYS,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    at = forms.TimeField(
        label=_("At"),
        input_formats=["%H:%M"],
        widget=forms.TimeInput(format="%H:%M", attrs={"class": "form-control form-control-sm", "type": "time"}),
    )
    keep_daily = forms.IntegerField(
        label=_("Daily backups kept"),
        min_value=0,
        max_value=366,
        initial=7,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )
    keep_weekly = forms.IntegerField(
        label=_("Weekly backups kept"),
        min_value=0,
        max_value=260,
        initial=4,
        widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}),
    )

    def arguments(self):
        data = self.cleaned_data
        return {
            "at": data.get("at"),
            "weekday": data.get("weekday"),
            "keep_daily": data.get("keep_daily"),
            "keep_weekly": data.get("keep_weekly"),
        }
