"""An autoscaler on a cluster without a working metrics API: the sandbox answers as a real
one (metrics.k8s.io 503, ScalingActive=False / FailedGetResourceMetric and Warning events),
and the app page says plainly that the autoscaler is not active and why."""

import time

import pytest
from django.urls import reverse

from console.kube.api import ClusterAPI
from console.kube.errors import ApiRefused
from workloads import selectors, services, tasks

from .conftest import mirror_namespace, run

pytestmark = pytest.mark.django_db

UNAVAILABLE = (
    "the HPA was unable to compute the replica count: failed to get cpu utilization: "
    "unable to get metrics for resource cpu: "
    "unable to fetch metrics from resource metrics API: the server is currently unable to handle the request "
    "(get pods.metrics.k8s.io)"
)


def conditions_when(cluster, app, wanted, timeout=15):
    """The HPA's conditions {type: condition} once `wanted(conditions)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        with ClusterAPI(cluster) as api:
            hpa = api.get("HorizontalPodAutoscaler", app.name, app.namespace)
        conditions = {c["type"]: c for c in (hpa.get("status") or {}).get("conditions") or []}
        if wanted(conditions):
            return hpa, conditions
        assert time.monotonic() < deadline, f"HPA conditions never came: {conditions}"
        time.sleep(0.1)


def page(client, app):
    return client.get(
        reverse("workloads:app", args=[app.project.tenant.name, app.namespace, app.name])
    ).content.decode()


@pytest.fixture
def metrics_off(sandbox):
    sandbox.set_metrics_api(False)
    yield sandbox
    sandbox.set_metrics_api(True)


def test_without_metrics_the_autoscaler_is_shown_inactive_and_why(client, cluster, metrics_off, web, dev):
    sandbox = metrics_off
    with ClusterAPI(cluster) as api:
        assert api.has_api_group("metrics.k8s.io")  # still registered (the APIService exists) ...
        with pytest.raises(ApiRefused) as refused:  # ... but its backend is gone
            api._request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{web.namespace}/pods")
    assert refused.value.status == 503 and refused.value.message.strip() == "service unavailable"
    assert sandbox.stats()["metrics_api"] is False

    assert (
        run(services.set_autoscaler(web, acting_user=dev, min_replicas=2, max_replicas=4, cpu=50)).status == "succeeded"
    )
    web.refresh_from_db()
    hpa, conditions = conditions_when(cluster, web, lambda c: "ScalingActive" in c)
    assert conditions["AbleToScale"]["status"] == "True" and conditions["AbleToScale"]["reason"] == "SucceededGetScale"
    active = conditions["ScalingActive"]
    assert (active["status"], active["reason"], active["message"]) == ("False", "FailedGetResourceMetric", UNAVAILABLE)
    assert "ScalingLimited" not in conditions  # never evaluated: the controller stopped before the limits
    assert hpa["status"]["currentReplicas"] == 2 and hpa["status"]["desiredReplicas"] == 0
    assert hpa["status"]["currentMetrics"] == [{"type": ""}]
    with ClusterAPI(cluster) as api:
        warnings = api.list("Event", web.namespace, field_selector="involvedObject.name=web,type=Warning")
    reasons = {e["reason"]: e["message"] for e in warnings if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"}
    assert reasons["FailedGetResourceMetric"] == UNAVAILABLE.removeprefix(
        "the HPA was unable to compute the replica count: "
    )
    assert reasons["FailedComputeMetricsReplicas"].startswith(
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value:"
    )

    mirror_namespace(cluster, web.namespace, kinds=("HorizontalPodAutoscaler",))
    assert tasks.observe_autoscalers() == 0  # desiredReplicas 0 means "no count yet", not a scaling to zero
    status = selectors.autoscaler_status(web)
    assert status.active is False and "metrics-server" in status.explanation and status.problem == UNAVAILABLE
    client.force_login(dev)
    body = page(client, web)
    assert 'data-active="false"' in body and "The autoscaler is not active." in body
    assert "metrics-server" in body and "unable to fetch metrics from resource metrics API" in body
    assert 'data-condition="ScalingActive"' in body and "FailedGetResourceMetric" in body

    # metrics-server back: the autoscaler works again and the page says so
    sandbox.set_metrics_api(True)
    hpa, conditions = conditions_when(cluster, web, lambda c: c.get("ScalingActive", {}).get("status") == "True")
    assert conditions["ScalingActive"]["reason"] == "ValidMetricFound"
    assert conditions["ScalingActive"]["message"] == (
        "the HPA was able to successfully calculate a replica count from cpu resource "
        "utilization (percentage of request)"
    )
    assert conditions["ScalingLimited"]["status"] in ("True", "False")
    assert hpa["status"]["currentMetrics"][0]["type"] == "Resource"
    with ClusterAPI(cluster) as api:
        assert (
            api._request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{web.namespace}/pods")["kind"]
            == "PodMetricsList"
        )
    mirror_namespace(cluster, web.namespace, kinds=("HorizontalPodAutoscaler",))
    body = page(client, web)
    assert 'data-active="true"' in body and "The autoscaler is not active." not in body


def test_no_autoscaler_shows_nothing_and_a_missing_request_is_named(client, cluster, web, dev):
    assert selectors.autoscaler_status(web) is None
    client.force_login(dev)
    assert 'data-testid="autoscaler-state"' not in page(client, web)
    # outside the console (no LimitRange giving defaults): an HPA on a container without a CPU request
    labels = {"app": "bare"}
    with ClusterAPI(cluster) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "hpa-bare"}})
        api.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "bare", "namespace": "hpa-bare"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
                    },
                },
            }
        )
        api.apply(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "bare", "namespace": "hpa-bare"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bare"},
                    "minReplicas": 1,
                    "maxReplicas": 3,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                        }
                    ],
                },
            }
        )
    bare = type("Bare", (), {"name": "bare", "namespace": "hpa-bare"})
    _hpa, conditions = conditions_when(cluster, bare, lambda c: "ScalingActive" in c)
    active = conditions["ScalingActive"]
    assert active["status"] == "False" and active["reason"] == "FailedGetResourceMetric"
    assert active["message"].startswith(
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "missing request for cpu in container main of Pod bare-"
    )
