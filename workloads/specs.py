"""What an app is made of, in the deploy form's terms, and the rules it must follow.

A spec is a plain dict (stored on App.spec, logged in the operation log):

    {"image": "nginx:1.27", "replicas": 2,
     "ports": [{"name": "http", "port": 80}],
     "env": [{"name": "MODE", "value": "prod"}], "env_secret": "db-credentials",
     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {...}},
     "liveness": {"path": "/healthz", "port": 80}, "readiness": None,
     "command": ["nginx"], "args": ["-g", "daemon off;"],
     "volumes": [{"name": "data", "mount_path": "/var/lib/data", "size": "1Gi"}],   # StatefulSets only
     "env_from": [{"kind": "ConfigMap", "name": "settings"}],   # every key of each becomes a variable
     "config_volumes": [{"kind": "Secret", "name": "certs", "mount_path": "/etc/certs"}],   # read-only files
     "run_as_user": None}   # a UID, or None: the image's own user, which must not be root

`parse_*` read what people type and raise ValidationError with a message naming the
field; `validate` checks a whole spec (from the form, YAML or another caller) the same way.
"""

import re
import shlex

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import quantity

from .choices import AppKind

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Leaves room for what Kubernetes appends: ReplicaSet and pod hashes, StatefulSet ordinals.
APP_NAME_MAX = 40
MAX_REPLICAS = 100
MAX_UID = 2**31 - 1
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # IANA_SVC_NAME: also at most 15 and one letter
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

# Image references, as the container runtime parses them (distribution/reference).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$")


def _error(message, field=None):
    return ValidationError({field: message} if field else message)


def check_app_name(name):
    if not name or len(name) > APP_NAME_MAX or not DNS_LABEL.match(name):
        raise _error(
            _(
                "App name %(value)s is not valid: use at most %(max)s lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (DNS-1123 label)."
            )
            % {"value": repr(name), "max": APP_NAME_MAX},
            "name",
        )


def check_image(image):
    image = (image or "").strip()
    if not image:
        raise _error(_("An image is required."), "image")
    if len(image) > 512 or not IMAGE_REFERENCE.match(image) or len(image.split("@")[0].rsplit(":", 1)[0]) > 255:
        hint = _(" Repository names are lower-case.") if image.lower() != image and "/" not in image else ""
        raise _error(
            _(
                "%(image)s is not a valid image reference: expected [registry/]repository[:tag][@sha256:digest], "
                "for example nginx:1.27 or registry.example.com/team/api:2.1.%(hint)s"
            )
            % {"image": repr(image), "hint": hint},
            "image",
        )
    return image


def parse_ports(text):
    """'80' or 'http:80, metrics:9090' → [{"name": ..., "port": ...}]."""
    ports, names, numbers = [], set(), set()
    for n, item in enumerate(re.split(r"[\s,]+", (text or "").strip())):
        if not item:
            continue
        name, _sep, number = item.rpartition(":")
        name = name or ("http" if n == 0 else f"port-{number}")
        if not number.isdigit() or not 1 <= int(number) <= 65535:
            raise _error(
                _("Port %(value)s is not valid: ports are numbers from 1 to 65535.") % {"value": repr(item)}, "ports"
            )
        if len(name) > 15 or not PORT_NAME.match(name) or not re.search("[a-z]", name):
            raise _error(
                _(
                    "Port name %(value)s is not valid: at most 15 lower-case letters, digits and '-', with at least "
                    "one letter."
                )
                % {"value": repr(name)},
                "ports",
            )
        if name in names or int(number) in numbers:
            raise _error(_("Port %(value)s is listed twice.") % {"value": repr(item)}, "ports")
        names.add(name)
        numbers.add(int(number))
        ports.append({"name": name, "port": int(number)})
    return ports


def format_ports(ports):
    return ", ".join(f"{p['name']}:{p['port']}" for p in ports or [])


def parse_env(text):
    """KEY=value lines → [{"name", "value"}]."""
    env, seen = [], set()
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name:
            raise _error(_("Environment line %(line)s is not KEY=value.") % {"line": repr(line.strip())}, "env")
        if not ENV_NAME.match(name):
            raise _error(
                _(
                    "Environment variable name %(name)s is not valid: letters, digits, '_', '-' and '.', "
                    "not starting with a digit."
                )
                % {"name": repr(name)},
                "env",
            )
        if name in seen:
            raise _error(_("Environment variable %(name)s is set twice.") % {"name": name}, "env")
        seen.add(name)
        env.append({"name": name, "value": value})
    return env


def format_env(env):
    return "\n".join(f"{item['name']}={item['value']}" for item in env or [])


def parse_words(text, field):
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise _error(
            _("%(text)s cannot be split into words: %(error)s") % {"text": repr(text), "error": exc}, field
        ) from None


def format_words(words):
    return shlex.join(words or [])


def parse_quantity(value, field, what):
    value = (value or "").strip()
    if not value:
        return ""
    try:
        amount = quantity.parse(value)
    except ValueError:
        raise _error(
            _("%(what)s %(value)s is not a quantity (for example 500m or 2 for CPU, 512Mi or 4Gi for memory).")
            % {"what": what, "value": repr(value)},
            field,
        ) from None
    if amount <= 0:
        raise _error(_("%(what)s must be more than zero.") % {"what": what}, field)
    return value


def parse_probe(path, port, ports, field):
    path = (path or "").strip()
    if not path:
        return None
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise _error(_("Probe path %(value)s must start with '/' and hold no spaces.") % {"value": repr(path)}, field)
    if port in (None, ""):
        if not ports:
            raise _error(_("Give the probe's port, or a container port."), field)
        port = ports[0]["port"]
    if not 1 <= int(port) <= 65535:
        raise _error(_("Probe port %(value)s is out of range 1-65535.") % {"value": port}, field)
    return {"path": path, "port": int(port)}


def parse_volumes(text):
    """'name /mount/path size' lines → [{"name", "mount_path", "size"}]."""
    volumes, names, paths = [], set(), set()
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise _error(
                _("Volume line %(line)s is not 'name /mount/path size'.") % {"line": repr(line.strip())}, "volumes"
            )
        name, path, size = parts
        if len(name) > 20 or not DNS_LABEL.match(name):
            raise _error(
                _("Volume name %(value)s is not valid: at most 20 lower-case letters, digits and '-'.")
                % {"value": repr(name)},
                "volumes",
            )
        if not path.startswith("/"):
            raise _error(_("Mount path %(value)s must be absolute.") % {"value": repr(path)}, "volumes")
        if name in names or path in paths:
            raise _error(_("Volume %(value)s is listed twice.") % {"value": repr(line.strip())}, "volumes")
        names.add(name)
        paths.add(path)
        volumes.append({"name": name, "mount_path": path, "size": parse_quantity(size, "volumes", _("Volume size"))})
    return volumes


def format_volumes(volumes):
    return "\n".join(f"{v['name']} {v['mount_path']} {v['size']}" for v in volumes or [])


def check_run_as_user(value):
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_UID):
        raise _error(_("Run as user must be a user id from 0 to %(max)s.") % {"max": MAX_UID}, "run_as_user")


def check_resources(resources):
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for section, values in (("requests", requests), ("limits", limits)):
        for resource, value in values.items():
            if resource not in ("cpu", "memory"):
                raise _error(_("Unknown resource %(name)s.") % {"name": resource})
            parse_quantity(value, f"{resource}_{section[:-1]}", resource)
    for resource in ("cpu", "memory"):
        if (
            requests.get(resource)
            and limits.get(resource)
            and quantity.parse(requests[resource]) > quantity.parse(limits[resource])
        ):
            raise _error(
                _("The %(resource)s request (%(request)s) is above its limit (%(limit)s).")
                % {"resource": resource, "request": requests[resource], "limit": limits[resource]},
                f"{resource}_request",
            )


def validate(kind, spec):
    """Check a whole spec; raises ValidationError naming the first problem."""
    if kind not in AppKind.values:
        raise _error(_("Unknown kind %(kind)s: apps are Deployments or StatefulSets.") % {"kind": repr(kind)}, "kind")
    check_image(spec.get("image"))
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or not 0 <= replicas <= MAX_REPLICAS:
        raise _error(_("Replicas must be a number from 0 to %(max)s.") % {"max": MAX_REPLICAS}, "replicas")
    parse_ports(format_ports(spec.get("ports")))
    parse_env(format_env(spec.get("env")))
    secret = spec.get("env_secret") or ""
    if secret and (len(secret) > 253 or not DNS_SUBDOMAIN.match(secret)):
        raise _error(
            _("Secret name %(value)s is not valid (DNS-1123 subdomain).") % {"value": repr(secret)}, "env_secret"
        )
    check_resources(spec.get("resources") or {})
    for field in ("liveness", "readiness"):
        probe = spec.get(field)
        if probe:
            parse_probe(probe.get("path"), probe.get("port"), spec.get("ports"), field)
    volumes = spec.get("volumes") or []
    if volumes and kind != AppKind.STATEFULSET:
        raise _error(_("Deployments are stateless: use a StatefulSet for persistent volumes."), "volumes")
    parse_volumes(format_volumes(volumes))
    check_config_refs(spec.get("env_from") or [], spec.get("config_volumes") or [], volumes)
    check_run_as_user(spec.get("run_as_user"))


CONFIG_KINDS = ("Secret", "ConfigMap")


def check_config_refs(env_from, config_volumes, volumes=()):
    """Secrets and ConfigMaps used as environment or as read-only files: known kinds, valid
    names, each mount path once (persistent volumes' paths included)."""
    seen, paths = set(), {v["mount_path"] for v in volumes}
    for field, refs in (("env_from", env_from), ("config_volumes", config_volumes)):
        for ref in refs:
            kind, name = ref.get("kind"), ref.get("name") or ""
            if kind not in CONFIG_KINDS:
                raise _error(_("Use a Secret or a ConfigMap, not %(kind)s.") % {"kind": repr(kind)}, field)
            if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
                raise _error(
                    _("%(kind)s name %(value)s is not valid (DNS-1123 subdomain).")
                    % {"kind": kind, "value": repr(name)},
                    field,
                )
            if field == "env_from":
                if (kind, name) in seen:
                    raise _error(_("%(kind)s %(name)s is listed twice.") % {"kind": kind, "name": name}, field)
                seen.add((kind, name))
                continue
            path = ref.get("mount_path") or ""
            if not path.startswith("/") or any(c.isspace() for c in path) or len(path) > 200:
                raise _error(_("Mount path %(value)s must be absolute, without spaces.") % {"value": repr(path)}, field)
            if path in paths:
                raise _error(_("Mount path %(value)s is used twice.") % {"value": path}, field)
            paths.add(path)


def empty_spec():
    return {
        "image": "",
        "replicas": 1,
        "ports": [],
        "env": [],
        "env_secret": "",
        "resources": {"requests": {}, "limits": {}},
        "liveness": None,
        "readiness": None,
        "command": [],
        "args": [],
        "volumes": [],
        "run_as_user": None,
        "env_from": [],
        "config_volumes": [],
    }


def loggable(spec):
    """The spec for the operation log: environment as a mapping, so that secret-looking
    variables (DB_PASSWORD, API_TOKEN) are masked like every other secret."""
    if not spec:
        return spec
    return {**spec, "env": {item["name"]: item["value"] for item in spec.get("env") or []}}


def changes(before, after):
    """{field: [old, new]} for what differs between two specs (upgrade entries)."""
    keys = sorted(set(before or {}) | set(after or {}))
    return {
        key: [(before or {}).get(key), (after or {}).get(key)]
        for key in keys
        if (before or {}).get(key) != (after or {}).get(key)
    }
