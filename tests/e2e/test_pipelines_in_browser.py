"""A push to a real git repository fires the pipeline's webhook (its post-receive hook posts a
Gitea push, signed): the run page shows each stage's log as it streams, the canary is deployed
and promoted once the rule held; a second push whose tests fail stops at the test stage and the
app is untouched. Real daphne, Celery worker, watcher, git and sandbox cluster."""

import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from console.accounts.models import User
from console.clusters.watcher import ClusterWatchers
from console.jobs.models import Job
from console.kube.api import ClusterAPI
from console.kube.kinds import KINDS
from workloads import services as app_services
from workloads import specs
from workloads.models import App
from workloads.pipelines import services
from workloads.pipelines.models import Run

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_member, mk_user
from ..pipelines.conftest import pipeline_values
from ..pipelines.gitrepo import make_repo, push
from .conftest import acme_namespace, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WATCHED = ("Pod", "Deployment", "ReplicaSet", "Event", "Service", "Ingress")
sandbox = sandbox_fixture(nodes=2)
TESTS = (
    'echo "running 12 tests"; echo "$CI_COMMIT_MESSAGE" | grep BROKEN > /dev/null'
    ' && echo "FAIL test_cart: expected 200, got 500" && exit 1; echo "12 passed"'
)


def wait_job(job, seconds=40):
    deadline = time.monotonic() + seconds
    while Job.objects.get(pk=job.pk).status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job {job.kind} did not end"
        time.sleep(0.2)
    assert Job.objects.get(pk=job.pk).status == "succeeded", Job.objects.get(pk=job.pk).error


@pytest.fixture
def shop(cluster):
    """Tenant acme, namespace acme-web, member wile, app web exposed with a domain (by the real worker)."""
    tenant, project = acme_namespace(
        cluster, mk_user("p-op", "operator"), default_quota={"cpu": "3", "memory": "4Gi", "pods": "12"}
    )
    wile = mk_member(tenant, "wile", password=PASSWORD)
    spec = {**specs.empty_spec(), "image": "nginx:1.27", "replicas": 1, "ports": [{"name": "http", "port": 80}]}
    app, job = app_services.deploy_app(project, acting_user=wile, name="web", kind="Deployment", spec=spec)
    wait_job(job)
    app.refresh_from_db()
    wait_job(app_services.expose_app(app, acting_user=wile, service_type="ClusterIP", port=80, host="shop.acme.test"))
    watchers = ClusterWatchers(kinds=[KINDS[kind] for kind in WATCHED])
    watchers.refresh()
    yield project, wile
    watchers.stop(timeout=5)


def stable_image(cluster):
    with ClusterAPI(cluster) as api:
        return api.get("Deployment", "web", "acme-web")["spec"]["template"]["spec"]["containers"][0]["image"]


def wait_run(pipeline, number, seconds=30):
    deadline = time.monotonic() + seconds
    while not Run.objects.filter(pipeline=pipeline, number=number).exists():
        assert time.monotonic() < deadline, f"run #{number} did not start"
        time.sleep(0.2)


def test_push_builds_tests_and_promotes_a_canary_then_a_failing_test_stops(
    new_page, shop, cluster, live_console, tmp_path
):
    project, wile = shop
    pipeline, secret = services.create_pipeline(
        project,
        acting_user=wile,
        name="web-ci",
        **pipeline_values(strategy="canary", canary_weight=25, promote_after_minutes=0.1, test_command=TESTS),
    )
    # Kaniko runs as root: an operator enables image builds for acme (its build namespace, baseline)
    services.set_builds(pipeline, acting_user=User.objects.get(username="p-op"), enabled=True)
    work = make_repo(
        tmp_path,
        url=live_console + reverse("pipelines:webhook", args=[pipeline.pk, "gitea"]),
        secret=secret,
        provider="gitea",
        pusher="wile",
    )
    page = sign_in(new_page(), "wile")
    page.click("#main-nav >> text=Pipelines")
    page.click("text=web-ci")
    expect(page.locator("h1")).to_have_text("web-ci")
    expect(page.locator("[data-testid=webhook-secret]")).to_have_count(0)  # shown once, at creation only

    output = push(work, "Faster cart", {"index.html": "<h1>shop v2</h1>"})
    assert "webhook: 202" in output, output
    # the run appears on the pipeline's page as it is (the page follows the pipeline live)
    expect(page.locator("#run-table tr[data-run='1']")).to_be_visible(timeout=20_000)
    page.click("#run-table tr[data-run='1'] a")
    run_page = page.locator("[data-testid=pipeline-run]")
    # the stages and their logs arrive over the websocket while the run goes
    expect(page.locator("[data-stage=build] [data-testid=stage-log]")).to_contain_text(
        "Pushing image to registry.example.com/acme/web:", timeout=20_000
    )
    expect(page.locator("[data-stage=test] [data-testid=stage-log]")).to_contain_text("12 passed", timeout=20_000)
    expect(page.locator("[data-stage=deploy] [data-testid=stage-log]")).to_contain_text(
        "25% of the traffic", timeout=30_000
    )
    screenshot(page, "pipelines-run-canary")
    expect(run_page).to_have_attribute("data-status", "succeeded", timeout=40_000)
    expect(page.locator("[data-stage=deploy] [data-testid=stage-log]")).to_contain_text("promoted")
    expect(page.locator("[data-testid=run-commit]")).to_contain_text("Faster cart")
    expect(page.locator("[data-testid=run-revision]")).to_contain_text("revision 2")
    run = Run.objects.get(pipeline=pipeline, number=1)
    assert stable_image(cluster) == f"{run.image}@{run.image_digest}"
    assert not App.objects.get(pk=pipeline.app_id).canary
    screenshot(page, "pipelines-run-promoted")

    before = stable_image(cluster)
    output = push(work, "BROKEN: new cart code")
    assert "webhook: 202" in output, output
    wait_run(pipeline, 2)
    page.goto(reverse("pipelines:run", args=["acme", "acme-web", "web-ci", 2]))
    expect(run_page).to_have_attribute("data-status", "failed", timeout=40_000)
    expect(page.locator("[data-stage=test]")).to_have_attribute("data-status", "failed")
    expect(page.locator("[data-stage=deploy]")).to_have_attribute("data-status", "skipped")
    expect(page.locator("[data-stage=test] [data-testid=stage-log]")).to_contain_text("FAIL test_cart")
    assert stable_image(cluster) == before
    screenshot(page, "pipelines-run-failed")

    chinese = sign_in(new_page(locale="zh-CN"), "wile")
    chinese.goto(reverse("pipelines:run", args=["acme", "acme-web", "web-ci", 2]))
    expect(chinese.locator("[data-testid=pipeline-run]")).to_have_attribute("data-status", "failed")
    screenshot(chinese, "pipelines-run-failed-zh")
    chinese.goto(reverse("pipelines:pipeline", args=["acme", "acme-web", "web-ci"]))
    expect(chinese.locator("#run-table tr[data-run]")).to_have_count(2)
    screenshot(chinese, "pipelines-pipeline-zh")
