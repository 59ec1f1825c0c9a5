"""The tenants app's dashboard panels: quota use per tenant for operators and auditors;
their tenants' namespaces and quota use for tenant users. Use is what the clusters
report in the mirrored ResourceQuotas (status.used against status.hard)."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models.fields.json import KT

from console import dashboard, quantity
from console.clusters.models import MirroredObject

from .choices import QUOTA_RESOURCES
from .manifests import QUOTA_NAME
from .models import Project, Tenant

SHOWN = ("cpu", "memory", "pods", "storage")
# Operators see the tenants nearest their quota first; the tenant list has the rest.
TENANT_ROWS = 12


@dataclass
class QuotaUse(quantity.Share):
    resource: str
    label: str
    used: Decimal
    hard: Decimal | None  # None: no quota on this resource in any namespace

    def share_of(self):
        return self.used, self.hard

    @property
    def used_display(self):
        return dashboard.show(self.resource, self.used)

    @property
    def hard_display(self):
        return dashboard.show(self.resource, self.hard)


def _amount(text):
    try:
        return quantity.parse(str(text))
    except ValueError:
        return None


# The ResourceQuota keys each shown resource may be capped by, in order of preference.
QUOTA_KEYS = [(resource, key) for resource in SHOWN for key in QUOTA_RESOURCES[resource][1]]


def quota_use(projects, *, every=False):
    """{tenant id: [QuotaUse]} summed over the tenants' namespaces, in one mirror query that
    reads only the quota keys (not whole objects). `every`: the projects are all of them."""
    owner = {(p.cluster_id, p.name): p.tenant_id for p in projects}
    rows = MirroredObject.objects.filter(kind="ResourceQuota", name=QUOTA_NAME)
    if not every:
        rows = rows.filter(namespace__in={ns for _c, ns in owner})
    columns = [KT(f"object__status__{part}__{key}") for part in ("hard", "used") for _r, key in QUOTA_KEYS]
    totals = {}
    for cluster_id, namespace, *values in rows.values_list("cluster_id", "namespace", *columns).iterator(
        chunk_size=2000
    ):
        tenant_id = owner.get((cluster_id, namespace))
        if tenant_id is None:
            continue
        hard, used = values[: len(QUOTA_KEYS)], values[len(QUOTA_KEYS) :]
        sums, counted = totals.setdefault(tenant_id, {}), set()
        # a resource counts when the quota caps it, with used read from the same key (requests.cpu with requests.cpu)
        for (resource, _key), cap, spent in zip(QUOTA_KEYS, hard, used, strict=True):
            cap = _amount(cap) if cap is not None else None
            if cap is None or resource in counted:
                continue
            counted.add(resource)
            was_used, was_hard = sums.get(resource, (Decimal(0), Decimal(0)))
            sums[resource] = (was_used + (_amount(spent or "0") or Decimal(0)), was_hard + cap)
    return {
        tenant_id: [QuotaUse(r, str(QUOTA_RESOURCES[r][0]), *sums.get(r, (Decimal(0), None))) for r in SHOWN]
        for tenant_id, sums in totals.items()
    }


def _empty_use():
    return [QuotaUse(r, str(QUOTA_RESOURCES[r][0]), Decimal(0), None) for r in SHOWN]


def tenant_use_context(request):
    """Every tenant's quota use, the fullest first (the same for every operator: cached)."""
    rows = dashboard.cached("tenant_use", tenant_use_rows)
    return {
        "tenant_rows": rows[:TENANT_ROWS],
        "tenant_total": len(rows),
        "resources": [QUOTA_RESOURCES[r][0] for r in SHOWN],
    }


def tenant_use_rows():
    tenants = list(Tenant.objects.only("name", "display_name", "status").order_by("name"))
    use = quota_use(Project.objects.only("tenant_id", "cluster_id", "name"), every=True)
    rows = [(tenant, use.get(tenant.pk) or _empty_use()) for tenant in tenants]
    rows.sort(key=lambda row: -max((bar.percent or 0) for bar in row[1]))
    return rows


def my_tenants_context(request):
    """The user's tenants: their namespaces with status and their quota use."""
    tenant_ids = [m.tenant_id for m in dashboard.memberships(request)]
    tenants = list(Tenant.objects.filter(pk__in=tenant_ids).order_by("name"))
    projects = list(
        Project.objects.filter(tenant_id__in=tenant_ids).select_related("cluster").order_by("cluster__name", "name")
    )
    use = quota_use(projects)
    return {
        "my_tenants": [
            {
                "tenant": tenant,
                "projects": [p for p in projects if p.tenant_id == tenant.pk],
                "use": use.get(tenant.pk) or _empty_use(),
            }
            for tenant in tenants
        ]
    }


def register():
    dashboard.register_panel(
        "tenant_use", "tenants/_dash_tenant_use.html", tenant_use_context, dashboard.OPERATORS, order=20
    )
    dashboard.register_panel("my_tenants", "tenants/_dash_my_tenants.html", my_tenants_context, ("tenant",), order=10)
