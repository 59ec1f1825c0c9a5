"""Rendering a template version into Kubernetes objects for one namespace.

Why logic-less substitution and not Jinja: a template here is data (Kubernetes objects
with a few typed holes), not a program. Jinja's SandboxedEnvironment blocks unsafe
attribute access but still runs user-written loops and expressions (denial of service by
`range(10**9)`, and text-level rendering lets a value end a YAML string and start new
keys). So the manifests are parsed first, by the console's one hardened loader
(console/documents.py), with `${name}` references still in them as plain string
scalars; only then is each reference replaced inside the parsed tree. A value is a leaf
of that tree and nothing else: whatever characters it holds, it can never add a key, a
list item or a document. A scalar that is exactly `${name}` takes the parameter's type
(a number stays a number, a flag a boolean); inside a longer string the value is text.
`$${` writes a literal `${`.

Values are checked by type (and pattern, range or choices) before rendering; the rendered
objects are then checked as a YAML import is (workloads/imports.py: allowed kinds, the
namespace only, names, images, app labels) and by the tenant's Pod Security level.
"""

import re
from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import documents, quantity
from console.kube.kinds import KINDS
from workloads import imports, specs

from .choices import ParamType

MAX_BYTES = imports.MAX_BYTES
MAX_OBJECTS = 60
MAX_PARAMETERS = 60
MAX_VALUE = 1000
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$")
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

# Beyond what a YAML import takes: the policies and identities a topology carries.
EXTRA_KINDS = ("NetworkPolicy", "ServiceAccount")
ALLOWED_KINDS = imports.ALLOWED_KINDS + EXTRA_KINDS
# Creation order: what others refer to first, then who sends traffic, then workloads,
# then what points at workloads (autoscalers, routes, policies). Deletion goes backwards.
ORDER = {
    "ConfigMap": 0,
    "Secret": 0,
    "ServiceAccount": 0,
    "PersistentVolumeClaim": 0,
    "Service": 1,
    "Deployment": 2,
    "StatefulSet": 2,
    "HorizontalPodAutoscaler": 3,
    "Ingress": 3,
    "NetworkPolicy": 3,
}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = ParamType.STRING
    default: object = None
    required: bool = False
    description: str = ""
    pattern: str = ""
    min: int | None = None
    max: int | None = None
    choices: tuple = ()

    def as_dict(self):
        data = {"name": self.name, "type": self.type, "required": self.required}
        for key in ("default", "description", "pattern", "min", "max"):
            value = getattr(self, key)
            if value not in (None, ""):
                data[key] = value
        if self.choices:
            data["choices"] = list(self.choices)
        return data


# --- the schema --------------------------------------------------------------------------


def parse_parameters(text):
    """The parameters schema from its YAML text (a list of mappings); ValidationError naming
    the parameter and the problem."""
    try:
        data = documents.load_yaml(text or "", max_bytes=64 * 1024)
    except documents.DocumentError as exc:
        raise ValidationError(_("Parameters: %(error)s") % {"error": exc}) from None
    return check_parameters(data or [])


def check_parameters(data):
    if not isinstance(data, list):
        raise ValidationError(_("Parameters: write a list of mappings (- name: ..., type: ...)."))
    if len(data) > MAX_PARAMETERS:
        raise ValidationError(_("At most %(n)s parameters.") % {"n": MAX_PARAMETERS})
    result, seen = [], set()
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ValidationError(_("Parameter %(n)s is not a mapping.") % {"n": n})
        unknown = set(item) - {"name", "type", "default", "required", "description", "pattern", "min", "max", "choices"}
        if unknown:
            raise ValidationError(
                _("Parameter %(n)s: unknown keys %(keys)s.") % {"n": n, "keys": ", ".join(sorted(map(str, unknown)))}
            )
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ValidationError(
                _("Parameter %(n)s: the name %(name)s must be lower-case letters, digits and _ (not first).")
                % {"n": n, "name": repr(name)}
            )
        if name in seen:
            raise ValidationError(_("Parameter %(name)s is declared twice.") % {"name": name})
        seen.add(name)
        kind = item.get("type", ParamType.STRING)
        if kind not in ParamType.values:
            raise ValidationError(
                _("Parameter %(name)s: the type must be one of %(types)s.")
                % {"name": name, "types": ", ".join(ParamType.values)}
            )
        pattern = item.get("pattern") or ""
        if pattern:
            if not isinstance(pattern, str) or len(pattern) > 200:
                raise ValidationError(_("Parameter %(name)s: the pattern must be text of at most 200 characters."))
            if NESTED_QUANTIFIER.search(pattern):
                # (a+)+ and the like backtrack exponentially: a value could hold a web worker for minutes
                raise ValidationError(
                    _("Parameter %(name)s: the pattern repeats a group that repeats itself; simplify it.")
                    % {"name": name}
                )
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError(
                    _("Parameter %(name)s: the pattern is no regular expression (%(error)s).")
                    % {"name": name, "error": exc}
                ) from None
        bounds = {}
        for key in ("min", "max"):
            value = item.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValidationError(
                    _("Parameter %(name)s: %(key)s must be a whole number.") % {"name": name, "key": key}
                )
            bounds[key] = value
        choices = item.get("choices") or []
        if kind == ParamType.ENUM and (
            not isinstance(choices, list) or not choices or not all(isinstance(c, (str, int)) for c in choices)
        ):
            raise ValidationError(_("Parameter %(name)s: an enum needs a list of choices.") % {"name": name})
        description = item.get("description") or ""
        parameter = Parameter(
            name=name,
            type=kind,
            required=bool(item.get("required", False)),
            description=str(description)[:500],
            pattern=pattern,
            choices=tuple(str(c) for c in choices) if kind == ParamType.ENUM else (),
            **bounds,
        )
        default = item.get("default")
        if default is not None:
            try:
                default = coerce(parameter, default)
            except ValidationError as exc:
                raise ValidationError(
                    _("Parameter %(name)s: its default is not valid: %(error)s")
                    % {"name": name, "error": " ".join(exc.messages)}
                ) from None
            parameter = Parameter(**{**parameter.__dict__, "default": default})
        result.append(parameter)
    return result


def parameters_of(version):
    parameters = check_parameters(version.parameters)
    if version.template.recommended:  # shipped descriptions, in the reader's language (recommended/texts.py)
        parameters = [replace(p, description=_(p.description)) if p.description else p for p in parameters]
    return parameters


def parameters_text(parameters):
    import yaml

    return yaml.safe_dump([p.as_dict() for p in parameters], sort_keys=False, allow_unicode=True) if parameters else ""


# --- values -------------------------------------------------------------------------------


def coerce(parameter, value):
    """The value as the parameter's type, checked; ValidationError in plain words otherwise."""
    name = parameter.name
    if isinstance(value, str):
        value = value.strip()
    if parameter.type == ParamType.BOOL:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise ValidationError(_("%(name)s: answer true or false.") % {"name": name})
    if parameter.type == ParamType.INT:
        if isinstance(value, bool):
            raise ValidationError(_("%(name)s: give a whole number.") % {"name": name})
        try:
            number = int(str(value), 10)
        except ValueError:
            raise ValidationError(_("%(name)s: give a whole number.") % {"name": name}) from None
        if parameter.min is not None and number < parameter.min:
            raise ValidationError(_("%(name)s: at least %(min)s.") % {"name": name, "min": parameter.min})
        if parameter.max is not None and number > parameter.max:
            raise ValidationError(_("%(name)s: at most %(max)s.") % {"name": name, "max": parameter.max})
        return number
    text = str(value)
    if len(text) > MAX_VALUE or "\x00" in text:
        raise ValidationError(_("%(name)s: at most %(n)s characters.") % {"name": name, "n": MAX_VALUE})
    if parameter.type == ParamType.QUANTITY and not QUANTITY.match(text):
        raise ValidationError(
            _("%(name)s: %(value)s is not a quantity (like 250m, 512Mi or 10Gi).") % {"name": name, "value": repr(text)}
        )
    if parameter.type == ParamType.IMAGE:
        try:
            specs.check_image(text)
        except ValidationError as exc:
            raise ValidationError(f"{name}: {' '.join(exc.messages)}") from None
    if parameter.type == ParamType.ENUM and text not in parameter.choices:
        raise ValidationError(
            _("%(name)s: choose one of %(choices)s.") % {"name": name, "choices": ", ".join(parameter.choices)}
        )
    if parameter.pattern and not re.fullmatch(parameter.pattern, text):
        raise ValidationError(
            _("%(name)s: %(value)s does not match %(pattern)s.")
            % {"name": name, "value": repr(text), "pattern": parameter.pattern}
        )
    return text


def resolve(parameters, values):
    """Every parameter's value (given, else its default), checked; all problems at once."""
    values = values or {}
    resolved, errors = {}, {}
    for parameter in parameters:
        given = values.get(parameter.name)
        if given is None or given == "":
            if parameter.default is None:
                if parameter.required or parameter.type != ParamType.STRING:
                    errors[parameter.name] = _("%(name)s: a value is required.") % {"name": parameter.name}
                    continue
                resolved[parameter.name] = ""
                continue
            given = parameter.default
        try:
            resolved[parameter.name] = coerce(parameter, given)
        except ValidationError as exc:
            errors[parameter.name] = " ".join(exc.messages)
    unknown = set(values) - {p.name for p in parameters}
    if unknown:
        errors["__all__"] = _("Unknown parameters: %(names)s.") % {"names": ", ".join(sorted(unknown))}
    if errors:
        raise ValidationError(errors)
    return resolved


# --- the manifests ---------------------------------------------------------------------------


def document_lines(text):
    """The line where each document of a YAML stream starts (1-based)."""
    starts, current, seen_content = [], 1, False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---"):
            if seen_content:
                starts.append(current)
            current, seen_content = number + 1, False
        elif line.strip() and not line.lstrip().startswith("#"):
            if not seen_content:
                current = number
            seen_content = True
    if seen_content:
        starts.append(current)
    return starts


def check_references(text, parameters):
    """Every ${name} in the manifests names a declared parameter (line-numbered errors)."""
    names = {p.name for p in parameters}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in REFERENCE.finditer(line):
            if match.group(1):  # $${ is a literal
                continue
            if match.group(2) not in names:
                problems.append(
                    _("Line %(line)s: ${%(name)s} is not a declared parameter.")
                    % {"line": number, "name": match.group(2)[:63]}
                )
    if problems:
        raise ValidationError(problems[:20])


def load(text):
    """The documents of the manifests (hardened loader), with lines."""
    try:
        docs = documents.load_yaml_documents(text, max_bytes=MAX_BYTES, max_documents=MAX_OBJECTS)
    except documents.DocumentError as exc:
        raise ValidationError(str(exc)) from None
    if not docs:
        raise ValidationError(_("The manifests hold no object."))
    return docs


def _substitute_text(text, values):
    def one(match):
        if match.group(1):
            return "${" + match.group(2) + "}"
        value = values[match.group(2)]
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return REFERENCE.sub(one, text)


def substitute(node, values):
    """The tree with every reference replaced (a whole-scalar reference keeps the value's type)."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if isinstance(key, str) and "${" in key:
                raise ValidationError(
                    _("Parameters are not allowed in keys (%(key)s): only in values.") % {"key": key[:63]}
                )
            result[key] = substitute(value, values)
        return result
    if isinstance(node, list):
        return [substitute(item, values) for item in node]
    if isinstance(node, str) and "${" in node:
        whole = REFERENCE.fullmatch(node)
        if whole and not whole.group(1):
            return values[whole.group(2)]
        return _substitute_text(node, values)
    return node


def _check_extra(obj, n, namespace):
    """The import's checks for the kinds a template takes beyond it."""
    meta = obj["metadata"]
    known = KINDS[obj["kind"]]
    if obj.get("apiVersion") != known.api_version:
        raise ValidationError(
            _("Document %(n)s: use apiVersion %(wanted)s for %(kind)s (not %(given)s).")
            % {"n": n, "wanted": known.api_version, "kind": obj["kind"], "given": obj.get("apiVersion")}
        )
    name = meta.get("name") or ""
    if not isinstance(name, str) or len(name) > 63 or not specs.DNS_LABEL.match(name):
        raise ValidationError(
            _("Document %(n)s: the name %(name)s is not a DNS-1123 label of at most %(max)s characters.")
            % {"n": n, "name": repr(name), "max": 63}
        )
    if meta.get("namespace") not in (None, "", namespace):
        raise ValidationError(
            _("Document %(n)s: %(kind)s %(name)s is for namespace %(other)s; only %(ns)s can be imported here.")
            % {"n": n, "kind": obj["kind"], "name": name, "other": meta["namespace"], "ns": namespace}
        )


def check_object(obj, n, namespace):
    kind = obj.get("kind") if isinstance(obj, dict) else None
    known = KINDS.get(kind) if isinstance(kind, str) else None
    if known is not None and known.namespaced and kind not in ALLOWED_KINDS:
        raise ValidationError(
            _("Document %(n)s: %(kind)s objects cannot be part of a template (allowed: %(allowed)s).")
            % {"n": n, "kind": kind, "allowed": ", ".join(ALLOWED_KINDS)}
        )
    if kind in EXTRA_KINDS and isinstance(obj.get("metadata"), dict):
        _check_extra(obj, n, namespace)
    else:
        imports.check(obj, n, namespace)


def _with_line(exc, lines, n):
    line = lines[n - 1] if 0 < n <= len(lines) else None
    where = _(" (line %(line)s)") % {"line": line} if line else ""
    return ValidationError([f"{m}{where}" for m in exc.messages])


def render(text, parameters, values, namespace):
    """The version's objects for `namespace` with these values: checked, in creation order."""
    resolved = resolve(parameters, values)
    return render_resolved(text, parameters, resolved, namespace), resolved


def render_resolved(text, parameters, resolved, namespace):
    check_references(text, parameters)
    docs = load(text)
    lines = document_lines(text)
    objects, seen = [], set()
    for n, doc in enumerate(docs, start=1):
        obj = substitute(doc, resolved)
        try:
            check_object(obj, n, namespace)
        except ValidationError as exc:
            raise _with_line(exc, lines, n) from None
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise _with_line(
                ValidationError(
                    _("Document %(n)s: %(kind)s %(name)s appears twice.") % {"n": n, "kind": key[0], "name": key[1]}
                ),
                lines,
                n,
            )
        seen.add(key)
        objects.append(imports.prepare(obj, namespace))
    return sorted(objects, key=lambda o: ORDER.get(o["kind"], 9))


def validate_version(text, parameters):
    """A version is saved only when it renders with its defaults (a sample value for
    parameters without one): line-numbered errors otherwise."""
    sample = {}
    for p in parameters:
        if p.default is None:
            sample[p.name] = {
                ParamType.INT: p.min if p.min is not None else 1,
                ParamType.QUANTITY: "1",
                ParamType.IMAGE: "example.com/image:1",
                ParamType.BOOL: True,
                ParamType.ENUM: p.choices[0] if p.choices else "",
            }.get(p.type, "sample")
    sample.update({p.name: p.default for p in parameters if p.default is not None})
    return render_resolved(text, parameters, sample, "sample-namespace")


def outputs(version, values):
    return [
        {"name": o.get("name", ""), "value": _substitute_text(str(o.get("value", "")), values)}
        for o in version.outputs or []
        if isinstance(o, dict)
    ]


def quantity_of(text):
    return quantity.parse(str(text))
