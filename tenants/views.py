"""Tenant pages. Thin: look the object up through `access` (404 for what the user may
not see), call a service, render. Refusals from services become 403, bad input 400.
The actions are configurations of console.views.generic.ServiceFormView."""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from console.accounts import roles
from console.accounts.access import require
from console.forms import ConfirmForm
from console.jobs.models import Job
from console.views.generic import ServiceFormView

from . import access, services, usage
from .forms import MemberForm, NewAccountForm, PathForm, ProjectForm, ProjectQuotaForm, TenantForm

signed_in = require()
OPERATORS_ONLY = gettext_lazy("Only operators manage tenants.")
SECTION = {"active_section": "tenants"}


def tenant_url(tenant):
    return reverse("tenants:tenant", args=[tenant.name])


def project_url(project):
    return reverse("tenants:project", args=[project.tenant.name, project.name])


# --- tenants -----------------------------------------------------------------------


@require_GET
@signed_in
def tenant_list(request):
    tenants = access.visible_tenants(request.user).prefetch_related("clusters").order_by("name")
    if not tenants and not access.may_see_all(request.user):
        raise PermissionDenied(_("You belong to no tenant."))
    return render(request, "tenants/tenant_list.html", {**SECTION, "tenants": tenants})


class TenantFormView(ServiceFormView):
    """The operator's tenant form: a new tenant, or the one the URL names."""

    http_method_names = ["get", "post"]
    allowed = roles.is_operator
    denied_message = OPERATORS_ONLY
    form_class = TenantForm
    template_name = "tenants/tenant_form.html"

    def get_object(self):
        return access.get_tenant(self.request.user, self.kwargs["name"]) if "name" in self.kwargs else None

    def get_form_kwargs(self):
        tenant = self.object
        if tenant is None:
            return {}
        keys = ("name", "display_name", "contact", "time_zone", "max_namespaces", "pod_security")
        initial = {key: getattr(tenant, key) for key in keys}
        return {"tenant": tenant, "initial": {**initial, "clusters": tenant.clusters.all()}}

    def get_context_data(self, **extra):
        return {**SECTION, "tenant": self.object, **extra}

    def message_params(self, result):
        return {"name": (self.object or result).name}

    def get_success_url(self, result):
        return tenant_url(self.object or result)


tenant_add = TenantFormView.as_view(
    service=services.create_tenant, success_message=gettext_lazy("Tenant %(name)s created.")
)
tenant_edit = TenantFormView.as_view(
    service=services.update_tenant, success_message=gettext_lazy("Tenant %(name)s saved.")
)


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


class TenantPageView(ServiceFormView):
    """An action from the tenant's page: back to it, or the page again with the refusal.
    `admin_refusal`: only the tenant's admins (and operators) may; checked before the form."""

    template_name = "tenants/tenant.html"
    errors_as_message = True
    admin_refusal: str = ""
    page_context = staticmethod(tenant_context)
    page_url = staticmethod(tenant_url)

    def get_object(self):
        found = self.lookup()
        tenant = getattr(found, "tenant", found)  # a namespace's tenant, or the tenant itself
        if self.admin_refusal and not access.may_administer(self.request.user, tenant):
            raise PermissionDenied(self.admin_refusal)
        return found

    def lookup(self):
        return access.get_tenant(self.request.user, self.kwargs["name"])

    def get_context_data(self, **extra):
        return self.page_context(self.request, self.object, **extra)

    def get_success_url(self, result):
        return self.page_url(self.object)


class MemberAddView(TenantPageView):
    service = services.invite_member
    form_class = MemberForm
    form_name = "member_form"
    errors_as_message = False
    admin_refusal = gettext_lazy("Only the tenant's admins invite members.")

    def announce(self, invited):
        username = self.form.cleaned_data["username"]
        if invited.token:
            link = reverse("tenants:invitation_accept") + "?" + urlencode({"token": invited.token})
            link = self.request.build_absolute_uri(link)
            messages.success(
                self.request,
                _(
                    "Invitation for %(user)s created. Send them this link, valid for %(days)s days; they join when "
                    "they open it signed in as %(user)s (someone new to the console chooses a password there and "
                    "gets the account): %(link)s"
                )
                % {"user": username, "days": services.INVITATION_DAYS, "link": link},
            )
            return
        if invited.password:
            messages.warning(
                self.request,
                _(
                    "Account %(user)s created with the one-time password %(password)s — "
                    "pass it on; it is not shown again."
                )
                % {"user": username, "password": invited.password},
            )
        messages.success(self.request, _("%(user)s added.") % {"user": username})


TenantAction = TenantPageView.as_view
tenant_suspend = TenantAction(
    allowed=roles.is_operator,
    denied_message=OPERATORS_ONLY,
    service=services.suspend_tenant,
    success_message=gettext_lazy("Suspending %(name)s: its workloads scale to zero."),
)
tenant_resume = TenantAction(
    allowed=roles.is_operator,
    denied_message=OPERATORS_ONLY,
    service=services.resume_tenant,
    success_message=gettext_lazy("Resuming %(name)s: its workloads scale back."),
)
tenant_delete = TenantAction(
    allowed=roles.is_operator,
    denied_message=OPERATORS_ONLY,
    service=services.delete_tenant,
    form_class=ConfirmForm,
    form_name="confirm_form",
    strict_form=False,
    success_message=gettext_lazy("Deleting %(name)s and all its namespaces."),
)
member_add = MemberAddView.as_view()
member_remove = TenantAction(
    service=services.remove_member,
    url_arguments={"membership_id": "pk"},
    success_message=gettext_lazy("Member removed from %(name)s."),
)


@require_POST
@signed_in
def tenant_switch(request):
    # A tenant the user is not in answers 404, the same as a typo.
    tenant = services.switch_tenant(request.session, request.user, request.POST.get("tenant", ""))
    return redirect(tenant_url(tenant))


class InvitationAcceptView(ServiceFormView):
    """The invitee's page: who invites them where, and a button to join."""

    http_method_names = ["get", "post"]
    service = services.accept_invitation
    template_name = "tenants/invitation.html"
    success_message = gettext_lazy("You joined %(tenant)s.")

    def get_object(self):
        """The invitation, shown to the invitee only; a POST's token goes to the service as it is."""
        if self.request.method == "POST":
            return None
        try:
            invitation = services.read_invitation(self.token)
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from None
        if invitation.username != self.request.user.get_username():
            raise PermissionDenied(
                _("This invitation is for %(name)s: sign in as %(name)s to accept it.") % {"name": invitation.username}
            )
        return invitation

    @property
    def token(self):
        return (self.request.POST if self.request.method == "POST" else self.request.GET).get("token", "")

    def get_context_data(self, **extra):
        return {**SECTION, "invitation": self.object, "token": self.token, **extra}

    def service_args(self):
        return (self.token,)

    def message_params(self, membership):
        return {"tenant": membership.tenant}

    def get_success_url(self, membership):
        return tenant_url(membership.tenant)


class NewAccountView(InvitationAcceptView):
    """The invitation link opened by someone new to the console: they choose a password,
    their account is made and joins the tenant, and they are signed in."""

    anonymous = True
    service = services.join_with_new_account
    form_class = NewAccountForm
    form_name = "account_form"
    success_message = gettext_lazy("Welcome: your account is ready and you joined %(tenant)s.")

    def get_object(self):
        try:
            return services.read_invitation(self.token)
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from None

    def get_form_kwargs(self):
        return {"username": self.object.username}

    def announce(self, membership):
        login(self.request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        super().announce(membership)


signed_in_accept = InvitationAcceptView.as_view()
new_account_accept = NewAccountView.as_view()


def invitation_accept(request):
    """One link for every invitee: someone new to the console makes their account here;
    everybody else signs in (if need be) and joins."""
    token = (request.POST if request.method == "POST" else request.GET).get("token", "")
    if not request.user.is_authenticated and services.invitation_needs_account(token):
        return new_account_accept(request)
    return signed_in_accept(request)


# --- namespaces --------------------------------------------------------------------


class ProjectAddView(TenantPageView):
    http_method_names = ["get", "post"]
    service = services.create_project
    form_class = ProjectForm
    form_object = "tenant"
    template_name = "tenants/project_form.html"
    errors_as_message = False
    admin_refusal = gettext_lazy("Only the tenant's admins create namespaces.")

    def get_context_data(self, **extra):
        return {**SECTION, "tenant": self.object, **extra}

    def get_success_url(self, result):
        project, _job = result
        return project_url(project)


project_add = ProjectAddView.as_view()


def project_context(request, project, **extra):
    return {
        **SECTION,
        "tenant": project.tenant,
        "project": project,
        "project_group": access.project_group(project),
        "bars": usage.project_bars(project),
        "paths": project.paths.all(),
        "jobs": Job.objects.filter(tenant_id=project.tenant_id, cluster=project.cluster.name, namespace=project.name)[
            :5
        ],
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


class ProjectPageView(TenantPageView):
    """An action from the namespace's page: back to it, or the page again with the refusal."""

    template_name = "tenants/project.html"
    page_context = staticmethod(project_context)
    page_url = staticmethod(project_url)

    def lookup(self):
        return access.get_project(self.request.user, self.kwargs["name"], self.kwargs["namespace"])


ProjectAction = ProjectPageView.as_view
project_edit = ProjectAction(
    service=services.update_project,
    form_class=ProjectQuotaForm,
    form_name="quota_form",
    form_object="project",
    errors_as_message=False,
    admin_refusal=gettext_lazy("Only the tenant's admins change namespace quotas."),
)
project_retry = ProjectAction(service=services.retry_project)
project_delete = ProjectAction(
    service=services.delete_project,
    form_class=ConfirmForm,
    form_name="confirm_form",
    strict_form=False,
    page_url=lambda project: tenant_url(project.tenant),
    success_message=gettext_lazy("Deleting namespace %(name)s."),
)
path_add = ProjectAction(
    service=services.add_path,
    form_class=PathForm,
    form_name="path_form",
    errors_as_message=False,
    admin_refusal=gettext_lazy("Only the tenant's admins open network paths."),
)
path_remove = ProjectAction(service=services.remove_path, url_arguments={"path_id": "pk"})
