"""The only door to Kubernetes: kubeconfig parsing, API clients and typed errors.

Every failure to reach a cluster becomes a `ClusterError` with a `reason` the UI can
explain: malformed, unsafe, unknown_context, address, unreachable, tls, unauthorized,
forbidden, error.

A kubeconfig is data from a user, never instructions: only inline credentials are
accepted (no exec plugins, auth providers, file paths or proxies), the client is built
from a new document holding only those, and every connection goes to an address that
was checked against the operator's CLUSTER_API_ALLOWED_NETWORKS when it was dialled.
"""

import base64
import binascii
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from celery import current_task
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.util.retry import Retry

from console.documents import DocumentError, load_yaml

log = logging.getLogger(__name__)

MAX_KUBECONFIG_BYTES = 256 * 1024
# (connect, read) seconds. Pages wait little for a cluster; Celery jobs, which retry with
# backoff, and the watcher's lists give a slow API server more time.
INTERACTIVE_TIMEOUT = (3, 5)
BACKGROUND_TIMEOUT = (5, 30)
REQUEST_TIMEOUT = INTERACTIVE_TIMEOUT
# After a call timed out, calls to that API server fail at once for this long.
CIRCUIT_SECONDS = 10

REASON_MESSAGES = {
    "malformed": _("The kubeconfig is not valid: %(detail)s"),
    "unsafe": _("The console does not accept this kubeconfig: %(detail)s"),
    "unknown_context": _("The kubeconfig has no context named %(detail)s."),
    "address": _("The console may not connect to this API server: %(detail)s"),
    # One text for refused, timed out, no route and unknown names: the console must not
    # tell which ports of which hosts are open (the details go to the server log).
    "unreachable": _("The API server could not be reached."),
    "tls": _("The TLS connection to the API server failed (certificate or CA mismatch): %(detail)s"),
    "unauthorized": _("The API server did not accept these credentials (401 Unauthorized)."),
    "forbidden": _("These credentials are not allowed to read the cluster (403 Forbidden): %(detail)s"),
    "error": _("The API server answered with an error: %(detail)s"),
}
NOT_ANSWERING = _("The cluster is not answering; the console tries again in a few seconds.")


class ClusterError(Exception):
    def __init__(self, reason, detail="", message=None):
        self.reason = reason
        self.detail = str(detail)[:500]
        super().__init__(str(message or REASON_MESSAGES[reason] % {"detail": self.detail}))


# --- kubeconfig: what is accepted ---------------------------------------------------

CLUSTER_FIELDS = ("server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name")
USER_FIELDS = ("token", "client-certificate-data", "client-key-data", "username", "password")
CONTEXT_FIELDS = ("cluster", "user", "namespace")
ALLOWED_FIELDS = {"cluster": CLUSTER_FIELDS, "user": USER_FIELDS, "context": CONTEXT_FIELDS}
BASE64_FIELDS = {"certificate-authority-data", "client-certificate-data", "client-key-data"}
HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})")

_USE_INLINE = _("paste a token or client-certificate-data and client-key-data instead.")
_IMPERSONATION = _("%(field)s asks the API server for impersonation; give the credentials of that account itself instead.")
# Fields the client library would act on, and what to write instead.
REFUSED_FIELDS = {
    "exec": _("%(field)s runs a program on the console server; %(instead)s"),
    "auth-provider": _("%(field)s runs a program or calls an identity provider from the console server; %(instead)s"),
    "tokenFile": _("%(field)s names a file on the console server; paste the token itself as token instead."),
    "client-certificate": _("%(field)s names a file on the console server; paste the certificate as client-certificate-data (base64) instead."),
    "client-key": _("%(field)s names a file on the console server; paste the key as client-key-data (base64) instead."),
    "certificate-authority": _("%(field)s names a file on the console server; paste the CA certificate as certificate-authority-data (base64) instead."),
    "proxy-url": _("%(field)s is not supported: the console connects to the API server directly; remove it."),
    "as": _IMPERSONATION,
    "as-uid": _IMPERSONATION,
    "as-groups": _IMPERSONATION,
    "as-user-extra": _IMPERSONATION,
}


def parse_kubeconfig(text):
    """The kubeconfig as a dict, checked for the parts a client needs and for anything
    the console refuses (in every entry, not only the context in use: nothing dangerous
    is stored)."""
    try:
        data = load_yaml(text, max_bytes=MAX_KUBECONFIG_BYTES)
    except DocumentError as exc:
        raise ClusterError("malformed", exc) from None
    if not isinstance(data, dict):
        raise ClusterError("malformed", _("expected a mapping with clusters, users and contexts"))
    for key in ("clusters", "users", "contexts"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ClusterError("malformed", _("'%(key)s' must be a non-empty list") % {"key": key})
    for key in ("clusters", "users", "contexts"):
        for item in data[key]:
            if not isinstance(item, dict) or not item.get("name") or not isinstance(item.get(key[:-1]), dict):
                raise ClusterError("malformed", _("every entry of '%(key)s' needs a name and a '%(item)s' mapping") % {"key": key, "item": key[:-1]})
    check_fields(data)
    return data


def check_fields(data):
    """Refuse, with the field's place and what to use instead, any field outside the allow-list."""
    for key in ("clusters", "users", "contexts"):
        section = key[:-1]
        for index, item in enumerate(data[key]):
            for name, value in item[section].items():
                where = f"{key}[{index}].{section}.{name}"
                if name in REFUSED_FIELDS:
                    raise ClusterError("unsafe", REFUSED_FIELDS[name] % {"field": where, "instead": _USE_INLINE})
                if name not in ALLOWED_FIELDS[section]:
                    raise ClusterError("unsafe", _("%(field)s is not accepted; a %(section)s may only have %(allowed)s.")
                                       % {"field": where, "section": section, "allowed": ", ".join(ALLOWED_FIELDS[section])})
                _check_value(where, name, value)


def _check_value(where, name, value):
    if name == "insecure-skip-tls-verify":
        if not isinstance(value, bool):
            raise ClusterError("malformed", _("%(field)s must be true or false") % {"field": where})
    elif not isinstance(value, str):
        raise ClusterError("malformed", _("%(field)s must be text") % {"field": where})
    elif name in BASE64_FIELDS:
        try:
            pem = base64.b64decode(value)
        except (binascii.Error, ValueError):
            raise ClusterError("malformed", _("%(field)s is not base64") % {"field": where}) from None
        if b"-----BEGIN " not in pem:  # else the TLS library fails later with a less helpful error
            raise ClusterError("malformed", _("%(field)s is not base64 of a PEM block (-----BEGIN ...)") % {"field": where})
    elif name == "tls-server-name" and not HOST_NAME.fullmatch(value):
        raise ClusterError("malformed", _("%(field)s must be a host name") % {"field": where})
    elif any(char in value for char in "\r\n\0"):  # would end up in an HTTP header
        raise ClusterError("malformed", _("%(field)s must be one line") % {"field": where})


def context_names(data):
    return [item["name"] for item in data["contexts"]]


def resolve_context(data, context=None):
    name = context or data.get("current-context") or context_names(data)[0]
    if name not in context_names(data):
        raise ClusterError("unknown_context", repr(name))
    return name


def _named(items, name, section):
    return next((item[section] for item in items if item["name"] == name), None)


def cluster_of(data, context):
    ctx = _named(data["contexts"], context, "context")
    if ctx is None:
        raise ClusterError("unknown_context", repr(context))
    cluster = _named(data["clusters"], ctx.get("cluster"), "cluster")
    if cluster is None or not cluster.get("server"):
        raise ClusterError("malformed", _("context %(context)s points to no cluster with a server address") % {"context": repr(context)})
    return cluster


def server_of(data, context):
    """The context's API server URL: https, with a host, no user name or password in it."""
    server = cluster_of(data, context)["server"]
    try:
        url = urlsplit(server)
        url.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ClusterError("malformed", _("the server address %(server)s is not a URL") % {"server": server}) from None
    if url.scheme.lower() == "http":
        raise ClusterError("unsafe", _("the server address %(server)s uses http://; the console talks to API servers over https:// only, so that credentials never travel in clear text.") % {"server": server})
    if url.scheme.lower() != "https" or not url.hostname:
        raise ClusterError("malformed", _("the server address %(server)s must look like https://host:port") % {"server": server})
    if url.username or url.password:
        raise ClusterError("unsafe", _("the server address must not hold a user name or password; use token instead."))
    return server


def skips_tls_verify(data, context):
    return cluster_of(data, context).get("insecure-skip-tls-verify") is True


def client_config(data, context):
    """A new kubeconfig holding only the accepted fields of one context: whatever else the
    user's document says never reaches the client library."""
    check_fields(data)
    ctx = _named(data["contexts"], context, "context") or {}
    cluster = cluster_of(data, context)
    user = _named(data["users"], ctx.get("user"), "user") or {}
    return {
        "current-context": "console",
        "contexts": [{"name": "console", "context": {"cluster": "cluster", "user": "user"}}],
        "clusters": [{"name": "cluster", "cluster": {key: cluster[key] for key in CLUSTER_FIELDS if key in cluster}}],
        "users": [{"name": "user", "user": {key: user[key] for key in USER_FIELDS if key in user}}],
    }


# --- where the console may connect ------------------------------------------------------

# Link-local (cloud metadata services live there) and "this host" addresses, whatever the operator allows.
ALWAYS_REFUSED_NETWORKS = [ipaddress.ip_network(net) for net in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8", "::/128")]


def address_refusal(address):
    """Why the console may not connect to this IP address, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in ALWAYS_REFUSED_NETWORKS):
        return _("%(address)s is a link-local or cloud metadata address, which the console never connects to.") % {"address": ip}
    allowed = [ipaddress.ip_network(net, strict=False) for net in settings.CLUSTER_API_ALLOWED_NETWORKS]
    if allowed and not any(ip in net for net in allowed):
        return _("%(address)s is outside the networks the operator allows (CLUSTER_API_ALLOWED_NETWORKS).") % {"address": ip}
    return None


def checked_address(host, port):
    """The IP address to dial for host, resolved once and checked: the address dialled is
    the address checked, so a second DNS answer cannot lead the console elsewhere."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # unknown name, or not a name at all
        raise urllib3.exceptions.NameResolutionError(host, None, exc) from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            raise ClusterError("address", refusal)
    return addresses[0]


class _CheckedAddress:
    def _new_conn(self):
        name = self._dns_host
        self._dns_host = checked_address(name, self.port)
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name  # TLS (SNI, certificate check) still uses the name


class _CheckedHTTPSConnection(_CheckedAddress, urllib3.connection.HTTPSConnection):
    pass


class _CheckedHTTPConnection(_CheckedAddress, urllib3.connection.HTTPConnection):
    pass


class _CheckedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


_CHECKED_POOLS = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


# --- the client -------------------------------------------------------------------------

class _Retry(Retry):
    """One more try after a refused or dropped connection, none after a timeout: a server
    that did not answer in time would only make the caller wait as long again."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, urllib3.exceptions.TimeoutError) and not isinstance(error, urllib3.exceptions.NewConnectionError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


_stalled_until = {}  # API server URL -> time.monotonic() until which calls fail at once


def request_timeout():
    """The timeout of a call that names none: short, except inside a Celery job."""
    return BACKGROUND_TIMEOUT if current_task else INTERACTIVE_TIMEOUT


class _ClusterClient(client.ApiClient):
    """Every call gets a timeout; after one timed out, calls to that server fail fast for a
    while instead of making each click wait again (a per-cluster circuit breaker)."""

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        server = self.configuration.host
        if _stalled_until.get(server, 0) > time.monotonic():
            raise ClusterError("unreachable", "circuit open", message=NOT_ANSWERING)
        try:
            return super().call_api(method, url, header_params, body, post_params, _request_timeout or request_timeout())
        except urllib3.exceptions.ReadTimeoutError:
            _stalled_until[server] = time.monotonic() + CIRCUIT_SECONDS
            raise


def api_client(data, context):
    server_of(data, context)  # https only, before anything is built
    configuration = client.Configuration()
    try:
        config.load_kube_config_from_dict(client_config(data, context), context="console",
                                          client_configuration=configuration, persist_config=False)
    except (ConfigException, ValueError) as exc:
        raise ClusterError("malformed", exc) from None
    # No proxy, not even HTTPS_PROXY from the environment: the console dials the checked
    # address itself (a proxy would connect wherever the name leads it).
    configuration.proxy = None
    configuration.retries = _Retry(total=1, redirect=False)  # a redirect is answered, not followed
    api = _ClusterClient(configuration)
    api.rest_client.pool_manager.pool_classes_by_scheme = _CHECKED_POOLS
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
        if not exc.status:  # the client's own wrapping of a TLS failure
            raise _transport_error(exc) from None
        raise ClusterError("error", f"{exc.status} {_status_message(exc)}") from None
    except urllib3.exceptions.MaxRetryError as exc:
        raise _transport_error(exc.reason) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _transport_error(exc) from None


def _transport_error(exc):
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return ClusterError("unreachable", exc, message=NOT_ANSWERING)
    problem = _certificate_problem(exc)
    if problem:
        return ClusterError("tls", problem)
    log.info("API server unreachable: %s", exc)
    return ClusterError("unreachable", exc)


def _certificate_problem(exc):
    """What is wrong with the server's certificate, when that is why the connection failed."""
    seen = set()
    while isinstance(exc, BaseException) and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or "certificate verify failed"
        if isinstance(exc, ApiException) and "CERTIFICATE_VERIFY_FAILED" in str(exc.reason):
            return "certificate verify failed"
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = inner or exc.__cause__ or exc.__context__
    return None


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
        version = translate_errors(lambda: client.VersionApi(api).get_code())
        nodes = translate_errors(lambda: client.CoreV1Api(api).list_node())
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


def raw_get(api, path, query, timeout=None):
    """GET a path with the client's credentials; the response is not read yet (it may
    be a watch stream). Raises ClusterError / WatchExpired like the typed calls; a
    redirect (not followed) is an error too."""

    def call():
        method, url, headers, _body, _post = api.param_serialize("GET", path, query_params=query, auth_settings=["BearerToken"])
        response = api.call_api(method, url, header_params=headers, _request_timeout=timeout)
        if response.status >= 300:
            response.read()
            raise ApiException(http_resp=response)
        return response

    return translate_errors(call)


def readiness_checks(api):
    """The API server's own readiness checks (etcd, informers, ...) as [(name, ok)]."""
    response = raw_get(api, "/readyz", [("verbose", "true")])
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
        body = json.loads(raw_get(api, kind.path, query, BACKGROUND_TIMEOUT).read())
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
    response = raw_get(api, kind.path, query, (BACKGROUND_TIMEOUT[0], timeout_seconds + 30)).response
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


# --- websocket streams (pods/exec) ----------------------------------------------------------


class StreamRefused(Exception):
    """The API server answered a websocket upgrade with an HTTP error (403, 404, 400, ...)."""

    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


def open_websocket(api, path, query, protocols, headers=(), timeout=INTERACTIVE_TIMEOUT[1]):
    """A websocket to the API server, dialled like every other connection of this client: the
    checked address, the kubeconfig's CA, client certificate and token, no proxy. Returns a
    connected websocket-client WebSocket (blocking, no read timeout); raises StreamRefused
    when the upgrade is answered with an error, ClusterError when the server is not reached."""
    import websocket  # websocket-client: the kubernetes client's own dependency for streams

    _method, url, auth_headers, _body, _post = api.param_serialize("GET", path, query_params=query, auth_settings=["BearerToken"])
    # urllib3's pool for the server holds the TLS settings; its connection class checks the address
    pool = api.rest_client.pool_manager.connection_from_url(url)
    connection = pool._new_conn()
    try:
        connection.connect()  # an address the operator does not allow raises ClusterError here
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        connection.close()
        raise _transport_error(exc) from None
    lines = [f"{name}: {value}" for name, value in auth_headers.items() if name.lower() == "authorization"]
    lines += [f"{name}: {value}" for name, value in headers]
    ws = websocket.WebSocket(skip_utf8_validation=True)
    try:
        ws.connect("wss" + url[len("https"):] if url.startswith("https") else "ws" + url[len("http"):], socket=connection.sock,
                   header=lines, subprotocols=list(protocols), suppress_origin=True, timeout=timeout)
    except websocket.WebSocketBadStatusException as exc:
        connection.close()
        raise StreamRefused(exc.status_code, exc.resp_body or b"") from None
    except (websocket.WebSocketException, OSError) as exc:
        connection.close()
        raise _transport_error(exc) from None
    ws.settimeout(None)
    return ws
