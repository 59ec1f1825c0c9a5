"""App pages. Thin: look the namespace up through tenants.access (404 for what the user
may not see), call a service, render. Refusals from services become 403, bad input 400.
The actions are configurations of console.views.generic.ServiceFormView."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from console import object_panels
from console.accounts import roles
from console.accounts.access import call_service, require
from console.clusters import mirror
from console.jobs.models import Job
from console.live.views import live_view
from console.views.generic import ServiceFormView, message_of
from console.views.htmx import is_partial
from tenants import access

from . import configs, forms, manifests, podlogs, selectors, services
from .choices import AppKind
from .models import App

signed_in = require()
SECTION = {"active_section": "workloads"}
LIVE_KINDS = ("Pod", "ReplicaSet", "Event", "Deployment", "StatefulSet", "HorizontalPodAutoscaler")


def get_app(user, tenant_name, namespace, name):
    return access.get_in_namespace(user, tenant_name, namespace, App.objects.select_related("created_by"), name)


def operable_project(request, tenant, namespace, refusal):
    """The namespace (404 when not visible); 403 with `refusal` unless the user may work in it."""
    project = access.get_project(request.user, tenant, namespace)
    if not access.may_operate(request.user, project.tenant):
        raise PermissionDenied(refusal)
    return project


def project_context(project, **extra):
    return {**SECTION, "project": project, "tenant": project.tenant, **extra}


def app_url(app):
    return reverse("workloads:app", args=[app.project.tenant.name, app.namespace, app.name])


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
    projects = [
        project
        for project in access.visible_projects(request.user)
        .select_related("tenant", "cluster")
        .order_by("tenant__name", "name")
        if access.may_operate(request.user, project.tenant)
    ]
    context = {**SECTION, "apps": apps, "projects": projects, "tenant_filter": tenant}
    return render(request, "workloads/app_list.html", context)


class AppAddView(ServiceFormView):
    http_method_names = ["get", "post"]
    service = services.deploy_app
    form_class = forms.AppForm
    template_name = "workloads/app_form.html"
    success_message = gettext_lazy("Deploying %(name)s.")

    def get_object(self):
        return operable_project(
            self.request,
            self.kwargs["tenant"],
            self.kwargs["namespace"],
            _("Only the tenant's members and operators deploy apps."),
        )

    def get_form_kwargs(self):
        return {"project": self.object, "config_choices": configs.choices(self.object, self.request.user)}

    def get_context_data(self, **extra):
        return project_context(self.object, **extra)

    def message_params(self, result):
        app, _job = result
        return {"name": app.name}

    def get_success_url(self, result):
        app, _job = result
        return app_url(app)


app_add = AppAddView.as_view()


# --- the app page --------------------------------------------------------------------


def app_context(request, app, **extra):
    live = selectors.live_context(app, request.user)
    may_change = access.may_operate(request.user, app.project.tenant) and app.project.tenant.is_active
    # Whoever may see the app may follow its namespace in the mirror.
    groups = [app.group] + [
        mirror.namespace_kind_group(app.project.cluster_id, app.namespace, kind) for kind in LIVE_KINDS
    ]
    autoscaler = app.autoscaler
    return {
        **project_context(app.project),
        "app": app,
        **live,
        "jobs": Job.objects.filter(
            tenant_id=app.project.tenant_id,
            cluster=app.project.cluster.name,
            namespace=app.namespace,
            target_name=app.name,
            created_at__gte=app.created_at,
        )[:5],
        "may_change": may_change,
        "scale_form": forms.ScaleForm(
            initial={"replicas": live["progress"].wanted if live["workload"] else app.spec.get("replicas", 1)}
        ),
        "expose_form": forms.ExposeForm(initial=forms.ExposeForm.initial_from(app)),
        "schedules": app.schedules.all(),
        "canary_form": forms.CanaryForm(),
        "traffic_form": forms.CanaryTrafficForm(
            initial={key: app.canary.get(key) for key in forms.CanaryTrafficForm.base_fields}
        ),
        "schedule_form": forms.ScheduleForm(),
        "autoscaler_form": forms.AutoscalerForm(
            initial={
                "min_replicas": autoscaler.get("min", 1),
                "max_replicas": autoscaler.get("max", 5),
                "cpu": autoscaler.get("cpu", 70) if autoscaler else 70,
                "memory": autoscaler.get("memory"),
            }
        ),
        "live_groups": groups,
        "live_ticks": [mirror.tick_id(group) for group in groups],
        "is_deployment": app.kind == AppKind.DEPLOYMENT,
        "has_revisions": app.kind in (AppKind.DEPLOYMENT, AppKind.STATEFULSET),
        **extra,
    }


def app_page_context(request, app, **extra):
    """The whole page: the live part and the YAML documents."""
    panels = object_panels.object_panels_live("app", request, app)
    return {
        **app_context(request, app, **extra),
        "documents": selectors.yaml_documents(app),
        "app_panels": panels.html,
        "panel_groups": panels.live_groups,  # the panels' own live groups (monitoring's charts)
    }


# Followed live by the page's socket (console/live/views.py) on each of its groups' ticks.
# Rendered for each browser, never shared: its forms (restart, roll back, pause, canary)
# carry the reader's CSRF token and show only to those who may change the app.
@live_view
@require_GET
@signed_in
def app_detail(request, tenant, namespace, name):
    app = get_app(request.user, tenant, namespace, name)
    if is_partial(request):
        return render(request, "workloads/_app_live_response.html", app_context(request, app))
    return render(request, "workloads/app.html", app_page_context(request, app))


class AppActionView(ServiceFormView):
    """An action on one app, from its page: back to the page, or the page again with the refusal
    said at the top (its forms are folded away) and the form as it was sent."""

    template_name = "workloads/app.html"
    errors_as_message = True

    def get_object(self):
        return get_app(self.request.user, self.kwargs["tenant"], self.kwargs["namespace"], self.kwargs["name"])

    def get_context_data(self, **extra):
        return app_page_context(self.request, self.object, **extra)

    def get_success_url(self, result):
        return app_url(self.object)


class AppUpgradeView(AppActionView):
    """The form shows what runs now (from the mirror); a stale form gets the new state back (409)."""

    http_method_names = ["get", "post"]
    service = services.upgrade_app
    form_class = forms.UpgradeForm
    template_name = "workloads/app_upgrade.html"
    errors_as_message = False
    success_message = gettext_lazy("Rolling out the new version of %(name)s.")

    def get_object(self):
        app = super().get_object()
        if not access.may_operate(self.request.user, app.project.tenant):
            raise PermissionDenied(_("Only the tenant's members and operators upgrade apps."))
        return app

    @cached_property
    def namespace_choices(self):
        """The namespace's Secrets and ConfigMaps, and those the app uses."""
        return forms.config_choices_with(configs.choices(self.object.project, self.request.user), self.object.spec)

    def config_choices(self, spec):
        return forms.config_choices_with(self.namespace_choices, spec)

    def get_form_kwargs(self):
        if self.request.method == "POST":
            return {"config_choices": self.config_choices({})}
        row = selectors.workload(self.object)
        spec = manifests.spec_from_workload(row.object, self.object.kind) if row else self.object.spec
        return self.current(spec, (row.object.get("metadata") or {}).get("generation", "") if row else "")

    def current(self, spec, generation):
        return {
            "initial": {**forms.UpgradeForm.initial_from(spec), "generation": generation},
            "config_choices": self.config_choices(spec),
        }

    def get_context_data(self, **extra):
        return project_context(self.object.project, app=self.object, **extra)

    def refused(self, form, exc, status=400):
        if not isinstance(exc, services.Conflict):
            return super().refused(form, exc, status)
        fresh = forms.UpgradeForm(**self.current(exc.spec, exc.generation))
        fresh.conflict = message_of(exc)
        return self.render_page(fresh, status=409)


Action = AppActionView.as_view
app_upgrade = AppUpgradeView.as_view()
app_scale = Action(
    service=services.scale_app,
    form_class=forms.ScaleForm,
    form_name="scale_form",
    invalid_message=gettext_lazy("Replicas must be a number from 0 to 100."),
    success_message=gettext_lazy("Scaling %(name)s."),
)
app_pause = Action(service=services.pause_app, success_message=gettext_lazy("The rollout of %(name)s is paused."))
app_resume = Action(service=services.resume_app, success_message=gettext_lazy("The rollout of %(name)s goes on."))
app_rollback = Action(
    service=services.rollback_app,
    form_class=forms.RollbackForm,
    form_name="rollback_form",
    invalid_message=gettext_lazy("Choose a revision to roll back to."),
    success_message=gettext_lazy("Rolling %(name)s back."),
)
app_expose = Action(
    service=services.expose_app,
    form_class=forms.ExposeForm,
    form_name="expose_form",
    invalid_message=gettext_lazy("The exposure settings are not valid."),
    success_message=gettext_lazy("Exposing %(name)s."),
)
app_delete = Action(
    service=services.delete_app,
    form_class=forms.DeleteForm,
    strict_form=False,
    success_message=gettext_lazy("Deleting %(name)s."),
    success_url="workloads:app_list",
)
pod_restart = Action(
    service=services.restart_pod,
    url_arguments={"pod_name": "pod"},
    success_message=gettext_lazy("Pod restarting: %(name)s starts a new one."),
)
schedule_add = Action(
    service=services.add_scale_schedule,
    form_class=forms.ScheduleForm,
    form_name="schedule_form",
    invalid_message=gettext_lazy("The schedule is not valid: give a time, replicas and days."),
    success_message=gettext_lazy("Schedule added."),
)
schedule_remove = Action(
    service=services.remove_scale_schedule,
    url_arguments={"schedule_id": "pk"},
    success_message=gettext_lazy("Schedule of %(name)s removed."),
)
autoscaler_set = Action(
    service=services.set_autoscaler,
    form_class=forms.AutoscalerForm,
    form_name="autoscaler_form",
    invalid_message=gettext_lazy("The autoscaler settings are not valid."),
    success_message=gettext_lazy("Setting up the autoscaler of %(name)s."),
)
autoscaler_remove = Action(
    service=services.remove_autoscaler, success_message=gettext_lazy("Removing the autoscaler of %(name)s.")
)
canary_start = Action(
    service=services.start_canary,
    form_class=forms.CanaryForm,
    form_name="canary_form",
    invalid_message=gettext_lazy("The canary settings are not valid."),
    success_message=gettext_lazy("Starting a canary of %(name)s."),
)
canary_traffic = Action(
    service=services.set_canary_traffic,
    form_class=forms.CanaryTrafficForm,
    form_name="traffic_form",
    invalid_message=gettext_lazy("The traffic settings are not valid."),
    success_message=gettext_lazy("The canary of %(name)s gets its new share."),
)
canary_promote = Action(
    service=services.promote_canary, success_message=gettext_lazy("Promoting the canary of %(name)s.")
)
canary_abort = Action(service=services.abort_canary, success_message=gettext_lazy("Removing the canary of %(name)s."))


# --- pods ----------------------------------------------------------------------------


@require_GET
@signed_in
def pod_log(request, tenant, namespace, name, pod):
    """The pod's last lines as text; to HTMX, the live log panel following it."""
    app = get_app(request.user, tenant, namespace, name)
    if is_partial(request):
        return _pod_panel(
            request,
            app,
            pod,
            services.open_pod_log,
            "workloads/_pod_log.html",
            lambda token: {"token": token, "group": podlogs.group(token)},
            max_lines=podlogs.MAX_LINES,
            heartbeat=podlogs.heartbeat_seconds(),
        )
    try:
        text = services.pod_log(app, user=request.user, pod_name=pod)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        return HttpResponse(message_of(exc), status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_GET
@signed_in
def pod_terminal(request, tenant, namespace, name, pod):
    """The terminal panel (HTMX) for one container of the app's pod; its script connects the socket."""
    app = get_app(request.user, tenant, namespace, name)
    if not is_partial(request):
        return redirect(app_url(app))
    return _pod_panel(
        request,
        app,
        pod,
        services.open_terminal,
        "workloads/_terminal.html",
        lambda token: {"socket_path": f"/ws/terminal/{token}/"},
    )


def _pod_panel(request, app, pod, open_stream, template, stream_context, **extra):
    """A panel following one container of the pod: the service opens the stream (its token)."""
    container = request.GET.get("container", "")
    context = {
        "app": app,
        "project": app.project,
        "tenant": app.project.tenant,
        "pod": pod,
        "container": container,
        **extra,
    }
    try:
        token, containers = open_stream(app, user=request.user, pod_name=pod, container=container)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except ValidationError as exc:
        return render(request, template, {**context, "error": message_of(exc)}, status=400)
    context.update(stream_context(token), containers=containers, container=container or containers[0])
    return render(request, template, context)


# --- import --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@signed_in
def app_import(request, tenant, namespace):
    """Paste or upload manifests; the first POST previews (a dry run), the second applies."""
    project = operable_project(
        request, tenant, namespace, _("Only the tenant's members and operators import manifests.")
    )
    context = project_context(project, text="")
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
        context["error"] = message_of(exc)
        return render(request, "workloads/app_import.html", context, status=400)
    changes = any(row.action in ("create", "change") for row in rows)
    context.update(rows=rows, refused=any(row.error for row in rows), changes=changes)
    return render(request, "workloads/app_import.html", context)
