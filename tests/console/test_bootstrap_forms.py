"""console.forms.BootstrapMixin gives each widget kind its Bootstrap class, and the forms that
used to set those classes by hand render the same classes through it."""

from types import SimpleNamespace

import pytest
from django import forms

from console.forms import BootstrapMixin, ClusterForm
from console.notification_channels.forms import ChannelForm
from tenants.forms import ProjectQuotaForm
from workloads.forms import ScheduleForm, SpecForm
from workloads.stacks import forms as stack_forms
from workloads.storage import forms as storage_forms

from ..factories import mk_user


class Every(BootstrapMixin, forms.Form):
    text = forms.CharField()
    area = forms.CharField(widget=forms.Textarea)
    choice = forms.ChoiceField(choices=[("a", "a")])
    many = forms.MultipleChoiceField(choices=[("a", "a")])
    box = forms.BooleanField()
    boxes = forms.MultipleChoiceField(choices=[("a", "a")], widget=forms.CheckboxSelectMultiple)
    radio = forms.ChoiceField(choices=[("a", "a")], widget=forms.RadioSelect)
    hidden = forms.CharField(widget=forms.HiddenInput)
    own = forms.CharField(widget=forms.TextInput(attrs={"class": "font-monospace"}))


def classes(form):
    return {name: field.widget.attrs.get("class") for name, field in form.fields.items()}


def test_each_widget_kind_gets_its_class_and_a_class_set_by_hand_wins():
    assert classes(Every()) == {
        "text": "form-control form-control-sm",
        "area": "form-control form-control-sm",
        "choice": "form-select",
        "many": "form-select",
        "box": "form-check-input",
        "boxes": "form-check-input",
        "radio": "form-check-input",
        "hidden": None,
        "own": "font-monospace",
    }
    html = str(Every()["box"])
    assert 'class="form-check-input"' in html and "form-control" not in html


def test_forms_choose_full_size_controls_or_small_selects_and_style_fields_added_later():
    class Sized(Every):
        control_class, select_class = "form-control", "form-select form-select-sm"

    form = Sized()
    assert classes(form)["text"] == "form-control" and classes(form)["choice"] == "form-select form-select-sm"
    assert classes(form)["box"] == "form-check-input"
    late = form.bootstrap(forms.CharField())
    assert late.widget.attrs["class"] == "form-control"
    assert classes(Every())["text"] == "form-control form-control-sm"  # the subclass changed nothing of its base


@pytest.mark.django_db
def test_forms_moved_to_the_mixin_keep_the_classes_they_set_by_hand():
    operator = mk_user("op-forms", "operator", password=None)
    full, small, select, small_select, box = (
        "form-control",
        "form-control form-control-sm",
        "form-select",
        "form-select form-select-sm",
        "form-check-input",
    )
    expected = {
        stack_forms.TemplateForm(user=operator): {"name": full, "owner": select, "description": full, "note": full},
        stack_forms.CopyForm(user=operator): {"name": small, "owner": small_select},
        stack_forms.ConfirmNameForm(): {"confirm_name": small},
        stack_forms.StackForm(user=operator): {"project": select, "stack_name": full, "compare_with": select},
        stack_forms.ExtractForm(user=operator): {"project": select, "app": full, "name": full, "objects": None},
        stack_forms.PriceForm(): {"currency": full, "cpu_core_month": full},
        storage_forms.VolumeForm(): {"name": full, "size": full},
        storage_forms.ResizeForm(): {"size": small},
        storage_forms.VolumeDeleteForm(): {"confirm_name": small, "with_backups": box},
        storage_forms.RestoreForm(): {"name": small},
        storage_forms.BackupPolicyForm(): {"weekday": small_select, "at": small, "keep_daily": small},
        SpecForm(): {"image": small, "mount_0_source": small_select, "mount_0_path": small},
        ScheduleForm(): {"weekdays": box, "replicas": small},
        ClusterForm(): {"add_anyway": box, "name": small},
        ChannelForm(user=operator): {"enabled": box, "all_tenants": box, "topics": "list-unstyled mb-0"},
        ProjectQuotaForm(project=SimpleNamespace(quota={}, limit_range={})): {
            "quota_cpu": small,
            "lr_limit_cpu": small,
        },
    }
    for form, fields in expected.items():
        got = classes(form)
        assert {name: got[name] for name in fields} == fields, type(form).__name__
    # kept beside the class: the price step, the time input's type, the quota placeholder
    assert stack_forms.PriceForm().fields["cpu_core_month"].widget.attrs["step"] == "any"
    assert storage_forms.BackupPolicyForm().fields["at"].widget.input_type == "time"


def test_template_parameters_render_small_controls_by_type():
    params = [
        {"name": "title", "type": "string"},
        {"name": "debug", "type": "bool"},
        {"name": "size", "type": "enum", "choices": ["s", "m"], "default": "s"},
    ]
    version = SimpleNamespace(parameters=params, template=SimpleNamespace(recommended=False))
    form = stack_forms.parameter_form(version)
    assert classes(form) == {
        "title": "form-control form-control-sm",
        "debug": "form-check-input",
        "size": "form-select form-select-sm",
    }
    assert form.fields["title"].widget.attrs["data-type"] == "string"
