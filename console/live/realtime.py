"""Server pushes: rendered HTML fragments sent to Channels groups after commit.

Groups are named `<resource>-<id>` (`user-7`, later `cluster-3`). Every group prefix has
an authoriser; a websocket may join a group only when it says yes. Feature apps
register theirs with `register_group`.
"""

import asyncio
import logging
import re
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

log = logging.getLogger(__name__)

GROUP_PATTERN = re.compile(r"^(?P<prefix>[a-z][a-z0-9]*)-(?P<ident>[A-Za-z0-9._-]{1,90})$")
_authorisers = {}
_snapshots = {}
# In the embedded mode the in-memory channel layer lives on daphne's event loop; pushes
# from worker threads must hop onto that loop (its queues are not thread-safe).
_home_loop = None


def register_group(prefix, authorise, snapshot=None):
    """authorise(user, ident) -> bool decides who may subscribe to `<prefix>-<ident>`.
    snapshot(user, ident) -> HTML, when given, is sent right after a subscription: what
    changed between rendering the page and subscribing is not lost."""
    _authorisers[prefix] = authorise
    if snapshot is not None:
        _snapshots[prefix] = snapshot


_socket_routes = []


def register_socket(route, consumer):
    """A websocket endpoint of a feature app (its own protocol, not group pushes): a URL
    pattern as in urls.py and a Channels consumer class."""
    from django.urls import path

    _socket_routes.append(path(route, consumer.as_asgi()))


def socket_routes():
    return list(_socket_routes)


def snapshot(user, group):
    match = GROUP_PATTERN.match(group)
    render = _snapshots.get(match["prefix"]) if match else None
    return render(user, match["ident"]) if render else ""


def set_home_loop(loop):
    global _home_loop
    _home_loop = loop


def user_group(user_id):
    return f"user-{user_id}"


def may_subscribe(user, group):
    match = GROUP_PATTERN.match(group or "")
    if not match or not user.is_authenticated:
        return False
    authorise = _authorisers.get(match["prefix"])
    return bool(authorise and authorise(user, match["ident"]))


register_group("user", lambda user, ident: ident == str(user.pk))


def render_for(user, template_name, context):
    """Render a fragment in the user's own language (pushes are rendered outside requests)."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        return render_to_string(template_name, context)


def push_html(group, html):
    """Send a fragment to every socket in the group once the current transaction commits."""
    transaction.on_commit(lambda: send_now(group, html))


def push_in_each_language(group, template_name, context):
    """Send a fragment to a group whose members may read different languages: rendered in
    each of LANGUAGES, every socket passes on the one its page speaks (LiveConsumer.push_html)."""
    versions = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            versions[code] = render_to_string(template_name, context)
    html = versions.get(settings.LANGUAGE_CODE) or next(iter(versions.values()))
    transaction.on_commit(lambda: send_now(group, html, versions))


def tick_id(group):
    """A DOM id for a group's tick element (no dots: htmx finds oob targets by CSS selector)."""
    return "tick-" + re.sub(r"[^A-Za-z0-9_-]", "-", group)


def tick_message(group, stamp=None):
    """ "Something in this group changed": a hidden span the page swaps in (console.js then
    re-reads its live-refresh parts), carrying its group and send time, so the sockets that
    follow a live view of the group push that view fresh (console.live.views)."""
    stamp = f"{time.time():.3f}" if stamp is None else stamp
    html = f'<span id="{tick_id(group)}" class="mirror-tick" hx-swap-oob="true" data-tick="{stamp}"></span>'
    return {"type": "push.html", "html": html, "group": group, "tick": float(stamp)}


def push_tick(group):
    """A tick once the current transaction commits."""
    transaction.on_commit(lambda: send_message(group, tick_message(group)))


def send_now(group, html, languages=None):
    """languages: the same fragment in other languages, {language code: html}."""
    send_message(group, {"type": "push.html", "html": html, **({"languages": languages} if languages else {})})


def push_html_many(pushes):
    """`push_html` for many (group, html) at once: sent together once the transaction commits,
    in one run of an event loop (each send alone costs a loop and a round trip to Redis)."""
    messages = [(group, {"type": "push.html", "html": html}) for group, html in pushes]
    if messages:
        transaction.on_commit(lambda: send_messages(messages))


def send_messages(messages):
    layer = get_channel_layer()

    async def send_all():
        sent = await asyncio.gather(*(layer.group_send(g, m) for g, m in messages), return_exceptions=True)
        for (group, _message), result in zip(messages, sent, strict=True):
            if isinstance(result, Exception):  # best effort, as send_message
                log.error("push to %s failed: %s", group, result)

    try:
        if _home_loop is not None and _home_loop.is_running() and not _on_loop(_home_loop):
            asyncio.run_coroutine_threadsafe(send_all(), _home_loop).result(timeout=5 + len(messages) / 100)
        else:
            async_to_sync(send_all)()
    except Exception:
        log.exception("pushes to %s groups failed", len(messages))


def send_message(group, message):
    layer = get_channel_layer()
    try:
        if _home_loop is not None and _home_loop.is_running() and not _on_loop(_home_loop):
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _home_loop).result(timeout=5)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a push is best effort: the page shows the truth on next load
        log.exception("push to %s failed", group)


def _on_loop(loop):
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
