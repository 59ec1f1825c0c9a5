"""Keep the resource mirror in step with each cluster: per kind, list then watch.

Per cluster and kind one thread lists (paged), then watches from the list's
resourceVersion: a 410 Gone means list again, a dropped or refused connection means
back off and resume after the last event read. It turns each listed object and each
event into a mirror row as it reads it, and queues the row for the cluster's writer.

Per cluster one writer thread (and one database connection) applies the queue in
order, in batches: whatever is queued, up to MAX_BATCH rows, so batches grow under load;
after a quiet spell it waits at most BATCH_SECONDS for more. Each batch is one
transaction that also moves each kind's cursor, so the cursor never runs ahead of the
mirror: after a crash the watch resumes from the cursor and replays at most what was
queued (events are idempotent). A list's rows are queued like events, then `Listed`,
at which the writer removes what the list did not have and sets the cursor: events
read before a relist are applied before it, those read after, after.

One announcer thread tells the live pages what changed, coalesced per group (at most
one tick per group every LIVE_TICK_SECONDS, the last one always sent).
"""

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.db.models import F

from console import crypto
from console.clusters import mirror
from console.clusters.mirror import kind_group, namespace_kind_group
from console.clusters.models import Cluster, WatchCursor
from console.kube.config import parse_kubeconfig
from console.kube.connection import api_client
from console.kube.errors import WatchExpired
from console.kube.kinds import MIRRORED_KINDS
from console.kube.watch import list_pages, watch_raw
from console.live import fanout, realtime

log = logging.getLogger(__name__)

MAX_BATCH = 1000
BATCH_SECONDS = 0.05
QUEUE_LIMIT = 2 * MAX_BATCH  # events read but not yet applied, per cluster (rows of ~3 KB for a pod)
BACKOFF_START, BACKOFF_MAX = 0.5, 30.0
WATCH_TIMEOUT_SECONDS = 300


class Stopping(Exception):
    """The watchers are being stopped."""


def groups_for(cluster_id, changes):
    """The live groups that show what changed: each kind, and each namespace of it."""
    groups = set()
    for kind, namespace, _name in changes.upserted | changes.deleted:
        groups.add(kind_group(cluster_id, kind))
        if namespace:
            groups.add(namespace_kind_group(cluster_id, namespace, kind))
    return groups


class Announcer(threading.Thread):
    """Sends a tick to each group that changed; pages re-read their table from the mirror.
    Off the writers' path, and coalesced per group: a group gets at most one tick every
    LIVE_TICK_SECONDS (a page needs no more, and each tick costs every open page a
    re-read); what changes meanwhile is folded into the group's next tick, which is always
    sent, so the last change of a burst always reaches the pages."""

    def __init__(self, interval=None):
        super().__init__(name="mirror-announcer", daemon=True)
        self.interval = settings.LIVE_TICK_SECONDS if interval is None else interval
        self.pending = set()
        self.sent_at = {}  # group -> monotonic time of its last tick, while within the interval
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def changed(self, cluster_id, changes):
        if changes:
            self.changed_groups(groups_for(cluster_id, changes))

    def changed_groups(self, groups):
        with self.lock:
            fanout.COUNTS["merged"] += len(groups & self.pending)  # already waiting for a tick
            self.pending |= groups
        self.wake.set()

    def stop(self):
        self.stopping.set()
        self.wake.set()

    def due(self, now, everything=False):
        """Take the pending groups whose interval has passed; also when to look again."""
        with self.lock:
            self.sent_at = {g: t for g, t in self.sent_at.items() if now - t < self.interval}
            due = set(self.pending) if everything else {g for g in self.pending if g not in self.sent_at}
            self.pending -= due
            wait = min((self.sent_at[g] + self.interval - now for g in self.pending), default=1.0)
            for group in due:
                self.sent_at[group] = now
        return due, max(wait, 0.001)

    def run(self):
        # One event loop for the thread's life (async_to_sync would make one per message).
        loop = asyncio.new_event_loop()
        wait = 1.0
        try:
            while True:
                self.wake.wait(wait)
                self.wake.clear()
                stopping = self.stopping.is_set()
                groups, wait = self.due(time.monotonic(), everything=stopping)
                if groups:
                    self.send(loop, groups)
                elif stopping:
                    return
        finally:
            loop.close()

    def send(self, loop, groups):
        layer = get_channel_layer()
        stamp = f"{time.time():.3f}"
        fanout.COUNTS["ticks"] += len(groups)

        async def send_one(group):
            try:
                await layer.group_send(group, realtime.tick_message(group, stamp))
            except Exception as exc:  # best effort: the page shows the truth on next load
                log.warning("push to %s failed: %s", group, exc)

        async def send_all():  # together: the fan-out layer bounds its connections itself
            await asyncio.gather(*(send_one(group) for group in groups))

        try:
            home = realtime._home_loop  # embedded mode: the in-memory layer lives on daphne's loop
            if home is not None and home.is_running():
                asyncio.run_coroutine_threadsafe(send_all(), home).result(timeout=5)
            else:
                loop.run_until_complete(send_all())
        except Exception:
            log.exception("pushing %d ticks failed", len(groups))


@dataclass
class Listed:
    """Queued after the rows of a full list: remove the kind's rows that the list did not
    have ((kind, namespace, name) keys) and set its cursor."""

    kind: str
    keys: set
    resource_version: str


class ClusterWriter(threading.Thread):
    """Applies what a cluster's kind threads read to the mirror, in the order they read it."""

    def __init__(self, cluster_id, announcer):
        super().__init__(name=f"mirror-writer-{cluster_id}", daemon=True)
        self.cluster_id = cluster_id
        self.announcer = announcer
        self.queue = queue.Queue(maxsize=QUEUE_LIMIT)  # (kind, key, row, resourceVersion) or Listed
        self.stopping = threading.Event()
        self.gave_up = False  # stopped while the database was away: apply nothing more
        self.events_applied = 0

    def put(self, item, stop_event):
        """Queue an item; waits while the writer is QUEUE_LIMIT behind (raises Stopping if stopped meanwhile)."""
        while True:
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if stop_event.is_set() or self.stopping.is_set():
                    raise Stopping() from None

    def stop(self):
        """Apply what is queued, then end."""
        self.stopping.set()

    def run(self):
        try:
            while True:
                batch = self.next_batch()
                if batch is None:
                    return
                try:
                    self.write(batch)
                except Exception:  # never end early: the kind threads wait on this queue
                    log.exception("mirror writer of cluster %s", self.cluster_id)
        finally:
            connection.close()

    def next_batch(self):
        """The items waiting, up to MAX_BATCH or the end of a list; after a quiet spell wait
        BATCH_SECONDS for more, so that a trickle of events does not cost a transaction
        each. None: stopped, and nothing is left."""
        try:
            item = self.queue.get(timeout=0.5)
        except queue.Empty:
            return None if self.stopping.is_set() else []
        batch = [item]
        deadline = time.monotonic() + BATCH_SECONDS
        while len(batch) < MAX_BATCH and not isinstance(item, Listed):
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                wait = deadline - time.monotonic()
                if wait <= 0 or self.stopping.is_set():
                    break
                try:
                    item = self.queue.get(timeout=wait)
                except queue.Empty:
                    break
            batch.append(item)
        return batch

    def write(self, batch):
        if self.gave_up:  # a later batch must not move a cursor past one that was not applied
            return
        listed = batch.pop() if batch and isinstance(batch[-1], Listed) else None
        latest, versions = {}, {}
        for kind, key, row, version in batch:
            if key is not None:  # not a bookmark
                latest[(kind,) + key] = row  # the last state of each object wins
            if version:
                versions[kind] = version
        if latest or versions:
            changes = self.store(latest, versions)
            if changes is None:
                return
            self.events_applied += len(batch)
            self.announcer.changed(self.cluster_id, changes)
        if listed:
            deleted = self.retry(self.finish_list, listed)
            if deleted:
                self.announcer.changed(self.cluster_id, mirror.Changes(deleted=deleted))

    def finish_list(self, listed):
        with transaction.atomic():
            deleted = mirror.finish_list(self.cluster_id, listed.kind, listed.keys, listed.resource_version)
            WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=listed.kind).update(relists=F("relists") + 1)
        return deleted

    def store(self, latest, versions):
        """apply_rows; should PostgreSQL refuse a row (a value it cannot hold), store the
        batch row by row and leave that one out, rather than stall the whole cluster."""
        try:
            return self.retry(mirror.apply_rows, self.cluster_id, latest, versions)
        except DatabaseError as exc:
            log.error("mirror writer of cluster %s: %s; storing the batch row by row", self.cluster_id, exc)
        changes, refused = mirror.Changes(), {}
        for key, row in latest.items():
            try:
                one = self.retry(mirror.apply_rows, self.cluster_id, {key: row}, {})
            except DatabaseError as exc:
                log.error("mirror writer of cluster %s: left out %s: %s", self.cluster_id, "/".join(key), exc)
                refused[key[0]] = f"{'/'.join(key)} left out: {exc}"[:2000]
                continue
            if one is None:
                return None
            changes.upserted |= one.upserted
            changes.deleted |= one.deleted
        if self.retry(mirror.apply_rows, self.cluster_id, {}, versions) is None:
            return None
        for kind, error in refused.items():  # kept on the cursor, like a watch error
            WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=kind).update(last_error=error)
        return changes

    def retry(self, write, *args):
        """Run a write until it succeeds, while the database is away (other database
        errors are raised); None if stopped first."""
        backoff = BACKOFF_START
        while True:
            try:
                return write(*args)
            except (OperationalError, InterfaceError) as exc:
                log.warning("mirror writer of cluster %s: %s; retrying in %.1fs", self.cluster_id, exc, backoff)
                close_old_connections()
                if self.stopping.wait(backoff):
                    # Given up: the cursors did not move, so these events come again on the next start.
                    log.warning(
                        "mirror writer of cluster %s stopped, a batch and %d queued items not applied",
                        self.cluster_id,
                        self.queue.qsize(),
                    )
                    self.gave_up = True
                    return None
                backoff = min(backoff * 2, BACKOFF_MAX)


class KindWatcher(threading.Thread):
    def __init__(self, cluster, kind, stop_event, writer):
        super().__init__(name=f"watch-{cluster.name}-{kind.kind}", daemon=True)
        self.cluster_id = cluster.pk
        self.kubeconfig_encrypted = cluster.kubeconfig_encrypted
        self.context = cluster.context
        self.kind = kind
        self.stop_event = stop_event
        self.writer = writer
        self.resource_version = None  # where to resume: None at first (ask the cursor), "" to list again
        self.response = None  # the open watch stream, for interrupt()

    def run(self):
        backoff = BACKOFF_START
        while not self.stop_event.is_set():
            try:
                self.sync_once()
                backoff = BACKOFF_START
            except WatchExpired:
                log.info("%s: resourceVersion expired, listing again", self.name)
                self.resource_version = ""
            except Exception as exc:  # the API server is down or refused: wait and resume
                if self.stop_event.is_set():
                    break
                log.warning("%s: %s; retrying in %.1fs", self.name, exc, backoff)
                try:
                    # also before the first list (a 403: the identity may not list this kind), so it is seen
                    WatchCursor.objects.update_or_create(
                        cluster_id=self.cluster_id, kind=self.kind.kind, defaults={"last_error": str(exc)[:2000]}
                    )
                except DatabaseError as db_error:  # PostgreSQL is away too (a restart): keep watching regardless
                    log.warning("%s: the error is not kept on the cursor: %s", self.name, db_error)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                connection.close()  # the writer writes: hold no connection while watching

    def interrupt(self):
        """Cut the open watch stream, so that a stop is seen now rather than at the next event."""
        response = self.response
        if response is not None:
            try:
                response.shutdown()
            except Exception:  # already ended, or an older urllib3: the next event or timeout ends it
                pass

    def opened(self, response):
        self.response = response
        if self.stop_event.is_set():
            self.interrupt()

    def sync_once(self):
        # Checked at every connection, inside run()'s retry loop: a kubeconfig the console
        # refuses is reported on the cursor instead of ending the watchers' refresh.
        api = api_client(parse_kubeconfig(crypto.decrypt(self.kubeconfig_encrypted)), self.context)
        try:
            if self.resource_version is None:
                cursor = WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=self.kind.kind).first()
                self.resource_version = cursor.resource_version if cursor else ""
                connection.close()
            if not self.resource_version:
                self.relist(api)
            self.follow(api)
        finally:
            self.response = None
            api.close()

    def relist(self, api):
        """List into the writer's queue, a row per object like the watch's events, then
        Listed: events read before the list are applied before it, and those after, after."""
        kind, keys, resource_version = self.kind.kind, set(), ""
        for items, page_version in list_pages(api, self.kind):
            for item in items:
                item.setdefault("kind", kind)
                row = mirror.row_values(self.cluster_id, item)
                keys.add((kind, row[2], row[3]))
                self.writer.put((kind, (row[2], row[3]), row, ""), self.stop_event)
            resource_version = page_version or resource_version
        self.writer.put(Listed(kind, keys, resource_version), self.stop_event)
        self.resource_version = resource_version

    def follow(self, api):
        """Read the watch stream; each event goes to the writer as a ready row."""
        kind, put, prepare = self.kind.kind, self.writer.put, mirror.prepare_event
        for event_type, obj in watch_raw(
            api, self.kind, self.resource_version, WATCH_TIMEOUT_SECONDS, opened=self.opened
        ):
            if self.stop_event.is_set():
                return
            key, row, version = prepare(self.cluster_id, event_type, obj)
            put((kind, key, row, version), self.stop_event)
            self.resource_version = version or self.resource_version


class ClusterWatchers:
    """All kind watchers of all clusters; `refresh` starts them for new clusters."""

    def __init__(self, kinds=None):
        self.kinds = kinds or MIRRORED_KINDS
        self.cluster_stops = {}  # cluster pk -> Event that ends its watchers
        self.writers = {}  # cluster pk -> ClusterWriter
        self.threads = {}  # (cluster pk, kind) -> KindWatcher
        self.announcer = Announcer()
        # refresh() runs on the rescan thread while stop() runs on the main one: the lock
        # keeps stop() from iterating the dicts as refresh() changes them, and `stopped`
        # keeps a late refresh() from starting threads nobody would stop.
        self.lock = threading.Lock()
        self.stopped = False

    def refresh(self):
        with self.lock:
            if not self.stopped:
                self._refresh()

    def _refresh(self):
        if not self.announcer.is_alive():
            self.announcer.start()
        clusters = list(Cluster.objects.all())
        for cluster in clusters:
            stop = self.cluster_stops.setdefault(cluster.pk, threading.Event())
            writer = self.writers.get(cluster.pk)
            if writer is None:
                writer = self.writers[cluster.pk] = ClusterWriter(cluster.pk, self.announcer)
                writer.start()
            for kind in self.kinds:
                key = (cluster.pk, kind.kind)
                if key not in self.threads or not self.threads[key].is_alive():
                    self.threads[key] = KindWatcher(cluster, kind, stop, writer)
                    self.threads[key].start()
        removed = set(self.cluster_stops) - {cluster.pk for cluster in clusters}
        for cluster_pk in removed:
            self.cluster_stops.pop(cluster_pk).set()
            self.writers.pop(cluster_pk).stop()
            for key in [k for k in self.threads if k[0] == cluster_pk]:
                self.threads.pop(key).interrupt()

    def stop(self, timeout=10):
        """Stop reading, let the writers apply what was read, then stop announcing."""
        deadline = time.monotonic() + timeout
        with self.lock:
            self.stopped = True
            stops, threads, writers = (
                list(self.cluster_stops.values()),
                list(self.threads.values()),
                list(self.writers.values()),
            )
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.interrupt()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for writer in writers:
            writer.stop()
        for writer in writers:
            writer.join(max(0.0, deadline - time.monotonic()))
        self.announcer.stop()
        if self.announcer.is_alive():
            self.announcer.join(max(0.0, deadline - time.monotonic()))
