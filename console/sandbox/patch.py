"""Three of the four patch flavours: JSON merge patch (RFC 7386), strategic merge patch (lists
of containers, ports, env, volumes… merged by key) and JSON patch (RFC 6902). Server-side
apply, with managedFields, conflicts and `force`, is managedfields.py."""

import copy

from .errors import ApiError

# strategic merge keys by list field name; "ports" depends on what the items hold
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "addresses": "type",
    "taints": "key",
    "volumeClaimTemplates": None,
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
        return [
            strategic_merge(None, i) if isinstance(i, dict) else i
            for i in patch
            if not (isinstance(i, dict) and i.get("$patch") == "delete")
        ]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [{k: v for k, v in i.items() if not k.startswith("$")} for i in patch if i.get("$patch") != "replace"]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        position = next(
            (
                n
                for n, existing in enumerate(result)
                if isinstance(existing, dict) and identity(existing, key) == identity(item, key)
            ),
            None,
        )
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
        raise ApiError(
            422,
            "Invalid",
            f"the server rejected our request due to an error in our request: invalid JSON pointer {path!r}",
        )
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
                    raise ApiError(
                        422,
                        "Invalid",
                        f"the server rejected our request due to an error in our request: testing value {path} failed",
                    )
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
                raise ApiError(
                    422,
                    "Invalid",
                    f"the server rejected our request due to an error in our request: Unexpected kind: {op}",
                )
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: "
                f'{op} operation does not apply: doc is missing path: "{path}"',
            ) from None
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
