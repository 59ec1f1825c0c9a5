"""The rules workload services check before they change anything: who may change an app,
and whether what was asked is well formed and fits (names, ports, hosts, replicas, the
Secrets and ConfigMaps it reads). Refusals are PermissionError, bad input ValidationError;
settings come back cleaned."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console.accounts.access import require_permission
from console.accounts.models import User
from console.clusters import permissions
from console.clusters.models import MirroredObject
from console.kube.api import ClusterAPI
from tenants import access
from tenants.choices import ProjectStatus
from tenants.models import Project

from . import specs
from .choices import AppStatus, ServiceType
from .models import App
from .quota import per_pod

HOST = specs.DNS_SUBDOMAIN
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")


def check_may_change(user: User | None, project: Project) -> None:
    """The user may change the namespace's workloads, and the namespace and its cluster can take changes."""
    require_permission(
        access.may_operate(user, project.tenant), _("Only the tenant's members and operators change its apps.")
    )
    require_permission(project.tenant.is_active, _("The tenant is suspended: its apps cannot be changed."))
    if project.status not in (ProjectStatus.ACTIVE, ProjectStatus.UPDATING):
        raise ValidationError(
            _("Namespace %(ns)s is not ready (%(status)s).")
            % {"ns": project.name, "status": project.get_status_display()}
        )
    blocked = permissions.refusal(project.cluster, "apps", "impersonation")  # a cluster added for read-only use
    if blocked:
        raise ValidationError(blocked)


def check_app(user: User | None, app: App) -> None:
    check_may_change(user, app.project)
    if app.status == AppStatus.DELETING:
        raise ValidationError(_("App %(name)s is being deleted.") % {"name": app.name})


def check_replicas(replicas: object) -> None:
    if not isinstance(replicas, int) or not 0 <= replicas <= specs.MAX_REPLICAS:
        raise ValidationError(
            {"replicas": _("Replicas must be a number from 0 to %(max)s.") % {"max": specs.MAX_REPLICAS}}
        )


def check_secret(api: ClusterAPI, project: Project, name: str, what: str) -> None:
    """The Secret named in field `what` exists (no name: nothing to check)."""
    if name and api.get("Secret", name, project.name) is None:
        raise ValidationError(
            {what: _("There is no Secret named %(name)s in %(ns)s.") % {"name": name, "ns": project.name}}
        )


def check_config_refs(api: ClusterAPI, project: Project, spec: dict) -> None:
    """Each Secret and ConfigMap the app reads must exist (else its pods wait for it forever)."""
    for field in ("env_from", "config_volumes"):
        for ref in spec.get(field) or []:
            if api.get(ref["kind"], ref["name"], project.name) is None:
                raise ValidationError(
                    {
                        field: _("There is no %(kind)s named %(name)s in %(ns)s.")
                        % {"kind": ref["kind"], "name": ref["name"], "ns": project.name}
                    }
                )


# --- Service and Ingress --------------------------------------------------------------


def check_exposure(
    app: App,
    service_type: str,
    port: int | None,
    target_port: int | None,
    node_port: int | None,
    host: str,
    path: str,
    tls_secret: str,
) -> tuple[dict, dict]:
    """The Service and Ingress settings, cleaned: (service dict or {}, ingress dict or {})."""
    if service_type not in ServiceType.values:
        raise ValidationError({"service_type": _("Unknown service type.")})
    if not service_type:
        if host:
            raise ValidationError({"host": _("An ingress needs a Service: choose ClusterIP or NodePort.")})
        return {}, {}
    container_ports = [p["port"] for p in app.spec.get("ports") or []]
    target_port = target_port or (container_ports[0] if container_ports else None)
    for field, value in (("port", port), ("target_port", target_port)):
        if not isinstance(value, int) or not 1 <= value <= 65535:
            raise ValidationError({field: _("Ports are numbers from 1 to 65535.")})
    if node_port is not None:
        if service_type != ServiceType.NODE_PORT:
            raise ValidationError({"node_port": _("Only NodePort services have a node port.")})
        if not 30000 <= node_port <= 32767:
            raise ValidationError({"node_port": _("Node ports are numbers from 30000 to 32767.")})
    service = {"type": service_type, "port": port, "target_port": target_port, "node_port": node_port}
    if not host:
        if path or tls_secret:
            raise ValidationError({"host": _("Give the host name the ingress answers for.")})
        return service, {}
    bare = host[2:] if host.startswith("*.") else host
    if len(host) > 253 or not HOST.match(bare) or "." not in bare:
        raise ValidationError(
            {"host": _("%(host)s is not a valid host name (for example shop.example.com).") % {"host": repr(host)}}
        )
    path = path or "/"
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise ValidationError({"path": _("The path must start with '/' and hold no spaces.")})
    if tls_secret and not specs.DNS_SUBDOMAIN.match(tls_secret):
        raise ValidationError({"tls_secret": _("%(name)s is not a valid Secret name.") % {"name": repr(tls_secret)}})
    return service, {"host": host, "path": path, "tls_secret": tls_secret}


def check_deploy_exposure(app: App, exposure: dict) -> tuple[dict, dict]:
    """The deploy form's Service and Ingress, cleaned as expose_app cleans them: (service, ingress)."""
    if not exposure or not exposure.get("service_type"):
        if exposure and exposure.get("host"):
            raise ValidationError({"host": _("An ingress needs a Service: choose ClusterIP or NodePort.")})
        return {}, {}
    return check_exposure(
        app,
        exposure.get("service_type", ""),
        exposure.get("port"),
        exposure.get("target_port"),
        exposure.get("node_port"),
        (exposure.get("host") or "").strip().lower(),
        (exposure.get("path") or "").strip(),
        (exposure.get("tls_secret") or "").strip(),
    )


def check_route(api: ClusterAPI, app: App, route: dict) -> None:
    """An ingress (when one is wanted) has its TLS Secret, and no other app of the cluster
    answers the same host and path (it would steal its traffic)."""
    if not route:
        return
    check_secret(api, app.project, route["tls_secret"], "tls_secret")
    ingresses = MirroredObject.objects.filter(cluster=app.project.cluster, kind="Ingress")
    for obj in ingresses.only("namespace", "name", "object"):
        if (obj.namespace, obj.name) == (app.namespace, app.name):
            continue
        for rule in (obj.object.get("spec") or {}).get("rules") or []:
            paths = [p.get("path") or "/" for p in ((rule.get("http") or {}).get("paths") or [])]
            if rule.get("host") == route["host"] and route["path"] in paths:
                raise ValidationError(
                    {
                        "host": _("%(host)s%(path)s is served by another ingress already.")
                        % {"host": route["host"], "path": route["path"]}
                    }
                )


# --- autoscaler and canary ------------------------------------------------------------


def check_autoscaler(app: App, min_replicas: int, max_replicas: int, cpu: int | None, memory: int | None) -> dict:
    """The HorizontalPodAutoscaler's settings, cleaned: {min, max, cpu, memory} (target utilisation in %)."""
    for field, value, low in (("min_replicas", min_replicas, 1), ("max_replicas", max_replicas, 1)):
        if not isinstance(value, int) or not low <= value <= specs.MAX_REPLICAS:
            raise ValidationError(
                {
                    field: _("Replicas must be a number from %(low)s to %(max)s.")
                    % {"low": low, "max": specs.MAX_REPLICAS}
                }
            )
    if min_replicas > max_replicas:
        raise ValidationError({"max_replicas": _("The maximum is below the minimum.")})
    if cpu is None and memory is None:
        raise ValidationError(_("Give a CPU or a memory target (or both)."))
    wanted = per_pod(app.project, app.spec)
    for field, value, resource in (("cpu", cpu, "cpu"), ("memory", memory, "memory")):
        if value is None:
            continue
        if not isinstance(value, int) or not 1 <= value <= 1000:
            raise ValidationError({field: _("Target utilisation is a percentage from 1 to 1000.")})
        if f"requests.{resource}" not in wanted:
            raise ValidationError(
                {
                    field: _(
                        "Utilisation is measured against the %(resource)s request: give the app a "
                        "%(resource)s request first."
                    )
                    % {"resource": resource}
                }
            )
    return {"min": min_replicas, "max": max_replicas, "cpu": cpu, "memory": memory}


def check_canary(app: App, image: str, replicas: int, weight: int | None, header: str, header_value: str) -> dict:
    """The canary's settings, cleaned: {image, replicas, weight, header, header_value}."""
    image = specs.check_image(image)
    if not isinstance(replicas, int) or not 1 <= replicas <= 10:
        raise ValidationError({"replicas": _("A canary runs 1 to 10 replicas.")})
    if weight is None and not header:
        raise ValidationError(_("Send the canary a share of the traffic (weight), requests with a header, or both."))
    if weight is not None and not 0 <= weight <= 100:
        raise ValidationError({"weight": _("The weight is a percentage from 0 to 100.")})
    if header and not HEADER_NAME.match(header):
        raise ValidationError({"header": _("%(name)s is not a valid header name.") % {"name": repr(header)}})
    if header_value and not header:
        raise ValidationError({"header": _("Name the header whose value selects the canary.")})
    return {
        "image": image,
        "replicas": replicas,
        "weight": weight or 0,
        "header": header or "",
        "header_value": header_value or "",
    }
