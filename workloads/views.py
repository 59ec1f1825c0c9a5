"""App pages. Thin: look the namespace up through tenants.access (404 for what the user
may not see), call a service, render. Refusals from services become 403, bad input 400."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.clusters import mirror

from console.accounts import roles
from console.accounts.access import call_service, require
from console.jobs.models import Job
from console.views.htmx import is_partial
from tenants import access

from . import configs, manifests, podlogs, selectors, services
from .choices import AppKind
from .forms import (AppForm, AutoscalerForm, CanaryForm, CanaryTrafficForm, DeleteForm, ExposeForm, ScaleForm, ScheduleForm, UpgradeForm,
                    config_choices_with)
from .models import App

signed_in = require()
SECTION = {"active_section": "workloads"}
LIVE_KINDS = ("Pod", "ReplicaSet", "Event", "Deployment", "StatefulSet", "HorizontalPodAutoscaler")


def _add_errors(form, exc):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def get_app(user, tenant_name, namespace, name):
    project = access.get_project(user, tenant_name, namespace)
    app = App.objects.filter(project=project, name=name).select_related("project__tenant", "project__cluster", "created_by").first()
    if app is None:
        raise Http404("no such app")
    return app


# --- list and deploy -----------------------------------------------------------------


@require_GET
@signed_in
def app_list(request):
    if not access.may_see_all(request.user) and not roles.memberships(request.user):
        raise PermissionDenied(_("You belong to no tenant."))
    apps = selectors.visible_apps(request.user).order_by("project__tenant__name", "project__name", "name")
    tenant = request.GET.get("tenant", "")
    if tenant:
        apps = apps.filter(project__tenant__name=tenant)
    projects = [p for p in access.visible_projects(request.user).select_related("tenant", "cluster").order_by("tenant__name", "name")
                if access.may_operate(request.user, p.tenant)]
    return render(request, "workloads/app_list.html", {**SECTION, "apps": apps, "projects": projects, "tenant_filter": tenant})


@require_http_methods(["GET", "POST"])
@signed_in
def app_add(request, tenant, namespace):
    project = access.get_project(request.user, tenant, namespace)
    if not access.may_operate(request.user, project.tenant):
        raise PermissionDenied(_("Only the tenant's members and operators deploy apps."))
    form = AppForm(request.POST if request.method == "POST" else None, project=project, config_choices=configs.choices(project, request.user))
    context = {**SECTION, "form": form, "project": project, "tenant": project.tenant}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "workloads/app_form.html", context, status=400)
        try:
            app, _job = call_service(request, services.deploy_app, project, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"],
                              spec=form.spec, exposure=form.exposure)
        except ValidationError as exc:
            _add_errors(form, exc)
            return render(request, "workloads/app_form.html", context, status=400)
        messages.success(request, _("Deploying %(name)s.") % {"name": app.name})
        return redirect("workloads:app", tenant=tenant, namespace=namespace, name=app.name)
    return render(request, "workloads/app_form.html", context)


# --- the app page --------------------------------------------------------------------


def app_context(request, app, **extra):
    live = selectors.live_context(app, request.user)
    may_change = access.may_operate(request.user, app.project.tenant) and app.project.tenant.is_active
    # Whoever may see the app may follow its namespace in the mirror.
    groups = [app.group] + [mirror.namespace_kind_group(app.project.cluster_id, app.namespace, kind) for kind in LIVE_KINDS]
    return {
        **SECTION,
        "app": app,
        "project": app.project,
        "tenant": app.project.tenant,
        **live,
        "jobs": Job.objects.filter(tenant_id=app.project.tenant_id, cluster=app.project.cluster.name, namespace=app.namespace,
                                   target_name=app.name, created_at__gte=app.created_at)[:5],
        "may_change": may_change,
        "scale_form": ScaleForm(initial={"replicas": live["progress"].wanted if live["workload"] else app.spec.get("replicas", 1)}),
        "expose_form": ExposeForm(initial=ExposeForm.initial_from(app)),
        "schedules": app.schedules.all(),
        "canary_form": CanaryForm(),
        "traffic_form": CanaryTrafficForm(initial={"weight": app.canary.get("weight"), "header": app.canary.get("header"),
                                                   "header_value": app.canary.get("header_value")}),
        "schedule_form": ScheduleForm(),
        "autoscaler_form": AutoscalerForm(initial={"min_replicas": app.autoscaler.get("min", 1), "max_replicas": app.autoscaler.get("max", 5),
                                                   "cpu": app.autoscaler.get("cpu", 70) if app.autoscaler else 70,
                                                   "memory": app.autoscaler.get("memory")}),
        "live_groups": groups,
        "live_ticks": [mirror.tick_id(group) for group in groups],
        "is_deployment": app.kind == AppKind.DEPLOYMENT,
        "has_revisions": app.kind in (AppKind.DEPLOYMENT, AppKind.STATEFULSET),
        **extra,
    }


@require_GET
@signed_in
def app_detail(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    if is_partial(request):
        return render(request, "workloads/_app_live_response.html", app_context(request, app))
    return render(request, "workloads/app.html", {**app_context(request, app), "documents": selectors.yaml_documents(app)})


def _page_error(request, app, exc, status=400, **extra):
    messages.error(request, " ".join(exc.messages))
    context = {**app_context(request, app, **extra), "documents": selectors.yaml_documents(app)}
    return render(request, "workloads/app.html", context, status=status)


def _app_action(request, tenant, namespace, name, service, done_message, **kwargs):
    app = get_app(request.user, tenant, namespace, name)
    try:
        call_service(request, service, app, **kwargs)
    except ValidationError as exc:
        return _page_error(request, app, exc)
    messages.success(request, done_message % {"name": app.name})
    return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)


@require_http_methods(["GET", "POST"])
@signed_in
def app_upgrade(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    if not access.may_operate(request.user, app.project.tenant):
        raise PermissionDenied(_("Only the tenant's members and operators upgrade apps."))
    context = {**SECTION, "app": app, "project": app.project, "tenant": app.project.tenant}
    config_choices = config_choices_with(configs.choices(app.project, request.user), app.spec)
    if request.method == "POST":
        form = UpgradeForm(request.POST, config_choices=config_choices)
        context["form"] = form
        if not form.is_valid():
            return render(request, "workloads/app_upgrade.html", context, status=400)
        try:
            call_service(request, services.upgrade_app, app, spec=form.spec, generation=form.cleaned_data.get("generation"))
        except services.Conflict as exc:
            fresh = UpgradeForm(initial={**UpgradeForm.initial_from(exc.spec), "generation": exc.generation},
                                config_choices=config_choices_with(config_choices, exc.spec))
            fresh.conflict = " ".join(exc.messages)
            return render(request, "workloads/app_upgrade.html", {**context, "form": fresh}, status=409)
        except ValidationError as exc:
            _add_errors(form, exc)
            return render(request, "workloads/app_upgrade.html", context, status=400)
        messages.success(request, _("Rolling out the new version of %(name)s.") % {"name": app.name})
        return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)
    row = selectors.workload(app)
    spec = manifests.spec_from_workload(row.object, app.kind) if row else app.spec
    generation = (row.object.get("metadata") or {}).get("generation", "") if row else ""
    context["form"] = UpgradeForm(initial={**UpgradeForm.initial_from(spec), "generation": generation},
                                  config_choices=config_choices_with(config_choices, spec))
    return render(request, "workloads/app_upgrade.html", context)


@require_POST
@signed_in
def app_scale(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    form = ScaleForm(request.POST)
    if not form.is_valid():
        return _page_error(request, app, ValidationError(_("Replicas must be a number from 0 to 100.")), scale_form=form)
    return _app_action(request, tenant, namespace, name, services.scale_app, _("Scaling %(name)s."), replicas=form.cleaned_data["replicas"])


@require_POST
@signed_in
def app_pause(request, tenant, namespace, name):
    return _app_action(request, tenant, namespace, name, services.pause_app, _("The rollout of %(name)s is paused."))


@require_POST
@signed_in
def app_resume(request, tenant, namespace, name):
    return _app_action(request, tenant, namespace, name, services.resume_app, _("The rollout of %(name)s goes on."))


@require_POST
@signed_in
def app_rollback(request, tenant, namespace, name):
    revision = request.POST.get("revision", "")
    if not revision.isdigit():
        app = get_app(request.user, tenant, namespace, name)
        return _page_error(request, app, ValidationError(_("Choose a revision to roll back to.")))
    return _app_action(request, tenant, namespace, name, services.rollback_app, _("Rolling %(name)s back."), revision=int(revision))


@require_POST
@signed_in
def app_expose(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    form = ExposeForm(request.POST)
    if not form.is_valid():
        return _page_error(request, app, ValidationError(_("The exposure settings are not valid.")), expose_form=form)
    data = form.cleaned_data
    try:
        call_service(request, services.expose_app, app, service_type=data["service_type"], port=data["port"], target_port=data["target_port"],
              node_port=data["node_port"], host=data["host"], path=data["path"], tls_secret=data["tls_secret"])
    except ValidationError as exc:
        _add_errors(form, exc)
        return _page_error(request, app, exc, expose_form=form)
    messages.success(request, _("Exposing %(name)s.") % {"name": app.name})
    return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)


@require_POST
@signed_in
def app_delete(request, tenant, namespace, name):
    form = DeleteForm(request.POST)
    form.is_valid()
    app = get_app(request.user, tenant, namespace, name)
    try:
        call_service(request, services.delete_app, app, confirm_name=form.cleaned_data.get("confirm_name", ""),
              delete_volumes=form.cleaned_data.get("delete_volumes", False))
    except ValidationError as exc:
        return _page_error(request, app, exc)
    messages.success(request, _("Deleting %(name)s.") % {"name": app.name})
    return redirect("workloads:app_list")


@require_POST
@signed_in
def pod_restart(request, tenant, namespace, name, pod):
    return _app_action(request, tenant, namespace, name, services.restart_pod, _("Pod restarting: %(name)s starts a new one."), pod_name=pod)


@require_GET
@signed_in
def pod_log(request, tenant, namespace, name, pod):
    """The pod's last lines as text; to HTMX, the live log panel following it."""
    app = get_app(request.user, tenant, namespace, name)
    if is_partial(request):
        return _pod_log_panel(request, app, pod)
    try:
        text = services.pod_log(app, user=request.user, pod_name=pod)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


def _pod_log_panel(request, app, pod):
    container = request.GET.get("container", "")
    context = {"app": app, "project": app.project, "tenant": app.project.tenant, "pod": pod, "container": container,
               "max_lines": podlogs.MAX_LINES, "heartbeat": podlogs.heartbeat_seconds()}
    try:
        token, containers = services.open_pod_log(app, user=request.user, pod_name=pod, container=container)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        return render(request, "workloads/_pod_log.html", {**context, "error": " ".join(exc.messages)}, status=400)
    context.update(token=token, group=podlogs.group(token), containers=containers, container=container or containers[0])
    return render(request, "workloads/_pod_log.html", context)


@require_GET
@signed_in
def pod_terminal(request, tenant, namespace, name, pod):
    """The terminal panel (HTMX) for one container of the app's pod; its script connects the socket."""
    app = get_app(request.user, tenant, namespace, name)
    if not is_partial(request):
        return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)
    context = {"app": app, "project": app.project, "tenant": app.project.tenant, "pod": pod, "container": request.GET.get("container", "")}
    try:
        token, containers = services.open_terminal(app, user=request.user, pod_name=pod, container=context["container"])
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        return render(request, "workloads/_terminal.html", {**context, "error": " ".join(exc.messages)}, status=400)
    context.update(socket_path=f"/ws/terminal/{token}/", containers=containers, container=context["container"] or containers[0])
    return render(request, "workloads/_terminal.html", context)


@require_POST
@signed_in
def schedule_add(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _page_error(request, app, ValidationError(_("The schedule is not valid: give a time, replicas and days.")), schedule_form=form)
    try:
        call_service(request, services.add_scale_schedule, app, at=form.cleaned_data["at"], replicas=form.cleaned_data["replicas"],
              weekdays=form.cleaned_data["weekdays"])
    except ValidationError as exc:
        _add_errors(form, exc)
        return _page_error(request, app, exc, schedule_form=form)
    messages.success(request, _("Schedule added."))
    return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)


@require_POST
@signed_in
def schedule_remove(request, tenant, namespace, name, pk):
    return _app_action(request, tenant, namespace, name, services.remove_scale_schedule, _("Schedule of %(name)s removed."), schedule_id=pk)


@require_POST
@signed_in
def autoscaler_set(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    form = AutoscalerForm(request.POST)
    if not form.is_valid():
        return _page_error(request, app, ValidationError(_("The autoscaler settings are not valid.")), autoscaler_form=form)
    data = form.cleaned_data
    try:
        call_service(request, services.set_autoscaler, app, min_replicas=data["min_replicas"], max_replicas=data["max_replicas"],
              cpu=data["cpu"], memory=data["memory"])
    except ValidationError as exc:
        _add_errors(form, exc)
        return _page_error(request, app, exc, autoscaler_form=form)
    messages.success(request, _("Setting up the autoscaler of %(name)s.") % {"name": app.name})
    return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)


@require_POST
@signed_in
def autoscaler_remove(request, tenant, namespace, name):
    return _app_action(request, tenant, namespace, name, services.remove_autoscaler, _("Removing the autoscaler of %(name)s."))


@require_http_methods(["GET", "POST"])
@signed_in
def app_import(request, tenant, namespace):
    """Paste or upload manifests; the first POST previews (a dry run), the second applies."""
    project = access.get_project(request.user, tenant, namespace)
    if not access.may_operate(request.user, project.tenant):
        raise PermissionDenied(_("Only the tenant's members and operators import manifests."))
    context = {**SECTION, "project": project, "tenant": project.tenant, "text": ""}
    if request.method == "GET":
        return render(request, "workloads/app_import.html", context)
    text = request.POST.get("manifests", "")
    upload = request.FILES.get("file")
    if upload is not None:
        try:
            text = upload.read(256 * 1024 + 1).decode("utf-8")
        except UnicodeDecodeError:
            messages.error(request, _("The file is not UTF-8 text."))
            return render(request, "workloads/app_import.html", context, status=400)
    context["text"] = text
    try:
        if request.POST.get("confirm") == "yes":
            job, rows = call_service(request, services.import_manifests, project, text=text)
            messages.success(request, _("Importing %(n)s objects.") % {"n": len(rows)})
            return redirect("console:job", pk=job.pk)
        try:
            _objects, rows = services.preview_import(project, user=request.user, text=text)
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "workloads/app_import.html", context, status=400)
    context.update(rows=rows, refused=any(row.error for row in rows), changes=any(row.action in ("create", "change") for row in rows))
    return render(request, "workloads/app_import.html", context)


@require_POST
@signed_in
def canary_start(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    form = CanaryForm(request.POST)
    if not form.is_valid():
        return _page_error(request, app, ValidationError(_("The canary settings are not valid.")), canary_form=form)
    data = form.cleaned_data
    try:
        call_service(request, services.start_canary, app, image=data["image"].strip(), replicas=data["replicas"], weight=data["weight"],
              header=data["header"].strip(), header_value=data["header_value"].strip())
    except ValidationError as exc:
        _add_errors(form, exc)
        return _page_error(request, app, exc, canary_form=form)
    messages.success(request, _("Starting a canary of %(name)s.") % {"name": app.name})
    return redirect("workloads:app", tenant=tenant, namespace=namespace, name=name)


@require_POST
@signed_in
def canary_traffic(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    form = CanaryTrafficForm(request.POST)
    if not form.is_valid():
        return _page_error(request, app, ValidationError(_("The traffic settings are not valid.")), traffic_form=form)
    data = form.cleaned_data
    return _app_action(request, tenant, namespace, name, services.set_canary_traffic, _("The canary of %(name)s gets its new share."),
                       weight=data["weight"], header=data["header"].strip(), header_value=data["header_value"].strip())


@require_POST
@signed_in
def canary_promote(request, tenant, namespace, name):
    return _app_action(request, tenant, namespace, name, services.promote_canary, _("Promoting the canary of %(name)s."))


@require_POST
@signed_in
def canary_abort(request, tenant, namespace, name):
    return _app_action(request, tenant, namespace, name, services.abort_canary, _("Removing the canary of %(name)s."))
