"""Web terminals: a shell in an app's container, in the browser (xterm.js), over the console's
own websocket. The browser never talks to the cluster.

How it goes:
1. The app page asks for a terminal panel (services.open_terminal): the user works in the
   tenant (operators, tenant admins and members; auditors only read), the pod is the app's and
   the container one of its. The answer is kept in the cache under a random token for a minute.
2. The panel's script opens /ws/terminal/<token>/. TerminalConsumer claims the token (once; it
   is the user's and they may still work in the tenant), takes one of the user's session slots
   and starts a Bridge.
3. The Bridge, a thread in the daphne process that holds the socket (as podlogs' followers are),
   opens pods/exec with a TTY as the user (impersonated, so the cluster's RBAC and audit see
   them; operators as the console) and relays keystrokes and window sizes in, output out.
4. It ends when the shell exits, the browser goes, nothing was typed or shown for the idle
   time, or after the cap. The operation log gets app.terminal.start and app.terminal.end
   (who, cluster, namespace, pod, container, when, how it ended), never the keystrokes.

Slots: at most MAX_PER_USER sessions per user across daphne processes. Each session holds a
lease in the cache (Redis), renewed while it runs; the leases of a process that died run out.
"""

import asyncio
import contextlib
import logging
import os
import queue
import secrets
import select
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import translation
from django.utils.translation import gettext as _

from console.choices import OperationResult
from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused, ClusterError
from console.oplog import oplog
from tenants import access

from .models import App

log = logging.getLogger(__name__)

PREFIX = "terminal"
COMMAND = ["sh"]  # every image the console deploys has one; bash is not everywhere
TOKEN_SECONDS = 60  # between showing the panel and its socket connecting
LEASE_SECONDS = 30
RENEW_SECONDS = 10
MAX_INPUT_BYTES = 16 * 1024  # one frame of keystrokes or a paste
MAX_QUEUED = 256  # input frames not yet sent to the cluster; beyond this the session is cut
MAX_SIZE = 1000  # columns or rows a terminal may claim

# How a session ended
EXITED, CLOSED, IDLE, CAPPED, FLOODED, LOST, REFUSED = (
    "exited",
    "closed",
    "idle",
    "capped",
    "flooded",
    "lost",
    "refused",
)
FAILED = (FLOODED, LOST, REFUSED)  # the browser shows these as errors


def idle_seconds():
    return settings.CAAS_TERMINAL_IDLE_SECONDS


def max_seconds():
    return settings.CAAS_TERMINAL_MAX_SECONDS


def max_per_user():
    return settings.CAAS_TERMINAL_MAX_PER_USER


def may_open(user, tenant):
    """Operators, and the tenant's admins and members; not auditors (they read, never act)."""
    return access.may_operate(user, tenant)


def _key(what, *parts):
    return ":".join((PREFIX, what) + tuple(str(p) for p in parts))


class Refused(Exception):
    pass


# --- sessions (what a token stands for) ------------------------------------------------


def new_session(app, user, pod, container):
    token = secrets.token_urlsafe(18)
    cache.set(
        _key("token", token),
        {"user": user.pk, "app": app.pk, "pod": pod, "container": container},
        timeout=TOKEN_SECONDS,
    )
    return token


class Session:
    """A claimed token: who opens a terminal where, and the slot that counts it."""

    def __init__(self, user, app, pod, container, slot, request_info):
        self.user, self.app, self.pod, self.container, self.slot = user, app, pod, container, slot
        self.id = secrets.token_hex(8)
        self.request_info = request_info
        self.language = user.language or settings.LANGUAGE_CODE

    def target(self):
        return self.app.target(kind="Pod", name=self.pod)


def claim(user, token, request_info):
    """The session behind a token, once: Refused (recorded as denied) when it is not the user's,
    has expired, the user may no longer work in the tenant, or has too many terminals open."""
    found = cache.get(_key("token", token)) if isinstance(token, str) else None
    app = App.objects.select_related("project__tenant", "project__cluster").filter(pk=(found or {}).get("app")).first()
    target = app.target(kind="Pod", name=found["pod"]) if app and found else {}
    payload = {"container": (found or {}).get("container", "")}
    try:
        if not found or found["user"] != user.pk or not cache.delete(_key("token", token)):
            raise Refused(_("This terminal has expired or is not yours: open it again from the app page."))
        if app is None or not may_open(user, app.project.tenant):
            raise Refused(_("You may not open a terminal in this app."))
        slot = _take_slot(user.pk)
        if slot is None:
            raise Refused(_("You have %(count)s terminals open already: close one first.") % {"count": max_per_user()})
    except Refused as exc:
        with _request(request_info):
            oplog.record(
                user,
                "app.terminal.start",
                result=OperationResult.DENIED,
                target=target,
                payload=payload,
                error=str(exc),
            )
        raise
    return Session(user, app, found["pod"], found["container"], slot, request_info)


def _take_slot(user_id):
    for number in range(max_per_user()):
        holder = secrets.token_hex(8)
        if cache.add(_key("slot", user_id, number), holder, timeout=LEASE_SECONDS):
            return number, holder
    return None


def _renew_slot(user_id, slot):
    key = _key("slot", user_id, slot[0])
    if cache.get(key) in (None, slot[1]):
        cache.set(key, slot[1], timeout=LEASE_SECONDS)


def _release_slot(user_id, slot):
    key = _key("slot", user_id, slot[0])
    if cache.get(key) == slot[1]:
        cache.delete(key)


@contextlib.contextmanager
def _request(info):
    """Operation log entries of a socket carry its address and browser, as a request's do."""
    token = oplog.current_request.set(info)
    try:
        yield
    finally:
        oplog.current_request.reset(token)


# --- the bridge ------------------------------------------------------------------------


class Bridge(threading.Thread):
    """Relays one terminal session between the browser's socket and pods/exec. One thread does
    all of the cluster connection's I/O (select on it and on a wake-up pipe for input).

    deliver(bytes) sends output to the browser and returns once it is sent (so a fast
    command waits for a slow browser); finish(state, message, exit_code) ends the socket."""

    def __init__(self, session, deliver, finish):
        super().__init__(name=f"terminal-{session.id}", daemon=True)
        self.session, self.deliver, self.finish = session, deliver, finish
        self.inbox = queue.Queue(MAX_QUEUED)
        self.wake_read, self.wake_write = os.pipe()
        self.stopping = threading.Event()
        self.stop_reason = CLOSED
        self.began = self.last_activity = time.monotonic()

    # --- the consumer's side (event loop)

    def send_input(self, data):
        """False when too much input waits already (the session is then cut)."""
        return self._put(("stdin", data))

    def resize(self, cols, rows):
        return self._put(("resize", (cols, rows)))

    def stop(self, reason=CLOSED):
        if not self.stopping.is_set():
            self.stop_reason = reason
            self.stopping.set()
        self._wake()

    def _put(self, item):
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            return False
        self._wake()
        return True

    def _wake(self):
        with contextlib.suppress(OSError):
            os.write(self.wake_write, b"x")

    # --- the thread

    def run(self):
        session = self.session
        started_at = None
        outcome = {"reason": LOST, "message": "", "exit_code": None}
        try:
            with translation.override(session.language), _request(session.request_info):
                try:
                    started_at, outcome = self._session()
                except Exception:  # noqa: BLE001 (whatever broke, the browser and the log hear of it)
                    log.exception("terminal session %s failed", session.id)
                    outcome = {"reason": LOST, "message": _("The terminal failed."), "exit_code": None}
                if started_at is not None:
                    oplog.record(
                        session.user,
                        "app.terminal.end",
                        started_at=started_at,
                        target=session.target(),
                        result=OperationResult.FAILED if outcome["reason"] in FAILED else OperationResult.SUCCEEDED,
                        payload=self._payload(
                            ended=outcome["reason"],
                            exit_code=outcome["exit_code"],
                            seconds=round(time.monotonic() - self.began, 1),
                        ),
                        error=outcome["message"] if outcome["reason"] in FAILED else "",
                    )
        finally:
            _release_slot(session.user.pk, session.slot)
            for fd in (self.wake_read, self.wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)
            connections.close_all()  # this thread's
            with contextlib.suppress(Exception):
                self.finish(
                    "error" if outcome["reason"] in FAILED else "ended", outcome["message"], outcome["exit_code"]
                )

    def _payload(self, **extra):
        return {"container": self.session.container, "command": " ".join(COMMAND), "session": self.session.id, **extra}

    def _session(self):
        """(start time or None when it never started, outcome)."""
        from django.utils import timezone

        session = self.session
        app = session.app
        identity = access.identity_for(session.user, app.project.tenant)
        with ClusterAPI(app.project.cluster, identity) as api:
            try:
                stream = api.exec(session.pod, app.namespace, session.container, COMMAND, tty=True)
            except (ApiRefused, ClusterError) as exc:
                forbidden = getattr(exc, "status", None) == 403 or getattr(exc, "reason", "") == "forbidden"
                message = _("The cluster refused: %(message)s") % {"message": getattr(exc, "message", None) or str(exc)}
                oplog.record(
                    session.user,
                    "app.terminal.start",
                    target=session.target(),
                    payload=self._payload(),
                    error=message,
                    result=OperationResult.DENIED if forbidden else OperationResult.FAILED,
                )
                return None, {"reason": REFUSED, "message": message, "exit_code": None}
            started_at = timezone.now()
            oplog.record(
                session.user,
                "app.terminal.start",
                result=OperationResult.SUCCEEDED,
                target=session.target(),
                payload=self._payload(),
            )
            connections.close_all()  # no database connection held while the session runs (it may last hours)
            try:
                return started_at, self._pump(stream)
            finally:
                stream.close()

    def _pump(self, stream):
        renewed = time.monotonic()
        while True:
            now = time.monotonic()
            if self.stopping.is_set():
                return self._outcome(self.stop_reason)
            if now - self.last_activity > idle_seconds():
                return self._outcome(IDLE)
            if now - self.began > max_seconds():
                return self._outcome(CAPPED)
            if now - renewed > RENEW_SECONDS:
                renewed = now
                _renew_slot(self.session.user.pk, self.session.slot)
            self._send_input(stream)
            ready = stream.buffered() or stream.socket in select.select([stream.socket, self.wake_read], [], [], 1.0)[0]
            self._drain_wake()
            if not ready:
                continue
            kind, data = stream.read()
            if kind in ("stdout", "stderr"):
                self.last_activity = time.monotonic()
                try:
                    self.deliver(data)
                except Exception:  # noqa: BLE001 (the browser went away, or stopped reading for a long time)
                    return self._outcome(self.stop_reason if self.stopping.is_set() else CLOSED)
            elif kind == "status":
                code = stream.exit_code()
                if code is None:  # the exec itself failed (the container is not running, ...)
                    return {
                        "reason": LOST,
                        "message": _("The cluster refused: %(message)s") % {"message": data.get("message", "")},
                        "exit_code": None,
                    }
                return {
                    "reason": EXITED,
                    "message": _("The shell exited with code %(code)s.") % {"code": code},
                    "exit_code": code,
                }
            elif kind == "closed":
                return {"reason": LOST, "message": _("The connection to the cluster was lost."), "exit_code": None}

    def _send_input(self, stream):
        while True:
            try:
                kind, value = self.inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "stdin":
                self.last_activity = time.monotonic()
                stream.write(value)
            else:
                stream.resize(*value)

    def _drain_wake(self):
        while select.select([self.wake_read], [], [], 0)[0]:
            if not os.read(self.wake_read, 4096):
                return

    def _outcome(self, reason):
        messages = {
            CLOSED: _("The terminal was closed."),
            IDLE: _("Closed after %(minutes)s minutes without input or output.")
            % {"minutes": round(idle_seconds() / 60)},
            CAPPED: _("Closed after %(hours)s hours. Open a new terminal to go on.")
            % {"hours": round(max_seconds() / 3600, 1)},
            FLOODED: _("Closed: the browser sent more than the terminal takes."),
        }
        return {"reason": reason, "message": messages.get(reason, ""), "exit_code": None}


def deliver_on(loop, send, timeout=30):
    """A Bridge's deliver: run the consumer's send on its event loop, wait until it is done."""

    def deliver(data):
        if loop.is_closed():
            raise ConnectionError("the socket's event loop is gone")
        asyncio.run_coroutine_threadsafe(send(data), loop).result(timeout=timeout)

    return deliver
