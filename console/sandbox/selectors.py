"""Label selectors (equality and set-based, as strings or LabelSelector objects) and field selectors."""

import re

from .errors import bad_request

_SPLIT = re.compile(r",(?![^()]*\))")
_SET = re.compile(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_KEY = re.compile(r"^[\w./-]+$")


def parse_labels(selector):
    terms = []
    for raw in _SPLIT.split(selector or ""):
        term = raw.strip()
        if not term:
            continue
        match = _SET.match(term)
        if match:
            terms.append((match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",") if v.strip()}))
        elif "!=" in term:
            key, value = term.split("!=", 1)
            terms.append((key.strip(), "!=", {value.strip()}))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            terms.append((key.strip(), "=", {value.strip()}))
        elif term.startswith("!") and _KEY.match(term[1:].strip()):
            terms.append((term[1:].strip(), "!", set()))
        elif _KEY.match(term):
            terms.append((term, "exists", set()))
        else:
            raise bad_request(f"unable to parse requirement: {term}")
    return terms


def _matches(terms, labels):
    for key, op, values in terms:
        present = key in labels
        if op in ("=", "in"):
            if not (present and labels[key] in values):
                return False
        elif op in ("!=", "notin"):
            if present and labels[key] in values:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!":
            if present:
                return False
    return True


def label_matcher(selector):
    """A predicate over a labels dict for a selector string; empty selects everything."""
    terms = parse_labels(selector)
    if not terms:
        return lambda labels: True
    return lambda labels: _matches(terms, labels or {})


def selector_matcher(selector):
    """A predicate over a labels dict for a LabelSelector object (matchLabels/matchExpressions).
    None selects nothing; {} selects everything (as for NetworkPolicy podSelector)."""
    if selector is None:
        return lambda labels: False
    terms = [(k, "=", {v}) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        terms.append((expr.get("key"), ops.get(expr.get("operator"), "in"), set(expr.get("values") or [])))
    return lambda labels: _matches(terms, labels or {})


def selector_string(selector):
    """A LabelSelector object as the string kubectl and the scale subresource show."""
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }.get(op, key)
        )
    return ",".join(parts)


def field_value(obj, path):
    value = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# the field labels the real API server accepts, beyond metadata.name and metadata.namespace
FIELD_LABELS = {
    "pods": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "events": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "nodes": {"spec.unschedulable"},
    "replicasets": {"status.replicas"},
    "jobs": {"status.successful"},
    "persistentvolumeclaims": set(),
}


def field_matcher(selector, plural=None):
    terms = []
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        negate = "!=" in term
        if not negate and "=" not in term:
            raise bad_request(f"invalid field selector: {term}")
        key, value = term.split("!=" if negate else "=", 1)
        key, value = key.strip(), value.strip().lstrip("=")
        if plural and key not in ("metadata.name", "metadata.namespace") and key not in FIELD_LABELS.get(plural, set()):
            raise bad_request(f"field label not supported: {key}")
        if key == "source":
            key = "source.component"
        terms.append((key, value, negate))
    if not terms:
        return lambda obj: True
    return lambda obj: all((field_value(obj, key) == value) != negate for key, value, negate in terms)
