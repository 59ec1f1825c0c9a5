"""The only door to Kubernetes: kubeconfig parsing, API clients and typed errors.

Every failure to reach a cluster becomes a `ClusterError` with a `reason` the UI can
explain: malformed, unknown_context, unreachable, tls, unauthorized, forbidden, error.
"""

import json
import ssl
from dataclasses import dataclass, field

import urllib3
import yaml
from django.utils.translation import gettext_lazy as _
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

REQUEST_TIMEOUT = (5, 15)  # connect, read (seconds)

REASON_MESSAGES = {
    "malformed": _("The kubeconfig is not valid: %(detail)s"),
    "unknown_context": _("The kubeconfig has no context named %(detail)s."),
    "unreachable": _("The API server could not be reached: %(detail)s"),
    "tls": _("The TLS connection to the API server failed (certificate or CA mismatch): %(detail)s"),
    "unauthorized": _("The API server did not accept these credentials (401 Unauthorized)."),
    "forbidden": _("These credentials are not allowed to read the cluster (403 Forbidden): %(detail)s"),
    "error": _("The API server answered with an error: %(detail)s"),
}


class ClusterError(Exception):
    def __init__(self, reason, detail=""):
        self.reason = reason
        self.detail = str(detail)[:500]
        super().__init__(str(REASON_MESSAGES[reason] % {"detail": self.detail}))


def parse_kubeconfig(text):
    """The kubeconfig as a dict, checked for the parts a client needs."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClusterError("malformed", _("not YAML (%(problem)s)") % {"problem": getattr(exc, "problem", None) or exc}) from None
    if not isinstance(data, dict):
        raise ClusterError("malformed", _("expected a mapping with clusters, users and contexts"))
    for key in ("clusters", "users", "contexts"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ClusterError("malformed", _("'%(key)s' must be a non-empty list") % {"key": key})
    for key in ("clusters", "users", "contexts"):
        for item in data[key]:
            if not isinstance(item, dict) or not item.get("name") or not isinstance(item.get(key[:-1]), dict):
                raise ClusterError("malformed", _("every entry of '%(key)s' needs a name and a '%(item)s' mapping") % {"key": key, "item": key[:-1]})
    return data


def context_names(data):
    return [item["name"] for item in data["contexts"]]


def resolve_context(data, context=None):
    name = context or data.get("current-context") or context_names(data)[0]
    if name not in context_names(data):
        raise ClusterError("unknown_context", repr(name))
    return name


def server_of(data, context):
    ctx = next(item["context"] for item in data["contexts"] if item["name"] == context)
    cluster = next((item["cluster"] for item in data["clusters"] if item["name"] == ctx.get("cluster")), None)
    if cluster is None or not cluster.get("server"):
        raise ClusterError("malformed", _("context %(context)s points to no cluster with a server address") % {"context": repr(context)})
    return cluster["server"]


def api_client(data, context):
    try:
        api = config.new_client_from_config_dict(data, context=context, persist_config=False)
    except ConfigException as exc:
        raise ClusterError("malformed", exc) from None
    api.configuration.retries = 1
    return api


def translate_errors(call):
    """Run a client call; turn transport and HTTP errors into ClusterError."""
    try:
        return call()
    except ApiException as exc:
        if exc.status == 401:
            raise ClusterError("unauthorized") from None
        if exc.status == 403:
            raise ClusterError("forbidden", _status_message(exc)) from None
        if exc.status == 410:
            raise WatchExpired(_status_message(exc)) from None
        raise ClusterError("error", f"{exc.status} {_status_message(exc)}") from None
    except urllib3.exceptions.MaxRetryError as exc:
        raise _transport_error(exc.reason) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _transport_error(exc) from None


def _transport_error(exc):
    if isinstance(exc, (urllib3.exceptions.SSLError, ssl.SSLError)):
        return ClusterError("tls", exc)
    return ClusterError("unreachable", exc)


def _status_message(exc):
    try:
        return json.loads(exc.body).get("message", exc.reason)
    except (TypeError, ValueError, AttributeError):
        return exc.reason or ""


@dataclass
class NodeSummary:
    name: str
    ready: bool
    roles: list
    kubelet_version: str
    capacity: dict
    allocatable: dict
    conditions: list = field(default_factory=list)


@dataclass
class ClusterProbe:
    server: str
    context: str
    version: str
    nodes: list
    health: list  # [(check name, ok)] from /readyz?verbose


def probe(data, context):
    """Connect with a kubeconfig: server version and nodes, or a ClusterError."""
    api = api_client(data, context)
    try:
        version = translate_errors(lambda: client.VersionApi(api).get_code(_request_timeout=REQUEST_TIMEOUT))
        nodes = translate_errors(lambda: client.CoreV1Api(api).list_node(_request_timeout=REQUEST_TIMEOUT))
        health = readiness_checks(api)
    finally:
        api.close()
    return ClusterProbe(
        server=server_of(data, context),
        context=context,
        version=version.git_version,
        nodes=[node_summary(node) for node in nodes.items],
        health=health,
    )


def raw_get(api, path, query, timeout):
    """GET a path with the client's credentials; the response is not read yet (it may
    be a watch stream). Raises ClusterError / WatchExpired like the typed calls."""

    def call():
        method, url, headers, _body, _post = api.param_serialize("GET", path, query_params=query, auth_settings=["BearerToken"])
        response = api.call_api(method, url, header_params=headers, _request_timeout=timeout)
        if response.status >= 400:
            response.read()
            raise ApiException(http_resp=response)
        return response

    return translate_errors(call)


def readiness_checks(api):
    """The API server's own readiness checks (etcd, informers, ...) as [(name, ok)]."""
    response = raw_get(api, "/readyz", [("verbose", "true")], REQUEST_TIMEOUT)
    text = response.read().decode(errors="replace")
    checks = []
    for line in str(text).splitlines():
        line = line.strip()
        if line.startswith(("[+]", "[-]")):
            checks.append((line[3:].split(" ")[0], line.startswith("[+]")))
    return checks or [("readyz", str(text).strip() == "ok")]


def node_summary(node):
    conditions = [
        {"type": c.type, "status": c.status, "reason": c.reason or "", "message": c.message or ""}
        for c in (node.status.conditions or [])
    ]
    labels = node.metadata.labels or {}
    return NodeSummary(
        name=node.metadata.name,
        ready=any(c["type"] == "Ready" and c["status"] == "True" for c in conditions),
        roles=sorted(key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")),
        kubelet_version=node.status.node_info.kubelet_version if node.status.node_info else "",
        capacity=dict(node.status.capacity or {}),
        allocatable=dict(node.status.allocatable or {}),
        conditions=conditions,
    )


# --- raw list and watch, for the resource mirror ----------------------------------------
# Raw JSON instead of the client's model classes: the watcher handles thousands of
# events a second and stores the JSON as it came.


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    plural: str
    namespaced: bool = True

    @property
    def path(self):
        """The collection across all namespaces."""
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{prefix}/{self.plural}"


MIRRORED_KINDS = [
    Kind("Namespace", "v1", "namespaces", namespaced=False),
    Kind("Node", "v1", "nodes", namespaced=False),
    Kind("Pod", "v1", "pods"),
    Kind("Service", "v1", "services"),
    Kind("Endpoints", "v1", "endpoints"),
    Kind("Event", "v1", "events"),
    Kind("ConfigMap", "v1", "configmaps"),
    Kind("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    Kind("PersistentVolume", "v1", "persistentvolumes", namespaced=False),
    Kind("ResourceQuota", "v1", "resourcequotas"),
    Kind("Deployment", "apps/v1", "deployments"),
    Kind("ReplicaSet", "apps/v1", "replicasets"),
    Kind("StatefulSet", "apps/v1", "statefulsets"),
    Kind("DaemonSet", "apps/v1", "daemonsets"),
    Kind("Job", "batch/v1", "jobs"),
    Kind("CronJob", "batch/v1", "cronjobs"),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses"),
    Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
]
KINDS_BY_NAME = {k.kind: k for k in MIRRORED_KINDS}


class WatchExpired(Exception):
    """410 Gone: the resourceVersion is too old; list again."""


def list_pages(api, kind, page_size=500):
    """All objects of a kind, a page at a time: yields (items, resourceVersion or "")."""
    token = None
    while True:
        query = [("limit", str(page_size))] + ([("continue", token)] if token else [])
        body = json.loads(raw_get(api, kind.path, query, REQUEST_TIMEOUT).read())
        token = body.get("metadata", {}).get("continue")
        yield body.get("items", []), "" if token else body.get("metadata", {}).get("resourceVersion", "")
        if not token:
            return


def watch_raw(api, kind, resource_version, timeout_seconds=300, opened=None):
    """Yield (type, object) from a watch; raises WatchExpired on 410. `opened(response)` is
    called with the open stream, so that another thread can cut it (response.shutdown())."""
    query = [("watch", "1"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    response = raw_get(api, kind.path, query, (REQUEST_TIMEOUT[0], timeout_seconds + 30)).response
    if opened:
        opened(response)
    buffer = b""
    try:
        for chunk in response.stream(64 * 1024, decode_content=True):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired(obj.get("message", "resourceVersion too old"))
                    raise ClusterError("error", obj.get("message", "watch error"))
                obj.setdefault("kind", kind.kind)
                yield event["type"], obj
    except urllib3.exceptions.ProtocolError as exc:
        raise ClusterError("unreachable", exc) from None
    finally:
        response.release_conn()
