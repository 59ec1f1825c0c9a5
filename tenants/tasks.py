"""Celery work of the tenants app: provisioning, updating and deleting namespaces,
suspending, resuming and deleting tenants. Every step is idempotent (server-side apply,
deletes that accept "already gone"), so a retried or repeated job converges."""

import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from console.choices import JobStatus, OperationResult
from console.jobs import jobs
from console.jobs.jobs import JobFailed
from console.kube.api import CONSOLE, ClusterAPI
from console.kube.errors import ApiRefused
from console.texts import message

from . import access, manifests
from .choices import PathKind, ProjectStatus, TenantStatus
from .models import NetworkPath, Project, SuspendedWorkload, Tenant
from .signals import namespace_provisioned

MAX_RETRIES = 5
SCALED_KINDS = ("Deployment", "StatefulSet")


NAMESPACE_KINDS = ("namespace.create", "namespace.update")

NOT_OURS = message(
    "Namespace %(name)s exists on %(cluster)s and does not belong to this tenant; the console will not take it over."
)
BEING_DELETED = message("Namespace %(name)s is being deleted on the cluster; try again once it is gone.")
REMOVED_LIMIT_RANGE = message("Removed LimitRange %(name)s")
REMOVED_POLICY = message("Removed NetworkPolicy %(name)s")
NAMESPACE_READY = message("Namespace %(name)s is ready.")
NO_CALICO = message("Calico's CRDs are not on %(cluster)s: only Kubernetes NetworkPolicies isolate this tenant there.")
DELETING_NAMESPACE = message("Deleting namespace %(name)s and everything in it")
NAMESPACE_GONE = message("Namespace %(name)s is gone.")
STILL_TERMINATING = message("Namespace %(name)s is still terminating after %(seconds)s s: %(message)s")
SCALED_DOWN = message("Scaled %(kind)s %(name)s from %(before)s to %(after)s")
NOTHING_TO_RESTORE = message("%(kind)s %(name)s is gone; nothing to restore.")
SCALED_BACK = message("Scaled %(kind)s %(name)s back to %(replicas)s")
SUSPENDED = message("Tenant %(name)s is suspended.")
ACTIVE_AGAIN = message("Tenant %(name)s is active again.")
TENANT_DELETED = message("Tenant %(name)s is deleted.")


@shared_task(bind=True, max_retries=MAX_RETRIES)
def run_tenant_job(self, job_id):
    jobs.run(self, job_id)


def _namespace_of(job):
    return Project.objects.filter(pk=job.payload.get("project")).first() if job.kind in NAMESPACE_KINDS else None


def _failing(job, _error):
    project = _namespace_of(job)
    if project:
        _set_status(job, project, ProjectStatus.FAILED)


def _ended(job, _outcome):
    project = _namespace_of(job) if job.status == JobStatus.SUCCEEDED else None
    if project:
        namespace_provisioned.send(
            sender=Project, project=project, restore_workloads=job.payload.get("restore_workloads", False)
        )


def _records(job, _action, result):
    # The embedded sandbox restored at a start: its "cluster.attach_embedded" entry says so; failures still count.
    return not (job.payload.get("restore_workloads") and result == OperationResult.SUCCEEDED)


def _apply(job, api, obj):
    jobs.apply(
        job,
        api,
        obj,
        action="namespace.apply",
        after={"spec": obj.get("spec"), "labels": obj["metadata"].get("labels")},
    )


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
                raise JobFailed(NOT_OURS(name=project.name, cluster=project.cluster.name))
            if existing["metadata"].get("deletionTimestamp"):
                raise JobFailed(BEING_DELETED(name=project.name))
        _apply(job, api, manifests.namespace(project, requested_by=requester.get_username() if requester else ""))
        _apply(job, api, manifests.resource_quota(project))
        if project.limit_range:
            _apply(job, api, manifests.limit_range(project))
        elif api.delete("LimitRange", manifests.LIMIT_RANGE_NAME, project.name):
            jobs.step(job, REMOVED_LIMIT_RANGE(name=manifests.LIMIT_RANGE_NAME))
        for obj in manifests.role_bindings(project) + manifests.network_policies(project):
            _apply(job, api, obj)
        _sync_paths(job, api, project)
        _sync_calico(job, api, tenant, project.cluster)
    _set_status(job, project, ProjectStatus.ACTIVE)
    jobs.step(job, NAMESPACE_READY(name=project.name))


def _set_status(job, project, status):
    """Save the namespace's status and show it on the namespace's pages."""
    project.status = status
    project.save(update_fields=["status"])
    jobs.push_fragment(
        job, "tenants/_project_status.html", {"project": project}, to_group=access.project_group(project)
    )


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
                peer = (
                    Project.objects.filter(cluster=project.cluster, name=path.peer_namespace)
                    .select_related("tenant")
                    .first()
                )
                _apply(job, api, manifests.peer_egress_policy(path, peer.tenant.name if peer else ""))
                wanted.add(f"{path.policy_name}-egress")
    selector = f"{manifests.PATH_OF_LABEL}={project.name}"
    for policy in api.list("NetworkPolicy", label_selector=selector):
        meta = policy["metadata"]
        if meta["name"] not in wanted:
            api.delete("NetworkPolicy", meta["name"], meta["namespace"])
            jobs.step(job, REMOVED_POLICY(name=f"{meta['namespace']}/{meta['name']}"))
            jobs.record(
                job,
                "namespace.delete_object",
                OperationResult.SUCCEEDED,
                kind="NetworkPolicy",
                name=meta["name"],
                namespace=meta["namespace"],
            )


def _sync_calico(job, api, tenant, cluster):
    calico = api.has_api_group("crd.projectcalico.org")
    if calico:
        paths = NetworkPath.objects.filter(
            project__tenant=tenant, project__cluster=cluster, kind=PathKind.NAMESPACE, cross_tenant=True
        ).select_related("project")
        _apply(job, api, manifests.global_network_policy(tenant, paths))
    else:
        jobs.step(job, NO_CALICO(cluster=cluster.name))
    Tenant.objects.filter(pk=tenant.pk).update(
        isolation={
            **Tenant.objects.get(pk=tenant.pk).isolation,
            cluster.name: {"calico": calico, "checked_at": timezone.now().isoformat()},
        }
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
            jobs.step(job, DELETING_NAMESPACE(name=project.name))
            jobs.record(
                job,
                "namespace.delete_object",
                OperationResult.SUCCEEDED,
                kind="Namespace",
                name=project.name,
                namespace=project.name,
            )
        wait_until_gone(job, api, project.name)
    project.delete()
    jobs.step(job, NAMESPACE_GONE(name=project.name))


def wait_until_gone(job, api, name):
    deadline = time.monotonic() + settings.CAAS_NAMESPACE_DELETE_TIMEOUT
    last_message = ""
    while True:
        namespace = api.get("Namespace", name)
        if namespace is None:
            return
        if time.monotonic() > deadline:
            raise JobFailed(
                STILL_TERMINATING(name=name, seconds=settings.CAAS_NAMESPACE_DELETE_TIMEOUT, message=last_message)
            )
        conditions = (namespace.get("status") or {}).get("conditions") or []
        message = "; ".join(c.get("message", "") for c in conditions if c.get("status") == "True")
        if message and message != last_message:
            jobs.step(job, f"{name}: {message}")  # the cluster's own words
            last_message = message
        jobs.wait(job, 0.5)


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
                        tenant=tenant,
                        cluster=project.cluster,
                        namespace=project.name,
                        kind=kind,
                        name=name,
                        defaults={"replicas": replicas},
                    )
                    if replicas:
                        api.scale(kind, name, project.name, 0)
                        jobs.step(job, SCALED_DOWN(kind=kind, name=f"{project.name}/{name}", before=replicas, after=0))
                        jobs.record(
                            job,
                            "workload.scale",
                            OperationResult.SUCCEEDED,
                            kind=kind,
                            name=name,
                            namespace=project.name,
                            before={"replicas": replicas},
                            after={"replicas": 0, "reason": "tenant suspended"},
                        )
    jobs.step(job, SUSPENDED(name=tenant.name))


def resume_tenant(job):
    tenant = Tenant.objects.get(pk=job.payload["tenant"])
    for record in tenant.suspended_workloads.select_related("cluster"):
        with ClusterAPI(record.cluster) as api:
            try:
                api.scale(record.kind, record.name, record.namespace, record.replicas)
            except ApiRefused as exc:
                if exc.status != 404:
                    raise
                jobs.step(job, NOTHING_TO_RESTORE(kind=record.kind, name=f"{record.namespace}/{record.name}"))
            else:
                jobs.step(
                    job,
                    SCALED_BACK(kind=record.kind, name=f"{record.namespace}/{record.name}", replicas=record.replicas),
                )
                jobs.record(
                    job,
                    "workload.scale",
                    OperationResult.SUCCEEDED,
                    kind=record.kind,
                    name=record.name,
                    namespace=record.namespace,
                    before={"replicas": 0},
                    after={"replicas": record.replicas, "reason": "tenant resumed"},
                )
        record.delete()
    Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.ACTIVE)
    jobs.step(job, ACTIVE_AGAIN(name=tenant.name))


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
    jobs.step(job, TENANT_DELETED(name=tenant.name))


RUNNERS = {
    "namespace.create": sync_project,
    "namespace.update": sync_project,
    "namespace.delete": delete_project,
    "tenant.suspend": suspend_tenant,
    "tenant.resume": resume_tenant,
    "tenant.delete": delete_tenant,
}
# Every step converges when repeated: a job whose worker died is simply run again.
KINDS = jobs.JobKinds(
    task=run_tenant_job, runners=RUNNERS, idempotent=True, failing=_failing, ended=_ended, records=_records
)
