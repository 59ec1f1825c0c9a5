"""meta.k8s.io/v1 Table responses, the server-side printing `kubectl get` asks for."""

from datetime import UTC, datetime

from . import quantity


def human_duration(seconds):
    seconds = int(max(0, seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d"


def age(timestamp):
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _s(obj, *path, default=None):
    value = obj
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return default
    return value


def pod_row(pod):
    statuses = _s(pod, "status", "containerStatuses", default=[])
    total = len(_s(pod, "spec", "containers", default=[]))
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    reason = _s(pod, "status", "reason") or _s(pod, "status", "phase", default="Pending")
    for c in statuses:
        state = c.get("state") or {}
        if state.get("waiting", {}).get("reason") and state["waiting"]["reason"] != "":
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason") and reason == "Running":
            reason = state["terminated"]["reason"]
    if reason == "Pending" and _s(pod, "spec", "nodeName") and not statuses:
        reason = "ContainerCreating"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        f"{ready}/{total}",
        reason,
        restarts,
        age(pod["metadata"].get("creationTimestamp")),
        _s(pod, "status", "podIP", default="<none>"),
        _s(pod, "spec", "nodeName", default="<none>"),
    ]


def node_row(node):
    ready = next((c for c in _s(node, "status", "conditions", default=[]) if c.get("type") == "Ready"), {})
    status = "Ready" if ready.get("status") == "True" else "NotReady"
    if _s(node, "spec", "unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(
        k.split("/", 1)[1] for k in (node["metadata"].get("labels") or {}) if k.startswith("node-role.kubernetes.io/")
    )
    return [
        status,
        ",".join(roles) or "<none>",
        age(node["metadata"].get("creationTimestamp")),
        _s(node, "status", "nodeInfo", "kubeletVersion", default=""),
    ]


def service_row(svc):
    spec = svc.get("spec") or {}
    ports = (
        ",".join(
            f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
            for p in spec.get("ports") or []
        )
        or "<none>"
    )
    external = ",".join(
        i.get("ip") or i.get("hostname", "") for i in _s(svc, "status", "loadBalancer", "ingress", default=[])
    )
    if not external:
        external = spec.get("externalName") or ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        external,
        ports,
        age(svc["metadata"].get("creationTimestamp")),
    ]


COLUMNS = {
    "pods": (["Ready", "Status", "Restarts", "Age", "IP", "Node"], pod_row, [0, 0, 0, 0, 1, 1]),
    "nodes": (["Status", "Roles", "Age", "Version"], node_row, [0, 0, 0, 0]),
    "services": (["Type", "Cluster-IP", "External-IP", "Port(s)", "Age"], service_row, [0] * 5),
    "namespaces": (
        ["Status", "Age"],
        lambda o: [_s(o, "status", "phase", default="Active"), age(o["metadata"].get("creationTimestamp"))],
        [0, 0],
    ),
    "deployments": (
        ["Ready", "Up-to-date", "Available", "Age"],
        lambda o: [
            f"{_s(o, 'status', 'readyReplicas', default=0)}/{_s(o, 'spec', 'replicas', default=1)}",
            _s(o, "status", "updatedReplicas", default=0),
            _s(o, "status", "availableReplicas", default=0),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 4,
    ),
    "replicasets": (
        ["Desired", "Current", "Ready", "Age"],
        lambda o: [
            _s(o, "spec", "replicas", default=1),
            _s(o, "status", "replicas", default=0),
            _s(o, "status", "readyReplicas", default=0),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 4,
    ),
    "statefulsets": (
        ["Ready", "Age"],
        lambda o: [
            f"{_s(o, 'status', 'readyReplicas', default=0)}/{_s(o, 'spec', 'replicas', default=1)}",
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0, 0],
    ),
    "daemonsets": (
        ["Desired", "Current", "Ready", "Up-to-date", "Available", "Age"],
        lambda o: [
            _s(o, "status", "desiredNumberScheduled", default=0),
            _s(o, "status", "currentNumberScheduled", default=0),
            _s(o, "status", "numberReady", default=0),
            _s(o, "status", "updatedNumberScheduled", default=0),
            _s(o, "status", "numberAvailable", default=0),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 6,
    ),
    "jobs": (
        ["Status", "Completions", "Age"],
        lambda o: [
            next(
                (
                    c["type"]
                    for c in _s(o, "status", "conditions", default=[])
                    if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                ),
                "Running",
            ),
            f"{_s(o, 'status', 'succeeded', default=0)}/{_s(o, 'spec', 'completions', default=1)}",
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 3,
    ),
    "cronjobs": (
        ["Schedule", "Suspend", "Active", "Last Schedule", "Age"],
        lambda o: [
            _s(o, "spec", "schedule", default=""),
            str(_s(o, "spec", "suspend", default=False)),
            len(_s(o, "status", "active", default=[])),
            age(_s(o, "status", "lastScheduleTime")) if _s(o, "status", "lastScheduleTime") else "<none>",
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 5,
    ),
    "persistentvolumeclaims": (
        ["Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode"],
        lambda o: claim_row(o),
        [0] * 7 + [1],
    ),
    "persistentvolumes": (
        [
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status",
            "Claim",
            "StorageClass",
            "VolumeAttributesClass",
            "Reason",
            "Age",
            "VolumeMode",
        ],
        lambda o: volume_row(o),
        [0] * 9 + [1],
    ),
    "configmaps": (
        ["Data", "Age"],
        lambda o: [
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0, 0],
    ),
    "secrets": (
        ["Type", "Data", "Age"],
        lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}), age(o["metadata"].get("creationTimestamp"))],
        [0] * 3,
    ),
    "events": (
        ["Last Seen", "Type", "Reason", "Object", "Message"],
        lambda o: [
            age(o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")),
            o.get("type", ""),
            o.get("reason", ""),
            f"{_s(o, 'involvedObject', 'kind', default='').lower()}/{_s(o, 'involvedObject', 'name', default='')}",
            o.get("message", ""),
        ],
        [0] * 5,
    ),
    "ingresses": (
        ["Class", "Hosts", "Address", "Ports", "Age"],
        lambda o: [
            _s(o, "spec", "ingressClassName", default="<none>"),
            ",".join(r.get("host", "*") for r in _s(o, "spec", "rules", default=[])) or "*",
            ",".join(i.get("ip", "") for i in _s(o, "status", "loadBalancer", "ingress", default=[])),
            "80, 443" if _s(o, "spec", "tls") else "80",
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 5,
    ),
    "horizontalpodautoscalers": (
        ["Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"],
        lambda o: [
            f"{_s(o, 'spec', 'scaleTargetRef', 'kind', default='')}/"
            f"{_s(o, 'spec', 'scaleTargetRef', 'name', default='')}",
            ", ".join(
                hpa_target(m, c)
                for m, c in zip(
                    _s(o, "spec", "metrics", default=[]),
                    _s(o, "status", "currentMetrics", default=[]) + [None] * 9,
                    strict=False,
                )
            )
            or "<none>",
            _s(o, "spec", "minReplicas", default=1),
            _s(o, "spec", "maxReplicas", default=0),
            _s(o, "status", "currentReplicas", default=0),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 6,
    ),
    "storageclasses": (
        ["Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"],
        lambda o: [
            o.get("provisioner", ""),
            o.get("reclaimPolicy", "Delete"),
            o.get("volumeBindingMode", "Immediate"),
            bool(o.get("allowVolumeExpansion", False)),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 5,
    ),
    "endpoints": (
        ["Endpoints", "Age"],
        lambda o: [
            ",".join(
                f"{a.get('ip')}:{p.get('port')}"
                for s in o.get("subsets") or []
                for a in s.get("addresses") or []
                for p in s.get("ports") or []
            )
            or "<none>",
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0, 0],
    ),
    # the printer columns of the external-snapshotter's CRDs; a missing value is an empty cell
    "volumesnapshots": (
        [
            "ReadyToUse",
            "SourcePVC",
            "SourceSnapshotContent",
            "RestoreSize",
            "SnapshotClass",
            "SnapshotContent",
            "CreationTime",
            "Age",
        ],
        lambda o: [
            _s(o, "status", "readyToUse"),
            _s(o, "spec", "source", "persistentVolumeClaimName"),
            _s(o, "spec", "source", "volumeSnapshotContentName"),
            _s(o, "status", "restoreSize"),
            _s(o, "spec", "volumeSnapshotClassName"),
            _s(o, "status", "boundVolumeSnapshotContentName"),
            age(_s(o, "status", "creationTime")) if _s(o, "status", "creationTime") else None,
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 8,
    ),
    "volumesnapshotcontents": (
        [
            "ReadyToUse",
            "RestoreSize",
            "DeletionPolicy",
            "Driver",
            "VolumeSnapshotClass",
            "VolumeSnapshot",
            "VolumeSnapshotNamespace",
            "Age",
        ],
        lambda o: [
            _s(o, "status", "readyToUse"),
            _s(o, "status", "restoreSize"),
            _s(o, "spec", "deletionPolicy"),
            _s(o, "spec", "driver"),
            _s(o, "spec", "volumeSnapshotClassName"),
            _s(o, "spec", "volumeSnapshotRef", "name"),
            _s(o, "spec", "volumeSnapshotRef", "namespace"),
            age(o["metadata"].get("creationTimestamp")),
        ],
        [0] * 8,
    ),
    "volumesnapshotclasses": (
        ["Driver", "DeletionPolicy", "Age"],
        lambda o: [o.get("driver"), o.get("deletionPolicy"), age(o["metadata"].get("creationTimestamp"))],
        [0] * 3,
    ),
    "roles": (["Created At"], lambda o: [o["metadata"].get("creationTimestamp", "")], [0]),
    "clusterroles": (["Created At"], lambda o: [o["metadata"].get("creationTimestamp", "")], [0]),
    "rolebindings": (["Role", "Age", "Users", "Groups", "ServiceAccounts"], lambda o: binding_row(o), [0, 0, 1, 1, 1]),
    "clusterrolebindings": (
        ["Role", "Age", "Users", "Groups", "ServiceAccounts"],
        lambda o: binding_row(o),
        [0, 0, 1, 1, 1],
    ),
    "customresourcedefinitions": (["Created At"], lambda o: [o["metadata"].get("creationTimestamp", "")], [0]),
}


ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes):
    """GetAccessModesAsString: the modes' short names in this order, each once."""
    return ",".join(short for mode, short in ACCESS_MODES if mode in (modes or []))


def claim_row(pvc):
    bound = bool(_s(pvc, "spec", "volumeName"))  # capacity and modes are printed once bound
    return [
        "Terminating" if pvc["metadata"].get("deletionTimestamp") else _s(pvc, "status", "phase", default=""),
        _s(pvc, "spec", "volumeName", default=""),
        quantity.canonical(_s(pvc, "status", "capacity", "storage", default="0")) if bound else "",
        access_modes(_s(pvc, "status", "accessModes")) if bound else "",
        (pvc["metadata"].get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
        or _s(pvc, "spec", "storageClassName", default=""),
        _s(pvc, "spec", "volumeAttributesClassName") or "<unset>",
        age(pvc["metadata"].get("creationTimestamp")),
        _s(pvc, "spec", "volumeMode", default="<unset>"),
    ]


def volume_row(pv):
    ref = _s(pv, "spec", "claimRef")
    return [
        quantity.canonical(_s(pv, "spec", "capacity", "storage", default="0")),
        access_modes(_s(pv, "spec", "accessModes")),
        _s(pv, "spec", "persistentVolumeReclaimPolicy", default=""),
        "Terminating" if pv["metadata"].get("deletionTimestamp") else _s(pv, "status", "phase", default=""),
        f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "",
        _s(pv, "spec", "storageClassName", default=""),
        _s(pv, "spec", "volumeAttributesClassName") or "<unset>",
        _s(pv, "status", "reason", default=""),
        age(pv["metadata"].get("creationTimestamp")),
        _s(pv, "spec", "volumeMode", default="<unset>"),
    ]


def name_cell(plural, obj):
    """The Name cell: a default StorageClass says so, as kubectl's printer marks it."""
    name = obj["metadata"].get("name", "")
    annotations = obj["metadata"].get("annotations") or {}
    if plural == "storageclasses" and "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    ):
        return f"{name} (default)"
    return name


def binding_row(binding):
    ref, subjects = binding.get("roleRef") or {}, binding.get("subjects") or []

    def named(kind):
        return ", ".join(
            (f"{s.get('namespace', '')}/" if kind == "ServiceAccount" else "") + s.get("name", "")
            for s in subjects
            if s.get("kind") == kind
        )

    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age(binding["metadata"].get("creationTimestamp")),
        named("User"),
        named("Group"),
        named("ServiceAccount"),
    ]


def hpa_target(metric, current):
    name = _s(metric, "resource", "name", default="?")
    value = _s(metric, "resource", "target", "averageValue")
    if value is not None:  # an AverageValue target prints as quantities, as kubectl's printer does
        now = _s(current, "resource", "current", "averageValue") if current else None
        return f"{name}: {'<unknown>' if now is None else now}/{value}"
    target = _s(metric, "resource", "target", "averageUtilization")
    now = _s(current, "resource", "current", "averageUtilization") if current else None
    return (
        f"{name}: {'<unknown>' if now is None else str(now) + '%'}/{'<auto>' if target is None else str(target) + '%'}"
    )


def table(plural, objects, rv, include_object=True, continue_token="", with_columns=True):
    names, row_of, priorities = COLUMNS.get(
        plural, (["Age"], lambda o: [age(o["metadata"].get("creationTimestamp"))], [0])
    )
    columns = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        }
    ]
    columns += [
        {
            "name": n,
            "type": "integer" if n in ("Restarts", "Desired", "Current", "Data") else "string",
            "format": "",
            "description": n,
            "priority": p,
        }
        for n, p in zip(names, priorities, strict=True)
    ]
    rows = []
    for obj in objects:
        try:
            cells = row_of(obj)
        except (KeyError, TypeError, AttributeError, ValueError):
            cells = [""] * len(names)
        row = {"cells": [name_cell(plural, obj)] + cells}
        if include_object:
            row["object"] = obj
        else:
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    body = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv}, "rows": rows}
    if continue_token:
        body["metadata"]["continue"] = continue_token
    if with_columns:
        body["columnDefinitions"] = columns
    else:
        body["columnDefinitions"] = None
    return body
