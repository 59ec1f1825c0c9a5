"""metadata.managedFields as the API server's field manager keeps them.

Every write is recorded for a manager, identified by its name, its operation (Apply for
server-side apply, Update for create, update and the other patches), the API version of an
Update and the subresource it went through (status, scale). An Update takes the fields it
adds or changes from everyone else and never conflicts. An Apply owns exactly the fields of
its configuration: a field another manager owns and the configuration changes is a conflict
(409) unless forced, when the field moves to the applier; equal values are shared; a field
the applier set before and no longer does is removed from the object when nobody else owns
it. Entries that own nothing are dropped.

The wrappers a real API server puts around this are here too: the fields of an object that
has no managedFields yet belong to "before-first-apply" on its first apply; `kubectl` taking
over fields from client-side apply may do so where the object still holds what the
last-applied-configuration annotation says, and keeps that annotation up to date.
"""

import copy
import json
from dataclasses import dataclass, field

from . import fieldsets, schemas
from .errors import ApiError
from .fieldsets import FieldError

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT = "ancient-changes"
MAX_UPDATERS = 10
STATUS = ("f:status",)
# what nobody owns (the field manager strips it from every manager's set)
STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + f)
    for f in (
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    )
}


@dataclass
class Entry:
    manager: str
    operation: str  # Apply or Update
    api_version: str
    subresource: str = ""
    time: str = None  # None: no write of this manager changed the object yet
    paths: set = field(default_factory=set)

    @property
    def key(self):
        """What tells managers apart: an applier keeps one entry whatever version it applies."""
        return (self.manager, self.operation, self.api_version if self.operation == "Update" else "", self.subresource)

    def identifier(self):
        """The manager identifier Kubernetes builds (JSON of the entry without time and fields)."""
        out = {"manager": self.manager, "operation": self.operation}
        if self.operation == "Update":
            out["apiVersion"] = self.api_version
        if self.subresource:
            out["subresource"] = self.subresource
        return json.dumps(out, separators=(",", ":"))

    def printed(self):
        """How a conflict message names the manager."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


class TypedPatchError(ApiError):
    """A configuration structured-merge-diff cannot read: a plain error on a real server, so a
    500 Status without a reason."""

    def __init__(self, message):
        super().__init__(500, "", message)

    def status(self):
        body = super().status()
        del body["reason"]
        return body


# --- entries


def decode(entries):
    """{key: Entry} from metadata.managedFields; ValueError for entries a server would not take."""
    managers = {}
    for entry in entries or []:
        if not isinstance(entry, dict) or entry.get("operation") not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not entry.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if entry.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType {entry.get('fieldsType')!r}")
        if not isinstance(entry.get("time"), (str, type(None))):
            raise ValueError("time must be a timestamp")
        decoded = Entry(
            str(entry.get("manager") or ""),
            entry["operation"],
            entry["apiVersion"],
            str(entry.get("subresource") or ""),
            entry.get("time"),
            fieldsets.from_fields_v1(entry.get("fieldsV1") or {}),
        )
        managers[decoded.key] = decoded
    return managers


def encode(managers):
    """metadata.managedFields in the order the API server writes them: appliers first, then by
    time (to the second), manager, API version and subresource."""
    entries = [e for e in managers.values() if e.paths]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    out = []
    for e in entries:
        item = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            item["time"] = e.time
        item.update(fieldsType="FieldsV1", fieldsV1=fieldsets.to_fields_v1(e.paths))
        if e.subresource:
            item["subresource"] = e.subresource
        out.append(item)
    return out


def cap_updaters(managers):
    """At most 10 Update entries: the oldest are merged, per API version, into "ancient-changes"."""
    updaters = sorted(
        (e for e in managers.values() if e.operation == "Update" and e.paths),
        key=lambda e: (e.time or "", e.identifier()),
    )
    left = len(updaters)
    first_of_version = {}
    for entry in updaters:
        if left <= MAX_UPDATERS:
            break
        first = first_of_version.setdefault(entry.api_version, entry)
        if first is entry:
            continue
        bucket = Entry(ANCIENT, "Update", entry.api_version)
        if bucket.key not in managers:
            managers.pop(first.key)
            bucket.paths = set(first.paths)
            managers[bucket.key] = bucket
        bucket = managers[bucket.key]
        bucket.paths |= entry.paths
        bucket.time = entry.time
        del managers[entry.key]
        left -= 1


def store_entries(obj, managers):
    cap_updaters(managers)
    entries = encode(managers)
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def content(obj):
    """The object as field sets see it: without its managedFields."""
    if not isinstance(obj, dict):
        return {}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj, metadata={k: v for k, v in meta.items() if k != "managedFields"})
    return obj


def _live_managers(live):
    try:
        return decode(((live or {}).get("metadata") or {}).get("managedFields"))
    except ValueError:
        return {}


def owned(paths, resource, subresource):
    """What a write through the main resource or a subresource may own: the main resource of a
    kind with a status subresource never owns status, the status subresource nothing else."""
    if subresource == "status":
        return {p for p in paths if p[:1] == STATUS}
    if resource.has_status:
        return {p for p in paths if p[:1] != STATUS}
    return set(paths)


def schema(store, resource):
    """The schema node of a kind; custom resources read their CustomResourceDefinition."""
    crd = store.objects.get(("customresourcedefinitions", "", resource.key)) if "." in resource.key else None
    return schemas.of(resource, crd)


# --- Update: create, update, patches other than apply


def _base(live, new, subresource):
    """The managers an update starts from: those the client sent (a list of empty entries
    resets them), or else the live object's, so clients unaware of managedFields keep them."""
    given = (new.get("metadata") or {}).get("managedFields")
    if not subresource and isinstance(given, list) and given:
        if all(entry == {} for entry in given):
            return {}
        try:
            return decode(given)
        except ValueError:
            pass
    return _live_managers(live)


def update(node, resource, live, new, manager, now, subresource="", api_version=None, managers=None):
    """Set new's managedFields after `manager` wrote it over live (None for a create): the
    fields it added or changed become its own and leave every other manager."""
    managers = _base(live, new, subresource) if managers is None else managers
    before = content(live) if live is not None else schemas.zero(resource)
    added, modified, removed = fieldsets.compare(before, content(new), node)
    changed = owned(added | modified, resource, subresource)
    removed = owned(removed, resource, subresource)
    for entry in managers.values():
        entry.paths -= changed | removed
    mine = changed - STRIPPED
    if mine:
        entry = Entry(manager, "Update", api_version or resource.api_version, subresource or "", now)
        previous = managers.get(entry.key)
        entry.paths = mine | (previous.paths if previous else set())
        managers[entry.key] = entry
    store_entries(new, managers)
    return new


# --- Apply


def apply(node, resource, live, config, manager, force, now, subresource=""):
    """The object after `manager` applies `config` to `live` (None when creating), with its
    managedFields; a 409 Conflict naming each field another manager owns with another value."""
    check_config(resource, config)
    meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    try:
        applied = fieldsets.to_field_set(config, node)
    except FieldError as exc:
        group, version = resource.group, resource.version
        raise TypedPatchError(
            f"failed to create typed patch object ({meta.get('namespace', '')}/{meta.get('name', '')}; "
            f"{group}/{version}, Kind={resource.kind}): {exc}"
        ) from None
    managers = _live_managers(live)
    if live is not None and not managers:  # an object nobody owns yet: its fields so far are someone's
        update(node, resource, None, copy.deepcopy(content(live)), BEFORE_FIRST_APPLY, now, managers=managers)
    before = content(live) if live is not None else schemas.zero(resource)
    merged = fieldsets.prune_nulls(
        fieldsets.merge(copy.deepcopy(content(live)) if live is not None else {}, config, node)
    )

    applied = owned(applied, resource, subresource)
    mine = Entry(manager, "Apply", resource.api_version, subresource or "", paths=applied - STRIPPED)
    previous = managers.get(mine.key)
    if previous:
        mine.time = previous.time
    managers[mine.key] = mine
    if previous:  # what this applier set before and dropped goes, unless someone still owns it
        # (the configuration's metadata.name, not yet stripped, keeps metadata itself in place)
        everyone = applied.union(*(e.paths for e in managers.values()))
        dropped = fieldsets.ensure_named(previous.paths, node) - fieldsets.ensure_named(everyone, node)
        for path in sorted(dropped, key=len):
            fieldsets.remove(merged, path, node)

    added, modified, removed = fieldsets.compare(before, merged, node)
    changed = owned(added | modified, resource, subresource)
    conflicts = {
        key: entry.paths & changed for key, entry in managers.items() if key != mine.key and entry.paths & changed
    }
    if conflicts and not force:
        allowed = last_applied_fields(live, node) if manager == "kubectl" else None
        if allowed is not None:
            conflicts_left = {key: paths - allowed for key, paths in conflicts.items() if paths - allowed}
        else:
            conflicts_left = conflicts
        if conflicts_left:
            raise conflict_error([(managers[key], paths) for key, paths in conflicts_left.items()])
    gone = owned(removed, resource, subresource)
    for key, entry in managers.items():
        if key != mine.key:
            entry.paths -= conflicts.get(key, set()) | gone
    if live is None or added or modified or removed:
        mine.time = now
    if manager == "kubectl" and LAST_APPLIED in ((merged.get("metadata") or {}).get("annotations") or {}):
        merged["metadata"]["annotations"][LAST_APPLIED] = last_applied_text(config)
    store_entries(merged, managers)
    return merged


def check_config(resource, config):
    """What the API server refuses in an applied configuration before looking at its fields."""
    meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    if meta.get("managedFields") is not None:
        raise ApiError(400, "BadRequest", "metadata.managedFields must be nil")
    sent = config.get("apiVersion")
    if sent and sent != resource.api_version:
        raise ApiError(
            400,
            "BadRequest",
            f"Incorrect version specified in apply patch. Specified patch version: {sent}, "
            f"expected: {resource.api_version}",
        )


def apply_scale(node, resource, live, scale, manager, force, now):
    """An apply to the scale subresource: the Scale's spec.replicas is the object's."""
    meta = scale.get("metadata") if isinstance(scale.get("metadata"), dict) else {}
    check_config(resource, {"metadata": meta})
    config = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
    }
    spec = scale.get("spec")
    if isinstance(spec, dict) and "replicas" in spec:
        config["spec"] = {"replicas": spec["replicas"]}
    return apply(node, resource, live, config, manager, force, now, subresource="scale")


def conflict_error(conflicts):
    """409 in the API server's words, for [(entry, paths)]: one conflict on one line, several
    grouped by manager."""
    ordered = sorted(conflicts, key=lambda item: item[0].identifier())
    flat = [(entry, path) for entry, paths in ordered for path in sorted(paths, key=fieldsets.path_order)]
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.printed()}",
            "field": fieldsets.path_string(path),
        }
        for entry, path in flat
    ]
    if len(flat) == 1:
        message = f"Apply failed with 1 conflict: conflict with {flat[0][0].printed()}: {causes[0]['field']}"
    else:
        lines = []
        for entry, paths in ordered:
            lines.append(f"conflicts with {entry.printed()}:")
            lines += [f"- {fieldsets.path_string(p)}" for p in sorted(paths, key=fieldsets.path_order)]
        message = f"Apply failed with {len(flat)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


# --- kubectl's move from client-side to server-side apply


def last_applied_fields(live, node):
    """The fields of the last-applied-configuration annotation whose values the object still
    holds: `kubectl` may take these from client-side apply without a conflict."""
    text = (((live or {}).get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = json.loads(text)
        if not isinstance(last, dict):
            return None
        fields = fieldsets.to_field_set(last, node)
    except (ValueError, FieldError):
        return None
    _, modified, _ = fieldsets.compare(last, content(live), node)
    return fields - modified


def last_applied_text(config):
    """The annotation as the API server writes it: the applied configuration without the
    annotation, JSON with sorted keys and Go's escapes, and a newline."""
    config = copy.deepcopy(config)
    annotations = (config.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text + "\n"
