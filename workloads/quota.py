"""Quota arithmetic: what an app's pods ask of the namespace's ResourceQuotas, checked
before Kubernetes refuses (its refusal would come later, pod by pod, as events)."""

import math
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import quantity
from console.kube.api import ClusterAPI
from tenants.models import Project

from .choices import AppKind


def per_pod(project: Project, spec: dict) -> dict[str, Decimal]:
    """What one replica asks of the quota, with the namespace's container defaults filling gaps."""
    resources = spec.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    defaults = project.limit_range or {}
    amounts = {"pods": Decimal(1)}
    for resource in ("cpu", "memory"):
        limit = limits.get(resource) or defaults.get(f"limit_{resource}")
        request = requests.get(resource) or limits.get(resource) or defaults.get(f"request_{resource}")
        if request:
            amounts[f"requests.{resource}"] = amounts[resource] = quantity.parse(request)
        if limit:
            amounts[f"limits.{resource}"] = quantity.parse(limit)
    for volume in spec.get("volumes") or []:
        amounts["requests.storage"] = amounts.get("requests.storage", Decimal(0)) + quantity.parse(volume["size"])
        amounts["persistentvolumeclaims"] = amounts.get("persistentvolumeclaims", Decimal(0)) + 1
    return amounts


def _show(key, amount):
    if "memory" in key or "storage" in key:
        return quantity.format_bytes(amount)
    if "cpu" in key:
        return quantity.format_cpu(amount)
    return f"{amount.normalize():f}"


def surge_pods(kind: str, workload: dict) -> int:
    """How many new pods a rolling update starts beside the old ones (maxSurge, 25 % by
    default, rounded up like Kubernetes does); a StatefulSet or a Recreate strategy starts none."""
    spec = workload.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if kind != AppKind.DEPLOYMENT or strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    replicas = spec.get("replicas", 1)
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


def check_quota(api: ClusterAPI, project: Project, spec: dict, extra_replicas: int) -> None:
    """Refuse before Kubernetes does (its refusal would come later, pod by pod, as events)."""
    if extra_replicas <= 0:
        return
    wanted = per_pod(project, spec)
    for quota in api.list("ResourceQuota", project.name):
        status = quota.get("status") or {}
        hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
        used = status.get("used") or {}
        for key, amount in wanted.items():
            if key not in hard:
                continue
            need = amount * extra_replicas
            limit, in_use = quantity.parse(hard[key]), quantity.parse(used.get(key, "0"))
            if in_use + need > limit:
                raise ValidationError(
                    _(
                        "Not enough quota: %(replicas)s more replicas need %(need)s of %(key)s, but quota %(quota)s "
                        "leaves %(free)s of %(hard)s."
                    )
                    % {
                        "replicas": extra_replicas,
                        "need": _show(key, need),
                        "key": key,
                        "quota": quota["metadata"]["name"],
                        "free": _show(key, max(limit - in_use, Decimal(0))),
                        "hard": _show(key, limit),
                    }
                )
