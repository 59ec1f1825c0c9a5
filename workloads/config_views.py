"""Pages for a namespace's Secrets and ConfigMaps, and the YAML editor. Thin, as workloads/views.py:
the namespace is looked up through tenants.access (404 for other tenants), the role is checked
before the form (403, logged), services do the rest."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.accounts.access import call_service, require
from tenants import access

from . import configs, editor, imports
from .config_forms import NEW_ROWS, ConfigMapForm, ConfirmForm, SecretForm, YamlForm, key_values
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


def _errors(exc):
    return " ".join(exc.messages)


# --- Secrets -------------------------------------------------------------------------


@require_GET
@signed_in
def secret_list(request, tenant, namespace):
    return _secret_list(request, _project(request, tenant, namespace))


def _secret_list(request, project, status=200, error=""):
    context = _context(project, rows=[], truncated=False, error=error)
    try:
        context["rows"], context["truncated"] = configs.list_secrets(project, user=request.user)
    except ValidationError as exc:
        context["error"] = " ".join(filter(None, [error, _errors(exc)]))
    return render(request, "workloads/secret_list.html", context, status=status)


def _configmap_list(request, project, status=200, error=""):
    may_change = access.may_operate(request.user, project.tenant)
    context = _context(project, rows=configs.list_configmaps(project), may_change=may_change, error=error)
    return render(request, "workloads/configmap_list.html", context, status=status)


@require_http_methods(["GET", "POST"])
@signed_in
def secret_add(request, tenant, namespace):
    project = _project(request, tenant, namespace)
    form = SecretForm(request.POST if request.method == "POST" else None)
    context = _context(project, form=form)
    if request.method == "GET":
        return render(request, "workloads/secret_form.html", context)
    data, errors = key_values(request.POST)
    context["rows"] = list(data)  # keys come back; values are typed again
    if not form.is_valid() or errors:
        context["error"] = " ".join(str(e) for e in errors)
        return render(request, "workloads/secret_form.html", context, status=400)
    try:
        call_service(request, configs.create_secret, project, name=form.cleaned_data["name"], secret_type=form.cleaned_data["type"],
                     data=data, tls_cert=form.cleaned_data["tls_cert"], tls_key=form.cleaned_data["tls_key"], registry=form.registry())
    except ValidationError as exc:
        context["error"] = _errors(exc)
        return render(request, "workloads/secret_form.html", context, status=400)
    messages.success(request, _("Secret %(name)s created.") % {"name": form.cleaned_data["name"]})
    return redirect("workloads:secret_list", tenant=tenant, namespace=namespace)


@require_http_methods(["GET", "POST"])
@signed_in
def secret_edit(request, tenant, namespace, secret):
    project = _project(request, tenant, namespace)
    context = _context(project, name=secret)
    status = 200
    if request.method == "POST":
        values, errors = key_values(request.POST)
        # existing keys: a new value replaces, an empty one keeps
        for key, value in zip(request.POST.getlist("existing_key"), request.POST.getlist("existing_value"), strict=False):
            if value:
                values[key] = value
        try:
            if errors:
                raise ValidationError(errors)
            call_service(request, configs.update_secret, project, name=secret, resource_version=request.POST.get("resource_version", ""),
                         values=values, remove=request.POST.getlist("remove"))
        except configs.EditConflict as exc:
            context["error"], status = _errors(exc), 409
        except ValidationError as exc:
            context["error"], status = _errors(exc), 400
        else:
            messages.success(request, _("Secret %(name)s saved.") % {"name": secret})
            return redirect("workloads:secret_edit", tenant=tenant, namespace=namespace, secret=secret)
    try:
        context["type"], context["keys"], context["resource_version"] = configs.secret_keys(project, user=request.user, name=secret)
    except ValidationError as exc:
        context["error"] = " ".join(filter(None, [context.get("error"), _errors(exc)]))
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
        return render(request, "workloads/_secret_value.html", {**context, "error": _errors(exc)}, status=400)
    response = render(request, "workloads/_secret_value.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@signed_in
def secret_delete(request, tenant, namespace, secret):
    return _delete(request, tenant, namespace, secret, configs.delete_secret, "workloads:secret_list", _secret_list)


def _delete(request, tenant, namespace, name, service, list_url, list_page):
    project = _project(request, tenant, namespace)
    form = ConfirmForm(request.POST)
    form.is_valid()
    try:
        call_service(request, service, project, name=name, confirm_name=form.cleaned_data.get("confirm_name", ""))
    except ValidationError as exc:
        return list_page(request, project, status=400, error=_errors(exc))
    messages.success(request, _("%(name)s deleted.") % {"name": name})
    return redirect(list_url, tenant=tenant, namespace=namespace)


# --- ConfigMaps ----------------------------------------------------------------------


@require_GET
@signed_in
def configmap_list(request, tenant, namespace):
    """From the resource mirror: whoever sees the namespace sees its ConfigMaps."""
    return _configmap_list(request, _project(request, tenant, namespace, manage=False))


@require_http_methods(["GET", "POST"])
@signed_in
def configmap_add(request, tenant, namespace):
    project = _project(request, tenant, namespace)
    form = ConfigMapForm(request.POST if request.method == "POST" else None)
    context = _context(project, form=form, data={})
    if request.method == "GET":
        return render(request, "workloads/configmap_form.html", context)
    data, errors = key_values(request.POST)
    context["data"] = data
    if not form.is_valid() or errors:
        context["error"] = " ".join(str(e) for e in errors)
        return render(request, "workloads/configmap_form.html", context, status=400)
    try:
        call_service(request, configs.create_configmap, project, name=form.cleaned_data["name"], data=data)
    except ValidationError as exc:
        context["error"] = _errors(exc)
        return render(request, "workloads/configmap_form.html", context, status=400)
    messages.success(request, _("ConfigMap %(name)s created.") % {"name": form.cleaned_data["name"]})
    return redirect("workloads:configmap_list", tenant=tenant, namespace=namespace)


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
            call_service(request, configs.update_configmap, project, name=configmap, resource_version=context["resource_version"], data=data)
        except configs.EditConflict as exc:
            context["error"] = _errors(exc)
            context["data"], context["resource_version"] = configs.configmap(project, user=request.user, name=configmap)
            return render(request, "workloads/configmap_form.html", context, status=409)
        except ValidationError as exc:
            context["error"] = _errors(exc)
            return render(request, "workloads/configmap_form.html", context, status=400)
        messages.success(request, _("ConfigMap %(name)s saved.") % {"name": configmap})
        return redirect("workloads:configmap_list", tenant=tenant, namespace=namespace)
    try:
        context["data"], context["resource_version"] = configs.configmap(project, user=request.user, name=configmap)
    except ValidationError as exc:
        context.update(error=_errors(exc), data={})
        return render(request, "workloads/configmap_form.html", context, status=400)
    return render(request, "workloads/configmap_form.html", context)


@require_POST
@signed_in
def configmap_delete(request, tenant, namespace, configmap):
    return _delete(request, tenant, namespace, configmap, configs.delete_configmap, "workloads:configmap_list", _configmap_list)


# --- the YAML editor -----------------------------------------------------------------


def _back(project, kind, name):
    """Where the object is shown: its app's page, the ConfigMaps, or the namespace."""
    if kind == "ConfigMap":
        return reverse("workloads:configmap_list", args=[project.tenant.name, project.name])
    if kind in imports.WORKLOAD_KINDS + ("Service", "Ingress", "HorizontalPodAutoscaler") and App.objects.filter(project=project, name=name).exists():
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
            return render(request, "workloads/yaml_edit.html", {**context, "error": _errors(exc)}, status=400)
        return render(request, "workloads/yaml_edit.html", context)
    form = YamlForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    context.update(text=data.get("text", ""), resource_version=data.get("resource_version", ""))
    try:
        if data.get("action") == "save":
            call_service(request, editor.save, project, kind=kind, name=name, text=context["text"], resource_version=context["resource_version"])
            messages.success(request, _("%(kind)s %(name)s saved.") % {"kind": kind, "name": name})
            return redirect(context["back"])
        context["preview"] = editor.preview(project, user=request.user, kind=kind, name=name, text=context["text"],
                                            resource_version=context["resource_version"])
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except configs.EditConflict as exc:
        return render(request, "workloads/yaml_edit.html", {**context, "error": _errors(exc), "conflict": True}, status=409)
    except ValidationError as exc:
        return render(request, "workloads/yaml_edit.html", {**context, "error": _errors(exc)}, status=400)
    return render(request, "workloads/yaml_edit.html", context, status=400 if context["preview"].verdict else 200)
