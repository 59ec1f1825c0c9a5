"""Where the console may connect, and the API client that connects only there.

Every connection goes to an address that was checked against the operator's
CLUSTER_API_ALLOWED_NETWORKS when it was dialled (never a link-local or metadata address),
over https, without any proxy; every call has a timeout, and a server that timed out is
not asked again for a while.
"""

import ipaddress
import socket
import time

import urllib3
from celery import current_task
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import load_kube_config_from_dict
from kubernetes.config.config_exception import ConfigException
from urllib3.util.retry import Retry

from console.kube.config import Kubeconfig, client_config, server_of
from console.kube.errors import NOT_ANSWERING, ClusterError, translate_errors

Timeout = tuple[float, float | None]  # (connect, read) seconds
Query = list[tuple[str, str]]  # query parameters, or header lines, in order

# Pages wait little for a cluster; Celery jobs, which retry with backoff, and the watcher's
# lists give a slow API server more time.
INTERACTIVE_TIMEOUT: Timeout = (3, 5)
BACKGROUND_TIMEOUT: Timeout = (5, 30)
# After a call timed out, calls to that API server fail at once for this long.
CIRCUIT_SECONDS = 10


def request_timeout() -> Timeout:
    """The timeout of a call that names none: short, except inside a Celery job."""
    return BACKGROUND_TIMEOUT if current_task else INTERACTIVE_TIMEOUT


# --- where the console may connect ------------------------------------------------------

# Link-local (cloud metadata services live there) and "this host" addresses, whatever the operator allows.
ALWAYS_REFUSED_NETWORKS = [
    ipaddress.ip_network(net) for net in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8", "::/128")
]


def address_refusal(address: str) -> str | None:
    """Why the console may not connect to this IP address, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in ALWAYS_REFUSED_NETWORKS):
        return _("%(address)s is a link-local or cloud metadata address, which the console never connects to.") % {
            "address": ip
        }
    allowed = [ipaddress.ip_network(net, strict=False) for net in settings.CLUSTER_API_ALLOWED_NETWORKS]
    if allowed and not any(ip in net for net in allowed):
        return _("%(address)s is outside the networks the operator allows (CLUSTER_API_ALLOWED_NETWORKS).") % {
            "address": ip
        }
    return None


def checked_address(host: str, port: int | None) -> str:
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
        if isinstance(error, urllib3.exceptions.TimeoutError) and not isinstance(
            error, urllib3.exceptions.NewConnectionError
        ):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


_stalled_until: dict[str, float] = {}  # API server URL -> time.monotonic() until which calls fail at once


class _ClusterClient(client.ApiClient):
    """Every call gets a timeout; after one timed out, calls to that server fail fast for a
    while instead of making each click wait again (a per-cluster circuit breaker)."""

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        server = self.configuration.host
        if _stalled_until.get(server, 0) > time.monotonic():
            raise ClusterError("unreachable", "circuit open", message=NOT_ANSWERING)
        try:
            return super().call_api(
                method, url, header_params, body, post_params, _request_timeout or request_timeout()
            )
        except urllib3.exceptions.ReadTimeoutError:
            _stalled_until[server] = time.monotonic() + CIRCUIT_SECONDS
            raise


def api_client(data: Kubeconfig, context: str) -> client.ApiClient:
    """A client for one context of a parsed kubeconfig, connecting only to checked addresses."""
    server_of(data, context)  # https only, before anything is built
    configuration = client.Configuration()
    try:
        load_kube_config_from_dict(
            client_config(data, context), context="console", client_configuration=configuration, persist_config=False
        )
    except (ConfigException, ValueError) as exc:
        raise ClusterError("malformed", exc) from None
    # No proxy, not even HTTPS_PROXY from the environment: the console dials the checked
    # address itself (a proxy would connect wherever the name leads it).
    configuration.proxy = None
    configuration.retries = _Retry(total=1, redirect=False)  # a redirect is answered, not followed
    api = _ClusterClient(configuration)
    api.rest_client.pool_manager.pool_classes_by_scheme = _CHECKED_POOLS
    return api


def raw_get(api: client.ApiClient, path: str, query: Query, timeout: Timeout | None = None) -> client.rest.RESTResponse:
    """GET a path with the client's credentials; the response is not read yet (it may
    be a watch stream). Raises ClusterError / WatchExpired like the typed calls; a
    redirect (not followed) is an error too."""

    def call():
        method, url, headers, _body, _post = api.param_serialize(
            "GET", path, query_params=query, auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, header_params=headers, _request_timeout=timeout)
        if response.status >= 300:
            response.read()
            raise ApiException(http_resp=response)
        return response

    return translate_errors(call)
