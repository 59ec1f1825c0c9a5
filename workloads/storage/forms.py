from django import forms
from django.utils.translation import gettext_lazy as _

from console.forms import BootstrapMixin

from .choices import Weekday


class VolumeForm(BootstrapMixin, forms.Form):
    control_class = "form-control"

    name = forms.CharField(label=_("Name"), max_length=63)
    size = forms.CharField(
        label=_("Size"),
        max_length=20,
        initial="1Gi",
        help_text=_("e.g. 512Mi, 10Gi; checked against the namespace's storage quota"),
    )


class ResizeForm(BootstrapMixin, forms.Form):
    size = forms.CharField(label=_("New size"), max_length=20)


class VolumeDeleteForm(BootstrapMixin, forms.Form):
    confirm_name = forms.CharField(label=_("Type the volume's name to confirm"), max_length=63, required=False)
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


class RestoreForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("New volume"), max_length=63)


WEEKDAYS = [("", _("Every day")), *((str(value), label) for value, label in Weekday.choices)]


class BackupPolicyForm(BootstrapMixin, forms.Form):
    select_class = "form-select form-select-sm"

    weekday = forms.TypedChoiceField(label=_("When"), choices=WEEKDAYS, coerce=int, empty_value=None, required=False)
    at = forms.TimeField(
        label=_("At"), input_formats=["%H:%M"], widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"})
    )
    keep_daily = forms.IntegerField(label=_("Daily backups kept"), min_value=0, max_value=366, initial=7)
    keep_weekly = forms.IntegerField(label=_("Weekly backups kept"), min_value=0, max_value=260, initial=4)

    def arguments(self):
        data = self.cleaned_data
        return {
            "at": data.get("at"),
            "weekday": data.get("weekday"),
            "keep_daily": data.get("keep_daily"),
            "keep_weekly": data.get("keep_weekly"),
        }
