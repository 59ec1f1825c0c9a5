"""Live views on a real daphne over the Redis fan-out layer: a page's table is pushed after
each tick, rendered once per process for all the sockets that show it, and only to
sockets whose user the view itself lets in."""

import asyncio
import concurrent.futures
import json
import time

import pytest
import redis
from django.conf import settings
from websockets.asyncio.client import connect

from console.clusters import mirror
from console.live import fanout, realtime

from ..factories import mk_cluster, mk_member, mk_project, mk_tenant, mk_user
from .test_worker_and_websocket import session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def pod(name, namespace="shop"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "uid": name}}


def live_counts():
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    client = redis.Redis.from_url(config["url"])
    try:
        return [json.loads(raw) for raw in client.hgetall(fanout.stats_key(config["prefix"])).values()]
    finally:
        client.close()


def run(coroutine):
    # A thread of its own: a session's browser tests may have left Playwright's loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def follow(url, cookie, group, view, target="resource-table"):
    socket = await connect(
        url.replace("http", "ws") + "/ws/live/", origin=url, additional_headers={"Cookie": cookie}, open_timeout=30
    )
    await socket.send(json.dumps({"subscribe": group, "view": view, "target": target}))
    return socket


async def next_message(socket, contains, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic()))
        if contains in message:
            return message


def test_a_tick_pushes_the_table_rendered_once_for_every_page_showing_it(live_console):
    cluster = mk_cluster()
    mirror.replace_kind(cluster.pk, "Pod", [pod("api-1")], "1")
    operator, auditor = mk_user("op-views", "operator", password=None), mk_user("aud-views", "auditor", password=None)
    group = mirror.namespace_kind_group(cluster.pk, "shop", "Pod")
    view = f"/clusters/{cluster.name}/resources/Pod/?namespace=shop"

    cookies = [session_cookie(user) for user in [operator] * 3 + [auditor]]

    def shared():
        return sum(stats.get("renders shared", 0) for stats in live_counts())

    shared_before = shared()

    def change():
        mirror.apply_events(cluster.pk, "Pod", [("ADDED", pod("api-2"))])
        realtime.send_message(group, realtime.tick_message(group))

    async def scenario():
        sockets = [await follow(live_console, cookie, group, view) for cookie in cookies]
        snapshots = [await next_message(s, 'id="resource-table"') for s in sockets]
        await asyncio.to_thread(change)
        pushed = [await next_message(s, "api-2") for s in sockets]
        for socket in sockets:
            await socket.close()
        return snapshots, pushed

    snapshots, pushed = run(scenario())
    for snapshot in snapshots:
        assert 'hx-swap-oob="innerHTML"' in snapshot and "api-1" in snapshot and "api-2" not in snapshot
    for message in pushed:
        assert 'id="resource-table" hx-swap-oob="innerHTML"' in message and "api-1" in message
        assert "mirror-tick" in message  # the tick itself still comes, for the page's other live parts
        assert "csrfmiddlewaretoken" not in message  # shared between users: nothing of one user's
    # The same HTML went to the four pages: one render, shared.
    tables = {message[message.index('<div id="resource-table"') :] for message in pushed}
    assert len(tables) == 1
    # One render for the four pages: three pushes were served from it (the daphne's counts,
    # as `manage.py live_stats` reads them; written every few seconds).
    deadline = time.monotonic() + fanout.STATS_SECONDS + 10
    while shared() < shared_before + 3:
        assert time.monotonic() < deadline, live_counts()
        time.sleep(0.5)


def test_a_view_is_followed_only_where_the_view_lets_the_user_in(live_console):
    cluster = mk_cluster()
    mirror.replace_kind(cluster.pk, "Pod", [pod("secret-pod", "acme-shop")], "1")
    tenant = mk_tenant("acme", clusters=[cluster])
    member = mk_member(tenant, "acme-admin", role="tenant-admin")
    assert mk_project(tenant, cluster, "shop").name == "acme-shop"
    operator = mk_user("op-views2", "operator", password=None)
    group = mirror.namespace_kind_group(cluster.pk, "acme-shop", "Pod")
    table = f"/clusters/{cluster.name}/resources/Pod/?namespace=acme-shop"

    cookies = {user: session_cookie(user) for user in (member, operator)}

    async def answer(user, message):
        socket = await connect(
            live_console.replace("http", "ws") + "/ws/live/",
            origin=live_console,
            additional_headers={"Cookie": cookies[user]},
            open_timeout=30,
        )
        await socket.send(json.dumps(message))
        reply = await next_message(socket, "hx-swap-oob")
        await socket.close()
        return reply

    async def scenario():
        return {
            # The tenant's admin may follow the namespace's group, but the cluster's resource
            # pages are for operators and auditors: the view refuses, so the follow is refused.
            "member": await answer(member, {"subscribe": group, "view": table, "target": "t"}),
            # Only views marked live may be followed (this one has forms of its own user).
            "unmarked": await answer(operator, {"subscribe": group, "view": "/account/password/", "target": "t"}),
            "elsewhere": await answer(operator, {"subscribe": group, "view": "//evil.example/x", "target": "t"}),
            "bad target": await answer(operator, {"subscribe": group, "view": table, "target": "x y<"}),
            "allowed": await answer(operator, {"subscribe": group, "view": table, "target": "t"}),
        }

    replies = run(scenario())
    assert "live-error" in replies["member"] and "secret-pod" not in replies["member"]
    assert "You may not follow this page." in replies["member"]  # the group was allowed, the view refused
    assert "cannot be followed live" in replies["unmarked"] or "no such page" in replies["unmarked"]
    assert "path of this console" in replies["elsewhere"]
    assert "element id" in replies["bad target"]
    assert '<div id="t" hx-swap-oob="innerHTML">' in replies["allowed"] and "secret-pod" in replies["allowed"]
