"""Reading the topology from the resource mirror (never the API server) and asking the
network policies. The views decide who may see which cluster and namespaces; everything
here takes the namespaces already allowed, so nothing of another tenant is ever read."""

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count
from django.utils.translation import gettext as _

from console import alerting
from console.clusters.models import MirroredObject
from kubesemantics import netpol
from tenants import manifests
from tenants.models import Tenant

from . import graph

GRAPH_KINDS = [
    "Pod",
    "Service",
    "Endpoints",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Ingress",
    "PersistentVolumeClaim",
    "ConfigMap",
    "HorizontalPodAutoscaler",
]
# The kinds whose changes redraw a namespace's graph (the watcher ticks their groups).
LIVE_KINDS = GRAPH_KINDS + ["NetworkPolicy"]
BAD_POD_PHASES = ("Failed", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
WARN_POD_PHASES = ("Pending", "Terminating", "Unknown")
OVERLAY_WORKLOAD_CAP = 40
OVERLAY_NAMESPACE_CAP = 30


def _objects(cluster_id, kinds, namespaces=None, names=None):
    """The objects of these kinds (in these namespaces, of these names), as the builder needs them."""
    if connection.vendor != "postgresql":
        rows = MirroredObject.objects.filter(cluster_id=cluster_id, kind__in=kinds)
        if namespaces is not None:
            rows = rows.filter(namespace__in=namespaces)
        if names is not None:
            rows = rows.filter(name__in=names)
        return list(rows.values_list("object", flat=True))
    sql = (
        # The JSON as text, parsed here: faster than psycopg2's conversion, and than cutting
        # the objects down in SQL (measured: bench/topology.py).
        f"SELECT object::text FROM {MirroredObject._meta.db_table} WHERE cluster_id = %s AND kind = ANY(%s)"
    )
    params = [cluster_id, list(kinds)]
    if namespaces is not None:
        sql += " AND namespace = ANY(%s)"
        params.append(list(namespaces))
    if names is not None:
        sql += " AND name = ANY(%s)"
        params.append(list(names))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [json.loads(text) for (text,) in cursor.fetchall()]


# The objects of the namespaces drawn lately, parsed: a row is read and parsed again only
# when its resourceVersion changed, so a live update of a 2,000-pod namespace reads one
# index of versions and the few rows that changed. Per process, a few namespace sets.
_parsed = {}
CACHE_SIZE = 8


def _namespace_objects(cluster_id, namespaces):
    key = (cluster_id, tuple(sorted(namespaces)))
    known = _parsed.pop(key, {})
    current = dict(
        MirroredObject.objects.filter(cluster_id=cluster_id, kind__in=GRAPH_KINDS, namespace__in=namespaces)
        .values_list("id", "resource_version")
        .order_by()
    )
    stale = [pk for pk, version in current.items() if pk not in known or known[pk][0] != version]
    objects = {pk: known[pk] for pk in current if pk in known and pk not in stale}
    if stale and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, resource_version, object::text FROM {MirroredObject._meta.db_table} WHERE id = ANY(%s)",
                [stale],
            )
            for pk, version, text in cursor.fetchall():
                objects[pk] = (version, json.loads(text))
    elif stale:
        for pk, version, obj in MirroredObject.objects.filter(pk__in=stale).values_list(
            "id", "resource_version", "object"
        ):
            objects[pk] = (version, obj)
    if len(_parsed) >= CACHE_SIZE:
        _parsed.pop(next(iter(_parsed)))
    _parsed[key] = objects  # the newest last
    return [obj for _version, obj in objects.values()]


def namespace_graph(cluster, namespaces):
    """The full graph of these namespaces of `cluster`, with health from pods and firing alerts."""
    result = build_namespace_graph(cluster, namespaces, _namespace_objects(cluster.pk, namespaces))
    result["nodes"] = with_alerts(cluster.pk, namespaces, result["nodes"])
    return result


def build_namespace_graph(cluster, namespaces, objects=None):
    objects = list(_objects(cluster.pk, GRAPH_KINDS, namespaces) if objects is None else objects)
    volume_names = {
        (o.get("spec") or {}).get("volumeName") for o in objects if o.get("kind") == "PersistentVolumeClaim"
    } - {None, ""}
    if volume_names:
        objects += _objects(cluster.pk, ["PersistentVolume"], names=volume_names)
    result = graph.build(objects)
    hosts = [n["name"] for n in result["nodes"] if n["kind"] == "Node"]
    if hosts:
        phases = dict(
            MirroredObject.objects.filter(cluster=cluster, kind="Node", name__in=hosts).values_list("name", "phase")
        )
        for node in result["nodes"]:
            if node["kind"] == "Node":
                node["health"] = {"Ready": "ok", "NotReady": "bad"}.get(phases.get(node["name"]), "unknown")
    return result


def with_alerts(cluster_id, namespaces, nodes):
    """The nodes, the workloads with alerts firing (console.alerting's sources) red and naming them:
    alerts change without the mirror changing, so they are asked on every call."""
    firing = [ns for ns in namespaces if alerting.firing_for(cluster_id=cluster_id, namespace=ns)]
    if not firing:
        return list(nodes)
    marked = []
    for node in nodes:
        if node["kind"] in graph.WORKLOAD_KINDS and node["namespace"] in firing:
            titles = alerting.firing_for(cluster_id=cluster_id, namespace=node["namespace"], app=node["name"])
            if titles:
                node = {**node, "health": "bad", "alerts": titles}
        marked.append(node)
    return marked


def namespace_summary(cluster, namespaces=None):
    """The cluster view: one collapsed group per namespace, with counts and a health, from
    aggregate queries (150,000 pods are counted, not drawn). namespaces=None: all of them."""
    rows = MirroredObject.objects.filter(
        cluster=cluster, kind__in=["Pod", "Deployment", "StatefulSet", "DaemonSet", "Service", "Ingress"]
    )
    if namespaces is not None:
        rows = rows.filter(namespace__in=namespaces)
    counts = {}
    for namespace, kind, phase, n in rows.values_list("namespace", "kind", "phase").annotate(n=Count("*")).order_by():
        entry = counts.setdefault(
            namespace, {"pods": 0, "bad": 0, "warn": 0, "workloads": 0, "services": 0, "ingresses": 0}
        )
        if kind == "Pod":
            entry["pods"] += n
            if phase in BAD_POD_PHASES:
                entry["bad"] += n
            elif phase in WARN_POD_PHASES or not phase:
                entry["warn"] += n
        elif kind == "Service":
            entry["services"] += n
        elif kind == "Ingress":
            entry["ingresses"] += n
        else:
            entry["workloads"] += n
    if namespaces is not None:
        for namespace in namespaces:
            counts.setdefault(
                namespace, {"pods": 0, "bad": 0, "warn": 0, "workloads": 0, "services": 0, "ingresses": 0}
            )
    nodes = []
    for namespace, entry in sorted(counts.items()):
        health = "bad" if entry["bad"] else ("warn" if entry["warn"] else ("ok" if entry["pods"] else "idle"))
        if health != "bad" and alerting.firing_for(cluster_id=cluster.pk, namespace=namespace):
            health = "bad"
        nodes.append(
            {
                "id": graph.node_id("Namespace", "", namespace),
                "kind": "Namespace",
                "namespace": namespace,
                "name": namespace,
                "health": health,
                "collapsed": True,
                **entry,
            }
        )
    return {"nodes": nodes, "edges": []}


# --- network policy -----------------------------------------------------------------------


@dataclass
class PolicyWorld:
    policies: list
    namespaces: dict  # name -> labels
    calico: bool


def policy_world(cluster):
    """The cluster's policies: NetworkPolicies from the mirror, and the Calico
    GlobalNetworkPolicy tenants applies where Calico was found (tenants.manifests, as applied)."""
    network_policies = _objects(cluster.pk, ["NetworkPolicy"])
    calico = [
        manifests.global_network_policy(tenant)
        for tenant in Tenant.objects.filter(clusters=cluster)
        if (tenant.isolation or {}).get(cluster.name, {}).get("calico")
    ]
    namespaces = dict(MirroredObject.objects.filter(cluster=cluster, kind="Namespace").values_list("name", "labels"))
    return PolicyWorld(
        netpol.load_policies(network_policies, calico), netpol.with_default_labels(namespaces), bool(calico)
    )


def representative(cluster, namespace, kind, name):
    """An Endpoint standing for a workload (its first pod; else its pod template) or a pod."""
    if kind == "Pod":
        pod = MirroredObject.objects.filter(cluster=cluster, kind="Pod", namespace=namespace, name=name).first()
        return netpol.pod_endpoint(pod.object) if pod else None
    workload = MirroredObject.objects.filter(cluster=cluster, kind=kind, namespace=namespace, name=name).first()
    if workload is None:
        return None
    owners = {workload.uid} | set(
        MirroredObject.objects.filter(
            cluster=cluster, kind="ReplicaSet", namespace=namespace, owner_uid=workload.uid
        ).values_list("uid", flat=True)
    )
    pod = MirroredObject.objects.filter(cluster=cluster, kind="Pod", namespace=namespace, owner_uid__in=owners).first()
    if pod is not None:
        return netpol.pod_endpoint(pod.object)
    template = (workload.object.get("spec") or {}).get("template") or {}
    return netpol.pod_endpoint(
        {
            "metadata": {**(template.get("metadata") or {}), "namespace": namespace, "name": f"{name}-*"},
            "spec": template.get("spec") or {},
        }
    )


def namespace_endpoint(namespace):
    """Any pod of a namespace (no labels): what namespace-wide policies decide."""
    return netpol.Endpoint(namespace=namespace, name="*", labels={})


def explain(verdict, source_label, target_label):
    """The verdict's reasons in words: [(direction, allowed, text)]."""
    lines = []
    for direction, decision, subject in (
        (_("egress"), verdict.egress, source_label),
        (_("ingress"), verdict.ingress, target_label),
    ):
        for code, policy in decision.reasons:
            lines.append((direction, decision.allowed, _reason(code, policy, subject, decision)))
    return lines


def _reason(code, policy, subject, decision):
    if code == "allowed-by":
        return _("allowed by %(policy)s") % {"policy": policy}
    if code == "denied-by":
        return _("denied by %(policy)s") % {"policy": policy}
    if code == "passed-by":
        return _("passed on by %(policy)s; no later tier: allowed") % {"policy": policy}
    if code == "not-selected":
        return _("no policy selects %(subject)s: open") % {"subject": subject}
    if code == "default-deny":
        return _("selected by %(policy)s, whose rules do not allow it (denied by default)") % {"policy": policy}
    return _("outside the cluster: no policy applies")


def reach(world, source, target, port, protocol="TCP"):
    return netpol.can_reach(
        source, target, port, policies=world.policies, namespaces=world.namespaces, protocol=protocol
    )


def overlay(cluster, world, result, namespaces):
    """Which workloads of the graph may talk to which (each to the first port of the Services
    in front of the other), and which namespaces may reach which on some port. Capped."""
    paths = []
    nodes = {n["id"]: n for n in result["nodes"]}
    pods_by_workload = {}
    for node in result["nodes"]:
        if node["kind"] == "Pod" and node.get("workload"):
            pods_by_workload.setdefault(node["workload"], node)
    endpoints = {}
    for ident, pod in list(pods_by_workload.items())[:OVERLAY_WORKLOAD_CAP]:
        endpoints[ident] = netpol.Endpoint(
            namespace=pod["namespace"], name=pod["name"], labels=pod.get("labels") or {}, ip=pod.get("ip", "")
        )
    ports = {}
    for edge in result["edges"]:
        if edge["relation"] == "selects" and edge["target"] in endpoints:
            service = nodes.get(edge["source"]) or {}
            for text in service.get("ports") or []:
                number = text.split("/")[0]
                target_port = text.split("→")[1] if "→" in text else number
                if target_port.isdigit():
                    ports.setdefault(edge["target"], int(target_port))
                    break
    for target, port in ports.items():
        for source, endpoint in endpoints.items():
            if source == target:
                continue
            verdict = reach(world, endpoint, endpoints[target], port)
            paths.append(
                {
                    "source": source,
                    "target": target,
                    "port": port,
                    "allowed": verdict.allowed,
                    "why": [text for _d, _a, text in explain(verdict, nodes[source]["name"], nodes[target]["name"])],
                }
            )
    shown = list(namespaces)[:OVERLAY_NAMESPACE_CAP]
    if len(shown) > 1:
        for source in shown:
            for target in shown:
                if source != target:
                    verdict = reach(world, namespace_endpoint(source), namespace_endpoint(target), None)
                    paths.append(
                        {
                            "source": graph.node_id("Namespace", "", source),
                            "target": graph.node_id("Namespace", "", target),
                            "port": None,
                            "allowed": verdict.allowed,
                            "why": [text for _d, _a, text in explain(verdict, source, target)],
                        }
                    )
    return paths
