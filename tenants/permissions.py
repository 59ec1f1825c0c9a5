"""What the console's own identity needs on a cluster to provision tenant namespaces (the
guardrail steps tenants/tasks.py runs as the console, not impersonated), registered with
console.clusters.permissions. The kinds come from the manifests the namespace job applies."""

from django.utils.translation import gettext_lazy as _

from console.clusters import permissions
from console.kube.kinds import KINDS

from . import manifests


def provisioned_kinds():
    """The kinds sync_project applies, read off the manifests of an example namespace."""
    from .models import Project, Tenant

    tenant = Tenant(name="example")
    project = Project(tenant=tenant, name="example-ns", quota={}, limit_range={"limit_cpu": "1"})
    objects = [
        manifests.namespace(project),
        manifests.resource_quota(project),
        manifests.limit_range(project),
        *manifests.role_bindings(project),
        *manifests.network_policies(project),
    ]
    return list(dict.fromkeys(obj["kind"] for obj in objects))


def needs():
    kind = KINDS.__getitem__
    # server-side apply is a patch, and a create when the object is new
    applied = [need for name in provisioned_kinds() for need in permissions.needs_for(("create", "patch"), kind(name))]
    return applied + [
        *permissions.needs_for(("get", "delete"), kind("Namespace")),  # owner check; namespace deletion
        *permissions.needs_for(("delete",), kind("LimitRange")),  # container defaults taken away
        *permissions.needs_for(("list", "delete"), kind("NetworkPolicy")),  # paths removed
        *permissions.needs_for(("list",), kind("Deployment")),  # suspending and resuming a tenant scales them
        *permissions.needs_for(("list",), kind("StatefulSet")),
        *permissions.needs_for(("patch",), kind("Deployment"), "scale"),
        *permissions.needs_for(("patch",), kind("StatefulSet"), "scale"),
    ]


def register():
    permissions.register(
        "namespaces",
        _("Tenant namespaces"),
        _(
            "Creating and changing tenant namespaces (labels, quota, container defaults, role bindings, network "
            "isolation) is refused on this cluster; deleting them and suspending tenants would fail."
        ),
        needs,
    )
