"""The topology graph, built from Kubernetes objects (dicts, as the mirror keeps them). Pure:
no ORM, no API calls, so it is unit-tested and benchmarked on its own (bench/topology.py).

    Ingress (hosts) → Service (selector) → workload (Deployment, StatefulSet, DaemonSet, Job;
    ReplicaSets folded into their Deployment) → Pod → PVC → PV → RBD image, Pod → Node,
    and the hidden dependencies of each workload's pod template: ConfigMaps and Secrets
    (env, envFrom, volumes, projected volumes), its ServiceAccount; HPAs → their target.

Node ids are "<Kind>/<namespace>/<name>" ("Node//node-1" for cluster-scoped objects). Health:
ok, warn, bad, idle (a Job done, a Pod succeeded) or unknown.
"""

from dataclasses import dataclass, field

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


def node_id(kind, namespace, name):
    return f"{kind}/{namespace}/{name}"


@dataclass
class Graph:
    nodes: dict = field(default_factory=dict)  # id -> node dict
    edges: dict = field(default_factory=dict)  # id -> edge dict

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
    if _meta(pod).get("deletionTimestamp"):
        return "warn", "Terminating"
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in BAD_REASONS:
            return "bad", waiting["reason"]
        terminated = state.get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0 and phase != "Succeeded":
            return "bad", terminated.get("reason") or "Error"
        # restarted after a failure and not ready again yet: the crash loop between its back-offs
        last = (container.get("lastState") or {}).get("terminated") or {}
        if last and last.get("exitCode", 0) != 0 and not container.get("ready"):
            return "bad", last.get("reason") or "Error"
    if phase == "Failed":
        return "bad", status.get("reason") or "Failed"
    if phase == "Succeeded":
        return "idle", "Completed"
    if phase == "Pending":
        return "warn", status.get("reason") or "Pending"
    if phase == "Running":
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if ready is not None and ready.get("status") != "True":
            return "warn", "NotReady"
        return "ok", "Running"
    return "unknown", phase or "Unknown"


def _worst(*healths):
    return max(healths, key=lambda h: HEALTH_RANK.get(h, 0)) if healths else "unknown"


def _template_references(pod_spec):
    """(ConfigMap names, Secret names, PVC names, ServiceAccount) a pod spec refers to."""
    config_maps, secrets, claims = set(), set(), []
    for volume in pod_spec.get("volumes") or []:
        if volume.get("configMap", {}).get("name"):
            config_maps.add(volume["configMap"]["name"])
        if volume.get("secret", {}).get("secretName"):
            secrets.add(volume["secret"]["secretName"])
        if volume.get("persistentVolumeClaim", {}).get("claimName"):
            claims.append(volume["persistentVolumeClaim"]["claimName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("configMap") or {}).get("name"):
                config_maps.add(source["configMap"]["name"])
            if (source.get("secret") or {}).get("name"):
                secrets.add(source["secret"]["name"])
    for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        for source in container.get("envFrom") or []:
            if (source.get("configMapRef") or {}).get("name"):
                config_maps.add(source["configMapRef"]["name"])
            if (source.get("secretRef") or {}).get("name"):
                secrets.add(source["secretRef"]["name"])
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            if (value_from.get("configMapKeyRef") or {}).get("name"):
                config_maps.add(value_from["configMapKeyRef"]["name"])
            if (value_from.get("secretKeyRef") or {}).get("name"):
                secrets.add(value_from["secretKeyRef"]["name"])
    for pull in pod_spec.get("imagePullSecrets") or []:
        if pull.get("name"):
            secrets.add(pull["name"])
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
    return _worst(health, *pod_healths)


def build(objects, *, nodes_too=True, unlisted=()):
    """The graph of a list of objects (any namespaces): {"nodes": [...], "edges": [...]}.
    A ConfigMap, Secret or ServiceAccount named but not among the objects is missing (bad),
    unless its kind is in `unlisted` (not mirrored from that cluster: not known, idle)."""
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

    # Pods, grouped under their workload.
    pods_of = {}
    pod_nodes = []
    for pod in by_kind.get("Pod", ()):
        meta, spec = _meta(pod), pod.get("spec") or {}
        namespace = meta.get("namespace", "")
        health, reason = pod_health(pod)
        owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
        workload = uid_to_workload.get(owner.get("uid")) if owner else None
        status = pod.get("status") or {}
        node = graph.node(
            "Pod",
            namespace,
            meta.get("name", ""),
            health=health,
            reason=reason,
            labels=meta.get("labels") or {},
            host=spec.get("nodeName", ""),
            ip=status.get("podIP", ""),
            workload=workload or "",
        )
        pod_nodes.append((pod, node))
        if workload:
            pods_of.setdefault(workload, []).append(node)
            graph.edge(workload, node["id"], "runs")
        for volume in spec.get("volumes") or ():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                graph.edge(node["id"], graph.node("PersistentVolumeClaim", namespace, claim)["id"], "mounts")
        if not workload:  # a bare pod carries its own dependencies (a workload's are its template's)
            config_maps, secrets, _claims, account = _template_references(spec)
            _dependencies(graph, node["id"], namespace, config_maps, secrets, account)
        if nodes_too and spec.get("nodeName"):
            host = graph.node("Node", "", spec["nodeName"])
            graph.edge(node["id"], host["id"], "on-node")

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
    # Pods with the same labels (a workload's, mostly) are matched once: 40 Services over
    # 2,000 pods are 40 x (a few label sets) checks, not 80,000.
    label_sets = {}  # namespace -> {labels as a sorted tuple: (labels, [targets])}
    for _pod, node in pod_nodes:
        key = tuple(sorted(node["labels"].items()))
        entry = label_sets.setdefault(node["namespace"], {}).setdefault(key, (node["labels"], set()))
        entry[1].add(node["workload"] or node["id"])
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
        for labels, targets in label_sets.get(namespace, {}).values():
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
            node["health"] = "ok" if (node["namespace"], node["name"]) in config_maps else "bad"
            if node["health"] == "bad":
                node["reason"] = "missing"
        elif node["kind"] == "PersistentVolumeClaim":
            claim = claims.get((node["namespace"], node["name"]))
            _claim(graph, node, claim, volumes)
        elif node["kind"] in ("Secret", "ServiceAccount"):
            _reference(node, present, unlisted)
    return graph.as_dict()


def _reference(node, present, unlisted):
    """A Secret's or ServiceAccount's health: whether it exists (the mirror keeps their metadata only)."""
    if node["kind"] in unlisted:
        node["health"] = "idle"  # its kind is not mirrored from this cluster: not known here
        return
    found = present.get((node["kind"], node["namespace"], node["name"]))
    if found is None:
        node.update(health="bad", reason="missing")
        return
    node["health"] = "ok"
    if found.get("type"):
        node["type"] = found["type"]


def _dependencies(graph, ident, namespace, config_maps, secrets, account):
    for name in sorted(config_maps):
        graph.edge(ident, graph.node("ConfigMap", namespace, name)["id"], "uses-config")
    for name in sorted(secrets):
        graph.edge(ident, graph.node("Secret", namespace, name)["id"], "uses-secret")
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
