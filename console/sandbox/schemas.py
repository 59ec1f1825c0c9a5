"""How server-side apply sees the shape of each kind, as structured-merge-diff reads it from
Kubernetes' OpenAPI: which objects are structs (named fields) and which are maps (every key
an entry of its own), which lists are atomic, which are sets and which are maps keyed by
x-kubernetes-list-map-keys (containers by name, ports by containerPort and protocol, ...).

Only what differs from the default is written down: an object is a struct, a list is atomic
(as structured-merge-diff treats lists without x-kubernetes-list-type), a scalar is a leaf.
Custom resources take their shape from their CustomResourceDefinition's openAPIV3Schema;
without one they are "deduced" (every object a map, every list atomic), as for a CRD that
preserves unknown fields.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Node:
    kind: str  # leaf | struct | map | list | any (built-in default) | deduced (schemaless)
    fields: dict = field(default_factory=dict)  # struct: named fields
    elem: "Node" = None  # map: values; list: items; struct: fields not named in `fields`
    keys: tuple = ()  # list: x-kubernetes-list-map-keys; none means a set of scalars
    defaults: dict = field(default_factory=dict)  # list: defaults of key fields (ports' protocol is TCP)
    open: bool = False  # struct: fields not named are map entries (x-kubernetes-preserve-unknown-fields)


LEAF = Node("leaf")  # scalars, atomic lists, atomic maps and structs (+structType=atomic, +mapType=atomic)
ANY = Node("any")
DEDUCED = Node("deduced")
SET = Node("list", elem=LEAF)


def struct(**fields):
    return Node("struct", fields=fields)


def mapping(elem=LEAF):
    return Node("map", elem=elem)


def keyed(*keys, elem=ANY, **defaults):
    return Node("list", elem=elem, keys=keys, defaults=defaults)


def resolve(node, value):
    """The node that applies to a value: `any` and `deduced` take the value's own shape."""
    if node is None:
        node = ANY
    if node.kind in ("any", "deduced"):
        if isinstance(value, dict):
            return Node("struct", elem=node) if node.kind == "any" else Node("map", elem=DEDUCED)
        return LEAF
    return node


def child(node, name):
    """(node of field `name`, whether it is a named struct field rather than a map entry)."""
    if node is None or node.kind == "any":
        return ANY, True
    if node.kind == "deduced":
        return DEDUCED, False
    if node.kind == "struct":
        if name in node.fields:
            return node.fields[name], True
        return (node.elem or (DEDUCED if node.open else ANY)), not node.open
    if node.kind == "map":
        return node.elem or LEAF, False
    return ANY, True


# --- the built-in kinds (k8s.io/api types: +listType, +listMapKey, +mapType, +structType)

OBJECT_META = struct(
    labels=mapping(), annotations=mapping(), finalizers=SET, ownerReferences=keyed("uid"), managedFields=LEAF
)
RESOURCES = struct(limits=mapping(), requests=mapping(), claims=keyed("name"))
CONTAINER = struct(
    ports=keyed("containerPort", "protocol", protocol="TCP"),
    env=keyed(
        "name",
        elem=struct(
            valueFrom=struct(
                configMapKeyRef=LEAF, secretKeyRef=LEAF, fieldRef=LEAF, resourceFieldRef=LEAF, fileKeyRef=LEAF
            )
        ),
    ),
    volumeMounts=keyed("mountPath"),
    volumeDevices=keyed("devicePath"),
    resources=RESOURCES,
)
PVC_SPEC = struct(selector=LEAF, dataSource=LEAF, dataSourceRef=LEAF, resources=RESOURCES)
VOLUME = struct(
    ephemeral=struct(volumeClaimTemplate=struct(metadata=OBJECT_META, spec=PVC_SPEC)),
    csi=struct(volumeAttributes=mapping()),
)
POD_SPEC = struct(
    volumes=keyed("name", elem=VOLUME),
    initContainers=keyed("name", elem=CONTAINER),
    containers=keyed("name", elem=CONTAINER),
    ephemeralContainers=keyed("name", elem=CONTAINER),
    nodeSelector=LEAF,
    imagePullSecrets=keyed("name"),
    hostAliases=keyed("ip"),
    topologySpreadConstraints=keyed("topologyKey", "whenUnsatisfiable", elem=struct(labelSelector=LEAF)),
    overhead=mapping(),
    resourceClaims=keyed("name"),
    schedulingGates=keyed("name"),
    resources=RESOURCES,
    affinity=struct(nodeAffinity=struct(requiredDuringSchedulingIgnoredDuringExecution=LEAF)),
)
POD_TEMPLATE = struct(metadata=OBJECT_META, spec=POD_SPEC)
CONDITIONS = struct(conditions=keyed("type"))
WORKLOAD = struct(spec=struct(selector=LEAF, template=POD_TEMPLATE), status=CONDITIONS)
JOB_SPEC = struct(selector=LEAF, template=POD_TEMPLATE)

KINDS = {
    "pods": struct(spec=POD_SPEC, status=struct(conditions=keyed("type"), podIPs=keyed("ip"), hostIPs=keyed("ip"))),
    "deployments": WORKLOAD,
    "replicasets": WORKLOAD,
    "daemonsets": WORKLOAD,
    "statefulsets": struct(
        spec=struct(selector=LEAF, template=POD_TEMPLATE, volumeClaimTemplates=LEAF), status=CONDITIONS
    ),
    "jobs": struct(spec=JOB_SPEC),
    "cronjobs": struct(spec=struct(jobTemplate=struct(metadata=OBJECT_META, spec=JOB_SPEC))),
    "services": struct(spec=struct(ports=keyed("port", "protocol", protocol="TCP"), selector=LEAF), status=CONDITIONS),
    "configmaps": struct(data=mapping(), binaryData=mapping()),
    "secrets": struct(data=mapping(), stringData=mapping()),
    "namespaces": struct(status=CONDITIONS),
    "nodes": struct(
        spec=struct(podCIDRs=SET),
        status=struct(conditions=keyed("type"), addresses=keyed("type"), capacity=mapping(), allocatable=mapping()),
    ),
    "persistentvolumeclaims": struct(
        spec=PVC_SPEC, status=struct(capacity=mapping(), allocatedResources=mapping(), conditions=keyed("type"))
    ),
    "persistentvolumes": struct(
        spec=struct(
            capacity=mapping(),
            claimRef=LEAF,
            nodeAffinity=struct(required=LEAF),
            csi=struct(volumeAttributes=mapping()),
        )
    ),
    "resourcequotas": struct(spec=struct(hard=mapping()), status=struct(hard=mapping(), used=mapping())),
    "serviceaccounts": struct(secrets=keyed("name")),
    "events": struct(involvedObject=LEAF, related=LEAF),
    "networkpolicies": struct(spec=struct(podSelector=LEAF)),
    "horizontalpodautoscalers": struct(status=CONDITIONS),
    "poddisruptionbudgets": struct(
        spec=struct(selector=LEAF), status=struct(conditions=keyed("type"), disruptedPods=mapping())
    ),
    "storageclasses": struct(parameters=mapping()),
    "customresourcedefinitions": struct(status=CONDITIONS),
}

# What a kind's empty Go object holds (structs are never omitted, some fields are null rather
# than absent): a create is compared with it, so a creator owns `f:labels` with `.` but not
# `f:spec` or `f:containers`, as on a real server.
POD_TEMPLATE_ZERO = {"metadata": {}, "spec": {"containers": None}}
ZERO = {
    "pods": {"spec": {"containers": None}, "status": {}},
    "deployments": {"spec": {"selector": None, "template": POD_TEMPLATE_ZERO, "strategy": {}}, "status": {}},
    "replicasets": {"spec": {"selector": None, "template": POD_TEMPLATE_ZERO}, "status": {}},
    "statefulsets": {"spec": {"selector": None, "template": POD_TEMPLATE_ZERO, "updateStrategy": {}}, "status": {}},
    "daemonsets": {"spec": {"selector": None, "template": POD_TEMPLATE_ZERO, "updateStrategy": {}}, "status": {}},
    "jobs": {"spec": {"template": POD_TEMPLATE_ZERO}, "status": {}},
    "cronjobs": {"spec": {"jobTemplate": {"metadata": {}, "spec": {"template": POD_TEMPLATE_ZERO}}}, "status": {}},
    "services": {"spec": {}, "status": {"loadBalancer": {}}},
    "ingresses": {"spec": {}, "status": {"loadBalancer": {}}},
    "namespaces": {"spec": {}, "status": {}},
    "nodes": {"spec": {}, "status": {}},
    "persistentvolumeclaims": {"spec": {"resources": {}}, "status": {}},
    "persistentvolumes": {"spec": {}, "status": {}},
    "resourcequotas": {"spec": {}, "status": {}},
    "limitranges": {"spec": {"limits": None}},
    "networkpolicies": {"spec": {"podSelector": {}}},
    "horizontalpodautoscalers": {"spec": {"scaleTargetRef": {}}, "status": {}},
    "poddisruptionbudgets": {"spec": {}, "status": {}},
    "ingressclasses": {"spec": {}},
    "roles": {"rules": None},
    "clusterroles": {"rules": None},
    "rolebindings": {"roleRef": {}},
    "clusterrolebindings": {"roleRef": {}},
    "events": {"involvedObject": {}, "source": {}},
    "customresourcedefinitions": {"spec": {"names": {}, "versions": None}, "status": {"acceptedNames": {}}},
}
# kinds a real cluster serves from CustomResourceDefinitions: their empty object has no metadata
UNSTRUCTURED = {"volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses"}


def zero(resource):
    """The empty object a create is compared with."""
    if "." in resource.key or resource.key in UNSTRUCTURED:
        return {}
    return {"metadata": {}, **ZERO.get(resource.key, {})}


def of(resource, crd=None):
    """The root node of a kind; custom resources pass their CustomResourceDefinition."""
    if "." not in resource.key:
        root = KINDS.get(resource.key, struct())
        return Node("struct", fields={**root.fields, "metadata": OBJECT_META})
    version = next(
        (
            v
            for v in ((crd or {}).get("spec") or {}).get("versions") or []
            if isinstance(v, dict) and v.get("name") == resource.version
        ),
        {},
    )
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    root = from_openapi(schema) if isinstance(schema, dict) else DEDUCED
    fields = dict(root.fields) if root.kind == "struct" else {}
    fields.update(metadata=OBJECT_META, apiVersion=LEAF, kind=LEAF)
    return Node("struct", fields=fields, open=root.kind != "struct" or root.open)


def from_openapi(schema):
    """A CustomResourceDefinition's structural schema as structured-merge-diff converts it."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-int-or-string"):
        return LEAF
    if schema.get("type") == "array" or "items" in schema:
        list_type = schema.get("x-kubernetes-list-type")
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if list_type == "set":
            return SET
        if list_type == "map":
            keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
            props = items.get("properties") or {}
            defaults = {
                k: props[k]["default"] for k in keys if isinstance(props.get(k), dict) and "default" in props[k]
            }
            return Node("list", elem=from_openapi(items), keys=keys, defaults=defaults)
        return LEAF
    unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if schema.get("type") == "object" or "properties" in schema or "additionalProperties" in schema or unknown:
        if schema.get("x-kubernetes-map-type") == "atomic":
            return LEAF
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if isinstance(properties, dict) and properties:
            return Node(
                "struct",
                fields={k: from_openapi(v) for k, v in properties.items()},
                open=True,
                elem=from_openapi(extra) if isinstance(extra, dict) else DEDUCED,
            )
        if isinstance(extra, dict):
            return mapping(from_openapi(extra))
        return DEDUCED
    return LEAF
