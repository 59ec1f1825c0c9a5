"""Secrets and ConfigMaps of a tenant namespace: list, create, edit keys, delete, reveal.

Secret values never pass through the console's storage: each operation is one call to the
cluster made here, in the request, as the impersonated user (no Job, whose payload is
stored); the operation log gets names, types and keys, never values. Secrets are not in
the resource mirror, so their list is read live (bounded), keeping names, types and keys
only. ConfigMaps are mirrored and listed from there."""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console.accounts.access import require_permission
from console.kube.errors import ApiRefused
from console.oplog import oplog
from tenants import access

from . import specs
from .checks import check_may_change
from .cluster import talking_to

OPAQUE, TLS, DOCKER = "Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson"
CREATABLE_TYPES = (OPAQUE, TLS, DOCKER)
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_DATA_BYTES = 1024 * 1024  # what Kubernetes stores in one Secret or ConfigMap
MAX_LISTED = 500  # a page view reads at most this many Secrets
MAX_KEYS = 100


@dataclass
class SecretRow:
    name: str
    type: str
    keys: list = field(default_factory=list)
    created: str = ""


class EditConflict(ValidationError):
    """The object changed on the cluster since the form (or editor) was read (409)."""


def target(project, kind, name):
    return {
        "tenant": project.tenant.name,
        "cluster": project.cluster.name,
        "namespace": project.name,
        "kind": kind,
        "name": name,
    }


def _check_manage(user, project):
    """Tenant admins, members and operators manage Secrets; auditors read the log, not the Secrets."""
    require_permission(
        access.may_operate(user, project.tenant),
        _("Only the tenant's members and operators manage Secrets and ConfigMaps."),
    )
    check_may_change(user, project)


# --- reading -------------------------------------------------------------------------


def list_secrets(project, *, user):
    """(rows, truncated): the namespace's Secrets, names, types and keys only, read as the user."""
    require_permission(
        access.may_operate(user, project.tenant), _("Only the tenant's members and operators see Secrets.")
    )
    with talking_to(project, user) as api:
        items = api.list("Secret", project.name, limit=MAX_LISTED)
    rows = [
        SecretRow(
            item["metadata"]["name"],
            item.get("type") or OPAQUE,
            sorted(item.get("data") or {}),
            item["metadata"].get("creationTimestamp", ""),
        )
        for item in items
    ]
    return sorted(rows, key=lambda row: row.name), len(items) >= MAX_LISTED


def secret_keys(project, *, user, name):
    """(type, keys, resourceVersion) of one Secret, for its edit form."""
    _check_manage(user, project)
    with talking_to(project, user) as api:
        obj = live_object(api, project, "Secret", name)
    return obj.get("type") or OPAQUE, sorted(obj.get("data") or {}), obj["metadata"].get("resourceVersion", "")


def list_configmaps(project):
    """The namespace's ConfigMaps from the resource mirror: (name, keys) rows."""
    from console.clusters.models import MirroredObject

    rows = MirroredObject.objects.filter(cluster=project.cluster, kind="ConfigMap", namespace=project.name).order_by(
        "name"
    )
    return [
        (row.name, sorted((row.object.get("data") or {}) | (row.object.get("binaryData") or {})))
        for row in rows.only("name", "object")
    ]


def configmap(project, *, user, name):
    """(data, resourceVersion) of one ConfigMap, read live for its edit form."""
    _check_manage(user, project)
    with talking_to(project, user) as api:
        obj = live_object(api, project, "ConfigMap", name)
    return dict(obj.get("data") or {}), obj["metadata"].get("resourceVersion", "")


def choices(project, user):
    """What the deploy form offers: {"secrets": [...], "tls": [...], "configmaps": [...]}. The
    Secrets are read live as the user; when the cluster cannot say, the lists are empty."""
    secrets = []
    try:
        secrets, _truncated = list_secrets(project, user=user)
    except (ValidationError, PermissionError):
        pass
    return {
        "secrets": [row.name for row in secrets if row.type in (OPAQUE, TLS)],
        "tls": [row.name for row in secrets if row.type == TLS],
        "configmaps": [name for name, _keys in list_configmaps(project)],
    }


def live_object(api, project, kind, name):
    """The live object of that kind and name in the project's namespace, read through api."""
    obj = api.get(kind, name, project.name)
    if obj is None:
        raise ValidationError(
            _("There is no %(kind)s named %(name)s in %(ns)s.") % {"kind": kind, "name": name, "ns": project.name}
        )
    return obj


# --- checking what people type ---------------------------------------------------------


def check_name(name, kind):
    if not name or len(name) > 253 or not specs.DNS_SUBDOMAIN.match(name):
        raise ValidationError(
            {
                "name": _(
                    "%(kind)s name %(name)s is not valid: lower-case letters, digits, '-' and '.' (DNS-1123 subdomain)."
                )
                % {"kind": kind, "name": repr(name)}
            }
        )


def check_data(data):
    """Keys as Kubernetes accepts them, and not more than it stores."""
    if len(data) > MAX_KEYS:
        raise ValidationError({"data": _("At most %(n)s keys.") % {"n": MAX_KEYS}})
    for key in data:
        if len(key) > 253 or not CONFIG_KEY.match(key):
            raise ValidationError(
                {"data": _("Key %(key)s is not valid: letters, digits, '-', '_' and '.'.") % {"key": repr(key[:60])}}
            )
    if sum(len(key) + len(value.encode()) for key, value in data.items()) > MAX_DATA_BYTES:
        raise ValidationError({"data": _("The values are larger than 1 MiB together.")})


def check_tls(cert, key):
    """A certificate and its private key, both PEM, belonging together."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(cert.encode())
    except ValueError:
        raise ValidationError(
            {"tls_cert": _("The certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----).")}
        ) from None
    try:
        private_key = serialization.load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError(
            {"tls_key": _("The key is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----).")}
        ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) != private_key.public_key().public_bytes(serialization.Encoding.DER, public):
        raise ValidationError({"tls_key": _("The key does not belong to the certificate.")})


def docker_config(server, username, password, email=""):
    """The .dockerconfigjson `kubectl create secret docker-registry` writes."""
    server = (server or "").strip()
    if not server or any(c.isspace() for c in server):
        raise ValidationError({"registry_server": _("Give the registry's address, for example registry.example.com.")})
    if not username or not password:
        raise ValidationError({"registry_username": _("Give the registry user name and password.")})
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    entry = {"username": username, "password": password, "auth": auth, **({"email": email} if email else {})}
    return json.dumps({"auths": {server: entry}})


def secret_data(secret_type, *, data=None, tls_cert="", tls_key="", registry=None):
    """The Secret's keys and values (plain text) for its type, checked."""
    if secret_type == TLS:
        tls_cert, tls_key = tls_cert.strip() + "\n", tls_key.strip() + "\n"  # PEM files end with a newline
        check_tls(tls_cert, tls_key)
        return {"tls.crt": tls_cert, "tls.key": tls_key}
    if secret_type == DOCKER:
        return {".dockerconfigjson": docker_config(**(registry or {}))}
    if secret_type != OPAQUE:
        raise ValidationError({"type": _("Unknown Secret type.")})
    if not data:
        raise ValidationError({"data": _("Give at least one key and value.")})
    check_data(data)
    return data


def _encoded(data):
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


# --- Secrets -------------------------------------------------------------------------


def create_secret(project, *, acting_user, name, secret_type, data=None, tls_cert="", tls_key="", registry=None):
    """One call to the cluster, as the user; the log gets the type and keys."""
    with oplog.recorded(
        acting_user, "secret.create", target=target(project, "Secret", name), payload={"type": secret_type}
    ) as outcome:
        _check_manage(acting_user, project)
        check_name(name, "Secret")
        values = secret_data(secret_type, data=data, tls_cert=tls_cert, tls_key=tls_key, registry=registry)
        outcome.payload = {"type": secret_type, "keys": sorted(values)}
        obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": project.name},
            "type": secret_type,
            "data": _encoded(values),
        }
        with talking_to(project, acting_user) as api:
            if api.get("Secret", name, project.name) is not None:
                raise ValidationError({"name": _("A Secret named %(name)s exists already.") % {"name": name}})
            api.apply(obj)
        outcome.after = {"type": secret_type, "keys": sorted(values)}


def update_secret(project, *, acting_user, name, resource_version, values=None, remove=()):
    """Set the given keys (new or changed values), remove others; refused with EditConflict when
    the Secret changed since the form was read."""
    values, remove = values or {}, list(remove)
    payload = {"set": sorted(values), "remove": sorted(remove)}
    with oplog.recorded(
        acting_user, "secret.update", target=target(project, "Secret", name), payload=payload
    ) as outcome:
        _check_manage(acting_user, project)
        if not values and not remove:
            raise ValidationError(_("Nothing to change."))
        check_data(values)
        with talking_to(project, acting_user) as api:
            live = live_object(api, project, "Secret", name)
            keys = sorted(live.get("data") or {})
            outcome.before = {"type": live.get("type"), "keys": keys}
            after = (set(keys) | set(values)) - set(remove)
            if not after:
                raise ValidationError(_("A Secret keeps at least one key; delete it instead."))
            if live.get("type") == TLS and ({"tls.crt", "tls.key"} & (set(values) | set(remove))):
                if {"tls.crt", "tls.key"} & set(remove):
                    raise ValidationError(_("A TLS Secret keeps tls.crt and tls.key."))
                current = {key: _decoded(live["data"].get(key, "")) for key in ("tls.crt", "tls.key")}
                check_tls(values.get("tls.crt", current["tls.crt"]), values.get("tls.key", current["tls.key"]))
            body = {
                "metadata": {"resourceVersion": resource_version},
                "data": {**_encoded(values), **{key: None for key in remove}},
            }
            _patch(api, project, "Secret", name, body)
        outcome.after = {"keys": sorted(after)}


def reveal_secret(project, *, acting_user, name, key):
    """One value, read as the user for showing once; the log says who read which key."""
    with oplog.recorded(
        acting_user, "secret.reveal", target=target(project, "Secret", name), payload={"data_key": key}
    ):  # "key" alone would be masked as a secret name
        _check_manage(acting_user, project)
        with talking_to(project, acting_user) as api:
            live = live_object(api, project, "Secret", name)
        data = live.get("data") or {}
        if key not in data:
            raise ValidationError(_("Secret %(name)s has no key %(key)s.") % {"name": name, "key": repr(key[:60])})
    return _decoded(data[key])


def _decoded(value):
    try:
        raw = base64.b64decode(value or "")
    except (binascii.Error, ValueError):
        return ""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return _("(%(n)s bytes of binary data)") % {"n": len(raw)}


def delete_secret(project, *, acting_user, name, confirm_name):
    return _delete(project, acting_user, "Secret", name, confirm_name)


def _delete(project, acting_user, kind, name, confirm_name):
    with oplog.recorded(acting_user, f"{kind.lower()}.delete", target=target(project, kind, name)) as outcome:
        _check_manage(acting_user, project)
        if confirm_name != name:
            raise ValidationError({"confirm_name": _("Type the name to confirm.")})
        with talking_to(project, acting_user) as api:
            live = live_object(api, project, kind, name)
            outcome.before = {"keys": sorted(live.get("data") or {})}
            api.delete(kind, name, project.name)


def _patch(api, project, kind, name, body):
    """A merge patch carrying the resourceVersion read with the form: 409 when it moved on."""
    try:
        return api.patch(kind, name, project.name, body)
    except ApiRefused as exc:
        if exc.status == 409:
            raise EditConflict(
                _(
                    "%(kind)s %(name)s was changed by someone else since you opened this form; it now shows the "
                    "current keys: check them and save again."
                )
                % {"kind": kind, "name": name}
            ) from None
        raise


# --- ConfigMaps ----------------------------------------------------------------------


def create_configmap(project, *, acting_user, name, data):
    with oplog.recorded(acting_user, "configmap.create", target=target(project, "ConfigMap", name)) as outcome:
        _check_manage(acting_user, project)
        check_name(name, "ConfigMap")
        check_data(data)
        with talking_to(project, acting_user) as api:
            if api.get("ConfigMap", name, project.name) is not None:
                raise ValidationError({"name": _("A ConfigMap named %(name)s exists already.") % {"name": name}})
            api.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": project.name},
                    "data": data,
                }
            )
        outcome.after = {"data": data}


def update_configmap(project, *, acting_user, name, resource_version, data):
    """Replace the ConfigMap's data with `data` (keys left out are removed)."""
    with oplog.recorded(acting_user, "configmap.update", target=target(project, "ConfigMap", name)) as outcome:
        _check_manage(acting_user, project)
        check_data(data)
        with talking_to(project, acting_user) as api:
            live = live_object(api, project, "ConfigMap", name)
            before = dict(live.get("data") or {})
            if before == data:
                raise ValidationError(_("Nothing to change."))
            outcome.before = {"data": before}
            body = {
                "metadata": {"resourceVersion": resource_version},
                "data": {**data, **{key: None for key in before if key not in data}},
            }
            _patch(api, project, "ConfigMap", name, body)
        outcome.after = {"data": data}


def delete_configmap(project, *, acting_user, name, confirm_name):
    return _delete(project, acting_user, "ConfigMap", name, confirm_name)
