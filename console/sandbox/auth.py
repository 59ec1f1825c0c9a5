"""Who is asking, and for what: users, impersonation, the attributes the authorizer judges
(Kubernetes' RequestInfo), Forbidden messages in the API server's words, and the audit log.
The rules themselves live in rbac.py."""

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from .errors import ApiError

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"
SA_PREFIX = "system:serviceaccount:"
AUTHN_GROUP = "authentication.k8s.io"
NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple = (AUTHENTICATED,)
    uid: str = ""
    extra: dict = field(default_factory=dict, hash=False)
    impersonator: "User" = None  # who really sent the request, when this user is impersonated

    def info(self):
        """The user as authentication.k8s.io UserInfo."""
        info = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


@dataclass
class Attributes:
    """What a request asks to do, as the authorizer sees it."""

    user: User
    verb: str
    path: str = ""
    resource_request: bool = False
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def request_attributes(user, method, path, query):
    """Attributes of an HTTP request, parsed like the API server's RequestInfoFactory: paths under
    /api/v1 and /apis/<group>/<version> with a resource are resource requests, everything
    else (discovery, /openapi, /sandbox) is a non-resource request whose verb is the HTTP method."""
    attrs = Attributes(user, method.lower(), path)
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return attrs
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return attrs
        attrs.group, rest = rest[0], rest[1:]
    attrs.version, rest = rest[0], rest[1:]
    attrs.resource_request = True
    attrs.verb = {
        "POST": "create",
        "GET": "get",
        "HEAD": "get",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
    }.get(method, "")
    if rest and rest[0] == "watch" and len(rest) > 1:  # the old /api/v1/watch/... form
        attrs.verb, rest = "watch", rest[1:]
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        attrs.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if len(rest) >= 3:
        attrs.subresource = rest[2]
    if len(rest) >= 2:
        attrs.name = rest[1]
    if rest:
        attrs.resource = rest[0]
    if not attrs.name and attrs.verb == "get":
        attrs.verb = "watch" if str(query.get("watch", "")).lower() not in ("", "false", "0") else "list"
        attrs.name = _exact_name(query.get("fieldSelector", ""))
    if not attrs.name and attrs.verb == "delete":
        attrs.verb = "deletecollection"
    return attrs


def _exact_name(selector):
    """metadata.name=<x> in a field selector names the object a list or watch is about."""
    for term in (selector or "").split(","):
        key, _, value = term.partition("=")
        if key.strip() == "metadata.name" and not key.endswith("!") and value.lstrip("=").strip():
            return value.lstrip("=").strip()
    return ""


def forbidden(attrs, reason=""):
    """403 in the words of the API server's authorization filter."""
    user = attrs.user.name if attrs.user else ""
    if attrs.resource_request:
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        text = f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}" {scope}'
    else:
        text = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    if reason:
        text += f": {reason}"
    if not attrs.resource_request:
        return ApiError(403, "Forbidden", f"forbidden: {text}", {})
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    what = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.group), ("kind", attrs.resource)) if v}
    return ApiError(403, "Forbidden", f"{what} is forbidden: {text}", details)


class PlainError(Exception):
    """An error the API server answers in plain text rather than a Status (its filters' internal errors)."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code, self.text = code, text


# --- impersonation ------------------------------------------------------------------------------


def _header_values(headers, name):
    get_all = getattr(headers, "get_all", None)
    values = get_all(name) if get_all else ([headers[name]] if headers.get(name) else [])
    return [v for v in values or [] if v]


def impersonation_requests(headers):
    """What the Impersonate-* headers ask for, in the API server's order: [(kind, namespace, name, key)]."""
    requests = []
    user = headers.get("Impersonate-User") or ""
    if user:
        ns, _, sa = user[len(SA_PREFIX) :].partition(":") if user.startswith(SA_PREFIX) else ("", "", "")
        if ns and sa and ":" not in sa:
            requests.append(("ServiceAccount", ns, sa, ""))
        else:
            requests.append(("User", "", user, ""))
    requests += [("Group", "", group, "") for group in _header_values(headers, "Impersonate-Group")]
    for header in sorted({h for h in headers.keys() if h.lower().startswith("impersonate-extra-")}):
        key = unquote(header[len("Impersonate-Extra-") :].lower())
        requests += [("UserExtra", "", value, key) for value in _header_values(headers, header)]
    uid = headers.get("Impersonate-Uid") or ""
    if uid:
        requests.append(("UID", "", uid, ""))
    return requests


def impersonate(requester, headers, authorize, uri):
    """The user a request acts as: the requester, or whom it impersonates once the requester may
    (verb `impersonate` on users / serviceaccounts / groups / userextras / uids)."""
    requests = impersonation_requests(headers)
    if not requests:
        return requester
    if requests[0][0] not in ("User", "ServiceAccount"):
        # the real filter answers this with a plain-text internal error
        refs = " ".join(_object_reference(r) for r in requests)
        raise PlainError(500, f'Internal Server Error: "{uri}": requested [{refs}] without impersonating a user')
    name, groups, uid, extra = "", [], "", {}
    groups_given = any(kind == "Group" for kind, *_ in requests)
    for kind, namespace, value, key in requests:
        attrs = Attributes(requester, "impersonate", resource_request=True, namespace=namespace, name=value)
        if kind == "ServiceAccount":
            attrs.resource = "serviceaccounts"
            name = f"{SA_PREFIX}{namespace}:{value}"
            if not groups_given:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
        elif kind == "User":
            attrs.resource, name = "users", value
        elif kind == "Group":
            attrs.resource = "groups"
            groups.append(value)
        elif kind == "UserExtra":
            attrs.group, attrs.resource, attrs.subresource = AUTHN_GROUP, "userextras", key
            extra.setdefault(key, []).append(value)
        else:
            attrs.group, attrs.resource, uid = AUTHN_GROUP, "uids", value
        allowed, reason = authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
    if name != ANONYMOUS and AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    elif name == ANONYMOUS and UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    return User(name, tuple(groups), uid, {k: tuple(v) for k, v in extra.items()}, impersonator=requester)


def _object_reference(request):
    """How Go prints the ObjectReference behind an impersonation request (%v)."""
    kind, namespace, name, key = request
    api_version = "authentication.k8s.io/v1" if kind in ("UserExtra", "UID") else ""
    return "{" + " ".join([kind, namespace, name, "", api_version, "", key]) + "}"


# --- audit --------------------------------------------------------------------------------------


class AuditLog:
    """The last `size` authenticated requests, newest last: who sent each (user), whom it acted as
    (impersonatedUser), what it did and the answer's status code; auditID is the response's Audit-Id header."""

    def __init__(self, size=10_000):
        self.events = deque(maxlen=size)
        self.lock = threading.Lock()

    def record(self, user, attrs, code, uri, audit_id=""):
        requester = user.impersonator or user
        event = {
            "auditID": audit_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "user": requester.name,
            "impersonatedUser": user.name if user.impersonator else None,
            "groups": list(user.groups),
            "verb": attrs.verb if attrs else "",
            "apiGroup": attrs.group if attrs else "",
            "resource": attrs.resource if attrs else "",
            "subresource": attrs.subresource if attrs else "",
            "namespace": attrs.namespace if attrs else "",
            "name": attrs.name if attrs else "",
            "uri": uri,
            "code": code,
        }
        with self.lock:
            self.events.append(event)

    def query(self, limit=None, **match):
        """Events whose fields equal every given value (user="alice", verb="create", ...), oldest first."""
        with self.lock:
            events = list(self.events)
        found = [dict(e) for e in events if all(e.get(k) == v for k, v in match.items())]
        return found[-int(limit) :] if limit else found

    def clear(self):
        with self.lock:
            self.events.clear()
