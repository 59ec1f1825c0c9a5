"""The resource mirror: Kubernetes objects copied into the database by the watcher.

`replace_kind` stores a full list (the start, and every relist after 410 Gone);
`apply_events` stores a batch of watch events, `apply_rows` the same already reduced to
rows (the watcher's writer). All are idempotent: applying the same list or events
twice leaves the same rows, so a watcher restarted from an older resourceVersion never
double-applies anything.
"""

import io
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from console.accounts import roles
from console.clusters.models import Cluster, MirroredObject, WatchCursor
from console.kube.kinds import METADATA_ONLY_KINDS
from console.live import realtime


def kind_group(cluster_id, kind):
    return f"kind-{cluster_id}.{kind}"


def namespace_kind_group(cluster_id, namespace, kind):
    return f"nskind-{cluster_id}.{namespace}.{kind}"


tick_id = realtime.tick_id


def may_follow_kind(user, ident):
    """kind-<cluster>.<Kind>, every namespace: operators and auditors."""
    cluster_id = ident.split(".", 1)[0]
    return (
        (roles.is_operator(user) or roles.is_auditor(user))
        and cluster_id.isdigit()
        and Cluster.objects.filter(pk=cluster_id).exists()
    )


def may_follow_namespace(user, ident):
    """nskind-<cluster>.<ns>.<Kind>: also the members of the tenant owning the namespace."""
    parts = ident.split(".")
    return (
        len(parts) == 3
        and parts[0].isdigit()
        and roles.may_see_namespace(user, parts[0], parts[1])
        and Cluster.objects.filter(pk=parts[0]).exists()
    )


realtime.register_group("kind", may_follow_kind)
realtime.register_group("nskind", may_follow_namespace)


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


# --- rows -------------------------------------------------------------------------------
# The watcher's hot path: a row is a plain tuple in COLUMNS order with its JSON columns
# already serialised, made on the thread that read the event (no model instance: its
# __init__ and signals cost more than the rest), so that the writer only ships it.

COLUMNS = [
    "cluster_id",
    "kind",
    "namespace",
    "name",
    "api_version",
    "uid",
    "resource_version",
    "labels",
    "phase",
    "owner_uid",
    "owner_kind",
    "owner_name",
    "node_name",
    "created_at",
    "object",
    "graph_facts",
]
JSON_COLUMNS = {"labels", "object"}


def to_json(value):
    text = json.dumps(value, separators=(",", ":"))
    if "\\u0000" in text:  # PostgreSQL's jsonb cannot hold NUL characters: drop them
        text = json.dumps(_without_nul(value), separators=(",", ":"))
    return text


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _timestamp(text):
    try:
        return datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


# What is kept of a metadata-only kind (Secret, ServiceAccount). Not annotations: kubectl's
# last-applied-configuration holds the whole object, values included, and other tools' may too.
METADATA_KEPT = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "labels")


def metadata_only(obj):
    """The object without any value: its metadata (METADATA_KEPT, owners), and a Secret's type."""
    meta = obj.get("metadata") or {}
    kept = {key: meta[key] for key in METADATA_KEPT if key in meta}
    owners = [
        {key: ref[key] for key in ("apiVersion", "kind", "name", "uid", "controller") if key in ref}
        for ref in meta.get("ownerReferences") or ()
        if isinstance(ref, dict)
    ]
    if owners:
        kept["ownerReferences"] = owners
    reduced = {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""), "metadata": kept}
    if obj.get("kind") == "Secret" and isinstance(obj.get("type"), str):
        reduced["type"] = obj["type"]
    return reduced


# A feature app's cut of the objects it reads on hot paths, stored beside each object as it
# arrives (console knows no feature app: monitoring.topology registers its graph facts).
_graph_facts = []


def register_graph_facts(function):
    """function(obj) -> text or None, stored in MirroredObject.graph_facts for every object written."""
    _graph_facts[:] = [function]


def row_values(cluster_id, obj):
    """One mirror row for an object, as a tuple in COLUMNS order (Secrets and ServiceAccounts:
    their metadata only, made here, on the way in, whatever path the object took)."""
    kind = obj.get("kind", "")
    if kind in METADATA_ONLY_KINDS:
        obj = metadata_only(obj)
    meta = obj.get("metadata") or {}
    refs = meta.get("ownerReferences") or ()
    owner = next((o for o in refs if o.get("controller")), None) or (refs[0] if refs else None) or {}
    return (
        cluster_id,
        kind,
        meta.get("namespace", ""),
        meta.get("name", ""),
        obj.get("apiVersion", ""),
        meta.get("uid", ""),
        meta.get("resourceVersion", ""),
        to_json(meta.get("labels") or {}),
        phase_of(obj)[:32],
        owner.get("uid", ""),
        owner.get("kind", ""),
        owner.get("name", ""),
        (obj.get("spec") or {}).get("nodeName", "") if kind == "Pod" else "",
        _timestamp(meta.get("creationTimestamp")),
        to_json(obj),
        (_graph_facts[0](obj) or "") if _graph_facts else "",
    )


def prepare_event(cluster_id, event_type, obj):
    """A watch event as (key, row, resourceVersion): key is (namespace, name), or None for a
    bookmark; row is None for a deletion."""
    meta = obj.get("metadata") or {}
    if event_type == "BOOKMARK":
        return None, None, meta.get("resourceVersion", "")
    key = (meta.get("namespace", ""), meta.get("name", ""))
    return key, None if event_type == "DELETED" else row_values(cluster_id, obj), meta.get("resourceVersion", "")


TABLE = MirroredObject._meta.db_table
KEY = ["cluster_id", "kind", "namespace", "name"]
# The scratch table is emptied at commit, and right away too, for callers inside a wider transaction.
UPSERT_SQL = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, synced_at) SELECT {', '.join(COLUMNS)}, now() FROM mirror_incoming "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in COLUMNS[4:] + ["synced_at"])
    + "; DELETE FROM mirror_incoming"
)
# A session's own scratch table: rows arrive there by COPY.
INCOMING_SQL = (
    "SET LOCAL synchronous_commit = off; "
    "CREATE TEMP TABLE IF NOT EXISTS mirror_incoming ON COMMIT DELETE ROWS "
    f"AS SELECT {', '.join(COLUMNS)} FROM {TABLE} WITH NO DATA"
)


def _upsert(rows):
    if not rows:
        return
    if connection.vendor == "postgresql":
        _upsert_postgresql(rows)
    else:
        objects = [
            MirroredObject(**{c: json.loads(v) if c in JSON_COLUMNS else v for c, v in zip(COLUMNS, row, strict=True)})
            for row in rows
        ]
        MirroredObject.objects.bulk_create(
            objects,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["cluster", "kind", "namespace", "name"],
            update_fields=COLUMNS[4:] + ["synced_at"],
        )


def _copy_field(value):
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _upsert_postgresql(rows):
    """COPY into a scratch table, then one INSERT ... ON CONFLICT from it: PostgreSQL reads
    COPY's text twice as fast as a statement of as many literals. Durability may lag a
    moment (synchronous_commit off): the mirror is rebuilt from the cluster anyway."""
    data = "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)
    with connection.cursor() as cursor:
        cursor.execute(INCOMING_SQL)
        with connection.wrap_database_errors:  # psycopg2's errors as Django's, like the cursor's
            cursor.cursor.copy_expert(f"COPY mirror_incoming ({', '.join(COLUMNS)}) FROM STDIN", io.StringIO(data))
        cursor.execute(UPSERT_SQL)


def _delete(cluster_id, kind, keys):
    if not keys:
        return
    if connection.vendor == "postgresql":  # one statement, however many were deleted
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE cluster_id = %s AND kind = %s AND (namespace, name) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                [cluster_id, kind, [ns for ns, _n in keys], [name for _ns, name in keys]],
            )
    else:
        for namespace, name in keys:
            MirroredObject.objects.filter(cluster_id=cluster_id, kind=kind, namespace=namespace, name=name).delete()


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
    listed, resource_version = set(), ""  # listed: (kind, namespace, name), also what changed
    for items, page_version in pages:
        rows = []
        for item in items:
            item.setdefault("kind", kind)
            rows.append(row_values(cluster_id, item))
        with transaction.atomic():
            _upsert(rows)
        listed.update((kind, row[2], row[3]) for row in rows)
        resource_version = page_version or resource_version
    return Changes(upserted=listed, deleted=finish_list(cluster_id, kind, listed, resource_version))


def finish_list(cluster_id, kind, listed, resource_version):
    """After the rows of a full list are stored: remove the kind's rows that the list did
    not have (listed: a set of (kind, namespace, name)) and set the cursor. Returns the
    removed keys."""
    with transaction.atomic():
        stale = [
            (pk, namespace, name)
            for pk, namespace, name in MirroredObject.objects.filter(cluster_id=cluster_id, kind=kind)
            .values_list("pk", "namespace", "name")
            .iterator()
            if (kind, namespace, name) not in listed
        ]
        MirroredObject.objects.filter(pk__in=[pk for pk, _ns, _n in stale]).delete()
        WatchCursor.objects.update_or_create(
            cluster_id=cluster_id,
            kind=kind,
            defaults={"resource_version": resource_version, "listed_at": timezone.now(), "last_error": ""},
        )
    return {(kind, namespace, name) for _pk, namespace, name in stale}


def apply_events(cluster_id, kind, events, resource_version=None):
    """Store a batch of watch events of one kind (last state of each object wins)."""
    latest = {}
    for event_type, obj in events:
        key, row, version = prepare_event(cluster_id, event_type, obj)
        if key is not None:
            latest[(kind,) + key] = row
    if events and resource_version is None:
        resource_version = (events[-1][1].get("metadata") or {}).get("resourceVersion", "")
    return apply_rows(cluster_id, latest, {kind: resource_version})


def apply_rows(cluster_id, latest, versions):
    """Store the outcome of a batch of watch events, in one transaction: `latest` maps
    (kind, namespace, name) to the object's last row, or None when it was deleted;
    `versions` maps each kind to the resourceVersion its cursor moves to."""
    rows = [row for row in latest.values() if row is not None]
    gone = {}
    for (kind, namespace, name), row in latest.items():
        if row is None:
            gone.setdefault(kind, []).append((namespace, name))
    now = timezone.now()
    with transaction.atomic():
        _upsert(rows)
        for kind, keys in gone.items():
            _delete(cluster_id, kind, keys)
        for kind, version in versions.items():
            WatchCursor.objects.filter(cluster_id=cluster_id, kind=kind).update(
                resource_version=version, last_event_at=now, last_error=""
            )
    return Changes(
        upserted={key for key, row in latest.items() if row is not None},
        deleted={key for key, row in latest.items() if row is None},
    )
