"""The production channel layer: live pushes fan out inside each web process.

channels_redis's core layer turns a group_send into one Redis entry per socket, which
each socket then pops on its own: with N pages on a group, every tick cost N Redis
operations in the sender and N in the web processes, a channel full at 100 dropped
ticks with only an INFO line, and joining groups opened Redis connections per socket.

Here the sockets (channels) and group members live in the process. Groups are shared
between processes through Redis pub/sub: a process subscribes once to each group it has
members of, and a group_send is one PUBLISH whatever the number of pages; the process
that receives it puts the message in each local member's mailbox. So Redis traffic
grows with groups and processes, not with sockets.

All of a process's Redis work runs on one thread with its own event loop, whichever loop
the caller is on (daphne's, a Celery task's async_to_sync, the watcher's announcer):
one pub/sub connection plus a small publishing pool, `max_connections` in all.

A mailbox holds at most `capacity` messages: when a slow socket's is full the oldest
goes, counted, so the newest (the last tick of a burst) always arrives. Counts are kept
per process, logged at most once a minute when something was dropped, and written to
Redis for `manage.py live_stats`.
"""

import asyncio
import collections
import json
import logging
import os
import socket
import threading
import time
import uuid

import redis.asyncio as aioredis
from channels.layers import BaseChannelLayer

log = logging.getLogger(__name__)

# This process's counts: published (group sends), delivered (messages put in mailboxes),
# dropped (the oldest of a full mailbox), merged (ticks the announcer folded together).
COUNTS = collections.Counter()
STATS_SECONDS = 10
WARN_SECONDS = 60
STATS_KEY = "{prefix}:live-stats"


def stats_key(prefix):
    return STATS_KEY.format(prefix=prefix)


class Mailbox:
    __slots__ = ("messages", "waiter")

    def __init__(self):
        self.messages = collections.deque()
        self.waiter = None  # a future on the receiving loop, while it waits


class FanoutChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(self, url="redis://127.0.0.1:6379/0", prefix="asgi", capacity=100, max_connections=4, **kwargs):
        super().__init__(capacity=capacity, **kwargs)
        if max_connections < 2:
            raise ValueError("max_connections must be at least 2: one subscribes, one publishes")
        self.url, self.prefix, self.max_connections = url, prefix, max_connections
        self.lock = threading.Lock()  # mailboxes and groups: the Redis thread delivers, consumer loops receive
        self.mailboxes = {}
        self.groups = {}  # group -> set of local channel names
        self._pid = None
        self._loop = None

    # --- the channel layer API

    async def new_channel(self, prefix="specific."):
        name = f"{prefix}{uuid.uuid4().hex}"
        with self.lock:
            self.mailboxes[name] = Mailbox()
        return name

    async def send(self, channel, message):
        """Channels are local to the process (nothing sends to another process's socket)."""
        assert isinstance(message, dict), "message is not a dict"
        with self.lock:
            self._deliver([channel], message)

    async def receive(self, channel):
        loop = asyncio.get_running_loop()
        while True:
            with self.lock:
                box = self.mailboxes.setdefault(channel, Mailbox())
                if box.messages:
                    return box.messages.popleft()
                box.waiter = waiter = loop.create_future()
            try:
                await waiter
            except asyncio.CancelledError:
                # Channels cancels the receive when the consumer ends: forget its mailbox
                # (its groups are left by the consumer's group_discard).
                with self.lock:
                    if self.mailboxes.get(channel) is box:
                        del self.mailboxes[channel]
                raise
            finally:
                box.waiter = None

    async def group_add(self, group, channel):
        assert self.require_valid_group_name(group), "invalid group name"
        with self.lock:
            self.groups.setdefault(group, set()).add(channel)
        # Returns once SUBSCRIBE is sent (ordered before any later PUBLISH on the server); a
        # tick published just before is covered by the snapshot the consumer sends next.
        await self._on_redis_loop(self._sync_subscriptions())

    async def group_discard(self, group, channel):
        with self.lock:
            members = self.groups.get(group)
            if members is None or channel not in members:
                return
            members.discard(channel)
            emptied = not members
            if emptied:
                del self.groups[group]
        if emptied:
            await self._on_redis_loop(self._sync_subscriptions())

    async def group_send(self, group, message):
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_group_name(group), "invalid group name"
        await self._on_redis_loop(self._publish(group, json.dumps(message)))

    async def flush(self):
        with self.lock:
            self.mailboxes.clear()
            self.groups.clear()
        if self._loop is not None:
            await self._on_redis_loop(self._sync_subscriptions())

    # --- delivery (under self.lock)

    def _deliver(self, channels, message):
        """Put one message in local mailboxes (the same dict for all: consumers only read it)
        and wake their receivers, one call per event loop."""
        wake = {}
        for name in channels:
            box = self.mailboxes.get(name)
            if box is None:
                continue
            if len(box.messages) >= self.capacity:
                box.messages.popleft()
                COUNTS["dropped"] += 1
            box.messages.append(message)
            COUNTS["delivered"] += 1
            if box.waiter is not None and not box.waiter.done():
                wake.setdefault(box.waiter.get_loop(), []).append(box.waiter)
        for loop, waiters in wake.items():
            if loop is _running_loop():
                _wake(waiters)
            else:
                try:
                    loop.call_soon_threadsafe(_wake, waiters)
                except RuntimeError:  # that loop is closed (a finished async_to_sync): nobody waits there
                    pass

    # --- the Redis thread

    def _channel(self, group):
        return f"{self.prefix}:group:{group}"

    async def _on_redis_loop(self, coroutine):
        loop = self._redis_loop()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))

    def _redis_loop(self):
        with self.lock:
            if self._loop is None or self._pid != os.getpid():  # first use, or a forked child
                self._start()
            return self._loop

    def _start(self):
        self._pid = os.getpid()
        self._loop = loop = asyncio.new_event_loop()
        # BlockingConnectionPool: a burst waits for a connection rather than failing with
        # MaxConnectionsError or opening more; the pub/sub connection is one of them.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=10,
            socket_connect_timeout=5,
            socket_timeout=30,
            health_check_interval=30,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._subscribed = set()
        self._subscriptions_lock = None
        threading.Thread(target=loop.run_forever, name="live-fanout", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._listen(), loop)
        asyncio.run_coroutine_threadsafe(self._report(), loop)

    async def _publish(self, group, data):
        await self._redis.publish(self._channel(group), data)
        COUNTS["published"] += 1

    async def _sync_subscriptions(self):
        """Subscribe to the groups that have local members, unsubscribe from the others.
        Serialised, and computed from the current membership, so that joins and leaves
        racing each other end in the right state."""
        if self._subscriptions_lock is None:
            self._subscriptions_lock = asyncio.Lock()
        async with self._subscriptions_lock:
            with self.lock:
                wanted = set(self.groups)
            joined, left = wanted - self._subscribed, self._subscribed - wanted
            if joined:
                await self._pubsub.subscribe(*[self._channel(g) for g in joined])
            if left:
                await self._pubsub.unsubscribe(*[self._channel(g) for g in left])
            self._subscribed = wanted

    async def _listen(self):
        skip = len(self._channel(""))
        backoff = 0.5
        lost = False
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.1)
                    continue
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                backoff = 0.5
                if lost:
                    lost = False
                    await self._after_outage()
                if message is None or message["type"] != "message":
                    continue
                payload = json.loads(message["data"])
                group = message["channel"][skip:].decode()
                with self.lock:
                    self._deliver(list(self.groups.get(group, ())), payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: redis-py reconnects and subscribes again on the next read
                lost = True
                log.warning(
                    "live fan-out: %s; retrying in %.1fs (pushes meanwhile are lost, pages resync on the next tick)",
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)

    async def _after_outage(self):
        """Redis is back: subscribe to every wanted group afresh, and tell the local sockets,
        which send their pages a snapshot of what they may have missed."""
        self._subscribed = set()
        await self._sync_subscriptions()
        with self.lock:
            channels = {channel for members in self.groups.values() for channel in members}
        self._deliver(channels, {"type": "live.lost"})

    async def _report(self):
        """Write this process's counts to Redis every few seconds; warn about drops at most once a minute."""
        process = f"{socket.gethostname()}:{os.getpid()}"
        warned_at, warned_dropped = time.monotonic(), 0
        while True:
            await asyncio.sleep(STATS_SECONDS)
            now = time.monotonic()
            dropped = COUNTS["dropped"]
            if dropped > warned_dropped and now - warned_at >= WARN_SECONDS:
                log.warning(
                    "live delivery: %d messages dropped from full socket mailboxes since the last warning "
                    "(%s in all; the newest always kept)",
                    dropped - warned_dropped,
                    dict(COUNTS),
                )
                warned_at, warned_dropped = now, dropped
            with self.lock:
                stats = dict(COUNTS, groups=len(self.groups), sockets=len(self.mailboxes), at=time.time())
            try:
                key = stats_key(self.prefix)
                await self._redis.hset(key, process, json.dumps(stats))
                await self._redis.expire(key, 24 * 3600)
            except Exception as exc:  # the listener reports the outage
                log.debug("live stats not written: %s", exc)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _wake(waiters):
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
