"""Reading the topology from the resource mirror (never the API server) and asking the
network policies. The views decide who may see which cluster and namespaces; everything
here takes the namespaces already allowed, so nothing of another tenant is ever read."""

import copy
import gc
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import ujson
from django.db import connection
from django.db.models import Count, Max
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from console import alerting
from console.clusters.models import MirroredObject, WatchCursor
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
    "Secret",  # metadata only (console.clusters.mirror.metadata_only): whether it exists
    "ServiceAccount",
]
REFERENCED_KINDS = ("Secret", "ServiceAccount")  # drawn when named; missing only once their kind is listed
# The kinds whose changes redraw a namespace's graph (the watcher ticks their groups).
LIVE_KINDS = GRAPH_KINDS + ["NetworkPolicy"]
BAD_POD_PHASES = ("Failed", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
WARN_POD_PHASES = ("Pending", "Terminating", "Unknown")
# The overlay's endpoints: past these, the rest are left out (measured: bench/topology.py).
OVERLAY_WORKLOAD_CAP = 2000
OVERLAY_NAMESPACE_CAP = 1000


def _objects(cluster_id, kinds, namespaces=None, names=None):
    """The objects of these kinds (in these namespaces, of these names), as the builder needs them:
    cut to graph.FACTS where the kind has some, whole otherwise."""
    if connection.vendor != "postgresql":
        rows = MirroredObject.objects.filter(cluster_id=cluster_id, kind__in=kinds)
        if namespaces is not None:
            rows = rows.filter(namespace__in=namespaces)
        if names is not None:
            rows = rows.filter(name__in=names)
        return [obj for _pk, _version, obj in _decoded(rows)]
    where, params = ["cluster_id = %s", "kind = ANY(%s)"], [cluster_id, list(kinds)]
    if namespaces is not None:
        where.append("namespace = ANY(%s)")
        params.append(list(namespaces))
    if names is not None:
        where.append("name = ANY(%s)")
        params.append(list(names))
    return [obj for _pk, _version, obj in _read(" AND ".join(where), params)]


# The slim facts the mirror stored with each row (graph.graph_facts, a few hundred bytes) instead
# of the objects: PostgreSQL skips turning jsonb into text, Python parses a third of the bytes.
# The whole object only for rows without facts of this graph.FACTS_TAG (written before, or by
# another FACTS). Facts are parsed as one JSON array by the json module, whose key memo makes
# each repeated key once for the whole array: faster to make and to free than ujson row by row
# (measured: bench/topology.py).
READ_SQL = (
    "SELECT id, resource_version, CASE WHEN graph_facts LIKE %s THEN substr(graph_facts, %s) END, "
    f"CASE WHEN graph_facts LIKE %s THEN NULL ELSE object::text END FROM {MirroredObject._meta.db_table} WHERE "
)
FILL_SQL = (
    f"UPDATE {MirroredObject._meta.db_table} t SET graph_facts = v.facts "
    "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, version, facts) "
    "WHERE t.id = v.id AND t.resource_version = v.version AND t.id IN "
    f"(SELECT id FROM {MirroredObject._meta.db_table} WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED)"
)


def _read(where, params):
    """[(id, resource_version, object)] of the rows `where` selects (PostgreSQL)."""
    tagged = graph.FACTS_TAG + "%"
    with connection.cursor() as cursor:
        cursor.execute(READ_SQL + where, [tagged, len(graph.FACTS_TAG) + 1, tagged, *params])
        rows = cursor.fetchall()
    facts = [text for _pk, _version, text, _whole in rows if text is not None]
    parsed = iter(json.loads("[" + ",".join(facts) + "]") if facts else ())
    found, unfilled = [], []
    for pk, version, text, whole in rows:
        if text is not None:
            found.append((pk, version, next(parsed)))
            continue
        obj = ujson.loads(whole)
        reduced = graph.slim(obj)
        if reduced is None:
            found.append((pk, version, obj))  # a kind the graph does not cut (NetworkPolicy)
        else:
            unfilled.append((pk, version, graph.facts_text(reduced)))
            found.append((pk, version, reduced))
    if unfilled:
        _fill(unfilled)
    return found


def _fill(unfilled):
    """Store the facts of rows the mirror wrote without them (before this FACTS), once, unless a
    newer version came meanwhile: the next cold build reads the slim form. Rows another
    transaction holds are left for next time (no lock waited for, no deadlock with the watcher)."""
    unfilled.sort()
    ids = [pk for pk, _version, _facts in unfilled]
    with connection.cursor() as cursor:
        cursor.execute(
            FILL_SQL,
            [ids, [version for _pk, version, _f in unfilled], [facts for _pk, _v, facts in unfilled], ids],
        )


def _decoded(rows):
    """The same from a queryset (SQLite, the embedded mode): facts where stored, else the object cut."""
    found = []
    for pk, version, facts, obj in rows.values_list("id", "resource_version", "graph_facts", "object"):
        reduced = graph.from_facts(facts)
        if reduced is None:
            reduced = graph.slim(obj)
        found.append((pk, version, obj if reduced is None else reduced))
    return found


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
        for pk, version, obj in _read("id = ANY(%s)", [stale]):
            objects[pk] = (version, obj)
    elif stale:
        for pk, version, obj in _decoded(MirroredObject.objects.filter(pk__in=stale)):
            objects[pk] = (version, obj)
    if len(_parsed) >= CACHE_SIZE:
        _parsed.pop(next(iter(_parsed)))
    _parsed[key] = objects  # the newest last
    return [obj for _version, obj in objects.values()]


# Decoding a namespace's objects and building its graph makes hundreds of thousands of dicts
# and lists, none in a cycle: the cyclic collector, run every 700 of them over a heap that
# holds the parsed objects of recent namespaces, took more time than the work itself
# (bench/topology.py). It is paused meanwhile (for every thread: a counter, not a flag).
_gc_lock = threading.Lock()
_gc_pauses = {"depth": 0, "was_enabled": False}


@contextmanager
def gc_paused():
    with _gc_lock:
        if _gc_pauses["depth"] == 0:
            _gc_pauses["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pauses["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses["depth"] -= 1
            if _gc_pauses["depth"] == 0 and _gc_pauses["was_enabled"]:
                gc.enable()


def namespace_graph(cluster, namespaces):
    """The full graph of these namespaces of `cluster`, with health from pods and firing alerts."""
    with gc_paused():
        result = build_namespace_graph(cluster, namespaces, _namespace_objects(cluster.pk, namespaces))
    result["nodes"] = with_alerts(cluster.pk, namespaces, result["nodes"])
    return result


def build_namespace_graph(cluster, namespaces, objects=None):
    with gc_paused():
        return _build_namespace_graph(cluster, namespaces, objects)


def _build_namespace_graph(cluster, namespaces, objects):
    objects = list(_objects(cluster.pk, GRAPH_KINDS, namespaces) if objects is None else objects)
    volume_names = {
        (o.get("spec") or {}).get("volumeName") for o in objects if o.get("kind") == "PersistentVolumeClaim"
    } - {None, ""}
    if volume_names:
        objects += _objects(cluster.pk, ["PersistentVolume"], names=volume_names)
    result = graph.build(objects, unlisted=unlisted_kinds(cluster.pk))
    hosts = [n["name"] for n in result["nodes"] if n["kind"] == "Node"]
    if hosts:
        phases = dict(
            MirroredObject.objects.filter(cluster=cluster, kind="Node", name__in=hosts).values_list("name", "phase")
        )
        for node in result["nodes"]:
            if node["kind"] == "Node":
                node["health"] = {"Ready": "ok", "NotReady": "bad"}.get(phases.get(node["name"]), "unknown")
    return result


def unlisted_kinds(cluster_id):
    """The referenced kinds the watcher has not listed from this cluster (just added, or its
    identity may not list Secrets): their objects' absence from the mirror proves nothing."""
    listed = set(
        WatchCursor.objects.filter(cluster_id=cluster_id, kind__in=REFERENCED_KINDS, listed_at__isnull=False)
        .values_list("kind", flat=True)
        .order_by()
    )
    return tuple(kind for kind in REFERENCED_KINDS if kind not in listed)


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
    fingerprint: tuple = ()  # changes whenever what it was made of changes (empty: not known)


# The last policy world of each cluster, and the last overlays, per process: a live page asks
# the overlay again at every tick, and the policies seldom changed meanwhile.
_worlds = {}
_overlays = {}
OVERLAY_CACHE_SIZE = 16


def policy_world(cluster):
    """The cluster's policies: NetworkPolicies from the mirror, and the Calico
    GlobalNetworkPolicy tenants applies where Calico was found (tenants.manifests, as applied)."""
    calico = [
        manifests.global_network_policy(tenant)
        for tenant in Tenant.objects.filter(clusters=cluster)
        if (tenant.isolation or {}).get(cluster.name, {}).get("calico")
    ]
    mirrored = (
        MirroredObject.objects.filter(cluster=cluster, kind__in=["NetworkPolicy", "Namespace"])
        .values_list("kind")
        .annotate(Count("id"), Max("synced_at"), Max("id"))
        .order_by("kind")
    )
    fingerprint = (cluster.pk, tuple(mirrored), json.dumps(calico, sort_keys=True, default=str))
    known = _worlds.get(cluster.pk)
    if known is not None and known.fingerprint == fingerprint:
        return known
    network_policies = _objects(cluster.pk, ["NetworkPolicy"])
    namespaces = dict(MirroredObject.objects.filter(cluster=cluster, kind="Namespace").values_list("name", "labels"))
    world = PolicyWorld(
        netpol.load_policies(network_policies, calico),
        netpol.with_default_labels(namespaces),
        bool(calico),
        fingerprint,
    )
    _worlds[cluster.pk] = world
    return world


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


REACH_CHOICES = 500


def reach_choices(cluster, namespaces=None):
    """What the reach form offers to pick, as it takes them: the namespaces (namespaces=None: the
    cluster's), then their workloads from the mirror; at most REACH_CHOICES."""
    if namespaces is None:
        namespaces = list(
            MirroredObject.objects.filter(cluster=cluster, kind="Namespace")
            .order_by("name")
            .values_list("name", flat=True)[:REACH_CHOICES]
        )
    workloads = (
        MirroredObject.objects.filter(
            cluster=cluster, kind__in=["Deployment", "StatefulSet", "DaemonSet"], namespace__in=namespaces
        )
        .order_by("namespace", "kind", "name")
        .values_list("kind", "namespace", "name")[: max(0, REACH_CHOICES - len(namespaces))]
    )
    return sorted(namespaces) + ["/".join(row) for row in workloads]


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
    in front of the other), and which namespaces may reach which on some port.

    Evaluated per selector class (netpol.Evaluator), not per pair, and answered compactly: for
    each target one entry with source "*" gives the answer most others get ("*": every other
    endpoint of result["policy_endpoints"][entry["among"]]), then one entry per other answer,
    with its "source", or its "sources" when several get it. expand_paths() lists every pair."""
    nodes = {n["id"]: n for n in result["nodes"]}
    first_pod = {}
    for node in result["nodes"]:
        if node["kind"] == "Pod" and node.get("workload"):
            first_pod.setdefault(node["workload"], node)
    workloads = {
        ident: netpol.Endpoint(
            namespace=pod["namespace"], name=pod["name"], labels=pod.get("labels") or {}, ip=pod.get("ip", "")
        )
        for ident, pod in list(first_pod.items())[:OVERLAY_WORKLOAD_CAP]
    }
    ports = {}
    for edge in result["edges"]:
        if edge["relation"] == "selects" and edge["target"] in workloads and edge["target"] not in ports:
            for text in (nodes.get(edge["source"]) or {}).get("ports") or []:
                target_port = text.split("→")[1] if "→" in text else text.split("/")[0]
                if target_port.isdigit():
                    ports[edge["target"]] = int(target_port)
                    break
    labels = {ident: nodes[ident]["name"] for ident in workloads}
    shown = list(namespaces)[:OVERLAY_NAMESPACE_CAP]
    spaces = (
        {graph.node_id("Namespace", "", name): namespace_endpoint(name) for name in shown} if len(shown) > 1 else {}
    )
    result["policy_endpoints"] = {"workloads": list(workloads), "namespaces": list(spaces)}
    key = (
        world.fingerprint,
        get_language(),
        tuple(
            (i, e.namespace, tuple(sorted(e.labels.items())), e.ip, ports.get(i), labels[i])
            for i, e in workloads.items()
        ),
        tuple(shown),
    )
    if world.fingerprint and key in _overlays:
        return copy.deepcopy(_overlays[key])
    evaluator = netpol.Evaluator(world.policies, world.namespaces)
    paths = _paths(evaluator, workloads, ports, labels, "workloads", _("the other workloads"))
    if spaces:
        labels = {ident: ident.split("/")[2] for ident in spaces}
        paths += _paths(evaluator, spaces, dict.fromkeys(spaces), labels, "namespaces", _("the other namespaces"))
    if world.fingerprint:
        if len(_overlays) >= OVERLAY_CACHE_SIZE:
            _overlays.pop(next(iter(_overlays)))
        _overlays[key] = copy.deepcopy(paths)
    return paths


def _paths(evaluator, endpoints, ports, labels, among, others_label):
    """The overlay's entries for one level (workloads or namespaces): to each target of `ports`
    ({id: port or None}) from every other endpoint, the most common answer as one "*" entry."""
    ids = list(endpoints)
    sources = [endpoints[i] for i in ids]
    targets = [t for t in ids if t in ports]
    source_classes, target_classes = evaluator.classes(
        sources, [endpoints[t] for t in targets], [ports[t] for t in targets]
    )
    paths = []
    own, own_cache, each_label = (
        _("(its namespace)"),
        {},
        _("each of them"),
    )  # decisions are the evaluator's, kept: their ids are stable
    texts = {}  # the reasons' words, each made once
    class_ids = {key: [ids[m] for m in members] for key, members in source_classes.items()}
    for target_key, members in target_classes.items():
        representative = endpoints[targets[members[0]]]
        port = ports[targets[members[0]]]
        answers = {}  # (allowed, reasons) -> (verdict, [source ids])
        for source_key, source_members in source_classes.items():
            namespace = sources[source_members[0]].namespace
            verdict = evaluator.class_verdict(source_key, target_key, representative)
            # each source's own namespace's policies (its default deny) alike: one answer for all
            egress = own_cache.get((id(verdict.egress), namespace))
            if egress is None:
                egress = tuple(_own_policy(reason, namespace, own) for reason in verdict.egress.reasons)
                own_cache[(id(verdict.egress), namespace)] = egress
            key = (verdict.allowed, egress, tuple(verdict.ingress.reasons))
            answers.setdefault(key, (verdict, []))[1].extend(class_ids[source_key])
        common = max(answers, key=lambda key: len(answers[key][1]))
        for member in members:
            target = targets[member]
            verdict = answers[common][0]
            if len(answers[common][1]) > (target in answers[common][1]):
                verdict = netpol.Verdict(netpol.Decision(verdict.egress.allowed, list(common[1])), verdict.ingress)
                paths.append(_path("*", target, port, verdict, others_label, labels[target], among, texts))
            for key, (verdict, source_ids) in answers.items():
                others = [source for source in source_ids if source != target] if key != common else []
                if len(others) == 1:
                    paths.append(
                        _path(others[0], target, port, verdict, labels[others[0]], labels[target], among, texts)
                    )
                elif others:  # one entry for the sources that get the same answer: "sources"
                    verdict = netpol.Verdict(netpol.Decision(verdict.egress.allowed, list(key[1])), verdict.ingress)
                    entry = _path("", target, port, verdict, each_label, labels[target], among, texts)
                    del entry["source"]
                    paths.append({"sources": others, **entry})
    return paths


def _own_policy(reason, namespace, own):
    code, ref = reason
    if namespace and ref.startswith(namespace + "/"):
        return code, own + ref[len(namespace) :]
    return reason


def _path(source, target, port, verdict, source_label, target_label, among, texts):
    """One overlay entry; `texts` keeps the words of each reason made (explain's, made once)."""
    why = []
    for direction, decision, subject in (
        ("egress", verdict.egress, source_label),
        ("ingress", verdict.ingress, target_label),
    ):
        for code, policy in decision.reasons:
            key = (direction, code, policy, subject if code == "not-selected" else "")
            text = texts.get(key)
            if text is None:
                text = texts[key] = _reason(code, policy, subject, decision)
            why.append(text)
    return {"source": source, "target": target, "port": port, "allowed": verdict.allowed, "why": why, "among": among}


def expand_paths(paths, policy_endpoints):
    """The overlay's entries as one per (source, target) pair: an entry's "sources" are one
    each; a "*" entry stands for every other endpoint of its level that has none of its own."""
    pairs = [p for p in paths if p.get("source", "*") != "*"]
    for entry in paths:
        if "sources" in entry:
            pairs += [{**{k: v for k, v in entry.items() if k != "sources"}, "source": s} for s in entry["sources"]]
    named = {(p["source"], p["target"]) for p in pairs}
    for entry in paths:
        if entry.get("source") == "*":
            pairs += [
                {**entry, "source": source}
                for source in policy_endpoints[entry["among"]]
                if source != entry["target"] and (source, entry["target"]) not in named
            ]
    return pairs
