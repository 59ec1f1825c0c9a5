"""Manifests pasted or uploaded by a tenant: parsed, checked against what a tenant may
create (namespaced kinds, its own namespace only), labelled like the console's own apps,
and compared with what runs (the server-side dry run's answer against the live object)."""

import difflib

import yaml
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from console import documents as documents_loader
from console.kube.kinds import KINDS

from . import manifests, specs

MAX_BYTES = 256 * 1024
MAX_OBJECTS = 50
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
# What a tenant imports. Secrets are left out on purpose: the console would keep their
# content in its job records; they are created with kubectl.
ALLOWED_KINDS = WORKLOAD_KINDS + ("Service", "Ingress", "ConfigMap", "HorizontalPodAutoscaler", "PersistentVolumeClaim")
VOLATILE_META = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
)


def parse(text, namespace):
    """The objects in a YAML text (one or many documents), each checked; ValidationError
    naming the document and the problem otherwise."""
    try:
        documents = documents_loader.load_yaml_documents(text, max_bytes=MAX_BYTES, max_documents=MAX_OBJECTS)
    except documents_loader.DocumentError as exc:
        raise ValidationError(str(exc)) from None
    objects = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List" and isinstance(document.get("items"), list):
            objects.extend(document["items"])
        else:
            objects.append(document)
    if not objects:
        raise ValidationError(_("There is nothing to import."))
    if len(objects) > MAX_OBJECTS:
        raise ValidationError(_("At most %(n)s objects at once.") % {"n": MAX_OBJECTS})
    seen = set()
    for n, obj in enumerate(objects, start=1):
        check(obj, n, namespace)
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise ValidationError(
                _("Document %(n)s: %(kind)s %(name)s appears twice.") % {"n": n, "kind": key[0], "name": key[1]}
            )
        seen.add(key)
    return [prepare(obj, namespace) for obj in objects]


def check(obj, n, namespace):
    if not isinstance(obj, dict):
        raise ValidationError(
            _("Document %(n)s is not a Kubernetes object (a mapping with apiVersion, kind and metadata).") % {"n": n}
        )
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    meta = obj.get("metadata")
    if (
        not kind
        or not api_version
        or not isinstance(kind, str)
        or not isinstance(api_version, str)
        or not isinstance(meta, dict)
    ):
        raise ValidationError(_("Document %(n)s needs apiVersion, kind and metadata.") % {"n": n})
    known = KINDS.get(kind)
    if known is not None and not known.namespaced:
        raise ValidationError(
            _("Document %(n)s: %(kind)s is a cluster-scoped object; tenants create objects in their namespaces only.")
            % {"n": n, "kind": kind}
        )
    if kind not in ALLOWED_KINDS:
        raise ValidationError(
            _("Document %(n)s: %(kind)s objects cannot be imported here (allowed: %(allowed)s).")
            % {"n": n, "kind": kind, "allowed": ", ".join(ALLOWED_KINDS)}
        )
    if known.api_version != api_version:
        raise ValidationError(
            _("Document %(n)s: use apiVersion %(wanted)s for %(kind)s (not %(given)s).")
            % {"n": n, "wanted": known.api_version, "kind": kind, "given": api_version}
        )
    name = meta.get("name") or ""
    limit = specs.APP_NAME_MAX if kind in WORKLOAD_KINDS else 63
    if not isinstance(name, str) or len(name) > limit or not specs.DNS_LABEL.match(name):
        raise ValidationError(
            _("Document %(n)s: the name %(name)s is not a DNS-1123 label of at most %(max)s characters.")
            % {"n": n, "name": repr(name), "max": limit}
        )
    if meta.get("namespace") not in (None, "", namespace):
        raise ValidationError(
            _("Document %(n)s: %(kind)s %(name)s is for namespace %(other)s; only %(ns)s can be imported here.")
            % {"n": n, "kind": kind, "name": name, "other": meta["namespace"], "ns": namespace}
        )
    if kind in WORKLOAD_KINDS:
        # Any level may be the wrong shape (a list, a string): it then has no containers.
        template = _mapping(_mapping(obj.get("spec")).get("template"))
        containers = _mapping(template.get("spec")).get("containers")
        if not isinstance(containers, list) or not containers:
            raise ValidationError(
                _("Document %(n)s: %(kind)s %(name)s has no containers.") % {"n": n, "kind": kind, "name": name}
            )
        for container in containers:
            image = _mapping(container).get("image")
            try:
                specs.check_image(image if isinstance(image, str) else None)  # a number or a list is no image
            except ValidationError as exc:
                raise ValidationError(
                    _("Document %(n)s: %(error)s") % {"n": n, "error": " ".join(exc.messages)}
                ) from None
        # prepare() adds the app label to both: they must be mappings (or absent).
        for where, labels in (
            ("metadata.labels", meta.get("labels")),
            ("spec.template.metadata", template.get("metadata")),
            ("spec.template.metadata.labels", _mapping(template.get("metadata")).get("labels")),
        ):
            if labels is not None and not isinstance(labels, dict):
                raise ValidationError(
                    _("Document %(n)s: %(error)s") % {"n": n, "error": f"{where} must be a mapping (key: value)."}
                )


def _mapping(value):
    return value if isinstance(value, dict) else {}


def prepare(obj, namespace):
    """Put the object in the namespace and label workloads' pods as the console's apps."""
    obj = yaml.safe_load(yaml.safe_dump(obj))  # a deep copy of plain data
    meta = obj["metadata"]
    meta["namespace"] = namespace
    for field in VOLATILE_META:
        meta.pop(field, None)
    obj.pop("status", None)
    if obj["kind"] in WORKLOAD_KINDS:
        name = meta["name"]
        # labels: null (or metadata: null) is none at all, as for Kubernetes
        meta["labels"] = {**(meta.get("labels") or {}), manifests.APP_LABEL: name}
        template = obj["spec"]["template"]
        template["metadata"] = template.get("metadata") or {}
        template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), manifests.APP_LABEL: name}
    return obj


def comparable(obj):
    """An object as a reader compares it: no status, server bookkeeping or defaults noise."""
    if obj is None:
        return ""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for field in VOLATILE_META:
        meta.pop(field, None)
    annotations = meta.get("annotations") or {}
    for key in [k for k in annotations if k.startswith("deployment.kubernetes.io/")]:
        annotations.pop(key)
    if not annotations:
        meta.pop("annotations", None)
    return yaml.safe_dump(obj, sort_keys=True, allow_unicode=True)


def diff(live, result):
    """(action, unified diff text): create, change or unchanged."""
    before, after = comparable(live), comparable(result)
    if live is None:
        return "create", after
    if before == after:
        return "unchanged", ""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), _("on the cluster"), _("after import"), lineterm="", n=2
    )
    return "change", "\n".join(lines)
