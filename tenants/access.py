"""Who sees and changes which tenant. Lookups by name answer 404 for tenants and
namespaces a user may not see, so guessing names or ids tells nothing."""

from django.contrib.auth import get_user_model
from django.http import Http404

from console.accounts import roles
from console.kube.api import CONSOLE, Identity
from console.live import realtime

from .choices import TenantRole
from .models import Membership, Project, Tenant


class TenantRoles(roles.TenantRoleProvider):
    def memberships(self, user):
        rows = Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")
        return [roles.TenantMembership(m.tenant_id, m.tenant.name, m.role) for m in rows]

    def members(self, tenant_id, roles=None):
        users = get_user_model().objects.filter(is_active=True, tenant_memberships__tenant_id=tenant_id)
        if roles:
            users = users.filter(tenant_memberships__role__in=roles)
        return users.distinct()

    def namespaces(self, user):
        return Project.objects.filter(tenant__memberships__user=user).values_list("cluster_id", "name")

    def tenants(self):
        return dict(Tenant.objects.order_by("name").values_list("pk", "name"))


def role_in(user, tenant):
    """The user's tenant role in this tenant, or None."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(tenant=tenant, user=user).values_list("role", flat=True).first()


def may_see_all(user):
    return roles.is_operator(user) or roles.is_auditor(user)


def visible_tenants(user):
    if may_see_all(user):
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user) if user.is_authenticated else Tenant.objects.none()


def visible_projects(user):
    return Project.objects.filter(tenant__in=visible_tenants(user))


def may_see(user, tenant):
    return may_see_all(user) or role_in(user, tenant) is not None


def may_administer(user, tenant):
    """Tenant admins run their own tenant (members, namespaces, paths); operators run all."""
    return roles.is_operator(user) or role_in(user, tenant) == TenantRole.ADMIN


def may_operate(user, tenant):
    """Act inside the tenant's namespaces (deploy and the like): operators and members."""
    return roles.is_operator(user) or role_in(user, tenant) is not None


def get_tenant(user, name):
    tenant = Tenant.objects.filter(name=name).first()
    if tenant is None or not may_see(user, tenant):
        raise Http404("no such tenant")
    return tenant


def get_project(user, tenant_name, namespace):
    tenant = get_tenant(user, tenant_name)
    project = Project.objects.filter(tenant=tenant, name=namespace).select_related("cluster", "tenant").first()
    if project is None:
        raise Http404("no such namespace")
    return project


def get_in_namespace(user, tenant_name, namespace, queryset_or_model, name):
    """The object called `name` in a namespace the user may see: a model, or a queryset
    carrying its select_related. 404 "no such <model>" when missing, as for a namespace the
    user may not see. The object gets the looked-up project (its tenant and cluster joined)."""
    project = get_project(user, tenant_name, namespace)
    queryset = queryset_or_model._default_manager.all() if isinstance(queryset_or_model, type) else queryset_or_model
    found = queryset.filter(project=project, name=name).first()
    if found is None:
        raise Http404(f"no such {queryset.model._meta.verbose_name}")
    found.project = project
    return found


def identity_for(user, tenant):
    """How the console presents itself to the cluster when acting for `user` in `tenant`:
    operators (and the system) with the console's own identity, tenant users impersonated
    with their tenant's groups so the cluster's RBAC and audit see the real person."""
    if user is None or roles.is_operator(user):
        return CONSOLE
    role = role_in(user, tenant)
    if role is None:
        raise PermissionError("not a member of this tenant")
    groups = (tenant.group, tenant.admin_group) if role == TenantRole.ADMIN else (tenant.group,)
    return Identity(user.get_username(), groups)


def may_follow_tenant(user, ident):
    """Websocket group tenant-<id>: the tenant's page updates."""
    tenant = Tenant.objects.filter(pk=int(ident)).first() if ident.isdigit() else None
    return tenant is not None and may_see(user, tenant)


def project_group(project):
    return f"project-{project.pk}"


def may_follow_project(user, ident):
    """Websocket group project-<id>: a namespace's status."""
    project = Project.objects.filter(pk=int(ident)).select_related("tenant").first() if ident.isdigit() else None
    return project is not None and may_see(user, project.tenant)


def project_status_snapshot(user, ident):
    project = Project.objects.filter(pk=int(ident)).first()
    return (
        realtime.render_for(user, "tenants/_project_status.html", {"project": project, "oob": True}) if project else ""
    )
