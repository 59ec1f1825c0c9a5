"""The app pages through HTTP: forms with clear 400s, the app page read from the mirror,
who may see and do what (404 outside one's tenant), the live group's authorisation."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.live import realtime
from console.oplog.models import OperationLogEntry
from tenants import services as tenant_services
from workloads import services
from workloads.models import App

from ..factories import mk_member, mk_tenant, mk_user
from .conftest import mirror_namespace, run, spec

pytestmark = pytest.mark.django_db

FORM = {
    "name": "web",
    "kind": "Deployment",
    "image": "nginx:1.27",
    "replicas": "2",
    "ports": "http:80",
    "env": "MODE=prod",
    "cpu_request": "100m",
    "cpu_limit": "200m",
    "memory_request": "64Mi",
    "memory_limit": "128Mi",
    "readiness_path": "/ready",
}


def url(name, app, *extra):
    return reverse(f"workloads:{name}", args=[app.project.tenant.name, app.namespace, app.name, *extra])


def test_deploy_form_explains_bad_input_with_400_and_deploys_good_input(client, project, dev):
    client.force_login(dev)
    add = reverse("workloads:app_add", args=["acme", project.name])
    page = client.get(add)
    assert page.status_code == 200
    assert b'value="100m"' in page.content  # container defaults of the namespace prefill the form
    bad = client.post(add, {**FORM, "name": "Web_1", "image": "Nginx::1", "ports": "http:70000"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "Port &#x27;http:70000&#x27; is not valid: ports are numbers from 1 to 65535." in text
    assert "DNS-1123 label" in text and "is not a valid image reference" in text  # every problem at once
    bad = client.post(add, {**FORM, "name": "Web_1"})
    assert bad.status_code == 400 and "DNS-1123 label" in bad.content.decode()
    bad = client.post(add, {**FORM, "image": "Nginx::1"})
    assert bad.status_code == 400 and "is not a valid image reference" in bad.content.decode()
    bad = client.post(add, {**FORM, "volumes": "data /data 1Gi"})
    assert bad.status_code == 400 and "choose StatefulSet for persistent volumes" in bad.content.decode()
    bad = client.post(add, {**FORM, "cpu_request": "2", "cpu_limit": "1"})
    assert bad.status_code == 400 and "above its limit" in bad.content.decode()
    bad = client.post(add, {**FORM, "replicas": "30"})
    assert bad.status_code == 400 and "Not enough quota" in bad.content.decode()
    assert not App.objects.exists()
    done = client.post(add, FORM)
    assert done.status_code == 302 and done["Location"] == reverse("workloads:app", args=["acme", project.name, "web"])
    app = App.objects.get()
    assert app.spec["env"] == [{"name": "MODE", "value": "prod"}]
    assert app.spec["readiness"] == {"path": "/ready", "port": 80}
    assert run(Job.objects.get(kind="app.deploy")).status == "succeeded"


def test_app_page_shows_pods_events_revisions_and_yaml_from_the_mirror(client, cluster, web, dev, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    mirror_namespace(cluster, web.namespace)
    client.force_login(dev)
    page = client.get(url("app", web))
    assert page.status_code == 200
    text = page.content.decode()
    with ClusterAPI(cluster) as api:
        pods = api.list("Pod", web.namespace, label_selector="caas.io/app=web")
    for pod in pods:
        assert f'data-pod="{pod["metadata"]["name"]}"' in text
        assert pod["spec"]["nodeName"] in text
    assert text.count("data-phase>Running<") == 2
    assert 'data-count="ready">2<' in text and 'data-testid="rollout-state">Complete<' in text
    assert 'data-revision="1"' in text and "acme-dev" in text
    assert "Started container web" in text  # the latest events of the app's pods
    with ClusterAPI(cluster) as api:
        seen = [parse_datetime(event["lastTimestamp"]) for event in api.list("Event", web.namespace)]
    shown = [moment for moment in seen if f">{timezone.localtime(moment):%H:%M:%S}</td>" in text]  # the console's zone
    assert shown and not any(f">{moment:%H:%M:%S}</td>" in text for moment in shown)  # not UTC (+08:00 here)
    assert "Deployment web" in text and "kind: Deployment" in text  # YAML
    assert f'"subscribe" value="app-{web.pk}"' in text
    live = client.get(url("app", web), HTTP_HX_REQUEST="true")
    # the inside of #app-live (it stays on the page) and the panels outside it, by id
    fragment = live.content.decode()
    assert live.status_code == 200 and 'id="rollout"' in fragment and 'id="app-live"' not in fragment
    for panel in (
        "app-status",
        "app-image",
        "app-access",
        "app-actions",
        "autoscaler-summary",
        "autoscaler-status",
        "canary",
    ):
        assert re.search(f'id="{panel}"[^>]*hx-swap-oob="true"', fragment), panel


def test_who_may_see_and_change_an_app(client, cluster, web, dev, operator, auditor, acme):
    globex_admin = mk_member(mk_tenant("globex", clusters=[cluster]), "globex-admin", "tenant-admin")
    loner = mk_user("loner")
    for user, page_status, scale_status in (
        (globex_admin, 404, 404),
        (loner, 404, 404),
        (auditor, 200, 403),
        (operator, 200, 302),
        (dev, 200, 302),
    ):
        client.force_login(user)
        assert client.get(url("app", web)).status_code == page_status, user
        response = client.post(
            url("app_scale", web), {"replicas": str(App.objects.get(pk=web.pk).spec["replicas"] + 1)}
        )
        assert response.status_code == scale_status, user
        assert client.post(url("pod_restart", web, "web-x")).status_code in (
            (400,) if scale_status == 302 else (scale_status,)
        )
    assert OperationLogEntry.objects.filter(action="app.scale", actor_name="aud", result="denied").exists()
    client.force_login(auditor)
    assert client.get(url("app_upgrade", web)).status_code == 403
    # a suspended tenant's apps are read-only, for members and operators alike
    for job in Job.objects.filter(status="pending"):
        run(job)
    tenant_services.suspend_tenant(acme, acting_user=operator)
    client.force_login(dev)
    assert client.post(url("app_scale", web), {"replicas": "1"}).status_code == 403
    assert client.get(url("app", web)).status_code == 200


def test_upgrade_form_starts_from_what_runs_and_reports_conflicts(client, cluster, web, dev):
    mirror_namespace(cluster, web.namespace)
    client.force_login(dev)
    form = client.get(url("app_upgrade", web))
    assert (
        form.status_code == 200
        and b'value="nginx:1.27"' in form.content
        and b'name="generation" value="1"' in form.content
    )
    # someone else upgrades meanwhile
    run(services.upgrade_app(web, acting_user=dev, spec=spec(image="nginx:1.28")))
    response = client.post(url("app_upgrade", web), {"image": "nginx:1.29", "ports": "http:80", "generation": "1"})
    assert response.status_code == 409
    text = response.content.decode()
    assert "changed by someone else" in text and 'value="nginx:1.28"' in text  # the form shows the new state
    response = client.post(
        url("app_upgrade", web),
        {
            "image": "nginx:1.29",
            "ports": "http:80",
            "generation": "2",
            "cpu_request": "100m",
            "cpu_limit": "200m",
            "memory_request": "64Mi",
            "memory_limit": "128Mi",
        },
    )
    assert response.status_code == 302
    assert Job.objects.filter(kind="app.upgrade").count() == 2


def test_page_actions_answer_clearly(client, cluster, web, dev):
    client.force_login(dev)
    wrong = client.post(url("app_delete", web), {"confirm_name": "nope"})
    assert wrong.status_code == 400 and "Type the app&#x27;s name to confirm." in wrong.content.decode()
    rollback = client.post(url("app_rollback", web), {"revision": "7"})
    assert rollback.status_code == 400 and "Revision 7 does not exist" in rollback.content.decode()
    expose = client.post(url("app_expose", web), {"service_type": "NodePort", "port": "80", "node_port": "80"})
    assert expose.status_code == 400 and "30000 to 32767" in expose.content.decode()
    with ClusterAPI(cluster) as api:
        pod = api.list("Pod", web.namespace, label_selector="caas.io/app=web")[0]["metadata"]["name"]
    log = client.get(url("pod_log", web, pod))
    assert log.status_code == 200 and log["Content-Type"].startswith("text/plain")
    assert client.post(url("app_delete", web), {"confirm_name": "web"}).status_code == 302
    assert App.objects.get(pk=web.pk).status == "deleting"


def test_app_list_shows_only_the_users_tenants(client, cluster, web, dev, operator):
    globex = mk_tenant("globex", clusters=[cluster])
    outsider = mk_member(globex, "globex-dev")
    client.force_login(dev)
    page = client.get(reverse("workloads:app_list"))
    assert page.status_code == 200 and f'data-app="{web.namespace}/web"' in page.content.decode()
    assert reverse("workloads:app_add", args=["acme", web.namespace]) in page.content.decode()
    client.force_login(outsider)
    page = client.get(reverse("workloads:app_list"))
    assert page.status_code == 200 and "data-app=" not in page.content.decode()
    client.force_login(operator)
    assert f'data-app="{web.namespace}/web"' in client.get(reverse("workloads:app_list")).content.decode()


def test_live_group_follows_tenant_access(cluster, web, dev, auditor):
    outsider = mk_member(mk_tenant("globex", clusters=[cluster]), "globex-dev")
    group = f"app-{web.pk}"
    assert realtime.may_subscribe(dev, group)
    assert realtime.may_subscribe(auditor, group)
    assert not realtime.may_subscribe(outsider, group)
    assert not realtime.may_subscribe(dev, "app-999999")
    assert 'class="mirror-tick"' in realtime.snapshot(dev, group)


def test_scaling_forms_on_the_app_page(client, web, dev):
    client.force_login(dev)
    bad = client.post(url("schedule_add", web), {"at": "25:00", "replicas": "3", "weekdays": ["0"]})
    assert bad.status_code == 400 and "The schedule is not valid" in bad.content.decode()
    good = client.post(url("schedule_add", web), {"at": "08:00", "replicas": "3", "weekdays": ["0", "1"]})
    assert good.status_code == 302
    page = client.get(url("app", web)).content.decode()
    assert "08:00" in page and "Mon, Tue" in page and "Asia/Shanghai" in page
    bad = client.post(url("autoscaler_set", web), {"min_replicas": "1", "max_replicas": "3", "cpu": "70"})
    assert bad.status_code == 400 and "This app scales on a schedule" in bad.content.decode()
