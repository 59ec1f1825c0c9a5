"""A tenant member extracts a template from an app running on one cluster, instantiates it
on a second cluster with the cost compared between both, and sees the same objects there.
Real daphne and a real Celery worker; two sandbox clusters."""

import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from console.kube.api import ClusterAPI
from console.sandbox import SandboxCluster
from tenants import services as tenant_services
from tenants.models import Project
from workloads import services as app_services
from workloads.models import App
from workloads.stacks import services
from workloads.stacks.models import Stack

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_cluster, mk_member, mk_user
from ..stacks.test_extract import MIRRORED, RUNNING
from ..workloads.conftest import mirror_namespace
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
sandbox = sandbox_fixture("module", nodes=2)
COPIED = [
    ("ConfigMap", "api-config"),
    ("Deployment", "api"),
    ("HorizontalPodAutoscaler", "api"),
    ("Ingress", "api"),
    ("Service", "api"),
]


def wait(condition, seconds=60, what=""):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def sandbox_east():
    with SandboxCluster(nodes=1, clock_speed=20) as second:
        yield second


@pytest.fixture
def two_clusters(sandbox, sandbox_east):
    west = mk_cluster("west", kubeconfig_text=sandbox.kubeconfig_text())
    east = mk_cluster("east", kubeconfig_text=sandbox_east.kubeconfig_text())
    operator = mk_user("s-op", "operator")
    tenant = tenant_services.create_tenant(
        acting_user=operator,
        name="acme",
        display_name="Acme",
        clusters=[west, east],
        limits={"cpu": "8", "memory": "16Gi", "pods": "40"},
        default_quota={"cpu": "2", "memory": "4Gi", "pods": "10"},
    )
    dev = mk_member(tenant, "acme-dev", password=PASSWORD)
    projects = [
        tenant_services.create_project(tenant, acting_user=operator, cluster=cluster, short_name=short)[0]
        for cluster, short in ((west, "shop"), (east, "replica"))
    ]
    for project in projects:
        wait(lambda p=project: Project.objects.get(pk=p.pk).status == "active", 30, "namespace not provisioned")
    source = Project.objects.get(pk=projects[0].pk)
    app_services.import_manifests(source, acting_user=dev, text=RUNNING)
    wait(lambda: App.objects.filter(project=source, name="api", status="running").exists(), 60, "api not running")
    mirror_namespace(west, source.name, MIRRORED)  # what the watcher keeps
    for cluster, cpu in ((west, "20"), (east, "30")):
        services.set_prices(
            cluster,
            acting_user=operator,
            currency="USD",
            cpu_core_month=Decimal(cpu),
            memory_gib_month=Decimal("4"),
            storage_gib_month=Decimal("0.1"),
            load_balancer_month=Decimal("15"),
        )
    return west, east, source, Project.objects.get(pk=projects[1].pk)


def test_extract_then_replicate_to_another_cluster_with_its_cost(new_page, two_clusters):
    west, east, source, target = two_clusters
    page = new_page()
    sign_in(page, "acme-dev")
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto("/templates/")
    expect(page.locator("#template-table")).to_contain_text("three-tier-demo")  # shipped with the console
    page.click("#extract-link")
    page.select_option("#id_project", label=f"{source.name} (west)")
    page.fill("#id_app", "api")
    page.fill("#id_name", "api-template")
    page.click("#extract-form button[type=submit]")
    expect(page.locator("#manifests")).to_contain_text("${api_image}")
    expect(page.locator("#parameter-table")).to_contain_text("secret_api_credentials")
    screenshot(page, "stacks-template-en")

    page.click("#instantiate-link")
    page.select_option("#id_project", label=f"{target.name} (east)")
    page.fill("#id_stack_name", "api")
    page.select_option("#id_compare_with", label="west")
    page.fill("#id_p-api_host", "api.east.example.com")
    page.click("#preview-button")
    for kind, name in COPIED:
        expect(page.locator(f'#plan-table tr[data-object="{kind}/{name}"]')).to_have_attribute("data-action", "create")
    # 2 pods × 100m and 64Mi: 0.2 × 30 + 0.125 × 4 on east, 0.2 × 20 + 0.125 × 4 on west
    expect(page.locator("[data-testid=estimate][data-cluster=east] [data-testid=estimate-total]")).to_have_text(
        "6.50 USD"
    )
    expect(page.locator("[data-testid=estimate][data-cluster=west] [data-testid=estimate-total]")).to_have_text(
        "4.50 USD"
    )
    screenshot(page, "stacks-instantiate-en")
    page.click("#create-button")
    page.wait_for_url(f"**/templates/stacks/acme/{target.name}/api/")
    # the page follows the stack live (group stack-<id>): no reload
    expect(page.locator("[data-testid=stack-status]")).to_have_text("Ready", timeout=60_000)
    assert Stack.objects.get(name="api").status == "ready"
    for kind, name in COPIED:
        expect(page.locator(f'#stack-objects [data-object="{kind}/{name}"]')).to_be_visible()
    screenshot(page, "stacks-stack-en")
    with ClusterAPI(east) as api:
        for kind, name in COPIED:
            assert api.get(kind, name, target.name) is not None, (kind, name)
        assert api.get("Ingress", "api", target.name)["spec"]["rules"][0]["host"] == "api.east.example.com"
        assert len(api.list("Pod", target.name, label_selector="caas.io/app=api")) == 2
    assert App.objects.get(project=target, name="api").status == "running"  # an app of the console there

    chinese = new_page(locale="zh-CN")
    sign_in(chinese, "acme-dev")
    chinese.wait_for_url(lambda url: "/login/" not in url)
    chinese.goto(f"/templates/stacks/acme/{target.name}/api/")
    expect(chinese.locator("[data-testid=stack-status]")).to_be_visible()
    screenshot(chinese, "stacks-stack-zh")
    chinese.goto(f"/templates/{Stack.objects.get(name='api').version.template.pk}/instantiate/")
    screenshot(chinese, "stacks-instantiate-zh")
