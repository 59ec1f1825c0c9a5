"""Just enough Kubernetes protobuf to read the request bodies kubectl sends in protobuf and
nothing else: its typed commands for RBAC (`kubectl create role/clusterrole/rolebinding/
clusterrolebinding`) and access reviews (`kubectl auth can-i`, `kubectl auth whoami`).
Other kinds stay JSON/YAML only (415). Answers are always JSON, which clients accept.

A body is the magic b"k8s\\x00" and a runtime.Unknown {typeMeta{apiVersion, kind}, raw}; raw
is the object, decoded here with the field numbers of the API's generated.proto files."""

MAGIC = b"k8s\x00"

# message -> {field number: (json name, type, repeated)}; type is "string", "bool", "map" or a message
MESSAGES = {
    "Unknown": {1: ("typeMeta", "TypeMeta", False), 2: ("raw", "bytes", False)},
    "TypeMeta": {1: ("apiVersion", "string", False), 2: ("kind", "string", False)},
    "ObjectMeta": {1: ("name", "string", False), 2: ("generateName", "string", False), 3: ("namespace", "string", False),
                   11: ("labels", "map", False), 12: ("annotations", "map", False), 14: ("finalizers", "string", True)},
    "LabelSelector": {1: ("matchLabels", "map", False), 2: ("matchExpressions", "LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: ("key", "string", False), 2: ("operator", "string", False), 3: ("values", "string", True)},
    # rbac.authorization.k8s.io/v1
    "PolicyRule": {1: ("verbs", "string", True), 2: ("apiGroups", "string", True), 3: ("resources", "string", True),
                   4: ("resourceNames", "string", True), 5: ("nonResourceURLs", "string", True)},
    "AggregationRule": {1: ("clusterRoleSelectors", "LabelSelector", True)},
    "Subject": {1: ("kind", "string", False), 2: ("apiGroup", "string", False), 3: ("name", "string", False),
                4: ("namespace", "string", False)},
    "RoleRef": {1: ("apiGroup", "string", False), 2: ("kind", "string", False), 3: ("name", "string", False)},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True),
                    3: ("aggregationRule", "AggregationRule", False)},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True), 3: ("roleRef", "RoleRef", False)},
    # authorization.k8s.io/v1 and authentication.k8s.io/v1
    "ResourceAttributes": {1: ("namespace", "string", False), 2: ("verb", "string", False), 3: ("group", "string", False),
                           4: ("version", "string", False), 5: ("resource", "string", False),
                           6: ("subresource", "string", False), 7: ("name", "string", False)},
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", False)},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                2: ("nonResourceAttributes", "NonResourceAttributes", False), 3: ("user", "string", False),
                                4: ("groups", "string", True), 6: ("uid", "string", False)},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", False)},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SelfSubjectAccessReviewSpec", False)},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SubjectAccessReviewSpec", False)},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SelfSubjectRulesReviewSpec", False)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False)},
}
KINDS = {
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "RoleBinding",  # same fields
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "SelfSubjectRulesReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
}


class Undecodable(ValueError):
    pass


def _varint(data, pos):
    value = shift = 0
    while True:
        if pos >= len(data):
            raise Undecodable("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data):
    """(number, value) pairs: ints for varints, bytes for length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise Undecodable(f"unsupported wire type {wire}")
        yield number, value


def _message(data, name):
    schema, out = MESSAGES[name], {}
    for number, value in _fields(data):
        if number not in schema:
            continue  # a field the sandbox does not read
        field, kind, repeated = schema[number]
        if kind == "string":
            value = bytes(value).decode()
        elif kind == "bool":
            value = bool(value)
        elif kind == "map":
            entry = dict(_fields(value))
            out.setdefault(field, {})[bytes(entry.get(1, b"")).decode()] = bytes(entry.get(2, b"")).decode()
            continue
        elif kind != "bytes":
            value = _message(value, kind)
        if repeated:
            out.setdefault(field, []).append(value)
        else:
            out[field] = value
    return out


def decode(body):
    """The object in a protobuf request body as a JSON-style dict, or None for kinds the sandbox
    does not read in protobuf."""
    if not body.startswith(MAGIC):
        raise Undecodable("missing the k8s protobuf prefix")
    unknown = _message(body[len(MAGIC):], "Unknown")
    type_meta = unknown.get("typeMeta") or {}
    message = KINDS.get((type_meta.get("apiVersion"), type_meta.get("kind")))
    if message is None:
        return None
    obj = _message(unknown.get("raw") or b"", message)
    return {"apiVersion": type_meta["apiVersion"], "kind": type_meta["kind"], **obj}
