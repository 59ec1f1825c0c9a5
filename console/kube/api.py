"""Acting on a cluster: get, list, apply, patch, scale and delete objects, as the console
itself or on behalf of a person (Kubernetes impersonation), so the cluster's own RBAC
and audit see who really acts.

The read side for pages is the resource mirror; this is for writes and for the reads a
write needs to be exact (current replicas before scaling, say).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import urllib3
from django.utils.translation import gettext as _
from kubernetes.client.rest import RESTResponse
from urllib3 import HTTPHeaderDict

from console import crypto
from console.kube.config import parse_kubeconfig
from console.kube.connection import INTERACTIVE_TIMEOUT, Query, Timeout, api_client
from console.kube.errors import ApiRefused, ClusterError, refused, translate_errors
from console.kube.kinds import KINDS, Kind
from console.kube.streams import ExecStream, StreamRefused, open_websocket

if TYPE_CHECKING:
    from console.clusters.models import Cluster

FIELD_MANAGER = "caas-console"

Object = dict[str, Any]  # a Kubernetes object or Status as JSON
# Aliases, not `list[...]` in the class: its method `list` would shadow the builtin there.
Objects = list[Object]
Checks = list[tuple[str, bool]]  # health checks: [(name, ok)]


@dataclass(frozen=True)
class Identity:
    """Whom the cluster should see: None user = the console's own credentials."""

    user: str | None = None
    groups: tuple[str, ...] = ()


CONSOLE = Identity()


class ClusterAPI:
    def __init__(self, cluster: "Cluster", identity: Identity = CONSOLE) -> None:
        data = parse_kubeconfig(crypto.decrypt(cluster.kubeconfig_encrypted))
        self.cluster = cluster
        self.identity = identity
        self.api = api_client(data, cluster.context)

    def __enter__(self) -> "ClusterAPI":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()

    # --- objects

    def get(self, kind: str, name: str, namespace: str = "") -> Object | None:
        try:
            return self._request("GET", KINDS[kind].object_path(name, namespace))
        except ApiRefused as exc:
            if exc.status == 404:
                return None
            raise

    def list(
        self, kind: str, namespace: str = "", label_selector: str = "", field_selector: str = "", limit: int = 0
    ) -> Objects:
        """The items (in every namespace without `namespace`); with `limit`, only the first page of that many
        (a bounded read for a page view)."""
        path = KINDS[kind].collection_path(namespace or None)
        query = [
            (key, value)
            for key, value in (("labelSelector", label_selector), ("fieldSelector", field_selector))
            if value
        ]
        if limit:
            query.append(("limit", str(int(limit))))
        return self._request("GET", path, query).get("items", [])

    def apply(self, obj: Object, dry_run: bool = False) -> Object:
        """Server-side apply (forced: the console owns the fields it sets)."""
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")] + ([("dryRun", "All")] if dry_run else [])
        return self._request("PATCH", self._path_of(obj), query, body=obj, content_type="application/apply-patch+yaml")

    def replace(self, obj: Object, dry_run: bool = False) -> Object:
        """PUT the whole object (`kubectl replace`): fields left out are removed, and the
        metadata.resourceVersion sent is a precondition (409 Conflict when it moved on)."""
        query = [("fieldManager", FIELD_MANAGER)] + ([("dryRun", "All")] if dry_run else [])
        return self._request("PUT", self._path_of(obj), query, body=obj)

    def patch(self, kind: str, name: str, namespace: str, body: Object, subresource: str = "") -> Object:
        """A JSON merge patch, of the object or of one of its subresources."""
        info = KINDS[kind]
        path = info.subresource_path(name, namespace, subresource) if subresource else info.object_path(name, namespace)
        return self._request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def json_patch(self, kind: str, name: str, namespace: str, operations: Objects, dry_run: bool = False) -> Object:
        """RFC 6902 operations, applied atomically (a failed "test" refuses them all). Replacing
        a whole field (a pod template, as `kubectl rollout undo` does) also drops what other
        field managers set inside it, which server-side apply leaves in place."""
        query = [("dryRun", "All")] if dry_run else []
        return self._request(
            "PATCH",
            KINDS[kind].object_path(name, namespace),
            query,
            body=operations,
            content_type="application/json-patch+json",
        )

    def scale(self, kind: str, name: str, namespace: str, replicas: int) -> Object:
        return self.patch(kind, name, namespace, {"spec": {"replicas": int(replicas)}}, subresource="scale")

    def delete(self, kind: str, name: str, namespace: str = "", propagation: str = "Background") -> bool:
        """True when the API server took the deletion, False when the object was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self._request("DELETE", KINDS[kind].object_path(name, namespace), body=body)
        except ApiRefused as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- pods

    def pod_log(self, name: str, namespace: str, container: str = "", tail_lines: int = 200) -> str:
        """The last lines of a pod's log, as text."""
        query = [("tailLines", str(tail_lines))] + ([("container", container)] if container else [])
        path = KINDS["Pod"].subresource_path(name, namespace, "log")
        return translate_errors(lambda: self._open("GET", path, query).read().decode(errors="replace"))

    def follow_pod_log(
        self,
        name: str,
        namespace: str,
        container: str = "",
        tail_lines: int = 200,
        since_time: str = "",
        timestamps: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """Follow a pod's log (`follow=true`): the open urllib3 response, sending lines as the
        container writes them. Read it with read1(); response.shutdown() ends a blocked read.
        There is no read timeout: a quiet container may say nothing for a long time.
        since_time: RFC 3339 (whole seconds, as the API server reads it); timestamps: each line
        starts with the moment the runtime took it (RFC 3339 with nanoseconds) and a space."""
        query = [("follow", "true"), ("tailLines", str(tail_lines))] + ([("container", container)] if container else [])
        if since_time:
            query.append(("sinceTime", since_time))
        if timestamps:
            query.append(("timestamps", "true"))
        path = KINDS["Pod"].subresource_path(name, namespace, "log")
        timeout = (INTERACTIVE_TIMEOUT[0], None)
        return translate_errors(lambda: self._open("GET", path, query, timeout=timeout).response)

    def exec(
        self, name: str, namespace: str, container: str, command: Sequence[str], tty: bool = True, stdin: bool = True
    ) -> ExecStream:
        """Start `command` in a container (pods/exec over websocket, as kubectl does): an
        ExecStream to write its stdin and read its output and exit status."""
        query = [
            ("container", container),
            ("stdout", "true"),
            ("stderr", "false" if tty else "true"),
            ("stdin", "true" if stdin else "false"),
            ("tty", "true" if tty else "false"),
        ]
        query += [("command", c) for c in command]
        path = KINDS["Pod"].subresource_path(name, namespace, "exec")
        try:
            ws = open_websocket(self.api, path, query, ExecStream.PROTOCOLS, self._impersonation())
        except StreamRefused as exc:
            error = refused(exc.status, exc.body)
            raise (ClusterError("unauthorized") if exc.status == 401 else error) from None
        return ExecStream(ws)

    # --- access

    def access_review(self, verb: str, group: str, resource: str, subresource: str = "", namespace: str = "") -> bool:
        """Whether this identity may do `verb` (SelfSubjectAccessReview, `kubectl auth can-i`);
        namespace "" means in every namespace."""
        attributes = {
            "verb": verb,
            "group": group,
            "resource": resource,
            "subresource": subresource,
            "namespace": namespace,
        }
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        answer = self._request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        return bool((answer.get("status") or {}).get("allowed"))

    # --- discovery

    def has_api_group(self, group: str) -> bool:
        groups = self._request("GET", "/apis").get("groups", [])
        return any(item.get("name") == group for item in groups)

    # --- monitoring reads (metrics.k8s.io, kubelet stats through the node proxy, health checks)

    def read_path(self, path: str, query: Query | None = None, timeout: Timeout | None = None) -> Object:
        """GET a read-only API path as JSON: /apis/metrics.k8s.io/v1beta1/nodes,
        /api/v1/nodes/<node>/proxy/stats/summary, ..."""
        return self._request("GET", path, query, timeout=timeout)

    def health_checks(self, endpoint: str, timeout: Timeout | None = None) -> Checks:
        """The API server's named checks from /readyz?verbose or /livez?verbose as [(name, ok)].
        A failing check answers 500 with the same list, which is read, not raised."""
        if endpoint not in ("readyz", "livez"):
            raise ValueError(endpoint)

        def call():
            method_, url, headers, _body, _post = self.api.param_serialize(
                "GET", f"/{endpoint}", query_params=[("verbose", "true")], auth_settings=["BearerToken"]
            )
            response = self.api.call_api(method_, url, header_params=headers, _request_timeout=timeout)
            return response.status, response.read().decode(errors="replace")

        status, text = translate_errors(call)
        if status not in (200, 500):
            raise refused(status, text.encode())
        checks = [
            (line[3:].split(" ")[0], line.startswith("[+]"))
            for line in (raw.strip() for raw in text.splitlines())
            if line.startswith(("[+]", "[-]"))
        ]
        return checks or [(endpoint, status == 200)]

    def kind_of(self, obj: Object) -> Kind:
        """The kind of an object the console is to send, which must be one it knows at that apiVersion."""
        kind = KINDS.get(obj.get("kind", ""))
        if kind is None or kind.api_version != obj.get("apiVersion"):
            raise ApiRefused(
                400,
                "BadRequest",
                _("the console does not handle %(kind)s") % {"kind": f"{obj.get('apiVersion')}/{obj.get('kind')}"},
            )
        return kind

    # --- transport

    def _path_of(self, obj: Object) -> str:
        meta = obj.get("metadata") or {}
        return self.kind_of(obj).object_path(meta.get("name", ""), meta.get("namespace", ""))

    def _impersonation(self) -> Query:
        """Impersonate-* headers for a person; none for the console itself. One header line per
        group, as Kubernetes reads them (not comma-joined)."""
        if not self.identity.user:
            return []
        return [("Impersonate-User", self.identity.user)] + [("Impersonate-Group", g) for g in self.identity.groups]

    def _request(self, method: str, path: str, query: Query | None = None, **options: Any) -> Object:
        """JSON in, JSON out (`options`: _open's body and content_type). Transport failures and
        401 become ClusterError; every other refusal (403 from RBAC or quota included) is an
        ApiRefused in the cluster's own words."""

        def call():
            data = self._open(method, path, query, accept="application/json", **options).read()
            return json.loads(data) if data else {}

        return translate_errors(call)

    def _open(
        self,
        method: str,
        path: str,
        query: Query | None = None,
        body: object = None,
        content_type: str = "application/json",
        timeout: Timeout | None = None,
        accept: str | None = None,
    ) -> RESTResponse:
        """Send a request as `self.identity`; the response, not read yet. Without a timeout,
        connection.request_timeout()'s (short for page views)."""
        method_, url, headers, _body, _post = self.api.param_serialize(
            method, path, query_params=query or [], auth_settings=["BearerToken"]
        )
        headers = HTTPHeaderDict(headers)
        if accept:
            headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = content_type
        for header, value in self._impersonation():
            headers.add(header, value)
        # The client serialises dict bodies as JSON for JSON and YAML content types alike.
        response = self.api.call_api(method_, url, header_params=headers, body=body, _request_timeout=timeout)
        if response.status >= 300:  # redirects are not followed: one is a refusal too
            raise refused(response.status, response.read())
        return response


def log_lines(response: urllib3.BaseHTTPResponse, longest: int, reading=lambda: True):
    """The lines of a followed pod log (follow_pod_log) as they arrive: a list of whole lines
    (bytes, no newline) per read. A line still without its end past `longest` bytes is given
    as it is. Stops when the stream ends or reading() says no more."""
    rest = b""
    while reading():
        data = response.read1(65536)
        if not data:
            break
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        if len(rest) > longest:
            lines.append(rest)
            rest = b""
        yield lines
    if rest and reading():
        yield [rest]
