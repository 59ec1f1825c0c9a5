"""Logs: the business operations (ingest tokens, saved searches, the ingest itself, the store's
upkeep and the copy of Kubernetes events into the store)."""

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from console import crypto
from console.accounts import roles
from console.accounts.access import require_permission
from console.clusters.models import MirroredObject
from console.jobs import jobs
from console.oplog import oplog
from tenants.models import Project

from . import ingest, manifests
from .backends import default_store
from .models import EventCursor, IngestCounter, IngestToken, SavedSearch, UnknownTokenCounter
from .store import StoreBusy

TOKEN_PREFIX = "caaslog_"

# --- ingest tokens --------------------------------------------------------------------


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def rotate_token(cluster, *, acting_user):
    """A new ingest token for the cluster (the old one stops working at once). Returns the
    token: shown this once, only its hash is kept."""
    require_permission(roles.is_operator(acting_user), _("Only operators manage ingest tokens."))
    target = {"cluster": cluster.name, "kind": "LogIngestToken", "name": cluster.name}
    with oplog.recorded(acting_user, "logs.token.rotate", target=target) as outcome:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        existing = IngestToken.objects.filter(cluster=cluster).first()
        outcome.before = {"prefix": existing.prefix} if existing else None
        IngestToken.objects.update_or_create(
            cluster=cluster,
            defaults={"token_hash": hash_token(token), "prefix": token[:12], "created_by": acting_user},
        )
        outcome.after = {"prefix": token[:12]}
    return token


def install_collector(cluster, *, acting_user, ingest_url):
    """Install the fluentd DaemonSet on the cluster as a job, with a new ingest token (the old
    one stops working: collectors installed by hand need the new one). Returns the job."""
    require_permission(roles.is_operator(acting_user), _("Only operators install collectors."))
    target = {"cluster": cluster.name, "kind": "DaemonSet", "namespace": manifests.NAMESPACE, "name": "fluentd"}
    with oplog.recorded(acting_user, "logs.collector.install", target=target) as outcome:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        IngestToken.objects.update_or_create(
            cluster=cluster,
            defaults={"token_hash": hash_token(token), "prefix": token[:12], "created_by": acting_user},
        )
        job = jobs.create_job(
            "logs.collector.install",
            requested_by=acting_user,
            target=target,
            # the token goes to the cluster's Secret; kept encrypted until the job has put it there
            payload={"token": crypto.encrypt(token), "ingest_url": ingest_url},
        )
        return outcome.accepted(job, prefix=token[:12], ingest_url=ingest_url)


def cluster_for_token(token):
    if not token:
        return None
    row = IngestToken.objects.filter(token_hash=hash_token(token)).values_list("cluster_id", flat=True).first()
    return row


# --- counters ---------------------------------------------------------------------------


def count(cluster_id, outcome, n=1, message=""):
    """Add to a cluster's ingest counter (one upsert; safe from many web processes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IngestCounter._meta.db_table} (cluster_id, outcome, count, last_at, last_message) "
            "VALUES (%s, %s, %s, now(), %s) ON CONFLICT (cluster_id, outcome) DO UPDATE SET "
            "count = {table}.count + EXCLUDED.count, last_at = EXCLUDED.last_at, "
            "last_message = EXCLUDED.last_message".replace("{table}", IngestCounter._meta.db_table),
            [cluster_id, outcome, n, message[:500]],
        )


def count_unknown(source):
    with transaction.atomic():
        row, _created = UnknownTokenCounter.objects.select_for_update().get_or_create(pk=1)
        row.count += 1
        row.last_at = timezone.now()
        row.last_source = (source or "")[:64]
        row.save()


def counters(cluster):
    return {row.outcome: row for row in IngestCounter.objects.filter(cluster=cluster)}


# --- the ingest -------------------------------------------------------------------------

_slots = None
_slots_lock = threading.Lock()
_tenants_cache = {}  # cluster id -> (read at, {namespace: tenant id})
_bounds_cache = {}  # "bounds" -> (read at, oldest, newest)
CACHE_SECONDS = 30
SLOT_WAIT_SECONDS = 1.0  # how long a batch waits for a write slot before 429


def slots():
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.LOGS_INGEST_CONCURRENCY)
        return _slots


def tenants_of(cluster_id):
    read_at, mapping = _tenants_cache.get(cluster_id, (0, None))
    if mapping is None or time.monotonic() - read_at > CACHE_SECONDS:
        mapping = dict(Project.objects.filter(cluster_id=cluster_id).values_list("name", "tenant_id"))
        _tenants_cache[cluster_id] = (time.monotonic(), mapping)
    return mapping


def partition_bounds(store, refresh=False):
    read_at, oldest, newest = _bounds_cache.get("bounds", (0, None, None))
    if refresh or oldest is None or time.monotonic() - read_at > CACHE_SECONDS:
        days = store.partitions()
        if not days or days[-1] < datetime.now(UTC):
            store.maintain()
            days = store.partitions()
        oldest, newest = days[0], days[-1] + timedelta(days=1)
        _bounds_cache["bounds"] = (time.monotonic(), oldest, newest)
    return oldest, newest


def ingest_batch(cluster_id, body, *, content_type, content_encoding, store=None):
    """Decode, validate and store one batch for a cluster. Returns the number of lines stored;
    raises ingest.IngestError (counted) when refused or when the store is busy."""
    store = store or default_store()
    try:
        data = ingest.decompress(body, content_encoding)
        oldest, newest = partition_bounds(store)
        # records() parses lazily and rows() takes one record at a time: a batch is checked
        # whole, before it waits for a write slot (a malformed one is refused even when busy).
        rows, expired = ingest.rows(
            ingest.records(data, content_type),
            cluster_id=cluster_id,
            tenants=tenants_of(cluster_id),
            oldest=oldest,
            newest=newest,
        )
        if not slots().acquire(timeout=SLOT_WAIT_SECONDS):
            raise ingest.IngestError(
                429, ingest.BUSY, _("The console is writing as many batches as it can: retry later.")
            )
        try:
            stored = _write(store, cluster_id, rows, expired)
        finally:
            slots().release()
    except ingest.IngestError as exc:
        count(cluster_id, exc.outcome, 1, exc.message)
        raise
    return stored


def _write(store, cluster_id, rows, expired):
    try:
        for attempt in (1, 2):
            try:
                stored = store.write(rows)  # its own transaction: committed when it returns
                break
            except IntegrityError:
                # A day without its partition yet (no partition of relation found for row): make it.
                if attempt == 2:
                    raise
                partition_bounds(store, refresh=True)
    except StoreBusy as exc:
        raise ingest.IngestError(
            429, ingest.BUSY, _("The log store is slow right now (%(reason)s): retry later.") % {"reason": exc}
        ) from None
    # Counted after the commit: the counter row is one per cluster, and holding its lock for the
    # whole write would queue every batch of the cluster behind the one before.
    count(cluster_id, ingest.ACCEPTED, stored)
    if expired:
        count(cluster_id, ingest.EXPIRED, expired, _("Lines older than the retention were left out."))
    return stored


# --- saved searches ---------------------------------------------------------------------


def save_search(*, acting_user, name, query):
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the search a name.")})
    query = QueryDict(query).urlencode()  # only a query string: re-encoded, nothing else survives
    with oplog.recorded(acting_user, "logs.search.save", target={"kind": "SavedSearch", "name": name}) as outcome:
        search, created = SavedSearch.objects.update_or_create(user=acting_user, name=name, defaults={"query": query})
        outcome.after = {"query": query, "created": created}
    return search


def delete_search(search, *, acting_user):
    require_permission(search.user_id == acting_user.pk, _("This is somebody else's saved search."))
    with oplog.recorded(
        acting_user, "logs.search.delete", target={"kind": "SavedSearch", "name": search.name}
    ) as outcome:
        outcome.before = {"query": search.query}
        search.delete()


# --- upkeep -----------------------------------------------------------------------------


def maintain_partitions():
    created, dropped = default_store().maintain()
    _bounds_cache.clear()
    if created or dropped:
        oplog.record(
            None,
            "logs.partitions",
            result="succeeded",
            actor_name="system",
            target={"kind": "LogPartitions"},
            after={"created": [f"{d:%Y-%m-%d}" for d in created], "dropped": [f"{d:%Y-%m-%d}" for d in dropped]},
        )
    return created, dropped


def import_events(cluster, *, limit=5000, store=None):
    """Copy the Kubernetes events the resource mirror holds for a cluster into the store, each
    change of an event once (an event seen again bumps its count: a new line)."""
    store = store or default_store()
    cursor, _created = EventCursor.objects.get_or_create(cluster=cluster)
    events = MirroredObject.objects.filter(cluster=cluster, kind="Event")
    if cursor.synced_after:
        events = events.filter(
            Q(synced_at__gt=cursor.synced_after) | Q(synced_at=cursor.synced_after, pk__gt=cursor.last_id)
        )
    events = list(events.order_by("synced_at", "pk").values("pk", "namespace", "object", "synced_at")[:limit])
    if not events:
        return 0
    oldest, newest = partition_bounds(store)
    tenants = tenants_of(cluster.pk)
    rows = []
    for event in events:
        obj = event["object"] or {}
        involved = obj.get("involvedObject") or {}
        moment = ingest.parse_time(obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("firstTimestamp"))
        moment = moment or event["synced_at"]
        if moment < oldest:
            continue
        if moment >= newest:
            moment = timezone.now()
        kind_name = f"{involved.get('kind', '')}/{involved.get('name', '')}"
        times = obj.get("count") or 1
        message = f"{obj.get('reason', '')} {kind_name}: {obj.get('message', '')}" + (
            f" (x{times})" if times > 1 else ""
        )
        level = "warn" if obj.get("type") == "Warning" else "info"
        pod = involved.get("name", "") if involved.get("kind") == "Pod" else ""
        namespace = event["namespace"]
        app = ""
        rows.append(
            (moment, cluster.pk, tenants.get(namespace), namespace, app, pod[:253], "", "", "event", level, "", message)
        )
    with transaction.atomic():
        store.write(rows)
        cursor.synced_after, cursor.last_id = events[-1]["synced_at"], events[-1]["pk"]
        cursor.save(update_fields=["synced_after", "last_id"])
    return len(rows)


def around_url(*, moment, cluster="", namespace="", app="", pod="", minutes=5):
    """The search page's link for the logs around a moment: events, alerts and revisions link here."""
    from django.urls import reverse

    start = moment - timedelta(minutes=minutes)
    end = moment + timedelta(minutes=minutes)
    params = {
        "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    params.update({k: v for k, v in (("cluster", cluster), ("namespace", namespace), ("app", app), ("pod", pod)) if v})
    return reverse("logs:search") + "?" + urlencode(params)
