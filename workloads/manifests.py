"""The Kubernetes objects an app is made of, built from its spec: plain dicts, applied by
the tasks with server-side apply (so applying twice changes nothing)."""

import copy

from django.utils import translation

from console import texts
from console.texts import message
from tenants.manifests import MANAGED_BY, MANAGED_LABEL, TENANT_LABEL

from .choices import AppKind
from .podsecurity import RESTRICTED_CONTEXT

APP_LABEL = "caas.io/app"
NAME_LABEL = "app.kubernetes.io/name"
CHANGE_CAUSE = "kubernetes.io/change-cause"  # what `kubectl rollout history` shows
JOB_ANNOTATION = "caas.io/job"  # the console job that made this revision (copied onto its ReplicaSet)
POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DEFAULT_STORAGE_CLASS = "ceph-rbd"
CEPH_RBD_PROVISIONER = "rbd.csi.ceph.com"
INGRESS_CLASS = "nginx"

# Why a workload changed. The annotation is always English (cause_annotation); the operation
# log keeps the sentence too (cause_note), so the console's revision list shows it translated.
CAUSE_DEPLOYED = message("deployed %(image)s by %(who)s (console job %(job)s)")
CAUSE_UPGRADED = message("upgraded (%(changes)s) by %(who)s (console job %(job)s)")
CAUSE_ROLLED_BACK = message("rolled back to revision %(revision)s (%(image)s) by %(who)s (console job %(job)s)")
CAUSE_IMPORTED = message("imported from YAML by %(who)s (console job %(job)s)")
CAUSE_PROMOTED = message("promoted canary %(image)s by %(who)s (console job %(job)s)")
CAUSE_RESTORED = message("restored by the console (console job %(job)s)")
CAUSE_CANARY = message("canary of %(app)s with %(image)s")


def labels(app):
    return {APP_LABEL: app.name, NAME_LABEL: app.name, MANAGED_LABEL: MANAGED_BY, TENANT_LABEL: app.project.tenant.name}


def selector(app):
    return {APP_LABEL: app.name}


def selector_text(app):
    return f"{APP_LABEL}={app.name}"


def _meta(app, name=None, annotations=None):
    meta = {"name": name or app.name, "namespace": app.project.name, "labels": labels(app)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def container(app, spec):
    c = {"name": app.name, "image": spec["image"]}
    if spec.get("command"):
        c["command"] = list(spec["command"])
    if spec.get("args"):
        c["args"] = list(spec["args"])
    if spec.get("ports"):
        c["ports"] = [{"name": p["name"], "containerPort": p["port"], "protocol": "TCP"} for p in spec["ports"]]
    if spec.get("env"):
        c["env"] = [{"name": e["name"], "value": e["value"]} for e in spec["env"]]
    env_from = [{"secretRef": {"name": spec["env_secret"]}}] if spec.get("env_secret") else []
    env_from += [{REF_KEYS[ref["kind"]]: {"name": ref["name"]}} for ref in spec.get("env_from") or []]
    if env_from:
        c["envFrom"] = env_from
    resources = {section: dict(values) for section, values in (spec.get("resources") or {}).items() if values}
    if resources:
        c["resources"] = resources
    for field, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe")):
        probe = spec.get(field)
        if probe:
            c[key] = {
                "httpGet": {"path": probe["path"], "port": probe["port"]},
                "periodSeconds": 10,
                "failureThreshold": 3,
            }
    mounts = [{"name": v["name"], "mountPath": v["mount_path"]} for v in spec.get("volumes") or []]
    mounts += [
        {"name": config_volume_name(n), "mountPath": v["mount_path"], "readOnly": True}
        for n, v in enumerate(spec.get("config_volumes") or [])
    ]
    if mounts:
        c["volumeMounts"] = mounts
    c["securityContext"] = security_context(spec)
    return c


REF_KEYS = {"Secret": "secretRef", "ConfigMap": "configMapRef"}  # envFrom
CONFIG_VOLUME_PREFIX = "config-"


def config_volume_name(n):
    return f"{CONFIG_VOLUME_PREFIX}{n}"


def config_volumes(spec):
    """The pod's volumes for the Secrets and ConfigMaps mounted as files."""
    return [
        {
            "name": config_volume_name(n),
            **({"secret": {"secretName": v["name"]}} if v["kind"] == "Secret" else {"configMap": {"name": v["name"]}}),
        }
        for n, v in enumerate(spec.get("config_volumes") or [])
    ]


def security_context(spec):
    """Hardened as Pod Security "restricted" asks; a chosen UID is set, and root (baseline
    tenants only) cannot also be non-root."""
    context = copy.deepcopy(RESTRICTED_CONTEXT)
    if spec.get("run_as_user") is not None:
        context["runAsUser"] = spec["run_as_user"]
        if spec["run_as_user"] == 0:
            del context["runAsNonRoot"]
    return context


def pod_template(app, spec):
    pod = {"containers": [container(app, spec)]}
    if spec.get("config_volumes"):
        pod["volumes"] = config_volumes(spec)
    return {"metadata": {"labels": labels(app)}, "spec": pod}


def cause_annotation(cause):
    """The change-cause annotation's text: English whatever the requester's language, since
    `kubectl rollout history` shows it to readers of any language."""
    with translation.override("en"):
        return texts.render(cause)[:250]


def cause_note(cause):
    """What an app.revision entry keeps of its cause: the English text (as on the cluster) and
    the stored sentence, which cause_shown translates for the reader."""
    return {"note": cause_annotation(cause), "cause": texts.dumps(cause) if isinstance(cause, texts.Text) else ""}


def cause_shown(after):
    """An app.revision entry's cause in the active language (entries from before: as written)."""
    stored = (after or {}).get("cause")
    return texts.render(texts.loads(stored)) if stored else (after or {}).get("note", "")


def workload(app, spec, *, change_cause="", job_id=None, template=None):
    """The Deployment or StatefulSet. `template` overrides the pod template (a rollback
    applies an earlier revision's template as it was)."""
    annotations = {}
    if change_cause:
        annotations[CHANGE_CAUSE] = cause_annotation(change_cause)
    if job_id:
        annotations[JOB_ANNOTATION] = str(job_id)
    body = {
        "replicas": spec["replicas"],
        "selector": {"matchLabels": selector(app)},
        "template": template if template is not None else pod_template(app, spec),
    }
    if app.kind == AppKind.STATEFULSET:
        body["serviceName"] = headless_name(app)
        body["podManagementPolicy"] = "OrderedReady"
        body["volumeClaimTemplates"] = [
            {
                "metadata": {"name": v["name"], "labels": selector(app)},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": spec.get("storage_class") or DEFAULT_STORAGE_CLASS,
                    "resources": {"requests": {"storage": v["size"]}},
                },
            }
            for v in spec.get("volumes") or []
        ]
    else:
        body["revisionHistoryLimit"] = 10
        body["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    return {"apiVersion": "apps/v1", "kind": app.kind, "metadata": _meta(app, annotations=annotations), "spec": body}


def template_patch(current, template, *, change_cause="", job_id=None):
    """JSON patch operations that replace a live workload's pod template as a whole (an
    upgrade, or a rollback to an old ReplicaSet's template) and note who changed it. The
    first operation makes the patch fail if the object was deleted and created again."""
    annotations = dict(current["metadata"].get("annotations") or {})
    if change_cause:
        annotations[CHANGE_CAUSE] = cause_annotation(change_cause)
    if job_id:
        annotations[JOB_ANNOTATION] = str(job_id)
    return [
        {"op": "test", "path": "/metadata/uid", "value": current["metadata"]["uid"]},
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]


def headless_name(app):
    return f"{app.name}-headless"


def headless_service(app, spec):
    """The governing Service a StatefulSet's pods get their stable DNS names from."""
    ports = [
        {"name": p["name"], "port": p["port"], "targetPort": p["port"], "protocol": "TCP"}
        for p in spec.get("ports") or []
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(app, headless_name(app)),
        "spec": {"clusterIP": "None", "selector": selector(app), "ports": ports or [{"name": "none", "port": 1}]},
    }


def objects(app, spec, **kwargs):
    """Everything deploying the app applies, in order."""
    items = []
    if app.kind == AppKind.STATEFULSET:
        items.append(headless_service(app, spec))
    items.append(workload(app, spec, **kwargs))
    return items


def service(app, exposure):
    port = {"name": "http", "port": exposure["port"], "targetPort": exposure["target_port"], "protocol": "TCP"}
    if exposure["type"] == "NodePort" and exposure.get("node_port"):
        port["nodePort"] = exposure["node_port"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(app),
        "spec": {"type": exposure["type"], "selector": selector(app), "ports": [port]},
    }


def service_patch(current, desired):
    """JSON patch turning a live Service into `desired`: its type and ports replaced as a
    whole (an apply would merge the port list by port number and keep what it no longer
    owns, such as a node port)."""
    return [
        {"op": "test", "path": "/metadata/uid", "value": current["metadata"]["uid"]},
        {"op": "replace", "path": "/spec/type", "value": desired["spec"]["type"]},
        {"op": "replace", "path": "/spec/ports", "value": desired["spec"]["ports"]},
        {"op": "replace", "path": "/spec/selector", "value": desired["spec"]["selector"]},
    ]


def ingress(app, route, service_port):
    path = {
        "path": route.get("path") or "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": app.name, "port": {"number": service_port}}},
    }
    spec = {"ingressClassName": INGRESS_CLASS, "rules": [{"host": route["host"], "http": {"paths": [path]}}]}
    if route.get("tls_secret"):
        spec["tls"] = [{"hosts": [route["host"]], "secretName": route["tls_secret"]}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _meta(app), "spec": spec}


def autoscaler(app, config):
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU and/or memory utilisation."""
    metrics = [
        {
            "type": "Resource",
            "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": config[resource]}},
        }
        for resource in ("cpu", "memory")
        if config.get(resource)
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(app),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": app.kind, "name": app.name},
            "minReplicas": config["min"],
            "maxReplicas": config["max"],
            "metrics": metrics,
        },
    }


def rollback_template(replicaset):
    """An old ReplicaSet's pod template as a Deployment template: without the hash label
    the Deployment controller adds (so that the old ReplicaSet is found and reused)."""
    template = copy.deepcopy((replicaset.get("spec") or {}).get("template") or {})
    meta = template.setdefault("metadata", {})
    meta.get("labels", {}).pop(POD_TEMPLATE_HASH, None)
    meta.pop("creationTimestamp", None)
    return template


def revision_template(controller_revision):
    """A StatefulSet ControllerRevision's pod template (its `data` is the patch
    {"spec": {"template": {..., "$patch": "replace"}}}), as a StatefulSet template."""
    template = copy.deepcopy((((controller_revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    meta = template.setdefault("metadata", {})
    meta.get("labels", {}).pop("controller-revision-hash", None)
    meta.pop("creationTimestamp", None)
    return template


def spec_from_workload(obj, kind):
    """Read a live Deployment or StatefulSet back into the form's terms (its first
    container), so an upgrade starts from what really runs."""
    from . import specs

    body = obj.get("spec") or {}
    containers = ((body.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    c = containers[0]
    spec = specs.empty_spec()
    spec["image"] = c.get("image", "")
    spec["replicas"] = body.get("replicas", 1)
    spec["ports"] = [
        {"name": p.get("name") or f"port-{p.get('containerPort')}", "port": p.get("containerPort")}
        for p in c.get("ports") or []
    ]
    spec["env"] = [
        {"name": e["name"], "value": e.get("value", "")}
        for e in c.get("env") or []
        if e.get("name") and "valueFrom" not in e
    ]
    # a leading Secret reads back as env_secret (the form's older field), the others as env_from, in order
    refs = [
        (kind, (ref.get(key) or {}).get("name", ""))
        for ref in c.get("envFrom") or []
        for kind, key in REF_KEYS.items()
        if key in ref
    ]
    first_secret = 0 if refs and refs[0][0] == "Secret" else None
    spec["env_secret"] = refs[first_secret][1] if first_secret is not None else ""
    spec["env_from"] = [{"kind": kind, "name": name} for n, (kind, name) in enumerate(refs) if n != first_secret]
    resources = c.get("resources") or {}
    spec["resources"] = {
        "requests": dict(resources.get("requests") or {}),
        "limits": dict(resources.get("limits") or {}),
    }
    for field, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe")):
        get = (c.get(key) or {}).get("httpGet")
        spec[field] = (
            {"path": get.get("path", "/"), "port": get.get("port")}
            if get and isinstance(get.get("port"), int)
            else None
        )
    spec["command"], spec["args"] = list(c.get("command") or []), list(c.get("args") or [])
    spec["run_as_user"] = (c.get("securityContext") or {}).get("runAsUser")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts") or []}
    pod_volumes = ((body.get("template") or {}).get("spec") or {}).get("volumes") or []
    spec["config_volumes"] = [
        {
            "kind": "Secret" if "secret" in v else "ConfigMap",
            "name": (v.get("secret") or {}).get("secretName", "")
            if "secret" in v
            else (v.get("configMap") or {}).get("name", ""),
            "mount_path": mounts[v.get("name")],
        }
        for v in pod_volumes
        if ("secret" in v or "configMap" in v) and v.get("name") in mounts
    ]
    if kind == AppKind.STATEFULSET:
        spec["volumes"] = [
            {
                "name": t["metadata"]["name"],
                "mount_path": mounts.get(t["metadata"]["name"], "/data"),
                "size": (((t.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", ""),
            }
            for t in body.get("volumeClaimTemplates") or []
        ]
        claims = body.get("volumeClaimTemplates") or []
        spec["storage_class"] = ((claims[0].get("spec") or {}).get("storageClassName") or "") if claims else ""
    return spec


# --- canary releases (ingress-nginx canary annotations) --------------------------------

CANARY_SUFFIX = "-canary"
CANARY_OF_LABEL = "caas.io/canary-of"


def belongs_to(app, obj):
    """The app's own objects and those of its canary."""
    labels = obj["metadata"].get("labels") or {}
    return app.name in (labels.get(APP_LABEL), labels.get(CANARY_OF_LABEL))


NGINX = "nginx.ingress.kubernetes.io/"


class CanaryOf:
    """The canary of an app, shaped like an app for the builders and the rollout follower:
    its own Deployment, Service and Ingress, named <app>-canary, pods labelled apart from
    the stable ones so neither Service picks the other's pods."""

    kind = "Deployment"

    def __init__(self, app):
        self.stable = app
        self.name = app.name + CANARY_SUFFIX
        self.project = app.project
        self.namespace = app.namespace
        self.group = app.group


def canary_objects(app, spec, canary):
    """Deployment, Service and Ingress of the canary; the Ingress mirrors the stable one
    (same host and path) with the canary annotations that split the traffic."""
    twin = CanaryOf(app)
    deployment = workload(
        twin,
        {**spec, "image": canary["image"], "replicas": canary["replicas"]},
        change_cause=CAUSE_CANARY(app=app.name, image=canary["image"]),
    )
    for meta in (deployment["metadata"], deployment["spec"]["template"]["metadata"]):
        meta["labels"][CANARY_OF_LABEL] = app.name
    objects = [deployment, service(twin, {**app.service, "type": "ClusterIP", "node_port": None})]
    objects[1]["metadata"]["labels"][CANARY_OF_LABEL] = app.name
    route = ingress(twin, app.ingress, app.service["port"])
    route["metadata"]["labels"][CANARY_OF_LABEL] = app.name
    route["metadata"]["annotations"] = canary_annotations(canary)
    objects.append(route)
    return objects


def canary_annotations(canary):
    annotations = {NGINX + "canary": "true", NGINX + "canary-weight": str(canary.get("weight") or 0)}
    if canary.get("header"):
        annotations[NGINX + "canary-by-header"] = canary["header"]
        if canary.get("header_value"):
            annotations[NGINX + "canary-by-header-value"] = canary["header_value"]
    return annotations
