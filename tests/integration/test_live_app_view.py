"""The app page as a live view on a real daphne over the Redis fan-out layer: a tenant
member's page socket gets the app's live part pushed after a tick (its panels beside it, its
forms valid for that browser), and another tenant's member is refused the view."""

import asyncio
import re

import pytest
import requests
from django.urls import reverse

from console.clusters import mirror
from console.live import realtime
from console.live import views as live_views
from workloads.models import App

from ..factories import mk_app, mk_cluster, mk_member, mk_project, mk_tenant
from .test_live_views import follow, next_message, run
from .test_worker_and_websocket import session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def pod(name, namespace, app="shop"):
    labels = {"caas.io/app": app}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": name, "labels": labels},
        "status": {"phase": "Running"},
    }


def browser(live_console, user, path):
    """A signed-in browser that opened `path`: its cookies (session, language, and the CSRF
    cookie the page set), as the page's socket sends them."""
    session = requests.Session()
    for part in session_cookie(user).split("; "):
        name, _sep, value = part.partition("=")
        session.cookies.set(name, value)
    assert session.get(live_console + path, timeout=30).status_code == 200
    assert "csrftoken" in session.cookies
    return session, "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def test_a_members_app_page_gets_its_live_part_pushed_after_a_tick(live_console):
    cluster = mk_cluster()
    tenant = mk_tenant("acme", clusters=[cluster])
    member = mk_member(tenant, "acme-dev")
    project = mk_project(tenant, cluster, "web")
    app = mk_app(project, "shop")
    mirror.replace_kind(cluster.pk, "Pod", [pod("shop-1", project.name)], "1")
    path = reverse("workloads:app", args=[tenant.name, project.name, app.name])
    pods = mirror.namespace_kind_group(cluster.pk, project.name, "Pod")
    session, cookie = browser(live_console, member, path)

    def change():
        mirror.apply_events(cluster.pk, "Pod", [("ADDED", pod("shop-2", project.name))])
        realtime.send_message(pods, realtime.tick_message(pods))

    def fail():
        App.objects.filter(pk=app.pk).update(status="failed")
        realtime.send_message(app.group, realtime.tick_message(app.group))

    def lose_a_tick():
        App.objects.filter(pk=app.pk).update(spec={**app.spec, "image": "nginx:1.28"})
        realtime.send_message(app.group, {"type": "live.lost"})

    async def scenario():
        # as app.html asks: the same view on each of the page's groups
        socket = await follow(live_console, cookie, app.group, path, target="app-live")
        first = await next_message(socket, 'id="app-live"')
        await socket.send(f'{{"subscribe": "{pods}", "view": "{path}", "target": "app-live"}}')
        await asyncio.to_thread(change)
        pushed = await next_message(socket, "shop-2")
        await asyncio.to_thread(fail)
        failed = await next_message(socket, 'data-testid="app-status"')
        # ticks lost with Redis (the fan-out layer tells each socket once it is back): the
        # page's view is rendered afresh, as the old 5 s poll would have caught up
        await asyncio.to_thread(lose_a_tick)
        caught_up = await next_message(socket, "nginx:1.28")
        await socket.close()
        return first, pushed, failed, caught_up

    first, pushed, failed, caught_up = run(scenario())
    assert caught_up.startswith('<div id="app-live"') and 'id="app-image"' in caught_up
    assert "shop-1" in first and "shop-2" not in first
    # rendered once at the first subscription: the second group's subscription sent nothing,
    # so the next message is the tick's push
    assert pushed.startswith('<span id="tick-') and "shop-1" in pushed
    for message in (first, pushed, failed):
        # the top level of the message: the inside of #app-live wrapped, its panels beside it
        panels, _inside = live_views.split_oob(message)
        ids = [re.search(r'id="([^"]+)"', panel)[1] for panel in panels]
        assert "app-live" in ids and {"app-status", "app-actions", "autoscaler-summary", "canary"} <= set(ids)
        wrapper = next(panel for panel in panels if panel.startswith('<div id="app-live"'))
        assert "hx-swap-oob" not in wrapper.removeprefix('<div id="app-live" hx-swap-oob="innerHTML">')
    assert 'data-testid="app-status" class="badge text-bg-danger"' in failed

    # the forms it holds were rendered for this browser: their CSRF token is accepted
    token = TOKEN.search(pushed)[1]
    scale = reverse("workloads:app_scale", args=[tenant.name, project.name, app.name])
    refused = session.post(live_console + scale, data={"csrfmiddlewaretoken": token, "replicas": "many"}, timeout=30)
    assert refused.status_code == 400 and "Replicas must be a number" in refused.text  # the form's answer, not CSRF's
    forged = session.post(live_console + scale, data={"csrfmiddlewaretoken": "x" * 64, "replicas": "2"}, timeout=30)
    assert forged.status_code == 403


def test_another_tenants_member_is_refused_the_app_view(live_console):
    cluster = mk_cluster()
    acme, globex = mk_tenant("acme", clusters=[cluster]), mk_tenant("globex", clusters=[cluster])
    project = mk_project(acme, cluster, "web")
    app = mk_app(project, "shop")
    mirror.replace_kind(cluster.pk, "Pod", [pod("secret-pod", project.name)], "1")
    outsider = mk_member(globex, "globex-dev", "tenant-admin")
    path = reverse("workloads:app", args=[acme.name, project.name, app.name])
    cookie = session_cookie(outsider)

    async def answer(group):
        socket = await follow(live_console, cookie, group, path, target="app-live")
        reply = await next_message(socket, "live-error")
        await socket.close()
        return reply

    async def scenario():
        return {
            # the app's group is acme's
            "group": await answer(app.group),
            # a group the outsider may follow (their own) does not open the view: the view refuses
            "view": await answer(realtime.user_group(outsider.pk)),
        }

    replies = run(scenario())
    assert f"You may not follow {app.group}" in replies["group"]
    assert "You may not follow this page." in replies["view"]
    for reply in replies.values():
        assert "secret-pod" not in reply and "app-live" not in reply
