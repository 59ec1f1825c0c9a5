"""What a fresh cluster holds before anyone writes: the system namespaces, the nodes, and
(unless seeding is off) ceph-csi's RBD classes and secret, the ingress class, control-plane
static pods, calico, CoreDNS and the kubernetes Service."""

import base64
import hashlib
import json

from ..ceph import DRIVER
from ..kinds import STORED
from .context import Context
from .helpers import owner_ref, safe_hash
from .nodes import Nodes

R = STORED
CSI_NAMESPACE, CSI_SECRET = "ceph-csi-rbd", "csi-rbd-secret"  # as ceph-csi's Helm chart names them
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SYSTEM_STATIC_PODS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]


def seed(ctx: Context, nodes: Nodes) -> None:
    store = ctx.store
    for namespace in SYSTEM_NAMESPACES:
        if not store.exists(R["namespaces"], "", namespace):
            store.create(R["namespaces"], "", {"metadata": {"name": namespace}})
    for i in range(1, ctx.node_count + 1):
        nodes.add_node(i)
    if not ctx.seed_system:
        return
    seed_classes(ctx)
    seed_static_pods(ctx)
    seed_addons(ctx)


def default_class(annotation: str, name: str) -> dict:
    return {"name": name, "annotations": {annotation: "true"}}


def secret_parameters(*kinds: str) -> dict[str, str]:
    return {
        f"csi.storage.k8s.io/{kind}-secret-{field}": value
        for kind in kinds
        for field, value in (("name", CSI_SECRET), ("namespace", CSI_NAMESPACE))
    }


def seed_classes(ctx: Context) -> None:
    seed_ceph_csi(ctx)
    ctx.create_if_missing(
        R["ingressclasses"],
        "",
        {
            "metadata": default_class("ingressclass.kubernetes.io/is-default-class", "nginx"),
            "spec": {"controller": "k8s.io/ingress-nginx"},
        },
    )


def seed_ceph_csi(ctx: Context) -> None:
    """ceph-csi's RBD side as its chart and examples set it up: the Ceph user's secret and the cluster's
    config in their namespace, the default StorageClass and VolumeSnapshotClass (clusterID: the fsid)."""
    options = ctx.csi.driver.options
    cluster_id = ctx.csi.driver.cluster_id()
    if options:
        user, key, monitors = options.name.removeprefix("client."), options.user_key(), options.monitors()
    else:  # a key of Ceph's shape (base64 of a 28-byte secret), no one's
        user, monitors = "kubernetes", ["10.0.0.2:6789"]
        key = base64.b64encode(b"\x01\x00" + hashlib.sha256(cluster_id.encode()).digest()[:26]).decode()
    ctx.create_if_missing(R["namespaces"], "", {"metadata": {"name": CSI_NAMESPACE}})
    ctx.create_if_missing(
        R["secrets"], CSI_NAMESPACE, {"metadata": {"name": CSI_SECRET}, "stringData": {"userID": user, "userKey": key}}
    )
    ctx.create_if_missing(
        R["configmaps"],
        CSI_NAMESPACE,
        {
            "metadata": {"name": "ceph-csi-config"},
            "data": {"config.json": json.dumps([{"clusterID": cluster_id, "monitors": monitors}])},
        },
    )
    ctx.create_if_missing(
        R["storageclasses"],
        "",
        {
            "metadata": default_class("storageclass.kubernetes.io/is-default-class", "ceph-rbd"),
            "provisioner": DRIVER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
            "mountOptions": ["discard"],
            "parameters": {
                "clusterID": cluster_id,
                "pool": ctx.csi.pool,
                "imageFeatures": "layering",
                "csi.storage.k8s.io/fstype": "ext4",
                **secret_parameters("provisioner", "controller-expand", "node-stage"),
            },
        },
    )
    ctx.create_if_missing(
        R["volumesnapshotclasses"],
        "",
        {
            "metadata": default_class("snapshot.storage.kubernetes.io/is-default-class", "ceph-rbd-snapclass"),
            "driver": DRIVER,
            "deletionPolicy": "Delete",
            "parameters": {"clusterID": cluster_id, **secret_parameters("snapshotter")},
        },
    )


def seed_static_pods(ctx: Context) -> None:
    node1 = ctx.store.get_ref(R["nodes"], "", "sandbox-node-1")
    for component in SYSTEM_STATIC_PODS:
        ctx.create_if_missing(
            R["pods"],
            "kube-system",
            {
                "metadata": {
                    "name": f"{component}-sandbox-node-1",
                    "labels": {"component": component, "tier": "control-plane"},
                    "annotations": {
                        "kubernetes.io/config.source": "file",
                        "kubernetes.io/config.mirror": safe_hash(component, 32),
                    },
                    "ownerReferences": [owner_ref(node1, controller=True)] if node1 else [],
                },
                "spec": {
                    "nodeName": "sandbox-node-1",
                    "priorityClassName": "system-node-critical",
                    "priority": 2000001000,
                    "hostNetwork": True,
                    "containers": [
                        {
                            "name": component,
                            "image": f"registry.k8s.io/{component}:v1.37.0",
                            "resources": {"requests": {"cpu": "100m" if component != "kube-apiserver" else "250m"}},
                        }
                    ],
                },
            },
        )


def system_workload(ctx: Context, plural: str, name: str, labels: dict, pod_spec: dict, **spec) -> None:
    """A kube-system DaemonSet or Deployment whose pods carry its labels."""
    ctx.create_if_missing(
        R[plural],
        "kube-system",
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                **spec,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
    )


def seed_addons(ctx: Context) -> None:
    system_workload(
        ctx,
        "daemonsets",
        "calico-node",
        {"k8s-app": "calico-node"},
        {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [
                {
                    "name": "calico-node",
                    "image": "docker.io/calico/node:v3.30.0",
                    "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}},
                }
            ],
        },
    )
    labels = {"k8s-app": "kube-dns"}
    system_workload(
        ctx,
        "deployments",
        "coredns",
        labels,
        {
            "priorityClassName": "system-cluster-critical",
            "containers": [
                {
                    "name": "coredns",
                    "image": "registry.k8s.io/coredns/coredns:v1.12.1",
                    "ports": [
                        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                        {"name": "dns-tcp", "containerPort": 53},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "70Mi"},
                        "limits": {"memory": "170Mi"},
                    },
                }
            ],
        },
        replicas=2,
    )
    ctx.create_if_missing(
        R["services"],
        "kube-system",
        {
            "metadata": {"name": "kube-dns", "labels": labels},
            "spec": {
                "selector": labels,
                "clusterIP": "10.96.0.10",
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "targetPort": 53},
                ],
            },
        },
    )
    ctx.create_if_missing(
        R["services"],
        "default",
        {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        },
    )
