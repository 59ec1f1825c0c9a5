import time

import pytest

from tenants import manifests

from ..conftest import english_fixture
from ..factories import mk_member, mk_project, mk_tenant

english = english_fixture(autouse=True)

APP_LABEL = "caas.io/app"


def web_objects(namespace, host):
    """An app as a user would run it: Deployment (ConfigMap in env, Secret in envFrom), Service, Ingress."""
    labels = {APP_LABEL: "web"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-config", "namespace": namespace},
            "data": {"mode": "prod"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "web-env", "namespace": namespace},
            "stringData": {"TOKEN": "x"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.27",
                                "ports": [{"name": "http", "containerPort": 80}],
                                "env": [
                                    {
                                        "name": "MODE",
                                        "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "mode"}},
                                    }
                                ],
                                "envFrom": [{"secretRef": {"name": "web-env"}}],
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 80}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ]


MIRRORED = (
    "Namespace",
    "Pod",
    "Service",
    "Endpoints",
    "Deployment",
    "ReplicaSet",
    "ConfigMap",
    "Ingress",
    "NetworkPolicy",
    "PersistentVolumeClaim",
    "Secret",
    "ServiceAccount",
)


def mirror_cluster(cluster, kinds=MIRRORED):
    """What the watcher does, once: list each kind into the resource mirror."""
    from console.clusters import mirror
    from console.kube.api import ClusterAPI

    with ClusterAPI(cluster) as api:
        for kind in kinds:
            items = api.list(kind)
            for item in items:
                item["kind"] = kind
            mirror.replace_kind(cluster.pk, kind, items, "")


def wait_for(predicate, seconds=20, what="the cluster"):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not get there in {seconds} s"
        time.sleep(0.2)


def running_pods(cluster, namespace):
    from console.kube.api import ClusterAPI

    with ClusterAPI(cluster) as api:
        return [p for p in api.list("Pod", namespace) if (p.get("status") or {}).get("phase") == "Running"]


def set_up_tenants(cluster):
    """acme (acme-web, isolated as tenants provisions it, running web) and globex (globex-shop, running web)."""
    from console.kube.api import ClusterAPI

    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    users = {"acme": mk_member(acme, "acme-dev"), "globex": mk_member(globex, "globex-dev", "tenant-admin")}
    web, shop = mk_project(acme, cluster, "web"), mk_project(globex, cluster, "shop")
    with ClusterAPI(cluster) as api:
        for project, host in ((web, "web.acme.example"), (shop, "shop.globex.example")):
            namespace = manifests.namespace(project)
            namespace["metadata"]["labels"] = {manifests.TENANT_LABEL: project.tenant.name}
            api.apply(namespace)
            for policy in manifests.network_policies(project):
                api.apply(policy)
            for obj in web_objects(project.name, host):
                api.apply(obj)
    for project in (web, shop):
        wait_for(lambda project=project: len(running_pods(cluster, project.name)) == 2, what="web's pods")
    mirror_cluster(cluster)
    return {"acme": acme, "globex": globex, "web": web, "shop": shop, "users": users}


@pytest.fixture
def tenants_world(cluster):
    return set_up_tenants(cluster)
