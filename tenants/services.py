"""Tenant operations. Each takes the acting user, checks the rules, writes the operation
log and, for cluster work, records a Job whose Celery task does it (tenants/tasks.py)."""

import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from console import quantity
from console.accounts import roles
from console.accounts.access import require_permission
from console.accounts.models import User
from console.choices import OperationResult
from console.clusters import permissions
from console.clusters.models import Cluster
from console.jobs import jobs
from console.jobs.models import Job
from console.oplog import oplog

from . import access, usage
from .choices import PathKind, PodSecurityLevel, ProjectStatus, TenantRole, TenantStatus
from .models import Membership, NetworkPath, Project, Tenant

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RESERVED_PREFIXES = ("kube-", "caas-", "openshift-")
INVITATION_SALT = "tenants.invitation"
INVITATION_DAYS = 3
TENANT_FIELDS = (
    "display_name",
    "contact",
    "time_zone",
    "limits",
    "max_namespaces",
    "default_quota",
    "default_limit_range",
    "pod_security",
)


def check_dns_label(value: str, what: str, max_length: int = 63) -> None:
    if not value or len(value) > max_length or not DNS_LABEL.match(value):
        raise ValidationError(
            _(
                "%(what)s %(value)s is not valid: use at most %(max)s lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (DNS-1123 label)."
            )
            % {"what": what, "value": repr(value), "max": max_length}
        )


def _tenant_target(tenant, **extra):
    return {"tenant": tenant.name, "kind": "Tenant", "name": tenant.name, **extra}


def _snapshot(tenant):
    return {
        **{f: getattr(tenant, f) for f in TENANT_FIELDS},
        "clusters": sorted(c.name for c in tenant.clusters.all()),
        "status": tenant.status,
    }


# --- tenants ------------------------------------------------------------------------


def _check_pod_security(level):
    if level not in PodSecurityLevel.values:
        raise ValidationError(
            _("Unknown Pod Security level %(level)s: choose restricted or baseline.") % {"level": repr(level)}
        )


def create_tenant(
    *,
    acting_user: User,
    name: str,
    display_name: str,
    contact: str = "",
    clusters: Iterable[Cluster] = (),
    limits: dict | None = None,
    max_namespaces: int | None = None,
    default_quota: dict | None = None,
    default_limit_range: dict | None = None,
    time_zone: str = "Asia/Shanghai",
    pod_security: str = PodSecurityLevel.RESTRICTED,
) -> Tenant:
    target = {"tenant": name, "kind": "Tenant", "name": name}
    with oplog.recorded(acting_user, "tenant.create", target=target) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators create tenants."))
        check_dns_label(name, _("Tenant name"), max_length=30)
        if any(name.startswith(prefix.rstrip("-")) for prefix in RESERVED_PREFIXES):
            raise ValidationError(_("Tenant names may not start with kube, caas or openshift."))
        if Tenant.objects.filter(name=name).exists():
            raise ValidationError(_("A tenant named %(name)s exists already.") % {"name": name})
        # Namespaces are <tenant>-<name>: with tenants "rival" and "rival-x", "rival-x-dev" could be either's.
        if Tenant.objects.filter(Q(name__in=_hyphen_prefixes(name)) | Q(name__startswith=name + "-")).exists():
            raise ValidationError(
                _(
                    "A tenant name may not be another tenant's name followed by '-' and more, nor "
                    "the start of one: their namespaces (<tenant>-<name>) would be mistaken for each "
                    "other. Choose another name."
                )
            )
        _check_pod_security(pod_security)
        tenant = Tenant(
            name=name,
            display_name=display_name or name,
            contact=contact,
            time_zone=time_zone,
            pod_security=pod_security,
            created_by=acting_user,
        )
        _set_limits(tenant, limits or {}, max_namespaces, default_quota or {}, default_limit_range or {}, allocated={})
        tenant.save()
        tenant.clusters.set(clusters)
        outcome.after = _snapshot(tenant)
    return tenant


def update_tenant(
    tenant: Tenant,
    *,
    acting_user: User,
    display_name: str,
    contact: str,
    clusters: Iterable[Cluster],
    limits: dict,
    max_namespaces: int | None,
    default_quota: dict,
    default_limit_range: dict,
    time_zone: str,
    pod_security: str | None = None,
) -> Tenant:
    """Change the tenant (operators only). pod_security None keeps the level; a new level
    queues the provisioning of each ready namespace again, which relabels it."""
    with oplog.recorded(acting_user, "tenant.update", target=_tenant_target(tenant)) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators edit tenants."))
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        outcome.before = _snapshot(tenant)
        projects = list(tenant.projects.exclude(status=ProjectStatus.DELETING))
        in_use = {p.cluster for p in projects}
        dropped = in_use - set(clusters)
        if dropped:
            raise ValidationError(
                _("The tenant still has namespaces on %(clusters)s; delete them before taking the cluster away.")
                % {"clusters": ", ".join(sorted(c.name for c in dropped))}
            )
        if max_namespaces is not None and max_namespaces < len(projects):
            raise ValidationError(
                _("The tenant has %(n)s namespaces already; the limit cannot be lower.") % {"n": len(projects)}
            )
        tenant.display_name, tenant.contact, tenant.time_zone = display_name or tenant.name, contact, time_zone
        level_changed = pod_security is not None and pod_security != tenant.pod_security
        if pod_security is not None:
            _check_pod_security(pod_security)
            tenant.pod_security = pod_security
        allocated = usage.sum_amounts(usage.parse_amounts(p.quota) for p in projects)
        used = usage.sum_amounts(usage.quotas_used(projects).values())
        _set_limits(tenant, limits, max_namespaces, default_quota, default_limit_range, allocated, used)
        tenant.save()
        tenant.clusters.set(clusters)
        outcome.after = _snapshot(tenant)
        if level_changed:  # the namespaces' labels follow: each is provisioned again
            outcome.after["reprovisioning"] = [
                _reprovision(p, acting_user).pk
                for p in projects
                if p.status in (ProjectStatus.ACTIVE, ProjectStatus.FAILED)
            ]
    return tenant


def _reprovision(project, acting_user):
    project.status = ProjectStatus.UPDATING
    project.save(update_fields=["status"])
    return _queue_sync(project, acting_user, "namespace.update")


def _hyphen_prefixes(name):
    """The names that "a-b-c" extends with '-': a, a-b."""
    parts = name.split("-")
    return ["-".join(parts[:i]) for i in range(1, len(parts))]


def _set_limits(tenant, limits, max_namespaces, default_quota, default_limit_range, allocated, used=None):
    """Validate and set the tenant's limits: not below what its namespaces already hold
    (their quotas) or use, and defaults that fit within them."""
    limit_amounts = usage.parse_amounts(limits)
    defaults = usage.parse_amounts(default_quota)
    for resource, limit in limit_amounts.items():
        for what, amounts in ((_("allocated to its namespaces"), allocated), (_("in use"), used or {})):
            if amounts.get(resource, 0) > limit:
                raise ValidationError(
                    _("%(resource)s limit %(limit)s is below what the tenant has %(what)s (%(amount)s).")
                    % {**_shown(resource, limit=limit, amount=amounts[resource]), "what": what}
                )
        if defaults.get(resource, 0) > limit:
            raise ValidationError(
                _("The default namespace quota for %(resource)s is above the tenant limit.") % {"resource": resource}
            )
    _check_limit_range(default_limit_range)
    tenant.limits = _stored(limits)
    tenant.max_namespaces = max_namespaces
    tenant.default_quota = _stored(default_quota)
    tenant.default_limit_range = _stored(default_limit_range)


def _check_limit_range(values):
    for key, value in (values or {}).items():
        if value in (None, ""):
            continue
        try:
            quantity.parse(value)
        except ValueError:
            raise ValidationError(
                _("Container default %(key)s: %(value)s is not a quantity.") % {"key": key, "value": value}
            ) from None
    for resource in ("cpu", "memory"):
        request, limit = values.get(f"request_{resource}"), values.get(f"limit_{resource}")
        if request and limit and quantity.parse(request) > quantity.parse(limit):
            raise ValidationError(
                _("The default %(resource)s request is above the default limit.") % {"resource": resource}
            )


# --- members -----------------------------------------------------------------------


@dataclass
class Invited:
    """What inviting answers: the membership made at once (operators; a new name's account
    comes with a one-time password), or the token of an invitation the invitee accepts."""

    membership: Membership | None = None
    password: str | None = None
    token: str = ""


def invite_member(tenant: Tenant, *, acting_user: User, username: str, role: str = TenantRole.MEMBER) -> Invited:
    """Invite a user name into the tenant.

    Operators, who see every user anyway, add the user at once; a new name gets an account.
    A tenant admin gets an invitation for the user to accept, and the same answer whether
    or not the name has an account or belongs to another tenant: nobody joins a tenant
    without consent, and inviting tells a tenant nothing about other tenants' users."""
    target = _tenant_target(tenant, kind="Membership", name=username)
    with oplog.recorded(acting_user, "tenant.member_add", target=target) as outcome:
        require_permission(access.may_administer(acting_user, tenant), _("Only the tenant's admins invite members."))
        require_permission(tenant.is_active, _("The tenant is suspended."))
        check_dns_label(username, _("User name"), max_length=150)
        if role not in TenantRole.values:
            raise ValidationError(_("Unknown tenant role."))
        # the tenant's own members: no secret
        if Membership.objects.filter(tenant=tenant, user__username=username).exists():
            raise ValidationError(_("%(name)s is a member already.") % {"name": username})
        if not roles.is_operator(acting_user):
            outcome.result = OperationResult.ACCEPTED
            outcome.after = {"user": username, "role": role, "invitation": True}
            claims = {"tenant": tenant.pk, "user": username, "role": role, "by": acting_user.pk}
            token = signing.dumps(claims, salt=INVITATION_SALT)
            return Invited(token=token)
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            # one-time: the new member chooses their own password at first sign-in
            user = User.objects.create_user(username=username, password=password, must_change_password=True)
        elif user.platform_role:
            raise ValidationError(
                _("%(name)s is a platform operator or auditor, not a tenant user.") % {"name": username}
            )
        membership = Membership.objects.create(tenant=tenant, user=user, role=role, invited_by=acting_user)
        outcome.after = {"user": username, "role": role, "new_account": password is not None}
    return Invited(membership=membership, password=password)


@dataclass
class Invitation:
    tenant: Tenant
    username: str
    role: str
    invited_by: object

    @property
    def role_label(self):
        return TenantRole(self.role).label


def read_invitation(token: str) -> Invitation:
    """The invitation a token stands for, while it is valid: signed by us, at most
    INVITATION_DAYS old, its tenant active and its inviter still one of the tenant's admins."""
    invalid = PermissionError(_("This invitation is not valid (any more): ask the tenant's admin for a new one."))
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_DAYS * 24 * 3600)
        tenant = Tenant.objects.filter(pk=data["tenant"]).first()
        inviter = get_user_model().objects.filter(pk=data["by"], is_active=True).first()
        invitation = Invitation(tenant, str(data["user"]), data["role"], inviter)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise invalid from None
    if (
        tenant is None
        or not tenant.is_active
        or inviter is None
        or not access.may_administer(inviter, tenant)
        or invitation.role not in TenantRole.values
    ):
        raise invalid
    return invitation


def accept_invitation(token: str, *, acting_user: User) -> Membership:
    """The invitee, signed in as the invited name, joins the tenant (again: a no-op)."""
    with oplog.recorded(acting_user, "tenant.member_join", target={"kind": "Membership"}) as outcome:
        invitation = read_invitation(token)
        outcome.target.update(_tenant_target(invitation.tenant, kind="Membership", name=invitation.username))
        if acting_user.get_username() != invitation.username:
            raise PermissionError(
                _("This invitation is for %(name)s: sign in as %(name)s to accept it.") % {"name": invitation.username}
            )
        if acting_user.platform_role:
            raise ValidationError(_("Operators and auditors do not join tenants."))
        membership, _created = Membership.objects.get_or_create(
            tenant=invitation.tenant,
            user=acting_user,
            defaults={"role": invitation.role, "invited_by": invitation.invited_by},
        )
        outcome.after = {
            "user": invitation.username,
            "role": membership.role,
            "invited_by": invitation.invited_by.get_username(),
        }
    return membership


def invitation_needs_account(token: str) -> bool:
    """Whether a valid invitation names someone new to the console (its link makes the account)."""
    try:
        invitation = read_invitation(token)
    except PermissionError:
        return False
    return not get_user_model().objects.filter(username=invitation.username).exists()


def join_with_new_account(token: str, *, acting_user: User, password: str) -> Membership:
    """Someone new to the console opens their invitation link: the account of the invited
    name is made with the password they chose, and joins the tenant. The link is good for
    one account: once the name exists, accepting means signing in as it."""
    with oplog.recorded(None, "tenant.member_join", target={"kind": "Membership"}, actor_name="anonymous") as outcome:
        invitation = read_invitation(token)
        outcome.target.update(_tenant_target(invitation.tenant, kind="Membership", name=invitation.username))
        require_permission(not acting_user.is_authenticated, _("Sign out first: this invitation makes a new account."))
        taken = PermissionError(
            _("This invitation is for %(name)s: sign in as %(name)s to accept it.") % {"name": invitation.username}
        )
        try:
            with transaction.atomic():  # a second click racing the first meets the unique name
                user = get_user_model().objects.create_user(username=invitation.username, password=password)
        except IntegrityError:
            raise taken from None
        membership = Membership.objects.create(
            tenant=invitation.tenant, user=user, role=invitation.role, invited_by=invitation.invited_by
        )
        outcome.after = {
            "user": invitation.username,
            "role": membership.role,
            "invited_by": invitation.invited_by.get_username(),
            "new_account": True,
        }
    return membership


def remove_member(tenant: Tenant, *, acting_user: User, membership_id: int) -> None:
    membership = Membership.objects.filter(tenant=tenant, pk=membership_id).select_related("user").first()
    name = membership.user.username if membership else str(membership_id)
    target = _tenant_target(tenant, kind="Membership", name=name)
    with oplog.recorded(acting_user, "tenant.member_remove", target=target) as outcome:
        require_permission(access.may_administer(acting_user, tenant), _("Only the tenant's admins remove members."))
        if membership is None:
            raise ValidationError(_("No such member."))
        admins = Membership.objects.filter(tenant=tenant, role=TenantRole.ADMIN)
        if membership.role == TenantRole.ADMIN and admins.count() == 1 and not roles.is_operator(acting_user):
            raise ValidationError(_("A tenant keeps at least one admin; ask an operator to remove the last one."))
        outcome.before = {"user": name, "role": membership.role}
        membership.delete()


# --- namespaces --------------------------------------------------------------------


def namespace_name(tenant: Tenant, short_name: str) -> str:
    return f"{tenant.name}-{short_name}"


def create_project(
    tenant: Tenant,
    *,
    acting_user: User,
    cluster: Cluster | None,
    short_name: str,
    display_name: str = "",
    quota: dict | None = None,
    limit_range: dict | None = None,
) -> tuple[Project, Job]:
    """Record the namespace and queue its provisioning. The namespace is named
    <tenant>-<short name>, so tenants can never collide with each other or the system."""
    name = namespace_name(tenant, short_name or "")
    target = _tenant_target(tenant, cluster=getattr(cluster, "name", ""), namespace=name, kind="Namespace", name=name)
    payload = {"quota": quota, "limit_range": limit_range}
    with oplog.recorded(acting_user, "namespace.create", target=target, payload=payload) as outcome:
        require_permission(access.may_administer(acting_user, tenant), _("Only the tenant's admins create namespaces."))
        require_permission(tenant.is_active, _("The tenant is suspended."))
        check_dns_label(short_name, _("Namespace name"), max_length=62 - len(tenant.name))
        if cluster is None or not tenant.clusters.filter(pk=cluster.pk).exists():
            raise ValidationError(_("The tenant may not use this cluster."))
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)  # one quota decision at a time per tenant
        projects = list(tenant.projects.all())
        if tenant.max_namespaces is not None and len(projects) >= tenant.max_namespaces:
            raise ValidationError(
                _("The tenant may have %(n)s namespaces and has them all.") % {"n": tenant.max_namespaces}
            )
        taken = Project.objects.filter(cluster=cluster, name=name).first()
        if taken is not None and taken.tenant_id == tenant.pk:
            raise ValidationError(
                _("Namespace %(name)s exists already on %(cluster)s.") % {"name": name, "cluster": cluster.name}
            )
        # Another tenant's namespace, or a name in the space of a tenant whose name extends this
        # one's (tenants named before names were checked: "rival" may not take "rival-x-dev" from
        # "rival-x"): refused without saying whose, or whether anything is there.
        extending = [prefix for prefix in _hyphen_prefixes(name) if len(prefix) > len(tenant.name)] + [name]
        if taken is not None or Tenant.objects.filter(name__in=extending).exists():
            raise ValidationError(_("The namespace name %(name)s is not available; choose another.") % {"name": name})
        quota = dict(tenant.default_quota if quota is None else quota)
        limit_range = dict(tenant.default_limit_range if limit_range is None else limit_range)
        _check_quota_fits(tenant, quota, others=projects)
        _check_limit_range(limit_range)
        project = Project.objects.create(
            tenant=tenant,
            cluster=cluster,
            name=name,
            display_name=display_name,
            quota=quota,
            limit_range=limit_range,
            created_by=acting_user,
            status=ProjectStatus.CREATING,
        )
        job = outcome.accepted(
            _queue_sync(project, acting_user, "namespace.create"), quota=quota, limit_range=limit_range
        )
    return project, job


def update_project(project: Project, *, acting_user: User, quota: dict, limit_range: dict) -> Job:
    tenant = project.tenant
    target = _project_target(project)
    with oplog.recorded(acting_user, "namespace.update", target=target) as outcome:
        require_permission(
            access.may_administer(acting_user, tenant), _("Only the tenant's admins change namespace quotas.")
        )
        require_permission(tenant.is_active, _("The tenant is suspended."))
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        project = Project.objects.get(pk=project.pk)
        _require_idle(project)
        outcome.before = {"quota": project.quota, "limit_range": project.limit_range}
        _check_quota_fits(tenant, quota, others=tenant.projects.exclude(pk=project.pk))
        used = usage.quota_used(project)
        for resource, amount in usage.parse_amounts(quota).items():
            if used.get(resource, 0) > amount:
                raise ValidationError(
                    _("%(resource)s quota %(amount)s is below what the namespace uses now (%(used)s).")
                    % _shown(resource, amount=amount, used=used[resource])
                )
        _check_limit_range(limit_range)
        project.quota = _stored(quota)
        project.limit_range = _stored(limit_range)
        project.status = ProjectStatus.UPDATING
        project.save()
        job = outcome.accepted(
            _queue_sync(project, acting_user, "namespace.update"), quota=project.quota, limit_range=project.limit_range
        )
    return job


def _check_quota_fits(tenant, quota, others):
    amounts = usage.parse_amounts(quota)
    allocated = usage.sum_amounts(usage.parse_amounts(p.quota) for p in others)
    for resource, limit in usage.parse_amounts(tenant.limits).items():
        if resource not in amounts:
            raise ValidationError(
                _("The tenant has a %(resource)s limit, so every namespace needs a %(resource)s quota.")
                % {"resource": resource}
            )
        if allocated.get(resource, 0) + amounts[resource] > limit:
            free = max(limit - allocated.get(resource, 0), 0)
            raise ValidationError(
                _("%(resource)s: asking for %(amount)s, but only %(free)s of the tenant's %(limit)s is left.")
                % _shown(resource, amount=amounts[resource], free=free, limit=limit)
            )


def _shown(resource, **amounts):
    """A message's parameters: the resource, and each amount of it as people read it."""
    return {"resource": resource, **{name: usage.display(resource, amount) for name, amount in amounts.items()}}


def _stored(values):
    """The filled-in values, as strings: what a tenant or namespace keeps of a form's amounts."""
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


def _require_idle(project):
    if jobs.active_for_tenant(project.tenant_id).filter(cluster=project.cluster.name, namespace=project.name).exists():
        raise ValidationError(_("An operation on this namespace is still running; wait for it to finish."))


def _project_target(project, **extra):
    return {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": "Namespace",
        "name": project.name,
        **extra,
    }


def _project_job(project, acting_user, kind):
    return jobs.create_job(
        kind,
        requested_by=acting_user,
        target=_project_target(project),
        tenant=(project.tenant_id, project.tenant.name),
        payload={"project": project.pk},
    )


def _queue_sync(project, acting_user, kind):
    # A cluster added for read-only use: refuse now rather than fail at the job's first 403.
    blocked = permissions.refusal(project.cluster, "namespaces", "impersonation")
    if blocked:
        raise ValidationError(blocked)
    return _project_job(project, acting_user, kind)


def delete_project(project: Project, *, acting_user: User, confirm_name: str) -> Job:
    with oplog.recorded(acting_user, "namespace.delete", target=_project_target(project)) as outcome:
        require_permission(
            access.may_administer(acting_user, project.tenant), _("Only the tenant's admins delete namespaces.")
        )
        require_permission(project.tenant.is_active or roles.is_operator(acting_user), _("The tenant is suspended."))
        if confirm_name != project.name:
            raise ValidationError(_("Type the namespace's name to confirm."))
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.status != ProjectStatus.FAILED:
            _require_idle(project)
        project.status = ProjectStatus.DELETING
        project.save(update_fields=["status"])
        outcome.before = {"quota": project.quota}
        job = outcome.accepted(_project_job(project, acting_user, "namespace.delete"))
    return job


def retry_project(project: Project, *, acting_user: User) -> Job:
    """Run a failed namespace's provisioning again (the steps are idempotent)."""
    with oplog.recorded(acting_user, "namespace.retry", target=_project_target(project)) as outcome:
        require_permission(access.may_administer(acting_user, project.tenant), _("Only the tenant's admins do this."))
        require_permission(project.tenant.is_active, _("The tenant is suspended."))
        project = Project.objects.select_for_update().get(pk=project.pk)
        _require_idle(project)
        project.status = ProjectStatus.UPDATING
        project.save(update_fields=["status"])
        job = outcome.accepted(_queue_sync(project, acting_user, "namespace.update"))
    return job


# --- network paths -----------------------------------------------------------------


def add_path(
    project: Project, *, acting_user: User, kind: str, peer_namespace: str = "", cidr: str = "", port: int | None = None
) -> tuple[NetworkPath, Job]:
    tenant = project.tenant
    target = _project_target(project, kind="NetworkPolicy", name=peer_namespace or cidr)
    payload = {"kind": kind, "peer": peer_namespace, "cidr": cidr, "port": port}
    with oplog.recorded(acting_user, "network.path_add", target=target, payload=payload) as outcome:
        require_permission(
            access.may_administer(acting_user, tenant), _("Only the tenant's admins open network paths.")
        )
        require_permission(tenant.is_active, _("The tenant is suspended."))
        if port is not None and not 1 <= port <= 65535:
            raise ValidationError(_("Ports go from 1 to 65535."))
        cross_tenant = False
        if kind == PathKind.NAMESPACE:
            check_dns_label(peer_namespace, _("Namespace"))
            peer = Project.objects.filter(cluster=project.cluster, name=peer_namespace).first()
            same_tenant = peer is not None and peer.tenant_id == tenant.pk
            if not same_tenant and not roles.is_operator(acting_user):
                raise ValidationError(
                    _(
                        "Namespace %(name)s is not one of this tenant's namespaces on %(cluster)s; "
                        "only operators open paths across tenants."
                    )
                    % {"name": peer_namespace, "cluster": project.cluster.name}
                )
            if peer_namespace == project.name:
                raise ValidationError(_("Traffic inside a namespace is allowed already."))
            cross_tenant = not same_tenant
        elif kind == PathKind.CIDR:
            try:
                cidr = str(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                raise ValidationError(
                    _("%(cidr)s is not an IP block (example: 10.20.0.0/16).") % {"cidr": repr(cidr)}
                ) from None
        else:
            raise ValidationError(_("Unknown kind of path."))
        _require_idle(project)
        path = NetworkPath.objects.create(
            project=project,
            kind=kind,
            port=port,
            cross_tenant=cross_tenant,
            peer_namespace=peer_namespace if kind == PathKind.NAMESPACE else "",
            cidr=cidr if kind == PathKind.CIDR else "",
            created_by=acting_user,
        )
        job = outcome.accepted(
            _queue_sync(project, acting_user, "namespace.update"),
            path=path.pk,
            policy=path.policy_name,
            cross_tenant=cross_tenant,
        )
    return path, job


def remove_path(project: Project, *, acting_user: User, path_id: int) -> Job:
    path = NetworkPath.objects.filter(project=project, pk=path_id).first()
    target = _project_target(project, kind="NetworkPolicy", name=path.policy_name if path else str(path_id))
    with oplog.recorded(acting_user, "network.path_remove", target=target) as outcome:
        require_permission(
            access.may_administer(acting_user, project.tenant), _("Only the tenant's admins close network paths.")
        )
        if path is None:
            raise ValidationError(_("No such path."))
        if path.cross_tenant and not roles.is_operator(acting_user):
            raise PermissionError(_("Only operators change paths across tenants."))
        _require_idle(project)
        outcome.before = {"kind": path.kind, "peer": path.peer_namespace, "cidr": path.cidr, "port": path.port}
        path.delete()
        job = outcome.accepted(_queue_sync(project, acting_user, "namespace.update"))
    return job


# --- suspend, resume, delete ----------------------------------------------------------


def _tenant_job(tenant, acting_user, kind):
    return jobs.create_job(
        kind,
        requested_by=acting_user,
        target={"kind": "Tenant", "name": tenant.name},
        tenant=(tenant.pk, tenant.name),
        payload={"tenant": tenant.pk},
    )


def _lock_idle(tenant, status=None, wrong_status=""):
    """The tenant, locked for the change; refused while its jobs run, or unless it is in `status`."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if status is not None and tenant.status != status:
        raise ValidationError(wrong_status)
    if jobs.active_for_tenant(tenant.pk).exists():
        raise ValidationError(_("Operations of this tenant are still running; wait for them to finish."))
    return tenant


def suspend_tenant(tenant: Tenant, *, acting_user: User) -> Job:
    with oplog.recorded(acting_user, "tenant.suspend", target=_tenant_target(tenant)) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators suspend tenants."))
        tenant = _lock_idle(tenant, TenantStatus.ACTIVE, _("Only an active tenant can be suspended."))
        tenant.status = TenantStatus.SUSPENDED
        tenant.save(update_fields=["status"])
        job = outcome.accepted(_tenant_job(tenant, acting_user, "tenant.suspend"), status=tenant.status)
    return job


def resume_tenant(tenant: Tenant, *, acting_user: User) -> Job:
    with oplog.recorded(acting_user, "tenant.resume", target=_tenant_target(tenant)) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators resume tenants."))
        tenant = _lock_idle(tenant, TenantStatus.SUSPENDED, _("Only a suspended tenant can be resumed."))
        # the task sets it active once replicas are back
        job = outcome.accepted(_tenant_job(tenant, acting_user, "tenant.resume"))
    return job


def delete_tenant(tenant: Tenant, *, acting_user: User, confirm_name: str) -> Job:
    with oplog.recorded(acting_user, "tenant.delete", target=_tenant_target(tenant)) as outcome:
        require_permission(roles.is_operator(acting_user), _("Only operators delete tenants."))
        if confirm_name != tenant.name:
            raise ValidationError(_("Type the tenant's name to confirm."))
        tenant = _lock_idle(tenant)
        namespaces = [f"{p.cluster.name}/{p.name}" for p in tenant.projects.all()]
        outcome.before = _snapshot(tenant) | {"namespaces": namespaces}
        tenant.status = TenantStatus.DELETING
        tenant.save(update_fields=["status"])
        tenant.projects.update(status=ProjectStatus.DELETING)
        job = outcome.accepted(_tenant_job(tenant, acting_user, "tenant.delete"))
    return job


def switch_tenant(session: SessionBase, user: User, tenant_name: str) -> Tenant:
    """Remember which of the user's tenants the header shows."""
    tenant = access.get_tenant(user, tenant_name)
    session["tenant"] = tenant.name
    return tenant
