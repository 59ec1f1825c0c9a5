"""A tenant member selects nodes on the topology of a namespace (a click, then a Shift-click)
and extracts them as a template: the extract page lists the selection, and the template
holds the Service and the ConfigMap picked, not the app behind them.
Real daphne, Celery worker and sandbox cluster."""

import time

import pytest
import yaml
from playwright.sync_api import expect

from workloads import services as app_services
from workloads.models import App
from workloads.stacks.models import Template

from ..conftest import sandbox_fixture
from ..factories import PASSWORD, mk_member, mk_user
from ..stacks.test_extract import MIRRORED, RUNNING
from ..workloads.conftest import mirror_namespace
from .conftest import acme_namespace, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
sandbox = sandbox_fixture()


def click_node(page, ident, modifiers=()):
    """Click a node of the graph where it is drawn (Cytoscape draws on a canvas)."""
    page.wait_for_function(f"() => window.topology && window.topology.getElementById({ident!r}).length === 1")
    at = page.evaluate(f"window.topology.getElementById({ident!r}).renderedPosition()")
    box = page.locator("[data-testid=topology]").bounding_box()
    page.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    for key in modifiers:
        page.keyboard.down(key)
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    for key in modifiers:
        page.keyboard.up(key)


def test_extract_a_template_from_nodes_selected_on_the_topology(new_page, cluster):
    _tenant, project = acme_namespace(cluster, mk_user("t-op", "operator"), "shop")
    dev = mk_member(project.tenant, "acme-dev", password=PASSWORD)
    app_services.import_manifests(project, acting_user=dev, text=RUNNING)
    deadline = time.monotonic() + 60
    while not App.objects.filter(project=project, name="api", status="running").exists():
        assert time.monotonic() < deadline, "api not running"
        time.sleep(0.2)
    mirror_namespace(cluster, project.name, MIRRORED)
    ns = project.name

    page = sign_in(new_page(), "acme-dev")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/topology/tenants/acme/{ns}/")
    expect(page.locator("[data-testid=topology]")).to_have_attribute("data-ready", "1")
    button = page.locator("[data-testid=topology-extract-button]")
    expect(button).to_be_disabled()
    page.click("#topology-fit")
    click_node(page, f"Deployment/{ns}/api")
    expect(page.locator("#topology-extract-count")).to_have_text("1")
    click_node(page, f"Service/{ns}/api")  # a plain click selects only it
    expect(page.locator("#topology-extract-count")).to_have_text("1")
    click_node(page, f"ConfigMap/{ns}/api-config", modifiers=("Shift",))
    expect(page.locator("#topology-extract-count")).to_have_text("2")
    screenshot(page, "topology-extract-selection")
    button.click()

    page.wait_for_url("**/templates/extract/**")
    selection = page.locator("[data-testid=extract-selection]")
    expect(selection).to_contain_text(f"ConfigMap/{ns}/api-config")
    expect(selection).to_contain_text(f"Service/{ns}/api")
    expect(selection).not_to_contain_text("Deployment")
    page.fill("#id_name", "picked")
    page.click("#extract-form button[type=submit]")
    page.wait_for_url("**/templates/**")
    expect(page.locator("body")).to_contain_text("Template picked extracted.")
    template = Template.objects.get(name="picked")
    objects = sorted((o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(template.latest().manifests))
    assert objects == [("ConfigMap", "api-config"), ("Service", "api")]  # what was selected, no more
