"""Pages for a namespace's Secrets and ConfigMaps, and the YAML editor. Thin, as workloads/views.py:
the namespace is looked up through tenants.access (404 for other tenants), the role is checked
before the form (403, logged), services do the rest."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.accounts.access import call_service, require
from console.forms import ConfirmForm
from console.views.generic import ServiceFormView, message_of
from tenants import access

from . import configs, editor, imports
from .config_forms import NEW_ROWS, ConfigMapForm, SecretForm, YamlForm, key_values
from .models import App

signed_in = require()
SECTION = {"active_section": "workloads"}


def _project(request, tenant, namespace, *, manage=True):
    """The namespace (404 when not visible); 403 unless the user may manage its Secrets and ConfigMaps."""
    project = access.get_project(request.user, tenant, namespace)
    if manage and not access.may_operate(request.user, project.tenant):
        raise PermissionDenied(_("Only the tenant's members and operators manage Secrets and ConfigMaps."))
    return project


def _context(project, **extra):
    return {**SECTION, "project": project, "tenant": project.tenant, "new_rows": range(NEW_ROWS), **extra}


def secret_list_context(request, project, error=""):
    context = _context(project, rows=[], truncated=False, error=error)
    try:
        context["rows"], context["truncated"] = configs.list_secrets(project, user=request.user)
    except ValidationError as exc:
        context["error"] = " ".join(filter(None, [error, message_of(exc)]))
    return context


def configmap_list_context(request, project):
    may_change = access.may_operate(request.user, project.tenant)
    return _context(project, rows=configs.list_configmaps(project), may_change=may_change)


@require_GET
@signed_in
def secret_list(request, tenant, namespace):
    project = _project(request, tenant, namespace)
    return render(request, "workloads/secret_list.html", secret_list_context(request, project))


@require_GET
@signed_in
def configmap_list(request, tenant, namespace):
    """From the resource mirror: whoever sees the namespace sees its ConfigMaps."""
    project = _project(request, tenant, namespace, manage=False)
    return render(request, "workloads/configmap_list.html", configmap_list_context(request, project))


class ConfigView(ServiceFormView):
    """A change to a namespace's Secrets or ConfigMaps; back to their list (`list_url`)."""

    list_url: str = ""

    def get_object(self):
        return _project(self.request, self.kwargs["tenant"], self.kwargs["namespace"])

    def get_success_url(self, result):
        return reverse(self.list_url, args=[self.object.tenant.name, self.object.name])


class ConfigAddView(ConfigView):
    """The new Secret or ConfigMap form. Refused, the rows come back: a ConfigMap's as they were,
    a Secret's keys only (`rows`: its values are typed again)."""

    http_method_names = ["get", "post"]

    def get_context_data(self, **extra):
        return _context(self.object, rows=list(self.form.key_values), data=self.form.key_values, **extra)

    def message_params(self, result):
        return {"name": self.form.cleaned_data["name"]}


class ConfigDeleteView(ConfigView):
    """Delete with the name typed again; refused: the list again (`list_context`), saying why."""

    list_context = None
    form_class = ConfirmForm
    form_name = "confirm_form"
    strict_form = False
    errors_as_message = True
    success_message = gettext_lazy("%(name)s deleted.")

    def get_context_data(self, **extra):
        return {**self.list_context(self.request, self.object), **extra}

    def message_params(self, result):
        return {"name": self.service_kwargs(self.form)["name"]}


secret_add = ConfigAddView.as_view(
    service=configs.create_secret,
    form_class=SecretForm,
    list_url="workloads:secret_list",
    template_name="workloads/secret_form.html",
    success_message=gettext_lazy("Secret %(name)s created."),
)
secret_delete = ConfigDeleteView.as_view(
    service=configs.delete_secret,
    url_arguments={"name": "secret"},
    template_name="workloads/secret_list.html",
    list_url="workloads:secret_list",
    list_context=secret_list_context,
)
configmap_add = ConfigAddView.as_view(
    service=configs.create_configmap,
    form_class=ConfigMapForm,
    list_url="workloads:configmap_list",
    template_name="workloads/configmap_form.html",
    success_message=gettext_lazy("ConfigMap %(name)s created."),
)
configmap_delete = ConfigDeleteView.as_view(
    service=configs.delete_configmap,
    url_arguments={"name": "configmap"},
    template_name="workloads/configmap_list.html",
    list_url="workloads:configmap_list",
    list_context=configmap_list_context,
)


# --- editing -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@signed_in
def secret_edit(request, tenant, namespace, secret):
    project = _project(request, tenant, namespace)
    context = _context(project, name=secret)
    status = 200
    if request.method == "POST":
        values, errors = key_values(request.POST)
        # existing keys: a new value replaces, an empty one keeps
        existing = zip(request.POST.getlist("existing_key"), request.POST.getlist("existing_value"), strict=False)
        values.update((key, value) for key, value in existing if value)
        changes = {
            "values": values,
            "remove": request.POST.getlist("remove"),
            "resource_version": request.POST.get("resource_version", ""),
        }
        try:
            if errors:
                raise ValidationError(errors)
            call_service(request, configs.update_secret, project, name=secret, **changes)
        except configs.EditConflict as exc:
            context["error"], status = message_of(exc), 409
        except ValidationError as exc:
            context["error"], status = message_of(exc), 400
        else:
            messages.success(request, _("Secret %(name)s saved.") % {"name": secret})
            return redirect("workloads:secret_edit", tenant=tenant, namespace=namespace, secret=secret)
    try:
        context["type"], context["keys"], context["resource_version"] = configs.secret_keys(
            project, user=request.user, name=secret
        )
    except ValidationError as exc:
        context["error"] = " ".join(filter(None, [context.get("error"), message_of(exc)]))
        return render(request, "workloads/secret_edit.html", context, status=400 if status == 200 else status)
    return render(request, "workloads/secret_edit.html", context, status=status)


@require_POST
@signed_in
def secret_reveal(request, tenant, namespace, secret):
    """One value, as a fragment swapped in where the mask was."""
    project = _project(request, tenant, namespace)
    key = request.POST.get("key", "")
    context = {"project": project, "tenant": project.tenant, "name": secret, "key": key}
    try:
        context["value"] = call_service(request, configs.reveal_secret, project, name=secret, key=key)
    except ValidationError as exc:
        return render(request, "workloads/_secret_value.html", {**context, "error": message_of(exc)}, status=400)
    response = render(request, "workloads/_secret_value.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@signed_in
def configmap_edit(request, tenant, namespace, configmap):
    project = _project(request, tenant, namespace)
    context = _context(project, name=configmap)
    if request.method == "POST":
        data, errors = key_values(request.POST)
        context.update(data=data, resource_version=request.POST.get("resource_version", ""))
        try:
            if errors:
                raise ValidationError(errors)
            call_service(
                request,
                configs.update_configmap,
                project,
                name=configmap,
                data=data,
                resource_version=context["resource_version"],
            )
        except configs.EditConflict as exc:
            context["error"] = message_of(exc)
            context["data"], context["resource_version"] = configs.configmap(project, user=request.user, name=configmap)
            return render(request, "workloads/configmap_form.html", context, status=409)
        except ValidationError as exc:
            context["error"] = message_of(exc)
            return render(request, "workloads/configmap_form.html", context, status=400)
        messages.success(request, _("ConfigMap %(name)s saved.") % {"name": configmap})
        return redirect("workloads:configmap_list", tenant=tenant, namespace=namespace)
    try:
        context["data"], context["resource_version"] = configs.configmap(project, user=request.user, name=configmap)
    except ValidationError as exc:
        context.update(error=message_of(exc), data={})
        return render(request, "workloads/configmap_form.html", context, status=400)
    return render(request, "workloads/configmap_form.html", context)


# --- the YAML editor -----------------------------------------------------------------


def _back(project, kind, name):
    """Where the object is shown: its app's page, the ConfigMaps, or the namespace."""
    if kind == "ConfigMap":
        return reverse("workloads:configmap_list", args=[project.tenant.name, project.name])
    shown_on_app_page = imports.WORKLOAD_KINDS + ("Service", "Ingress", "HorizontalPodAutoscaler")
    if kind in shown_on_app_page and App.objects.filter(project=project, name=name).exists():
        return reverse("workloads:app", args=[project.tenant.name, project.name, name])
    return reverse("tenants:project", args=[project.tenant.name, project.name])


@require_http_methods(["GET", "POST"])
@signed_in
def object_yaml(request, tenant, namespace, kind, name):
    project = _project(request, tenant, namespace)
    context = _context(project, kind=kind, name=name, back=_back(project, kind, name))
    if request.method == "GET":
        try:
            context["text"], context["resource_version"] = editor.load(project, user=request.user, kind=kind, name=name)
        except ValidationError as exc:
            return render(request, "workloads/yaml_edit.html", {**context, "error": message_of(exc)}, status=400)
        return render(request, "workloads/yaml_edit.html", context)
    form = YamlForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    context.update(text=data.get("text", ""), resource_version=data.get("resource_version", ""))
    document = {"kind": kind, "name": name, "text": context["text"], "resource_version": context["resource_version"]}
    try:
        if data.get("action") == "save":
            call_service(request, editor.save, project, **document)
            messages.success(request, _("%(kind)s %(name)s saved.") % {"kind": kind, "name": name})
            return redirect(context["back"])
        context["preview"] = editor.preview(project, user=request.user, **document)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except configs.EditConflict as exc:
        return render(
            request, "workloads/yaml_edit.html", {**context, "error": message_of(exc), "conflict": True}, status=409
        )
    except ValidationError as exc:
        return render(request, "workloads/yaml_edit.html", {**context, "error": message_of(exc)}, status=400)
    return render(request, "workloads/yaml_edit.html", context, status=400 if context["preview"].verdict else 200)
