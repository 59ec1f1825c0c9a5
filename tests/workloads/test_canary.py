"""Gray release: a canary beside the stable version with ingress-nginx canary annotations,
traffic by weight or header, then promote (stable becomes the new version) or abort."""

import pytest
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from console.kube.api import ClusterAPI
from console.oplog.models import OperationLogEntry
from workloads import selectors, services
from workloads.models import App

from .conftest import mirror_namespace, run

pytestmark = pytest.mark.django_db
NGINX = "nginx.ingress.kubernetes.io/"


@pytest.fixture
def exposed(web, dev):
    assert (
        run(
            services.expose_app(web, acting_user=dev, service_type="ClusterIP", port=80, host="shop.example.com")
        ).status
        == "succeeded"
    )
    web.refresh_from_db()
    return web


def get(cluster, kind, name, namespace):
    with ClusterAPI(cluster) as api:
        return api.get(kind, name, namespace)


def test_canary_needs_an_ingress_and_valid_settings(web, dev):
    with pytest.raises(ValidationError, match="expose the app with a domain first"):
        services.start_canary(web, acting_user=dev, image="nginx:1.28", weight=20)


def test_canary_at_20_percent_then_promote(cluster, exposed, dev):
    web = exposed
    with pytest.raises(ValidationError, match="runs nginx:1.27 already"):
        services.start_canary(web, acting_user=dev, image="nginx:1.27", weight=20)
    with pytest.raises(ValidationError, match="from 0 to 100"):
        services.start_canary(web, acting_user=dev, image="nginx:1.28", weight=120)
    with pytest.raises(ValidationError, match="weight"):
        services.start_canary(web, acting_user=dev, image="nginx:1.28")
    job = run(services.start_canary(web, acting_user=dev, image="nginx:1.28", replicas=1, weight=20))
    assert job.status == "succeeded", job.error
    ingress = get(cluster, "Ingress", "web-canary", web.namespace)
    assert ingress["metadata"]["annotations"][NGINX + "canary"] == "true"
    assert ingress["metadata"]["annotations"][NGINX + "canary-weight"] == "20"
    assert ingress["spec"]["rules"][0]["host"] == "shop.example.com"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web-canary"
    assert get(cluster, "Service", "web-canary", web.namespace)["spec"]["selector"] == {"caas.io/app": "web-canary"}
    canary = get(cluster, "Deployment", "web-canary", web.namespace)
    assert (
        canary["status"]["readyReplicas"] == 1
        and canary["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    )
    stable = get(cluster, "Deployment", "web", web.namespace)
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"  # untouched

    web.refresh_from_db()
    mirror_namespace(cluster, web.namespace)
    context = selectors.live_context(web)
    assert context["stable_health"]["pods"] == 2 and context["canary_health"] == {
        "pods": 1,
        "ready": 1,
        "restarts": 0,
        "problems": 0,
    }
    assert context["stable_weight"] == 80 and len(context["pods"]) == 2  # the stable list holds no canary pod
    # the canary's pods have their logs too, like the stable ones
    canary_pod = context["canary_pods"][0].name
    assert isinstance(services.pod_log(web, user=dev, pod_name=canary_pod), str)
    assert services.open_pod_log(web, user=dev, pod_name=canary_pod)[1] == ["web-canary"]
    html = render_to_string(
        "workloads/_app_live.html", {**context, "app": web, "tenant": web.project.tenant, "project": web.project}
    )
    canary_row = html.split(f'data-canary-pod="{canary_pod}"')[1].split("</div>")[0]
    assert 'data-testid="follow-log"' in canary_row and f"/apps/web/pods/{canary_pod}/log/" in canary_row

    services.set_canary_traffic(web, acting_user=dev, weight=50, header="X-Canary")
    annotations = get(cluster, "Ingress", "web-canary", web.namespace)["metadata"]["annotations"]
    assert annotations[NGINX + "canary-weight"] == "50" and annotations[NGINX + "canary-by-header"] == "X-Canary"

    web.refresh_from_db()
    job = run(services.promote_canary(web, acting_user=dev))
    assert job.status == "succeeded", job.error
    stable = get(cluster, "Deployment", "web", web.namespace)
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    for kind in ("Deployment", "Service", "Ingress"):
        assert get(cluster, kind, "web-canary", web.namespace) is None
    assert get(cluster, "Ingress", "web", web.namespace) is not None
    web.refresh_from_db()
    assert web.canary == {} and web.spec["image"] == "nginx:1.28" and web.status == "running"
    actions = list(
        OperationLogEntry.objects.filter(action__startswith="app.canary", result__in=["accepted", "succeeded"])
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "app.canary_start",
        "app.canary.finish",
        "app.canary_traffic",
        "app.canary_promote",
        "app.canary_promote.finish",
    ]


def test_abort_removes_the_canary_and_keeps_stable(cluster, exposed, dev, client):
    web = exposed
    run(services.start_canary(web, acting_user=dev, image="nginx:1.28", header="X-Canary", header_value="yes"))
    web.refresh_from_db()
    assert web.canary["header"] == "X-Canary"
    mirror_namespace(cluster, web.namespace)
    client.force_login(dev)
    page = client.get(reverse("workloads:app", args=["acme", web.namespace, "web"])).content.decode()
    assert 'data-testid="canary-live"' in page and "nginx:1.28" in page
    assert client.post(reverse("workloads:canary_abort", args=["acme", web.namespace, "web"])).status_code == 302
    from console.jobs.models import Job

    assert run(Job.objects.get(kind="app.canary_abort")).status == "succeeded"
    assert get(cluster, "Deployment", "web-canary", web.namespace) is None
    assert (
        get(cluster, "Deployment", "web", web.namespace)["spec"]["template"]["spec"]["containers"][0]["image"]
        == "nginx:1.27"
    )
    assert App.objects.get(pk=web.pk).canary == {}
    with pytest.raises(ValidationError, match="No canary runs"):
        services.promote_canary(App.objects.get(pk=web.pk), acting_user=dev)
