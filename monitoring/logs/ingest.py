"""Reading collectors' batches: fluentd out_http (JSON array, ndjson, msgpack; gzip) and
Fluent Bit's http output (json, json_lines, msgpack).

Everything refused is an IngestError with the HTTP status to answer, the counter it goes to
on the cluster page, and a message the collector's operator reads in its log. The body is
limited as sent and again while it is decompressed (a small gzip body can inflate to
gigabytes), and a batch is taken whole or not at all.
"""

import re
import struct
import zlib
from datetime import UTC, datetime

import msgpack
from django.conf import settings
from django.utils.translation import gettext as _

from console.documents import DocumentError, iter_json_records

MALFORMED = "malformed"
OVERSIZED = "oversized"
TOO_LARGE = "too_large"
UNSUPPORTED = "unsupported"
BUSY = "busy"
ACCEPTED = "accepted"
EXPIRED = "expired"

LEVELS = ("error", "warn", "info", "debug")
_LEVEL_WORDS = {
    "error": "error",
    "err": "error",
    "fatal": "error",
    "critical": "error",
    "crit": "error",
    "panic": "error",
    "warning": "warn",
    "warn": "warn",
    "info": "info",
    "notice": "info",
    "debug": "debug",
    "trace": "debug",
}
_LEVEL_IN_TEXT = re.compile(r"\b(ERROR|FATAL|CRITICAL|PANIC|WARN(?:ING)?|INFO|NOTICE|DEBUG|TRACE)\b|\blevel=(\w+)")
_KLOG = re.compile(r"^([EWID])\d{4} ")  # Kubernetes components: E0102 15:04:05.000000 ...
_KLOG_LEVELS = {"E": "error", "W": "warn", "I": "info", "D": "debug"}
APP_LABELS = ("app.kubernetes.io/name", "app", "k8s-app", "component")
TIME_KEYS = ("time", "date", "@timestamp", "timestamp")
JSON_TYPES = ("application/json", "application/x-ndjson", "application/jsonl", "application/json-lines")
_EVENT_TIME = struct.Struct(">II")
MSGPACK_TYPES = ("application/x-msgpack", "application/msgpack", "application/vnd.msgpack")


class IngestError(Exception):
    def __init__(self, status, outcome, message):
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message


def decompress(body, encoding):
    """The body as the collector meant it, never more than LOGS_INGEST_MAX_DECOMPRESSED_BYTES."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise IngestError(
            415,
            UNSUPPORTED,
            _("Content-Encoding %(encoding)s is not supported: send gzip or none.") % {"encoding": encoding},
        )
    limit = settings.LOGS_INGEST_MAX_DECOMPRESSED_BYTES
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise IngestError(
                413, TOO_LARGE, _("The batch inflates to more than %(mb)s MB.") % {"mb": limit // (1024 * 1024)}
            )
        if not inflater.eof:
            raise IngestError(400, MALFORMED, _("The gzip body is truncated."))
    except zlib.error:
        raise IngestError(400, MALFORMED, _("The body is not valid gzip.")) from None
    return out


def records(body, content_type):
    """The batch's records for its Content-Type, one at a time as the parser reaches them.

    Lazy on purpose: rows() turns each record into its row before the next one is parsed, so
    a batch's thousands of dicts are never alive together. Parsed whole, they outlived the
    garbage collector's young generations and were promoted as they came (5 dicts a record),
    which set off full collections of the web process's whole heap every few batches: in
    daphne that cost about as much as the parsing itself. A malformed record is refused when
    it is reached, before anything is written (the batch is taken whole or not at all)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in MSGPACK_TYPES:
        return _msgpack_records(body)
    if kind in JSON_TYPES:
        return _json_records(body)
    raise IngestError(
        415,
        UNSUPPORTED,
        _(
            "Content-Type %(type)s is not supported: "
            "send application/json, application/x-ndjson or application/x-msgpack."
        )
        % {"type": kind or "(none)"},
    )


def _json_records(body):
    """A JSON array of records (fluentd json_array, Fluent Bit json) or one object per line
    (ndjson, json_lines), from the one loader, one record at a time: rows() turns each into
    its row before the next is parsed."""
    try:
        yield from iter_json_records(body, max_bytes=settings.LOGS_INGEST_MAX_DECOMPRESSED_BYTES)
    except DocumentError as exc:
        problem = exc.message if exc.line else str(exc)
        line = exc.line or 1
        raise IngestError(
            400, MALFORMED, _("Line %(line)s: %(problem)s") % {"line": line, "problem": problem}
        ) from None


def _msgpack_records(body):
    limit = settings.LOGS_INGEST_MAX_DECOMPRESSED_BYTES
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(limit, 1), strict_map_key=True, timestamp=3)
    unpacker.feed(body)
    end = 0  # where the last whole object ended
    try:
        for item in unpacker:
            end = unpacker.tell()
            yield item
    except (msgpack.exceptions.FormatError, msgpack.exceptions.StackError, ValueError) as exc:
        # ValueError: a map key that is not a string (strict_map_key), text that is not UTF-8, ...
        raise IngestError(
            400, MALFORMED, _("The MessagePack body is not valid: %(problem)s") % {"problem": exc}
        ) from None
    if end != len(body):
        raise IngestError(400, MALFORMED, _("The MessagePack body is truncated."))


def _event(item):
    """A record and its event time: fluentd sends the record; Fluent Bit's msgpack sends
    [time, record] or [[time, metadata], record]."""
    if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict):
        stamp = item[0][0] if isinstance(item[0], list) and item[0] else item[0]
        return item[1], stamp
    return item, None


def parse_time(value):
    kind = type(value)
    if kind is str:  # the common case first: fluentd's time_type string
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if kind is msgpack.ExtType:
        # Fluent Bit's msgpack events (and fluentd's forward protocol) carry the time as an
        # EventTime: extension type 0, seconds and nanoseconds as big-endian 32-bit integers.
        if value.code != 0 or len(value.data) != 8:
            return None
        seconds, nanoseconds = _EVENT_TIME.unpack(value.data)
        if nanoseconds >= 1_000_000_000:
            return None
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanoseconds // 1000)
    if kind is bool:
        return None
    if isinstance(value, int | float):
        seconds = value / 1e9 if value > 1e14 else value / 1e3 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def level_of(record, message):
    for key in ("level", "severity", "lvl", "loglevel"):
        value = record.get(key)
        if isinstance(value, str) and value.lower() in _LEVEL_WORDS:
            return _LEVEL_WORDS[value.lower()]
    klog = _KLOG.match(message)
    if klog:
        return _KLOG_LEVELS[klog.group(1)]
    found = _LEVEL_IN_TEXT.search(message[:200])
    if found:
        return _LEVEL_WORDS.get((found.group(1) or found.group(2) or "").lower(), "")
    return ""


def _text(value, limit=253):
    if not isinstance(value, str):
        return ""
    value = value[:limit]
    return value.replace("\x00", "") if "\x00" in value else value


def rows(items, *, cluster_id, tenants, now=None, oldest=None, newest=None):
    """Rows in store.COLUMNS order from a batch's items. tenants: {namespace: tenant id} of the
    cluster. Lines before `oldest` (past retention) are left out; returns (rows, expired)."""
    now = now or datetime.now(UTC)
    max_line = settings.LOGS_MAX_LINE_BYTES
    out = []
    expired = 0
    for number, item in enumerate(items, 1):
        record, stamp = _event(item)
        if not isinstance(record, dict):
            raise IngestError(400, MALFORMED, _("Record %(n)s is not an object.") % {"n": number})
        message = record.get("log")
        if message is None:
            message = record.get("message", record.get("msg", record.get("MESSAGE")))
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        if not isinstance(message, str):
            raise IngestError(
                400, MALFORMED, _("Record %(n)s has no log text (a log, message or msg field).") % {"n": number}
            )
        if len(message) > max_line // 4 and len(message.encode("utf-8", "replace")) > max_line:
            raise IngestError(
                413,
                OVERSIZED,
                _("Record %(n)s is longer than %(kb)s KB; split it or raise LOGS_MAX_LINE_BYTES.")
                % {"n": number, "kb": max_line // 1024},
            )
        message = message.rstrip("\n")
        if "\x00" in message:
            message = message.replace("\x00", "")
        moment = None
        for key in TIME_KEYS:
            if key in record:
                moment = parse_time(record[key])
                break
        if moment is None and stamp is not None:
            moment = parse_time(stamp)
        if moment is None:
            moment = now
        if oldest is not None and moment < oldest:
            expired += 1
            continue
        if newest is not None and moment >= newest:
            moment = now
        kube = record.get("kubernetes")
        if type(kube) is dict:
            labels = kube.get("labels")
            namespace = _text(kube.get("namespace_name"))
            app = ""
            if type(labels) is dict:
                for key in APP_LABELS:
                    value = labels.get(key)
                    if type(value) is str:
                        app = _text(value)
                        break
            pod, container, node = (
                _text(kube.get("pod_name")),
                _text(kube.get("container_name")),
                _text(kube.get("host")),
            )
            source = "container"
        else:
            namespace, pod, container = "", "", ""
            app = _text(record.get("component") or record.get("_SYSTEMD_UNIT") or record.get("ident") or "")
            node = _text(record.get("host") or record.get("hostname") or record.get("_HOSTNAME") or "")
            source = "component"
        out.append(
            (
                moment,
                cluster_id,
                tenants.get(namespace) if namespace else None,
                namespace,
                app,
                pod,
                container,
                node,
                source,
                level_of(record, message),
                _text(record.get("stream"), 16),
                message,
            )
        )
    return out, expired
