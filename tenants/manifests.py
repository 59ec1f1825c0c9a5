"""The Kubernetes objects that make a namespace a tenant namespace: labels, quota,
container defaults, RBAC bindings for the tenant's groups and network isolation.
Plain functions returning dicts; the tasks apply them (server-side apply, idempotent)."""

from django.conf import settings

from .choices import QUOTA_RESOURCES, PathKind

TENANT_LABEL = "caas.io/tenant"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "caas-console"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace
PATH_OF_LABEL = "caas.io/path-of"  # on extra-path policies: the namespace the path opens
QUOTA_NAME = "caas-quota"
LIMIT_RANGE_NAME = "caas-defaults"
BASE_POLICIES = ("caas-default-deny", "caas-allow-tenant", "caas-allow-ingress-controller", "caas-allow-dns")
POD_SECURITY_LABEL = "pod-security.kubernetes.io/"  # + enforce, warn, audit and their -version


def _meta(project, name):
    return {
        "name": name,
        "namespace": project.name,
        "labels": {TENANT_LABEL: project.tenant.name, MANAGED_LABEL: MANAGED_BY},
    }


def pod_security_labels(level):
    """The cluster refuses pods above the tenant's level (enforce); warn and audit at the same
    level make kubectl users and the audit log see why. "latest": the cluster's current rules."""
    labels = {}
    for mode in ("enforce", "warn", "audit"):
        labels[POD_SECURITY_LABEL + mode] = level
        labels[POD_SECURITY_LABEL + mode + "-version"] = "latest"
    return labels


def namespace(project, requested_by=""):
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": project.name,
            "labels": {
                TENANT_LABEL: project.tenant.name,
                MANAGED_LABEL: MANAGED_BY,
                **pod_security_labels(project.tenant.pod_security),
            },
            "annotations": {"caas.io/display-name": project.display_name, "caas.io/requested-by": requested_by},
        },
    }


def resource_quota(project):
    hard = {}
    for resource, value in project.quota.items():
        for key in QUOTA_RESOURCES[resource][1]:
            hard[key] = str(value)
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta(project, QUOTA_NAME), "spec": {"hard": hard}}


def limit_range(project):
    defaults = project.limit_range
    limits = {k: defaults[f"limit_{k}"] for k in ("cpu", "memory") if defaults.get(f"limit_{k}")}
    requests = {k: defaults[f"request_{k}"] for k in ("cpu", "memory") if defaults.get(f"request_{k}")}
    item = {"type": "Container"}
    if limits:
        item["default"] = limits
    if requests:
        item["defaultRequest"] = requests
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(project, LIMIT_RANGE_NAME),
        "spec": {"limits": [item]},
    }


def role_bindings(project):
    """Tenant admins get the `admin` ClusterRole in the namespace, members `edit`: the
    cluster refuses anything outside the tenant's namespaces on its own."""
    tenant = project.tenant
    return [
        _role_binding(project, "caas-tenant-admins", "admin", tenant.admin_group),
        _role_binding(project, "caas-tenant-members", "edit", tenant.group),
    ]


def _role_binding(project, name, cluster_role, group):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(project, name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }


def _policy(project, name, spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(project, name),
        "spec": spec,
    }


def _from_namespace(name):
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


def network_policies(project):
    """Deny by default; allow the tenant's own namespaces (both ways), the ingress
    controller in, and DNS out. Egress elsewhere needs an explicit path."""
    tenant_peers = [{"namespaceSelector": {"matchLabels": {TENANT_LABEL: project.tenant.name}}}]
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return [
        _policy(project, "caas-default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            project,
            "caas-allow-tenant",
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": tenant_peers}],
                "egress": [{"to": tenant_peers}],
            },
        ),
        _policy(
            project,
            "caas-allow-ingress-controller",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [_from_namespace(settings.CAAS_INGRESS_NAMESPACE)]}],
            },
        ),
        _policy(
            project,
            "caas-allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {**_from_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
                        ],
                        "ports": dns_ports,
                    }
                ],
            },
        ),
    ]


def path_policy(path):
    ports = [{"protocol": "TCP", "port": path.port}] if path.port else []
    if path.kind == PathKind.CIDR:
        rule = {"to": [{"ipBlock": {"cidr": path.cidr}}], **({"ports": ports} if ports else {})}
        spec = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}
    else:
        rule = {"from": [_from_namespace(path.peer_namespace)], **({"ports": ports} if ports else {})}
        spec = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [rule]}
    policy = _policy(path.project, path.policy_name, spec)
    policy["metadata"]["labels"][PATH_OF_LABEL] = path.project.name
    policy["metadata"]["annotations"] = {"caas.io/path": str(path.get_kind_display())}
    return policy


def peer_egress_policy(path, peer_tenant_name):
    """The other side of a cross-tenant path: the peer namespace may send to this one
    (within a tenant, egress between its namespaces is open already)."""
    rule = {"to": [_from_namespace(path.project.name)]}
    if path.port:
        rule["ports"] = [{"protocol": "TCP", "port": path.port}]
    meta = {
        "name": f"{path.policy_name}-egress",
        "namespace": path.peer_namespace,
        "labels": {TENANT_LABEL: peer_tenant_name, MANAGED_LABEL: MANAGED_BY, PATH_OF_LABEL: path.project.name},
    }
    spec = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


def global_network_policy(tenant, cross_tenant_paths=()):
    """Calico, cluster-wide: pods of this tenant accept traffic only from the tenant, the
    ingress controller, the system namespaces and the cross-tenant paths an operator opened
    into its namespaces on this cluster, whatever namespaced policies say. (Calico reads this
    policy, order 100, before the Kubernetes ones: a path left out here would be denied.)"""
    selector = f"{TENANT_LABEL} == '{tenant.name}'"
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "GlobalNetworkPolicy",
        "metadata": {
            "name": f"caas-tenant-{tenant.name}",
            "labels": {TENANT_LABEL: tenant.name, MANAGED_LABEL: MANAGED_BY},
        },
        "spec": {
            "order": 100,
            "namespaceSelector": selector,
            "types": ["Ingress"],
            "ingress": [
                {"action": "Allow", "source": {"namespaceSelector": selector}},
                {
                    "action": "Allow",
                    "source": {
                        "namespaceSelector": f"{NAMESPACE_NAME_LABEL} in "
                        f"{{'{settings.CAAS_INGRESS_NAMESPACE}', 'kube-system'}}"
                    },
                },
                *[_path_rule(path) for path in cross_tenant_paths],
                {"action": "Deny"},
            ],
        },
    }


def _path_rule(path):
    """A cross-tenant path as a Calico rule: from the peer namespace into the path's, on its port."""
    rule = {
        "action": "Allow",
        "source": {"namespaceSelector": f"{NAMESPACE_NAME_LABEL} == '{path.peer_namespace}'"},
        "destination": {"namespaceSelector": f"{NAMESPACE_NAME_LABEL} == '{path.project.name}'"},
    }
    if path.port:
        rule["protocol"] = "TCP"  # Calico matches ports only with a protocol
        rule["destination"]["ports"] = [path.port]
    return rule
