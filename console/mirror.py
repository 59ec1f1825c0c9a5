"""The resource mirror: Kubernetes objects copied into the database by the watcher.

`replace_kind` stores a full list (the start, and every relist after 410 Gone);
`apply_events` stores a batch of watch events. Both are idempotent: applying the same
list or events twice leaves the same rows, so a watcher restarted from an older
resourceVersion never double-applies anything.
"""

import re
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import realtime, roles
from .models import Cluster, MirroredObject, WatchCursor


def kind_group(cluster_id, kind):
    return f"kind-{cluster_id}.{kind}"


def namespace_kind_group(cluster_id, namespace, kind):
    return f"nskind-{cluster_id}.{namespace}.{kind}"


def tick_id(group):
    """A DOM id for a group's tick element (no dots: htmx finds oob targets by CSS selector)."""
    return "tick-" + re.sub(r"[^A-Za-z0-9_-]", "-", group)


def may_follow(user, ident):
    """kind-<cluster>.<Kind> and nskind-<cluster>.<ns>.<Kind>: operators and auditors for now."""
    cluster_id = ident.split(".", 1)[0]
    return cluster_id.isdigit() and (roles.is_operator(user) or roles.is_auditor(user)) and Cluster.objects.filter(pk=cluster_id).exists()


realtime.register_group("kind", may_follow)
realtime.register_group("nskind", may_follow)


UPSERT_FIELDS = [
    "api_version", "uid", "resource_version", "labels", "phase", "owner_uid", "owner_kind", "owner_name",
    "node_name", "created_at", "object",
]


def phase_of(obj):
    """One word for a status column, per kind."""
    kind, status, spec = obj.get("kind"), obj.get("status") or {}, obj.get("spec") or {}
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    if kind == "Pod":
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
                return waiting["reason"]
        return status.get("phase", "")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        wanted = spec.get("replicas", 1)
        return "Ready" if status.get("readyReplicas", 0) >= wanted else "Progressing"
    if kind == "Node":
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        return "Ready" if ready.get("status") == "True" else "NotReady"
    if kind == "Job":
        if status.get("succeeded", 0) >= spec.get("completions", 1):
            return "Complete"
        return "Failed" if status.get("failed") else "Running"
    if kind == "Event":
        return obj.get("type", "")
    return status.get("phase", "")


def row_for(cluster_id, obj):
    meta = obj.get("metadata") or {}
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None) or (
        (meta.get("ownerReferences") or [None])[0]
    )
    created = meta.get("creationTimestamp")
    return MirroredObject(
        cluster_id=cluster_id,
        kind=obj.get("kind", ""),
        api_version=obj.get("apiVersion", ""),
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
        labels=meta.get("labels") or {},
        phase=phase_of(obj)[:32],
        owner_uid=(owner or {}).get("uid", ""),
        owner_kind=(owner or {}).get("kind", ""),
        owner_name=(owner or {}).get("name", ""),
        node_name=(obj.get("spec") or {}).get("nodeName", "") if obj.get("kind") == "Pod" else "",
        created_at=parse_datetime(created) if created else None,
        object=obj,
    )


def _upsert(rows):
    if not rows:
        return
    if connection.vendor == "postgresql":
        _upsert_postgresql(rows)
    else:
        MirroredObject.objects.bulk_create(
            rows, batch_size=500, update_conflicts=True,
            unique_fields=["cluster", "kind", "namespace", "name"], update_fields=UPSERT_FIELDS + ["synced_at"],
        )


COLUMNS = ["cluster_id", "kind", "namespace", "name"] + UPSERT_FIELDS + ["synced_at"]
UPSERT_SQL = (
    f"INSERT INTO {MirroredObject._meta.db_table} ({', '.join(COLUMNS)}) VALUES %s "
    "ON CONFLICT (cluster_id, kind, namespace, name) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in UPSERT_FIELDS + ["synced_at"])
)


def _upsert_postgresql(rows):
    """The watcher's hot path: one statement per batch, without the ORM's per-value work
    (it doubled the cost of a batch). Durability may lag a moment: the mirror is rebuilt
    from the cluster on the next list anyway."""
    from psycopg2.extras import Json, execute_values

    now = timezone.now()
    values = [
        (r.cluster_id, r.kind, r.namespace, r.name, r.api_version, r.uid, r.resource_version, Json(r.labels), r.phase,
         r.owner_uid, r.owner_kind, r.owner_name, r.node_name, r.created_at, Json(r.object), now)
        for r in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        execute_values(cursor.cursor, UPSERT_SQL, values, page_size=1000)


@dataclass
class Changes:
    """What a batch changed, for the live pages: keys are (kind, namespace, name)."""

    upserted: set = field(default_factory=set)
    deleted: set = field(default_factory=set)

    def __bool__(self):
        return bool(self.upserted or self.deleted)


def replace_kind(cluster_id, kind, items, resource_version):
    """Store a full list of one kind: upsert all, remove what the list no longer has."""
    return replace_kind_paged(cluster_id, kind, [(items, resource_version)])


def replace_kind_paged(cluster_id, kind, pages):
    """The same, a page at a time (pages of (items, resourceVersion)), so that a list of
    150k objects never sits whole in memory; rows missing from the list go at the end."""
    listed, changes, resource_version = set(), Changes(), ""
    for items, page_version in pages:
        rows = []
        for item in items:
            item.setdefault("kind", kind)
            rows.append(row_for(cluster_id, item))
        with transaction.atomic():
            _upsert(rows)
        listed.update((r.namespace, r.name) for r in rows)
        changes.upserted.update((kind, r.namespace, r.name) for r in rows)
        resource_version = page_version or resource_version
    with transaction.atomic():
        stale = [
            (pk, namespace, name)
            for pk, namespace, name in MirroredObject.objects.filter(cluster_id=cluster_id, kind=kind).values_list("pk", "namespace", "name").iterator()
            if (namespace, name) not in listed
        ]
        MirroredObject.objects.filter(pk__in=[pk for pk, _ns, _n in stale]).delete()
        changes.deleted = {(kind, namespace, name) for _pk, namespace, name in stale}
        WatchCursor.objects.update_or_create(
            cluster_id=cluster_id, kind=kind,
            defaults={"resource_version": resource_version, "listed_at": timezone.now(), "last_error": ""},
        )
    return changes


def apply_events(cluster_id, kind, events, resource_version=None):
    """Store a batch of watch events of one kind (last state of each object wins)."""
    latest = {}
    for event_type, obj in events:
        if event_type == "BOOKMARK":
            continue
        meta = obj.get("metadata") or {}
        latest[(meta.get("namespace", ""), meta.get("name", ""))] = (event_type, obj)
    rows = [row_for(cluster_id, obj) for event_type, obj in latest.values() if event_type != "DELETED"]
    gone = [key for key, (event_type, _obj) in latest.items() if event_type == "DELETED"]
    if events and resource_version is None:
        resource_version = (events[-1][1].get("metadata") or {}).get("resourceVersion", "")
    with transaction.atomic():
        _upsert(rows)
        for namespace, name in gone:
            MirroredObject.objects.filter(cluster_id=cluster_id, kind=kind, namespace=namespace, name=name).delete()
        WatchCursor.objects.filter(cluster_id=cluster_id, kind=kind).update(
            resource_version=resource_version, last_event_at=timezone.now(), last_error=""
        )
    return Changes(
        upserted={(r.kind, r.namespace, r.name) for r in rows},
        deleted={(kind, namespace, name) for namespace, name in gone},
    )
