"""Acting on a cluster: get, list, apply, patch, scale and delete objects, as the console
itself or on behalf of a person (Kubernetes impersonation), so the cluster's own RBAC
and audit see who really acts.

The read side for pages is the resource mirror; this is for writes and for the reads a
write needs to be exact (current replicas before scaling, say).
"""

import json
from dataclasses import dataclass

from django.utils.translation import gettext as _
from kubernetes.client.exceptions import ApiException
from urllib3 import HTTPHeaderDict

from console.clusters import crypto

from console.kube import kube
from console.kube.kube import Kind

FIELD_MANAGER = "caas-console"

KNOWN_KINDS = {k.kind: k for k in kube.MIRRORED_KINDS} | {
    k.kind: k
    for k in [
        Kind("LimitRange", "v1", "limitranges"),
        Kind("Secret", "v1", "secrets"),
        Kind("ServiceAccount", "v1", "serviceaccounts"),
        Kind("Role", "rbac.authorization.k8s.io/v1", "roles"),
        Kind("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
        Kind("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
        Kind("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", namespaced=False),
        Kind("GlobalNetworkPolicy", "crd.projectcalico.org/v1", "globalnetworkpolicies", namespaced=False),
    ]
}


class ApiRefused(Exception):
    """The API server answered with a failure Status (404, 409, 422, 403 exceeded quota, ...).
    `message` is Kubernetes' own text, which is what the user should read."""

    def __init__(self, status, reason, message):
        self.status, self.reason, self.message = status, reason, message
        super().__init__(message)


@dataclass(frozen=True)
class Identity:
    """Whom the cluster should see: None user = the console's own credentials."""

    user: str | None = None
    groups: tuple = ()


CONSOLE = Identity()


class ClusterAPI:
    def __init__(self, cluster, identity=CONSOLE):
        data = kube.parse_kubeconfig(crypto.decrypt(cluster.kubeconfig_encrypted))
        self.cluster = cluster
        self.identity = identity
        self.api = kube.api_client(data, cluster.context)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.api.close()

    # --- objects

    def get(self, kind, name, namespace=""):
        try:
            return self._request("GET", object_path(KNOWN_KINDS[kind], namespace, name))
        except ApiRefused as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind, namespace="", label_selector="", field_selector="", limit=0):
        """The items; with `limit`, only the first page of that many (a bounded read for a page view)."""
        info = KNOWN_KINDS[kind]
        path = collection_path(info, namespace) if namespace else info.path
        query = [(key, value) for key, value in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if value]
        if limit:
            query.append(("limit", str(int(limit))))
        return self._request("GET", path, query).get("items", [])

    def apply(self, obj, dry_run=False):
        """Server-side apply (forced: the console owns the fields it sets)."""
        info = self.kind_of(obj)
        meta = obj.get("metadata") or {}
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")] + ([("dryRun", "All")] if dry_run else [])
        path = object_path(info, meta.get("namespace", ""), meta.get("name", ""))
        return self._request("PATCH", path, query, body=obj, content_type="application/apply-patch+yaml")

    def replace(self, obj, dry_run=False):
        """PUT the whole object (`kubectl replace`): fields left out are removed, and the
        metadata.resourceVersion sent is a precondition (409 Conflict when it moved on)."""
        info = self.kind_of(obj)
        meta = obj.get("metadata") or {}
        query = [("fieldManager", FIELD_MANAGER)] + ([("dryRun", "All")] if dry_run else [])
        return self._request("PUT", object_path(info, meta.get("namespace", ""), meta.get("name", "")), query, body=obj)

    def patch(self, kind, name, namespace, body, subresource=""):
        path = object_path(KNOWN_KINDS[kind], namespace, name) + (f"/{subresource}" if subresource else "")
        return self._request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def scale(self, kind, name, namespace, replicas):
        return self.patch(kind, name, namespace, {"spec": {"replicas": int(replicas)}}, subresource="scale")

    def delete(self, kind, name, namespace="", propagation="Background"):
        """True when the API server took the deletion, False when the object was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self._request("DELETE", object_path(KNOWN_KINDS[kind], namespace, name), body=body)
        except ApiRefused as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- access

    def access_review(self, verb, group, resource, subresource="", namespace=""):
        """Whether this identity may do `verb` (SelfSubjectAccessReview, `kubectl auth can-i`);
        namespace "" means in every namespace."""
        attributes = {"verb": verb, "group": group, "resource": resource, "subresource": subresource, "namespace": namespace}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}
        answer = self._request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        return bool((answer.get("status") or {}).get("allowed"))

    # --- discovery

    def has_api_group(self, group):
        groups = self._request("GET", "/apis").get("groups", [])
        return any(item.get("name") == group for item in groups)

    def kind_of(self, obj):
        kind = KNOWN_KINDS.get(obj.get("kind", ""))
        if kind is None or kind.api_version != obj.get("apiVersion"):
            raise ApiRefused(400, "BadRequest", _("the console does not handle %(kind)s") % {"kind": f"{obj.get('apiVersion')}/{obj.get('kind')}"})
        return kind

    # --- transport

    def _request(self, method, path, query=None, body=None, content_type="application/json"):
        """JSON in, JSON out. Transport failures and 401 become ClusterError; every other
        refusal (403 from RBAC or quota included) is an ApiRefused in the cluster's own words."""

        def call():
            data = self._open(method, path, query, body, content_type, accept="application/json").read()
            return json.loads(data) if data else {}

        return kube.translate_errors(call)

    def _open(self, method, path, query=None, body=None, content_type="application/json", timeout=None, accept=None):
        """Send a request as `self.identity`; the response, not read yet. Without a timeout,
        kube.request_timeout()'s (short for page views)."""
        method_, url, headers, _body, _post = self.api.param_serialize(method, path, query_params=query or [], auth_settings=["BearerToken"])
        headers = HTTPHeaderDict(headers)
        if accept:
            headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = content_type
        if self.identity.user:
            # One header line per group, as Kubernetes reads them (not comma-joined).
            headers["Impersonate-User"] = self.identity.user
            for group in self.identity.groups:
                headers.add("Impersonate-Group", group)
        # The client serialises dict bodies as JSON for JSON and YAML content types alike.
        response = self.api.call_api(method_, url, header_params=headers, body=body, _request_timeout=timeout)
        if response.status >= 300:  # redirects are not followed: one is a refusal too
            raise refused(response.status, response.read())
        return response

    # --- reads the workloads need (added for the workloads app)

    def json_patch(self, kind, name, namespace, operations, dry_run=False):
        """RFC 6902 operations, applied atomically (a failed "test" refuses them all). Replacing
        a whole field (a pod template, as `kubectl rollout undo` does) also drops what other
        field managers set inside it, which server-side apply leaves in place."""
        path = object_path(KNOWN_KINDS[kind], namespace, name)
        query = [("dryRun", "All")] if dry_run else []
        return self._request("PATCH", path, query, body=operations, content_type="application/json-patch+json")

    def pod_log(self, name, namespace, container="", tail_lines=200):
        """The last lines of a pod's log, as text."""
        query = [("tailLines", str(tail_lines))] + ([("container", container)] if container else [])
        path = object_path(KNOWN_KINDS["Pod"], namespace, name) + "/log"
        return kube.translate_errors(lambda: self._open("GET", path, query).read().decode(errors="replace"))

    def follow_pod_log(self, name, namespace, container="", tail_lines=200):
        """Follow a pod's log (`follow=true`): the open urllib3 response, sending lines as the
        container writes them. Read it with read1(); response.shutdown() ends a blocked read.
        There is no read timeout: a quiet container may say nothing for a long time."""
        query = [("follow", "true"), ("tailLines", str(tail_lines))] + ([("container", container)] if container else [])
        path = object_path(KNOWN_KINDS["Pod"], namespace, name) + "/log"
        timeout = (kube.REQUEST_TIMEOUT[0], None)
        return kube.translate_errors(lambda: self._open("GET", path, query, timeout=timeout).response)

    def exec(self, name, namespace, container, command, tty=True, stdin=True):
        """Start `command` in a container (pods/exec over websocket, as kubectl does): an
        ExecStream to write its stdin and read its output and exit status."""
        query = [("container", container), ("stdout", "true"), ("stderr", "false" if tty else "true"),
                 ("stdin", "true" if stdin else "false"), ("tty", "true" if tty else "false")] + [("command", c) for c in command]
        path = object_path(KNOWN_KINDS["Pod"], namespace, name) + "/exec"
        headers = []
        if self.identity.user:
            headers = [("Impersonate-User", self.identity.user)] + [("Impersonate-Group", group) for group in self.identity.groups]
        try:
            ws = kube.open_websocket(self.api, path, query, ExecStream.PROTOCOLS, headers)
        except kube.StreamRefused as exc:
            error = refused(exc.status, exc.body)
            raise (kube.ClusterError("unauthorized") if exc.status == 401 else error) from None
        return ExecStream(ws)


class ExecStream:
    """A process started by pods/exec. The websocket carries one channel byte and data per
    message: 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 the terminal size; v5 adds
    255 <channel> to close a stream. Not thread-safe: one thread reads and writes (select on
    `socket`, then read())."""

    PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
    STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

    def __init__(self, ws):
        self.ws = ws
        self.protocol = ws.getsubprotocol() or ""
        self.status = None  # the final Status, once read

    @property
    def socket(self):
        return self.ws.sock

    def buffered(self):
        """Decrypted bytes already waiting (select() does not see them)."""
        pending = getattr(self.ws.sock, "pending", None)
        return bool(pending and pending())

    def write(self, data):
        self.ws.send_binary(bytes([self.STDIN]) + data)

    def resize(self, cols, rows):
        self.ws.send_binary(bytes([self.RESIZE]) + json.dumps({"Width": cols, "Height": rows}).encode())

    def close_stdin(self):
        if self.protocol.startswith("v5"):
            self.ws.send_binary(bytes([self.CLOSE, self.STDIN]))

    def read(self):
        """The next message: ("stdout" | "stderr", bytes), ("status", dict), ("closed", None), or
        (None, None) for one that carries nothing (a ping, an empty message)."""
        import websocket

        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except (websocket.WebSocketConnectionClosedException, OSError):
            return "closed", None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return "closed", None
        if opcode not in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT) or not data:
            return None, None
        channel, payload = data[0], bytes(data[1:])
        if channel == self.ERROR:
            try:
                self.status = json.loads(payload)
            except ValueError:
                self.status = {"status": "Failure", "message": payload.decode(errors="replace")}
            return "status", self.status
        if channel in (self.STDOUT, self.STDERR):
            return ("stdout" if channel == self.STDOUT else "stderr"), payload
        return None, None

    def exit_code(self):
        """The process's exit code from its Status (None when it did not exit: the exec failed)."""
        status = self.status or {}
        if status.get("status") == "Success":
            return 0
        if status.get("reason") == "NonZeroExitCode":
            for cause in (status.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
                    return int(cause["message"])
        return None

    def close(self):
        import websocket

        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.ws.shutdown()


def refused(status, data):
    if status == 401:
        return ApiException(status=401, reason="Unauthorized")
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    return ApiRefused(status, body.get("reason", ""), body.get("message") or data.decode(errors="replace")[:500])


def collection_path(kind, namespace):
    prefix = "/api/v1" if kind.api_version == "v1" else f"/apis/{kind.api_version}"
    if kind.namespaced:
        return f"{prefix}/namespaces/{namespace}/{kind.plural}"
    return f"{prefix}/{kind.plural}"


def object_path(kind, namespace, name):
    return f"{collection_path(kind, namespace)}/{name}"


# Kinds the workloads app reads or writes besides the mirrored ones.
KNOWN_KINDS.update({
    k.kind: k
    for k in [
        Kind("StorageClass", "storage.k8s.io/v1", "storageclasses", namespaced=False),
        Kind("IngressClass", "networking.k8s.io/v1", "ingressclasses", namespaced=False),
        Kind("ControllerRevision", "apps/v1", "controllerrevisions"),
    ]
})
