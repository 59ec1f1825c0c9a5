"""An app's log timeline, followed live.

The page (views.app_timeline) shows the archived lines; its socket (consumers.TimelineConsumer,
/ws/logs/<tenant>/<namespace>/apps/<app>/) then follows two sources and sends each new line
once, in time order:

1. The Kubernetes log API: `GET .../pods/<pod>/log?follow=true&timestamps=true&sinceTime=<the
   newest archived line>` for each running container of the app's pods (found in the resource
   mirror), read as the user (impersonated, so the cluster's RBAC and audit apply; operators
   and auditors as the console). A line shows the moment the container writes it, long before
   a collector has shipped it.
2. The log store: the lines ingestion commits after the page's horizon (`follow` of PostgresStore
   and ClickHouseStore: each committed line once), which also brings the lines of pods that are
   gone or not followed live. The store is asked once per STORE_SECONDS per process for all the
   follows that want the same lines (StorePoll: one cluster, namespace, app and reader's scope),
   not once per socket: 100 open timelines of one app cost two queries a second, not 200.

Both deliver most lines. A line is its pod, container, timestamp (to the microsecond: the
runtime's, which the log API and the collector both carry) and text; `line_key` of those goes
with every row. The follow sends a key once (it remembers the last MAX_SEEN); the page shows a
key once (the archive included: sinceTime has whole seconds, so the archive's last second comes
again) and puts each row in its place by time (ingestion brings older lines late).

Bounds: one follow per socket, ended with the socket (its streams shut, their threads gone); at
most MAX_STREAMS containers followed live: the page's selected pod (?pod=) first, then the most
recently started (where a new rollout's lines are), and the page is told which (the others' lines
come through ingestion); lines read but not sent yet are capped (MAX_PENDING; older ones skipped
and counted) and at most LINES_PER_SECOND are sent; a user's timelines in one process are capped
(MAX_PER_USER: a new one ends the oldest). The readers are threads in the daphne process that holds the socket (reads
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
from django.db.models import F, Q
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

POD_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # a DNS subdomain, as Kubernetes names pods
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
    """(since, start, pod) from the socket's query string (a dict of lists), or BadRequest. `pod`
    (the page's ?pod=, "" for none) is the pod the reader picked: followed live first."""
    try:
        since = params.get("since", [None])[0]
        since = int(since) if since not in (None, "") else None
        start = EPOCH + timedelta(microseconds=int(params.get("from", [""])[0]))
    except (ValueError, OverflowError):
        raise BadRequest(_("The timeline's address is incomplete; reload the page.")) from None
    if since is not None and not 0 <= since < 2**32:
        raise BadRequest(_("The timeline's address is incomplete; reload the page."))
    pod = params.get("pod", [""])[0]
    if pod and not POD_NAME.fullmatch(pod):
        raise BadRequest(_("%(pod)s is not a pod name.") % {"pod": pod[:80]})
    now = timezone.now()
    return since, min(max(start, now - ARCHIVE_WINDOW), now), pod


# --- following --------------------------------------------------------------------------

_open = {}  # user id -> [Follow], in this process
_open_lock = threading.Lock()


def open_follow(user, tenant, namespace, app, *, since, start, pod=""):
    """A follow of the app's lines for this user: Refused unless they may see its namespace."""
    try:
        project = access.get_project(user, tenant, namespace)  # another tenant's: as if there were none
    except Http404:
        raise Refused(_("You may not follow the logs of this app.")) from None
    store = default_store()
    since = since if hasattr(store, "horizon") else None
    follow = Follow(user, project, app, store=store, since=since, start=start, pod=pod)
    with _open_lock:
        mine = [f for f in _open.get(user.pk, []) if not f.closed.is_set()]
        older = mine[: max(0, len(mine) - MAX_PER_USER + 1)]
        _open[user.pk] = [f for f in mine if f not in older] + [follow]
    for each in older:
        each.stop(REPLACED, _("Stopped: you follow %(count)s other timelines.") % {"count": MAX_PER_USER})
    follow.join_poll()
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
    """What one socket follows. Reader threads add lines (add); the store's poll hands it what
    ingestion committed (offer); the consumer takes both (take_api, take_store), has the poll ask
    the store when it is due (poll_store), looks at the mirror (refresh), and sends what `admit`
    lets through."""

    def __init__(self, user, project, app, *, store, since, start, pod=""):
        self.user, self.project, self.app, self.store = user, project, app, store
        self.since, self.start, self.pod = since, start, pod
        self.identity = reader_identity(user, project.tenant)
        self.lock = threading.Lock()
        self.pending = deque()  # from the API
        self.stored = deque()  # from the store (the poll's)
        self.more = False  # a poll brought as many lines as one poll takes: there were more
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
        self.chosen = []  # those followed live, (pod, container) in the order chosen
        self.poll = None  # the StorePoll this follow's store lines come from

    def scope(self):
        return None if access.may_see_all(self.user) else [(self.project.cluster_id, self.project.name)]

    def join_poll(self):
        """Take the store's lines from the poll of these lines in this reader's scope (again after
        a changed platform role: another scope is another poll)."""
        if self.since is None or self.closed.is_set():
            return
        key = poll_key(self.store, self.project.cluster_id, self.project.name, self.app, self.scope())
        if self.poll is not None and self.poll.key == key:
            return
        if self.poll is not None:
            self.poll.leave(self)
        self.poll = StorePoll.join(key, self.store, self)

    # --- the consumer's side

    def refresh(self):
        """On the database thread: check access again, rank the app's running containers, and
        follow the first MAX_STREAMS of them (those no longer among them are let go). Refused
        when access is gone."""
        try:
            self.user.refresh_from_db()  # a changed platform role counts from now on
        except get_user_model().DoesNotExist:
            raise Refused(_("You may no longer follow the logs of this app.")) from None
        tenant = type(self.project.tenant).objects.filter(pk=self.project.tenant_id).first()
        if not self.user.is_active or tenant is None or not access.may_see(self.user, tenant):
            raise Refused(_("You may no longer follow the logs of this app."))
        self.join_poll()
        wanted = self._running_containers()
        chosen = wanted[:MAX_STREAMS]
        self.containers = len(wanted)
        now = time.monotonic()
        with self.lock:
            if self.closed.is_set():
                return
            self.chosen = chosen
            for gone in [key for key in self.retry if key not in self.streams and key not in wanted]:
                self.retry.pop(gone, None)  # pods come and go over a long follow: forget those gone
                self.last.pop(gone, None)
            if len(self.noted) > 100:
                self.noted.clear()
            dropped = [stream for key, stream in self.streams.items() if key not in chosen]
            for key in chosen:
                if key in self.streams:
                    continue
                if self.retry.get(key, (0, 0))[0] > now:
                    continue
                since = self.last.get(key) or self.start
                stream = Stream(self, key[0], key[1], since)
                self.streams[key] = stream
                stream.start()
        for stream in dropped:  # newer containers came: those are followed instead
            stream.drop()

    def _running_containers(self):
        """The app's running containers, (pod, container), in the order to follow them live: the
        reader's pod first, then the most recently started (a new rollout's lines are the ones
        looked for), then by name."""
        labels = Q()
        for label in APP_LABELS:
            labels |= Q(labels__contains={label: self.app})
        pods = MirroredObject.objects.filter(
            labels, cluster_id=self.project.cluster_id, kind="Pod", namespace=self.project.name, phase="Running"
        )
        fields = ("name", "labels", "object")
        rows = list(
            pods.order_by(F("created_at").desc(nulls_last=True), "name").values_list(*fields)[: MAX_STREAMS * 4]
        )
        if self.pod and all(name != self.pod for name, *_rest in rows):
            rows += list(pods.filter(name=self.pod).values_list(*fields))
        found = []
        for name, pod_labels, obj in rows:
            if app_of(pod_labels or {}) != self.app:
                continue
            for status in (obj.get("status") or {}).get("containerStatuses") or []:
                state = status.get("state") or {}
                if "running" in state and status.get("name"):
                    started = (state["running"] or {}).get("startedAt") if isinstance(state["running"], dict) else ""
                    found.append((name, status["name"], str(started or "")))
        found.sort(key=lambda c: (c[0], c[1]))
        found.sort(key=lambda c: c[2], reverse=True)  # RFC 3339 in UTC: in time order as text; stable
        found.sort(key=lambda c: c[0] != self.pod)
        return [(pod, container) for pod, container, _started in found]

    def store_due(self):
        """Whether poll_store would ask the store anything (no database needed to tell)."""
        return self.poll is not None and self.poll.due_for(self)

    def poll_store(self):
        """On the database thread: the poll asks the store if it is due (for all its follows)."""
        poll = self.poll
        if poll is not None and not self.closed.is_set():
            poll.run()

    def take_api(self):
        with self.lock:
            entries, self.pending = list(self.pending), deque()
            skipped, self.skipped = self.skipped, 0
            notes, self.notes = self.notes, []
        return entries, skipped, notes

    def take_store(self):
        """The store's lines handed over since the last take, and whether a poll had more."""
        with self.lock:
            entries, self.stored = list(self.stored), deque()
            more, self.more = self.more, False
        return entries, more

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
            self.stored.clear()
        for stream in streams:
            stream.shut()
        if self.poll is not None:
            self.poll.leave(self)
        with _open_lock:
            mine = _open.get(self.user.pk, [])
            if self in mine:
                mine.remove(self)
            if not mine:
                _open.pop(self.user.pk, None)

    # --- the poll's side

    def offer(self, entries, more, until):
        """Lines the store committed (the poll's, shared: the follow still de-duplicates them);
        `until` the horizon they reach (None: a catch-up of this follow's own)."""
        with self.lock:
            if self.closed.is_set():
                return
            self._queue(self.stored, entries)
            self.more = self.more or more
            if until is not None:
                self.since = until

    # --- the readers' side

    def add(self, entries):
        with self.lock:
            self._queue(self.pending, entries)

    def _queue(self, queue, entries):
        queue.extend(entries)
        extra = len(queue) - MAX_PENDING
        for _n in range(max(0, extra)):
            queue.popleft()
        self.skipped += max(0, extra)

    def ended(self, stream, message="", failed=False):
        key = (stream.pod, stream.container)
        with self.lock:
            if self.streams.get(key) is stream:
                del self.streams[key]
            if stream.last is not None:
                self.last[key] = stream.last
            if stream.dropped:  # let go for a newer container: nothing failed, nothing to say
                return
            # a stream that failed is tried again later and later; one that ended soon (a restart)
            delay = min(MAX_RETRY_SECONDS, max(RETRY_SECONDS, self.retry.get(key, (0, 0))[1] * 2)) if failed else 0
            self.retry[key] = (time.monotonic() + (delay or RETRY_SECONDS), delay)
            if message and message not in self.noted and not self.closed.is_set():
                self.noted.add(message)
                self.notes.append(message)


# --- the store, asked once per process for every follow of the same lines ----------------

_polls = {}  # poll_key -> StorePoll, in this process
_polls_lock = threading.Lock()
WRAP = 2**32  # PostgreSQL's transaction ids wrap here (ClickHouse's seconds stay far below it)


def poll_key(store, cluster_id, namespace, app, scope):
    """Follows share a poll only when they ask the same store for the same lines in the same
    scope: lines are never handed across scopes, even where they would be the same."""
    scope = None if scope is None else tuple(sorted((int(c), str(n)) for c, n in scope))
    return (
        type(store).__name__,
        getattr(store, "url", ""),
        getattr(store, "table", ""),
        cluster_id,
        namespace,
        app,
        scope,
    )


def after(a, b):
    """Whether horizon `b` comes after horizon `a` (modulo WRAP, as the stores compare them)."""
    return 0 < (b - a) % WRAP < WRAP // 2


def store_polls():
    """The polls open in this process: key -> the number of follows they serve (for tests)."""
    with _polls_lock:
        return {key: len(poll.follows) for key, poll in _polls.items()}


class StorePoll:
    """One process's poll of the store for all the follows of one app's lines in one scope: one
    horizon() and one follow() per STORE_SECONDS whatever the number of sockets (they all run on
    daphne's one database thread), each follow handed the same lines. A follow that joins with an
    older horizon (its page was read before the poll's last horizon) is first brought up to the
    poll's by a query of its own, once; one with a newer horizon gets some of its archive again,
    which the follow and the page drop."""

    def __init__(self, key, store):
        self.key, self.store = key, store
        _kind, _url, _table, self.cluster_id, self.namespace, self.app, scope = key
        self.scope = None if scope is None else [list(pair) for pair in scope]
        self.lock = threading.Lock()  # held over a poll: a second socket's call waits, then finds it done
        self.follows = {}  # Follow -> the horizon it is still to be brought up from (None: up to date)
        self.since = None  # the horizon the next poll goes on from
        self.due = 0.0  # monotonic time of the next poll

    @classmethod
    def join(cls, key, store, follow):
        with _polls_lock:
            poll = _polls.get(key)
            if poll is None:
                poll = _polls[key] = cls(key, store)
            with poll.lock:
                if poll.since is None:
                    poll.since = follow.since
                poll.follows[follow] = follow.since if after(follow.since, poll.since) else None
        return poll

    def leave(self, follow):
        with _polls_lock, self.lock:
            self.follows.pop(follow, None)
            if not self.follows and _polls.get(self.key) is self:
                del _polls[self.key]

    def due_for(self, follow):
        return time.monotonic() >= self.due or self.follows.get(follow) is not None

    def query(self):
        now = timezone.now()
        return Query(
            start=now - STORE_WINDOW,
            end=now + timedelta(minutes=5),
            scope=self.scope,
            cluster_id=self.cluster_id,
            namespace=self.namespace,
            app=self.app,
        )

    def run(self):
        """On a database thread: bring joining follows up to the poll's horizon; when due, ask the
        store what committed since the last poll and hand it to every follow. A store error
        propagates (the caller logs it); the next poll goes on from the same horizon."""
        with self.lock:
            for follow, since in list(self.follows.items()):
                if since is not None:
                    lines = self.store.follow(self.query(), since=since, until=self.since, limit=STORE_LIMIT)
                    self.follows[follow] = None
                    follow.offer([entry_of_line(line) for line in lines], len(lines) >= STORE_LIMIT, None)
            now = time.monotonic()
            if now < self.due:
                return
            self.due = now + STORE_SECONDS  # first: a failing store is asked again a poll later, not by every socket
            until = self.store.horizon()
            if not after(self.since, until):  # nothing committed since (or ClickHouse's went back a second)
                return
            lines = self.store.follow(self.query(), since=self.since, until=until, limit=STORE_LIMIT)
            self.since = until
            entries, more = [entry_of_line(line) for line in lines], len(lines) >= STORE_LIMIT
            for follow, behind in self.follows.items():
                follow.offer(entries, more, until if behind is None else None)


class Stream(threading.Thread):
    """Reads one container's log from the API and hands its lines to the follow."""

    def __init__(self, follow, pod, container, since):
        super().__init__(name=f"logtail-{follow.project.name}-{pod}-{container}"[:80], daemon=True)
        self.follow, self.pod, self.container, self.since = follow, pod, container, since
        self.response = None
        self.last = None
        self.dropped = False  # let go by the follow (a newer container is followed instead)
        self.lock = threading.Lock()

    def drop(self):
        self.dropped = True
        self.shut()

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
                    if self.wanted():
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
            failed = self.wanted()
            if failed:
                log.exception("following the log of %s/%s failed", follow.project.name, self.pod)
        finally:
            follow.ended(self, message, failed)

    def wanted(self):
        return not self.dropped and not self.follow.closed.is_set()

    def _read(self, response):
        for lines in log_lines(response, MAX_LINE_CHARS * 4, self.wanted):
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
