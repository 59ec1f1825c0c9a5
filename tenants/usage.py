"""Quota arithmetic and usage against quota, read from the resource mirror (the
ResourceQuota objects' status.used), never from the API server on a page view."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import quantity
from console.clusters.models import MirroredObject

from .choices import BYTE_RESOURCES, COUNT_RESOURCES, QUOTA_RESOURCES
from .manifests import QUOTA_NAME


def parse_amounts(values):
    """{"cpu": "2", ...} of strings → Decimals; ValidationError (bad input, for the form)
    naming the resource at fault. Empty values are left out (no limit)."""
    amounts = {}
    for resource, value in (values or {}).items():
        if resource not in QUOTA_RESOURCES:
            raise ValidationError(_("Unknown quota resource: %(name)s") % {"name": resource})
        if value in (None, ""):
            continue
        try:
            amount = quantity.parse(value)
        except ValueError:
            raise ValidationError(
                _("%(resource)s: %(value)s is not a quantity (examples: 500m, 2, 512Mi, 10Gi)")
                % {"resource": QUOTA_RESOURCES[resource][0], "value": value}
            ) from None
        if resource in COUNT_RESOURCES and amount != amount.to_integral():
            raise ValidationError(
                _("%(resource)s must be a whole number.") % {"resource": QUOTA_RESOURCES[resource][0]}
            )
        amounts[resource] = amount
    return amounts


def display(resource, amount):
    if amount is None:
        return "—"
    if resource in BYTE_RESOURCES:
        return quantity.format_bytes(amount)
    if resource == "cpu":
        return quantity.format_cpu(amount)
    return str(int(amount))


def quota_used(project):
    """Used amounts of a namespace from its mirrored ResourceQuota, {resource: Decimal}."""
    return quotas_used([project])[(project.cluster_id, project.name)]


def quotas_used(projects):
    """quota_used of many namespaces in one query: {(cluster id, namespace): {resource: Decimal}}."""
    projects = list(projects)
    rows = MirroredObject.objects.filter(
        kind="ResourceQuota",
        name=QUOTA_NAME,
        cluster_id__in={p.cluster_id for p in projects},
        namespace__in={p.name for p in projects},
    ).values_list("cluster_id", "namespace", "object")
    found = {(cluster_id, namespace): obj for cluster_id, namespace, obj in rows}
    return {(p.cluster_id, p.name): _used(found.get((p.cluster_id, p.name))) for p in projects}


def _used(quota_object):
    used_raw = ((quota_object or {}).get("status") or {}).get("used") or {}
    used = {}
    for resource, (_label, keys) in QUOTA_RESOURCES.items():
        values = [quantity.parse(used_raw[k]) for k in keys if k in used_raw]
        if values:
            used[resource] = max(values)
    return used


def sum_amounts(dicts):
    total = {}
    for amounts in dicts:
        for resource, amount in amounts.items():
            total[resource] = total.get(resource, Decimal(0)) + amount
    return total


@dataclass
class UsageBar(quantity.Share):
    resource: str
    label: str
    used: Decimal
    limit: Decimal | None
    allocated: Decimal | None = None

    def share_of(self):
        return self.used, self.limit

    @property
    def used_display(self):
        return display(self.resource, self.used)

    @property
    def limit_display(self):
        return display(self.resource, self.limit)

    @property
    def allocated_display(self):
        return display(self.resource, self.allocated)


def project_bars(project):
    used = quota_used(project)
    limits = parse_amounts(project.quota)
    return [
        UsageBar(r, str(label), used.get(r, Decimal(0)), limits.get(r)) for r, (label, _keys) in QUOTA_RESOURCES.items()
    ]


def tenant_bars(tenant, projects):
    used = sum_amounts(quotas_used(projects).values())
    allocated = sum_amounts(parse_amounts(p.quota) for p in projects)
    limits = parse_amounts(tenant.limits)
    return [
        UsageBar(r, str(label), used.get(r, Decimal(0)), limits.get(r), allocated.get(r, Decimal(0)))
        for r, (label, _keys) in QUOTA_RESOURCES.items()
    ]
