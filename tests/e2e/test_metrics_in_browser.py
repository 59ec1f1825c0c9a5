"""A live chart in a real browser: the cluster page draws its charts from the samples, and a
scrape (the sandbox's load raised between two) appends its points while the page is open."""

import threading
import time

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from monitoring.metrics import collect, tasks

from ..conftest import sandbox_fixture
from ..factories import mk_cluster, mk_user
from ..metrics.conftest import run_pod
from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
sandbox = sandbox_fixture("module", nodes=2)

POINTS = "el => el.data ? el.data[0].y.length : 0"
LAST = "el => el.data[0].y[el.data[0].y.length - 1]"


def test_a_live_chart_appends_the_points_of_each_scrape(new_page, sandbox):
    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    mk_user("metrics-op", "operator")
    run_pod(cluster, "shop", "web-1")
    collect.scrape_cluster(cluster)
    time.sleep(1.1)  # samples are per second: the next scrape is a new point
    collect.scrape_cluster(cluster)

    for locale in ("en-US", "zh-CN"):
        page = sign_in(new_page(locale=locale), "metrics-op")
        page.goto(f"/monitoring/clusters/{cluster.name}/")
        chart = page.locator("[data-testid=chart-cpu]")
        expect(chart.locator(".main-svg").first).to_be_visible()
        expect(page.locator('#metrics-components [data-component="etcd"]')).to_be_visible()
        screenshot(page, f"metrics-cluster-{locale[:2]}")
    assert chart.evaluate(POINTS) == 2
    before = chart.evaluate(LAST)

    sandbox.set_pod_load("shop", "web-1", cpu="3")
    time.sleep(1.1)
    page.wait_for_function("() => document.body.dataset.live === 'open'")
    tasks.scrape_clusters.delay()  # as beat does: the live console's worker scrapes and pushes the tick

    page.wait_for_function(f"() => ({POINTS})(document.querySelector('[data-testid=chart-cpu]')) === 3")
    assert chart.evaluate(LAST) > before + 2.5

    cache.delete("dashboard:metrics-health")  # computed when signing in landed there; 30 s later it is fresh anyway
    page.goto("/")  # the dashboard's health panel: every component at a glance, top consumers
    expect(page.locator('#dash-metrics-health [data-component="etcd"]')).to_be_visible()
    expect(page.locator("#dash-metrics-health")).to_contain_text("shop/web-1")
    screenshot(page, "metrics-dashboard-zh")


XS = "el => el.data[0].x"


def test_a_chart_in_buckets_refreshes_its_last_bucket_live(new_page, sandbox):
    """A 6-hour chart reads 2-minute averages (of the 1-minute table): on a tick it reads its
    last bucket again and replaces it, rather than appending a second point for the same time."""
    from monitoring.metrics import live, store

    cluster = mk_cluster("sandbox", kubeconfig_text=sandbox.kubeconfig_text())
    mk_user("metrics-op", "operator")
    run_pod(cluster, "shop", "web-1")
    sandbox.set_pod_load("shop", "web-1", cpu="0.1")
    collect.scrape_cluster(cluster)
    store.downsample()

    page = sign_in(new_page(locale="en-US"), "metrics-op")
    page.goto(f"/monitoring/clusters/{cluster.name}/?range=6h")
    chart = page.locator("[data-testid=chart-cpu]")
    expect(chart.locator(".main-svg").first).to_be_visible()
    before_x, before = chart.evaluate(XS), chart.evaluate(LAST)
    page.wait_for_function("() => document.body.dataset.live === 'open'")

    sandbox.set_pod_load("shop", "web-1", cpu="3")
    time.sleep(1.1)
    scrape = collect.scrape_cluster(cluster)
    store.downsample()  # (the beat's other task: the 1-minute table has the new scrape)
    pushing = threading.Thread(target=live.tick, args=(scrape,))  # (playwright's loop holds this thread)
    pushing.start()
    pushing.join()

    page.wait_for_function(f"() => ({LAST})(document.querySelector('[data-testid=chart-cpu]')) > {before}")
    xs = chart.evaluate(XS)
    assert len(xs) == len(set(xs))  # one point per bucket: the one still filling was replaced
    assert xs[: len(before_x) - 1] == before_x[:-1] and len(xs) - len(before_x) in (0, 1)
