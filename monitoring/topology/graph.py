"""The topology graph, built from Kubernetes objects (dicts, as the mirror keeps them). Pure:
no ORM, no API calls, so it is unit-tested and benchmarked on its own (bench/topology.py).

    Ingress (hosts) → Service (selector) → workload (Deployment, StatefulSet, DaemonSet, Job;
    ReplicaSets folded into their Deployment) → Pod → PVC → PV → RBD image, Pod → Node,
    and the hidden dependencies of each workload's pod template: ConfigMaps and Secrets
    (env, envFrom, volumes, projected volumes), its ServiceAccount; HPAs → their target.

Node ids are "<Kind>/<namespace>/<name>" ("Node//node-1" for cluster-scoped objects). Health:
ok, warn, bad, idle (a Job done, a Pod succeeded) or unknown.
"""

import hashlib
from dataclasses import dataclass, field

import ujson

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
BAD_REASONS = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
    "RunContainerError",
}
HEALTH_RANK = {"unknown": 0, "idle": 0, "ok": 1, "warn": 2, "bad": 3}
# kinds in the order of a request's path: the layered layout's columns
KIND_ORDER = [
    "Ingress",
    "Service",
    "HorizontalPodAutoscaler",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
    "Pod",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "RBDImage",
    "Node",
]


# --- the slim form: what the builder reads of each kind ------------------------------------
# The mirror stores it beside each object at write time (console.clusters.mirror's graph facts
# hook), so a cold build parses a few hundred bytes per pod instead of the whole object with its
# managedFields. Dotted paths; lists are followed; "x[]" keeps a list's length only. A field
# build() reads and FACTS leaves out changes the graph: tests/topology/test_graph_facts.py.
_REFERENCES = [  # of a pod spec: its ConfigMaps, Secrets and ServiceAccount
    "serviceAccountName",
    "serviceAccount",
    "imagePullSecrets.name",
    "volumes.configMap.name",
    "volumes.configMap.optional",
    "volumes.secret.secretName",
    "volumes.secret.optional",
    "volumes.projected.sources.configMap.name",
    "volumes.projected.sources.configMap.optional",
    "volumes.projected.sources.secret.name",
    "volumes.projected.sources.secret.optional",
] + [
    f"{containers}.{path}"
    for containers in ("initContainers", "containers")
    for path in (
        "envFrom.configMapRef.name",
        "envFrom.configMapRef.optional",
        "envFrom.secretRef.name",
        "envFrom.secretRef.optional",
        "env.valueFrom.configMapKeyRef.name",
        "env.valueFrom.configMapKeyRef.optional",
        "env.valueFrom.secretKeyRef.name",
        "env.valueFrom.secretKeyRef.optional",
    )
]
_META = ["kind", "metadata.name", "metadata.namespace"]  # of every kind
_OWNED = ["metadata.labels", "metadata.uid"] + [
    f"metadata.ownerReferences.{key}" for key in ("kind", "name", "uid", "controller")
]
_CONTAINER_STATE = [
    "ready",
    "state.waiting.reason",
    "state.terminated.exitCode",
    "state.terminated.reason",
    "lastState.terminated.exitCode",
    "lastState.terminated.reason",
]
_WORKLOAD = (
    [f"spec.template.spec.{path}" for path in _REFERENCES]
    + [f"spec.jobTemplate.spec.template.spec.{path}" for path in _REFERENCES]
    + _OWNED
    + ["spec.replicas", "spec.volumeClaimTemplates.metadata.name"]
    + [
        f"status.{key}"
        for key in ("readyReplicas", "desiredNumberScheduled", "numberReady", "active", "failed", "succeeded")
    ]
)
FACTS = {
    "Pod": ["metadata.labels", "metadata.deletionTimestamp", "metadata.ownerReferences.uid"]
    + ["metadata.ownerReferences.controller"]
    + ["spec.nodeName", "spec.volumes.persistentVolumeClaim.claimName"]
    + [f"spec.{path}" for path in _REFERENCES]
    + ["status.phase", "status.reason", "status.podIP", "status.conditions.type", "status.conditions.status"]
    + [f"status.{kind}.{path}" for kind in ("initContainerStatuses", "containerStatuses") for path in _CONTAINER_STATE],
    **dict.fromkeys(WORKLOAD_KINDS, _WORKLOAD),
    "ReplicaSet": _OWNED,
    "Service": [
        "metadata.labels",
        "spec.selector",
        "spec.type",
        "spec.ports.port",
        "spec.ports.protocol",
        "spec.ports.targetPort",
    ],
    "Endpoints": ["subsets.addresses[]", "subsets.notReadyAddresses[]"],
    "Ingress": [
        "metadata.labels",
        "spec.rules.host",
        "spec.rules.http.paths.backend.service.name",
        "spec.defaultBackend.service.name",
    ],
    "HorizontalPodAutoscaler": [
        "spec.scaleTargetRef.kind",
        "spec.scaleTargetRef.name",
        "spec.minReplicas",
        "spec.maxReplicas",
        "status.currentReplicas",
    ],
    "ConfigMap": [],
    "PersistentVolumeClaim": ["spec.volumeName", "spec.storageClassName", "status.phase"],
    "PersistentVolume": [
        "spec.capacity.storage",
        "spec.csi.volumeHandle",
        "spec.csi.volumeAttributes.imageName",
        "spec.csi.volumeAttributes.pool",
    ],
    "Secret": ["type"],
    "ServiceAccount": [],
}


def _tree(paths):
    tree = {}
    for path in paths:
        *parents, leaf = path.split(".")
        branch = tree
        for key in parents:
            branch = branch.setdefault(key, {})
        if leaf.endswith("[]"):
            branch.setdefault(leaf[:-2], {})  # kept with nothing inside: its length
        else:
            branch[leaf] = True
    return tree


_TREES = {kind: _tree(_META + paths) for kind, paths in FACTS.items()}
# Stored facts carry this tag: facts cut by another FACTS are not used (the reader parses the
# object instead and stores them again), so changing FACTS needs no migration of the mirror.
FACTS_TAG = hashlib.sha256(repr(sorted(_TREES.items())).encode()).hexdigest()[:8] + "|"


def _cut(value, tree):
    if tree is True:
        return value
    if isinstance(value, dict):
        return {key: _cut(value[key], sub) for key, sub in tree.items() if key in value}
    if isinstance(value, list):
        return [_cut(item, tree) for item in value]
    return value  # not the shape expected: kept as it is, read as the builder reads the object


def slim(obj):
    """The object cut down to what build() reads of its kind, or None for a kind it never draws."""
    tree = _TREES.get(obj.get("kind"))
    return None if tree is None else _cut(obj, tree)


def graph_facts(obj):
    """The stored form of slim(obj): FACTS_TAG and the JSON (console.clusters.mirror stores it)."""
    reduced = slim(obj)
    return None if reduced is None else facts_text(reduced)


def facts_text(reduced):
    return FACTS_TAG + ujson.dumps(reduced, ensure_ascii=False, escape_forward_slashes=False)


def from_facts(text):
    """slim(obj) from its stored form; None when it was cut by another FACTS (or never)."""
    return ujson.loads(text[len(FACTS_TAG) :]) if text and text.startswith(FACTS_TAG) else None


def node_id(kind, namespace, name):
    return f"{kind}/{namespace}/{name}"


@dataclass
class Graph:
    nodes: dict = field(default_factory=dict)  # id -> node dict
    edges: dict = field(default_factory=dict)  # id -> edge dict
    required: set = field(default_factory=set)  # ConfigMaps and Secrets some reference does not mark optional

    def node(self, kind, namespace, name, **data):
        ident = node_id(kind, namespace, name)
        node = self.nodes.get(ident)
        if node is None:
            node = {"id": ident, "kind": kind, "namespace": namespace, "name": name, "health": "unknown", **data}
            self.nodes[ident] = node
        else:
            node.update(data)
        return node

    def edge(self, source, target, relation):
        ident = f"{source}>{relation}>{target}"
        if ident not in self.edges:
            self.edges[ident] = {"id": ident, "source": source, "target": target, "relation": relation}

    def as_dict(self):
        return {"nodes": list(self.nodes.values()), "edges": list(self.edges.values())}


def _meta(obj):
    return obj.get("metadata") or {}


def _labels(obj):
    return _meta(obj).get("labels") or {}


def _selector_matches(selector, labels):
    """A Service's selector (a plain map): every pair must be on the pod."""
    return all(labels.get(key) == value for key, value in selector.items())


def _label_selector_matches(selector, labels):
    """metav1.LabelSelector (workloads' spec.selector)."""
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def pod_health(pod):
    """(health, reason) of a Pod from its status, as kubectl would summarise it."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "warn", "Terminating"
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    for statuses in (status.get("initContainerStatuses"), status.get("containerStatuses")):
        for container in statuses or ():
            state = container.get("state") or {}
            waiting = state.get("waiting")
            if waiting and waiting.get("reason") in BAD_REASONS:
                return "bad", waiting["reason"]
            terminated = state.get("terminated")
            if terminated and terminated.get("exitCode", 0) != 0 and phase != "Succeeded":
                return "bad", terminated.get("reason") or "Error"
            # restarted after a failure and not ready again yet: the crash loop between its back-offs
            last = (container.get("lastState") or {}).get("terminated")
            if last and last.get("exitCode", 0) != 0 and not container.get("ready"):
                return "bad", last.get("reason") or "Error"
    if phase == "Running":
        for condition in status.get("conditions") or ():
            if condition.get("type") == "Ready":
                return ("ok", "Running") if condition.get("status") == "True" else ("warn", "NotReady")
        return "ok", "Running"
    if phase == "Failed":
        return "bad", status.get("reason") or "Failed"
    if phase == "Succeeded":
        return "idle", "Completed"
    if phase == "Pending":
        return "warn", status.get("reason") or "Pending"
    return "unknown", phase or "Unknown"


def _worst(*healths):
    return max(healths, key=lambda h: HEALTH_RANK.get(h, 0)) if healths else "unknown"


def _refer(refs, source, key="name"):
    """Note a ConfigMap's or Secret's name: refs[name] stays True while every reference to it is
    optional (Kubernetes starts the pod without it then)."""
    name = (source or {}).get(key)
    if name:
        refs[name] = refs.get(name, True) and bool(source.get("optional"))


def _template_references(pod_spec):
    """(ConfigMaps, Secrets: {name: optional}, PVC names, ServiceAccount) a pod spec refers to."""
    config_maps, secrets, claims = {}, {}, []
    for volume in pod_spec.get("volumes") or []:
        _refer(config_maps, volume.get("configMap"))
        _refer(secrets, volume.get("secret"), "secretName")
        if volume.get("persistentVolumeClaim", {}).get("claimName"):
            claims.append(volume["persistentVolumeClaim"]["claimName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            _refer(config_maps, source.get("configMap"))
            _refer(secrets, source.get("secret"))
    for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        for source in container.get("envFrom") or []:
            _refer(config_maps, source.get("configMapRef"))
            _refer(secrets, source.get("secretRef"))
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            _refer(config_maps, value_from.get("configMapKeyRef"))
            _refer(secrets, value_from.get("secretKeyRef"))
    for pull in pod_spec.get("imagePullSecrets") or []:
        if pull.get("name"):
            secrets[pull["name"]] = False  # no image without it
    account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    return config_maps, secrets, claims, account


def _pod_template(kind, obj):
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return spec.get("template") or {}


def _workload_health(kind, obj, pod_healths):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind in ("Deployment", "StatefulSet"):
        wanted, ready = spec.get("replicas", 1), status.get("readyReplicas", 0)
        health = "idle" if wanted == 0 else ("ok" if ready >= wanted else "warn")
    elif kind == "DaemonSet":
        wanted, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
        health = "ok" if ready >= wanted else "warn"
    elif kind == "Job":
        health = "bad" if status.get("failed") and not status.get("succeeded") else "idle"
        if status.get("active"):
            health = "ok"
    else:
        health = "ok"
    return _worst(health, *set(pod_healths))  # health first: it wins ties (idle, unknown)


def build(objects, *, nodes_too=True, unlisted=()):
    """The graph of a list of objects (any namespaces): {"nodes": [...], "edges": [...]}.
    A ConfigMap, Secret or ServiceAccount named but not among the objects is missing (bad),
    unless its kind is in `unlisted` (not mirrored from that cluster: not known, idle), or every
    reference to it is marked optional (reason "optional, missing", unknown: the pods start)."""
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj.get("kind"), []).append(obj)
    graph = Graph()

    # Owners: ReplicaSets fold into their Deployment, Jobs into their CronJob.
    uid_to_workload = {}
    workloads = []
    for kind in WORKLOAD_KINDS:
        for obj in by_kind.get(kind, ()):
            meta = _meta(obj)
            owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
            if kind == "Job" and owner and owner.get("kind") == "CronJob":
                uid_to_workload[meta.get("uid")] = node_id("CronJob", meta.get("namespace", ""), owner.get("name"))
                continue
            ident = node_id(kind, meta.get("namespace", ""), meta.get("name", ""))
            uid_to_workload[meta.get("uid")] = ident
            workloads.append((kind, obj, ident))
    for replica_set in by_kind.get("ReplicaSet", ()):
        meta = _meta(replica_set)
        owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
        if owner and owner.get("kind") == "Deployment":
            uid_to_workload[meta.get("uid")] = node_id("Deployment", meta.get("namespace", ""), owner.get("name"))

    # Pods, grouped under their workload. The hot loop (2,000 pods a namespace): nodes and
    # edges made in place, not through Graph.node's keywords.
    nodes, edges = graph.nodes, graph.edges
    pods_of = {}
    hosts = {}  # node name -> its node's id
    # Pods with the same labels (a workload's, mostly) are matched once: 40 Services over
    # 2,000 pods are 40 x (a few label sets) checks, not 80,000.
    label_sets = {}  # namespace -> {labels as a sorted tuple: (labels, {targets})}
    for pod in by_kind.get("Pod", ()):
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        health, reason = pod_health(pod)
        workload = None
        for owner in meta.get("ownerReferences") or ():
            if owner.get("controller"):
                workload = uid_to_workload.get(owner.get("uid"))
                break
        labels = meta.get("labels") or {}
        ident = f"Pod/{namespace}/{name}"
        data = {
            "health": health,
            "reason": reason,
            "labels": labels,
            "host": spec.get("nodeName", ""),
            "ip": (pod.get("status") or {}).get("podIP", ""),
            "workload": workload or "",
        }
        node = nodes.get(ident)
        if node is None:
            nodes[ident] = node = {"id": ident, "kind": "Pod", "namespace": namespace, "name": name, **data}
        else:
            node.update(data)
        sets = label_sets.get(namespace)
        if sets is None:
            sets = label_sets[namespace] = {}
        key = tuple(sorted(labels.items()))
        entry = sets.get(key)
        if entry is None:
            entry = sets[key] = (labels, set())
        entry[1].add(workload or ident)
        if workload:
            siblings = pods_of.get(workload)
            if siblings is None:
                siblings = pods_of[workload] = []
            siblings.append(node)
            edge = f"{workload}>runs>{ident}"
            if edge not in edges:
                edges[edge] = {"id": edge, "source": workload, "target": ident, "relation": "runs"}
        for volume in spec.get("volumes") or ():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                graph.edge(ident, graph.node("PersistentVolumeClaim", namespace, claim)["id"], "mounts")
        if not workload:  # a bare pod carries its own dependencies (a workload's are its template's)
            config_maps, secrets, _claims, account = _template_references(spec)
            _dependencies(graph, ident, namespace, config_maps, secrets, account)
        host = spec.get("nodeName")
        if nodes_too and host:
            host_id = hosts.get(host)
            if host_id is None:
                host_id = hosts[host] = graph.node("Node", "", host)["id"]
            edge = f"{ident}>on-node>{host_id}"
            if edge not in edges:
                edges[edge] = {"id": edge, "source": ident, "target": host_id, "relation": "on-node"}

    for kind, obj, ident in workloads:
        meta = _meta(obj)
        namespace = meta.get("namespace", "")
        template_spec = _pod_template(kind, obj).get("spec") or {}
        healths = [p["health"] for p in pods_of.get(ident, ())]
        spec = obj.get("spec") or {}
        graph.node(
            kind,
            namespace,
            meta.get("name", ""),
            health=_workload_health(kind, obj, healths),
            labels=meta.get("labels") or {},
            replicas=spec.get("replicas"),
            ready=(obj.get("status") or {}).get("readyReplicas", 0),
            pods=len(healths),
        )
        config_maps, secrets, claims, account = _template_references(template_spec)
        _dependencies(graph, ident, namespace, config_maps, secrets, account)
        for template in spec.get("volumeClaimTemplates") or []:  # per pod: <template>-<pod name>
            name = _meta(template).get("name", "")
            for pod_node in pods_of.get(ident, ()):
                claim_id = graph.node("PersistentVolumeClaim", namespace, f"{name}-{pod_node['name']}")["id"]
                graph.edge(pod_node["id"], claim_id, "mounts")

    # Services → the workloads (or bare pods) whose pods they select.
    endpoints = {(_meta(e).get("namespace", ""), _meta(e).get("name", "")): e for e in by_kind.get("Endpoints", ())}
    postings = {}  # namespace -> {(label, value): [label set entries]}
    for service in by_kind.get("Service", ()):
        meta, spec = _meta(service), service.get("spec") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        selector = spec.get("selector") or {}
        ready = not_ready = 0
        endpoint = endpoints.get((namespace, name))
        for subset in (endpoint or {}).get("subsets") or []:
            ready += len(subset.get("addresses") or [])
            not_ready += len(subset.get("notReadyAddresses") or [])
        health = "ok"
        if selector and ready == 0:
            health = "warn"
        ident = graph.node(
            "Service",
            namespace,
            name,
            health=health,
            labels=meta.get("labels") or {},
            type=spec.get("type", "ClusterIP"),
            ports=[
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" + (f"→{p['targetPort']}" if p.get("targetPort") else "")
                for p in spec.get("ports") or []
            ],
            endpoints=ready,
            not_ready=not_ready,
        )["id"]
        if not selector:
            continue
        if namespace not in postings:  # (key, value) -> the label sets that have it, in their order
            postings[namespace] = index = {}
            for entry in label_sets.get(namespace, {}).values():
                for pair in entry[0].items():
                    index.setdefault(pair, []).append(entry)
        try:
            candidates = min((postings[namespace].get(pair, ()) for pair in selector.items()), key=len)
        except TypeError:  # a value that is no string (not valid in Kubernetes): every label set
            candidates = label_sets.get(namespace, {}).values()
        for labels, targets in candidates:
            if _selector_matches(selector, labels):
                for target in sorted(targets):
                    graph.edge(ident, target, "selects")

    for ingress in by_kind.get("Ingress", ()):
        meta, spec = _meta(ingress), ingress.get("spec") or {}
        namespace = meta.get("namespace", "")
        hosts = [rule.get("host") for rule in spec.get("rules") or [] if rule.get("host")]
        ident = graph.node(
            "Ingress", namespace, meta.get("name", ""), health="ok", hosts=hosts, labels=meta.get("labels") or {}
        )["id"]
        backends = [spec.get("defaultBackend")] if spec.get("defaultBackend") else []
        for rule in spec.get("rules") or []:
            backends += [path.get("backend") for path in (rule.get("http") or {}).get("paths") or []]
        for backend in backends:
            service = (backend or {}).get("service") or {}
            if service.get("name"):
                target = graph.node("Service", namespace, service["name"])
                graph.edge(ident, target["id"], "routes")

    for hpa in by_kind.get("HorizontalPodAutoscaler", ()):
        meta, spec = _meta(hpa), hpa.get("spec") or {}
        namespace = meta.get("namespace", "")
        target = spec.get("scaleTargetRef") or {}
        status = hpa.get("status") or {}
        ident = graph.node(
            "HorizontalPodAutoscaler",
            namespace,
            meta.get("name", ""),
            health="ok",
            min=spec.get("minReplicas", 1),
            max=spec.get("maxReplicas"),
            current=status.get("currentReplicas"),
        )["id"]
        if target.get("kind") and target.get("name"):
            graph.edge(ident, graph.node(target["kind"], namespace, target["name"])["id"], "scales")

    config_maps = {(_meta(c).get("namespace", ""), _meta(c).get("name", "")) for c in by_kind.get("ConfigMap", ())}
    claims = {
        (_meta(c).get("namespace", ""), _meta(c).get("name", "")): c for c in by_kind.get("PersistentVolumeClaim", ())
    }
    volumes = {_meta(v).get("name", ""): v for v in by_kind.get("PersistentVolume", ())}
    present = {
        (kind, _meta(o).get("namespace", ""), _meta(o).get("name", "")): o
        for kind in ("Secret", "ServiceAccount")
        for o in by_kind.get(kind, ())
    }
    for node in list(graph.nodes.values()):
        if node["kind"] == "ConfigMap":
            if (node["namespace"], node["name"]) in config_maps:
                node["health"] = "ok"
            else:
                _missing(graph, node)
        elif node["kind"] == "PersistentVolumeClaim":
            claim = claims.get((node["namespace"], node["name"]))
            _claim(graph, node, claim, volumes)
        elif node["kind"] in ("Secret", "ServiceAccount"):
            _reference(graph, node, present, unlisted)
    return graph.as_dict()


def _missing(graph, node):
    """A referenced object not there: broken, unless every reference to it is optional (the pods
    start without it)."""
    if node["id"] in graph.required or node["kind"] not in ("ConfigMap", "Secret"):
        node.update(health="bad", reason="missing")
    else:
        node.update(health="unknown", reason="optional, missing")


def _reference(graph, node, present, unlisted):
    """A Secret's or ServiceAccount's health: whether it exists (the mirror keeps their metadata only)."""
    if node["kind"] in unlisted:
        node["health"] = "idle"  # its kind is not mirrored from this cluster: not known here
        return
    found = present.get((node["kind"], node["namespace"], node["name"]))
    if found is None:
        _missing(graph, node)
        return
    node["health"] = "ok"
    if found.get("type"):
        node["type"] = found["type"]


def _dependencies(graph, ident, namespace, config_maps, secrets, account):
    for kind, refs, relation in (("ConfigMap", config_maps, "uses-config"), ("Secret", secrets, "uses-secret")):
        for name in sorted(refs):
            target = graph.node(kind, namespace, name)["id"]
            graph.edge(ident, target, relation)
            if not refs[name]:
                graph.required.add(target)
    graph.edge(ident, graph.node("ServiceAccount", namespace, account)["id"], "runs-as")


def _claim(graph, node, claim, volumes):
    if claim is None:
        node.update(health="bad", reason="missing")
        return
    phase = (claim.get("status") or {}).get("phase", "Pending")
    node.update(health="ok" if phase == "Bound" else "warn", reason=phase)
    node["storage_class"] = (claim.get("spec") or {}).get("storageClassName", "")
    volume_name = (claim.get("spec") or {}).get("volumeName")
    if not volume_name:
        return
    volume = volumes.get(volume_name)
    pv = graph.node("PersistentVolume", "", volume_name, health="ok" if volume else "unknown")
    graph.edge(node["id"], pv["id"], "bound")
    if volume is None:
        return
    csi = (volume.get("spec") or {}).get("csi") or {}
    attributes = csi.get("volumeAttributes") or {}
    pv["capacity"] = ((volume.get("spec") or {}).get("capacity") or {}).get("storage", "")
    pv["volume_handle"] = csi.get("volumeHandle", "")
    image, pool = attributes.get("imageName"), attributes.get("pool")
    if image:
        rbd = graph.node("RBDImage", "", f"{pool}/{image}" if pool else image, health="ok", pool=pool or "")
        graph.edge(pv["id"], rbd["id"], "image")
