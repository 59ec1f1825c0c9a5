"""Keep the resource mirror in step with each cluster: per kind, list then watch.

Per cluster and kind one thread: list (paged) into the mirror, then watch from the
list's resourceVersion; events are applied in batches (at most BATCH_SIZE events or
BATCH_SECONDS of waiting), the cursor moves with each batch, a 410 Gone means list
again, and a dropped or refused connection means back off and resume from the cursor.
Each applied batch is announced to the live pages (coalesced per group).
"""

import logging
import queue
import threading
import time

from django.db import close_old_connections, connection
from django.db.models import F

from . import crypto, kube, mirror, realtime
from .mirror import kind_group, namespace_kind_group
from .models import Cluster, WatchCursor

log = logging.getLogger(__name__)

BATCH_SIZE = 500
BATCH_SECONDS = 0.05
BACKOFF_START, BACKOFF_MAX = 0.5, 30.0
WATCH_TIMEOUT_SECONDS = 300
_END = object()


def announce(cluster_id, kind, changes):
    """Tell pages showing this kind that it changed; they re-read their table from the mirror."""
    if not changes:
        return
    groups = {kind_group(cluster_id, kind)}
    groups |= {namespace_kind_group(cluster_id, ns, kind) for (_k, ns, _n) in changes.deleted if ns}
    groups |= {namespace_kind_group(cluster_id, ns, kind) for (_k, ns, _n) in changes.upserted if ns}
    stamp = f"{time.time():.3f}"
    for group in groups:
        realtime.send_now(group, f'<span id="{mirror.tick_id(group)}" class="mirror-tick" hx-swap-oob="true" data-tick="{stamp}"></span>')


class KindWatcher(threading.Thread):
    def __init__(self, cluster, kind, stop_event, on_changes=announce):
        super().__init__(name=f"watch-{cluster.name}-{kind.kind}", daemon=True)
        self.cluster_id = cluster.pk
        self.kubeconfig = kube.parse_kubeconfig(crypto.decrypt(cluster.kubeconfig_encrypted))
        self.context = cluster.context
        self.kind = kind
        self.stop_event = stop_event
        self.on_changes = on_changes
        self.events_applied = 0

    def run(self):
        backoff = BACKOFF_START
        while not self.stop_event.is_set():
            try:
                self.sync_once()
                backoff = BACKOFF_START
            except kube.WatchExpired:
                log.info("%s: resourceVersion expired, listing again", self.name)
                WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=self.kind.kind).update(resource_version="")
            except Exception as exc:  # the API server is down or refused: wait and resume
                log.warning("%s: %s; retrying in %.1fs", self.name, exc, backoff)
                WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=self.kind.kind).update(last_error=str(exc)[:2000])
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                close_old_connections()
        connection.close()

    def resume_point(self):
        cursor = WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=self.kind.kind).first()
        return cursor.resource_version if cursor else ""

    def sync_once(self):
        api = kube.api_client(self.kubeconfig, self.context)
        try:
            resource_version = self.resume_point()
            if not resource_version:
                changes = mirror.replace_kind_paged(self.cluster_id, self.kind.kind, kube.list_pages(api, self.kind))
                resource_version = WatchCursor.objects.get(cluster_id=self.cluster_id, kind=self.kind.kind).resource_version
                WatchCursor.objects.filter(cluster_id=self.cluster_id, kind=self.kind.kind).update(relists=F("relists") + 1)
                self.on_changes(self.cluster_id, self.kind.kind, changes)
            self.follow(api, resource_version)
        finally:
            api.close()

    def follow(self, api, resource_version):
        """Read the watch stream on a helper thread; apply what arrives in batches here."""
        events = queue.Queue(maxsize=20 * BATCH_SIZE)
        failure = []

        def read():
            try:
                for event in kube.watch_raw(api, self.kind, resource_version, WATCH_TIMEOUT_SECONDS):
                    events.put(event)
                    if self.stop_event.is_set():
                        break
            except Exception as exc:
                failure.append(exc)
            finally:
                events.put(_END)

        reader = threading.Thread(target=read, name=self.name + "-reader", daemon=True)
        reader.start()
        ended = False
        while not ended and not self.stop_event.is_set():
            try:
                first = events.get(timeout=1.0)
            except queue.Empty:
                continue
            batch, deadline = [], time.monotonic() + BATCH_SECONDS
            item = first
            while True:
                if item is _END:
                    ended = True
                    break
                batch.append(item)
                if len(batch) >= BATCH_SIZE:
                    break
                try:
                    item = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            if batch:
                self.apply(batch)
        if failure:
            raise failure[0]

    def apply(self, batch):
        last_version = (batch[-1][1].get("metadata") or {}).get("resourceVersion", "")
        changes = mirror.apply_events(self.cluster_id, self.kind.kind, batch, last_version)
        self.events_applied += len(batch)
        self.on_changes(self.cluster_id, self.kind.kind, changes)


class ClusterWatchers:
    """All kind watchers of all clusters; `refresh` starts them for new clusters."""

    def __init__(self, kinds=None):
        self.kinds = kinds or kube.MIRRORED_KINDS
        self.cluster_stops = {}  # cluster pk -> Event that ends its watchers
        self.threads = {}

    def refresh(self):
        clusters = list(Cluster.objects.all())
        for cluster in clusters:
            stop = self.cluster_stops.setdefault(cluster.pk, threading.Event())
            for kind in self.kinds:
                key = (cluster.pk, kind.kind)
                if key not in self.threads or not self.threads[key].is_alive():
                    self.threads[key] = KindWatcher(cluster, kind, stop)
                    self.threads[key].start()
        removed = set(self.cluster_stops) - {cluster.pk for cluster in clusters}
        for cluster_pk in removed:
            self.cluster_stops.pop(cluster_pk).set()
            for key in [k for k in self.threads if k[0] == cluster_pk]:
                self.threads.pop(key)

    def stop(self, timeout=10):
        for stop in self.cluster_stops.values():
            stop.set()
        for thread in self.threads.values():
            thread.join(timeout)
