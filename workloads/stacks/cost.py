"""What rendered objects ask for (CPU, memory, storage, load balancers), what that costs a
month on a cluster (its operator-kept PriceTable), and whether the namespace's quota takes it."""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import quantity

from .models import PriceTable

GIB = Decimal(1024**3)
ZERO = Decimal(0)


@dataclass
class Need:
    kind: str
    name: str
    cpu: Decimal = ZERO  # cores
    memory: Decimal = ZERO  # bytes
    storage: Decimal = ZERO  # bytes
    load_balancers: int = 0
    pods: int = 0
    claims: int = 0
    limits_cpu: Decimal = ZERO
    limits_memory: Decimal = ZERO
    cost: Decimal | None = None

    @property
    def cpu_text(self):
        return quantity.format_cpu(self.cpu) if self.cpu else ""

    @property
    def memory_text(self):
        return quantity.format_bytes(self.memory) if self.memory else ""

    @property
    def storage_text(self):
        return quantity.format_bytes(self.storage) if self.storage else ""


@dataclass
class Estimate:
    cluster: str
    rows: list[Need] = field(default_factory=list)
    total: Need = field(default_factory=lambda: Need("", ""))
    currency: str = ""
    priced: bool = False


def _amount(value):
    try:
        return quantity.parse(str(value)) if value not in (None, "") else ZERO
    except (ValueError, ArithmeticError):
        return ZERO


def _pod_needs(pod_spec, defaults):
    cpu = memory = limits_cpu = limits_memory = ZERO
    for container in (pod_spec or {}).get("containers") or []:
        resources = (container or {}).get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        cpu += _amount(requests.get("cpu") or limits.get("cpu") or defaults.get("request_cpu"))
        memory += _amount(requests.get("memory") or limits.get("memory") or defaults.get("request_memory"))
        limits_cpu += _amount(limits.get("cpu") or defaults.get("limit_cpu"))
        limits_memory += _amount(limits.get("memory") or defaults.get("limit_memory"))
    return cpu, memory, limits_cpu, limits_memory


def needs(objects, defaults=None):
    """One row per object that asks for something; `defaults`: the namespace's container
    defaults (its LimitRange), which fill what a container leaves out."""
    defaults = defaults or {}
    rows = []
    for obj in objects:
        kind, name, spec = obj["kind"], obj["metadata"]["name"], obj.get("spec") or {}
        row = Need(kind, name)
        if kind in ("Deployment", "StatefulSet"):
            replicas = spec.get("replicas", 1)
            replicas = replicas if isinstance(replicas, int) else 1
            cpu, memory, lcpu, lmemory = _pod_needs((spec.get("template") or {}).get("spec"), defaults)
            row.cpu, row.memory, row.limits_cpu, row.limits_memory = (
                cpu * replicas,
                memory * replicas,
                lcpu * replicas,
                lmemory * replicas,
            )
            row.pods = replicas
            for claim in spec.get("volumeClaimTemplates") or [] if kind == "StatefulSet" else []:
                size = (((claim or {}).get("spec") or {}).get("resources") or {}).get("requests") or {}
                row.storage += _amount(size.get("storage")) * replicas
                row.claims += replicas
        elif kind == "PersistentVolumeClaim":
            row.storage = _amount(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
            row.claims = 1
        elif kind == "Service" and spec.get("type") == "LoadBalancer":
            row.load_balancers = 1
        else:
            continue
        rows.append(row)
    return rows


def estimate(objects, cluster, defaults=None):
    """Per object and in total, priced from the cluster's table when it has one."""
    prices = PriceTable.objects.filter(cluster=cluster).first()
    result = Estimate(cluster=cluster.name, rows=needs(objects, defaults))
    total = result.total
    for row in result.rows:
        for key in ("cpu", "memory", "storage", "load_balancers", "pods", "claims"):
            setattr(total, key, getattr(total, key) + getattr(row, key))
        if prices is not None:
            row.cost = price(row, prices)
    if prices is not None:
        total.cost = sum((row.cost for row in result.rows), ZERO)
        result.currency, result.priced = prices.currency, True
    return result


def price(row, prices):
    monthly = (
        row.cpu * prices.cpu_core_month
        + row.memory / GIB * prices.memory_gib_month
        + row.storage / GIB * prices.storage_gib_month
        + row.load_balancers * prices.load_balancer_month
    )
    return monthly.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


QUOTA_KEYS = {
    "pods": "pods",
    "requests.cpu": "cpu",
    "cpu": "cpu",
    "requests.memory": "memory",
    "memory": "memory",
    "limits.cpu": "limits_cpu",
    "limits.memory": "limits_memory",
    "requests.storage": "storage",
    "persistentvolumeclaims": "claims",
}


def _show(key, amount):
    if "memory" in key or "storage" in key:
        return quantity.format_bytes(amount)
    if "cpu" in key:
        return quantity.format_cpu(amount)
    return f"{Decimal(amount).normalize():f}"


def check_quota(api, project, objects):
    """Refuse when the namespace's ResourceQuotas cannot take everything the objects ask
    for together (Kubernetes would refuse later, pod by pod)."""
    total = Need("", "")
    for row in needs(objects, project.limit_range or {}):
        for key in ("cpu", "memory", "limits_cpu", "limits_memory", "storage", "pods", "claims"):
            setattr(total, key, getattr(total, key) + getattr(row, key))
    problems = []
    for quota in api.list("ResourceQuota", project.name):
        status = quota.get("status") or {}
        hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
        used = status.get("used") or {}
        for key, attribute in QUOTA_KEYS.items():
            if key not in hard:
                continue
            need = Decimal(getattr(total, attribute))
            limit, in_use = _amount(hard[key]), _amount(used.get(key, "0"))
            if need and in_use + need > limit:
                problems.append(
                    _("Not enough quota: the template needs %(need)s of %(key)s, but quota %(quota)s leaves %(free)s.")
                    % {
                        "need": _show(key, need),
                        "key": key,
                        "quota": quota["metadata"]["name"],
                        "free": _show(key, max(limit - in_use, ZERO)),
                    }
                )
    if problems:
        raise ValidationError(problems)
