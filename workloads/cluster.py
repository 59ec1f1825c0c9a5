"""The cluster as workload services and job runners reach it: a session acting as the user
(impersonated), the cluster's refusals in plain words, and the reads and plans they share
(the live workload, its revisions and pods, the calls that expose it)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console.accounts.models import User
from console.clusters.models import Cluster
from console.kube.api import CONSOLE, ClusterAPI, Identity
from console.kube.errors import ApiRefused, ClusterError
from tenants import access
from tenants.models import Project, Tenant

from . import manifests
from .models import App

DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def identity(user: User | None, tenant: Tenant) -> Identity:
    """Whom the cluster sees: the console itself for the system (user None), else access.identity_for."""
    return CONSOLE if user is None else access.identity_for(user, tenant)


@contextmanager
def talking_to(project: Project, user: User | None) -> Iterator[ClusterAPI]:
    """A ClusterAPI acting as the user (impersonated); the cluster's refusals become
    ValidationErrors in Kubernetes' own words."""
    try:
        with ClusterAPI(project.cluster, identity(user, project.tenant)) as api:
            yield api
    except ApiRefused as exc:
        raise ValidationError(_("The cluster refused: %(message)s") % {"message": exc.message}) from None
    except ClusterError as exc:
        raise ValidationError(
            _("Cluster %(cluster)s: %(error)s") % {"cluster": project.cluster.name, "error": exc}
        ) from None


def dry_run(api: ClusterAPI, objects: list[dict]) -> None:
    """Would the cluster accept these objects (server-side apply, dryRun)? Its refusal is raised."""
    for obj in objects:
        api.apply(obj, dry_run=True)


def storage_class_for(cluster: Cluster) -> str:
    """The Ceph RBD StorageClass of the cluster (the default one when there are several)."""
    try:
        with ClusterAPI(cluster) as api:
            classes = [sc for sc in api.list("StorageClass") if sc.get("provisioner") == manifests.CEPH_RBD_PROVISIONER]
    except (ApiRefused, ClusterError) as exc:
        raise ValidationError(_("Cluster %(cluster)s: %(error)s") % {"cluster": cluster.name, "error": exc}) from None
    if not classes:
        raise ValidationError(
            _(
                "Cluster %(cluster)s has no Ceph RBD StorageClass (provisioner %(p)s): stateful apps "
                "cannot get volumes there."
            )
            % {"cluster": cluster.name, "p": manifests.CEPH_RBD_PROVISIONER}
        )
    default = [sc for sc in classes if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
    return (default or classes)[0]["metadata"]["name"]


def live_workload(app: App, api: ClusterAPI) -> dict:
    """The app's Deployment or StatefulSet as the cluster has it now."""
    obj = api.get(app.kind, app.name, app.namespace)
    if obj is None:
        raise ValidationError(_("The app's %(kind)s is not on the cluster any more.") % {"kind": app.kind})
    return obj


def find_revision(api: ClusterAPI, app: App, deployment: dict, revision: int | str) -> dict | None:
    """The Deployment's ReplicaSet of that revision."""
    uid = deployment["metadata"]["uid"]
    for rs in api.list("ReplicaSet", app.namespace, label_selector=manifests.selector_text(app)):
        owners = rs["metadata"].get("ownerReferences") or []
        annotations = rs["metadata"].get("annotations") or {}
        if any(o.get("uid") == uid for o in owners) and annotations.get(manifests.REVISION) == str(revision):
            return rs
    return None


def owned_controller_revisions(api: ClusterAPI, app: App, statefulset: dict) -> list[dict]:
    """The StatefulSet's ControllerRevisions (its revision history), oldest first."""
    uid = statefulset["metadata"]["uid"]
    revisions = [
        r
        for r in api.list("ControllerRevision", app.namespace, label_selector=manifests.selector_text(app))
        if any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])
    ]
    return sorted(revisions, key=lambda r: r.get("revision", 0))


def find_controller_revision(api: ClusterAPI, app: App, statefulset: dict, revision: int | str) -> dict | None:
    revisions = owned_controller_revisions(api, app, statefulset)
    return next((r for r in revisions if str(r.get("revision")) == str(revision)), None)


def app_pod(api: ClusterAPI, app: App, pod_name: str) -> dict:
    """A pod of the app or of its canary; any other name is refused like a missing one."""
    pod = api.get("Pod", pod_name, app.namespace)
    if pod is None or not manifests.belongs_to(app, pod):
        raise ValidationError(_("App %(app)s has no pod named %(pod)s.") % {"app": app.name, "pod": pod_name})
    return pod


def exposure_plan(api: ClusterAPI, app: App, service: dict, route: dict) -> list[Callable[..., object]]:
    """The calls that bring the app's Service and Ingress to what is wanted, each taking
    dry_run: new objects are applied, a live Service is patched, unwanted ones deleted."""
    steps = []
    current = api.get("Service", app.name, app.namespace)
    if service:
        desired = manifests.service(app, service)
        if current is None:
            steps.append(lambda dry_run: api.apply(desired, dry_run=dry_run))
        else:
            operations = manifests.service_patch(current, desired)
            steps.append(
                lambda dry_run: api.json_patch("Service", app.name, app.namespace, operations, dry_run=dry_run)
            )
    if route:
        steps.append(lambda dry_run: api.apply(manifests.ingress(app, route, service["port"]), dry_run=dry_run))
    return steps
