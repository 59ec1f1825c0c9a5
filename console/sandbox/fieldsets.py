"""Field sets the way structured-merge-diff computes them for server-side apply.

A path is a tuple of path elements written as in FieldsV1: "f:spec" (a field),
'k:{"name":"main"}' (an item of a list keyed by its list-map keys), 'v:"a"' (an item of a
set). A set of paths says what a manager owns; FieldsV1 nests them, "." marking a node that
is owned itself as well as having owned children.

The walks here follow structured-merge-diff: to_field_set (what an applied configuration
sets), compare (what a write added, changed and removed), merge (an applied configuration
over the live object) and remove (pruning what an applier let go of).
"""

import copy
import json

from . import schemas

MISSING = object()  # a field that is absent, as opposed to null


class FieldError(ValueError):
    """An object structured-merge-diff cannot take apart (duplicate or keyless list items)."""


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- path elements


def item_element(node, item):
    """The path element of a list item: k:{...} for keyed lists, v:... for sets."""
    if not node.keys:
        return "v:" + dumps(item)
    if not isinstance(item, dict):
        raise FieldError("associative list with keys has an element that is not a map type")
    key = {}
    for name in sorted(node.keys):
        if name in item and item[name] is not None:
            key[name] = item[name]
        elif name in node.defaults:
            key[name] = node.defaults[name]
        else:
            raise FieldError(
                f'associative list with keys has an element that omits key field "{name}" '
                "(and doesn't have default value)"
            )
    return "k:" + dumps(key)


def index_items(node, items, strict):
    """{element: item} in list order; repeated items are an error in an applied configuration
    and ignored in a stored object (structured-merge-diff allows duplicates there)."""
    out = {}
    for position, item in enumerate(items):
        try:
            element = item_element(node, item)
        except FieldError as exc:
            if strict:
                raise FieldError(f"element {position}: {exc}") from None
            continue
        if element in out:
            if strict:
                raise FieldError(f"duplicate entries for key {element_string(element)}")
            continue
        out[element] = item
    return out


def element_string(element):
    """How Kubernetes prints a path element: .name, [name="main"], [="value"] (values as JSON,
    which is what Go's %q and %v make of them)."""
    kind, text = element[0], element[2:]
    if kind == "f":
        return "." + text
    if kind == "k":
        return "[" + ",".join(f"{k}={dumps(v)}" for k, v in json.loads(text).items()) + "]"
    if kind == "v":
        return "[=" + dumps(json.loads(text)) + "]"
    return "[" + text + "]"


def path_string(path):
    return "".join(element_string(e) for e in path)


def _value_order(value):
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, dumps(value))


def element_order(element):
    """Kubernetes' order of path elements: fields by name, then keyed items, then set values."""
    kind, text = element[0], element[2:]
    if kind == "f":
        return (0, text)
    if kind == "k":
        return (1, tuple((k, _value_order(v)) for k, v in json.loads(text).items()))
    if kind == "v":
        return (2, _value_order(json.loads(text)))
    return (3, int(text) if text.isdigit() else text)


def path_order(path):
    """The order fieldpath.Set iterates in: at each level owned members before deeper paths."""
    last = len(path) - 1
    return tuple((0 if n == last else 1, element_order(e)) for n, e in enumerate(path))


# --- FieldsV1


def to_fields_v1(paths):
    tree = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        node["."] = {}
    return _emit(tree)


def _emit(node):
    children = sorted((k for k in node if k != "."), key=element_order)
    out = {}
    if "." in node and children:
        out["."] = {}
    for key in children:
        out[key] = _emit(node[key])
    return out


def from_fields_v1(fields, prefix=()):
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out = set()
    for key, sub in fields.items():
        if key == ".":
            out.add(prefix)
            continue
        if key[:2] not in ("f:", "k:", "v:", "i:"):
            raise ValueError(f"unknown path element {key!r}")
        path = prefix + (key,)
        if not sub:
            out.add(path)
        else:
            out |= from_fields_v1(sub, path)
    return out


# --- set helpers


def ensure_named(paths, root):
    """Add the named struct fields above owned paths (EnsureNamedFieldsAreMembers), so that
    pruning a struct field that only had owned children takes the struct away too."""
    out = set(paths)
    for path in paths:
        node = root
        for n, element in enumerate(path[:-1]):
            if element.startswith("f:"):
                node, named = schemas.child(node, element[2:])
                if named:
                    out.add(path[: n + 1])
            else:
                node = node.elem if node is not None and node.kind == "list" else schemas.ANY
    return out


# --- walks


def to_field_set(value, node, path=(), out=None):
    """What an applied configuration sets: its leaves, list items and map entries."""
    out = set() if out is None else out
    node = schemas.resolve(node, value)
    if (
        node.kind == "leaf"
        or (node.kind in ("struct", "map") and value is not None and not isinstance(value, dict))
        or (node.kind == "list" and value is not None and not isinstance(value, list))
    ):
        out.add(path)
    elif node.kind in ("struct", "map") and isinstance(value, dict):
        for key, sub in value.items():
            sub_node, named = schemas.child(node, key)
            to_field_set(sub, sub_node, path + ("f:" + key,), out)
            if not named or sub is None or sub == {}:  # map entries, and fields set to null or {}
                out.add(path + ("f:" + key,))
    elif node.kind == "list" and isinstance(value, list):
        try:
            items = index_items(node, value, strict=True)
        except FieldError as exc:
            raise FieldError(f"{path_string(path)}: {exc}") from None
        for element, item in items.items():
            to_field_set(item, node.elem, path + (element,), out)
            out.add(path + (element,))
    return out


def compare(lhs, rhs, node, path=(), out=None):
    """(added, modified, removed) between two objects; a new or gone struct, list or item is
    itself added or removed along with what it holds."""
    added, modified, removed = out if out is not None else (set(), set(), set())
    node = schemas.resolve(node, rhs if rhs is not MISSING and rhs is not None else lhs)
    lhs_ok = lhs is not MISSING
    rhs_ok = rhs is not MISSING
    container = dict if node.kind in ("struct", "map") else list if node.kind == "list" else None
    empty_both = all(v is MISSING or v is None or (isinstance(v, (dict, list)) and not v) for v in (lhs, rhs))
    shaped = all(v is MISSING or v is None or isinstance(v, container) for v in (lhs, rhs)) if container else False
    if container is None or empty_both or not shaped:
        if not lhs_ok:
            added.add(path)
        elif not rhs_ok:
            removed.add(path)
        elif lhs != rhs or isinstance(lhs, bool) != isinstance(rhs, bool):
            modified.add(path)
        return added, modified, removed
    if container is dict:
        left = lhs if isinstance(lhs, dict) else {}
        right = rhs if isinstance(rhs, dict) else {}
        for key in list(left) + [k for k in right if k not in left]:
            sub_node, _ = schemas.child(node, key)
            compare(
                left.get(key, MISSING),
                right.get(key, MISSING),
                sub_node,
                path + ("f:" + key,),
                (added, modified, removed),
            )
    else:
        left = index_items(node, lhs if isinstance(lhs, list) else [], strict=False)
        right = index_items(node, rhs if isinstance(rhs, list) else [], strict=False)
        for element in list(left) + [e for e in right if e not in left]:
            compare(
                left.get(element, MISSING),
                right.get(element, MISSING),
                node.elem,
                path + (element,),
                (added, modified, removed),
            )
    if not lhs_ok:
        added.add(path)
    elif not rhs_ok:
        removed.add(path)
    return added, modified, removed


def merge(lhs, rhs, node):
    """An applied configuration (rhs) over the live object (lhs): the configuration wins on
    leaves and atomic values, structs and maps are merged field by field, keyed lists item by
    item (items only in the live object keep their places)."""
    if rhs is MISSING:
        return lhs
    if lhs is MISSING or lhs is None:
        return copy.deepcopy(rhs)
    node = schemas.resolve(node, rhs)
    if node.kind in ("struct", "map") and isinstance(lhs, dict) and isinstance(rhs, dict):
        out = dict(lhs)
        for key, value in rhs.items():
            out[key] = merge(lhs.get(key, MISSING), value, schemas.child(node, key)[0])
        return out
    if node.kind == "list" and isinstance(lhs, list) and isinstance(rhs, list) and lhs:
        left = index_items(node, lhs, strict=False)
        right = index_items(node, rhs, strict=True)
        return [
            merge(left.get(e, MISSING), right.get(e, MISSING), node.elem)
            for e in _merged_order(list(left), list(right))
        ]
    return copy.deepcopy(rhs)


def _merged_order(left, right):
    """structured-merge-diff's order for merged lists: the configuration's order for its items,
    live-only items staying where they were relative to the shared ones."""
    in_right = set(right)
    in_left = set(left)
    shared = [e for e in right if e in in_left]
    out, li, ri, si = [], 0, 0, 0
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right) and left[li] == right[ri]:
            out.append(left[li])
            li, ri, si = li + 1, ri + 1, si + 1
            continue
        if li < len(left) and left[li] in in_right and si < len(shared) and shared[si] != left[li]:
            li += 1  # a shared item, but not the next one in the configuration's order
            continue
        if li < len(left) and left[li] not in in_right:
            out.append(left[li])
            li += 1
            continue
        if ri < len(right):
            element = right[ri]
            if element not in out:
                out.append(element)
            if si < len(shared) and shared[si] == element:
                si += 1
            ri += 1
        else:
            li += 1
    return out


def remove(obj, path, node):
    """Remove the field, list item or set value at path (with all it holds) from obj in place;
    True when something was there to remove."""
    if not path:
        return False
    element = path[0]
    node = schemas.resolve(node, obj)
    if element.startswith("f:") and isinstance(obj, dict):
        name = element[2:]
        if name not in obj:
            return False
        if len(path) == 1:
            del obj[name]
            return True
        removed = remove(obj[name], path[1:], schemas.child(node, name)[0])
        if removed and isinstance(obj[name], (dict, list)) and not obj[name]:
            del obj[name]  # a map or list left empty becomes null, which a typed object drops
        return removed
    if isinstance(obj, list) and node.kind == "list":
        for position, item in enumerate(obj):
            try:
                if item_element(node, item) != element:
                    continue
            except FieldError:
                continue
            if len(path) == 1:
                del obj[position]
                return True
            return remove(item, path[1:], node.elem)
    return False


def prune_nulls(value):
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value
