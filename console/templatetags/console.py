import json
import re
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from console.choices import ClusterStatus, OperationResult, VerificationStatus
from console.oplog.oplog import field_changes

register = template.Library()
BREAK_AFTER = re.compile(r"(/)")


@register.filter
def age(value):
    """How old something is, in its largest unit ("3 hours"); timesince would say "0 minutes"
    for its first minute."""
    if not value:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return _("under a minute")
    return timesince(value, depth=1)


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
def breakable(value):
    """Text with a line-break chance after each /, so that an image or a target in a narrow
    column wraps between its parts ("registry.local/shop/" "storefront:3.1.0"), not mid-word."""
    return mark_safe(BREAK_AFTER.sub(r"\1<wbr>", escape(str(value))))


@register.filter
def kube_time(value):
    """A Kubernetes timestamp (RFC 3339, UTC) as an aware datetime, for the date filter to show
    in the console's time zone; anything unparsable stays as it is."""
    try:
        return parse_datetime(value) or value
    except (TypeError, ValueError):
        return value


@register.filter
def cluster_colour(value):
    return ClusterStatus.colour(value)


@register.filter
def job_group(job):
    """The live group a job's page subscribes to."""
    from console.jobs.jobs import group

    return group(job)


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def may_run(job, user):
    """Whether the user may act on the job (cancel it)."""
    from console.jobs.jobs import may_run as allowed

    return allowed(user, job)
