"""The app page's live part as its socket gets it (console/live/views.py): the inside of
#app-live wrapped for its target, the panels outside it (badges, actions, autoscaler,
canary...) left at the top level of the message, where htmx's ws extension swaps them."""

import re

import pytest
from django.urls import reverse

from console.live import views as live_views

from .conftest import mirror_namespace

pytestmark = pytest.mark.django_db

PANELS = ["app-status", "app-image", "app-access", "app-actions", "autoscaler-status", "autoscaler-summary", "canary"]


def test_the_pushed_app_part_keeps_its_panels_at_top_level(client, cluster, web, dev):
    mirror_namespace(cluster, web.namespace)
    client.force_login(dev)
    path = reverse("workloads:app", args=[web.project.tenant.name, web.namespace, web.name])
    assert live_views.check(path, "app-live") == "per-user"
    fragment = client.get(path, HTTP_HX_REQUEST="true").content.decode()

    panels, inside = live_views.split_oob(fragment)
    message = live_views.wrap("app-live", fragment)
    assert message == f'<div id="app-live" hx-swap-oob="innerHTML">{inside}</div>' + "".join(panels)
    assert [re.search(r'id="([^"]+)"', panel)[1] for panel in panels] == PANELS
    assert all(re.match(r"<(span|code|div|section)\b[^>]*hx-swap-oob=\"true\"", panel) for panel in panels)
    # nothing lost or doubled: the inside is the fragment without its panels
    assert len(inside) + sum(map(len, panels)) == len(fragment)
    assert "hx-swap-oob" not in inside
    assert 'id="rollout"' in inside and inside.count("data-pod=") == 2 and 'data-revision="1"' in inside
    # forms for this reader (their CSRF token): why the view is rendered per browser, never shared
    assert 'data-testid="restart"' in inside and "csrfmiddlewaretoken" in inside
    assert "csrfmiddlewaretoken" in "".join(panels)  # the pause button's form
