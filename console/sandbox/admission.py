"""What the API server does to an object before it is stored: defaulting, validation,
ClusterIP/NodePort allocation, default StorageClass, Job selectors, Pod Security, claim resizing
and ResourceQuota."""

import ipaddress
import random
import uuid
from decimal import Decimal

from . import quantity, validation
from .errors import ApiError, forbidden, qualified
from .kinds import STORED
from .podsecurity import PodSecurity

COUNTED = {
    "pods": "pods",
    "services": "services",
    "persistentvolumeclaims": "persistentvolumeclaims",
    "configmaps": "configmaps",
    "secrets": "secrets",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
}


def pod_counts(pod):
    """Whether a pod counts against quota (terminal and terminating pods do not)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not pod["metadata"].get(
        "deletionTimestamp"
    )


def container_totals(pod):
    totals = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for name, value in (resources.get(section) or {}).items():
                if name in ("cpu", "memory", "ephemeral-storage"):
                    try:
                        totals[f"{section}.{name}"] = totals.get(f"{section}.{name}", Decimal(0)) + quantity.parse(
                            value
                        )
                    except ValueError:
                        pass
    if "requests.cpu" in totals:
        totals["cpu"] = totals["requests.cpu"]
    if "requests.memory" in totals:
        totals["memory"] = totals["requests.memory"]
    return totals


def usage_of(plural, obj):
    """What one object adds to a namespace's quota usage."""
    used = {
        f"count/{qualified(STORED[plural]) if plural in STORED else plural}": Decimal(1)
    }  # custom resources: plural.group
    if plural in COUNTED:
        used[COUNTED[plural]] = Decimal(1)
    if plural == "pods":
        if not pod_counts(obj):
            return {}
        used.update(container_totals(obj))
    elif plural == "services":
        kind = (obj.get("spec") or {}).get("type")
        if kind == "NodePort":
            used["services.nodeports"] = Decimal(len((obj.get("spec") or {}).get("ports") or []))
        if kind == "LoadBalancer":
            used["services.loadbalancers"] = Decimal(1)
    elif plural == "persistentvolumeclaims":
        storage = (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        if storage and quantity.valid(storage):
            used["requests.storage"] = quantity.parse(storage)
    return used


def namespace_usage(store, namespace, names):
    used = {name: Decimal(0) for name in names}
    plurals = {"pods", "services", "persistentvolumeclaims", "configmaps", "secrets", "resourcequotas"}
    for name in names:
        if name.startswith("count/"):
            resource = name[len("count/") :]
            for plural, r in STORED.items():
                if qualified(r) == resource:
                    plurals.add(plural)
    for plural in plurals:
        if plural not in STORED:
            continue
        for obj in store.iter_refs(STORED[plural], namespace):
            for name, value in usage_of(plural, obj).items():
                if name in used:
                    used[name] += value
    return used


class Admission:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.service_network = ipaddress.ip_network("10.96.0.0/16")
        self.next_ip = 10
        self.pod_security = PodSecurity(self.store)

    def __call__(self, operation, resource, obj, old):
        plural = resource.key
        if plural == "namespaces" and old is None:
            obj.setdefault("status", {})["phase"] = "Active"
        validation.default(plural, obj)
        if plural == "jobs":
            self.job_selector(obj, old)
        if plural == "persistentvolumeclaims" and old is None:
            spec = obj.get("spec")
            if isinstance(spec, dict) and "storageClassName" not in spec:
                default_class = self.default_storage_class()
                if default_class:
                    spec["storageClassName"] = default_class
        if plural == "pods" and old is None:
            self.limit_ranger(obj)
        validation.validate(plural, obj, old, resource)
        if plural == "persistentvolumeclaims" and old is not None:
            self.claim_resize(resource, obj, old)
        self.pod_security.admit(plural, obj, old)
        if plural == "services":
            self.allocate_service(obj, old)
        if plural == "pods" and old is not None:
            self.pod_update(obj, old)
        if resource.namespaced and old is None:
            self.check_quota(resource, obj)

    def job_selector(self, job, old):
        """Jobs select their pods by a label holding the Job's own uid, as the real API server sets up."""
        spec = job.get("spec")
        if not isinstance(spec, dict) or spec.get("manualSelector"):
            return
        if old is not None:
            spec["selector"] = (old.get("spec") or {}).get("selector")
            return
        uid = str(uuid.uuid4())
        job["metadata"]["uid"] = uid  # the store keeps a uid chosen at admission
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": job["metadata"].get("name", ""),
            "controller-uid": uid,
            "job-name": job["metadata"].get("name", ""),
        }
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)

    def claim_resize(self, resource, pvc, old):
        """PersistentVolumeClaimResize: a claim grows only when its StorageClass allows volume expansion."""
        if validation.claim_size(pvc) <= validation.claim_size(old):
            return
        class_name = (pvc.get("spec") or {}).get("storageClassName")
        sc = self.store.get_ref(STORED["storageclasses"], "", class_name) if class_name else None
        if (
            sc is None
            or class_name != (old.get("spec") or {}).get("storageClassName")
            or not sc.get("allowVolumeExpansion")
        ):
            raise forbidden(
                resource,
                pvc["metadata"].get("name", ""),
                "only dynamically provisioned pvc can be "
                "resized and the storageclass that provisions the pvc must support resize",
            )

    def default_storage_class(self):
        for sc in self.store.iter_refs(STORED["storageclasses"]):
            if (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
                return sc["metadata"]["name"]
        return None

    def allocate_service(self, svc, old):
        spec = svc["spec"]
        old_spec = (old or {}).get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        if old_spec.get("clusterIP") and spec.get("clusterIP") in (None, "", old_spec["clusterIP"]):
            spec["clusterIP"] = old_spec["clusterIP"]
        elif spec.get("clusterIP") in (None, ""):
            spec["clusterIP"] = self.allocate_ip()
        spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            used = self.used_node_ports()
            old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in old_spec.get("ports") or []}
            for port in spec.get("ports") or []:
                if port.get("nodePort") is None:
                    previous = old_ports.get((port.get("port"), port.get("protocol")))
                    port["nodePort"] = previous if previous else self.allocate_node_port(used)
                    used.add(port["nodePort"])
                elif port["nodePort"] in used and port["nodePort"] not in old_ports.values():
                    raise ApiError(
                        422,
                        "Invalid",
                        f'Service "{svc["metadata"].get("name")}" is invalid: spec.ports[0].nodePort: '
                        f"Invalid value: {port['nodePort']}: provided port is already allocated",
                        {
                            "name": svc["metadata"].get("name"),
                            "kind": "Service",
                            "causes": [
                                {
                                    "reason": "FieldValueInvalid",
                                    "message": f"Invalid value: {port['nodePort']}: provided port is already allocated",
                                    "field": "spec.ports[0].nodePort",
                                }
                            ],
                        },
                    )
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)

    def allocate_ip(self):
        used = {(s.get("spec") or {}).get("clusterIP") for s in self.store.iter_refs(STORED["services"])}
        while True:
            self.next_ip += 1
            candidate = str(self.service_network[self.next_ip % (self.service_network.num_addresses - 2) + 1])
            if candidate not in used:
                return candidate

    def used_node_ports(self):
        return {
            p.get("nodePort")
            for s in self.store.iter_refs(STORED["services"])
            for p in (s.get("spec") or {}).get("ports") or []
            if p.get("nodePort")
        }

    def allocate_node_port(self, used):
        for _ in range(5000):
            port = random.randint(30000, 32767)
            if port not in used:
                return port
        raise ApiError(500, "InternalError", "range is full: no NodePort left")

    def pod_update(self, pod, old):
        """Pod specs are immutable but for images and a few fields; the scheduler binds through the store."""
        spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}
        if old_spec.get("nodeName") and spec.get("nodeName") != old_spec.get("nodeName"):
            raise ApiError(
                422,
                "Invalid",
                f'Pod "{pod["metadata"]["name"]}" is invalid: spec: Forbidden: pod updates may not change '
                "fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, "
                "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), "
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                {
                    "name": pod["metadata"]["name"],
                    "kind": "Pod",
                    "causes": [
                        {
                            "reason": "FieldValueForbidden",
                            "message": "pod updates may not change fields",
                            "field": "spec",
                        }
                    ],
                },
            )

    def limit_ranger(self, pod):
        """The LimitRanger admission plugin: containers without requests or limits get
        the namespace's LimitRange defaults (a default limit is also the default request),
        and containers above a max or below a min are refused."""
        namespace = pod["metadata"].get("namespace", "")
        items = [
            item
            for lr in self.store.iter_refs(STORED["limitranges"], namespace)
            for item in (lr.get("spec") or {}).get("limits") or []
            if item.get("type") == "Container"
        ]
        if not items:
            return
        spec = pod.get("spec") or {}
        changes = []
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            resources = container.setdefault("resources", {})
            set_requests, set_limits = [], []
            for item in items:
                defaults, default_requests = item.get("default") or {}, item.get("defaultRequest") or {}
                for name, value in defaults.items():
                    if name not in (resources.get("limits") or {}):
                        resources.setdefault("limits", {})[name] = value
                        set_limits.append(name)
                for name in set(default_requests) | set(defaults):
                    if name not in (resources.get("requests") or {}):
                        limit = (resources.get("limits") or {}).get(name)
                        explicit_limit = limit is not None and name not in set_limits
                        value = limit if explicit_limit else default_requests.get(name, defaults.get(name))
                        resources.setdefault("requests", {})[name] = value
                        set_requests.append(name)
            if set_requests:
                changes.append(f"{', '.join(sorted(set(set_requests)))} request for container {container.get('name')}")
            if set_limits:
                changes.append(f"{', '.join(sorted(set(set_limits)))} limit for container {container.get('name')}")
            self._check_bounds(pod, container, items)
        if changes:
            pod["metadata"].setdefault("annotations", {})["kubernetes.io/limit-ranger"] = (
                "LimitRanger plugin set: " + "; ".join(changes)
            )

    def _check_bounds(self, pod, container, items):
        resources = container.get("resources") or {}
        for item in items:
            for name, bound in (item.get("max") or {}).items():
                limit = (resources.get("limits") or {}).get(name)
                if limit is None or quantity.parse(limit) > quantity.parse(bound):
                    what = f"limit is {limit}" if limit is not None else "No limit is specified"
                    self._refuse_bounds(pod, f"maximum {name} usage per Container is {bound}, but {what}")
            for name, bound in (item.get("min") or {}).items():
                request = (resources.get("requests") or {}).get(name)
                if request is None or quantity.parse(request) < quantity.parse(bound):
                    what = f"request is {request}" if request is not None else "No request is specified"
                    self._refuse_bounds(pod, f"minimum {name} usage per Container is {bound}, but {what}")

    @staticmethod
    def _refuse_bounds(pod, reason):
        name = pod["metadata"].get("name") or pod["metadata"].get("generateName", "")
        raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: {reason}', {"name": name, "kind": "pods"})

    def check_quota(self, resource, obj):
        store = self.store
        namespace = obj["metadata"].get("namespace", "")
        quotas = list(store.iter_refs(STORED["resourcequotas"], namespace))
        if not quotas:
            return
        adds = usage_of(resource.key, obj)
        if not adds:
            return
        for quota in quotas:
            hard = {
                k: quantity.parse(v)
                for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()
                if quantity.valid(v)
            }
            relevant = sorted(k for k in hard if k in adds)
            if resource.key == "pods":
                missing = [
                    k
                    for k in hard
                    if k in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
                    and k not in adds
                ]
                if missing:
                    names = [c.get("name") for c in obj["spec"].get("containers") or []]
                    raise ApiError(
                        403,
                        "Forbidden",
                        f'pods "{obj["metadata"].get("name")}" is forbidden: failed quota: '
                        f"{quota['metadata']['name']}: must specify "
                        + "; ".join(f"{m} for: {','.join(names)}" for m in sorted(missing)),
                        {"name": obj["metadata"].get("name"), "kind": "pods"},
                    )
            if not relevant:
                continue
            used = namespace_usage(store, namespace, relevant)
            over = [k for k in relevant if used[k] + adds[k] > hard[k]]
            if over:

                def show(values, keys):
                    return ",".join(f"{k}={quantity.fmt(k, values[k])}" for k in keys)

                name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{qualified(resource)} "{name}" is forbidden: exceeded quota: '
                    f"{quota['metadata']['name']}, requested: {show(adds, over)}, used: {show(used, over)}, "
                    f"limited: {show(hard, over)}",
                    {"name": name, "group": resource.group, "kind": resource.plural},
                )
