"""Celery work of the tenants app: provisioning, updating and deleting namespaces,
suspending, resuming and deleting tenants. Every step is idempotent (server-side apply,
deletes that accept "already gone"), so a retried or repeated job converges."""

import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from console.jobs import jobs

from console.oplog import oplog
from console.jobs.jobs import JobFailed
from console.choices import OperationResult
from console.kube.cluster_api import CONSOLE, ApiRefused, ClusterAPI

from . import access, manifests
from .choices import ProjectStatus, TenantStatus
from .models import Project, SuspendedWorkload, Tenant
from .signals import namespace_provisioned

MAX_RETRIES = 5
SCALED_KINDS = ("Deployment", "StatefulSet")


@shared_task(bind=True, max_retries=MAX_RETRIES)
def run_tenant_job(self, job_id):
    jobs.run(self, job_id, RUNNERS, succeeded=_succeed, failed=_fail)


def _succeed(job, _outcome):
    jobs.finish(job)
    _record(job, job.kind + ".finish", OperationResult.SUCCEEDED)
    if job.kind in ("namespace.create", "namespace.update"):
        project = Project.objects.filter(pk=job.payload.get("project")).first()
        if project:
            namespace_provisioned.send(sender=Project, project=project, restore_workloads=job.payload.get("restore_workloads", False))


def _fail(job, error):
    if job.kind in ("namespace.create", "namespace.update"):
        project = Project.objects.filter(pk=job.payload.get("project")).first()
        if project:
            _set_status(job, project, ProjectStatus.FAILED)
    jobs.finish(job, error=error)
    _record(job, job.kind + ".finish", OperationResult.FAILED, error=error)


def _record(job, action, result, *, kind="", name="", namespace=None, before=None, after=None, error=""):
    if job.payload.get("restore_workloads") and result == OperationResult.SUCCEEDED:
        return  # the embedded sandbox restored at a start: its "cluster.attach_embedded" entry says so; failures still count
    target = {"tenant": job.tenant_name, "cluster": job.cluster, "namespace": job.namespace if namespace is None else namespace,
              "kind": kind or job.target_kind, "name": name or job.target_name}
    oplog.record(job.requested_by, action, result=result, actor_name="system", target=target,
                 before=before, after=after, payload={"job": job.pk}, error=error)


def _apply(job, api, obj):
    meta = obj["metadata"]
    namespace = meta.get("namespace") or (meta["name"] if obj["kind"] == "Namespace" else "")
    try:
        api.apply(obj)
    except ApiRefused as exc:
        jobs.step(job, _("%(kind)s %(name)s: %(error)s") % {"kind": obj["kind"], "name": meta["name"], "error": exc.message}, ok=False)
        _record(job, "namespace.apply", OperationResult.FAILED, kind=obj["kind"], name=meta["name"], namespace=namespace, error=exc.message)
        raise
    jobs.step(job, _("Applied %(kind)s %(name)s") % {"kind": obj["kind"], "name": meta["name"]})
    _record(job, "namespace.apply", OperationResult.SUCCEEDED, kind=obj["kind"], name=meta["name"], namespace=namespace,
            after={"spec": obj.get("spec"), "labels": meta.get("labels")})


# --- namespaces ------------------------------------------------------------------------


def sync_project(job):
    """Bring the namespace and everything the console keeps in it to what the Project says."""
    project = Project.objects.select_related("tenant", "cluster").get(pk=job.payload["project"])
    tenant = project.tenant
    requester = job.requested_by
    with ClusterAPI(project.cluster) as api:
        existing = api.get("Namespace", project.name)
        if existing:
            owner = (existing["metadata"].get("labels") or {}).get(manifests.TENANT_LABEL)
            if owner != tenant.name:
                raise JobFailed(_("Namespace %(name)s exists on %(cluster)s and does not belong to this tenant; the console will not take it over.")
                                % {"name": project.name, "cluster": project.cluster.name})
            if existing["metadata"].get("deletionTimestamp"):
                raise JobFailed(_("Namespace %(name)s is being deleted on the cluster; try again once it is gone.") % {"name": project.name})
        _apply(job, api, manifests.namespace(project, requested_by=requester.get_username() if requester else ""))
        _apply(job, api, manifests.resource_quota(project))
        if project.limit_range:
            _apply(job, api, manifests.limit_range(project))
        elif api.delete("LimitRange", manifests.LIMIT_RANGE_NAME, project.name):
            jobs.step(job, _("Removed LimitRange %(name)s") % {"name": manifests.LIMIT_RANGE_NAME})
        for obj in manifests.role_bindings(project) + manifests.network_policies(project):
            _apply(job, api, obj)
        _sync_paths(job, api, project)
        _sync_calico(job, api, tenant, project.cluster)
    _set_status(job, project, ProjectStatus.ACTIVE)
    jobs.step(job, _("Namespace %(name)s is ready.") % {"name": project.name})


def _set_status(job, project, status):
    """Save the namespace's status and show it on the namespace's pages."""
    project.status = status
    project.save(update_fields=["status"])
    jobs.push_fragment(job, "tenants/_project_status.html", {"project": project}, to_group=access.project_group(project))


def _sync_paths(job, api, project):
    """Extra paths: applied as the person who asked when that is a tenant admin, so the
    cluster's RBAC checks them too; cross-tenant ones (operators only) also open the
    peer's egress. Policies of paths that are gone are removed."""
    identity = access.identity_for(job.requested_by, project.tenant) if job.requested_by else CONSOLE
    wanted = set()
    with ClusterAPI(project.cluster, identity) as as_requester:
        for path in project.paths.all():
            _apply(job, as_requester if not path.cross_tenant else api, manifests.path_policy(path))
            wanted.add(path.policy_name)
            if path.cross_tenant:
                peer = Project.objects.filter(cluster=project.cluster, name=path.peer_namespace).select_related("tenant").first()
                _apply(job, api, manifests.peer_egress_policy(path, peer.tenant.name if peer else ""))
                wanted.add(f"{path.policy_name}-egress")
    selector = f"{manifests.PATH_OF_LABEL}={project.name}"
    for policy in api.list("NetworkPolicy", label_selector=selector):
        meta = policy["metadata"]
        if meta["name"] not in wanted:
            api.delete("NetworkPolicy", meta["name"], meta["namespace"])
            jobs.step(job, _("Removed NetworkPolicy %(name)s") % {"name": f"{meta['namespace']}/{meta['name']}"})
            _record(job, "namespace.delete_object", OperationResult.SUCCEEDED, kind="NetworkPolicy", name=meta["name"], namespace=meta["namespace"])


def _sync_calico(job, api, tenant, cluster):
    calico = api.has_api_group("crd.projectcalico.org")
    if calico:
        _apply(job, api, manifests.global_network_policy(tenant))
    else:
        jobs.step(job, _("Calico's CRDs are not on %(cluster)s: only Kubernetes NetworkPolicies isolate this tenant there.") % {"cluster": cluster.name})
    Tenant.objects.filter(pk=tenant.pk).update(
        isolation={**Tenant.objects.get(pk=tenant.pk).isolation, cluster.name: {"calico": calico, "checked_at": timezone.now().isoformat()}}
    )


def delete_project(job):
    project = Project.objects.select_related("tenant", "cluster").filter(pk=job.payload["project"]).first()
    if project is not None:
        _remove_namespace(job, project)


def _remove_namespace(job, project):
    with ClusterAPI(project.cluster) as api:
        for policy in api.list("NetworkPolicy", label_selector=f"{manifests.PATH_OF_LABEL}={project.name}"):
            meta = policy["metadata"]
            if meta["namespace"] != project.name:  # the peer side of cross-tenant paths
                api.delete("NetworkPolicy", meta["name"], meta["namespace"])
        if api.delete("Namespace", project.name):
            jobs.step(job, _("Deleting namespace %(name)s and everything in it") % {"name": project.name})
            _record(job, "namespace.delete_object", OperationResult.SUCCEEDED, kind="Namespace", name=project.name, namespace=project.name)
        _wait_until_gone(job, api, project.name)
    project.delete()
    jobs.step(job, _("Namespace %(name)s is gone.") % {"name": project.name})


def _wait_until_gone(job, api, name):
    deadline = time.monotonic() + settings.CAAS_NAMESPACE_DELETE_TIMEOUT
    last_message = ""
    while True:
        namespace = api.get("Namespace", name)
        if namespace is None:
            return
        if time.monotonic() > deadline:
            raise JobFailed(_("Namespace %(name)s is still terminating after %(seconds)s s: %(message)s")
                            % {"name": name, "seconds": settings.CAAS_NAMESPACE_DELETE_TIMEOUT, "message": last_message})
        conditions = (namespace.get("status") or {}).get("conditions") or []
        message = "; ".join(c.get("message", "") for c in conditions if c.get("status") == "True")
        if message and message != last_message:
            jobs.step(job, f"{name}: {message}")
            last_message = message
        time.sleep(0.5)


# --- tenants ---------------------------------------------------------------------------


def suspend_tenant(job):
    """Scale every Deployment and StatefulSet of the tenant to zero, remembering the
    replica counts first (a retry keeps the first record, not the zero)."""
    tenant = Tenant.objects.get(pk=job.payload["tenant"])
    for project in tenant.projects.select_related("cluster").exclude(status=ProjectStatus.DELETING):
        with ClusterAPI(project.cluster) as api:
            for kind in SCALED_KINDS:
                for obj in api.list(kind, namespace=project.name):
                    name, replicas = obj["metadata"]["name"], (obj.get("spec") or {}).get("replicas", 1)
                    record, _created = SuspendedWorkload.objects.get_or_create(
                        tenant=tenant, cluster=project.cluster, namespace=project.name, kind=kind, name=name,
                        defaults={"replicas": replicas})
                    if replicas:
                        api.scale(kind, name, project.name, 0)
                        jobs.step(job, _("Scaled %(kind)s %(name)s from %(from)s to %(to)s") % {"kind": kind, "name": f"{project.name}/{name}",
                                                                                             "from": replicas, "to": 0})
                        _record(job, "workload.scale", OperationResult.SUCCEEDED, kind=kind, name=name, namespace=project.name,
                                before={"replicas": replicas}, after={"replicas": 0, "reason": "tenant suspended"})
    jobs.step(job, _("Tenant %(name)s is suspended.") % {"name": tenant.name})


def resume_tenant(job):
    tenant = Tenant.objects.get(pk=job.payload["tenant"])
    for record in tenant.suspended_workloads.select_related("cluster"):
        with ClusterAPI(record.cluster) as api:
            try:
                api.scale(record.kind, record.name, record.namespace, record.replicas)
            except ApiRefused as exc:
                if exc.status != 404:
                    raise
                jobs.step(job, _("%(kind)s %(name)s is gone; nothing to restore.") % {"kind": record.kind, "name": f"{record.namespace}/{record.name}"})
            else:
                jobs.step(job, _("Scaled %(kind)s %(name)s back to %(replicas)s") % {"kind": record.kind, "name": f"{record.namespace}/{record.name}",
                                                                                      "replicas": record.replicas})
                _record(job, "workload.scale", OperationResult.SUCCEEDED, kind=record.kind, name=record.name, namespace=record.namespace,
                        before={"replicas": 0}, after={"replicas": record.replicas, "reason": "tenant resumed"})
        record.delete()
    Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.ACTIVE)
    jobs.step(job, _("Tenant %(name)s is active again.") % {"name": tenant.name})


def delete_tenant(job):
    tenant = Tenant.objects.filter(pk=job.payload["tenant"]).first()
    if tenant is None:
        return
    for project in tenant.projects.select_related("cluster", "tenant"):
        _remove_namespace(job, project)
    for cluster in tenant.clusters.all():
        if tenant.isolation.get(cluster.name, {}).get("calico"):
            with ClusterAPI(cluster) as api:
                api.delete("GlobalNetworkPolicy", f"caas-tenant-{tenant.name}")
    tenant.delete()
    jobs.step(job, _("Tenant %(name)s is deleted.") % {"name": tenant.name})


RUNNERS = {
    "namespace.create": sync_project,
    "namespace.update": sync_project,
    "namespace.delete": delete_project,
    "tenant.suspend": suspend_tenant,
    "tenant.resume": resume_tenant,
    "tenant.delete": delete_tenant,
}
# Every step converges when repeated: a job whose worker died is simply run again.
jobs.register_task(run_tenant_job, RUNNERS, failed=_fail, idempotent=True)
