from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from console.forms import BootstrapMixin
from workloads.models import App

from .choices import Concurrency, Strategy


class PipelineForm(BootstrapMixin, forms.Form):
    name = forms.SlugField(label=_("Name"), max_length=40)
    app = forms.ChoiceField(label=_("App it deploys"))
    repository_url = forms.CharField(
        label=_("Repository URL"), max_length=500, help_text=_("e.g. https://git.example.com/acme/web.git")
    )
    branch = forms.CharField(label=_("Branch"), max_length=200, initial="main")
    dockerfile = forms.CharField(label=_("Dockerfile path"), max_length=300, initial="Dockerfile")
    context = forms.CharField(label=_("Build context"), max_length=300, initial=".")
    image_repository = forms.CharField(
        label=_("Image repository"), max_length=300, help_text=_("Without a tag: the commit id becomes the tag.")
    )
    registry_username = forms.CharField(label=_("Registry user"), max_length=200, required=False)
    registry_password = forms.CharField(
        label=_("Registry password or token"),
        max_length=2000,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted; never shown again. Empty keeps the stored one."),
    )
    test_command = forms.CharField(
        label=_("Test command"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Run with sh -c in the built image; empty: no test stage."),
    )
    sonar_url = forms.CharField(label=_("SonarQube server"), max_length=300, required=False)
    sonar_project_key = forms.CharField(label=_("SonarQube project key"), max_length=400, required=False)
    sonar_token = forms.CharField(
        label=_("SonarQube token"), max_length=2000, required=False, widget=forms.PasswordInput(render_value=False)
    )
    strategy = forms.ChoiceField(label=_("Deploy strategy"), choices=Strategy.choices)
    canary_weight = forms.IntegerField(label=_("Canary weight (%)"), min_value=1, max_value=100, initial=20)
    promote_after_minutes = forms.FloatField(
        label=_("Promote after (minutes)"),
        min_value=0.05,
        max_value=1440,
        initial=10,
        help_text=_("Promoted when the canary had no restarts and no alert fired for this long; else aborted."),
    )
    concurrency = forms.ChoiceField(label=_("Later pushes"), choices=Concurrency.choices)
    run_as = forms.ChoiceField(
        label=_("Deploy as"),
        required=False,
        help_text=_(
            "Pushes and scheduled runs deploy as this member, never as whoever the push claims to come "
            "from. Only a tenant admin chooses somebody else."
        ),
    )
    schedule_minutes = forms.IntegerField(
        label=_("Run every (minutes)"), min_value=0, max_value=10080, initial=0, help_text=_("0: no schedule.")
    )

    def __init__(self, data=None, files=None, *, project=None, pipeline=None, **kwargs):
        if pipeline is not None and data is None:
            kwargs["initial"] = {
                **{name: getattr(pipeline, name) for name in self.base_fields if hasattr(pipeline, name)},
                "app": pipeline.app.name,
                "run_as": pipeline.run_as.get_username() if pipeline.run_as else "",
            }
        super().__init__(data, files, **kwargs)
        project = project or (pipeline.project if pipeline else None)
        names = App.objects.filter(project=project).order_by("name").values_list("name", flat=True) if project else []
        self.fields["app"].choices = [(name, name) for name in names]
        members = (
            get_user_model()
            .objects.filter(tenant_memberships__tenant=project.tenant, is_active=True)
            .order_by("username")
            .values_list("username", flat=True)
            if project
            else []
        )
        self.fields["run_as"].choices = [("", _("Whoever made the pipeline")), *((m, m) for m in members)]
        if pipeline is not None:
            del self.fields["name"]

    def arguments(self):
        return dict(self.cleaned_data)


class ImportForm(BootstrapMixin, forms.Form):
    text = forms.CharField(
        label=_("Pipeline YAML"), max_length=64 * 1024, widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"})
    )


class BuildsForm(forms.Form):
    enabled = forms.BooleanField(required=False)
