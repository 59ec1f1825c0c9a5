"""Storage operations: volumes (PVCs on the Ceph RBD StorageClass) and their backup chains.

Each takes the acting user, checks the rules (tenant access, quota, the chain's shape, what
mounts the volume), writes the operation log (`oplog.recorded`) and queues a Job; the Celery
task (tasks.py, queue `ceph`) does the Kubernetes and Ceph work. Nothing here calls Ceph:
the checks that need the cluster read it through the Kubernetes API as the user."""

import datetime
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from console import quantity, texts
from console.accounts.access import require_permission
from console.accounts.models import User
from console.ceph import config as ceph_config
from console.ceph.errors import CephNotConfigured
from console.clusters.models import MirroredObject
from console.jobs import jobs
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.oplog import oplog
from tenants import access
from tenants.choices import ProjectStatus
from tenants.models import Project
from workloads.checks import check_may_change as check_workloads
from workloads.cluster import storage_class_for, talking_to
from workloads.manifests import APP_LABEL
from workloads.models import App

from .choices import BackupKind, BackupMethod, BackupStatus, VolumeStatus
from .models import Backup, BackupPolicy, Volume

SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MIN_SIZE = 1 << 20  # 1 MiB: ceph-csi rounds up to whole MiB
MAX_SIZE = 64 << 40  # 64 TiB
ENDED = ("Succeeded", "Failed")


# --- checks ------------------------------------------------------------------------


def check_may_change(user: User | None, project: Project) -> None:
    """The user may change the namespace's volumes; the namespace and cluster take changes."""
    require_permission(
        access.may_operate(user, project.tenant),
        _("Only the tenant's members and operators change its volumes and backups."),
    )
    check_workloads(user, project)


def parse_size(text: object, field: str = "size") -> int:
    try:
        size = quantity.parse(text)
    except ValueError:
        raise ValidationError(
            {field: _("%(text)s is not a size: write it like 10Gi or 512Mi.") % {"text": text}}
        ) from None
    if size != size.to_integral_value() or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValidationError({field: _("A volume has from 1Mi to 64Ti.")})
    return int(size)


def check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError(
            {
                "name": _(
                    "Use lower-case letters, digits and '-', at most 63 characters, starting and "
                    "ending with a letter or digit."
                )
            }
        )


def require_ceph() -> None:
    """Backups need the console's own access to Ceph (CEPH_CONF and CEPH_KEYRING)."""
    try:
        ceph_config.from_settings()
    except CephNotConfigured as exc:
        raise ValidationError(str(exc)) from None


def backup_method(api: ClusterAPI) -> str:
    """How the cluster's volumes are backed up now: through Ceph when the console reaches it
    (RBD snapshots and export-diff chains), else through the cluster's snapshot API (CSI
    VolumeSnapshots, each one full); neither: refused, saying how to enable either."""
    if ceph_config.is_configured():
        return BackupMethod.RBD
    if api.has_api_group(SNAPSHOT_GROUP):
        return BackupMethod.CSI
    not_configured = ceph_config.NOT_CONFIGURED(missing=", ".join(ceph_config.missing_settings()))
    raise ValidationError(
        _("No way to back up: %(ceph)s Or use a cluster that serves the snapshot API (%(group)s).")
        % {"ceph": str(not_configured), "group": SNAPSHOT_GROUP}
    )


def require_node_method(node: Backup) -> None:
    """What operating on the node needs: Ceph for an RBD node (a CSI node goes through the cluster)."""
    if node.method == BackupMethod.RBD:
        require_ceph()


def check_volume(user: User | None, volume: Volume) -> None:
    check_may_change(user, volume.project)
    if volume.busy:
        raise ValidationError(
            _("Volume %(name)s is busy (%(status)s): wait until that ends.")
            % {"name": volume.name, "status": volume.get_status_display()}
        )
    if volume.status == VolumeStatus.FAILED and not volume.image:
        raise ValidationError(_("Volume %(name)s was never created: delete it.") % {"name": volume.name})


def check_no_backup_running(volume: Volume) -> None:
    running = volume.backups.filter(status__in=BackupStatus.active()).first()
    if running is not None:
        raise ValidationError(
            _("Backup %(node)s of %(name)s is still %(status)s: wait until it ends.")
            % {"node": running, "name": volume.name, "status": running.get_status_display()}
        )


def check_storage_quota(api: ClusterAPI, project: Project, extra_bytes: int, new_claims: int) -> None:
    """The namespace's ResourceQuotas (requests.storage, persistentvolumeclaims) leave room."""
    wanted = {"requests.storage": Decimal(extra_bytes), "persistentvolumeclaims": Decimal(new_claims)}
    for quota in api.list("ResourceQuota", project.name):
        status = quota.get("status") or {}
        hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
        used = status.get("used") or {}
        for key, need in wanted.items():
            if key not in hard or need <= 0:
                continue
            limit, in_use = quantity.parse(hard[key]), quantity.parse(used.get(key, "0"))
            if in_use + need > limit:
                show = quantity.format_bytes if key == "requests.storage" else (lambda value: f"{value.normalize():f}")
                raise ValidationError(
                    _("Not enough quota: %(need)s more of %(key)s, but quota %(quota)s leaves %(free)s of %(hard)s.")
                    % {
                        "need": show(need),
                        "key": key,
                        "quota": quota["metadata"]["name"],
                        "free": show(max(limit - in_use, Decimal(0))),
                        "hard": show(limit),
                    }
                )


def mounting_pods(api: ClusterAPI, volume: Volume) -> list[dict]:
    """The namespace's pods (not finished) that mount the volume's claim."""
    return [
        pod
        for pod in api.list("Pod", volume.namespace)
        if (pod.get("status") or {}).get("phase") not in ENDED
        and any(
            (v.get("persistentVolumeClaim") or {}).get("claimName") == volume.name
            for v in (pod.get("spec") or {}).get("volumes") or ()
        )
    ]


def apps_of(volume: Volume, pods: list[dict]) -> tuple[list[App], list[str]]:
    """The console apps the pods belong to, and the pods that belong to none."""
    names = {(pod["metadata"].get("labels") or {}).get(APP_LABEL) for pod in pods}
    apps = list(App.objects.filter(project=volume.project, name__in=[n for n in names if n]).order_by("name"))
    known = {app.name for app in apps}
    strays = [
        pod["metadata"]["name"] for pod in pods if (pod["metadata"].get("labels") or {}).get(APP_LABEL) not in known
    ]
    return apps, strays


def pvc(
    project: Project, name: str, size: int, storage_class: str, labels: dict | None = None, source: dict | None = None
) -> dict:
    """The claim of a volume; `source`: its dataSource (a VolumeSnapshot it is restored from)."""
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": project.name,
            "labels": {"app.kubernetes.io/managed-by": "caas-console", **(labels or {})},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": str(size)}},
        },
    }
    if source:
        claim["spec"]["dataSource"] = source
    return claim


def _queue(volume: Volume, acting_user: User | None, kind: str, payload: dict | None = None) -> Job:
    target = {
        "cluster": volume.project.cluster.name,
        "namespace": volume.namespace,
        "kind": "PersistentVolumeClaim",
        "name": volume.name,
    }
    return jobs.create_job(
        kind,
        requested_by=acting_user,
        tenant=(volume.project.tenant_id, volume.project.tenant.name),
        target=target,
        payload={"volume": volume.pk, **(payload or {})},
    )


def _new_volume(
    project: Project,
    api: ClusterAPI,
    *,
    acting_user: User,
    name: str,
    size: int,
    restored_from: Backup | None = None,
    labels: dict | None = None,
) -> Volume:
    """The checks every new volume passes, then its row (the job creates the claim)."""
    check_name(name)
    if (
        Volume.objects.filter(project=project, name=name).exists()
        or api.get("PersistentVolumeClaim", name, project.name) is not None
    ):
        raise ValidationError(
            {"name": _("A volume named %(name)s exists already in %(ns)s.") % {"name": name, "ns": project.name}}
        )
    storage_class = storage_class_for(project.cluster)
    check_storage_quota(api, project, size, 1)
    api.apply(pvc(project, name, size, storage_class, labels), dry_run=True)
    status = VolumeStatus.RESTORING if restored_from else VolumeStatus.CREATING
    return Volume.objects.create(
        project=project,
        name=name,
        size_bytes=size,
        storage_class=storage_class,
        status=status,
        restored_from=restored_from,
        created_by=acting_user,
    )


# --- volumes -----------------------------------------------------------------------


def create_volume(project: Project, *, acting_user: User, name: str, size: str | int) -> tuple[Volume, Job]:
    """A PVC on the cluster's Ceph RBD StorageClass; the job waits for it to be bound and maps
    it to its RBD image."""
    target = {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": "PersistentVolumeClaim",
        "name": name,
    }
    with oplog.recorded(acting_user, "volume.create", target=target, payload={"size": str(size)}) as outcome:
        check_may_change(acting_user, project)
        size = parse_size(size)
        with talking_to(project, acting_user) as api:
            volume = _new_volume(project, api, acting_user=acting_user, name=name, size=size)
        job = outcome.accepted(
            _queue(volume, acting_user, "volume.create"), size=size, storage_class=volume.storage_class
        )
    return volume, job


def resize_volume(volume: Volume, *, acting_user: User, size: str | int) -> Job:
    """Grow the volume (Kubernetes and RBD grow only)."""
    with oplog.recorded(acting_user, "volume.resize", target=volume.target(), payload={"size": str(size)}) as outcome:
        check_volume(acting_user, volume)
        size = parse_size(size)
        outcome.before = {"size": volume.size_bytes}
        if size < volume.size_bytes:
            raise ValidationError(
                {
                    "size": _("A volume only grows: %(name)s has %(size)s, more than %(new)s.")
                    % {
                        "name": volume.name,
                        "size": quantity.format_bytes(volume.size_bytes),
                        "new": quantity.format_bytes(size),
                    }
                }
            )
        if size == volume.size_bytes:
            raise ValidationError({"size": _("%(name)s has this size already.") % {"name": volume.name}})
        with talking_to(volume.project, acting_user) as api:
            check_storage_quota(api, volume.project, size - volume.size_bytes, 0)
            api.apply(pvc(volume.project, volume.name, size, volume.storage_class), dry_run=True)
        Volume.objects.filter(pk=volume.pk).update(status=VolumeStatus.RESIZING)
        job = outcome.accepted(_queue(volume, acting_user, "volume.resize", {"size": size}), size=size)
    return job


def delete_volume(volume: Volume, *, acting_user: User, with_backups: bool = False, confirm_name: str = "") -> Job:
    """Delete the claim (and its image). Refused while a pod mounts it; refused while it has
    backups unless `with_backups` (they go first)."""
    payload = {"with_backups": bool(with_backups)}
    with oplog.recorded(acting_user, "volume.delete", target=volume.target(), payload=payload) as outcome:
        check_may_change(acting_user, volume.project)
        if volume.status == VolumeStatus.DELETING:
            raise ValidationError(_("Volume %(name)s is being deleted.") % {"name": volume.name})
        if volume.busy:
            raise ValidationError(
                _("Volume %(name)s is busy (%(status)s): wait until that ends.")
                % {"name": volume.name, "status": volume.get_status_display()}
            )
        if confirm_name != volume.name:
            raise ValidationError(
                {"confirm_name": _("Type the volume's name, %(name)s, to confirm.") % {"name": volume.name}}
            )
        check_no_backup_running(volume)
        count = volume.backups.count()
        if count and not with_backups:
            raise ValidationError(
                _("Volume %(name)s has %(count)s backups: delete them first, or confirm that they go with the volume.")
                % {"name": volume.name, "count": count}
            )
        if volume.backups.filter(method=BackupMethod.RBD).exists():
            require_ceph()
        with talking_to(volume.project, acting_user) as api:
            pods = mounting_pods(api, volume)
        if pods:
            raise ValidationError(
                _("Volume %(name)s is mounted by %(pods)s: stop what uses it first.")
                % {"name": volume.name, "pods": ", ".join(p["metadata"]["name"] for p in pods)}
            )
        outcome.before = {"size": volume.size_bytes, "image": f"{volume.pool}/{volume.image}", "backups": count}
        Volume.objects.filter(pk=volume.pk).update(status=VolumeStatus.DELETING)
        job = outcome.accepted(_queue(volume, acting_user, "volume.delete", payload))
    return job


def claim_pattern(app: App) -> re.Pattern | None:
    """The names of the claims a StatefulSet's volumeClaimTemplates make: <template>-<app>-<ordinal>."""
    templates = [v["name"] for v in (app.spec or {}).get("volumes") or []]
    if app.kind != "StatefulSet" or not templates:
        return None
    return re.compile(rf"^({'|'.join(map(re.escape, templates))})-{re.escape(app.name)}-\d+$")


def app_claims(app: App) -> list[dict]:
    """The claims a StatefulSet's volumeClaimTemplates made (<template>-<app>-<ordinal>, labelled
    with the app), as the resource mirror last saw them."""
    pattern = claim_pattern(app)
    if pattern is None:
        return []
    rows = MirroredObject.objects.filter(
        cluster=app.project.cluster, kind="PersistentVolumeClaim", namespace=app.namespace
    ).order_by("name")
    return [row.object for row in rows if pattern.match(row.name) and row.labels.get(APP_LABEL) == app.name]


def adopt_claim(
    project: Project, claim: dict, pv: dict | None, *, acting_user: User | None, policy: str | None = None
) -> Volume | None:
    """The Volume of a bound claim (mapped to its RBD image from its PV), made once; a new
    one gets the backup policy the claim names (caas.io/backup-policy), or `policy` (what a
    StatefulSet's claim template names). None: not bound yet."""
    meta, spec = claim["metadata"], claim.get("spec") or {}
    if (claim.get("status") or {}).get("phase") != "Bound" or not spec.get("volumeName"):
        return None
    volume = Volume.objects.filter(project=project, name=meta["name"]).first()
    if volume is not None:
        return volume
    attributes = (((pv or {}).get("spec") or {}).get("csi") or {}).get("volumeAttributes") or {}
    capacity = ((claim.get("status") or {}).get("capacity") or {}).get("storage") or (spec.get("resources") or {}).get(
        "requests", {}
    ).get("storage", "0")
    volume, created = Volume.objects.get_or_create(
        project=project,
        name=meta["name"],
        defaults={
            "size_bytes": int(quantity.parse(capacity)),
            "storage_class": spec.get("storageClassName") or "",
            "pool": attributes.get("pool", ""),
            "image": attributes.get("imageName", ""),
            "status": VolumeStatus.READY,
            "created_by": acting_user,
        },
    )
    if created:
        policy = policy if policy is not None else claim_policy(claim)
        volume.adopted_note = attach_named_policy(volume, policy, acting_user=acting_user)
    return volume


def adopt_app_volumes(app: App, notes: list | None = None) -> list[Volume]:
    """The app's volumes: each bound claim of its StatefulSet gets its Volume (mapped to its RBD
    image from the PV), so that it has a backup chain like a volume made on the Storage page,
    and the backup policy its claim names. Reads the mirror only; a claim the mirror has not
    seen bound yet is adopted later. `notes`: gets what attaching each new volume's policy said."""
    names = []
    for claim in app_claims(app):
        names.append(claim["metadata"]["name"])
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name or Volume.objects.filter(project=app.project, name=claim["metadata"]["name"]).exists():
            continue
        pv = MirroredObject.objects.filter(
            cluster=app.project.cluster, kind="PersistentVolume", namespace="", name=volume_name
        ).first()
        volume = adopt_claim(app.project, claim, pv.object if pv else None, acting_user=app.created_by)
        if notes is not None and getattr(volume, "adopted_note", None) is not None:
            notes.append(volume.adopted_note)
    return list(Volume.objects.filter(project=app.project, name__in=names).order_by("name"))


def forget_volumes(project: Project, names: list[str]) -> None:
    """Claims that were removed again (a stack whose creation failed): their volumes go, unless
    they have backups (those stay to be seen and deleted on the volume's page)."""
    Volume.objects.filter(project=project, name__in=names, backups__isnull=True).delete()


def before_app_delete(app: App, delete_volumes: bool) -> None:
    """Deleting a StatefulSet with its volumes (workloads.panels hook): refused while one of its
    volumes has backups (they would outlive their claim); otherwise their Volume rows go with
    the claims (a mapping only: the app's page adopts them again if the deletion fails)."""
    pattern = claim_pattern(app)
    if not delete_volumes or pattern is None:
        return
    volumes = [v for v in Volume.objects.filter(project=app.project) if pattern.match(v.name)]
    kept = [v.name for v in volumes if v.backups.exists()]
    if kept:
        raise ValidationError(
            _(
                "The volumes %(names)s of %(app)s have backups: delete them on the volumes' pages first, "
                "or delete the app and keep its volumes."
            )
            % {"names": ", ".join(kept), "app": app.name}
        )
    busy = [v.name for v in volumes if v.busy]
    if busy:
        raise ValidationError(
            _("The volumes %(names)s of %(app)s are busy: wait until that ends.")
            % {"names": ", ".join(busy), "app": app.name}
        )
    Volume.objects.filter(pk__in=[v.pk for v in volumes]).delete()


# --- the backup chain --------------------------------------------------------------


def create_backup(volume: Volume, *, acting_user: User | None) -> tuple[Backup, Job]:
    """A new node: the first one full, later ones incremental from the last good node."""
    with oplog.recorded(acting_user, "backup.create", target=volume.target()) as outcome:
        check_volume(acting_user, volume)
        if not volume.image:
            raise ValidationError(_("Volume %(name)s has no RBD image yet.") % {"name": volume.name})
        check_no_backup_running(volume)
        with talking_to(volume.project, acting_user) as api:
            method = backup_method(api)
        backup, job = _add_node(volume, acting_user, "backup.create", method=method)
        outcome.accepted(job, backup=backup.pk, kind=backup.kind, parent=backup.parent_id, method=method)
    return backup, job


def _add_node(
    volume: Volume,
    acting_user: User | None,
    kind: str,
    scheduled_for: datetime.datetime | None = None,
    method: str = BackupMethod.RBD,
) -> tuple[Backup, Job]:
    """The new node and its job. RBD: incremental from the last good RBD node, full when there
    is none. CSI: a VolumeSnapshot, full from the user's view (the chain is flat)."""
    parent = None
    if method == BackupMethod.RBD:
        parent = (
            volume.backups.filter(status=BackupStatus.SUCCEEDED, method=BackupMethod.RBD)
            .order_by("-created_at", "-pk")
            .first()
        )
    backup = Backup.objects.create(
        volume=volume,
        parent=parent,
        method=method,
        kind=BackupKind.INCREMENTAL if parent else BackupKind.FULL,
        requested_by=acting_user,
        requested_by_name=acting_user.get_username() if acting_user else "system",
        scheduled_for=scheduled_for,
    )
    backup.snapshot = f"caas-backup-{backup.pk}"
    if method == BackupMethod.RBD:
        backup.artefact = f"{volume.pool}/{volume.image}@{backup.snapshot}"
    job = _queue(volume, acting_user, kind, {"backup": backup.pk})
    backup.job = job
    backup.save(update_fields=["snapshot", "artefact", "job"])
    return backup, job


def _require_succeeded(backup: Backup, refusal: str) -> None:
    """Refuse (400) a node that has not succeeded; `refusal` names %(node)s and %(status)s."""
    if not backup.succeeded:
        raise ValidationError(refusal % {"node": backup, "status": backup.get_status_display()})


def _check_node(user: User | None, backup: Backup) -> None:
    check_volume(user, backup.volume)
    _require_succeeded(backup, _("Backup %(node)s is %(status)s: only a succeeded backup can be used."))
    require_node_method(backup)


def rollback_backup(backup: Backup, *, acting_user: User, scale_down: bool = False) -> Job:
    """Put the volume's content back to the node. Refused while pods mount it, unless
    `scale_down`: then the job scales their apps to zero first and back after."""
    volume = backup.volume
    with oplog.recorded(
        acting_user,
        "backup.rollback",
        target=volume.target(),
        payload={"backup": backup.pk, "scale_down": bool(scale_down)},
    ) as outcome:
        _check_node(acting_user, backup)
        check_no_backup_running(volume)
        with talking_to(volume.project, acting_user) as api:
            pods = mounting_pods(api, volume)
            apps, strays = apps_of(volume, pods)
            replicas = {}
            for app in apps:
                workload = api.get(app.kind, app.name, app.namespace) or {}
                replicas[app.pk] = (workload.get("spec") or {}).get("replicas", 1)
        if pods and not scale_down:
            raise ValidationError(
                _(
                    "Volume %(name)s is mounted by %(pods)s: rolling back under a mounted file system would corrupt "
                    "it. Confirm scaling %(apps)s to zero during the rollback."
                )
                % {
                    "name": volume.name,
                    "pods": ", ".join(p["metadata"]["name"] for p in pods),
                    "apps": ", ".join(app.name for app in apps) or _("their workloads"),
                }
            )
        if strays:
            raise ValidationError(
                _("Volume %(name)s is mounted by pods no console app runs (%(pods)s): stop them first.")
                % {"name": volume.name, "pods": ", ".join(strays)}
            )
        Volume.objects.filter(pk=volume.pk).update(status=VolumeStatus.ROLLING_BACK)
        apps_payload = [
            {"app": app.pk, "name": app.name, "kind": app.kind, "replicas": replicas[app.pk]} for app in apps
        ]
        job = _queue(volume, acting_user, "backup.rollback", {"backup": backup.pk, "apps": apps_payload})
        outcome.accepted(job, backup=backup.pk, snapshot=backup.snapshot, scaled=[a["name"] for a in apps_payload])
    return job


def restore_backup(
    backup: Backup, *, acting_user: User, name: str, project: Project | None = None, labels: dict | None = None
) -> tuple[Volume, Job]:
    """A new volume (PVC) with the node's content: the chain up to the node is imported into
    its image. In the volume's namespace, or `project`: another namespace of the tenant, on any
    of its clusters whose claims are on the console's Ceph (a replicated stack's volume).
    `labels`: the new claim's own (as the StatefulSet that will use it would set them)."""
    source = backup.volume
    project = project or source.project
    target = {**source.target(), "cluster": project.cluster.name, "namespace": project.name, "name": name}
    payload = {"backup": backup.pk, "from": source.name}
    if project != source.project:
        payload["from_namespace"] = f"{source.project.cluster.name}/{source.namespace}"
    with oplog.recorded(acting_user, "backup.restore", target=target, payload=payload) as outcome:
        check_may_change(acting_user, project)
        if project.tenant_id != source.project.tenant_id:
            raise ValidationError(_("A backup is restored within its own tenant."))
        _require_succeeded(backup, _("Backup %(node)s is %(status)s: only a succeeded backup can be restored."))
        require_node_method(backup)
        if backup.method == BackupMethod.CSI and project != source.project:
            raise ValidationError(
                _("Backup %(node)s is a VolumeSnapshot: it restores only into its own namespace.") % {"node": backup}
            )
        busy = [node for node in backup.chain() if not node.succeeded]
        if busy:
            raise ValidationError(
                _("Backup %(node)s, which %(target)s continues, is %(status)s: wait until that ends.")
                % {"node": busy[0], "target": backup, "status": busy[0].get_status_display()}
            )
        size = backup.image_size or source.size_bytes
        with talking_to(project, acting_user) as api:
            volume = _new_volume(
                project, api, acting_user=acting_user, name=name, size=size, restored_from=backup, labels=labels
            )
        job = _queue(volume, acting_user, "backup.restore", {"backup": backup.pk, "labels": dict(labels or {})})
        outcome.accepted(job, volume=volume.pk, size=size, chain=[node.pk for node in backup.chain()])
    return volume, job


def delete_backup(backup: Backup, *, acting_user: User) -> Job:
    """Remove a node (its artefact and snapshot). Refused while later nodes depend on it."""
    volume = backup.volume
    with oplog.recorded(acting_user, "backup.delete", target=volume.target(), payload={"backup": backup.pk}) as outcome:
        check_may_change(acting_user, volume.project)
        if backup.status in BackupStatus.active():
            raise ValidationError(
                _("Backup %(node)s is %(status)s: wait until it ends.")
                % {"node": backup, "status": backup.get_status_display()}
            )
        check_no_backup_running(volume)
        children = list(backup.children.order_by("pk"))
        if children:
            raise ValidationError(
                _(
                    "Backup %(node)s cannot be deleted: the incremental backups %(later)s continue it and would be "
                    "lost with it. Delete the later nodes first (newest first), or consolidate the chain."
                )
                % {"node": backup, "later": ", ".join(str(child) for child in children)}
            )
        if (
            volume.status == VolumeStatus.ROLLING_BACK
            or backup.restored_volumes.filter(status=VolumeStatus.RESTORING).exists()
        ):
            raise ValidationError(
                _("Volume %(name)s is using its backups (%(status)s): wait until that ends.")
                % {"name": volume.name, "status": volume.get_status_display()}
            )
        require_node_method(backup)
        outcome.before = {
            "kind": backup.kind,
            "method": backup.method,
            "snapshot": backup.snapshot,
            "artefact": backup.artefact,
            "checksum": backup.checksum,
        }
        Backup.objects.filter(pk=backup.pk).update(status=BackupStatus.DELETING)
        job = outcome.accepted(_queue(volume, acting_user, "backup.delete", {"backup": backup.pk}))
    return job


def _check_chain_idle(volume: Volume) -> None:
    """No rollback or restore reads the chain while it is rewritten."""
    if (
        volume.status == VolumeStatus.ROLLING_BACK
        or Volume.objects.filter(restored_from__volume=volume, status=VolumeStatus.RESTORING).exists()
    ):
        raise ValidationError(
            _("Volume %(name)s is using its backups (a rollback or a restore): wait until that ends.")
            % {"name": volume.name}
        )


def consolidate_backup(backup: Backup, *, acting_user: User) -> Job:
    """Remove a node that later nodes continue, keeping the chain restorable: each node that
    continues it is stored again from its own snapshot (still on the volume's image) as an
    incremental from the node's parent, or as a full backup when the node was the full one.
    Then the node goes like a deleted one (artefact and snapshot)."""
    volume = backup.volume
    with oplog.recorded(
        acting_user, "backup.consolidate", target=volume.target(), payload={"backup": backup.pk}
    ) as outcome:
        check_volume(acting_user, volume)
        _require_succeeded(
            backup, _("Backup %(node)s is %(status)s: only a succeeded backup is consolidated; delete it instead.")
        )
        children = list(backup.children.order_by("pk"))
        if not children:
            raise ValidationError(
                _("No backup continues %(node)s: delete it instead, nothing needs consolidating.") % {"node": backup}
            )
        check_no_backup_running(volume)
        _check_chain_idle(volume)
        require_node_method(backup)
        outcome.before = {
            "backup": backup.pk,
            "kind": backup.kind,
            "parent": backup.parent_id,
            "children": [child.pk for child in children],
            "checksum": backup.checksum,
        }
        Backup.objects.filter(pk=backup.pk).update(status=BackupStatus.DELETING)
        job = outcome.accepted(
            _queue(volume, acting_user, "backup.consolidate", {"backup": backup.pk}),
            merged_into=[child.pk for child in children],
            new_parent=backup.parent_id,
        )
    return job


# --- backup policies (scheduled backups with retention) -------------------------------

MAX_DAILY = 366
MAX_WEEKLY = 260


def set_backup_policy(
    volume: Volume,
    *,
    acting_user: User | None,
    at: datetime.time | None,
    keep_daily: int | None,
    keep_weekly: int | None,
    weekday: int | None = None,
) -> BackupPolicy:
    """Back the volume up every day (or, given `weekday`, every week on that day: 0 Monday
    ... 6 Sunday) at `at` (the tenant's time zone), keeping `keep_daily` daily and
    `keep_weekly` weekly scheduled backups. Replaces the volume's policy."""
    payload = {"at": at.strftime("%H:%M") if at else None, "keep_daily": keep_daily, "keep_weekly": keep_weekly}
    if weekday is not None:
        payload["weekday"] = weekday
    with oplog.recorded(acting_user, "backup.policy_set", target=volume.target(), payload=payload) as outcome:
        check_may_change(acting_user, volume.project)
        if volume.status == VolumeStatus.DELETING:
            raise ValidationError(_("Volume %(name)s is being deleted.") % {"name": volume.name})
        if at is None:
            raise ValidationError({"at": _("Give the time of day (HH:MM).")})
        for field, value, limit in (("keep_daily", keep_daily, MAX_DAILY), ("keep_weekly", keep_weekly, MAX_WEEKLY)):
            if value is None or not 0 <= value <= limit:
                raise ValidationError({field: _("Keep from 0 to %(limit)s.") % {"limit": limit}})
        if not keep_daily and not keep_weekly:
            raise ValidationError({"keep_daily": _("Keep at least one daily or one weekly backup.")})
        if weekday is not None and weekday not in range(7):
            raise ValidationError({"weekday": _("Choose a day of the week.")})
        with talking_to(volume.project, acting_user) as api:
            backup_method(api)
        zone = volume.project.tenant.zone
        local_now = timezone.now().astimezone(zone)
        policy = BackupPolicy.objects.filter(volume=volume).first()
        outcome.before = (
            {
                "at": policy.at.strftime("%H:%M"),
                "weekday": policy.weekday,
                "keep_daily": policy.keep_daily,
                "keep_weekly": policy.keep_weekly,
            }
            if policy
            else None
        )
        if policy is None:
            policy = BackupPolicy(volume=volume, created_by=acting_user)
        if policy.pk is None or policy.at != at or policy.weekday != weekday:
            # set after today's time has passed: it first runs on the next day
            policy.last_run_on = local_now.date() if local_now.time() >= at else None
        policy.at, policy.weekday, policy.keep_daily, policy.keep_weekly = at, weekday, keep_daily, keep_weekly
        policy.save()
        outcome.after = {**payload, "time_zone": volume.project.tenant.time_zone}
    return policy


def remove_backup_policy(volume: Volume, *, acting_user: User) -> None:
    """Stop the scheduled backups; the backups made so far stay."""
    with oplog.recorded(acting_user, "backup.policy_remove", target=volume.target()) as outcome:
        check_may_change(acting_user, volume.project)
        policy = BackupPolicy.objects.filter(volume=volume).first()
        if policy is None:
            raise ValidationError(_("Volume %(name)s has no backup policy.") % {"name": volume.name})
        outcome.before = {
            "at": policy.at.strftime("%H:%M"),
            "keep_daily": policy.keep_daily,
            "keep_weekly": policy.keep_weekly,
        }
        policy.delete()


# The backup policies a claim names in its caas.io/backup-policy annotation (the recommended
# PostgreSQL template sets it on its data volume): attached when the claim becomes a volume.
POLICY_ANNOTATION = "caas.io/backup-policy"
NAMED_POLICIES = {
    "daily": {"at": datetime.time(2, 0), "weekday": None, "keep_daily": 7, "keep_weekly": 4},
    "weekly": {"at": datetime.time(2, 0), "weekday": 6, "keep_daily": 0, "keep_weekly": 8},
    "none": None,
}
UNKNOWN_POLICY = texts.message(
    "%(where)s names the backup policy %(policy)s in caas.io/backup-policy; known policies are: %(known)s."
)
POLICY_ATTACHED = texts.message("Volume %(name)s is backed up by the %(policy)s policy (caas.io/backup-policy).")
POLICY_NOT_ATTACHED = texts.message("Volume %(name)s has no backup policy: %(reason)s")


def claim_policy(claim: dict) -> str | None:
    """The policy name a claim (or a StatefulSet's claim template) asks for in its annotation, or None."""
    value = ((claim.get("metadata") or {}).get("annotations") or {}).get(POLICY_ANNOTATION)
    return None if value is None else str(value).strip()


def check_policy_annotations(objects: list[dict]) -> None:
    """Every claim and claim template among the objects names a known backup policy; else a
    ValidationError saying which object names what."""
    known = ", ".join(NAMED_POLICIES)
    for obj in objects:
        claims = [obj] if obj.get("kind") == "PersistentVolumeClaim" else []
        if obj.get("kind") == "StatefulSet":
            claims = (obj.get("spec") or {}).get("volumeClaimTemplates") or []
        for claim in claims:
            name = claim_policy(claim)
            if name is not None and name not in NAMED_POLICIES:
                where = f"{obj['kind']} {obj['metadata'].get('name', '')}"
                if claim is not obj:
                    where += f" ({(claim.get('metadata') or {}).get('name', '')})"
                raise ValidationError(str(UNKNOWN_POLICY(where=where, policy=name[:63], known=known)))


def attach_named_policy(volume: Volume, policy: str | None, *, acting_user: User | None) -> texts.Text | None:
    """Give a new volume the backup policy its claim names; what happened, for a job's steps
    (None: the claim names none). Never raises for a bad name or a cluster that cannot back
    up: the volume is there, only without its policy, and the text says why."""
    if policy is None or policy == "none":
        return None
    if policy not in NAMED_POLICIES:
        where = f"PersistentVolumeClaim {volume.name}"
        reason = UNKNOWN_POLICY(where=where, policy=policy[:63], known=", ".join(NAMED_POLICIES))
        return POLICY_NOT_ATTACHED(name=volume.name, reason=reason)
    try:
        set_backup_policy(volume, acting_user=acting_user, **NAMED_POLICIES[policy])
    except (ValidationError, PermissionError) as exc:
        reason = " ".join(getattr(exc, "messages", [str(exc)]))
        return POLICY_NOT_ATTACHED(name=volume.name, reason=reason)
    return POLICY_ATTACHED(name=volume.name, policy=policy)


SKIPPED_BUSY = texts.message(
    "Volume %(name)s was busy (%(status)s) at the scheduled time: that day's backup is skipped."
)
SKIPPED_RUNNING = texts.message(
    "Backup %(node)s of %(name)s was still %(status)s at the scheduled time: that day's backup is skipped."
)


def busy_for_schedule(volume: Volume) -> texts.Text | None:
    """Why a scheduled backup of the volume cannot start now (another job holds it), or None."""
    if volume.busy:
        return SKIPPED_BUSY(name=volume.name, status=volume.get_status_display())
    running = volume.backups.filter(status__in=BackupStatus.active()).first()
    if running is not None:
        return SKIPPED_RUNNING(node=str(running), name=volume.name, status=running.get_status_display())
    return None


def run_backup_policy(policy: BackupPolicy, *, now: datetime.datetime) -> tuple[Backup | None, Job | None]:
    """The scheduled backup of `now`'s slot, as the system: its job backs the volume up, then
    applies the policy's retention (tasks.scheduled_backup). A volume busy with another job
    skips that day: (None, None), logged and kept on the policy (skipped_on, skipped_because)."""
    volume = policy.volume
    payload = {"policy": policy.pk, "slot": now.isoformat()}
    with oplog.recorded(
        None, "backup.scheduled", target=volume.target(), payload=payload, actor_name="system"
    ) as outcome:
        project = volume.project
        if not project.tenant.is_active:
            raise PermissionError(_("The tenant is suspended: no scheduled backups."))
        if project.status not in (ProjectStatus.ACTIVE, ProjectStatus.UPDATING):
            raise ValidationError(
                _("Namespace %(ns)s is not ready (%(status)s).")
                % {"ns": project.name, "status": project.get_status_display()}
            )
        if not volume.image:
            raise ValidationError(_("Volume %(name)s has no RBD image yet.") % {"name": volume.name})
        reason = busy_for_schedule(volume)
        if reason is not None:
            BackupPolicy.objects.filter(pk=policy.pk).update(
                skipped_on=now.astimezone(project.tenant.zone).date(), skipped_because=reason
            )
            outcome.after = {"skipped": str(reason)}
            return None, None
        with talking_to(project, None) as api:
            method = backup_method(api)
        backup, job = _add_node(volume, None, "backup.scheduled", scheduled_for=now, method=method)
        job.payload = {**job.payload, "policy": policy.pk}
        job.save(update_fields=["payload"])
        outcome.accepted(job, backup=backup.pk, kind=backup.kind, parent=backup.parent_id, method=method)
    return backup, job
