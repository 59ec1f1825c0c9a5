"""PostgreSQL or Redis away for a while (a restart, a failover): each process says so once,
says once when it is back, and writes no traceback for it.

Everything that meets an outage either waits and retries (the watcher's writer, Celery's
broker connection, job tasks) or answers for now (pages: 503 "try again in a moment";
websockets: closed with 1011, and the page reconnects). What they would log about it —
Django's 500 tracebacks, Celery's reconnect loop, daphne's "Exception inside application"
per socket, failed pushes — is replaced by OutageLogFilter, on every log handler, with
this module's two warnings per outage: "... is unavailable" and "... is back after N s".
A probe thread per outage and process checks the service: the first warning comes once
it finds the service away (a connection that died in a restart already over is replaced
without a word), the second when it answers again.
"""

import logging
import threading
import time

import kombu.exceptions
import psycopg2
import redis.exceptions

log = logging.getLogger(__name__)

NAMES = {"database": "PostgreSQL", "redis": "Redis"}
# SQLSTATE classes of a lost server: connection exceptions (08), and the server shutting
# down or starting up (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
LOST_SERVER_CODES = ("57P01", "57P02", "57P03")

_lock = threading.Lock()
_down = {}  # service -> Outage, while this process takes it to be away


class Outage:
    def __init__(self, detail):
        self.since = time.monotonic()
        self.detail = detail
        self.announced = False
        self.over = threading.Event()


def outage_of(exc):
    """'database' or 'redis' when exc (or what caused it) says the server is away, else None.
    Refused statements (constraints, deadlocks, timeouts) are not outages."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(
            exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError)
        ):
            return "redis"
        if isinstance(exc, psycopg2.InterfaceError):  # "connection already closed"
            return "database"
        if isinstance(exc, psycopg2.OperationalError):
            code = exc.pgcode
            if code is None or code.startswith("08") or code in LOST_SERVER_CODES:
                return "database"
        exc = exc.__cause__ or exc.__context__
    return None


def noticed(service, exc=None, where=""):
    """Record that `service` seems away and start the probe that follows the outage. The
    warning is logged once the probe finds it away too: a connection that died in a
    restart already over (found out at its next use) is replaced without a word. Returns
    True for the first notice of an outage."""
    detail = str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else type(exc).__name__
    with _lock:
        if service in _down:
            return False
        _down[service] = Outage(f"{where}: {detail}" if where else detail)
    threading.Thread(target=_probe, args=(service,), name=f"outage-probe-{service}", daemon=True).start()
    return True


def wait_until_back(service, timeout):
    """Block until the outage of `service` ends (True) or `timeout` seconds pass (False)."""
    with _lock:
        outage = _down.get(service)
    return True if outage is None else outage.over.wait(timeout)


def _probe(service, first_delay=0.5, max_delay=5.0):
    outage, delay = _down[service], first_delay
    while not _reachable(service):
        if not outage.announced:
            outage.announced = True
            log.warning("%s is unavailable (%s); waiting for it to come back", NAMES[service], outage.detail)
        time.sleep(delay)
        delay = min(delay * 2, max_delay)
    with _lock:
        del _down[service]
    outage.over.set()
    if outage.announced:
        log.warning("%s is back after %.1f s", NAMES[service], time.monotonic() - outage.since)


def _reachable(service):
    try:
        if service == "database":
            from django.db import connections

            connection = connections.create_connection("default")  # not this thread's: a throwaway
            try:
                connection.ensure_connection()
                return connection.is_usable()
            finally:
                connection.close()
        from django.conf import settings

        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())  # BusyLoadingError while it reads its append-only file
        finally:
            client.close()
    except Exception:  # still away (or refusing): the probe tries again
        return False


class OutageLogFilter(logging.Filter):
    """On a log handler: a record carrying an outage error (its traceback, or the error among
    its arguments) gives way to the process's one warning about that outage."""

    def filter(self, record):
        if record.name == log.name:
            return True
        candidates = [record.exc_info[1]] if record.exc_info else []
        if isinstance(record.args, tuple):
            candidates += [arg for arg in record.args if isinstance(arg, BaseException)]
        for exc in candidates:
            service = outage_of(exc)
            if service:
                noticed(service, exc, where=record.name)
                return False
        return True


def install_filter(logger=None):
    """Put the filter on every handler of `logger` (the root logger): for processes whose
    logging is set up by somebody else than Django's LOGGING (Celery's worker and beat)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, OutageLogFilter) for f in handler.filters):
            handler.addFilter(OutageLogFilter())
