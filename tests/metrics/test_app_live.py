"""The app page's charts are live like the chart pages: the page's socket follows the app's
namespace group (no polling), each scrape pushes a tick there, and the charts then fetch the
points the scrape added. Through the real consumer and channel layer (Redis)."""

import re
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from console.live.consumers import LiveConsumer
from monitoring.metrics import collect, live
from tests.factories import create_two_tenants, mk_app
from tests.live import run_async

pytestmark = pytest.mark.django_db(transaction=True)  # the socket reads the database from another thread

SUBSCRIBE = re.compile(r'<form ws-send[^>]*>\s*<input type="hidden" name="subscribe" value="([^"]+)"')


def follow(user, group, then):
    """Connect as the user, subscribe to the group, run `then()` (sync), and return every frame
    the socket got within a few seconds after it."""

    async def application(scope, receive, send):
        scope = {**scope, "user": user, "cookies": {"django_language": "en"}}
        return await LiveConsumer.as_asgi()(scope, receive, send)

    async def conversation():
        socket = WebsocketCommunicator(application, "/ws/live/")
        connected, _code = await socket.connect(timeout=5)
        assert connected
        await socket.send_json_to({"subscribe": group})
        frames = []
        # (a timed-out receive would end the consumer: wait with receive_nothing instead)
        while not await socket.receive_nothing(timeout=1):  # the subscription's answer, if any
            frames.append(await socket.receive_from())
        await sync_to_async(then)()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("metrics-tick" in frame for frame in frames):
            if not await socket.receive_nothing(timeout=0.2):
                frames.append(await socket.receive_from())
        await socket.disconnect()
        return frames

    return run_async(conversation())


def test_the_app_charts_follow_each_scrape_over_the_pages_socket(client):
    cluster, _acme, _globex, project, users = create_two_tenants()
    app = mk_app(project, "web")
    target = f"deployment/{project.name}/web"
    first = int(time.time()) - 30
    scrape = collect.Scrape(cluster.pk, first)
    scrape.put("workload_cpu_usage_cores", target, 0.25)
    collect.write_scrape(scrape)
    client.force_login(users["tenant_member"])

    page = client.get(reverse("workloads:app", args=[project.tenant.name, project.name, app.name])).content.decode()

    panel = page[page.index('id="app-metrics"') :]
    assert "data-metrics-poll" not in page  # no polling any more
    assert 'id="metrics-tick"' in panel  # what each push replaces
    group = f"metrics-{cluster.pk}.{project.name}"
    assert group in SUBSCRIBE.findall(page)  # the page's socket follows the app's namespace
    chart_url = reverse("metrics:chart", args=["workload", cluster.name, "cpu"])
    assert f"{chart_url}?name=deployment%2F{project.name}%2Fweb" in panel

    # the next scrape (what the beat's task does: write, then tick) reaches the open page
    later = collect.Scrape(cluster.pk, first + 15)
    later.put("workload_cpu_usage_cores", target, 0.75)

    def scrape_and_tick():
        collect.write_scrape(later)
        live.tick(later)

    frames = follow(users["tenant_member"], group, scrape_and_tick)

    ticks = [frame for frame in frames if 'id="metrics-tick"' in frame]
    assert ticks, frames
    assert f'data-metrics-tick="{first + 15}"' in ticks[0] and 'hx-swap-oob="true"' in ticks[0]
    # on the tick, each chart asks for its points after its newest one: the new point comes
    new = client.get(chart_url, {"name": target, "range": "1h", "since": first, "divisor": "0.001"}).json()
    assert new["y"] == [[750.0]] and new["last"] == first + 15


def test_another_tenants_member_may_not_follow_the_apps_charts():
    cluster, _acme, _globex, project, users = create_two_tenants()
    group = f"metrics-{cluster.pk}.{project.name}"
    scrape = collect.Scrape(cluster.pk, int(time.time()))
    scrape.put("workload_cpu_usage_cores", f"deployment/{project.name}/web", 0.5)

    frames = follow(users["other_member"], group, lambda: live.tick(scrape))

    assert not any('id="metrics-tick"' in frame for frame in frames)
    assert any("You may not follow" in frame for frame in frames), frames
