"""Defaulting and validation per kind, with the API server's field paths and messages."""

import base64
import re

from . import crds, quantity, rbac
from .errors import invalid
from .selectors import selector_matcher

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_NAMED = {"namespaces", "services"}  # names that must be DNS-1123 labels
WORKLOADS = {"deployments", "replicasets", "statefulsets", "daemonsets"}
RBAC_KINDS = {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}


class Causes(list):
    def required(self, field, what=None):
        self.append((field, "Required value" + (f": {what}" if what else ""), "FieldValueRequired"))

    def bad(self, field, value, message, shown=None):
        """shown: the value as the API server prints it where _show() would not (Go slices, structs)."""
        self.append(
            (field, f"Invalid value: {_show(value) if shown is None else shown}: {message}", "FieldValueInvalid")
        )

    def unsupported(self, field, value, allowed):
        self.append(
            (
                field,
                f"Unsupported value: {_show(value)}: supported values: {', '.join(_show(a) for a in allowed)}",
                "FieldValueNotSupported",
            )
        )

    def duplicate(self, field, value):
        self.append((field, f"Duplicate value: {_show(value)}", "FieldValueDuplicate"))

    def forbidden(self, field, message):
        self.append((field, f"Forbidden: {message}", "FieldValueForbidden"))

    def objects(self, items, path):
        """(path[n], item) for each item that is an object; any other item is reported here."""
        for n, item in enumerate(items or []):
            where = f"{path}[{n}]"
            if isinstance(item, dict):
                yield where, item
            else:
                self.bad(where, item, "must be an object")


def _show(value):
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}":"{v}"' for k, v in value.items()) + "}"
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- defaulting ----------------------------------------------------------------------------------


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    if spec.get("serviceAccountName") or spec.get("serviceAccount"):
        spec.setdefault("serviceAccountName", spec.get("serviceAccount"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        image = container.get("image") or ""
        tag = image.rsplit("/", 1)[-1]
        latest = (":" not in tag or tag.endswith(":latest")) and "@" not in tag
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
        resources = container["resources"]
        if isinstance(resources, dict) and resources.get("limits") and not resources.get("requests"):
            resources["requests"] = dict(resources["limits"])  # requests default to limits
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            for source in ("configMap", "secret"):
                if isinstance(volume.get(source), dict):
                    volume[source].setdefault("defaultMode", 420)


def default_template(template):
    template.setdefault("metadata", {})
    if isinstance(template.get("metadata"), dict):
        template["metadata"].pop("creationTimestamp", None)
    default_pod_spec(template.setdefault("spec", {}))


# status fields Go serialises even when zero (no omitempty): typed clients require them
STATUS_ZEROES = {
    "statefulsets": ("replicas", "availableReplicas"),
    "daemonsets": ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"),
    "replicasets": ("replicas",),
    "horizontalpodautoscalers": ("desiredReplicas",),
}


def default(plural, obj):
    """Fill defaults in place, as the API server does on every write."""
    if plural in STATUS_ZEROES:
        status = obj.get("status")
        if not isinstance(status, dict):
            status = obj["status"] = {}
        for field in STATUS_ZEROES[plural]:
            status.setdefault(field, 0)
    spec = obj.get("spec")
    if plural == "pods" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        spec.setdefault(
            "tolerations",
            [
                {
                    "key": f"node.kubernetes.io/{taint}",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
                for taint in ("not-ready", "unreachable")
            ],
        )
    elif plural in WORKLOADS and isinstance(spec, dict):
        if isinstance(spec.get("template"), dict):
            default_template(spec["template"])
        if plural != "daemonsets":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if plural == "deployments":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxSurge", "25%")
                rolling.setdefault("maxUnavailable", "25%")
        elif plural == "statefulsets":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            update = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            if update.get("type") == "RollingUpdate":
                update.setdefault("rollingUpdate", {"partition": 0})
            spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
            for claim in spec.get("volumeClaimTemplates") or []:
                if isinstance(claim, dict):
                    claim.setdefault("apiVersion", "v1")
                    claim.setdefault("kind", "PersistentVolumeClaim")
                    claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        elif plural == "daemonsets":
            update = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            if update.get("type") == "RollingUpdate":
                update.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
        elif plural == "replicasets":
            spec.pop("revisionHistoryLimit", None)
        if plural in ("deployments", "replicasets"):
            spec.setdefault("minReadySeconds", 0)
    elif plural == "jobs" and isinstance(spec, dict):
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", spec.get("completions", 1))
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        if isinstance(spec.get("template"), dict):
            default_template(spec["template"])
    elif plural == "cronjobs" and isinstance(spec, dict):
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        if isinstance(job.get("template"), dict):
            default_template(job["template"])
    elif plural == "services" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
    elif plural == "persistentvolumeclaims" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
        if isinstance(spec.get("dataSource"), dict) and "dataSourceRef" not in spec:  # AnyVolumeDataSource
            spec["dataSourceRef"] = dict(spec["dataSource"])
    elif plural == "persistentvolumes" and isinstance(spec, dict):
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    elif plural == "secrets":
        obj.setdefault("type", "Opaque")
        if isinstance(obj.get("stringData"), dict):  # write-only: folded into data
            data = obj.setdefault("data", {}) or {}
            for key, value in obj.pop("stringData").items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
    elif plural == "horizontalpodautoscalers" and isinstance(spec, dict):
        spec.setdefault("minReplicas", 1)
        if not spec.get("metrics"):
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ]
    elif plural == "storageclasses":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif plural == "ingresses" and isinstance(spec, dict):
        for rule in spec.get("rules") or []:
            for path in ((rule or {}).get("http") or {}).get("paths") or []:
                if isinstance(path, dict):
                    path.setdefault("pathType", "ImplementationSpecific")
    elif plural == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        if isinstance(labels, dict) and obj["metadata"].get("name"):
            labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif plural in ("rolebindings", "clusterrolebindings"):
        rbac.default(obj)
    elif plural == "customresourcedefinitions":
        crds.default(obj)


# --- validation ----------------------------------------------------------------------------------


def validate_meta(plural, obj, causes):
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        causes.required("metadata.name", "name or generateName is required")
        return
    name = meta.get("name") or ""
    if not name:
        causes.required("metadata.name", "name or generateName is required")
    elif plural in LABEL_NAMED:
        if len(name) > 63 or not DNS1123_LABEL.match(name):
            causes.bad("metadata.name", name, LABEL_MSG if len(name) <= 63 else "must be no more than 63 characters")
    elif plural in RBAC_KINDS:  # RBAC names only need to be valid path segments ("system:discovery")
        if name in (".", ".."):
            causes.bad("metadata.name", name, f"may not be '{name}'")
        elif "/" in name or "%" in name:
            causes.bad("metadata.name", name, "may not contain '/'" if "/" in name else "may not contain '%'")
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        causes.bad("metadata.name", name, SUBDOMAIN_MSG)
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            causes.bad(f"metadata.{field}", values, "must be a map of strings")
            continue
        for key, value in values.items():
            short = key.rsplit("/", 1)[-1]
            if not LABEL_NAME.match(short) or len(short) > 63:
                causes.bad(
                    f"metadata.{field}",
                    key,
                    "name part must consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character",
                )
            if field == "labels" and (not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value)):
                causes.bad(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                )
            elif field == "annotations" and not isinstance(value, str):
                causes.bad("metadata.annotations", value, "must be a string")


def validate_pod_spec(spec, path, causes, restart_policies=("Always", "OnFailure", "Never")):
    if not isinstance(spec, dict):
        causes.required(path)
        return
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        causes.required(f"{path}.containers")
        return
    seen = set()
    for kind in ("initContainers", "containers"):
        for where, container in causes.objects(spec.get(kind), f"{path}.{kind}"):
            name = container.get("name") or ""
            if not name:
                causes.required(f"{where}.name")
            elif not DNS1123_LABEL.match(name) or len(name) > 63:
                causes.bad(f"{where}.name", name, LABEL_MSG)
            elif name in seen:
                causes.duplicate(f"{where}.name", name)
            seen.add(name)
            if not container.get("image"):
                causes.required(f"{where}.image")
            for p, port in enumerate(container.get("ports") or []):
                number = (port or {}).get("containerPort")
                if not isinstance(number, int) or not 0 < number < 65536:
                    causes.bad(f"{where}.ports[{p}].containerPort", number, "must be between 1 and 65535, inclusive")
            for section in ("requests", "limits"):
                for resource, value in ((container.get("resources") or {}).get(section) or {}).items():
                    if not quantity.valid(value):
                        causes.bad(
                            f"{where}.resources.{section}[{resource}]",
                            value,
                            "quantities must match the "
                            "regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                        )
            requests = (container.get("resources") or {}).get("requests") or {}
            limits = (container.get("resources") or {}).get("limits") or {}
            for resource, value in requests.items():
                if (
                    resource in limits
                    and quantity.valid(value)
                    and quantity.valid(limits[resource])
                    and quantity.parse(value) > quantity.parse(limits[resource])
                ):
                    causes.bad(
                        f"{where}.resources.requests",
                        value,
                        f"must be less than or equal to {resource} limit of {limits[resource]}",
                    )
    policy = spec.get("restartPolicy")
    if policy and policy not in restart_policies:
        causes.unsupported(f"{path}.restartPolicy", policy, restart_policies)


def validate_workload(plural, obj, causes, old):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.required("spec")
        return
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if plural == "jobs":
        validate_pod_spec(template.get("spec"), "spec.template.spec", causes, ("OnFailure", "Never"))
        for field in ("parallelism", "completions", "backoffLimit"):
            value = spec.get(field)
            if value is not None and (not isinstance(value, int) or value < 0):
                causes.bad(f"spec.{field}", value, "must be greater than or equal to 0")
        return
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.required("spec.selector")
    elif not selector_matcher(selector)(labels):
        causes.bad("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.bad("spec.replicas", replicas, "must be greater than or equal to 0")
    validate_pod_spec(template.get("spec"), "spec.template.spec", causes, ("Always",))
    if plural == "deployments":
        strategy = spec.get("strategy") or {}
        if strategy.get("type") not in (None, "RollingUpdate", "Recreate"):
            causes.unsupported("spec.strategy.type", strategy.get("type"), ("Recreate", "RollingUpdate"))
        if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
            causes.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
        rolling = strategy.get("rollingUpdate") or {}
        if str(rolling.get("maxSurge", "1")) in ("0", "0%") and str(rolling.get("maxUnavailable", "1")) in ("0", "0%"):
            causes.bad(
                "spec.strategy.rollingUpdate.maxUnavailable",
                rolling.get("maxUnavailable"),
                "may not be 0 when `maxSurge` is 0",
            )
    if plural == "statefulsets":
        for n, claim in enumerate(spec.get("volumeClaimTemplates") or []):
            if not ((claim or {}).get("metadata") or {}).get("name"):
                causes.required(f"spec.volumeClaimTemplates[{n}].metadata.name")
    if (
        old is not None
        and (old.get("spec") or {}).get("selector") != selector
        and plural in ("deployments", "statefulsets", "daemonsets", "replicasets")
    ):
        causes.bad("spec.selector", selector or {}, "field is immutable")


def validate_service(obj, causes, old):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.required("spec")
        return
    kind = spec.get("type", "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.unsupported("spec.type", kind, ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"))
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        causes.required("spec.ports")
    names = set()
    for n, port in enumerate(ports):
        number = (port or {}).get("port")
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.bad(f"spec.ports[{n}].port", number, "must be between 1 and 65535, inclusive")
        if len(ports) > 1 and not (port or {}).get("name"):
            causes.required(f"spec.ports[{n}].name")
        if (port or {}).get("name") in names:
            causes.duplicate(f"spec.ports[{n}].name", port.get("name"))
        names.add((port or {}).get("name"))
        node_port = (port or {}).get("nodePort")
        if node_port is not None and (not isinstance(node_port, int) or not 30000 <= node_port <= 32767):
            causes.bad(
                f"spec.ports[{n}].nodePort",
                node_port,
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            )
    if kind == "ExternalName" and not spec.get("externalName"):
        causes.required("spec.externalName")
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") not in (None, "", old_ip) and kind != "ExternalName":
            causes.bad("spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set")


def claim_size(pvc):
    """A claim's storage request in bytes (0 when it has none or it is not a quantity)."""
    storage = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return quantity.parse(storage) if storage is not None and quantity.valid(storage) else 0


def update_claim(spec, old, causes):
    """ValidatePersistentVolumeClaimUpdate: a claim's spec is fixed, but for its volumeName (set once) and,
    once bound, its storage request, which may not go below the capacity it has."""
    old_spec = old.get("spec") or {}
    bound = (old.get("status") or {}).get("phase") == "Bound"
    free = ("resources", "volumeName") + (("volumeAttributesClassName",) if bound else ())
    fixed = {k: v for k, v in old_spec.items() if k not in free}
    now = {k: v for k, v in spec.items() if k not in free}
    size, old_size = claim_size({"spec": spec}), claim_size(old)
    if (
        fixed != now
        or (old_spec.get("volumeName") and spec.get("volumeName") != old_spec["volumeName"])
        or (not bound and size != old_size)
    ):
        causes.forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        )
    elif size < old_size and size <= claim_size(
        {"spec": {"resources": {"requests": (old.get("status") or {}).get("capacity") or {}}}}
    ):
        causes.forbidden("spec.resources.requests.storage", "field can not be less than status.capacity")


def validate(plural, obj, old=None, resource=None):
    """Raise 422 Invalid when obj is not a valid object of this kind (plural: the store key)."""
    from .kinds import STORED

    causes = Causes()
    validate_meta(plural, obj, causes)
    spec = obj.get("spec")
    if plural in RBAC_KINDS:
        rbac.validate(plural, obj, old, causes)
    elif plural == "customresourcedefinitions":
        crds.validate(obj, old, causes)
    elif plural == "pods":
        validate_pod_spec(spec, "spec", causes)
    elif plural in WORKLOADS or plural == "jobs":
        validate_workload(plural, obj, causes, old)
    elif plural == "cronjobs":
        from .cron import CronError, parse_schedule

        if not isinstance(spec, dict) or not spec.get("schedule"):
            causes.required("spec.schedule")
        else:
            try:
                parse_schedule(spec["schedule"])
            except CronError as exc:
                causes.bad("spec.schedule", spec["schedule"], str(exc))
        template = ((spec or {}).get("jobTemplate") or {}).get("spec") or {}
        validate_pod_spec(
            (template.get("template") or {}).get("spec"),
            "spec.jobTemplate.spec.template.spec",
            causes,
            ("OnFailure", "Never"),
        )
        policy = (spec or {}).get("concurrencyPolicy")
        if policy not in (None, "Allow", "Forbid", "Replace"):
            causes.unsupported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
    elif plural == "services":
        validate_service(obj, causes, old)
    elif plural in ("configmaps", "secrets"):
        for field in ("data", "binaryData") if plural == "configmaps" else ("data",):
            for key, value in (obj.get(field) or {}).items():
                if not CONFIG_KEY.match(key) or len(key) > 253:
                    causes.bad(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    )
                if plural == "secrets" or field == "binaryData":
                    try:
                        base64.b64decode(value or "", validate=True)
                    except (ValueError, TypeError):
                        causes.bad(f"{field}[{key}]", "<secret contents redacted>", "illegal base64 data")
        if (
            old is not None
            and old.get("immutable")
            and (old.get("data") != obj.get("data") or old.get("binaryData") != obj.get("binaryData"))
        ):
            causes.forbidden("data", "field is immutable when `immutable` is set")
    elif plural == "persistentvolumeclaims":
        if not isinstance(spec, dict):
            causes.required("spec")
        else:
            if not spec.get("accessModes"):
                causes.required("spec.accessModes")
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            if storage is None:
                causes.required("spec.resources[storage]")
            elif not quantity.valid(storage):
                causes.bad("spec.resources.requests[storage]", storage, "quantities must match the regular expression")
            if old is not None:
                update_claim(spec, old, causes)
    elif plural == "horizontalpodautoscalers":
        if not isinstance(spec, dict):
            causes.required("spec")
        else:
            ref = spec.get("scaleTargetRef") or {}
            if not ref.get("kind"):
                causes.required("spec.scaleTargetRef.kind")
            if not ref.get("name"):
                causes.required("spec.scaleTargetRef.name")
            maximum, minimum = spec.get("maxReplicas"), spec.get("minReplicas", 1)
            if not isinstance(maximum, int) or maximum < 1:
                causes.bad("spec.maxReplicas", maximum, "must be greater than or equal to 1")
            elif isinstance(minimum, int) and minimum > maximum:
                causes.bad("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`")
    elif plural == "resourcequotas":
        for name, value in ((spec or {}).get("hard") or {}).items():
            if not quantity.valid(value):
                causes.bad(f"spec.hard[{name}]", value, "quantities must match the regular expression")
    elif plural == "ingresses":
        for n, rule in enumerate((spec or {}).get("rules") or []):
            for p, path in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
                if not (path or {}).get("backend"):
                    causes.required(f"spec.rules[{n}].http.paths[{p}].backend")
    elif plural == "storageclasses":
        if not obj.get("provisioner"):
            causes.required("provisioner")
    elif plural == "volumesnapshots":
        source = (spec or {}).get("source") or {}
        if not (source.get("persistentVolumeClaimName") or source.get("volumeSnapshotContentName")):
            causes.required(
                "spec.source", "exactly one of persistentVolumeClaimName and volumeSnapshotContentName should be set"
            )
    if causes:
        resource = resource or STORED[plural]
        meta = obj.get("metadata") or {}
        raise invalid(resource, meta.get("name") or meta.get("generateName") or "", causes)
