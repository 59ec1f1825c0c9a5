"""The operation log: append entries to the hash chain, and verify the chain.

Services call `record(...)` for a finished action, or wrap the action in
`recorded(...)`, which runs it in a transaction, appends a succeeded entry in that same
transaction, and on failure rolls the action back and appends a failed entry on its own.
The middleware records any unsafe request that no service recorded (denied, CSRF, ...).
"""

import contextvars
import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from .choices import OperationResult
from .models import OperationLogEntry
from .roles import role_label

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
APPEND_LOCK_KEY = 7_302_119_771
SECRET_KEY_PATTERN = re.compile(r"pass(word)?|secret|token|credential|private|api[-_]?key|^key$", re.I)
MASK = "********"

HASHED_FIELDS = (
    "started_at",
    "finished_at",
    "actor_id",
    "actor_name",
    "actor_role",
    "tenant",
    "action",
    "cluster",
    "namespace",
    "target_kind",
    "target_name",
    "request_id",
    "source_ip",
    "user_agent",
    "before",
    "after",
    "payload",
    "result",
    "error",
    "prev_hash",
)


def mask_secrets(value):
    """Copy of value with secret-looking keys masked, at any depth."""
    if isinstance(value, dict):
        return {
            _text(key): (MASK if SECRET_KEY_PATTERN.search(str(key)) else mask_secrets(item)) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return _text(value)
    return value


def _text(value):
    """PostgreSQL text and JSON cannot hold NUL; what a request sent may contain it."""
    return str(value).replace("\x00", "")


def entry_hash(entry):
    content = {}
    for name in HASHED_FIELDS:
        value = getattr(entry, name)
        content[name] = value.isoformat() if hasattr(value, "isoformat") else value
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class RequestInfo:
    """Where the current action comes from; set per request by the middleware, which
    also reads `recorded` to know whether a service already logged the request."""

    request_id: str = ""
    source_ip: str | None = None
    user_agent: str = ""
    tenant: str = ""
    recorded: int = 0


current_request = contextvars.ContextVar("current_request", default=None)


def record(actor, action, *, result, actor_name="", started_at=None, target=None, before=None, after=None, payload=None, error=""):
    """Append one entry to the chain.

    actor: the acting user, or None for the system (tasks) and anonymous attempts, in
    which case actor_name says who ("system", the username tried at sign-in).
    target: dict with any of cluster, namespace, kind, name.
    """
    info = current_request.get() or RequestInfo()
    authenticated = actor is not None and actor.is_authenticated
    target = target or {}
    now = timezone.now()
    entry = OperationLogEntry(
        started_at=started_at or now,
        finished_at=now,
        actor_id=actor.pk if authenticated else None,
        actor_name=_text(actor.get_username() if authenticated else actor_name or "anonymous")[:150],
        actor_role=role_label(actor) if authenticated else ("system" if actor_name == "system" else "anonymous"),
        tenant=_text(target.get("tenant", info.tenant))[:100],
        action=action,
        cluster=_text(target.get("cluster", ""))[:100],
        namespace=_text(target.get("namespace", ""))[:253],
        target_kind=_text(target.get("kind", ""))[:100],
        target_name=_text(target.get("name", ""))[:253],
        request_id=info.request_id,
        source_ip=info.source_ip,
        user_agent=_text(info.user_agent)[:512],
        before=mask_secrets(before),
        after=mask_secrets(after),
        payload=mask_secrets(payload),
        result=result,
        error=_text(error)[:4000],
    )
    with transaction.atomic():
        _lock_chain()
        last = OperationLogEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        entry.prev_hash = last or GENESIS_HASH
        entry.entry_hash = entry_hash(entry)
        entry.save()
    info.recorded += 1
    return entry


def _lock_chain():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
    # SQLite runs write transactions one at a time (IMMEDIATE mode): no lock needed.


@dataclass
class Outcome:
    """What the body of `recorded` fills in for its entry."""

    target: dict = field(default_factory=dict)
    before: object = None
    after: object = None
    payload: object = None
    result: str = OperationResult.SUCCEEDED
    entry: OperationLogEntry | None = None


@contextmanager
def recorded(actor, action, *, target=None, payload=None, expected=(ValueError, ValidationError, PermissionError)):
    """Run an action and record it. Expected errors (validation) are recorded as failed
    and re-raised for the caller to show; the action's database work is rolled back."""
    outcome = Outcome(target=dict(target or {}), payload=payload)
    started_at = timezone.now()
    try:
        with transaction.atomic():
            yield outcome
            outcome.entry = record(
                actor,
                action,
                result=outcome.result,
                started_at=started_at,
                target=outcome.target,
                before=outcome.before,
                after=outcome.after,
                payload=outcome.payload,
            )
    except Exception as exc:
        outcome.entry = record(
            actor,
            action,
            result=OperationResult.DENIED if isinstance(exc, PermissionError) else OperationResult.FAILED,
            started_at=started_at,
            target=outcome.target,
            before=outcome.before,
            payload=outcome.payload,
            error=error_text(exc) if isinstance(exc, expected) else f"{type(exc).__name__}: {exc}",
        )
        raise


def error_text(exc):
    """What a person reads: the messages of a ValidationError, not its repr."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


@dataclass(frozen=True)
class FieldChange:
    path: str  # dotted, e.g. "spec.replicas"
    before: object
    after: object
    added: bool = False
    removed: bool = False


def field_changes(before, after, path=""):
    """What an entry changed, leaf by leaf: dicts are walked key by key, anything else
    (lists included) is compared whole. Empty unless both sides are dicts."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return []
    changes = []
    for key in sorted(before.keys() | after.keys(), key=str):
        where = f"{path}.{key}" if path else str(key)
        old, new = before.get(key), after.get(key)
        if key not in before or key not in after:
            changes.append(FieldChange(where, old, new, added=key not in before, removed=key not in after))
        elif isinstance(old, dict) and isinstance(new, dict):
            changes += field_changes(old, new, where)
        elif old != new:
            changes.append(FieldChange(where, old, new))
    return changes


@dataclass
class ChainReport:
    intact: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def verify_chain(progress=None, chunk_size=2000):
    """Walk the chain in order; name the first entry whose link or content does not match."""
    expected_prev = GENESIS_HASH
    checked = 0
    for entry in OperationLogEntry.objects.order_by("id").iterator(chunk_size=chunk_size):
        if entry.prev_hash != expected_prev:
            return ChainReport(
                False, checked, entry.pk,
                gettext_noop("its link to the previous entry does not match: an entry before it was removed or changed"),
            )
        if entry_hash(entry) != entry.entry_hash:
            return ChainReport(False, checked, entry.pk, gettext_noop("its content does not match its hash: the entry was changed"))
        expected_prev = entry.entry_hash
        checked += 1
        if progress and checked % 10_000 == 0:
            progress(checked)
    return ChainReport(True, checked)


# --- verification requested from the console, run by the worker -------------------------


def request_verification(*, acting_user):
    """Queue a check of the whole chain; the worker reports back with a notification."""
    from .models import ChainVerification
    from .tasks import verify_operation_log

    with recorded(acting_user, "oplog.verify", target={"kind": "OperationLog"}) as outcome:
        verification = ChainVerification.objects.create(requested_by=acting_user)
        outcome.result = OperationResult.ACCEPTED
        outcome.payload = {"verification": verification.pk}
        verify_operation_log.delay_on_commit(verification.pk)
    return verification
