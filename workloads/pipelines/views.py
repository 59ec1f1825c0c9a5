"""Pipeline pages. Thin: look the namespace, pipeline or run up through tenants.access (404 for
what the user may not see, as for a typo), call a service, render. The webhook endpoint is the
one page without a session: the provider's signature or token is its only credential."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from console.accounts import roles
from console.accounts.access import require
from console.views.generic import ServiceFormView
from console.views.htmx import is_partial
from tenants import access
from workloads.views import operable_project

from . import forms, live, services
from .choices import Provider
from .models import Pipeline, Run

signed_in = require()
SECTION = {"active_section": "pipelines"}
SECRET_KEY = "pipeline-webhook-secret-%s"
RESERVED = ("new", "import", "hooks")


def visible_pipelines(user):
    return Pipeline.objects.filter(project__in=access.visible_projects(user))


def get_pipeline(user, tenant, namespace, name):
    pipelines = Pipeline.objects.select_related("app", "run_as", "created_by")
    return access.get_in_namespace(user, tenant, namespace, pipelines, name)


def get_run(user, tenant, namespace, name, number):
    pipeline = get_pipeline(user, tenant, namespace, name)
    run = Run.objects.filter(pipeline=pipeline, number=number).select_related("requested_by", "rerun_of", "job").first()
    if run is None:
        raise Http404("no such run")
    run.pipeline = pipeline
    return run


def pipeline_url(pipeline):
    return reverse("pipelines:pipeline", args=[pipeline.project.tenant.name, pipeline.namespace, pipeline.name])


def run_url(run):
    pipeline = run.pipeline
    return reverse("pipelines:run", args=[pipeline.project.tenant.name, pipeline.namespace, pipeline.name, run.number])


def webhook_urls(request, pipeline):
    return [
        (label, request.build_absolute_uri(reverse("pipelines:webhook", args=[pipeline.pk, provider])), header)
        for provider, label, header in (
            (Provider.GITLAB, "GitLab", "X-Gitlab-Token"),
            (Provider.GITHUB, "GitHub", "X-Hub-Signature-256"),
            (Provider.GITEA, "Gitea", "X-Gitea-Signature"),
        )
    ]


# --- list, create, import -------------------------------------------------------------


@require_GET
@signed_in
def pipeline_list(request):
    if not access.may_see_all(request.user) and not roles.memberships(request.user):
        raise PermissionDenied(_("You belong to no tenant."))
    pipelines = visible_pipelines(request.user).select_related("project__tenant", "project__cluster", "app")
    latest = {}
    for run in Run.objects.filter(pipeline__in=pipelines).order_by("pipeline_id", "-number").distinct("pipeline_id"):
        latest[run.pipeline_id] = run
    rows = [(pipeline, latest.get(pipeline.pk)) for pipeline in pipelines]
    projects = [
        project
        for project in access.visible_projects(request.user)
        .select_related("tenant", "cluster")
        .order_by("tenant__name", "name")
        if access.may_operate(request.user, project.tenant)
    ]
    return render(request, "pipelines/pipeline_list.html", {**SECTION, "rows": rows, "projects": projects})


class ProjectFormView(ServiceFormView):
    http_method_names = ["get", "post"]
    form_object = "project"

    def get_object(self):
        return operable_project(
            self.request,
            self.kwargs["tenant"],
            self.kwargs["namespace"],
            _("Only the tenant's members and operators make pipelines."),
        )

    def get_context_data(self, **extra):
        return {**SECTION, "project": self.object, "tenant": self.object.tenant, **extra}

    def message_params(self, result):
        return {"name": result[0].name}

    def get_success_url(self, result):
        pipeline, secret = result
        if secret:  # shown once, on the next page, to its maker
            self.request.session[SECRET_KEY % pipeline.pk] = secret
        return pipeline_url(pipeline)


class PipelineAddView(ProjectFormView):
    service = services.create_pipeline
    form_class = forms.PipelineForm
    template_name = "pipelines/pipeline_form.html"
    invalid_message = gettext_lazy("Check the pipeline's settings.")
    success_message = gettext_lazy("Pipeline %(name)s is ready: point the repository's webhook at it.")

    def service_kwargs(self, form):
        values = form.arguments()
        if values.get("name") in RESERVED:
            values["name"] = "-"  # refused by the service's name check, with its message
        return values


class PipelineImportView(ProjectFormView):
    service = services.import_pipeline
    form_class = forms.ImportForm
    form_object = ""
    template_name = "pipelines/pipeline_import.html"
    invalid_message = gettext_lazy("Paste a pipeline's YAML.")
    success_message = gettext_lazy("Pipeline %(name)s is imported.")


pipeline_add = PipelineAddView.as_view()
pipeline_import = PipelineImportView.as_view()


# --- one pipeline -----------------------------------------------------------------------


def pipeline_context(request, pipeline, **extra):
    return {
        **SECTION,
        "pipeline": pipeline,
        "project": pipeline.project,
        "tenant": pipeline.project.tenant,
        "runs": pipeline.runs.select_related("requested_by")[:30],
        "may_change": services.may_change(request.user, pipeline),
        "webhooks": webhook_urls(request, pipeline),
        "build_space": services.build_space(pipeline),
        "may_enable_builds": roles.is_operator(request.user),
        **extra,
    }


@require_GET
@signed_in
def pipeline_detail(request, tenant, namespace, name):
    pipeline = get_pipeline(request.user, tenant, namespace, name)
    secret = request.session.pop(SECRET_KEY % pipeline.pk, None)
    return render(request, "pipelines/pipeline.html", pipeline_context(request, pipeline, secret=secret))


@require_GET
@signed_in
def pipeline_export(request, tenant, namespace, name):
    pipeline = get_pipeline(request.user, tenant, namespace, name)
    response = HttpResponse(services.export_pipeline(pipeline), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{pipeline.name}.pipeline.yaml"'
    return response


class PipelineActionView(ServiceFormView):
    template_name = "pipelines/pipeline.html"
    errors_as_message = True

    def get_object(self):
        return get_pipeline(self.request.user, self.kwargs["tenant"], self.kwargs["namespace"], self.kwargs["name"])

    def get_context_data(self, **extra):
        return pipeline_context(self.request, self.object, **extra)

    def message_params(self, result):
        return {"name": self.object.name, "number": getattr(result, "number", "")}

    def get_success_url(self, result):
        if isinstance(result, Run):
            result.pipeline = self.object
            return run_url(result)
        return pipeline_url(self.object)


class PipelineEditView(PipelineActionView):
    http_method_names = ["get", "post"]
    service = services.update_pipeline
    form_class = forms.PipelineForm
    form_object = "pipeline"
    template_name = "pipelines/pipeline_form.html"
    errors_as_message = False
    invalid_message = gettext_lazy("Check the pipeline's settings.")
    success_message = gettext_lazy("Pipeline %(name)s is changed.")

    def get_object(self):
        pipeline = super().get_object()
        if not services.may_change(self.request.user, pipeline):
            raise PermissionDenied(_("Only the tenant's members and operators change its pipelines."))
        return pipeline

    def get_context_data(self, **extra):
        return {**SECTION, "pipeline": self.object, "project": self.object.project, **extra}


class SecretView(PipelineActionView):
    def get_success_url(self, result):
        self.request.session[SECRET_KEY % self.object.pk] = result
        return pipeline_url(self.object)


class BuildsView(PipelineActionView):
    service = services.set_builds
    form_class = forms.BuildsForm
    success_message = gettext_lazy("Image builds of tenant %(tenant)s: %(where)s.")

    def message_params(self, result):
        tenant = self.object.project.tenant.name
        where = result.namespace if result is not None else _("in its own namespaces")
        return {"tenant": tenant, "where": where}


pipeline_edit = PipelineEditView.as_view()
pipeline_builds = BuildsView.as_view()
pipeline_run = PipelineActionView.as_view(
    service=services.run_pipeline, success_message=gettext_lazy("Run #%(number)s of %(name)s is queued.")
)
pipeline_delete = PipelineActionView.as_view(
    service=services.delete_pipeline,
    success_message=gettext_lazy("Pipeline %(name)s is deleted."),
    success_url="pipelines:pipeline_list",
)
pipeline_secret = SecretView.as_view(
    service=services.rotate_webhook_secret,
    success_message=gettext_lazy("Pipeline %(name)s has a new webhook secret: the old one no longer works."),
)


# --- runs -------------------------------------------------------------------------------


def run_context(request, run, **extra):
    return {
        **SECTION,
        **live.run_context(run),
        "project": run.pipeline.project,
        "tenant": run.pipeline.project.tenant,
        "may_change": services.may_change(request.user, run.pipeline),
        "live_groups": [run.group],
        **extra,
    }


@require_GET
@signed_in
def run_detail(request, tenant, namespace, name, number):
    run = get_run(request.user, tenant, namespace, name, number)
    context = run_context(request, run)
    if is_partial(request):
        return render(request, "pipelines/_run.html", context)
    return render(request, "pipelines/run.html", context)


class RunActionView(ServiceFormView):
    template_name = "pipelines/run.html"
    errors_as_message = True

    def get_object(self):
        kwargs = self.kwargs
        return get_run(self.request.user, kwargs["tenant"], kwargs["namespace"], kwargs["name"], kwargs["number"])

    def get_context_data(self, **extra):
        return run_context(self.request, self.object, **extra)

    def message_params(self, result):
        return {"number": getattr(result, "number", self.object.number)}

    def get_success_url(self, result):
        if isinstance(result, Run):
            result.pipeline = self.object.pipeline
            return run_url(result)
        return run_url(self.object)


run_cancel = RunActionView.as_view(
    service=services.cancel_run, success_message=gettext_lazy("Cancelling run #%(number)s.")
)
run_rerun = RunActionView.as_view(
    service=services.rerun, success_message=gettext_lazy("Run #%(number)s runs the same commit again.")
)


# --- webhooks ---------------------------------------------------------------------------


@csrf_exempt
@require_POST
def webhook(request, pk, provider):
    """A provider's push. No session: the token or signature is checked against the pipeline's secret."""
    if provider not in Provider.values:
        provider_name = provider[:20]
        services.receive_webhook(None, provider_name, request.headers, b"")
        return JsonResponse({"error": "unknown provider"}, status=404)
    try:
        body = request.body
    except RawPostDataException:  # a form upload, already parsed: no provider sends one
        body = b""
    status, text, run = services.receive_webhook(pk, provider, request.headers, body)
    body = {"message": text} if status < 400 else {"error": text}
    if run is not None:
        body["run"] = run.number
    return JsonResponse(body, status=status)
