"""The resource browser updates live in a real browser as the cluster changes."""

import pytest
from playwright.sync_api import expect

from console import crypto
from console.clusters.models import Cluster
from console.clusters.watcher import ClusterWatchers
from console.kube.kinds import KINDS
from console.sandbox import SandboxCluster
from console.sandbox.kinds import BY_PATH

from ..factories import mk_user
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DEPLOYMENTS = BY_PATH[("apps", "v1", "deployments")]
PODS = BY_PATH[("", "v1", "pods")]


@pytest.fixture
def watched_sandbox():
    sandbox = SandboxCluster(nodes=3, clock_speed=5).start()
    sandbox.store.create(BY_PATH[("", "v1", "namespaces")], "", {"metadata": {"name": "shop"}})
    Cluster.objects.create(
        name="sbx",
        server=sandbox.url,
        context="sandbox",
        kubeconfig_encrypted=crypto.encrypt(sandbox.kubeconfig_text()),
    )
    watchers = ClusterWatchers(kinds=[KINDS["Pod"], KINDS["Deployment"]])
    watchers.refresh()
    yield sandbox
    watchers.stop(timeout=5)
    sandbox.stop()


def test_pods_appear_change_and_disappear_without_reload(new_page, watched_sandbox):
    mk_user("live-op", "operator")
    page = sign_in(new_page(), "live-op")
    page.goto("/clusters/sbx/resources/Pod/?namespace=shop")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    expect(page.locator("#resource-rows")).to_contain_text("No objects match")
    page.evaluate("window.__loads = performance.getEntriesByType('navigation').length")
    rereads = []  # the server pushes the table (console/live/views.py): the page never asks for it
    page.on("request", lambda request: rereads.append(request.url) if "/resources/Pod/" in request.url else None)

    watched_sandbox.store.create(
        DEPLOYMENTS,
        "shop",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
    )
    rows = page.locator("#resource-rows tbody tr[data-object]")
    expect(rows).to_have_count(2)
    expect(page.locator("#resource-rows [data-phase]").first).to_have_text("Running", timeout=15_000)
    screenshot(page, "live-pods")

    victim = rows.first.get_attribute("data-object").split("/")[1]
    watched_sandbox.store.delete(PODS, "shop", victim)
    expect(page.locator(f'tr[data-object="shop/{victim}"]')).to_have_count(0)
    expect(rows).to_have_count(2)  # the ReplicaSet made a replacement
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # never reloaded
    assert rereads == []
