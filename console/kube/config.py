"""Kubeconfigs: what is accepted, and the new document a client is built from.

A kubeconfig is data from a user, never instructions: only inline credentials are accepted
(no exec plugins, auth providers, file paths or proxies), every entry is checked (not only the
context in use: nothing dangerous is stored), and the client is built from a new document
holding only the accepted fields of one context.
"""

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from console.documents import DocumentError, load_yaml
from console.kube.errors import ClusterError

Kubeconfig = dict[str, Any]  # as parse_kubeconfig returns it

MAX_KUBECONFIG_BYTES = 256 * 1024

CLUSTER_FIELDS = ("server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name")
USER_FIELDS = ("token", "client-certificate-data", "client-key-data", "username", "password")
CONTEXT_FIELDS = ("cluster", "user", "namespace")
ALLOWED_FIELDS = {"cluster": CLUSTER_FIELDS, "user": USER_FIELDS, "context": CONTEXT_FIELDS}
BASE64_FIELDS = {"certificate-authority-data", "client-certificate-data", "client-key-data"}
HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})")

_USE_INLINE = _("paste a token or client-certificate-data and client-key-data instead.")
_IMPERSONATION = _(
    "%(field)s asks the API server for impersonation; give the credentials of that account itself instead."
)
# Fields the client library would act on, and what to write instead.
REFUSED_FIELDS = {
    "exec": _("%(field)s runs a program on the console server; %(instead)s"),
    "auth-provider": _("%(field)s runs a program or calls an identity provider from the console server; %(instead)s"),
    "tokenFile": _("%(field)s names a file on the console server; paste the token itself as token instead."),
    "client-certificate": _(
        "%(field)s names a file on the console server; paste the certificate as "
        "client-certificate-data (base64) instead."
    ),
    "client-key": _("%(field)s names a file on the console server; paste the key as client-key-data (base64) instead."),
    "certificate-authority": _(
        "%(field)s names a file on the console server; paste the CA certificate as "
        "certificate-authority-data (base64) instead."
    ),
    "proxy-url": _("%(field)s is not supported: the console connects to the API server directly; remove it."),
    "as": _IMPERSONATION,
    "as-uid": _IMPERSONATION,
    "as-groups": _IMPERSONATION,
    "as-user-extra": _IMPERSONATION,
}


def parse_kubeconfig(text: str) -> Kubeconfig:
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
                raise ClusterError(
                    "malformed",
                    _("every entry of '%(key)s' needs a name and a '%(item)s' mapping")
                    % {"key": key, "item": key[:-1]},
                )
    check_fields(data)
    return data


def check_fields(data: Kubeconfig) -> None:
    """Refuse, with the field's place and what to use instead, any field outside the allow-list."""
    for key in ("clusters", "users", "contexts"):
        section = key[:-1]
        for index, item in enumerate(data[key]):
            for name, value in item[section].items():
                where = f"{key}[{index}].{section}.{name}"
                if name in REFUSED_FIELDS:
                    raise ClusterError("unsafe", REFUSED_FIELDS[name] % {"field": where, "instead": _USE_INLINE})
                if name not in ALLOWED_FIELDS[section]:
                    text = _("%(field)s is not accepted; a %(section)s may only have %(allowed)s.")
                    allowed = ", ".join(ALLOWED_FIELDS[section])
                    raise ClusterError("unsafe", text % {"field": where, "section": section, "allowed": allowed})
                _check_value(where, name, value)


def _check_value(where: str, name: str, value: object) -> None:
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
            raise ClusterError(
                "malformed", _("%(field)s is not base64 of a PEM block (-----BEGIN ...)") % {"field": where}
            )
    elif name == "tls-server-name" and not HOST_NAME.fullmatch(value):
        raise ClusterError("malformed", _("%(field)s must be a host name") % {"field": where})
    elif any(char in value for char in "\r\n\0"):  # would end up in an HTTP header
        raise ClusterError("malformed", _("%(field)s must be one line") % {"field": where})


def context_names(data: Kubeconfig) -> list[str]:
    return [item["name"] for item in data["contexts"]]


def resolve_context(data: Kubeconfig, context: str | None = None) -> str:
    name = context or data.get("current-context") or context_names(data)[0]
    if name not in context_names(data):
        raise ClusterError("unknown_context", repr(name))
    return name


def _named(items: list[dict], name: object, section: str) -> dict | None:
    return next((item[section] for item in items if item["name"] == name), None)


def cluster_of(data: Kubeconfig, context: str) -> dict:
    ctx = _named(data["contexts"], context, "context")
    if ctx is None:
        raise ClusterError("unknown_context", repr(context))
    cluster = _named(data["clusters"], ctx.get("cluster"), "cluster")
    if cluster is None or not cluster.get("server"):
        raise ClusterError(
            "malformed",
            _("context %(context)s points to no cluster with a server address") % {"context": repr(context)},
        )
    return cluster


def server_of(data: Kubeconfig, context: str) -> str:
    """The context's API server URL: https, with a host, no user name or password in it."""
    server = cluster_of(data, context)["server"]
    try:
        url = urlsplit(server)
        url.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ClusterError("malformed", _("the server address %(server)s is not a URL") % {"server": server}) from None
    if url.scheme.lower() == "http":
        raise ClusterError(
            "unsafe",
            _(
                "the server address %(server)s uses http://; the console talks to API servers "
                "over https:// only, so that credentials never travel in clear text."
            )
            % {"server": server},
        )
    if url.scheme.lower() != "https" or not url.hostname:
        raise ClusterError(
            "malformed", _("the server address %(server)s must look like https://host:port") % {"server": server}
        )
    if url.username or url.password:
        raise ClusterError("unsafe", _("the server address must not hold a user name or password; use token instead."))
    return server


def skips_tls_verify(data: Kubeconfig, context: str) -> bool:
    return cluster_of(data, context).get("insecure-skip-tls-verify") is True


def client_config(data: Kubeconfig, context: str) -> Kubeconfig:
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
