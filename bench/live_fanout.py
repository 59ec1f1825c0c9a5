"""Live fan-out: N pages following one namespace's Pod list while it changes at R events/s.

Starts 1 or 2 real daphne processes (tests/live.py), opens N websockets spread over them,
all subscribed to one nskind group, and runs the watcher's Announcer in a separate
process, told of a change R times a second. Event→page latency: for each change, until
each page has what was sent after it (the tick carries its send time):

- `--table none`: the tick itself;
- `--table push`: the table (50 pods) pushed with the tick (console/live/views.py);
- `--table reread`: the table as the pages got it before live views: on each tick every
  page GETs it over HTTP (one request in flight per page, a tick meanwhile queues one more,
  as console.js and hx-sync do).

Also the Redis connections, RSS and CPU of each daphne.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/live_fanout.py \
        [--pages 100,500,1000] [--rates 100,500] [--web 1,2] [--seconds 10] [--table none|push|reread]
        [--layer channels_redis --tick 0]
"""

import argparse
import asyncio
import bisect
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STAMP = re.compile(r'data-tick="([0-9.]+)"')
PREFIX = "bench-fan"


def generate(group, rate, seconds, out):
    """The event source (its own process): the announcer, told of a change `rate` times a second."""
    import django

    django.setup()
    from console.clusters import watcher

    announcer = watcher.Announcer()
    announcer.start()
    events, started = [], time.time()
    while (now := time.time()) - started < seconds:
        announcer.changed_groups({group})
        events.append(now)
        time.sleep(max(0.0, started + len(events) / rate - time.time()))
    time.sleep(announcer.interval + 0.2)
    announcer.stop()
    announcer.join(5)
    Path(out).write_text(json.dumps(events))


def percentile(values, q):
    return values[min(len(values) - 1, int(len(values) * q))]


def redis_and_rss(url):
    import psutil

    port = int(url.rsplit(":", 1)[1])
    pid = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == psutil.CONN_LISTEN)
    process = psutil.Process(pid)
    redis_port = int(os.environ["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    held = sum(1 for c in process.net_connections("tcp") if c.raddr and c.raddr.port == redis_port)
    return held, process.memory_info().rss / 2**20, process.cpu_times()


async def open_pages(urls, cookie, group, pages, table, view):
    from websockets.asyncio.client import connect

    inboxes, sockets, readers = [[] for _ in range(pages)], [], []
    http = None
    if table == "reread":
        import aiohttp

        http = aiohttp.ClientSession(
            headers={"Cookie": cookie, "HX-Request": "true"}, connector=aiohttp.TCPConnector(limit=0)
        )

    async def read(socket, inbox):
        async for message in socket:
            stamp = STAMP.search(message)
            if stamp and (table != "push" or 'hx-swap-oob="innerHTML"' in message):
                inbox.append((float(stamp[1]), time.time()))

    async def read_and_reread(socket, inbox, url):
        """On a tick, GET the table; a tick during the request makes one more after it."""
        latest, wake = [0.0], asyncio.Event()

        async def fetcher():
            while True:
                await wake.wait()
                wake.clear()
                stamp = latest[0]
                async with http.get(url + view) as response:
                    await response.read()
                    if response.status == 200:
                        inbox.append((stamp, time.time()))

        task = asyncio.ensure_future(fetcher())
        try:
            async for message in socket:
                stamp = STAMP.search(message)
                if stamp:
                    latest[0] = float(stamp[1])
                    wake.set()
        finally:
            task.cancel()

    limit = asyncio.Semaphore(50)
    subscribe = {"subscribe": group, **({"view": view, "target": "resource-table"} if table == "push" else {})}

    async def one(i):
        url = urls[i % len(urls)]
        async with limit:
            socket = await connect(
                url.replace("http", "ws") + "/ws/live/",
                origin=url,
                max_queue=None,
                additional_headers={"Cookie": cookie},
                open_timeout=60,
            )
            await socket.send(json.dumps(subscribe))
        sockets.append(socket)
        reader = read_and_reread(socket, inboxes[i], url) if table == "reread" else read(socket, inboxes[i])
        readers.append(asyncio.ensure_future(reader))

    await asyncio.gather(*(one(i) for i in range(pages)))
    return inboxes, sockets, readers, http


async def run_once(urls, cookie, group, pages, rate, seconds, env, table, view):
    from channels.layers import get_channel_layer

    from console.live import realtime

    layer = get_channel_layer()
    inboxes, sockets, readers, http = await open_pages(urls, cookie, group, pages, table, view)
    deadline = time.monotonic() + 60
    while not all(inboxes) and time.monotonic() < deadline:  # every page subscribed
        await layer.group_send(group, realtime.tick_message(group, "0.001"))
        await asyncio.sleep(0.5)
    subscribed = sum(1 for inbox in inboxes if inbox)
    before = [redis_and_rss(url) for url in urls]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        generator = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--generate", group, str(rate), str(seconds), out.name, env=env
        )
        await generator.wait()
        events = json.loads(Path(out.name).read_text())
    await asyncio.sleep(5)  # stragglers
    after = [redis_and_rss(url) for url in urls]
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    if http is not None:
        await http.close()

    sample = events[:: max(1, len(events) // 200)]  # 200 changes x every page
    latencies, missed, ticks = [], 0, 0
    for inbox in inboxes:
        inbox = sorted(t for t in inbox if t[0] > 1)  # not the subscription probes
        ticks += len(inbox)
        stamps = [stamp for stamp, _arrived in inbox]
        for event in sample:
            i = bisect.bisect_left(stamps, event)
            if i < len(inbox):
                latencies.append(inbox[i][1] - event)
            else:
                missed += 1
    latencies.sort()
    busy = [(a[2].user + a[2].system) - (b[2].user + b[2].system) for a, b in zip(after, before, strict=True)]
    return {
        "subscribed": subscribed,
        "events": len(events),
        "ticks per page": round(ticks / pages, 1),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1],
        "missed": missed,
        "redis connections": [a[0] for a in after],
        "rss MiB": [round(a[1]) for a in after],
        "daphne cpu s": [round(b, 1) for b in busy],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", default="100,500,1000")
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--web", default="1,2", help="daphne processes")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--table", default="none", choices=["none", "push", "reread"])
    parser.add_argument("--layer", default="", help="channels_redis: the former channel layer, for comparison")
    parser.add_argument("--tick", default="", help="LIVE_TICK_SECONDS (0: a tick per announcer round, as before)")
    parser.add_argument("--generate", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        group, rate, seconds, out = args.generate
        return generate(group, float(rate), float(seconds), out)

    os.environ.update(
        DJANGO_SETTINGS_MODULE="console.settings",
        CONSOLE_KEY_PREFIX=PREFIX,
        LIVE_CHANNEL_LAYER=args.layer,
        **({"LIVE_TICK_SECONDS": args.tick} if args.tick else {}),
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from console.clusters import mirror
    from tests import live
    from tests.factories import mk_cluster

    user = get_user_model().objects.filter(username="bench-fanout").first() or get_user_model().objects.create_user(
        username="bench-fanout", password=None, platform_role="operator"
    )
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}; django_language=en"
    from console.clusters.models import Cluster

    cluster = Cluster.objects.filter(name="bench-fanout").first() or mk_cluster("bench-fanout")
    group = mirror.namespace_kind_group(cluster.pk, "bench", "Pod")
    pods = [
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": f"api-{i}", "namespace": "bench", "uid": f"u{i}", "labels": {"app": "api"}},
            "status": {"phase": "Running"},
        }
        for i in range(50)
    ]
    mirror.replace_kind(cluster.pk, "Pod", pods, "1")
    view = f"/clusters/{cluster.name}/resources/Pod/?namespace=bench"
    env = live.process_env(connection.settings_dict, PREFIX)
    connection.close()

    print(
        f"layer {django.conf.settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[-1]}, "
        f"tick interval {django.conf.settings.LIVE_TICK_SECONDS} s, {os.cpu_count()} cores, {args.seconds} s per run, "
        f"table: {args.table}"
    )
    for web in [int(w) for w in args.web.split(",")]:
        with ExitStack() as stack:
            urls = [stack.enter_context(live.daphne_server(env, f"fanout-{i}")) for i in range(web)]
            for rate in [int(r) for r in args.rates.split(",")]:
                for pages in [int(p) for p in args.pages.split(",")]:
                    result = asyncio.run(
                        run_once(urls, cookie, group, pages, rate, args.seconds, env, args.table, view)
                    )
                    print(
                        f"web {web} rate {rate}/s pages {pages}: p50 {result['p50']:.3f} s, p95 {result['p95']:.3f} s, "
                        f"p99 {result['p99']:.3f} s, max {result['max']:.2f} s, missed {result['missed']}, "
                        f"ticks/page {result['ticks per page']}, subscribed {result['subscribed']}, "
                        f"redis conns {result['redis connections']}, rss MiB {result['rss MiB']}, "
                        f"daphne cpu s {result['daphne cpu s']}, load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
