"""Who may do what. Platform roles are on the user; tenant roles plug in through a provider.

The tenants app registers a `TenantRoleProvider` in its AppConfig.ready(); until then a
user without a platform role belongs to no tenant. Views never test roles inline: they
use the predicates here (or `console.accounts.access.require`), so one place changes when
tenants arrive.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from console.choices import PlatformRole


@dataclass(frozen=True)
class TenantMembership:
    tenant_id: int
    tenant_name: str
    role: str  # "tenant-admin" or "tenant-member"


class TenantRoleProvider:
    """Interface the tenants app implements."""

    def memberships(self, user):
        """TenantMembership rows of the user."""
        raise NotImplementedError

    def members(self, tenant_id, roles=None):
        """Queryset of active users in the tenant, optionally only those with the given roles."""
        raise NotImplementedError

    def namespaces(self, user):
        """(cluster id, namespace) pairs of the user's tenants."""
        raise NotImplementedError

    def tenants(self):
        """{tenant id: name} of every tenant (what an operator chooses from)."""
        raise NotImplementedError


_tenant_provider = None


def register_tenant_provider(provider):
    global _tenant_provider
    _tenant_provider = provider


def tenant_provider():
    return _tenant_provider


def memberships(user):
    if _tenant_provider is None or not user.is_authenticated:
        return []
    return list(_tenant_provider.memberships(user))


def all_tenants():
    """{tenant id: name} of every tenant; empty until the tenants app registers its provider."""
    if _tenant_provider is None:
        return {}
    return dict(_tenant_provider.tenants())


def may_see_namespace(user, cluster_id, namespace):
    """Operators and auditors see every namespace; tenant users those of their tenants."""
    if is_operator(user) or is_auditor(user):
        return True
    if _tenant_provider is None or not user.is_authenticated:
        return False
    return (int(cluster_id), namespace) in set(_tenant_provider.namespaces(user))


def role_label(user):
    """A short role name for the operation log and the header."""
    if not user or not user.is_authenticated:
        return "anonymous"
    if user.platform_role:
        return user.platform_role
    roles = sorted({m.role for m in memberships(user)})
    return ",".join(roles) or "user"


# What people read for the codes role_label gives (and the operation log keeps).
ROLE_NAMES = {
    "operator": _("Operator"),
    "auditor": _("Auditor"),
    "tenant-admin": _("Tenant admin"),
    "tenant-member": _("Tenant member"),
    "user": _("User"),
    "system": _("system"),
    "anonymous": _("anonymous"),
}


def role_names(label):
    """A role label as people read it: "tenant-admin,tenant-member" -> "Tenant admin, Tenant member"."""
    return ", ".join(str(ROLE_NAMES.get(code, code)) for code in (label or "").split(",") if code)


# --- predicates -------------------------------------------------------------------


def is_operator(user):
    return user.is_authenticated and user.is_active and user.platform_role == PlatformRole.OPERATOR


def is_auditor(user):
    return user.is_authenticated and user.is_active and user.platform_role == PlatformRole.AUDITOR


def can_read_operation_log(user):
    return is_operator(user) or is_auditor(user)


def can_send_notice(user):
    return is_operator(user)


def can_use_admin(user):
    return is_operator(user)
