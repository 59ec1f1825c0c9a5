"""Live fan-out on real processes: one daphne, 200 websockets on one group, a burst of
mirror changes through the watcher's announcer, over real Redis."""

import asyncio
import concurrent.futures
import re
import time

import psutil
import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from websockets.asyncio.client import connect

from console.clusters import mirror, watcher
from console.live import fanout

from ..factories import mk_cluster, mk_user
from .test_worker_and_websocket import session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOCKETS = 200
STAMP = re.compile(r'data-tick="([0-9.]+)"')


def redis_connections(url):
    """The TCP connections to Redis held by the daphne serving `url`."""
    port = int(url.rsplit(":", 1)[1])
    server = next(
        c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == psutil.CONN_LISTEN
    )
    redis_port = int(settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    return sum(1 for c in psutil.Process(server).net_connections("tcp") if c.raddr and c.raddr.port == redis_port)


class RecordingAnnouncer(watcher.Announcer):
    def __init__(self):
        super().__init__()
        self.rounds = []

    def send(self, loop, groups):
        self.rounds.append(time.time())  # the tick's stamp is taken right after
        super().send(loop, groups)


async def client(url, cookie, group, received):
    socket = await connect(
        url.replace("http", "ws") + "/ws/live/",
        origin=url,
        additional_headers={"Cookie": cookie},
        open_timeout=30,
        max_queue=None,
    )
    await socket.send(f'{{"subscribe": "{group}"}}')

    async def read():
        async for message in socket:
            stamp = STAMP.search(message)
            if stamp:
                received.append((float(stamp[1]), time.time()))

    return socket, asyncio.ensure_future(read())


async def until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_a_burst_reaches_every_page_coalesced_with_bounded_redis_connections(live_console):
    operator = mk_user("op-fanout", "operator", password=None)
    cookie = session_cookie(operator)
    group = mirror.namespace_kind_group(mk_cluster().pk, "bench", "Pod")
    layer = get_channel_layer()
    announcer = RecordingAnnouncer()
    interval = announcer.interval

    async def scenario():
        inbox = [[] for _ in range(SOCKETS)]
        first = [await client(live_console, cookie, group, inbox[0])]
        probe = {"type": "push.html", "html": f'<span id="{mirror.tick_id(group)}" data-tick="0"></span>'}
        while not inbox[0]:  # subscribed
            await layer.group_send(group, probe)
            await asyncio.sleep(0.1)
        before = redis_connections(live_console)
        sockets = first + [await client(live_console, cookie, group, inbox[i]) for i in range(1, SOCKETS)]
        deadline = time.monotonic() + 30
        while not all(inbox):  # all subscribed
            assert time.monotonic() < deadline, "not all sockets subscribed"
            await layer.group_send(group, probe)
            await asyncio.sleep(0.2)
        held = redis_connections(live_console)

        announcer.start()
        started = time.time()
        while time.time() - started < 3:  # 200 changes/s for 3 s
            last_change = time.time()  # before the change: a tick stamped after it carries it
            announcer.changed_groups({group})
            await asyncio.sleep(0.005)
        await until(lambda: all(box[-1][0] >= last_change for box in inbox), 20)
        for socket, reader in sockets:
            reader.cancel()
            await socket.close()
        return inbox, before, held, last_change

    try:
        # A thread of its own: a session's browser tests may have left Playwright's loop running in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            inbox, before, held, last_change = pool.submit(asyncio.run, scenario()).result()
    finally:
        announcer.stop()
        announcer.join(5)

    # Coalesced at the source: a tick per interval, not per change (~600 changes).
    assert len(announcer.rounds) <= 3 / interval + 3, announcer.rounds
    assert fanout.COUNTS["merged"] > 300
    # Every page got the trailing tick, soon after the last change.
    for box in inbox:
        stamp, arrived = box[-1]
        assert stamp >= last_change and arrived - last_change < interval + 1.5, (stamp, arrived, last_change)
        assert len(box) <= len(announcer.rounds) + 30  # probes + ticks: nothing per change
    # Redis connections grow with groups and processes, not with sockets.
    # The layer's own (max_connections), plus Django's cache and Celery's broker connection,
    # which requests of earlier tests may have opened in this session's daphne.
    assert held <= settings.CHANNEL_LAYERS["default"]["CONFIG"].get("max_connections", 4) + 2, (before, held)
    assert held - before <= 1, (before, held)
