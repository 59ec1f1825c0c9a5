"""Kubernetes label selectors (equality and set-based) as database filters on the mirror."""

import re

from django.db import connection
from django.db.models import F, Q
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.lookups import Exact
from django.utils.translation import gettext as _

KEY = r"(?:[a-z0-9A-Z.\-_/]+)"
VALUE = r"(?:[A-Za-z0-9._\-]*)"
TERM_PATTERNS = [
    ("notin", re.compile(rf"^({KEY})\s+notin\s+\(([^)]*)\)$")),
    ("in", re.compile(rf"^({KEY})\s+in\s+\(([^)]*)\)$")),
    ("!=", re.compile(rf"^({KEY})\s*!=\s*({VALUE})$")),
    ("=", re.compile(rf"^({KEY})\s*==?\s*({VALUE})$")),
    ("!", re.compile(rf"^!\s*({KEY})$")),
    ("exists", re.compile(rf"^({KEY})$")),
]


class SelectorError(ValueError):
    pass


def split_terms(selector):
    """Split on commas that are not inside parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(_("unbalanced ')' in %(selector)s") % {"selector": repr(selector)})
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if depth:
        raise SelectorError(_("unbalanced '(' in %(selector)s") % {"selector": repr(selector)})
    terms.append(current.strip())
    return [term for term in terms if term]


def parse(selector):
    """[(op, key, values)] or SelectorError naming the term that does not parse."""
    parsed = []
    for term in split_terms(selector or ""):
        for op, pattern in TERM_PATTERNS:
            match = pattern.match(term)
            if match:
                key = match.group(1)
                values = []
                if op in ("in", "notin"):
                    values = [v.strip() for v in match.group(2).split(",") if v.strip()]
                    if not values or not all(re.fullmatch(VALUE, v) for v in values):
                        raise SelectorError(_("'%(term)s' needs a list of values") % {"term": term})
                elif op in ("=", "!="):
                    values = [match.group(2)]
                parsed.append((op, key, values))
                break
        else:
            raise SelectorError(
                _(
                    "'%(term)s' is not a label selector term "
                    "(key=value, key!=value, key in (a,b), key notin (a), key, !key)"
                )
                % {"term": term}
            )
    return parsed


def _value_is(field, key, value):
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__contains": {key: value}})  # @>, served by the GIN index
    # Built by hand: label keys such as app.kubernetes.io/name are not field paths.
    return Q(Exact(KeyTextTransform(key, field), value))


def to_q(selector, field="labels"):
    q = Q()
    for op, key, values in parse(selector):
        has = Q(HasKey(F(field), key))
        value_q = Q()
        for value in values:
            value_q |= _value_is(field, key, value)
        if op in ("=", "in"):
            q &= has & value_q
        elif op in ("!=", "notin"):
            q &= ~(has & value_q)
        elif op == "exists":
            q &= has
        elif op == "!":
            q &= ~has
    return q
