"""Pure functions on API objects that several controllers use: hashes, owner references,
conditions, pod predicates."""

import hashlib
import json
import math
from datetime import UTC, datetime

from ..store import NAME_CHARS, now_iso

HASH_LABEL = "pod-template-hash"


def safe_hash(value, length=10):
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).digest()
    return "".join(NAME_CHARS[b % len(NAME_CHARS)] for b in digest[:length])


def normalized(value):
    """Drop empty/None values so templates compare equal after a round trip through typed clients."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def template_key(template):
    template = json.loads(json.dumps(template or {}))
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    labels.pop("controller-revision-hash", None)
    return normalized(template)


def owner_ref(obj, controller=True):
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj):
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return None


def condition(kind, status, reason="", message="", at=None, **extra):
    c = {"type": kind, "status": status, "lastTransitionTime": at or now_iso()}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    c.update(extra)
    return c


def set_condition(conditions, new, update_time_key=None):
    """Replace a condition by type, keeping lastTransitionTime when the status did not change."""
    conditions = list(conditions or [])
    for n, old in enumerate(conditions):
        if old.get("type") == new["type"]:
            if old.get("status") == new["status"]:
                new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
                if (
                    update_time_key
                    and old.get("reason") == new.get("reason")
                    and old.get("message") == new.get("message")
                ):
                    new[update_time_key] = old.get(update_time_key, new.get(update_time_key))
            conditions[n] = new
            return conditions
    conditions.append(new)
    return conditions


def has_condition(obj, kind):
    """Whether obj's status holds the condition `kind` with status True."""
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    )


def resolve_percent(value, total, round_up):
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value)


def pod_ready(pod):
    return has_condition(pod, "Ready")


def pod_active(pod):
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


def qos_class(pod):
    requests, limits, any_set = [], [], False
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        req, lim = resources.get("requests") or {}, resources.get("limits") or {}
        if req or lim:
            any_set = True
        requests.append(req)
        limits.append(lim)
    if not any_set:
        return "BestEffort"
    guaranteed = all(
        lim.get("cpu")
        and lim.get("memory")
        and (req.get("cpu", lim["cpu"]) == lim["cpu"])
        and (req.get("memory", lim["memory"]) == lim["memory"])
        for req, lim in zip(requests, limits, strict=True)
    )
    return "Guaranteed" if guaranteed else "Burstable"


def revision_hash(obj):
    return (obj["metadata"].get("labels") or {}).get("controller-revision-hash")


def copied(value):
    """A deep copy of JSON data, as the controllers hand templates to the store."""
    return json.loads(json.dumps(value))


def time_of(stamp):
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
