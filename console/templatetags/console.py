import json

from django import template

from ..choices import ClusterStatus, OperationResult, VerificationStatus
from ..oplog import field_changes

register = template.Library()


@register.filter
def result_colour(value):
    return OperationResult.colour(value)


@register.filter
def verification_colour(value):
    return VerificationStatus.colour(value)


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.filter
def changes(entry):
    """The leaves an operation-log entry changed between its before and after."""
    return field_changes(entry.before, entry.after)


@register.filter
def compact_json(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def cluster_colour(value):
    return ClusterStatus.colour(value)


@register.filter
def job_group(job):
    """The live group a job's page subscribes to."""
    from ..jobs import group

    return group(job)


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)
