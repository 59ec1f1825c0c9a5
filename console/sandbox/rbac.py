"""Kubernetes RBAC (rbac.authorization.k8s.io/v1) in the sandbox: the default roles and bindings a
cluster bootstraps with, the authorizer that evaluates them on every request, ClusterRole
aggregation, the escalation check on writes of roles and bindings, and their validation.

Group `system:masters` is allowed everything before any rule is read, as on a real cluster."""

import json

from .auth import AUTHENTICATED, AUTHN_GROUP, MASTERS, SA_PREFIX, UNAUTHENTICATED, Attributes
from .errors import ApiError
from .errors import forbidden as forbidden_error
from .kinds import STORED
from .selectors import selector_matcher

GROUP = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
DEFAULTS_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
VIEWERS = "sandbox:viewers"  # the read-only token's group: read everything, change nothing
ROLES, CLUSTER_ROLES = STORED["roles"], STORED["clusterroles"]
BINDINGS, CLUSTER_BINDINGS = STORED["rolebindings"], STORED["clusterrolebindings"]


def rule(verbs, groups, resources, names=None):
    out = {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def url_rule(verbs, urls):
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


# --- the bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) ----------------------

VIEW_RULES = [
    rule(
        READ,
        [""],
        [
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "configmaps",
        ],
    ),
    rule(
        READ,
        [""],
        [
            "limitranges",
            "resourcequotas",
            "bindings",
            "events",
            "pods/status",
            "resourcequotas/status",
            "namespaces/status",
            "replicationcontrollers/status",
            "pods/log",
        ],
    ),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(
        READ,
        ["apps"],
        [
            "controllerrevisions",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
        ],
    ),
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(
        READ,
        ["extensions"],
        [
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
        ],
    ),
    rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
]
EDIT_RULES = [
    rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"]),
    rule(["impersonate"], [""], ["serviceaccounts"]),
    rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(
        WRITE,
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
    ),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(
        WRITE,
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
    ),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
    rule(
        WRITE,
        ["extensions"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "ingresses",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
        ],
    ),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(READ + WRITE, ["coordination.k8s.io"], ["leases"]),
]
ADMIN_RULES = [
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ + WRITE, [GROUP], ["rolebindings", "roles"]),
]


def aggregate_label(role):
    return {f"rbac.authorization.k8s.io/aggregate-to-{role}": "true"}


def cluster_role(name, rules=(), labels=None, aggregate=None):
    role = {
        "metadata": {"name": name, "labels": {**DEFAULTS_LABEL, **(labels or {})}, "annotations": dict(AUTOUPDATE)},
        "rules": list(rules),
    }
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate_label(aggregate)}]}
    return role


def cluster_role_binding(name, role, subjects):
    return {
        "metadata": {"name": name, "labels": dict(DEFAULTS_LABEL), "annotations": dict(AUTOUPDATE)},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def group_subject(name):
    return {"apiGroup": GROUP, "kind": "Group", "name": name}


def bootstrap_roles():
    discovery_urls = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ]
    return [
        cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]),
        cluster_role("admin", aggregate="admin"),
        cluster_role("edit", labels=aggregate_label("admin"), aggregate="edit"),
        cluster_role("view", labels=aggregate_label("edit"), aggregate="view"),
        cluster_role("system:aggregate-to-admin", ADMIN_RULES, aggregate_label("admin")),
        cluster_role("system:aggregate-to-edit", EDIT_RULES, aggregate_label("edit")),
        cluster_role("system:aggregate-to-view", VIEW_RULES, aggregate_label("view")),
        cluster_role("system:discovery", [url_rule(["get"], discovery_urls)]),
        cluster_role(
            "system:basic-user",
            [
                rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                rule(["create"], [AUTHN_GROUP], ["selfsubjectreviews"]),
            ],
        ),
        cluster_role(
            "system:public-info-viewer", [url_rule(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])]
        ),
        # what metrics-server installs, so that view/edit/admin may read metrics.k8s.io
        {
            "metadata": {
                "name": "system:aggregated-metrics-reader",
                "labels": {
                    "k8s-app": "metrics-server",
                    **aggregate_label("admin"),
                    **aggregate_label("edit"),
                    **aggregate_label("view"),
                },
            },
            "rules": [rule(READ, ["metrics.k8s.io"], ["nodes", "pods"])],
        },
        # the sandbox's read-only token: every resource and path, read only
        {
            "metadata": {"name": VIEWERS, "labels": {"app.kubernetes.io/managed-by": "sandbox"}},
            "rules": [rule(READ, ["*"], ["*"]), url_rule(["get"], ["*"])],
        },
    ]


def bootstrap_bindings():
    authenticated = [group_subject(AUTHENTICATED)]
    return [
        cluster_role_binding("cluster-admin", "cluster-admin", [group_subject(MASTERS)]),
        cluster_role_binding("system:discovery", "system:discovery", authenticated),
        cluster_role_binding("system:basic-user", "system:basic-user", authenticated),
        cluster_role_binding(
            "system:public-info-viewer", "system:public-info-viewer", authenticated + [group_subject(UNAUTHENTICATED)]
        ),
        {
            "metadata": {"name": VIEWERS, "labels": {"app.kubernetes.io/managed-by": "sandbox"}},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": VIEWERS},
            "subjects": [group_subject(VIEWERS)],
        },
    ]


# --- rule matching -----------------------------------------------------------------------------


def rule_allows(attrs, r):
    verbs = r.get("verbs") or ()
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return any(
            url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1]))
            for url in r.get("nonResourceURLs") or ()
        )
    groups = r.get("apiGroups") or ()
    if "*" not in groups and attrs.group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = r.get("resources") or ()
    if not any(
        res == "*" or res == combined or (attrs.subresource and res == f"*/{attrs.subresource}") for res in resources
    ):
        return False
    names = r.get("resourceNames") or ()
    return not names or attrs.name in names


def subject_matches(subject, user, namespace):
    """The subject of a binding (in `namespace`, "" for ClusterRoleBindings) that names this user."""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace  # unqualified subjects mean the binding's namespace
        return bool(sa_namespace) and user.name == f"{SA_PREFIX}{sa_namespace}:{name}"
    return False


def describe_subject(subject, namespace):
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def aggregate_errors(errors):
    """Go's utilerrors aggregate: one message, or [a, b] without repeats."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class Rbac:
    def __init__(self, store):
        self.store = store

    # --- bootstrap and aggregation

    def seed(self):
        """Create the default roles and bindings that are missing, then aggregate."""
        store = self.store
        for role in bootstrap_roles():
            if not store.exists(CLUSTER_ROLES, "", role["metadata"]["name"]):
                store.create(CLUSTER_ROLES, "", role)
        for binding in bootstrap_bindings():
            if not store.exists(CLUSTER_BINDINGS, "", binding["metadata"]["name"]):
                store.create(CLUSTER_BINDINGS, "", binding)
        self.aggregate()

    def aggregate(self):
        """What the clusterrole-aggregation controller does: every ClusterRole with an
        aggregationRule gets the rules of the ClusterRoles its selectors pick (by name order).
        Aggregated roles may feed others (view into edit into admin): repeat until nothing changes."""
        for _pass in range(5):
            if not self._aggregate_once():
                return

    def _aggregate_once(self):
        changed = False
        roles = sorted(self.store.iter_refs(CLUSTER_ROLES), key=lambda r: r["metadata"]["name"])
        for role in roles:
            selectors = ((role.get("aggregationRule") or {}).get("clusterRoleSelectors")) or []
            if not selectors:
                continue
            matchers = [selector_matcher(s) for s in selectors]
            rules = []
            for other in roles:
                if other is role or not any(m(other["metadata"].get("labels")) for m in matchers):
                    continue
                rules += [r for r in other.get("rules") or [] if r not in rules]
            if rules != (role.get("rules") or []):

                def change(obj, rules=rules):
                    obj["rules"] = rules

                self.store.mutate(CLUSTER_ROLES, "", role["metadata"]["name"], change)
                changed = True
        return changed

    # --- evaluation

    def role_rules(self, role_ref, namespace):
        """(rules, error) of what a binding refers to: a Role in its namespace or a ClusterRole."""
        kind, name = role_ref.get("kind"), role_ref.get("name", "")
        if kind == "Role" and namespace:
            resource, role = "role", self.store.get_ref(ROLES, namespace, name)
        elif kind == "ClusterRole":
            resource, role = "clusterrole", self.store.get_ref(CLUSTER_ROLES, "", name)
        else:
            return [], f"unsupported role reference kind: {kind!r}"
        return (role.get("rules") or [], None) if role else ([], f'{resource}.{GROUP} "{name}" not found')

    def visit(self, user, namespace):
        """Yield (binding kind, binding, subject, rules) for every binding that applies to the
        user: ClusterRoleBindings, then the RoleBindings of the namespace; errors as rules None."""
        for kind, resource, ns in (("ClusterRoleBinding", CLUSTER_BINDINGS, ""), ("RoleBinding", BINDINGS, namespace)):
            if kind == "RoleBinding" and not namespace:
                break
            for binding in self.store.iter_refs(resource, ns):
                subject = next((s for s in binding.get("subjects") or [] if subject_matches(s, user, ns)), None)
                if subject is None:
                    continue
                rules, error = self.role_rules(binding.get("roleRef") or {}, ns)
                yield kind, binding, subject, rules, error

    def authorize(self, attrs):
        """(allowed, reason) as the RBAC authorizer answers, system:masters first."""
        if MASTERS in attrs.user.groups:
            return True, ""
        errors = []
        for kind, binding, subject, rules, error in self.visit(attrs.user, attrs.namespace):
            if error:
                errors.append(error)
                continue
            if any(rule_allows(attrs, r) for r in rules):
                meta, ref = binding["metadata"], binding.get("roleRef") or {}
                name = meta["name"] + (f"/{meta['namespace']}" if kind == "RoleBinding" else "")
                return True, (
                    f'RBAC: allowed by {kind} "{name}" of {ref.get("kind")} "{ref.get("name")}" to '
                    f"{describe_subject(subject, meta.get('namespace', ''))}"
                )
        return False, f"RBAC: {aggregate_errors(errors)}" if errors else ""

    def rules_for(self, user, namespace):
        """(rules, errors): everything the user may do in the namespace (cluster-wide rules included)."""
        rules, errors = [], []
        for _kind, _binding, _subject, found, error in self.visit(user, namespace):
            if error:
                errors.append(error)
            rules += found
        return rules, errors

    # --- escalation prevention on writes of roles and bindings

    def check_escalation(self, user, resource, namespace, obj):
        """Refuse to store a role granting, or a binding to a role holding, permissions the user
        lacks, unless the user may `escalate` (roles) or `bind` (the referenced role)."""
        if user is None or MASTERS in user.groups or resource.group != GROUP or not isinstance(obj, dict):
            return
        name = (obj.get("metadata") or {}).get("name") or ""
        if resource.plural in ("roles", "clusterroles"):
            if self.authorize(
                Attributes(
                    user,
                    "escalate",
                    resource_request=True,
                    group=GROUP,
                    resource=resource.plural,
                    namespace=namespace,
                    name=name,
                )
            )[0]:
                return
            wanted = obj.get("rules") or []
        else:
            ref = obj.get("roleRef") or {}
            role_plural = "roles" if ref.get("kind") == "Role" else "clusterroles"
            if self.authorize(
                Attributes(
                    user,
                    "bind",
                    resource_request=True,
                    group=GROUP,
                    resource=role_plural,
                    namespace=namespace if role_plural == "roles" else "",
                    name=ref.get("name", ""),
                )
            )[0]:
                return
            role = self.store.get_ref(
                ROLES if role_plural == "roles" else CLUSTER_ROLES, namespace, ref.get("name", "")
            )
            if role is None:
                raise ApiError(
                    404,
                    "NotFound",
                    f'{role_plural}.{GROUP} "{ref.get("name", "")}" not found',
                    {"name": ref.get("name", ""), "group": GROUP, "kind": role_plural},
                )
            wanted = role.get("rules") or []
        held, errors = self.rules_for(user, namespace)
        missing = [
            r
            for r in (atom for w in wanted if isinstance(w, dict) for atom in breakdown(w))
            if not any(covers(owner, r) for owner in held)
        ]
        if missing:
            groups = "[" + " ".join(json.dumps(g) for g in user.groups) + "]"
            message = (
                f'user "{user.name}" (groups={groups}) is attempting to grant RBAC permissions not currently '
                "held:\n" + "\n".join(sorted({compact_string(r) for r in compact(missing)}))
            )
            if errors:
                message += f"; resolution errors: [{', '.join(errors)}]"
            raise forbidden_error(resource, name, message)


def breakdown(r):
    """A rule as atoms of one verb on one group/resource(/name), or one verb on one URL."""
    atoms = []
    for group in r.get("apiGroups") or []:
        for res in r.get("resources") or []:
            for verb in r.get("verbs") or []:
                for name in r.get("resourceNames") or [None]:
                    atom = {"apiGroups": [group], "resources": [res], "verbs": [verb]}
                    if name is not None:
                        atom["resourceNames"] = [name]
                    atoms.append(atom)
    for url in r.get("nonResourceURLs") or []:
        atoms += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in r.get("verbs") or []]
    return atoms


def covers(owner, atom):
    def has_all(have, want):
        return all(w in (have or []) for w in want or [])

    verbs = "*" in (owner.get("verbs") or []) or has_all(owner.get("verbs"), atom.get("verbs"))
    groups = "*" in (owner.get("apiGroups") or []) or has_all(owner.get("apiGroups"), atom.get("apiGroups"))
    have = owner.get("resources") or []
    resources = "*" in have or all(
        res in have or ("/" in res and "*/" + res.split("/", 1)[1] in have) for res in atom.get("resources") or []
    )
    urls = all(
        any(o == u or (o.endswith("*") and u.startswith(o.rstrip("*"))) for o in owner.get("nonResourceURLs") or [])
        for u in atom.get("nonResourceURLs") or []
    )
    names = not owner.get("resourceNames") or (
        bool(atom.get("resourceNames")) and has_all(owner["resourceNames"], atom["resourceNames"])
    )
    return verbs and groups and resources and urls and names


def compact(atoms):
    """Merge atoms that differ only in their verb (Go's CompactRules)."""
    merged, out = {}, []
    for atom in atoms:
        if atom.get("resources") and not atom.get("resourceNames"):
            key = (atom["apiGroups"][0], atom["resources"][0])
            if key in merged:
                merged[key]["verbs"].append(atom["verbs"][0])
                continue
            merged[key] = {
                "apiGroups": list(atom["apiGroups"]),
                "resources": list(atom["resources"]),
                "verbs": list(atom["verbs"]),
            }
            out.append(merged[key])
        else:
            out.append(atom)
    return out


def compact_string(r):
    def quoted(values):
        return "[" + " ".join(json.dumps(v) for v in values) + "]"

    fields = (
        ("APIGroups", "apiGroups"),
        ("Resources", "resources"),
        ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"),
        ("Verbs", "verbs"),
    )
    parts = [f"{label}:{quoted(r[key])}" for label, key in fields if r.get(key)]
    return "{" + ", ".join(parts) + "}"


# --- validation (pkg/apis/rbac/validation) --------------------------------------------------------


def go_strings(values):
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


def validate(plural, obj, old, causes):
    """Add the API server's complaints about an RBAC object to `causes`."""
    if plural in ("roles", "clusterroles"):
        for path, r in causes.objects(obj.get("rules"), "rules"):
            if not r.get("verbs"):
                causes.required(f"{path}.verbs", "verbs must contain at least one value")
            urls = r.get("nonResourceURLs") or []
            if urls:
                if plural == "roles":
                    causes.bad(
                        f"{path}.nonResourceURLs",
                        urls,
                        "namespaced rules cannot apply to non-resource URLs",
                        go_strings(urls),
                    )
                if r.get("apiGroups") or r.get("resources") or r.get("resourceNames"):
                    causes.bad(
                        f"{path}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                        go_strings(urls),
                    )
                continue
            if not r.get("apiGroups"):
                causes.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
            if not r.get("resources"):
                causes.required(f"{path}.resources", "resource rules must supply at least one resource")
        return
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    if ref.get("apiGroup") != GROUP:
        causes.unsupported("roleRef.apiGroup", ref.get("apiGroup") or "", [GROUP])
    kinds = ["Role", "ClusterRole"] if plural == "rolebindings" else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        causes.unsupported("roleRef.kind", ref.get("kind") or "", kinds)
    if not ref.get("name"):
        causes.required("roleRef.name")
    elif "/" in ref["name"] or "%" in ref["name"] or ref["name"] in (".", ".."):
        causes.bad(
            "roleRef.name",
            ref["name"],
            "may not contain '/' or '%'" if ref["name"] not in (".", "..") else f"may not be '{ref['name']}'",
        )
    for path, subject in causes.objects(obj.get("subjects"), "subjects"):
        if not subject.get("name"):
            causes.required(f"{path}.name")
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.unsupported(f"{path}.apiGroup", subject["apiGroup"], [""])
            if plural == "clusterrolebindings" and not subject.get("namespace"):
                causes.required(f"{path}.namespace")
        elif kind in ("User", "Group"):
            if subject.get("apiGroup") != GROUP:
                causes.unsupported(f"{path}.apiGroup", subject.get("apiGroup") or "", [GROUP])
        else:
            causes.unsupported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"])
    if old is not None and (old.get("roleRef") or {}) != ref:
        shown = ", ".join(
            f"{go}:{json.dumps(ref.get(key, ''))}"
            for go, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
        )
        causes.bad("roleRef", ref, "cannot change roleRef", f"rbac.RoleRef{{{shown}}}")


def default(obj):
    """v1 defaulting: User and Group subjects belong to the RBAC API group."""
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = GROUP
