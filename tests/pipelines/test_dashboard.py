"""The dashboard's pipeline runs panel (tenant users see their tenants' runs, operators and
auditors every tenant's) and the demo's pipeline with a run built, tested and rolled out."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from console.kube.api import ClusterAPI
from tests.factories import mk_app
from tests.workloads.test_restore import fresh_sandbox, restart_on, worker  # noqa: F401 (fixtures)
from workloads.pipelines import services
from workloads.pipelines.models import Pipeline, Run

from .conftest import pipeline_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants_runs():
    from tests.factories import create_two_tenants

    cluster, acme, globex, project, users = create_two_tenants()
    mk_app(project, "web")
    acme_ci, _ = services.create_pipeline(
        project, acting_user=users["tenant_member"], name="web-ci", **pipeline_values()
    )
    shop = globex.projects.get()
    mk_app(shop, "web")
    globex_ci, _ = services.create_pipeline(
        shop, acting_user=users["other_member"], name="shop-ci", **pipeline_values()
    )
    services.run_pipeline(acme_ci, acting_user=users["tenant_member"])
    services.run_pipeline(acme_ci, acting_user=users["tenant_member"])  # waits: one run at a time
    services.run_pipeline(globex_ci, acting_user=users["other_member"])
    return users


def panel(client, user):
    client.force_login(user)
    response = client.get(reverse("console:dashboard_panel", args=["pipeline_runs"]))
    assert response.status_code == 200
    return response.content.decode()


def test_tenant_users_see_their_runs_operators_all(client, two_tenants_runs, operator):
    users = two_tenants_runs
    member = panel(client, users["tenant_member"])
    assert "web-ci #2" in member and "web-ci #1" in member and "shop-ci" not in member
    assert '<span data-status="queued"><span class="badge text-bg-secondary">2</span>' in member
    assert "shop-ci #1" in panel(client, users["other_member"]) and "web-ci" not in panel(client, users["other_member"])
    everything = panel(client, operator)
    assert "acme-web/web-ci #2" in everything and "globex-shop/shop-ci #1" in everything
    assert '<span data-status="queued"><span class="badge text-bg-secondary">3</span>' in everything


def test_the_panel_reads_a_fixed_number_of_queries(client, two_tenants_runs, operator, django_assert_max_num_queries):
    from django.test.client import RequestFactory

    from workloads.pipelines.dashboard import runs_context

    request = RequestFactory().get("/")
    request.user = operator
    with django_assert_max_num_queries(3):
        context = runs_context(request)
        [str(run.pipeline.project.tenant.name) for run in context["latest_runs"]]
    assert len(context["latest_runs"]) == 3


def test_the_demo_has_a_pipeline_with_a_run(fresh_sandbox, worker):  # noqa: F811
    from console.sandbox.demo import seed_demo

    seed_demo(fresh_sandbox)
    cluster, said = restart_on(fresh_sandbox, demo=True)
    assert "created demo pipeline 'storefront-ci' in demo-shop" in said
    pipeline = Pipeline.objects.get(name="storefront-ci")
    assert pipeline.created_by.username == "alice" and pipeline.project.name == "demo-shop"
    run = Run.objects.get(pipeline=pipeline)
    assert run.status == "succeeded", run.error
    assert run.stages.get(name="test").log == "running 24 tests\n24 passed\n"
    with ClusterAPI(cluster) as api:
        deployment = api.get("Deployment", "storefront", "demo-shop")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{run.image}@{run.image_digest}"
    # again: nothing new
    out = io.StringIO()
    call_command("seed_demo", cluster="sandbox", stdout=out)
    assert Run.objects.count() == 1 and Pipeline.objects.count() == 1
