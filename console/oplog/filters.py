from django.db.models import Q, TextField
from django.db.models.functions import Cast

from console.oplog.models import OperationLogEntry

TARGET_FIELDS = ("cluster", "namespace", "target_kind", "target_name")
SEARCH_FIELDS = ("actor_name", "action", "tenant", "error", "request_id", "user_agent") + TARGET_FIELDS


# Searched as their JSON text, so "nginx:1.27" finds the upgrade that set that image. A
# sequential scan: fine for the tens of thousands of entries a console keeps (5,000 in ~10 ms).
JSON_FIELDS = ("before", "after", "payload")

# The form's simple fields, each the one lookup it filters by.
FIELD_LOOKUPS = (
    ("actor", "actor_name__icontains"),
    ("tenant", "tenant__iexact"),
    ("action", "action__istartswith"),
    ("result", "result"),
    ("since", "started_at__gte"),
    ("until", "started_at__lte"),
)


def _any_contains(fields, text):
    condition = Q()
    for name in fields:
        condition |= Q(**{f"{name}__icontains": text})
    return condition


def filter_operation_log(data, queryset=None):
    """Entries matching a cleaned OperationLogFilterForm's data."""
    entries = OperationLogEntry.objects.all() if queryset is None else queryset
    for field, lookup in FIELD_LOOKUPS:
        if data.get(field):
            entries = entries.filter(**{lookup: data[field]})
    if data.get("target"):
        # "cluster/namespace/kind/name" or any part of it
        for part in (p for p in data["target"].split("/") if p):
            entries = entries.filter(_any_contains(TARGET_FIELDS, part))
    if data.get("q"):
        entries = entries.alias(**{f"{name}_text": Cast(name, TextField()) for name in JSON_FIELDS})
        entries = entries.filter(
            _any_contains(SEARCH_FIELDS + tuple(f"{name}_text" for name in JSON_FIELDS), data["q"])
        )
    return entries.order_by("-id")
