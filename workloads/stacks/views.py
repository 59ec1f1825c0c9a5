"""Templates and stacks pages. Thin: look up through services (404 for what the user may not
see), call a service, render."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from console.accounts import roles
from console.accounts.access import call_service, require
from console.clusters.models import Cluster
from console.jobs.models import Job
from console.views.generic import ServiceFormView, add_errors
from console.views.htmx import client_redirect
from tenants import access

from . import cost, forms, recommended, services
from . import render as renderer
from .models import PriceTable

signed_in = require()
SECTION = {"active_section": "templates"}


def template_url(template):
    return reverse("stacks:template", args=[template.pk])


def stack_url(stack):
    return reverse("stacks:stack", args=[stack.project.tenant.name, stack.namespace, stack.name])


def _redirect(request, url):
    return client_redirect(url) if request.htmx else redirect(url)


@require_GET
@signed_in
def template_list(request):
    recommended.sync()
    templates = (
        services.visible_templates(request.user)
        .select_related("tenant")
        .order_by("-recommended", "tenant__name", "name")
    )
    stacks = services.visible_stacks(request.user).select_related(
        "project__tenant", "project__cluster", "version__template"
    )
    context = {
        **SECTION,
        "templates": templates,
        "stacks": stacks,
        "may_extract": bool(forms.operable_projects(request.user)),
        "clusters": Cluster.objects.all() if roles.is_operator(request.user) else [],
    }
    return render(request, "stacks/template_list.html", context)


class TemplateAddView(ServiceFormView):
    http_method_names = ["get", "post"]
    service = services.create_template
    form_class = forms.TemplateForm
    template_name = "stacks/template_form.html"
    success_message = gettext_lazy("Template %(name)s saved.")

    def get_object(self):
        if not roles.is_operator(self.request.user) and not any(
            access.may_operate(self.request.user, t) for t in access.visible_tenants(self.request.user)
        ):
            raise PermissionDenied(_("Only the tenant's members and operators add templates."))
        return None

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def get_context_data(self, **extra):
        return {**SECTION, **extra}

    def message_params(self, result):
        return {"name": result.name}

    def get_success_url(self, result):
        return template_url(result)


template_add = TemplateAddView.as_view()


def _template_context(request, template, **extra):
    versions = list(template.versions.all())
    latest = versions[0] if versions else None
    user = request.user
    return {
        **SECTION,
        "template": template,
        "versions": versions,
        "latest": latest,
        "parameters": renderer.parameters_of(latest) if latest else [],
        "may_change": services.may_change_template(user, template) and not template.recommended,
        "may_instantiate": any(template.tenant_id in (None, p.tenant_id) for p in forms.operable_projects(user)),
        "copy_form": forms.CopyForm(user=user),
        "delete_form": forms.ConfirmNameForm(),
        "stacks": services.visible_stacks(user)
        .filter(version__template=template)
        .select_related("project__tenant", "version"),
        **extra,
    }


@require_GET
@signed_in
def template_detail(request, pk):
    template = services.get_template(request.user, pk)
    return render(request, "stacks/template.html", _template_context(request, template))


@require_GET
@signed_in
def version_detail(request, pk, number):
    template = services.get_template(request.user, pk)
    version = services.get_version(template, number)
    previous = template.versions.filter(number__lt=number).order_by("-number").first()
    context = _template_context(
        request,
        template,
        version=version,
        previous=previous,
        diff=services.version_diff(previous, version) if previous else "",
        version_parameters=renderer.parameters_of(version),
    )
    return render(request, "stacks/version.html", context)


class TemplateActionView(ServiceFormView):
    template_name = "stacks/template.html"
    errors_as_message = True

    def get_object(self):
        return services.get_template(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **extra):
        return _template_context(self.request, self.object, **extra)

    def get_success_url(self, result):
        return template_url(self.object)


class VersionAddView(TemplateActionView):
    http_method_names = ["get", "post"]
    service = services.add_version
    form_class = forms.VersionForm
    template_name = "stacks/template_form.html"
    errors_as_message = False
    success_message = gettext_lazy("New version of %(name)s saved.")

    def get_object(self):
        template = super().get_object()
        if not services.may_change_template(self.request.user, template):
            raise PermissionDenied(_("Only operators change published templates; tenants change their own."))
        return template

    def get_form(self, data=None, files=None):
        latest = self.object.latest()
        initial = (
            {
                "manifests": latest.manifests,
                "parameters": renderer.parameters_text(renderer.parameters_of(latest)),
                "outputs": renderer_outputs_text(latest),
            }
            if latest
            else {}
        )
        return forms.VersionForm(data, initial=initial)

    def get_context_data(self, **extra):
        return {**SECTION, "template": self.object, **extra}


def renderer_outputs_text(version):
    import yaml

    return yaml.safe_dump(version.outputs, sort_keys=False, allow_unicode=True) if version.outputs else ""


version_add = VersionAddView.as_view()


class TemplateCopyView(TemplateActionView):
    service = services.copy_template
    form_class = forms.CopyForm
    form_name = "copy_form"
    success_message = gettext_lazy("Copied to %(name)s.")

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def message_params(self, result):
        return {"name": result.name}

    def get_success_url(self, result):
        return template_url(result)


template_copy = TemplateCopyView.as_view()
template_delete = TemplateActionView.as_view(
    service=services.delete_template,
    form_class=forms.ConfirmNameForm,
    form_name="delete_form",
    strict_form=False,
    success_url="stacks:template_list",
    success_message=gettext_lazy("Template %(name)s deleted."),
)


# --- instantiate ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@signed_in
def instantiate(request, pk):
    """GET: the form. POST: the preview (dry run, quota, cost; compared with another
    cluster when chosen); POST with confirm: the stack is created by a job."""
    template = services.get_template(request.user, pk)
    version = template.latest()
    number = request.POST.get("version") or request.GET.get("version")
    if number and str(number).isdigit():
        version = services.get_version(template, int(number))
    stack_form = forms.StackForm(
        request.POST if request.method == "POST" else None, user=request.user, template=template
    )
    if not stack_form.fields["project"].queryset.exists():
        raise PermissionDenied(_("You have no namespace to instantiate this template into."))
    param_form = forms.parameter_form(version, request.POST if request.method == "POST" else None)
    context = {**SECTION, "template": template, "version": version, "form": stack_form, "param_form": param_form}
    if request.method == "GET":
        return render(request, "stacks/instantiate.html", context)
    if not stack_form.is_valid():
        return render(request, "stacks/instantiate.html", context, status=400)
    project = stack_form.cleaned_data["project"]
    values = forms.parameter_values(param_form)
    try:
        if request.POST.get("confirm") == "yes":
            stack, _job = call_service(
                request,
                services.create_stack,
                project,
                version=version,
                name=stack_form.cleaned_data["stack_name"],
                values=values,
            )
            messages.success(request, _("Creating stack %(name)s.") % {"name": stack.name})
            return _redirect(request, stack_url(stack))
        plan = services.preview_stack(project, user=request.user, version=version, values=values)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        _errors(stack_form, param_form, exc)
        return render(request, "stacks/instantiate.html", context, status=400)
    compare = stack_form.cleaned_data.get("compare_with")
    context.update(
        plan=plan,
        yaml=services.dump(plan.objects),
        compare=cost.estimate(plan.objects, compare, project.limit_range) if compare else None,
    )
    return render(request, "stacks/instantiate.html", context)


def _errors(stack_form, param_form, exc):
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            if key in param_form.fields:
                param_form.add_error(key, errors)
            elif key in stack_form.fields:
                stack_form.add_error(key, errors)
            else:
                stack_form.add_error(None, errors)
    else:
        stack_form.add_error(None, exc)


# --- stacks -----------------------------------------------------------------------------------


def _stack_context(request, stack, **extra):
    jobs = Job.objects.filter(
        tenant_id=stack.project.tenant_id, namespace=stack.namespace, payload__stack=stack.pk
    ).order_by("-created_at")[:5]
    return {
        **SECTION,
        "stack": stack,
        "project": stack.project,
        "tenant": stack.project.tenant,
        "jobs": jobs,
        "may_change": access.may_operate(request.user, stack.project.tenant),
        "versions": stack.version.template.versions.all(),
        "delete_form": forms.ConfirmNameForm(),
        "replicate_form": forms.ReplicateForm(user=request.user, stack=stack),
        **extra,
    }


@require_GET
@signed_in
def stack_detail(request, tenant, namespace, name):
    stack = services.get_stack(request.user, tenant, namespace, name)
    return render(request, "stacks/stack.html", _stack_context(request, stack))


class StackDeleteView(ServiceFormView):
    service = services.delete_stack
    form_class = forms.ConfirmNameForm
    form_name = "delete_form"
    strict_form = False
    template_name = "stacks/stack.html"
    errors_as_message = True
    success_message = gettext_lazy("Deleting stack %(name)s.")

    def get_object(self):
        return services.get_stack(
            self.request.user, self.kwargs["tenant"], self.kwargs["namespace"], self.kwargs["name"]
        )

    def get_context_data(self, **extra):
        return _stack_context(self.request, self.object, **extra)

    def get_success_url(self, result):
        return stack_url(self.object)


stack_delete = StackDeleteView.as_view()


class StackReplicateView(StackDeleteView):
    service = services.replicate_stack
    form_class = forms.ReplicateForm
    form_name = "replicate_form"
    strict_form = True
    success_message = gettext_lazy("Replicating stack %(name)s.")

    def get_form_kwargs(self):
        return {"user": self.request.user, "stack": self.object}

    def get_success_url(self, result):
        return stack_url(result[0])


stack_replicate = StackReplicateView.as_view()


@require_http_methods(["GET", "POST"])
@signed_in
def stack_upgrade(request, tenant, namespace, name):
    """Choose a version and values; POST: the diff preview; POST with confirm: the upgrade job."""
    stack = services.get_stack(request.user, tenant, namespace, name)
    if not access.may_operate(request.user, stack.project.tenant):
        raise PermissionDenied(_("Only the tenant's members and operators change its stacks."))
    template = stack.version.template
    number = request.POST.get("version") or request.GET.get("version") or ""
    version = services.get_version(template, int(number)) if number.isdigit() else template.latest()
    initial = {k: v for k, v in stack.parameters.items()}
    param_form = forms.parameter_form(version, request.POST if request.method == "POST" else None, initial=initial)
    context = _stack_context(request, stack, version=version, param_form=param_form)
    if request.method == "GET":
        return render(request, "stacks/stack_upgrade.html", context)
    values = forms.parameter_values(param_form)
    try:
        if request.POST.get("confirm") == "yes":
            call_service(request, services.upgrade_stack, stack, version=version, values=values)
            messages.success(request, _("Upgrading stack %(name)s.") % {"name": stack.name})
            return _redirect(request, stack_url(stack))
        plan = services.preview_upgrade(stack, user=request.user, version=version, values=values)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        add_errors(param_form, exc)
        messages.error(request, " ".join(exc.messages))
        return render(request, "stacks/stack_upgrade.html", context, status=400)
    context["plan"] = plan
    return render(request, "stacks/stack_upgrade.html", context)


# --- extract and prices -------------------------------------------------------------------------


class ExtractView(ServiceFormView):
    http_method_names = ["get", "post"]
    service = services.extract_template
    form_class = forms.ExtractForm
    template_name = "stacks/extract.html"
    success_message = gettext_lazy("Template %(name)s extracted.")

    def get_object(self):
        if not forms.operable_projects(self.request.user):
            raise PermissionDenied(_("Only the tenant's members and operators extract templates."))
        return None

    def get_form(self, data=None, files=None):
        initial = {k: self.request.GET.get(k, "") for k in ("app", "name", "objects", "project")}
        return forms.ExtractForm(data, user=self.request.user, initial=initial)

    def get_context_data(self, **extra):
        return {**SECTION, **extra}

    def service_args(self):
        return (self.form.cleaned_data["project"],)

    def service_kwargs(self, form):
        return {
            "name": form.cleaned_data["name"],
            "app": form.cleaned_data.get("app", ""),
            "objects": form.cleaned_data.get("objects", ""),
        }

    def message_params(self, result):
        return {"name": result.name}

    def get_success_url(self, result):
        return template_url(result)


extract = ExtractView.as_view()


class PricesView(ServiceFormView):
    http_method_names = ["get", "post"]
    service = services.set_prices
    form_class = forms.PriceForm
    template_name = "stacks/prices.html"
    allowed = roles.is_operator
    denied_message = gettext_lazy("Only operators keep the price tables.")
    success_message = gettext_lazy("Prices of %(name)s saved.")

    def get_object(self):
        return get_object_or_404(Cluster, name=self.kwargs["cluster"])

    def get_form(self, data=None, files=None):
        table = PriceTable.objects.filter(cluster=self.object).first()
        initial = {f: getattr(table, f) for f in forms.PriceForm.base_fields} if table else {}
        return forms.PriceForm(data, initial=initial)

    def get_context_data(self, **extra):
        return {**SECTION, "cluster": self.object, **extra}

    def get_success_url(self, result):
        return reverse("stacks:prices", args=[self.object.name])


prices = PricesView.as_view()
