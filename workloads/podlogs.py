"""Live pod logs: the app page follows one container's log over the websocket.

How it goes:
1. The page asks for a log panel (services.open_pod_log): the user may see the app and the
   pod is the app's. The answer is kept in the cache under a random token, and the panel
   subscribes to the group podlog-<token>, again every few seconds (a heartbeat).
2. Every subscription is authorised (may_follow: the token is the user's and the user may
   still see the app) and then calls `snapshot`, which marks the follow as watched and
   starts its follower unless one runs.
3. The follower streams GET .../pods/<pod>/log?follow=true as the user (impersonated, so
   the cluster's RBAC and audit apply) and pushes the lines to the group in batches.
4. It stops when nobody has subscribed for IDLE seconds, when the stream ends (the pod is
   gone or the container stopped), or after MAX seconds.

Where the follower runs: a thread in the process that holds the websocket (daphne), not a
Celery task. Following a log is minutes of waiting on a socket; as a Celery task it would
hold a worker slot for all that time (the embedded run has a single one), and deploys and
scaling would queue behind people reading logs. The subscription that starts it arrives in
daphne anyway, the thread needs no database, and it pushes through the same channel layer
as everything else (in-memory in the embedded run, Redis otherwise). With several daphne
replicas a lease in the cache (Redis) keeps one follower per token; if its process dies,
the lease runs out and the next heartbeat starts the follower again where the socket is.

Pushes are rate-limited: lines are batched every FLUSH_SECONDS and at most
CAAS_POD_LOG_LINES_PER_SECOND are sent (the first batch, the tail, may be as big as TAIL_LINES); when a pod logs faster,
the older lines of a batch are skipped and the panel says how many.
"""

import contextlib
import logging
import re
import secrets
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from console.kube.api import CONSOLE, ClusterAPI, log_lines
from console.kube.errors import ApiRefused, ClusterError
from console.live import realtime
from tenants import access

from .models import App

log = logging.getLogger(__name__)

PREFIX = "podlog"
TAIL_LINES = 200  # lines of history a panel starts with
MAX_LINES = 1000  # lines a panel keeps; older ones are trimmed in the browser
FLUSH_SECONDS = 0.25
MAX_PENDING = 2000  # lines read but not yet sent; beyond this the oldest are skipped
MAX_LINE_CHARS = 2000
LEASE_SECONDS = 15
CHECK_SECONDS = 1.0  # how often the follower looks at its heartbeat, lease and cap
MAX_PER_USER = 4  # a user's fifth follow in this process stops their oldest
PROCESS = uuid.uuid4().hex  # this process's name on the leases it holds

# Why a follower stopped. After the "done" ones a heartbeat does not start it again; after
# "idle" it does (the page came back, say after the laptop slept).
FOLLOWING, IDLE, ENDED, CAPPED, ERROR, REPLACED, LOST = (
    "following",
    "idle",
    "ended",
    "capped",
    "error",
    "replaced",
    "lost",
)
DONE = (ENDED, CAPPED, ERROR, REPLACED)

UTC_STAMP = re.compile(
    r"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)\d*Z) "
)  # RFC 3339 in UTC; nanoseconds cut to micro
LEVEL = re.compile(r"\b(FATAL|PANIC|ERROR|ERR|WARN|WARNING|DEBUG|TRACE)\b", re.IGNORECASE)
LEVEL_CLASS = {
    "fatal": "text-danger",
    "panic": "text-danger",
    "error": "text-danger",
    "err": "text-danger",
    "warn": "text-warning-emphasis",
    "warning": "text-warning-emphasis",
    "debug": "text-body-secondary",
    "trace": "text-body-secondary",
}

_running = {}  # token -> Follower, in this process
_lock = threading.Lock()


def idle_seconds():
    return settings.CAAS_POD_LOG_IDLE_SECONDS


def max_seconds():
    return settings.CAAS_POD_LOG_MAX_SECONDS


def lines_per_second():
    return settings.CAAS_POD_LOG_LINES_PER_SECOND


def heartbeat_seconds():
    """How often the panel subscribes again: well inside the idle time."""
    return max(1, int(idle_seconds() // 3))


def reader_identity(user, tenant):
    """Whom the cluster sees reading a log: tenant users themselves (impersonated, so its RBAC
    and audit apply); operators and auditors, who belong to no tenant, as the console."""
    return access.identity_for(user, tenant) if access.may_operate(user, tenant) else CONSOLE


def group(token):
    return f"{PREFIX}-{token}"


def _key(token, what):
    return f"{PREFIX}:{what}:{token}"


# --- follows (what a token stands for) -------------------------------------------------


def new_follow(app, user, pod, container):
    """Keep what the panel follows under a new token and return the token."""
    token = secrets.token_urlsafe(12)
    follow = {
        "user": user.pk,
        "app": app.pk,
        "namespace": app.namespace,
        "pod": pod,
        "container": container,
        "language": translation.get_language() or settings.LANGUAGE_CODE,
        "started": None,
        "done": "",
    }
    _save(token, follow)
    return token


def _save(token, follow):
    cache.set(_key(token, "follow"), follow, timeout=max_seconds() + 3600)


def load(token):
    return cache.get(_key(token, "follow"))


def may_follow(user, token):
    """Authoriser of podlog-<token>: the token is the user's, and the user may still see the app."""
    follow = load(token)
    if not follow or follow["user"] != user.pk:
        return False
    app = App.objects.filter(pk=follow["app"]).select_related("project__tenant").first()
    return app is not None and access.may_see(user, app.project.tenant)


def snapshot(user, token):
    """Called on every (authorised) subscription: note that somebody follows, and start the
    follower unless it runs or is done. Sends nothing itself: the follower's first push
    resets the panel."""
    follow = load(token)
    if not follow:
        return ""
    cache.set(_key(token, "seen"), 1, timeout=idle_seconds())
    if follow["done"]:
        return ""
    with _lock:
        current = _running.get(token)
        if current is not None and current.is_alive():
            return ""
        app = App.objects.select_related("project__tenant", "project__cluster").filter(pk=follow["app"]).first()
        if app is None or not cache.add(_key(token, "lease"), PROCESS, timeout=LEASE_SECONDS):
            return ""  # the app is gone, or another process follows it
        if follow["started"] is None:
            follow["started"] = time.time()
            _save(token, follow)
        follower = Follower(token, follow, app.project.cluster, reader_identity(user, app.project.tenant))
        _make_room(user.pk)
        _running[token] = follower
    follower.start()
    return ""


def _make_room(user_id):
    mine = sorted((f for f in _running.values() if f.follow["user"] == user_id and f.is_alive()), key=lambda f: f.began)
    for follower in mine[: max(0, len(mine) - MAX_PER_USER + 1)]:
        follower.stop(REPLACED)


def running():
    """The tokens followed in this process."""
    with _lock:
        return {token for token, follower in _running.items() if follower.is_alive()}


def stop_all(timeout=5):
    with _lock:
        followers = list(_running.values())
    for follower in followers:
        follower.stop(IDLE)
    for follower in followers:
        follower.join(timeout)


# --- the follower ----------------------------------------------------------------------


class Follower(threading.Thread):
    """Streams one container's log and pushes it to podlog-<token>, batched and rate-limited.
    A second thread reads the stream (reads block); this one sends and decides when to stop."""

    def __init__(self, token, follow, cluster, identity):
        super().__init__(name=f"podlog-{token}", daemon=True)
        self.token, self.follow, self.cluster, self.identity = token, follow, cluster, identity
        self.began = time.monotonic()
        self.lock = threading.Lock()
        self.pending = []
        self.skipped = 0
        self.stream_done = threading.Event()
        self.stream_error = None
        self.closing = False
        self.stopped = threading.Event()
        self.stop_reason = None

    def stop(self, reason):
        self.stop_reason = reason
        self.stopped.set()

    def run(self):
        # Messages are pushed in the language of the page that asked.
        with translation.override(self.follow["language"]):
            reason, message = ERROR, ""
            try:
                reason, message = self._follow()
            except ApiRefused as exc:
                message = _("The cluster refused: %(message)s") % {"message": exc.message}
            except ClusterError as exc:
                message = _("Cluster %(cluster)s: %(error)s") % {"cluster": self.cluster.name, "error": exc}
            except Exception:
                log.exception("following the log of %s/%s failed", self.follow["namespace"], self.follow["pod"])
                message = _("The log could not be read.")
            finally:
                self._finish(reason, message)

    def _follow(self):
        follow = self.follow
        with ClusterAPI(self.cluster, self.identity) as api:
            response = api.follow_pod_log(
                follow["pod"], follow["namespace"], follow["container"], tail_lines=TAIL_LINES
            )
            reader = threading.Thread(
                target=self._read, args=(response,), name=f"podlog-read-{self.token}", daemon=True
            )
            reader.start()
            try:
                self._push(state=FOLLOWING, reset=True, message=_("Following."))
                return self._pump(api)
            finally:
                self.closing = True
                _shut(response)
                reader.join(timeout=5)

    def _pump(self, api):
        rate = lines_per_second()
        burst = max(TAIL_LINES, rate)
        budget, last, checked = burst, time.monotonic(), 0.0
        while True:
            self.stopped.wait(FLUSH_SECONDS)
            now = time.monotonic()
            budget, last = min(burst, budget + rate * (now - last)), now
            ended = self.stream_done.is_set()  # before taking: every line read so far is in pending
            lines, skipped = self._take(int(budget))
            budget -= len(lines)
            if lines or skipped:
                self._push(lines=lines, skipped=skipped)
            if self.stopped.is_set():
                return self.stop_reason, self._stop_message(self.stop_reason)
            if now - checked >= CHECK_SECONDS:
                checked = now
                reason = self._why_stop()
                if reason:
                    return reason, self._stop_message(reason)
            if ended:
                return self._ended(api)

    def _why_stop(self):
        seen_key, lease_key = _key(self.token, "seen"), _key(self.token, "lease")
        found = cache.get_many([seen_key, lease_key])
        if found.get(lease_key) not in (None, PROCESS):
            return LOST  # another process took over (this one stalled past its lease)
        cache.set(lease_key, PROCESS, timeout=LEASE_SECONDS)
        if not found.get(seen_key):
            return IDLE
        if time.time() - self.follow["started"] > max_seconds():
            return CAPPED
        return None

    def _ended(self, api):
        if self.stream_error is not None:
            return ERROR, _("The connection to the cluster was lost: %(error)s") % {"error": self.stream_error}
        pod = api.get("Pod", self.follow["pod"], self.follow["namespace"])
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return ENDED, _("The log ended: the pod is gone.")
        return ENDED, _("The log ended: the container stopped.")

    def _stop_message(self, reason):
        if reason == CAPPED:
            return _("Stopped after %(minutes)s minutes. Follow again to go on.") % {
                "minutes": round(max_seconds() / 60)
            }
        if reason == REPLACED:
            return _("Stopped: you follow %(count)s other logs.") % {"count": MAX_PER_USER}
        return _("Stopped: nobody was following.")

    def _finish(self, reason, message):
        try:
            if reason != LOST:
                self._push(state=reason, message=message)
            if reason in DONE:
                follow = load(self.token)
                if follow:
                    follow["done"] = reason
                    _save(self.token, follow)
            if cache.get(_key(self.token, "lease")) == PROCESS:
                cache.delete(_key(self.token, "lease"))
        finally:
            with _lock:
                if _running.get(self.token) is self:
                    del _running[self.token]

    # --- reading (its own thread)

    def _read(self, response):
        try:
            for lines in log_lines(response, MAX_LINE_CHARS * 4):  # a line without an end: show what there is
                self._add(lines)
        except Exception as exc:  # noqa: BLE001 (our own shutdown, or the connection broke: either ends the stream)
            if not self.closing:
                self.stream_error = exc
        finally:
            self.stream_done.set()

    def _add(self, raw_lines):
        lines = [line.decode(errors="replace").rstrip("\r") for line in raw_lines]
        with self.lock:
            self.pending.extend(lines)
            extra = len(self.pending) - MAX_PENDING
            if extra > 0:
                del self.pending[:extra]
                self.skipped += extra

    def _take(self, budget):
        """The newest `budget` pending lines; older ones beyond it are counted as skipped."""
        with self.lock:
            lines, self.pending = self.pending, []
            skipped, self.skipped = self.skipped, 0
        if len(lines) > budget:
            skipped += len(lines) - budget
            lines = lines[len(lines) - budget :] if budget > 0 else []
        return lines, skipped

    # --- pushing

    def _push(self, lines=(), skipped=0, state="", message="", reset=False):
        html = render_to_string(
            "workloads/_pod_log_push.html",
            {
                "token": self.token,
                "lines": [line_view(line) for line in lines],
                "skipped": skipped,
                "state": state,
                "message": message,
                "reset": reset,
            },
        )
        realtime.send_now(group(self.token), html)


def line_view(text):
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + "…"
    level = LEVEL.search(text[:80])
    view = {"text": text, "css": LEVEL_CLASS.get(level.group(1).lower(), "") if level else "", "stamp": "", "utc": ""}
    # Containers stamp their lines in UTC; the console shows every other time in its own
    # zone, so a leading UTC stamp is shown in that zone too (the original in the tooltip).
    stamp = UTC_STAMP.match(text)
    moment = parse_datetime(stamp.group(2) + "Z") if stamp else None
    if moment is not None:
        local = timezone.localtime(moment)
        view.update(
            stamp=local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}",
            utc=stamp.group(1),
            text=text[stamp.end() :],
        )
    return view


def _shut(response):
    """End the stream now, even while the reader is blocked in a read."""
    with contextlib.suppress(ValueError, RuntimeError, OSError):  # already closed or released
        response.shutdown()
    with contextlib.suppress(OSError):
        response.close()
