"""Tenant pages. Thin: look the object up through `access` (404 for what the user may
not see), call a service, render. Refusals from services become 403, bad input 400."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.accounts import roles
from console.accounts.access import call_service, require
from console.jobs.models import Job

from . import access, services, usage
from .forms import MemberForm, PathForm, ProjectForm, ProjectQuotaForm, TenantForm

signed_in = require()
operator_only = require(roles.is_operator, gettext_lazy("Only operators manage tenants."))
SECTION = {"active_section": "tenants"}


def _invalid(request, template, context, exc, form=None):
    if form is not None:
        form.add_error(None, exc)
    else:
        messages.error(request, " ".join(exc.messages))
    return render(request, template, {**SECTION, **context}, status=400)


# --- tenants -----------------------------------------------------------------------


@require_GET
@signed_in
def tenant_list(request):
    tenants = access.visible_tenants(request.user).prefetch_related("clusters").order_by("name")
    if not tenants and not access.may_see_all(request.user):
        raise PermissionDenied(_("You belong to no tenant."))
    return render(request, "tenants/tenant_list.html", {**SECTION, "tenants": tenants})


@require_http_methods(["GET", "POST"])
@operator_only
def tenant_add(request):
    form = TenantForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                tenant = call_service(request, services.create_tenant, name=data["name"], display_name=data["display_name"],
                               contact=data["contact"], clusters=data["clusters"], limits=form.limits,
                               max_namespaces=data["max_namespaces"], default_quota=form.quota,
                               default_limit_range=form.limit_range, time_zone=data["time_zone"], pod_security=data["pod_security"])
            except ValidationError as exc:
                return _invalid(request, "tenants/tenant_form.html", {"form": form}, exc, form)
            messages.success(request, _("Tenant %(name)s created.") % {"name": tenant.name})
            return redirect("tenants:tenant", name=tenant.name)
        return render(request, "tenants/tenant_form.html", {**SECTION, "form": form}, status=400)
    return render(request, "tenants/tenant_form.html", {**SECTION, "form": form})


def tenant_context(request, tenant, **extra):
    projects = list(tenant.projects.select_related("cluster").order_by("cluster__name", "name"))
    return {
        **SECTION,
        "tenant": tenant,
        "projects": projects,
        "bars": usage.tenant_bars(tenant, projects),
        "members": tenant.memberships.select_related("user"),
        "may_administer": access.may_administer(request.user, tenant),
        "is_operator": roles.is_operator(request.user),
        "clusters": tenant.clusters.all(),
        "jobs": Job.objects.filter(tenant_id=tenant.pk)[:10],
        "member_form": MemberForm(),
        **extra,
    }


@require_GET
@signed_in
def tenant_detail(request, name):
    tenant = access.get_tenant(request.user, name)
    return render(request, "tenants/tenant.html", tenant_context(request, tenant))


@require_http_methods(["GET", "POST"])
@operator_only
def tenant_edit(request, name):
    tenant = access.get_tenant(request.user, name)
    form = TenantForm(request.POST if request.method == "POST" else None, tenant=tenant, initial={
        "name": tenant.name, "display_name": tenant.display_name, "contact": tenant.contact, "time_zone": tenant.time_zone,
        "clusters": tenant.clusters.all(), "max_namespaces": tenant.max_namespaces, "pod_security": tenant.pod_security})
    context = {"form": form, "tenant": tenant}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "tenants/tenant_form.html", {**SECTION, **context}, status=400)
        data = form.cleaned_data
        try:
            call_service(request, services.update_tenant, tenant, display_name=data["display_name"], contact=data["contact"],
                  clusters=data["clusters"], limits=form.limits, max_namespaces=data["max_namespaces"],
                  default_quota=form.quota, default_limit_range=form.limit_range, time_zone=data["time_zone"],
                  pod_security=data["pod_security"])
        except ValidationError as exc:
            return _invalid(request, "tenants/tenant_form.html", context, exc, form)
        messages.success(request, _("Tenant %(name)s saved.") % {"name": tenant.name})
        return redirect("tenants:tenant", name=tenant.name)
    return render(request, "tenants/tenant_form.html", {**SECTION, **context})


def _tenant_action(request, name, service, done_message, **kwargs):
    tenant = access.get_tenant(request.user, name)
    try:
        call_service(request, service, tenant, **kwargs)
    except ValidationError as exc:
        return _invalid(request, "tenants/tenant.html", tenant_context(request, tenant), exc)
    messages.success(request, done_message % {"name": tenant.name})
    return redirect("tenants:tenant", name=tenant.name)


@require_POST
@operator_only
def tenant_suspend(request, name):
    return _tenant_action(request, name, services.suspend_tenant, _("Suspending %(name)s: its workloads scale to zero."))


@require_POST
@operator_only
def tenant_resume(request, name):
    return _tenant_action(request, name, services.resume_tenant, _("Resuming %(name)s: its workloads scale back."))


@require_POST
@operator_only
def tenant_delete(request, name):
    return _tenant_action(request, name, services.delete_tenant, _("Deleting %(name)s and all its namespaces."),
                          confirm_name=request.POST.get("confirm_name", ""))


@require_POST
@signed_in
def tenant_switch(request):
    # A tenant the user is not in answers 404, the same as a typo.
    tenant = services.switch_tenant(request.session, request.user, request.POST.get("tenant", ""))
    return redirect("tenants:tenant", name=tenant.name)


# --- members -----------------------------------------------------------------------


@require_POST
@signed_in
def member_add(request, name):
    tenant = access.get_tenant(request.user, name)
    if not access.may_administer(request.user, tenant):  # before the form: its errors show only to admins
        raise PermissionDenied(_("Only the tenant's admins invite members."))
    form = MemberForm(request.POST)
    if not form.is_valid():
        return render(request, "tenants/tenant.html", tenant_context(request, tenant, member_form=form), status=400)
    username = form.cleaned_data["username"]
    try:
        invited = call_service(request, services.invite_member, tenant, username=username, role=form.cleaned_data["role"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "tenants/tenant.html", tenant_context(request, tenant, member_form=form), status=400)
    if invited.token:
        link = request.build_absolute_uri(reverse("tenants:invitation_accept") + "?" + urlencode({"token": invited.token}))
        messages.success(request, _("Invitation for %(user)s created. Send them this link, valid for %(days)s days; they join when "
                                    "they open it signed in as %(user)s (people new to the console get their account from an "
                                    "operator first): %(link)s") % {"user": username, "days": services.INVITATION_DAYS, "link": link})
        return redirect("tenants:tenant", name=tenant.name)
    if invited.password:
        messages.warning(request, _("Account %(user)s created with the one-time password %(password)s — pass it on; it is not shown again.")
                         % {"user": username, "password": invited.password})
    messages.success(request, _("%(user)s added.") % {"user": username})
    return redirect("tenants:tenant", name=tenant.name)


@require_http_methods(["GET", "POST"])
@signed_in
def invitation_accept(request):
    """The invitee's page: who invites them where, and a button to join."""
    token = request.POST.get("token", "") if request.method == "POST" else request.GET.get("token", "")
    if request.method == "POST":
        try:
            membership = call_service(request, services.accept_invitation, token)
        except ValidationError as exc:
            return render(request, "tenants/invitation.html", {**SECTION, "error": " ".join(exc.messages)}, status=400)
        messages.success(request, _("You joined %(tenant)s.") % {"tenant": membership.tenant})
        return redirect("tenants:tenant", name=membership.tenant.name)
    try:
        invitation = services.read_invitation(token)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    if invitation.username != request.user.get_username():
        raise PermissionDenied(_("This invitation is for %(name)s: sign in as %(name)s to accept it.") % {"name": invitation.username})
    return render(request, "tenants/invitation.html", {**SECTION, "invitation": invitation, "token": token})


@require_POST
@signed_in
def member_remove(request, name, pk):
    return _tenant_action(request, name, services.remove_member, _("Member removed from %(name)s."), membership_id=pk)


# --- namespaces --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@signed_in
def project_add(request, name):
    tenant = access.get_tenant(request.user, name)
    if not access.may_administer(request.user, tenant):
        raise PermissionDenied(_("Only the tenant's admins create namespaces."))
    form = ProjectForm(request.POST if request.method == "POST" else None, tenant=tenant)
    context = {"form": form, "tenant": tenant}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "tenants/project_form.html", {**SECTION, **context}, status=400)
        data = form.cleaned_data
        try:
            project, _job = call_service(request, services.create_project, tenant, cluster=data["cluster"], short_name=data["short_name"],
                                  display_name=data["display_name"], quota=form.quota, limit_range=form.limit_range)
        except ValidationError as exc:
            return _invalid(request, "tenants/project_form.html", context, exc, form)
        return redirect("tenants:project", name=tenant.name, namespace=project.name)
    return render(request, "tenants/project_form.html", {**SECTION, **context})


def project_context(request, project, **extra):
    return {
        **SECTION,
        "tenant": project.tenant,
        "project": project,
        "project_group": access.project_group(project),
        "bars": usage.project_bars(project),
        "paths": project.paths.all(),
        "jobs": Job.objects.filter(tenant_id=project.tenant_id, cluster=project.cluster.name, namespace=project.name)[:5],
        "may_administer": access.may_administer(request.user, project.tenant),
        "quota_form": ProjectQuotaForm(project=project),
        "path_form": PathForm(),
        **extra,
    }


@require_GET
@signed_in
def project_detail(request, name, namespace):
    project = access.get_project(request.user, name, namespace)
    return render(request, "tenants/project.html", project_context(request, project))


@require_POST
@signed_in
def project_edit(request, name, namespace):
    project = access.get_project(request.user, name, namespace)
    if not access.may_administer(request.user, project.tenant):  # before the form: its errors show only to admins
        raise PermissionDenied(_("Only the tenant's admins change namespace quotas."))
    form = ProjectQuotaForm(request.POST, project=project)
    if not form.is_valid():
        return render(request, "tenants/project.html", project_context(request, project, quota_form=form), status=400)
    try:
        call_service(request, services.update_project, project, quota=form.quota, limit_range=form.limit_range)
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "tenants/project.html", project_context(request, project, quota_form=form), status=400)
    return redirect("tenants:project", name=name, namespace=namespace)


def _project_action(request, name, namespace, service, **kwargs):
    project = access.get_project(request.user, name, namespace)
    try:
        call_service(request, service, project, **kwargs)
    except ValidationError as exc:
        return _invalid(request, "tenants/project.html", project_context(request, project), exc)
    return redirect("tenants:project", name=name, namespace=namespace)


@require_POST
@signed_in
def project_retry(request, name, namespace):
    return _project_action(request, name, namespace, services.retry_project)


@require_POST
@signed_in
def project_delete(request, name, namespace):
    project = access.get_project(request.user, name, namespace)
    try:
        call_service(request, services.delete_project, project, confirm_name=request.POST.get("confirm_name", ""))
    except ValidationError as exc:
        return _invalid(request, "tenants/project.html", project_context(request, project), exc)
    messages.success(request, _("Deleting namespace %(name)s.") % {"name": namespace})
    return redirect("tenants:tenant", name=name)


@require_POST
@signed_in
def path_add(request, name, namespace):
    project = access.get_project(request.user, name, namespace)
    if not access.may_administer(request.user, project.tenant):  # before the form: its errors show only to admins
        raise PermissionDenied(_("Only the tenant's admins open network paths."))
    form = PathForm(request.POST)
    if not form.is_valid():
        return render(request, "tenants/project.html", project_context(request, project, path_form=form), status=400)
    data = form.cleaned_data
    try:
        call_service(request, services.add_path, project, kind=data["kind"], peer_namespace=data["peer_namespace"].strip(),
              cidr=data["cidr"].strip(), port=data["port"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "tenants/project.html", project_context(request, project, path_form=form), status=400)
    return redirect("tenants:project", name=name, namespace=namespace)


@require_POST
@signed_in
def path_remove(request, name, namespace, pk):
    return _project_action(request, name, namespace, services.remove_path, path_id=pk)
