"""Connecting to a cluster to see what it is: server version, nodes and readiness checks."""

from dataclasses import dataclass, field

from kubernetes import client

from console.kube.config import Kubeconfig, server_of
from console.kube.connection import api_client, raw_get
from console.kube.errors import translate_errors


@dataclass
class NodeSummary:
    name: str
    ready: bool
    roles: list
    kubelet_version: str
    capacity: dict
    allocatable: dict
    conditions: list = field(default_factory=list)


@dataclass
class ClusterProbe:
    server: str
    context: str
    version: str
    nodes: list
    health: list  # [(check name, ok)] from /readyz?verbose


def probe_cluster(data: Kubeconfig, context: str) -> ClusterProbe:
    """Connect with a kubeconfig: server version and nodes, or a ClusterError."""
    api = api_client(data, context)
    try:
        version = translate_errors(lambda: client.VersionApi(api).get_code())
        nodes = translate_errors(lambda: client.CoreV1Api(api).list_node())
        health = readiness_checks(api)
    finally:
        api.close()
    return ClusterProbe(
        server=server_of(data, context),
        context=context,
        version=version.git_version,
        nodes=[node_summary(node) for node in nodes.items],
        health=health,
    )


def readiness_checks(api: client.ApiClient) -> list[tuple[str, bool]]:
    """The API server's own readiness checks (etcd, informers, ...) as [(name, ok)]."""
    response = raw_get(api, "/readyz", [("verbose", "true")])
    text = response.read().decode(errors="replace")
    checks = []
    for line in str(text).splitlines():
        line = line.strip()
        if line.startswith(("[+]", "[-]")):
            checks.append((line[3:].split(" ")[0], line.startswith("[+]")))
    return checks or [("readyz", str(text).strip() == "ok")]


def node_summary(node: client.V1Node) -> NodeSummary:
    conditions = [
        {"type": c.type, "status": c.status, "reason": c.reason or "", "message": c.message or ""}
        for c in (node.status.conditions or [])
    ]
    labels = node.metadata.labels or {}
    return NodeSummary(
        name=node.metadata.name,
        ready=any(c["type"] == "Ready" and c["status"] == "True" for c in conditions),
        roles=sorted(key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")),
        kubelet_version=node.status.node_info.kubelet_version if node.status.node_info else "",
        capacity=dict(node.status.capacity or {}),
        allocatable=dict(node.status.allocatable or {}),
        conditions=conditions,
    )
