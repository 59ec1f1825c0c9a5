"""Extract a template from a running app (read from the resource mirror), instantiate it on a
second cluster, and see the same objects there, with the cost estimate of both clusters."""

from decimal import Decimal

import pytest
import yaml

from console.kube.api import ClusterAPI
from workloads import services as workload_services
from workloads.stacks import cost, render, services

from ..factories import mk_cluster
from ..workloads.conftest import mirror_namespace, provisioned_project
from ..workloads.conftest import run as run_app_job
from .conftest import run

pytestmark = pytest.mark.django_db

RUNNING = """
apiVersion: v1
kind: ConfigMap
metadata: {name: api-config}
data: {LEVEL: info}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example.com/team/api:2.1
        ports: [{containerPort: 8080}]
        envFrom:
        - configMapRef: {name: api-config}
        - secretRef: {name: api-credentials, optional: true}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 200m, memory: 128Mi}
        securityContext:
          allowPrivilegeEscalation: false
          runAsNonRoot: true
          seccompProfile: {type: RuntimeDefault}
          capabilities: {drop: [ALL]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api}
spec:
  ingressClassName: nginx
  rules:
  - host: api.acme.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
data: {x: "1"}
"""
MIRRORED = ("Deployment", "ReplicaSet", "Pod", "Service", "Ingress", "ConfigMap", "HorizontalPodAutoscaler")


@pytest.fixture(scope="module")
def sandbox_east():
    from console.sandbox import SandboxCluster

    with SandboxCluster(nodes=1, clock_speed=20) as second:
        yield second


@pytest.fixture
def east(db, sandbox_east, acme):
    cluster = mk_cluster("east", kubeconfig_text=sandbox_east.kubeconfig_text())
    acme.clusters.add(cluster)
    return cluster


def running_api(cluster, project, dev):
    job, _rows = workload_services.import_manifests(project, acting_user=dev, text=RUNNING)
    assert run_app_job(job).status == "succeeded", job.error
    mirror_namespace(cluster, project.name, MIRRORED)


def test_extract_an_app_then_replicate_it_on_another_cluster(cluster, east, acme, project, dev, operator):
    running_api(cluster, project, dev)
    template = services.extract_template(project, acting_user=dev, name="api-copy", app="api")
    assert template.tenant == acme  # private to the tenant
    version = template.latest()
    documents = yaml.safe_load_all(version.manifests)
    objects = {(o["kind"], o["metadata"]["name"]): o for o in documents}
    assert sorted(objects) == [
        ("ConfigMap", "api-config"),
        ("Deployment", "api"),
        ("HorizontalPodAutoscaler", "api"),
        ("Ingress", "api"),
        ("Service", "api"),
    ]  # references followed; the unrelated ConfigMap, ReplicaSets and Pods left out
    for forbidden in (
        "uid:",
        "resourceVersion",
        "managedFields",
        "creationTimestamp",
        "status:",
        "clusterIP",
        "nodePort",
    ):
        assert forbidden not in version.manifests
    names = {p["name"]: p for p in version.parameters}
    assert names["api_image"]["default"] == "registry.example.com/team/api:2.1"
    assert names["api_replicas"]["default"] == 2 and names["api_replicas"]["type"] == "int"
    assert names["api_host"]["default"] == "api.acme.example.com"
    assert names["api_cpu"]["default"] == "100m"
    assert names["secret_api_credentials"]["default"] == "api-credentials"  # a name, never a value

    # the second cluster, priced differently
    east_ns = provisioned_project(acme, east, operator, "replica")
    services.set_prices(
        cluster,
        acting_user=operator,
        currency="USD",
        cpu_core_month=Decimal("20"),
        memory_gib_month=Decimal("4"),
        storage_gib_month=Decimal("0.1"),
        load_balancer_month=Decimal("15"),
    )
    services.set_prices(
        east,
        acting_user=operator,
        currency="USD",
        cpu_core_month=Decimal("30"),
        memory_gib_month=Decimal("5"),
        storage_gib_month=Decimal("0.2"),
        load_balancer_month=Decimal("20"),
    )
    values = {"api_host": "api.east.example.com"}
    plan = services.preview_stack(east_ns, user=dev, version=version, values=values)
    assert plan.ok, (plan.refused, plan.quota_error)
    here = plan.estimate
    there = cost.estimate(plan.objects, cluster, east_ns.limit_range)
    # 2 pods × 100m and 64Mi: 0.2 cores and 128Mi
    assert (here.total.cpu, here.total.memory) == (Decimal("0.2"), Decimal(128 * 1024**2))
    assert here.total.cost == Decimal("6.63")  # 0.2 × 30 + 0.125 × 5
    assert there.total.cost == Decimal("4.50")  # 0.2 × 20 + 0.125 × 4

    stack, job = services.create_stack(east_ns, acting_user=dev, version=version, name="api", values=values)
    assert run(job).status == "succeeded", job.error
    with ClusterAPI(east) as api, ClusterAPI(cluster) as source:
        for kind, name in objects:
            copy, original = api.get(kind, name, east_ns.name), source.get(kind, name, project.name)
            assert copy is not None, (kind, name)
            assert copy["metadata"]["uid"] != original["metadata"]["uid"]
        assert api.get("Ingress", "api", east_ns.name)["spec"]["rules"][0]["host"] == "api.east.example.com"
        assert len(api.list("Pod", east_ns.name, label_selector="caas.io/app=api")) == 2


def test_a_whole_namespace_and_its_parameters_render(cluster, project, dev):
    running_api(cluster, project, dev)
    template = services.extract_template(project, acting_user=dev, name="whole")
    version = template.latest()
    assert "unrelated" in version.manifests  # a namespace's other ConfigMaps come too
    assert render.validate_version(version.manifests, render.parameters_of(version))


def test_nothing_to_extract_is_said(cluster, project, dev):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Nothing to extract"):
        services.extract_template(project, acting_user=dev, name="empty")


def test_a_stack_replicates_to_another_cluster_in_one_step(cluster, east, acme, project, dev, operator):
    from .conftest import recommended

    stack, job = services.create_stack(
        project, acting_user=dev, version=recommended("redis"), name="cache", values={"maxmemory": "64mb"}
    )
    assert run(job).status == "succeeded"
    stack.refresh_from_db()
    east_ns = provisioned_project(acme, east, operator, "cache-copy")
    copy, job = services.replicate_stack(stack, acting_user=dev, target=east_ns)
    assert run(job).status == "succeeded", job.error
    copy.refresh_from_db()
    assert (copy.version, copy.parameters, copy.resources) == (stack.version, stack.parameters, stack.resources)
    with ClusterAPI(east) as api:
        assert "maxmemory 64mb" in api.get("ConfigMap", "redis-config", east_ns.name)["data"]["redis.conf"]
