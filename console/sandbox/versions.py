"""Built-in kinds a real API server serves in more than one version. The sandbox stores one version
and converts the others on the way in and out, as the API server's conversion functions do: here
HorizontalPodAutoscalers, stored as autoscaling/v2 and served as autoscaling/v1 too (which
`kubectl autoscale` posts to). What autoscaling/v1 has no field for (other metrics, behavior,
conditions, current metrics) travels in the same round-trip annotations a real server uses, in
autoscaling/v2 form, so a v2 object read and written back through v1 loses nothing."""

import copy
import json

from .errors import not_found
from .kinds import STORED

ANNOTATIONS = {
    "metrics": "autoscaling.alpha.kubernetes.io/metrics",
    "behavior": "autoscaling.alpha.kubernetes.io/behavior",
    "conditions": "autoscaling.alpha.kubernetes.io/conditions",
    "currentMetrics": "autoscaling.alpha.kubernetes.io/current-metrics",
}


def _cpu_target(metric):
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    if metric.get("type") == "Resource" and resource.get("name") == "cpu" and target.get("type") == "Utilization":
        return target.get("averageUtilization")
    return None


def hpa_to_v1(obj):
    """An autoscaling/v2 HorizontalPodAutoscaler as autoscaling/v1 shows it."""
    obj = copy.deepcopy(obj)
    obj["apiVersion"] = "autoscaling/v1"
    spec, status = obj.pop("spec", None), obj.pop("status", None)
    annotations = {
        k: v for k, v in ((obj.get("metadata") or {}).get("annotations") or {}).items() if k not in ANNOTATIONS.values()
    }
    if spec is not None:
        metrics = spec.get("metrics") or []
        cpu = next((_cpu_target(m) for m in metrics if _cpu_target(m) is not None), None)
        others = [m for m in metrics if _cpu_target(m) is None]
        obj["spec"] = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
        if cpu is not None:
            obj["spec"]["targetCPUUtilizationPercentage"] = cpu
        if others:
            annotations[ANNOTATIONS["metrics"]] = json.dumps(others, separators=(",", ":"))
        if spec.get("behavior"):
            annotations[ANNOTATIONS["behavior"]] = json.dumps(spec["behavior"], separators=(",", ":"))
    if status is not None:
        obj["status"] = {
            k: status[k]
            for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
            if k in status
        }
        for metric in status.get("currentMetrics") or []:
            resource = metric.get("resource") or {}
            if (
                metric.get("type") == "Resource"
                and resource.get("name") == "cpu"
                and (resource.get("current") or {}).get("averageUtilization") is not None
            ):
                obj["status"]["currentCPUUtilizationPercentage"] = resource["current"]["averageUtilization"]
        for field in ("conditions", "currentMetrics"):
            if status.get(field):
                annotations[ANNOTATIONS[field]] = json.dumps(status[field], separators=(",", ":"))
    if "metadata" in obj:
        if annotations:
            obj["metadata"]["annotations"] = annotations
        else:
            obj["metadata"].pop("annotations", None)
    return obj


def hpa_from_v1(obj):
    """An autoscaling/v1 HorizontalPodAutoscaler as autoscaling/v2 stores it."""
    if not isinstance(obj, dict):
        return obj
    obj = copy.deepcopy(obj)
    obj["apiVersion"] = "autoscaling/v2"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    annotations = meta.get("annotations") or {}
    carried = {field: annotations.pop(key) for field, key in ANNOTATIONS.items() if key in annotations}
    if not annotations:
        meta.pop("annotations", None)
    spec = obj.get("spec")
    if isinstance(spec, dict):
        cpu = spec.pop("targetCPUUtilizationPercentage", None)
        metrics = (
            []
            if cpu is None
            else [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
                }
            ]
        )
        metrics += _loads(carried.get("metrics"), [])
        if metrics:
            spec["metrics"] = metrics
        if carried.get("behavior"):
            spec["behavior"] = _loads(carried["behavior"], None)
    status = obj.get("status")
    if isinstance(status, dict):
        cpu = status.pop("currentCPUUtilizationPercentage", None)
        current = _loads(carried.get("currentMetrics"), None)
        if current is None and cpu is not None:
            current = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]
        if current:
            status["currentMetrics"] = current
        if carried.get("conditions"):
            status["conditions"] = _loads(carried["conditions"], [])
    return obj


def _loads(text, default):
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


# (group, served version, plural) -> (to the stored version, from the stored version)
CONVERSIONS = {("autoscaling", "v1", "horizontalpodautoscalers"): (hpa_from_v1, hpa_to_v1)}


def converts(resource):
    return (resource.group, resource.version, resource.plural) in CONVERSIONS


def call(api, req, resource, namespace, name, sub):
    """Serve a request for a converted version with the stored one: bodies in, answers out."""
    to_stored, from_stored = CONVERSIONS[(resource.group, resource.version, resource.plural)]
    stored = STORED[resource.key]
    forwarded = copy.copy(req)
    if req.method in ("POST", "PUT"):
        body = to_stored(req.body())
        forwarded.body = lambda: body
    elif req.method == "PATCH" and req.content_type == "application/apply-patch+yaml":
        body = to_stored(req.body())
        forwarded.body = lambda: body
    elif req.method == "PATCH":
        # a patch is written against this version's fields: apply it to the converted object, store the result
        current = api.store.get_ref(stored, namespace, name)
        if current is None:
            raise not_found(resource, name)
        patched = api.apply_patch(req, from_stored(current), resource, sub)
        body = to_stored(patched)
        forwarded.method, forwarded.body = "PUT", lambda: body
    response = api.resource_call(forwarded, stored, namespace, name, sub)
    if response.stream is not None:
        response.stream = _convert_stream(response.stream, from_stored)
        return response
    if isinstance(response.body, dict):
        response.body = _convert(response.body, from_stored)
        response.data = json.dumps(response.body, separators=(",", ":")).encode()
    return response


def _convert(body, from_stored):
    if not isinstance(body, dict):
        return body
    kind = body.get("kind", "")
    if kind == "HorizontalPodAutoscaler":
        return from_stored(body)
    if kind.endswith("List") and isinstance(body.get("items"), list):
        return dict(body, apiVersion="autoscaling/v1", items=[from_stored(item) for item in body["items"]])
    if kind == "Table":
        return dict(
            body,
            rows=[
                dict(row, object=_convert(row.get("object"), from_stored)) if row.get("object") else row
                for row in body.get("rows") or []
            ],
        )
    return body  # a Status


def _convert_stream(stream, from_stored):
    try:
        for chunk in stream:
            lines = []
            for line in chunk.split(b"\n"):
                if line.strip():
                    event = json.loads(line)
                    event["object"] = _convert(event.get("object"), from_stored)
                    lines.append(json.dumps(event, separators=(",", ":")).encode())
            yield b"".join(line + b"\n" for line in lines)
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
