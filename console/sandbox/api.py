"""Kubernetes REST semantics over the store: discovery, CRUD, the four patch flavours,
dry runs, delete options, subresources (status, scale, log, eviction, binding),
Table output, metrics and watch streams. HTTP framing lives in server.py."""

import copy
import json
import time
from urllib.parse import parse_qs

import yaml

from . import managedfields, openapi, podsecurity, protobuf, remotecommand, reviews, tables, versions
from . import patch as patching
from .auth import forbidden
from .errors import ApiError, Expired, bad_request, method_not_allowed, not_found
from .kinds import BY_PATH, CONVERTED, GROUPS, RESOURCES, SCALABLE
from .responses import Response
from .selectors import field_matcher, label_matcher, selector_string
from .store import now_iso

VERSION = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.0-sandbox",
    "gitCommit": "sandbox",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "go1.25.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
READYZ_CHECKS = [
    "ping",
    "log",
    "etcd",
    "etcd-readiness",
    "informer-sync",
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/rbac/bootstrap-roles",
    "shutdown",
]
LIVEZ_CHECKS = [
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/rbac/bootstrap-roles",
]
SUBRESOURCE_KINDS = {
    "scale": ("autoscaling", "v1", "Scale", ["get", "patch", "update"]),
    "eviction": ("policy", "v1", "Eviction", ["create"]),
    "binding": ("", "v1", "Binding", ["create"]),
    "log": ("", "v1", "Pod", ["get"]),
    "status": (None, None, None, ["get", "patch", "update"]),
    "exec": ("", "v1", "PodExecOptions", ["create", "get"]),
    "attach": ("", "v1", "PodAttachOptions", ["create", "get"]),
}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


class Request:
    """What the API layer needs from an HTTP request."""

    def __init__(self, method, path, query_string, headers, read_body, user=None, attrs=None):
        self.method, self.path, self.headers, self._read_body, self.user = method, path, headers, read_body, user
        self.attrs = attrs  # what the authorizer judges (auth.Attributes); None on public paths
        self.query = {k: v[-1] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        self.query_string = query_string  # pods/exec repeats `command`
        self._body = None

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def raw(self):
        if self._body is None:
            self._body = self._read_body()
        return self._body

    def body(self):
        if "protobuf" in self.content_type:
            try:  # kubectl's typed commands send built-in kinds in protobuf; custom resources come as JSON or YAML
                obj = protobuf.decode(self.raw())
            except (protobuf.Undecodable, UnicodeDecodeError) as exc:
                raise bad_request(f"the object provided is unrecognized (must be of type protobuf): {exc}") from None
            if obj is not None:
                return obj
        if "protobuf" in self.content_type or "cbor" in self.content_type:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml",
            )
        raw = self.raw()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            if "yaml" in self.content_type:
                try:
                    return yaml.safe_load(raw)
                except yaml.YAMLError as exc:
                    raise bad_request(f"error converting YAML to JSON: {exc}") from None
            raise bad_request(
                "the object provided is unrecognized (must be of type JSON): invalid character in body"
            ) from None


def parse_resource_path(path):
    """(group, version, namespace, plural, name, subresource) or None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return group, version, namespace, plural, name, sub


def truthy(value):
    return str(value).lower() in ("1", "true", "yes")


class Api:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store

    # --- health and kubelet stats

    def health(self, endpoint, path, query):
        """/livez, /readyz (and /healthz) as kube-apiserver answers them: "ok", or with ?verbose
        each named check; a failing check (knob set_component_health) makes the answer a 500
        listing every check, and /<endpoint>/<check> answers for one check."""
        checks = LIVEZ_CHECKS if endpoint in ("livez", "healthz") else READYZ_CHECKS
        failing = self.cluster.metrics.failing_checks
        sub = path[len(endpoint) + 2 :]
        if sub:
            if sub not in checks:
                return Response(404, text="404 page not found\n")
            if sub in failing:
                return Response(500, text=f"internal server error: {failing[sub]}\n")
            return Response(text="ok")
        bad = [c for c in checks if c in failing]
        if not bad and "verbose" not in query:
            return Response(text="ok")
        lines = "".join(f"[-]{c} failed: reason withheld\n" if c in failing else f"[+]{c} ok\n" for c in checks)
        if bad:
            return Response(500, text=f"{lines}{endpoint} check failed\n")
        return Response(text=f"{lines}{endpoint} check passed\n")

    def stats_summary(self, node):
        """The kubelet's /stats/summary through the API server's node proxy."""
        summary = self.cluster.metrics.stats_summary(node) if node and "/" not in node else None
        if summary is None:
            raise not_found(BY_PATH[("", "v1", "nodes")], node)
        return Response(body=summary)

    # --- entry point

    def handle(self, req):
        path = req.path.rstrip("/") or "/"
        for endpoint in ("healthz", "livez", "readyz"):
            if path == f"/{endpoint}" or path.startswith(f"/{endpoint}/"):
                return self.health(endpoint, path, req.query)
        if path == "/version":
            return Response(body=VERSION)
        if req.attrs is not None:  # RBAC decides before anything else is looked at, as on a real API server
            allowed, reason = self.cluster.rbac.authorize(req.attrs)
            if not allowed:
                raise forbidden(req.attrs, reason)
        if path.startswith("/api/v1/nodes/") and path.endswith("/proxy/stats/summary"):
            return self.stats_summary(path[len("/api/v1/nodes/") : -len("/proxy/stats/summary")])
        if path.startswith("/apis/metrics.k8s.io/") and not self.cluster.metrics.available:
            # kube-aggregator's answer for an APIService whose backend is gone (plain text; /apis
            # and /apis/metrics.k8s.io are served by the aggregator itself and still list it)
            return Response(503, text="service unavailable\n")
        if path.startswith("/sandbox/v1"):
            arguments = req.body() if req.method != "GET" else dict(req.query)
            return Response(body=self.cluster.knobs_http(req.method, path[len("/sandbox/v1") :].strip("/"), arguments))
        if path == "/api":
            return Response(
                body={
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.cluster.port}"}
                    ],
                }
            )
        groups = self.groups()
        if path == "/apis":
            return Response(
                body={
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [api_group(g, versions) for g, versions in groups.items() if g],
                }
            )
        if path.startswith("/openapi/v3"):
            return self.openapi(path)
        if path.startswith("/openapi/v2") or path == "/swagger.json":
            raise not_found_path()
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"] and len(parts) == 2:
            return Response(body=self.resource_list("", "v1"))
        if parts and parts[0] == "apis" and len(parts) in (2, 3):
            group = parts[1]
            if not group or group not in groups or (len(parts) == 3 and parts[2] not in groups[group]):
                raise not_found_path()
            if len(parts) == 2:
                return Response(body={"kind": "APIGroup", "apiVersion": "v1", **api_group(group, groups[group])})
            return Response(body=self.resource_list(group, parts[2]))
        parsed = parse_resource_path(path)
        if not parsed:
            raise not_found_path()
        group, version, namespace, plural, name, sub = parsed
        resource = self.lookup(group, version, plural)
        if (
            resource is None
            or (namespace is not None and not resource.namespaced)
            or (sub and sub not in resource.subresources)
            or (resource.namespaced and name and namespace is None)
        ):
            raise not_found_path()
        if versions.converts(resource):
            return versions.call(self, req, resource, namespace or "", name, sub)
        return self.resource_call(req, resource, namespace or "", name, sub)

    # --- what is served: the built-in kinds and those of CustomResourceDefinitions

    def resources(self):
        return RESOURCES + CONVERTED + self.cluster.crds.served()

    def lookup(self, group, version, plural):
        return BY_PATH.get((group, version, plural)) or self.cluster.crds.lookup(group, version, plural)

    def groups(self):
        """{group: [versions], preferred first}: built-in groups, then custom ones."""
        groups = {g: [v] for g, v in GROUPS.items()}
        for r in CONVERTED:
            groups[r.group].append(r.version)
        for group, custom in self.cluster.crds.versions().items():
            groups.setdefault(group, custom)
        return groups

    def openapi(self, path):
        resources = self.resources()
        if path == "/openapi/v3":
            return Response(body=openapi.root(resources))
        rest = path[len("/openapi/v3/") :].split("/")
        if rest[:2] == ["api", "v1"] and len(rest) == 2:
            return Response(body=openapi.document(resources, "", "v1"))
        if len(rest) == 3 and rest[0] == "apis" and (rest[1], rest[2]) in openapi.group_versions(resources):
            return Response(body=openapi.document(resources, rest[1], rest[2]))
        raise not_found_path()

    def resource_list(self, group, version):
        resources = []
        for r in self.resources():
            if r.group != group or r.version != version:
                continue
            entry = {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            if r.short_names:
                entry["shortNames"] = list(r.short_names)
            if r.categories:
                entry["categories"] = list(r.categories)
            resources.append(entry)
            for sub in r.subresources:
                sub_group, sub_version, sub_kind, verbs = SUBRESOURCE_KINDS[sub]
                item = {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": sub_kind or r.kind,
                    "verbs": verbs,
                }
                if sub_group is not None and (sub_group, sub_version) != (group, version):
                    item["group"], item["version"] = sub_group, sub_version
                resources.append(item)
        if not resources:
            raise not_found_path()
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # --- resources

    def verb_of(self, req, name, sub):
        method = req.method
        if method == "GET":
            if name is None:
                return "watch" if truthy(req.query.get("watch")) else "list"
            return "get"
        return {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(method, method.lower())

    def resource_call(self, req, resource, namespace, name, sub):
        verb = self.verb_of(req, name, sub)
        if verb not in resource.verbs and not sub:
            raise method_not_allowed()
        if not resource.stored:
            if resource.group in ("authorization.k8s.io", "authentication.k8s.io"):
                return Response(201, reviews.answer(self.cluster, req.user, resource, namespace, req.body()))
            return self.metrics(req, resource, namespace, name, verb)
        query = req.query
        dry_run = query.get("dryRun") == "All"
        table = "as=Table" in (req.headers.get("Accept") or "")
        if verb == "watch":
            return self.watch(req, resource, namespace, table)
        if verb == "list":
            return self.list(req, resource, namespace, table)
        if sub in ("exec", "attach"):
            return remotecommand.respond(self.cluster, req, namespace, name, sub)
        if sub == "log":
            if req.method != "GET":
                raise method_not_allowed()
            return self.cluster.logs.respond(
                self.store.get_ref(resource, namespace, name) or _raise(not_found(resource, name)), query
            )
        if sub == "scale":
            return self.scale(req, resource, namespace, name)
        if sub == "eviction":
            return self.evict(req, resource, namespace, name)
        if sub == "binding":
            return self.bind(req, resource, namespace, name)
        if verb == "get":
            obj = self.store.get_ref(resource, namespace, name)
            if obj is None:
                raise not_found(resource, name)
            if table:
                return Response(
                    body=tables.table(
                        resource.key,
                        [obj],
                        obj["metadata"]["resourceVersion"],
                        query.get("includeObject", "Object") == "Object",
                    )
                )
            return Response(body=obj)
        if verb in ("create", "update", "patch"):
            if verb == "create" and name:
                raise method_not_allowed()
            return self.write(req, verb, resource, namespace, name, sub, dry_run)
        if verb == "delete":
            return self.delete(req, resource, namespace, name, dry_run)
        if verb == "deletecollection":
            return self.delete_collection(req, resource, namespace, dry_run)
        raise method_not_allowed()

    def manager(self, req, default_suffix=""):
        manager = req.query.get("fieldManager")
        if manager:
            return manager
        agent = (req.headers.get("User-Agent") or "unknown").split("/")[0]
        return agent + default_suffix

    def apply_manager(self, req):
        """The field manager of a server-side apply, which has no default."""
        manager = req.query.get("fieldManager")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            )
        return manager

    def check_body(self, resource, namespace, body):
        if not isinstance(body, dict):
            raise bad_request(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml"
            )
        kind = body.get("kind")
        if kind and kind != resource.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
        body_ns = (body.get("metadata") or {}).get("namespace") if isinstance(body.get("metadata"), dict) else None
        if resource.namespaced and body_ns and body_ns != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")

    def write(self, req, verb, resource, namespace, name, sub, dry_run):
        """create, update or patch; admission's warnings about the object (Pod Security's)
        come back in a `Warning` header, as kubectl prints them. Subresources draw none."""
        if sub:
            return (
                self.update(req, resource, namespace, name, sub, dry_run)
                if verb == "update"
                else self.patch(req, resource, namespace, name, sub, dry_run)
            )
        with podsecurity.collecting_warnings() as warnings:
            if verb == "create":
                response = self.create(req, resource, namespace, dry_run)
            elif verb == "update":
                response = self.update(req, resource, namespace, name, sub, dry_run)
            else:
                response = self.patch(req, resource, namespace, name, sub, dry_run)
        if warnings:
            response.headers["Warning"] = podsecurity.warning_header(warnings)
        return response

    def create(self, req, resource, namespace, dry_run):
        body = req.body()
        self.check_body(resource, namespace, body)
        self.cluster.rbac.check_escalation(req.user, resource, namespace, body)
        obj = self.store.create(resource, namespace, body, dry_run=dry_run, manager=self.manager(req))
        return Response(201, obj)

    def update(self, req, resource, namespace, name, sub, dry_run):
        body = req.body()
        if sub not in (None, "status"):
            raise method_not_allowed()
        self.check_body(resource, namespace, body)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise bad_request(f"the name of the object ({body_name}) does not match the name on the URL ({name})")
        self.cluster.rbac.check_escalation(req.user, resource, namespace, body)
        obj = self.store.update(
            resource, namespace, name, body, status_only=sub == "status", dry_run=dry_run, manager=self.manager(req)
        )
        return Response(200, obj)

    def apply_patch(self, req, current, resource, sub):
        """The patched object (a new dict) for the request's patch type."""
        ctype = req.content_type
        body = req.body()
        if ctype == "application/apply-patch+yaml":
            manager = self.apply_manager(req)
            if not isinstance(body, dict):
                raise bad_request("error decoding YAML: the apply configuration must be an object")
            return managedfields.apply(
                managedfields.schema(self.store, resource),
                resource,
                current,
                body,
                manager,
                truthy(req.query.get("force")),
                now_iso(),
                sub or "",
            )
        if "force" in req.query:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
            )
        if ctype == "application/json-patch+json":
            return patching.json_patch(current, body if body is not None else [])
        if not isinstance(body, dict):
            raise bad_request(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )
        if ctype == "application/merge-patch+json":
            return patching.merge_patch(current, body)
        if ctype == "application/strategic-merge-patch+json":
            return patching.strategic_merge(current, body)
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types "
            "include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
            "application/strategic-merge-patch+json",
        )

    def patch(self, req, resource, namespace, name, sub, dry_run):
        if sub not in (None, "status"):
            raise method_not_allowed()
        store = self.store
        with store.lock:
            current = store.get_ref(resource, namespace, name)
            if current is None:
                if req.content_type == "application/apply-patch+yaml" and sub is None:  # apply creates
                    body = req.body()
                    self.check_body(resource, namespace, body)
                    body.setdefault("metadata", {})["name"] = name
                    self.cluster.rbac.check_escalation(req.user, resource, namespace, body)
                    obj = store.create(
                        resource,
                        namespace,
                        body,
                        dry_run=dry_run,
                        apply_manager=self.apply_manager(req),
                        force=truthy(req.query.get("force")),
                    )
                    return Response(201, obj)
                raise not_found(resource, name)
            patched = self.apply_patch(req, copy.deepcopy(current), resource, sub)
            if not isinstance(patched, dict):
                raise ApiError(422, "Invalid", f'{resource.kind} "{name}" is invalid: the patch produced no object')
            meta = patched.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise ApiError(422, "Invalid", f'{resource.kind} "{name}" is invalid: metadata: Invalid value')
            if meta.get("name") not in (None, name):
                raise bad_request(
                    f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
                )
            meta["name"] = name
            if meta.get("resourceVersion") in (None, ""):
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            for key in ("labels", "annotations"):  # kubectl's apply and diff patches send {}: omitempty in Go drops it
                if meta.get(key) == {}:
                    del meta[key]
            self.cluster.rbac.check_escalation(req.user, resource, namespace, patched)
            if req.content_type == "application/apply-patch+yaml":  # the apply worked out managedFields itself
                ownership = {"managed_fields": meta.get("managedFields", [])}
            else:
                ownership = {"manager": self.manager(req)}
            obj = store.update(
                resource, namespace, name, patched, status_only=sub == "status", dry_run=dry_run, **ownership
            )
            return Response(200, obj)

    def delete_options(self, req):
        options = {}
        if req.method == "DELETE":
            try:
                options = req.body() or {}
            except ApiError:
                options = {}
        query = req.query
        propagation = query.get("propagationPolicy") or options.get("propagationPolicy")
        if not propagation and (options.get("orphanDependents") is True or truthy(query.get("orphanDependents", ""))):
            propagation = "Orphan"
        if propagation and propagation not in ("Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{propagation}": supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        grace = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        dry = query.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        return propagation, (int(grace) if grace not in (None, "") else None), dry, options.get("preconditions") or {}

    def delete(self, req, resource, namespace, name, dry_run):
        propagation, grace, dry, preconditions = self.delete_options(req)
        with self.store.lock:
            obj = self.store.delete(resource, namespace, name, propagation, dry_run or dry, grace, preconditions)
            still_there = self.store.exists(resource, namespace, name) and not (dry_run or dry)
        if still_there:
            return Response(202 if resource.plural != "pods" else 200, obj)
        if resource.plural == "pods" or dry_run or dry:
            return Response(200, obj)
        return Response(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": name,
                    "group": resource.group,
                    "kind": resource.plural,
                    "uid": obj["metadata"].get("uid"),
                },
            },
        )

    def delete_collection(self, req, resource, namespace, dry_run):
        propagation, grace, dry, _ = self.delete_options(req)
        items, rv, _, _ = self.store.list_refs(
            resource, namespace, req.query.get("labelSelector", ""), req.query.get("fieldSelector", "")
        )
        deleted = []
        for obj in items:
            try:
                deleted.append(
                    self.store.delete(
                        resource,
                        obj["metadata"].get("namespace", ""),
                        obj["metadata"]["name"],
                        propagation,
                        dry_run or dry,
                        grace,
                    )
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return Response(
            200,
            {
                "kind": resource.kind + "List",
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": deleted,
            },
        )

    def list(self, req, resource, namespace, table):
        query = req.query
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise bad_request(f"invalid limit: {query.get('limit')}") from None
        items, rv, token, remaining = self.store.list_refs(
            resource,
            namespace,
            query.get("labelSelector", ""),
            query.get("fieldSelector", ""),
            max(0, limit),
            query.get("continue", ""),
        )
        if table:
            return Response(
                body=tables.table(resource.key, items, rv, query.get("includeObject", "Object") == "Object", token)
            )
        meta = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        return Response(
            body={"kind": resource.kind + "List", "apiVersion": resource.api_version, "metadata": meta, "items": items}
        )

    # --- subresources

    def scale_of(self, resource, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector_string(spec.get("selector"))},
        }

    def scale(self, req, resource, namespace, name):
        if resource.plural not in SCALABLE:
            raise not_found_path()
        store = self.store
        with store.lock:
            obj = store.get_ref(resource, namespace, name)
            if obj is None:
                raise not_found(resource, name)
            scale = self.scale_of(resource, obj)
            if req.method == "GET":
                return Response(body=scale)
            applied = None
            if req.method == "PUT":
                new_scale = req.body() or {}
            elif req.method == "PATCH" and req.content_type == "application/apply-patch+yaml":
                new_scale = req.body()
                if not isinstance(new_scale, dict):
                    raise bad_request("error decoding YAML: the apply configuration must be an object")
                # applying a Scale is applying the object's spec.replicas, owned with subresource "scale"
                applied = managedfields.apply_scale(
                    managedfields.schema(store, resource),
                    resource,
                    obj,
                    new_scale,
                    self.apply_manager(req),
                    truthy(req.query.get("force")),
                    now_iso(),
                )
                new_scale = {
                    "metadata": new_scale.get("metadata") if isinstance(new_scale.get("metadata"), dict) else {},
                    "spec": {"replicas": (applied.get("spec") or {}).get("replicas", 1)},
                }
            elif req.method == "PATCH":
                new_scale = self.apply_patch(req, copy.deepcopy(scale), resource, "scale")
            else:
                raise method_not_allowed()
            replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
            sent_rv = ((new_scale or {}).get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:  # a PUT's or a patch's precondition
                from .errors import conflict

                raise conflict(resource, name)
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                    "must be greater than or equal to 0",
                    {
                        "name": name,
                        "group": "autoscaling",
                        "kind": "Scale",
                        "causes": [
                            {
                                "reason": "FieldValueInvalid",
                                "message": "must be greater than or equal to 0",
                                "field": "spec.replicas",
                            }
                        ],
                    },
                )
            dry = req.query.get("dryRun") == "All"
            if applied is not None:
                result = store.update(
                    resource,
                    namespace,
                    name,
                    applied,
                    dry_run=dry,
                    managed_fields=applied["metadata"].get("managedFields", []),
                )
            else:
                updated = copy.deepcopy(obj)
                updated["spec"]["replicas"] = replicas
                result = store.update(
                    resource, namespace, name, updated, dry_run=dry, manager=self.manager(req), subresource="scale"
                )
            return Response(body=self.scale_of(resource, result))

    def evict(self, req, resource, namespace, name):
        if req.method != "POST":
            raise method_not_allowed()
        body = req.body() or {}
        options = body.get("deleteOptions") or {}
        grace = options.get("gracePeriodSeconds")
        self.cluster.controllers.check_disruption(namespace, name)
        self.store.delete(resource, namespace, name, "Background", "All" in (options.get("dryRun") or []), grace)
        return Response(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})

    def bind(self, req, resource, namespace, name):
        body = req.body() or {}
        node = (body.get("target") or {}).get("name")
        if not node:
            raise ApiError(422, "Invalid", f'Binding "{name}" is invalid: target.name: Required value')

        def change(pod):
            if pod["spec"].get("nodeName"):
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on pods/binding "{name}": '
                    f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                )
            pod["spec"]["nodeName"] = node

        if self.store.mutate(resource, namespace, name, change) is None:
            raise not_found(resource, name)
        return Response(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})

    # --- metrics.k8s.io

    def metrics(self, req, resource, namespace, name, verb):
        metrics = self.cluster.metrics
        if verb == "get":
            obj = metrics.node(name) if resource.kind == "NodeMetrics" else metrics.pod(namespace, name)
            if obj is None:
                raise not_found(resource, name)
            return Response(body=obj)
        if verb != "list":
            raise method_not_allowed()
        items = metrics.nodes() if resource.kind == "NodeMetrics" else metrics.pods(namespace)
        labels_ok = label_matcher(req.query.get("labelSelector", ""))
        fields_ok = field_matcher(req.query.get("fieldSelector", ""))
        items = [i for i in items if labels_ok(i["metadata"].get("labels")) and fields_ok(i)]
        return Response(
            body={
                "kind": resource.kind + "List",
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": ""},
                "items": items,
            }
        )

    # --- watch

    def watch(self, req, resource, namespace, table):
        query = req.query
        try:
            timeout = float(query.get("timeoutSeconds") or self.cluster.watch_timeout)
        except ValueError:
            raise bad_request("invalid timeoutSeconds") from None
        labels_ok = label_matcher(query.get("labelSelector", ""))
        fields_ok = field_matcher(query.get("fieldSelector", ""), resource.key)
        filtered = bool(query.get("labelSelector") or query.get("fieldSelector"))
        bookmarks = truthy(query.get("allowWatchBookmarks"))
        send_initial = truthy(query.get("sendInitialEvents"))
        store, cluster = self.store, self.cluster
        try:
            sub = store.subscribe(resource, namespace, query.get("resourceVersion", ""), send_initial)
        except Expired as exc:
            return Response(200, stream=iter([json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n"]))

        def matches(obj):
            return obj is not None and labels_ok(obj["metadata"].get("labels")) and fields_ok(obj)

        def encode(event_type, obj, first):
            if table:
                obj = tables.table(
                    resource.key, [obj], obj["metadata"].get("resourceVersion", ""), True, with_columns=first
                )
            return (json.dumps({"type": event_type, "object": obj}, separators=(",", ":")) + "\n").encode()

        def bookmark(rv, initial_end=False):
            meta = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return (
                json.dumps(
                    {
                        "type": "BOOKMARK",
                        "object": {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta},
                    }
                )
                + "\n"
            ).encode()

        def stream():
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            first = True
            initial_pending = send_initial
            try:
                while not cluster.stopping.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    sub.ready.wait(min(remaining, 0.25))
                    with store.lock:
                        batch = list(sub.queue)
                        sub.queue.clear()
                        sub.ready.clear()
                        closed = sub.closed
                        rv_now = store.rv
                    out = []
                    for event in batch:
                        event_type, obj = event.type, event.obj
                        if filtered:
                            now_ok = matches(obj)
                            before_ok = matches(event.old) if event.old is not None else False
                            if event_type == "MODIFIED":
                                if now_ok and not before_ok:
                                    event_type = "ADDED"
                                elif before_ok and not now_ok:
                                    event_type = "DELETED"
                                elif not now_ok:
                                    continue
                            elif event_type == "DELETED":
                                if not (now_ok or before_ok):
                                    continue
                            elif not now_ok:
                                continue
                        if table or event_type != event.type:
                            out.append(encode(event_type, obj, first))
                        else:
                            out.append(event.line())
                        first = False
                    if initial_pending and not sub.queue:
                        initial_pending = False
                        if bookmarks:
                            out.append(bookmark(sub.initial_rv, True))
                    if out:
                        yield b"".join(out)
                    if closed:
                        break
                    if bookmarks and not batch and time.monotonic() - last_bookmark >= cluster.bookmark_seconds:
                        last_bookmark = time.monotonic()
                        yield bookmark(rv_now)
            finally:
                store.unsubscribe(sub)

        return Response(200, stream=stream())


def not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def api_group(group, versions):
    """An APIGroup as discovery lists it."""
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def _raise(exc):
    raise exc
