"""The operation log: append entries to the hash chain, and verify the chain.

Services call `record(...)` for a finished action, or wrap the action in
`recorded(...)`, which runs it in a transaction, appends a succeeded entry in that same
transaction, and on failure rolls the action back and appends a failed entry on its own.
The middleware records any unsafe request that no service recorded (denied, CSRF, ...).
"""

import contextvars
import functools
import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from console import documents
from console.accounts.roles import role_label
from console.choices import OperationResult
from console.oplog import anchor as oplog_anchor
from console.oplog.models import OperationLogEntry

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
APPEND_LOCK_KEY = 7_302_119_771
MASK = "********"
# Words that make a name (a mapping key, an env variable, a `name=` in text) secret. "pass"
# must not run on into a letter ("passage", "compass" are ordinary); "key" and "auth" are
# secret only alone (registry auth), not in KEYCLOAK_URL or author.
SECRET_WORDS = (
    r"pass(?:word|wd|phrase)?(?![a-z])|secret|token|credential|private|api[-_]?key|authorization|dockerconfig"
    r"|key[-_]?data|certificate[-_]?data"
)
SECRET_KEY_PATTERN = re.compile(rf"{SECRET_WORDS}|^(?:key|auth)$", re.I)
# Names of Secrets, not their content: kept, so that the log tells which Secret was used.
SECRET_REFERENCE = re.compile(r"^(?:secret(?:KeyRef|Ref|Name)|imagePullSecrets|env_secret|tls_secret)$")
# The text patterns below are run on whatever a request sent, so none may backtrack
# quadratically: each starts only where a token starts (the look-behinds) and scans it once.
# A secret name in text: a token with a secret word in it, or `key`/`auth` alone.
_SECRET_NAME = rf"(?<![\w.-])(?:(?=[\w.-]*?(?:{SECRET_WORDS}))[\w.-]++|(?:key|auth)(?![\w.-]))"
_ASSIGN = r"""["']?[ \t]*[=:][ \t]*(?:(?:Bearer|Basic)[ \t]+)?"""  # the scheme of an Authorization value is not secret
# `DB_PASSWORD=it has spaces` on a line of its own (env text, YAML): the rest of the line.
SECRET_LINE = re.compile(rf"^(?P<lead>[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?{_SECRET_NAME}{_ASSIGN})\S.*$", re.I | re.M)
# `password=x`, `"token": "x"`, `--api-key=x` inside a sentence: up to the next space or separator.
SECRET_INLINE = re.compile(
    rf"""(?P<lead>{_SECRET_NAME}{_ASSIGN})(?P<value>"[^"\n]*+"?|'[^'\n]*+'?|[^\s"',;&]++)""", re.I
)
URL_PASSWORD = re.compile(r"(?P<lead>(?<![\w+.-])[a-z][a-z0-9+.-]*+://[^/\s:@]*+:)[^/\s@]++@", re.I)
JWT = re.compile(r"(?<![\w-])eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
# A bearer token, not the word after "bearer" in a sentence: at least 8 characters, not all letters.
BEARER = re.compile(r"(?P<lead>\bBearer[ \t]+)(?![A-Za-z]++(?![\w.~+/=-]))[\w.~+/=-]{8,}", re.I)
KUBECONFIG_TEXT = re.compile(r"^(?:kind:[ \t]*[\"']?Config\b|users:)", re.M)
DOCUMENT_TEXT = re.compile(r"^(?:apiVersion|kind)[ \t]*:", re.M)

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
    """Copy of value with every secret in it masked, at any depth: the one function that
    stands between what users send and the operation log (record() calls it on every
    entry's before, after, payload and error, so refused forms are masked too).

    Secrets are: values under secret-looking names; the data of a Kubernetes Secret
    whatever its keys; env values ({name, value}) of secret-looking names; kubeconfig
    credentials; and in text, `NAME=value` for secret names, passwords in URLs, bearer
    tokens and JWTs. Texts that are documents (manifests, kubeconfigs, JSON) are read and
    masked as data: a value two lines below its name cannot be found line by line."""
    if isinstance(value, dict):
        return _mask_mapping(value)
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def _mask_mapping(mapping):
    if _is_kubeconfig(mapping):
        # A user entry holds nothing but credentials (token, client key, exec, auth provider).
        mapping = {
            **mapping,
            "users": [
                {"name": user.get("name"), "user": MASK} if isinstance(user, dict) else MASK
                for user in mapping["users"]
            ],
        }
    is_secret_object = mapping.get("kind") == "Secret"
    env_name = mapping.get("name") if isinstance(mapping.get("name"), str) else ""
    masked = {}
    for key, item in mapping.items():
        name = _text(key)
        if is_secret_object and name in ("data", "stringData") and isinstance(item, dict):
            masked[name] = {_text(data_key): MASK for data_key in item}
        elif name == "value" and SECRET_KEY_PATTERN.search(env_name):  # a container's env: [{name, value}]
            masked[name] = MASK
        elif "kubeconfig" in name.lower() and isinstance(item, str):
            masked[name] = _kubeconfig_text(item)
        elif SECRET_REFERENCE.match(name):  # names which Secret, holds none of its data
            masked[name] = _plain(item)
        elif SECRET_KEY_PATTERN.search(name):
            masked[name] = MASK
        else:
            masked[name] = mask_secrets(item)
    return masked


def _plain(value):
    """A copy with text made storable (no NUL) and nothing masked."""
    if isinstance(value, dict):
        return {_text(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return _text(value) if isinstance(value, str) else value


def _is_kubeconfig(mapping):
    return (mapping.get("kind") == "Config" or "clusters" in mapping) and isinstance(mapping.get("users"), list)


def _mask_text(text):
    text = _text(text)
    if KUBECONFIG_TEXT.search(text):
        return _kubeconfig_text(text)
    if DOCUMENT_TEXT.search(text):
        return _mask_yaml_text(text)
    if text.lstrip().startswith(("{", "[")):
        return _mask_json_text(text)
    return _mask_free_text(text)


def _kubeconfig_text(text):
    """Where a kubeconfig points (contexts, servers), never who it signs in as. One that
    cannot be read is not kept at all: its credentials could be anywhere in it."""
    try:
        data = documents.load_yaml(text)
    except ValueError:
        return MASK
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("clusters"), list)
        or not isinstance(data.get("contexts"), list)
    ):
        return MASK
    contexts = [str(item.get("name")) for item in data["contexts"] if isinstance(item, dict)]
    servers = [
        _mask_free_text(str((item.get("cluster") or {}).get("server", "")))
        for item in data["clusters"]
        if isinstance(item, dict) and isinstance(item.get("cluster"), dict)
    ]
    return f"kubeconfig: contexts {', '.join(contexts) or '-'}; servers {', '.join(servers) or '-'}; credentials {MASK}"


def _mask_yaml_text(text):
    """Manifests (a Secret, a Deployment's env) are masked as objects. Unchanged objects
    keep the text as sent (comments are masked line by line); one that cannot be read is
    not kept."""
    try:
        objects = documents.load_yaml_documents(text)
    except ValueError:
        return MASK
    masked = [mask_secrets(obj) for obj in objects]
    if masked == objects:
        return _mask_free_text(text)
    return yaml.safe_dump_all(masked, sort_keys=False, allow_unicode=True)


def _mask_json_text(text):
    """A JSON body (a registry's .dockerconfigjson, a webhook's payload) is masked as data."""
    try:
        data = documents.load_json(text)
    except ValueError:
        return _mask_free_text(text)
    masked = mask_secrets(data)
    return _mask_free_text(text) if masked == data else json.dumps(masked, ensure_ascii=False)


def _mask_free_text(text):
    text = URL_PASSWORD.sub(rf"\g<lead>{MASK}@", text)
    text = JWT.sub(MASK, text)
    text = BEARER.sub(rf"\g<lead>{MASK}", text)
    text = SECRET_LINE.sub(rf"\g<lead>{MASK}", text)
    return SECRET_INLINE.sub(_masked_assignment, text)


def _masked_assignment(match):
    """The value masked, its quotes kept."""
    value = match["value"]
    quote = value[0] if value[0] in "'\"" else ""
    closing = quote if len(value) > 1 and value.endswith(quote) else ""
    return f"{match['lead']}{quote}{MASK}{closing}"


def _text(value):
    """PostgreSQL text and JSON cannot hold NUL; what a request sent may contain it."""
    return str(value).replace("\x00", "")


def _storable(value):
    """The same for data (before, after, payload), at any depth, keys included: an
    error quoting a sent document may carry its NUL."""
    if isinstance(value, dict):
        return {_text(key) if isinstance(key, str) else key: _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]
    if isinstance(value, str):
        return _text(value)
    return value


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


def record(
    actor,
    action,
    *,
    result,
    actor_name="",
    started_at=None,
    target=None,
    before=None,
    after=None,
    payload=None,
    error="",
):
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
        before=_storable(mask_secrets(before)),
        after=_storable(mask_secrets(after)),
        payload=_storable(mask_secrets(payload)),
        result=result,
        error=mask_secrets(_text(error))[:4000],
    )
    with transaction.atomic():
        _lock_chain()
        last = OperationLogEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        entry.prev_hash = last or GENESIS_HASH
        entry.entry_hash = entry_hash(entry)
        entry.save()
        # Anchored outside the database once committed (never for a rolled-back entry).
        transaction.on_commit(functools.partial(oplog_anchor.write_checkpoint, entry.pk, entry.entry_hash))
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

    def accepted(self, job, **after):
        """The action goes on in `job` (a console.jobs Job): the entry says accepted, and its
        after holds `after` and the job's id. Returns the job."""
        self.result = OperationResult.ACCEPTED
        self.after = {**after, "job": job.pk}
        return job


@contextmanager
def recorded(
    actor, action, *, target=None, payload=None, actor_name="", expected=(ValueError, ValidationError, PermissionError)
):
    """Run an action and record it. Expected errors (validation) are recorded as failed
    and re-raised for the caller to show; the action's database work is rolled back.
    actor_name: who the entry names when there is no signed-in actor (record())."""
    outcome = Outcome(target=dict(target or {}), payload=payload)
    started_at = timezone.now()
    try:
        with transaction.atomic():
            yield outcome
            outcome.entry = record(
                actor,
                action,
                result=outcome.result,
                actor_name=actor_name,
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
            actor_name=actor_name,
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
    missing: int = 0  # entries the anchor counted that the database no longer has


def verify_chain(progress=None, chunk_size=2000):
    """Walk the chain in order; name the first entry whose link or content does not match.
    Then compare with the anchor, which shows what the chain cannot: its newest entries, or
    all of them, deleted (console/oplog_anchor.py)."""
    anchor = oplog_anchor.read()  # before the walk: every entry it counts was committed by then
    head_id = anchor.head.id if anchor.head else 0
    expected_prev = GENESIS_HASH
    checked = up_to_head = 0
    hash_at_head = None
    for entry in OperationLogEntry.objects.order_by("id").iterator(chunk_size=chunk_size):
        if entry.prev_hash != expected_prev:
            return ChainReport(
                False,
                checked,
                entry.pk,
                gettext_noop(
                    "its link to the previous entry does not match: an entry before it was removed or changed"
                ),
            )
        if entry_hash(entry) != entry.entry_hash:
            return ChainReport(
                False, checked, entry.pk, gettext_noop("its content does not match its hash: the entry was changed")
            )
        expected_prev = entry.entry_hash
        checked += 1
        if entry.pk <= head_id:
            up_to_head += 1
            hash_at_head = entry.entry_hash if entry.pk == head_id else hash_at_head
        if progress and checked % 10_000 == 0:
            progress(checked)
    problem = oplog_anchor.compare(anchor, up_to_head, hash_at_head)
    if problem:
        first_broken_id, reason, missing = problem
        return ChainReport(False, checked, first_broken_id, reason, missing)
    return ChainReport(True, checked)
