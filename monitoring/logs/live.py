"""An app's log timeline, followed live.

The page (views.app_timeline) shows the archived lines; its socket (consumers.TimelineConsumer,
/ws/logs/<tenant>/<namespace>/apps/<app>/) then follows two sources and sends each new line
once, in time order:

1. The Kubernetes log API: `GET .../pods/<pod>/log?follow=true&timestamps=true&sinceTime=<the
   newest archived line>` for each running container of the app's pods (found in the resource
   mirror), read as the user (impersonated, so the cluster's RBAC and audit apply; operators
   and auditors as the console). A line shows the moment the container writes it, long before
   a collector has shipped it.
2. The log store: the lines ingestion commits after the page's horizon (PostgresStore.follow),
   which also brings the lines of pods that are gone or not followed live.

Both deliver most lines. A line is its pod, container, timestamp (to the microsecond: the
runtime's, which the log API and the collector both carry) and text; `line_key` of those goes
with every row. The follow sends a key once (it remembers the last MAX_SEEN); the page shows a
key once (the archive included: sinceTime has whole seconds, so the archive's last second comes
again) and puts each row in its place by time (ingestion brings older lines late).

Bounds: one follow per socket, ended with the socket (its streams shut, their threads gone); at
most MAX_STREAMS containers followed live (the others' lines come through ingestion); lines read
but not sent yet are capped (MAX_PENDING; older ones skipped and counted) and at most
LINES_PER_SECOND are sent; a user's timelines in one process are capped (MAX_PER_USER: a new one
ends the oldest). The readers are threads in the daphne process that holds the socket (reads
block), as the pod-log panel's followers are; the store and the mirror are read on the
consumer's database thread, so a timeline holds no database connection of its own.
"""

import contextlib
import hashlib
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from console.clusters.models import MirroredObject
from console.kube.api import CONSOLE, ClusterAPI, log_lines
from console.kube.errors import ApiRefused, ClusterError
from tenants import access

from .backends import default_store
from .ingest import APP_LABELS, level_of
from .store import EPOCH, Query

log = logging.getLogger(__name__)

SOCKET_ROUTE = "ws/logs/<slug:tenant>/<slug:namespace>/apps/<slug:app>/"
ARCHIVE_WINDOW = timedelta(hours=1)  # what the page shows, and the oldest sinceTime asked for
STORE_WINDOW = timedelta(minutes=30)  # lines ingested later than this after their time are left to search
FLUSH_SECONDS = 0.25
STORE_SECONDS = 1.0  # how often the store is asked for what ingestion committed
REFRESH_SECONDS = 5.0  # how often the app's pods are looked up again (and access checked again)
TAIL_LINES = 200  # a stream's first lines at most (those since sinceTime)
MAX_STREAMS = 10
MAX_PENDING = 2000
MAX_SEEN = 20_000
STORE_LIMIT = 1000  # lines from the store per poll
LINES_PER_SECOND = 500
MAX_LINE_CHARS = 4000
MAX_PER_USER = 4
RETRY_SECONDS, MAX_RETRY_SECONDS = 2.0, 60.0

# Why a follow stopped
REPLACED, REFUSED = "replaced", "refused"

API_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")


class Refused(Exception):
    """The user may not follow this app (or no longer may)."""


class BadRequest(Exception):
    """The socket's address is incomplete or wrong."""


# --- lines ------------------------------------------------------------------------------


def micros(moment):
    return (moment - EPOCH) // timedelta(microseconds=1)


def line_key(pod, container, moment, text):
    """What makes two copies of a line the same line (the API's and the collector's)."""
    text = text.rstrip("\r\n").replace("\x00", "")
    raw = "\x1f".join((pod, container, str(micros(moment)), text))
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One line of the timeline, from either source."""

    ts: datetime
    pod: str
    container: str
    text: str
    level: str
    origin: str  # "api" (the Kubernetes log API) or "store" (ingested)
    key: str


def entry_of_line(line):
    """A store.Line as a timeline entry."""
    return Entry(
        line.ts,
        line.pod,
        line.container,
        line.message,
        line.level,
        "store",
        line_key(line.pod, line.container, line.ts, line.message),
    )


def entry_of_api(pod, container, raw):
    """A line of `log?timestamps=true` ("<RFC 3339 nanoseconds> <text>") as an entry; a line
    without a stamp (none expected) gets the moment it was read."""
    stamp = API_STAMP.match(raw)
    moment = None
    if stamp:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(stamp.group(1)).astimezone(UTC)  # nanoseconds are cut to micro
    text = raw[stamp.end() :] if moment is not None else raw
    moment = moment or datetime.now(UTC)
    text = text.rstrip("\r").replace("\x00", "")
    return Entry(moment, pod, container, text, level_of({}, text), "api", line_key(pod, container, moment, text))


def rows(entries):
    """What templates/logs/_timeline_rows.html shows of each entry."""
    return [
        {
            "ts": entry.ts,
            "micros": micros(entry.ts),
            "pod": entry.pod,
            "container": entry.container,
            "text": entry.text if len(entry.text) <= MAX_LINE_CHARS else entry.text[:MAX_LINE_CHARS] + "…",
            "error": entry.level == "error",
            "origin": entry.origin,
            "key": entry.key,
        }
        for entry in entries
    ]


def render_rows(entries):
    return render_to_string("logs/_timeline_rows.html", {"rows": rows(entries)})


class Seen:
    """The last `size` keys, in the order first seen."""

    def __init__(self, size):
        self.size, self.keys, self.order = size, set(), deque()

    def add(self, key):
        """False when the key was seen already."""
        if key in self.keys:
            return False
        self.keys.add(key)
        self.order.append(key)
        if len(self.order) > self.size:
            self.keys.discard(self.order.popleft())
        return True

    def __len__(self):
        return len(self.order)


# --- the socket's address -----------------------------------------------------------------


def socket_path(tenant, namespace, app, *, since, start):
    """Where the page's script connects: `since` the store's horizon before the archive was read
    (None: this store is not followed), `start` the newest archived line's moment."""
    params = {"from": micros(start)}
    if since is not None:
        params["since"] = since
    return f"/ws/logs/{tenant}/{namespace}/apps/{app}/?{urlencode(params)}"


def parse_params(params):
    """(since, start) from the socket's query string (a dict of lists), or BadRequest."""
    try:
        since = params.get("since", [None])[0]
        since = int(since) if since not in (None, "") else None
        start = EPOCH + timedelta(microseconds=int(params.get("from", [""])[0]))
    except (ValueError, OverflowError):
        raise BadRequest(_("The timeline's address is incomplete; reload the page.")) from None
    if since is not None and not 0 <= since < 2**32:
        raise BadRequest(_("The timeline's address is incomplete; reload the page."))
    now = timezone.now()
    return since, min(max(start, now - ARCHIVE_WINDOW), now)


# --- following --------------------------------------------------------------------------

_open = {}  # user id -> [Follow], in this process
_open_lock = threading.Lock()


def open_follow(user, tenant, namespace, app, *, since, start):
    """A follow of the app's lines for this user: Refused unless they may see its namespace."""
    try:
        project = access.get_project(user, tenant, namespace)  # another tenant's: as if there were none
    except Http404:
        raise Refused(_("You may not follow the logs of this app.")) from None
    store = default_store()
    follow = Follow(user, project, app, store=store, since=since if hasattr(store, "horizon") else None, start=start)
    with _open_lock:
        mine = [f for f in _open.get(user.pk, []) if not f.closed.is_set()]
        older = mine[: max(0, len(mine) - MAX_PER_USER + 1)]
        _open[user.pk] = [f for f in mine if f not in older] + [follow]
    for each in older:
        each.stop(REPLACED, _("Stopped: you follow %(count)s other timelines.") % {"count": MAX_PER_USER})
    return follow


def running():
    """The follows open in this process and their reader threads still alive (for tests)."""
    with _open_lock:
        follows = [f for group in _open.values() for f in group if not f.closed.is_set()]
    threads = [t.name for t in threading.enumerate() if t.name.startswith("logtail-")]
    return follows, threads


def reader_identity(user, tenant):
    """Tenant users are impersonated (the cluster's RBAC and audit apply); operators and
    auditors, who belong to no tenant, read as the console."""
    return access.identity_for(user, tenant) if access.may_operate(user, tenant) else CONSOLE


def app_of(labels):
    """The app a pod's lines are stored under (ingest.rows reads the same labels)."""
    return next((labels[key] for key in APP_LABELS if isinstance(labels.get(key), str)), "")


class Follow:
    """What one socket follows. Reader threads add lines; the consumer takes them (take_api),
    asks the store (poll_store) and the mirror (refresh), and sends what `admit` lets through."""

    def __init__(self, user, project, app, *, store, since, start):
        self.user, self.project, self.app, self.store = user, project, app, store
        self.since, self.start = since, start
        self.identity = reader_identity(user, project.tenant)
        self.lock = threading.Lock()
        self.pending = deque()
        self.skipped = 0
        self.notes = []
        self.noted = set()  # each message once
        self.streams = {}  # (pod, container) -> Stream
        self.retry = {}  # (pod, container) -> (monotonic time, delay)
        self.last = {}  # (pod, container) -> the newest moment read from the API
        self.sent = Seen(MAX_SEEN)
        self.closed = threading.Event()
        self.stop_reason, self.stop_message = "", ""
        self.containers = 0  # running containers of the app at the last refresh

    def query(self):
        now = timezone.now()
        return Query(
            start=now - STORE_WINDOW,
            end=now + timedelta(minutes=5),
            scope=None if access.may_see_all(self.user) else [(self.project.cluster_id, self.project.name)],
            cluster_id=self.project.cluster_id,
            namespace=self.project.name,
            app=self.app,
        )

    # --- the consumer's side

    def refresh(self):
        """On the database thread: check access again, find the app's running containers, and
        follow those not followed yet (at most MAX_STREAMS). Refused when access is gone."""
        try:
            self.user.refresh_from_db()  # a changed platform role counts from now on
        except get_user_model().DoesNotExist:
            raise Refused(_("You may no longer follow the logs of this app.")) from None
        tenant = type(self.project.tenant).objects.filter(pk=self.project.tenant_id).first()
        if not self.user.is_active or tenant is None or not access.may_see(self.user, tenant):
            raise Refused(_("You may no longer follow the logs of this app."))
        wanted = self._running_containers()
        self.containers = len(wanted)
        now = time.monotonic()
        with self.lock:
            if self.closed.is_set():
                return
            for gone in [key for key in self.retry if key not in self.streams and key not in wanted]:
                self.retry.pop(gone, None)  # pods come and go over a long follow: forget those gone
                self.last.pop(gone, None)
            if len(self.noted) > 100:
                self.noted.clear()
            for key in wanted:
                if key in self.streams or len(self.streams) >= MAX_STREAMS:
                    continue
                if self.retry.get(key, (0, 0))[0] > now:
                    continue
                since = self.last.get(key) or self.start
                stream = Stream(self, key[0], key[1], since)
                self.streams[key] = stream
                stream.start()

    def _running_containers(self):
        labels = Q()
        for label in APP_LABELS:
            labels |= Q(labels__contains={label: self.app})
        pods = MirroredObject.objects.filter(
            labels, cluster_id=self.project.cluster_id, kind="Pod", namespace=self.project.name, phase="Running"
        ).values_list("name", "labels", "object")
        found = []
        for name, pod_labels, obj in pods.order_by("name")[: MAX_STREAMS * 4]:
            if app_of(pod_labels or {}) != self.app:
                continue
            for status in (obj.get("status") or {}).get("containerStatuses") or []:
                if "running" in (status.get("state") or {}) and status.get("name"):
                    found.append((name, status["name"]))
        return found

    def poll_store(self):
        """On the database thread: the lines committed since the last poll, and whether there
        were more than one poll takes."""
        if self.since is None:
            return [], False
        until = self.store.horizon()
        lines = self.store.follow(self.query(), since=self.since, until=until, limit=STORE_LIMIT)
        self.since = until
        return [entry_of_line(line) for line in lines], len(lines) >= STORE_LIMIT

    def take_api(self):
        with self.lock:
            entries, self.pending = list(self.pending), deque()
            skipped, self.skipped = self.skipped, 0
            notes, self.notes = self.notes, []
        return entries, skipped, notes

    def admit(self, entries):
        """The entries not sent before (first copy wins), oldest first."""
        return sorted((e for e in entries if self.sent.add(e.key)), key=lambda e: (e.ts, e.pod, e.container))

    def stop(self, reason, message):
        self.stop_reason, self.stop_message = reason, message
        self.close()

    def close(self):
        """End every stream now (a blocked read returns); the threads end by themselves."""
        with self.lock:
            self.closed.set()
            streams = list(self.streams.values())
        for stream in streams:
            stream.shut()
        with _open_lock:
            mine = _open.get(self.user.pk, [])
            if self in mine:
                mine.remove(self)
            if not mine:
                _open.pop(self.user.pk, None)

    # --- the readers' side

    def add(self, entries):
        with self.lock:
            self.pending.extend(entries)
            extra = len(self.pending) - MAX_PENDING
            for _n in range(max(0, extra)):
                self.pending.popleft()
            self.skipped += max(0, extra)

    def ended(self, stream, message="", failed=False):
        key = (stream.pod, stream.container)
        with self.lock:
            if self.streams.get(key) is stream:
                del self.streams[key]
            if stream.last is not None:
                self.last[key] = stream.last
            # a stream that failed is tried again later and later; one that ended soon (a restart)
            delay = min(MAX_RETRY_SECONDS, max(RETRY_SECONDS, self.retry.get(key, (0, 0))[1] * 2)) if failed else 0
            self.retry[key] = (time.monotonic() + (delay or RETRY_SECONDS), delay)
            if message and message not in self.noted and not self.closed.is_set():
                self.noted.add(message)
                self.notes.append(message)


class Stream(threading.Thread):
    """Reads one container's log from the API and hands its lines to the follow."""

    def __init__(self, follow, pod, container, since):
        super().__init__(name=f"logtail-{follow.project.name}-{pod}-{container}"[:80], daemon=True)
        self.follow, self.pod, self.container, self.since = follow, pod, container, since
        self.response = None
        self.last = None
        self.lock = threading.Lock()

    def shut(self):
        with self.lock:
            response = self.response
        if response is not None:
            _shut(response)

    def run(self):
        follow = self.follow
        message, failed = "", False
        try:
            with ClusterAPI(follow.project.cluster, follow.identity) as api:
                response = api.follow_pod_log(
                    self.pod,
                    follow.project.name,
                    self.container,
                    tail_lines=TAIL_LINES,
                    since_time=self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    timestamps=True,
                )
                with self.lock:
                    self.response = response
                try:
                    if not follow.closed.is_set():
                        self._read(response)
                finally:
                    _shut(response)
        except ApiRefused as exc:
            failed = True
            message = _("%(pod)s: the cluster refused: %(message)s") % {"pod": self.pod, "message": exc.message}
        except ClusterError as exc:
            failed = True
            message = _("%(pod)s: %(error)s") % {"pod": self.pod, "error": exc}
        except Exception:  # noqa: BLE001 (our own shutdown, or the connection broke)
            failed = not follow.closed.is_set()
            if failed:
                log.exception("following the log of %s/%s failed", follow.project.name, self.pod)
        finally:
            follow.ended(self, message, failed)

    def _read(self, response):
        for lines in log_lines(response, MAX_LINE_CHARS * 4, lambda: not self.follow.closed.is_set()):
            self._add(lines)

    def _add(self, raw_lines):
        entries = [entry_of_api(self.pod, self.container, raw.decode(errors="replace")) for raw in raw_lines]
        if entries:
            self.last = entries[-1].ts
            self.follow.add(entries)


def _shut(response):
    """End the stream now, even while a reader is blocked in a read."""
    with contextlib.suppress(ValueError, RuntimeError, OSError, AttributeError):
        response.shutdown()
    with contextlib.suppress(OSError):
        response.close()
