"""The four patch flavours: JSON merge patch (RFC 7386), strategic merge patch (lists of
containers, ports, env, volumes… merged by key), JSON patch (RFC 6902), and server-side
apply with managedFields, conflicts and `force`."""

import copy
import json

from .errors import ApiError

# strategic merge keys by list field name; "ports" depends on what the items hold
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "addresses": "type", "taints": "key", "volumeClaimTemplates": None,
}
PRIMITIVE_MERGE = {"finalizers"}  # lists of strings merged as sets


def merge_key(field, items):
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def identity(item, key):
    """What identifies an item of a keyed list. Ports are keyed by number and protocol
    (TCP unless said), so DNS on 53/UDP and 53/TCP are two items, as in Kubernetes."""
    if key in ("port", "containerPort"):
        return {key: item.get(key), "protocol": item.get("protocol", "TCP")}
    return {key: item.get(key)}


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target, patch, field=None):
    """Strategic merge patch as kubectl sends it (keyed lists, $patch, $retainKeys, $setElementOrder)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = merge_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain or k not in (target or {})}
    return result


def merge_list(field, current, patch):
    current = current if isinstance(current, list) else []
    if field in PRIMITIVE_MERGE:
        return current + [v for v in patch if v not in current]
    key = merge_key(field, patch + current)
    if not key or not all(isinstance(i, dict) for i in patch):
        return [strategic_merge(None, i) if isinstance(i, dict) else i for i in patch
                if not (isinstance(i, dict) and i.get("$patch") == "delete")]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [{k: v for k, v in i.items() if not k.startswith("$")} for i in patch if i.get("$patch") != "replace"]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        position = next((n for n, existing in enumerate(result) if isinstance(existing, dict) and identity(existing, key) == identity(item, key)), None)
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append(strategic_merge(None, item))
        else:
            result[position] = strategic_merge(result[position], item)
    return result


# --- JSON patch --------------------------------------------------------------------------------


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def json_patch(doc, operations):
    """RFC 6902 on a copy of doc; errors are 422 as the API server answers them."""
    doc = copy.deepcopy(doc)
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for operation in operations:
        op, path = operation.get("op"), operation.get("path", "")
        try:
            parts = _pointer(path)
            if op == "test":
                if _walk(doc, parts) != operation.get("value"):
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {path} failed")
                continue
            if op in ("move", "copy"):
                value = copy.deepcopy(_walk(doc, _pointer(operation.get("from", ""))))
                if op == "move":
                    doc = _remove(doc, _pointer(operation["from"]))
                doc = _add(doc, parts, value)
            elif op == "add":
                doc = _add(doc, parts, copy.deepcopy(operation.get("value")))
            elif op == "remove":
                doc = _remove(doc, parts)
            elif op == "replace":
                _walk(doc, parts)  # must exist
                doc = _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(operation.get("value")))
            else:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: Unexpected kind: {op}")
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                           f"{op} operation does not apply: doc is missing path: \"{path}\"") from None
    return doc


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
        if last != "-" and int(last) > len(parent) - 1:
            raise IndexError(last)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise KeyError(last)
    return doc


def _remove(doc, parts):
    if not parts:
        return None
    parent = _walk(doc, parts[:-1])
    if isinstance(parent, list):
        parent.pop(int(parts[-1]))
    else:
        del parent[parts[-1]]
    return doc


# --- server-side apply -------------------------------------------------------------------------

IGNORED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}


def leaves(obj, prefix=(), top=True):
    """Field paths set in obj: ("spec", "replicas"), ("spec", "template", ..., ("k", '{"name":"web"}'), "image")."""
    out = {}
    if not isinstance(obj, dict):
        return {prefix: obj}
    for key, value in obj.items():
        if top and key in ("apiVersion", "kind", "status"):
            continue
        if top and key == "metadata":
            for mk, mv in (value or {}).items():
                if mk in IGNORED_META:
                    continue
                if isinstance(mv, dict):
                    for lk, lv in mv.items():
                        out[("metadata", mk, lk)] = lv
                else:
                    out[("metadata", mk)] = mv
            continue
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            out.update(leaves(value, path, False))
        elif isinstance(value, list) and value and all(isinstance(i, dict) for i in value) and merge_key(key, value):
            mk = merge_key(key, value)
            for item in value:
                item_path = path + (("k", json.dumps(identity(item, mk), separators=(",", ":"), sort_keys=True)),)
                out[item_path + (".",)] = None
                out.update(leaves(item, item_path, False))
        else:
            out[path] = value
    return out


def fields_v1(paths):
    tree = {}
    for path in paths:
        node = tree
        for part in path:
            name = part[0] + ":" + part[1] if isinstance(part, tuple) else ("." if part == "." else "f:" + part)
            node = node.setdefault(name, {})
    return tree


def paths_of(fields, prefix=()):
    out = set()
    for name, sub in (fields or {}).items():
        if name == ".":
            out.add(prefix + (".",))
            continue
        kind, _, rest = name.partition(":")
        part = rest if kind == "f" else (kind, rest)
        if sub:
            out |= paths_of(sub, prefix + (part,))
        else:
            out.add(prefix + (part,))
    return out


def _remove_path(obj, path):
    """Remove a leaf field (or a keyed list item) from obj in place."""
    node = obj
    for n, part in enumerate(path):
        last = n == len(path) - 1 or (n == len(path) - 2 and path[-1] == ".")
        if isinstance(part, tuple):
            key, value = next(iter(json.loads(part[1]).items()))
            items = node if isinstance(node, list) else []
            match = next((i for i in items if isinstance(i, dict) and i.get(key) == value), None)
            if match is None:
                return
            if last:
                items.remove(match)
                return
            node = match
        else:
            if not isinstance(node, dict) or part not in node:
                return
            if last:
                del node[part]
                return
            node = node[part]


def server_side_apply(current, applied, manager, force, now, subresource=""):
    """The object after `manager` applies `applied` to `current` (None when creating)."""
    current = copy.deepcopy(current) if current else {}
    managed = list((current.get("metadata") or {}).get("managedFields") or [])
    new_paths = leaves(applied)
    mine = next((m for m in managed if m.get("manager") == manager and m.get("operation") == "Apply"), None)
    had = paths_of(mine.get("fieldsV1")) if mine else set()
    current_leaves = leaves(current) if current else {}
    conflicts = []
    for other in managed:
        if other is mine:
            continue
        owned = paths_of(other.get("fieldsV1"))
        for path in new_paths:
            if path in owned and path[-1] != "." and path in current_leaves and current_leaves[path] != new_paths[path]:
                conflicts.append((other.get("manager"), path))
    if conflicts and not force:
        causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}"',
                   "field": "." + ".".join(p[1] if isinstance(p, tuple) else p for p in path)} for m, path in conflicts]
        text = "; ".join(f'conflict with "{c["message"][15:-1]}": {c["field"]}' for c in causes)
        raise ApiError(409, "Conflict", f"Apply failed with {len(causes)} conflict{'s' if len(causes) > 1 else ''}: {text}",
                       {"causes": causes})
    merged = strategic_merge({k: v for k, v in current.items()}, {k: v for k, v in applied.items() if k != "status"})
    if applied.get("metadata"):
        merged["metadata"] = strategic_merge(current.get("metadata") or {}, {k: v for k, v in applied["metadata"].items() if k not in IGNORED_META})
        for field in ("name", "namespace", "generateName"):
            if field in applied["metadata"] and field not in merged["metadata"]:
                merged["metadata"][field] = applied["metadata"][field]
    others = set()
    for other in managed:
        if other is not mine:
            others |= paths_of(other.get("fieldsV1"))
    for path in sorted(had - set(new_paths) - others, key=len, reverse=True):  # fields this manager let go of
        _remove_path(merged, path)
    new_managed = []
    for other in managed:
        if other is mine:
            continue
        if force and conflicts:
            lost = {p for m, p in conflicts if m == other.get("manager")}
            remaining = paths_of(other.get("fieldsV1")) - lost
            if not remaining:
                continue
            other = dict(other, fieldsV1=fields_v1(remaining))
        new_managed.append(other)
    entry = {"manager": manager, "operation": "Apply", "apiVersion": applied.get("apiVersion", ""), "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": fields_v1(new_paths)}
    if subresource:
        entry["subresource"] = subresource
    new_managed.append(entry)
    merged.setdefault("metadata", {})["managedFields"] = new_managed
    return merged


def record_update(old, new, manager, now, api_version):
    """managedFields after a non-apply write by manager (only for objects that track them)."""
    managed = list((old.get("metadata") or {}).get("managedFields") or [])
    if not managed or not manager:
        return
    before, after = leaves(old), leaves(new)
    changed = {p for p in after if before.get(p, object()) != after[p]}
    if not changed:
        new["metadata"]["managedFields"] = managed
        return
    result = []
    for entry in managed:
        if entry.get("manager") == manager and entry.get("operation") == "Update":
            continue
        owned = paths_of(entry.get("fieldsV1")) - changed
        if owned:
            result.append(dict(entry, fieldsV1=fields_v1(owned)))
    mine = next((m for m in managed if m.get("manager") == manager and m.get("operation") == "Update"), None)
    owned = (paths_of(mine.get("fieldsV1")) if mine else set()) | changed
    result.append({"manager": manager, "operation": "Update", "apiVersion": api_version, "time": now,
                   "fieldsType": "FieldsV1", "fieldsV1": fields_v1(owned)})
    new["metadata"]["managedFields"] = result
