"""From running resources to a template: read from the resource mirror (never live calls),
cluster-specific fields stripped, references followed, parameters proposed.

What is taken: the workloads (a namespace's, or one app's), and what they refer to or what
refers to them: ConfigMaps, PVCs, Services selecting their pods, Ingresses routing to those
Services, autoscalers scaling them, NetworkPolicies selecting their pods. Secrets are never
copied: each one referred to becomes a parameter naming a Secret that must exist where the
template is instantiated. Objects controlled by another (ReplicaSets, Pods, a StatefulSet's
claims) and generated ones are left out: their owners make them again."""

import re

import yaml

from console.clusters.models import MirroredObject
from console.kube.kinds import KINDS as KINDS_BY_NAME
from workloads import manifests as app_manifests

from .choices import ParamType
from .render import ORDER

KINDS = (
    "Deployment",
    "StatefulSet",
    "Service",
    "Ingress",
    "ConfigMap",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
)
WORKLOADS = ("Deployment", "StatefulSet")
STRIPPED_META = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "namespace",
    "generateName",
    "finalizers",
)
STRIPPED_ANNOTATIONS = (
    "deployment.kubernetes.io/",
    "kubectl.kubernetes.io/last-applied-configuration",
    app_manifests.CHANGE_CAUSE,
    app_manifests.JOB_ANNOTATION,
    "pv.kubernetes.io/",
    "volume.beta.kubernetes.io/",
    "volume.kubernetes.io/",
    "control-plane.alpha.kubernetes.io/",
)
STRIPPED_SERVICE = (
    "clusterIP",
    "clusterIPs",
    "healthCheckNodePort",
    "loadBalancerIP",
    "externalIPs",
    "ipFamilies",
    "ipFamilyPolicy",
)
SYSTEM_CONFIGMAPS = ("kube-root-ca.crt",)


def slug(name):
    text = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return (text if re.match(r"[a-z_]", text) else f"p_{text}")[:50]


class Extraction:
    def __init__(self, project):
        rows = MirroredObject.objects.filter(
            cluster=project.cluster, namespace=project.name, kind__in=KINDS
        ).values_list("kind", "name", "object")
        self.all = {(kind, name): _typed(kind, obj) for kind, name, obj in rows if self._own(obj)}
        self.parameters = {}
        self.chosen = {}

    @staticmethod
    def _own(obj):
        meta = obj.get("metadata") or {}
        if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
            return False
        if meta.get("generateName") and meta.get("name", "").startswith(meta["generateName"]):
            return False
        labels = meta.get("labels") or {}
        return app_manifests.CANARY_OF_LABEL not in labels and meta.get("name") not in SYSTEM_CONFIGMAPS

    def of_kind(self, kind):
        return [obj for (k, _n), obj in sorted(self.all.items()) if k == kind]

    def param(self, name, kind, default, description):
        name = slug(name)
        if name not in self.parameters:
            self.parameters[name] = {"name": name, "type": kind, "default": default, "description": description}
        return "${" + name + "}"

    def take(self, obj):
        key = (obj["kind"], obj["metadata"]["name"])
        if key not in self.chosen:
            self.chosen[key] = clean(obj)

    # --- references ---------------------------------------------------------------------

    def workload(self, obj):
        self.take(obj)
        name = obj["metadata"]["name"]
        pod = (obj.get("spec") or {}).get("template") or {}
        labels = (pod.get("metadata") or {}).get("labels") or {}
        pod_spec = pod.get("spec") or {}
        for claim in _claim_names(pod_spec):
            if ("PersistentVolumeClaim", claim) in self.all:
                self.take(self.all[("PersistentVolumeClaim", claim)])
        for config in _config_names(pod_spec):
            if ("ConfigMap", config) in self.all:
                self.take(self.all[("ConfigMap", config)])
        for service in self.of_kind("Service"):
            selector = (service.get("spec") or {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                self.take(service)
        if obj["kind"] == "StatefulSet":
            headless = (obj.get("spec") or {}).get("serviceName")
            if headless and ("Service", headless) in self.all:
                self.take(self.all[("Service", headless)])
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") == obj["kind"] and ref.get("name") == name:
                self.take(hpa)
        for policy in self.of_kind("NetworkPolicy"):
            match = ((policy.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}
            if all(labels.get(k) == v for k, v in match.items()):
                self.take(policy)

    def routes(self):
        services = {name for kind, name in self.chosen if kind == "Service"}
        for ingress in self.of_kind("Ingress"):
            if _ingress_services(ingress) & services:
                self.take(ingress)

    # --- parameters ---------------------------------------------------------------------

    def propose(self):
        for (kind, name), obj in self.chosen.items():
            spec = obj.get("spec") or {}
            if kind in WORKLOADS:
                if isinstance(spec.get("replicas"), int):
                    spec["replicas"] = self.param(
                        f"{name}_replicas", ParamType.INT, spec["replicas"], f"Pods of {name}"
                    )
                pod_spec = (spec.get("template") or {}).get("spec") or {}
                self._pod(name, pod_spec)
                for claim in spec.get("volumeClaimTemplates") or []:
                    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
                    claim_name = (claim.get("metadata") or {}).get("name", "data")
                    if requests.get("storage"):
                        requests["storage"] = self.param(
                            f"{name}_{claim_name}_size",
                            ParamType.QUANTITY,
                            str(requests["storage"]),
                            f"Volume {claim_name} of each pod of {name}",
                        )
                    (claim.get("metadata") or {}).pop("namespace", None)
                    claim.pop("status", None)
            elif kind == "PersistentVolumeClaim":
                requests = (spec.get("resources") or {}).get("requests") or {}
                if requests.get("storage"):
                    requests["storage"] = self.param(
                        f"{name}_size", ParamType.QUANTITY, str(requests["storage"]), f"Size of volume {name}"
                    )
            elif kind == "Ingress":
                for n, rule in enumerate(spec.get("rules") or [], start=1):
                    if rule.get("host"):
                        suffix = "" if n == 1 else f"_{n}"
                        rule["host"] = self.param(
                            f"{name}_host{suffix}", ParamType.STRING, rule["host"], f"Domain of Ingress {name}"
                        )
                for tls in spec.get("tls") or []:
                    if tls.get("secretName"):
                        tls["secretName"] = self._secret(tls["secretName"])

    def _pod(self, name, pod_spec):
        pod_spec.pop("nodeName", None)
        for n, container in enumerate(pod_spec.get("containers") or []):
            prefix = name if n == 0 else f"{name}_{container.get('name', n)}"
            if container.get("image"):
                container["image"] = self.param(
                    f"{prefix}_image",
                    ParamType.IMAGE,
                    container["image"],
                    f"Image of {container.get('name')} in {name}",
                )
            requests = (container.get("resources") or {}).get("requests") or {}
            for resource in ("cpu", "memory"):
                if requests.get(resource):
                    requests[resource] = self.param(
                        f"{prefix}_{resource}", ParamType.QUANTITY, str(requests[resource]), f"{resource} request"
                    )
            for ref in container.get("envFrom") or []:
                if (ref.get("secretRef") or {}).get("name"):
                    ref["secretRef"]["name"] = self._secret(ref["secretRef"]["name"])
            for env in container.get("env") or []:
                key_ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
                if key_ref.get("name"):
                    key_ref["name"] = self._secret(key_ref["name"])
        for volume in pod_spec.get("volumes") or []:
            if (volume.get("secret") or {}).get("secretName"):
                volume["secret"]["secretName"] = self._secret(volume["secret"]["secretName"])
        for pull in pod_spec.get("imagePullSecrets") or []:
            if pull.get("name"):
                pull["name"] = self._secret(pull["name"])

    def _secret(self, name):
        return self.param(
            f"secret_{name}",
            ParamType.STRING,
            name,
            f"Name of an existing Secret in the namespace (in place of {name}; its values are never copied)",
        )


def _typed(kind, obj):
    """Mirrored objects are stored as listed: a list's items may lack kind and apiVersion."""
    obj.setdefault("kind", kind)
    obj.setdefault("apiVersion", KINDS_BY_NAME[kind].api_version)
    return obj


def clean(obj):
    """A copy without what belongs to one cluster: status, server bookkeeping, addresses."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    for key in STRIPPED_META:
        meta.pop(key, None)
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not any(k.startswith(p) for p in STRIPPED_ANNOTATIONS)
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    spec = obj.get("spec") or {}
    if obj["kind"] == "Service":
        for key in STRIPPED_SERVICE:
            spec.pop(key, None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    elif obj["kind"] == "PersistentVolumeClaim":
        spec.pop("volumeName", None)
    template_meta = (spec.get("template") or {}).get("metadata")
    if isinstance(template_meta, dict):
        template_meta.pop("creationTimestamp", None)
    return obj


def _claim_names(pod_spec):
    return [
        (v.get("persistentVolumeClaim") or {}).get("claimName")
        for v in pod_spec.get("volumes") or []
        if v.get("persistentVolumeClaim")
    ]


def _config_names(pod_spec):
    names = [(v.get("configMap") or {}).get("name") for v in pod_spec.get("volumes") or [] if v.get("configMap")]
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        names += [(r.get("configMapRef") or {}).get("name") for r in container.get("envFrom") or []]
        names += [
            ((e.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name") for e in container.get("env") or []
        ]
    return [n for n in names if n]


def _ingress_services(ingress):
    names = set()
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    for rule in spec.get("rules") or []:
        backends += [p.get("backend") or {} for p in (rule.get("http") or {}).get("paths") or []]
    for backend in backends:
        name = (backend.get("service") or {}).get("name")
        if name:
            names.add(name)
    return names


def _claims_of_statefulsets(extraction):
    """PVCs a StatefulSet's controller made from its claim templates (<template>-<set>-<n>)."""
    made = set()
    for sts in extraction.of_kind("StatefulSet"):
        set_name = sts["metadata"]["name"]
        for claim in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            prefix = f"{(claim.get('metadata') or {}).get('name')}-{set_name}-"
            made |= {n for k, n in extraction.all if k == "PersistentVolumeClaim" and n.startswith(prefix)}
    return made


def extract(project, *, app="", selection=()):
    """(manifests text, parameters) of the namespace's workloads, or of one app's, or of a
    selection [(kind, name)] (the topology page's): each selected workload with what goes
    with it, each other selected object as it is."""
    extraction = Extraction(project)
    for name in _claims_of_statefulsets(extraction):
        extraction.all.pop(("PersistentVolumeClaim", name), None)
    selected = set(selection)
    workloads = [
        obj
        for kind in WORKLOADS
        for obj in extraction.of_kind(kind)
        if (kind, obj["metadata"]["name"]) in selected or (not selected and (not app or obj["metadata"]["name"] == app))
    ]
    for obj in workloads:
        extraction.workload(obj)
    extraction.routes()
    for key in sorted(selected):  # after the routes: a Service selected alone does not bring its Ingresses
        if key[0] not in WORKLOADS and key in extraction.all:
            extraction.take(extraction.all[key])
    if not app and not selected:  # a whole namespace: its other ConfigMaps and claims too
        for kind in ("ConfigMap", "PersistentVolumeClaim"):
            for obj in extraction.of_kind(kind):
                extraction.take(obj)
    extraction.propose()
    objects = sorted(extraction.chosen.values(), key=lambda o: (ORDER.get(o["kind"], 9), o["metadata"]["name"]))
    if not objects:
        return "", []
    return yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True), list(extraction.parameters.values())
