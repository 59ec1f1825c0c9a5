"""Demo workloads for the embedded run: a small shop and a batch namespace.

`seed_demo(cluster_or_store)` creates them once; running it again changes nothing."""

from .errors import ApiError
from .kinds import STORED as R

# The demo namespaces belong to a tenant, so the console labels them Pod Security
# "restricted": their containers are made to pass it, as a tenant's would have to.
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "capabilities": {"drop": ["ALL"]},
}


def deployment(name, image, replicas, labels, cpu="100m", memory="128Mi", port=8080):
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"kubernetes.io/change-cause": f"initial deploy of {image}"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": port, "name": "http"}],
                            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
                            "securityContext": RESTRICTED,
                        }
                    ]
                },
            },
        },
    }


def demo_objects():
    web, api = {"app": "web", "tier": "front"}, {"app": "api", "tier": "back"}
    redis = {"app": "redis", "tier": "cache"}
    return [
        # The embedded run's demo tenant ("demo") owns both namespaces.
        (
            R["namespaces"],
            "",
            {"metadata": {"name": "demo-shop", "labels": {"team": "shop", "env": "demo", "caas.io/tenant": "demo"}}},
        ),
        (
            R["namespaces"],
            "",
            {"metadata": {"name": "demo-batch", "labels": {"team": "data", "env": "demo", "caas.io/tenant": "demo"}}},
        ),
        (
            R["resourcequotas"],
            "demo-shop",
            {
                "metadata": {"name": "shop-quota"},
                "spec": {
                    "hard": {
                        "pods": "30",
                        "requests.cpu": "8",
                        "requests.memory": "16Gi",
                        "persistentvolumeclaims": "10",
                        "requests.storage": "100Gi",
                    }
                },
            },
        ),
        (
            R["configmaps"],
            "demo-shop",
            {"metadata": {"name": "web-config"}, "data": {"FEATURE_CART": "on", "LOG_LEVEL": "info"}},
        ),
        (
            R["secrets"],
            "demo-shop",
            {
                "metadata": {"name": "api-credentials"},
                "type": "Opaque",
                "stringData": {"DATABASE_URL": "postgres://shop:demo@db:5432/shop"},
            },
        ),
        (R["deployments"], "demo-shop", deployment("web", "registry.local/shop/web:1.4.2", 3, web)),
        (
            R["deployments"],
            "demo-shop",
            deployment("api", "registry.local/shop/api:2.0.1", 2, api, cpu="200m", memory="256Mi"),
        ),
        (
            R["services"],
            "demo-shop",
            {
                "metadata": {"name": "web", "labels": web},
                "spec": {"selector": web, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
            },
        ),
        (
            R["services"],
            "demo-shop",
            {
                "metadata": {"name": "api", "labels": api},
                "spec": {"selector": api, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]},
            },
        ),
        (
            R["services"],
            "demo-shop",
            {
                "metadata": {"name": "redis", "labels": redis},
                "spec": {"clusterIP": "None", "selector": redis, "ports": [{"name": "redis", "port": 6379}]},
            },
        ),
        (
            R["ingresses"],
            "demo-shop",
            {
                "metadata": {"name": "shop"},
                "spec": {
                    "ingressClassName": "nginx",
                    "rules": [
                        {
                            "host": "shop.demo.local",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                    },
                                    {
                                        "path": "/api",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "api", "port": {"number": 8080}}},
                                    },
                                ]
                            },
                        }
                    ],
                },
            },
        ),
        (
            R["statefulsets"],
            "demo-shop",
            {
                "metadata": {"name": "redis", "labels": redis},
                "spec": {
                    "serviceName": "redis",
                    "replicas": 1,
                    "selector": {"matchLabels": redis},
                    "template": {
                        "metadata": {"labels": redis},
                        "spec": {
                            "containers": [
                                {
                                    "name": "redis",
                                    "image": "docker.io/library/redis:7.4",
                                    "ports": [{"containerPort": 6379, "name": "redis"}],
                                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
                                    "securityContext": RESTRICTED,
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                }
                            ]
                        },
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
                        }
                    ],
                },
            },
        ),
        (
            R["horizontalpodautoscalers"],
            "demo-shop",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 3,
                    "maxReplicas": 10,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                        }
                    ],
                },
            },
        ),
        (
            R["cronjobs"],
            "demo-batch",
            {
                "metadata": {"name": "report"},
                "spec": {
                    "schedule": "*/5 * * * *",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "OnFailure",
                                    "containers": [
                                        {
                                            "name": "report",
                                            "image": "registry.local/batch/report:0.9",
                                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                                            "securityContext": RESTRICTED,
                                        }
                                    ],
                                }
                            }
                        }
                    },
                },
            },
        ),
        (
            R["jobs"],
            "demo-batch",
            {
                "metadata": {"name": "migrate-db"},
                "spec": {
                    "completions": 1,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "migrate",
                                    "image": "registry.local/shop/api:2.0.1",
                                    "command": ["migrate"],
                                    "securityContext": RESTRICTED,
                                }
                            ],
                        }
                    },
                },
            },
        ),
    ]


def seed_demo(target):
    """Create the demo objects (through a SandboxCluster or its Store); returns how many were new."""
    store = getattr(target, "store", target)
    created = 0
    for resource, namespace, body in demo_objects():
        try:
            store.create(resource, namespace, body)
            created += 1
        except ApiError as exc:
            if exc.code != 409:
                raise
    return created
