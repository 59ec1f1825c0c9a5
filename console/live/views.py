"""Live views: a page's live part rendered on the server after each tick and pushed down
its socket, rendered once for every page that shows the same thing.

Without them a tick makes every open page re-read its table over HTTP: with 1,000 pages
on a busy namespace that is 2,000 requests a second, each through the session, the
middleware and the whole view. Here the page's socket asks to follow a view as well as
its group:

    {"subscribe": "nskind-3.shop.Pod", "view": "/clusters/c1/resources/Pod/?namespace=shop",
     "target": "resource-table"}

The view is rendered at once as the socket's own user, through the whole middleware
stack exactly as the browser's re-read would be (a refusal there refuses the follow),
and sent as the target's new content. On each tick of the group, each web process
renders each followed view once per language — once per user for views whose output
depends on who reads them — and gives the same HTML to all its sockets showing it.

Only views marked with @live_view may be followed, and `shared=True` is a promise that
the view's HTML is the same for everybody it lets in: no forms (CSRF tokens), no
per-user buttons. Other views are rendered for each browser (its session and CSRF
cookie): their forms carry a CSRF token that only that browser's cookie makes valid.

A view's htmx partial may carry, beside the target's new content, top-level elements
marked hx-swap-oob (a status badge, the action buttons): the ws extension swaps only the
top-level elements of a message, so those stay at top level and only the rest goes into
the target's wrapper (`wrap`).
"""

import asyncio
import collections
import functools
import hashlib
import io
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIRequest
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from console.live.fanout import COUNTS

log = logging.getLogger(__name__)

TARGET = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,60}$")
MAX_PATH = 1000


def live_view(view=None, *, shared=False):
    """Mark a view whose htmx partial may be followed live; see the module's docstring for `shared`."""

    def mark(function):
        function.live_view = "shared" if shared else "per-user"
        return function

    return mark(view) if view is not None else mark


class Refused(ValueError):
    """The socket may not follow this view; the message says why."""


@dataclass(frozen=True)
class Followed:
    """One socket's view: where it goes on the page, and the key its render is shared under."""

    target: str
    path: str
    key: tuple


def wrap(target, html):
    """The fragment as the new content of the page's element `target` (an htmx oob swap).
    Its own top-level oob elements stay beside the wrapper, where htmx swaps them."""
    oob, rest = split_oob(html)
    return f'<div id="{target}" hx-swap-oob="innerHTML">{rest}</div>' + "".join(oob)


# Elements without content or end tag (HTML's void elements).
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
OOB_ATTRIBUTES = ("hx-swap-oob", "data-hx-swap-oob")
OOB_MENTIONED = re.compile("hx-swap-oob", re.IGNORECASE)


class _TopLevel(HTMLParser):
    """Where each top-level element of a fragment starts and ends, as offsets into its text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=False)
        self.text = text
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self.stack = []  # open elements' names
        self.opened = None  # (start offset, is oob) of the open top-level element
        self.elements = []  # (start, end, is oob) of each closed top-level element

    def position(self):
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if not self.stack:
            self.opened = (self.position(), any(name in OOB_ATTRIBUTES for name, _value in attrs))
            if tag in VOID:  # complete already
                self._close_top(self.opened[0] + len(self.get_starttag_text()))
                return
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):  # <x ... />: no content either way
        if not self.stack:
            self.opened = (self.position(), any(name in OOB_ATTRIBUTES for name, _value in attrs))
            self._close_top(self.opened[0] + len(self.get_starttag_text()))

    def handle_endtag(self, tag):
        if tag not in self.stack:  # a stray end tag: browsers ignore it
            return
        while self.stack.pop() != tag:  # elements left open inside (<p>, <li>) end with their parent
            pass
        if not self.stack and self.opened is not None:
            self._close_top(self.text.find(">", self.position()) + 1 or len(self.text))

    def _close_top(self, end):
        start, oob = self.opened
        self.elements.append((start, end, oob))
        self.opened = None


@functools.lru_cache(maxsize=32)  # a shared render is wrapped for each of its sockets: parsed once
def split_oob(html):
    """((top-level elements marked hx-swap-oob), the rest of the fragment), each as its
    exact text. An element left unclosed stays in the rest."""
    if not OOB_MENTIONED.search(html):
        return (), html
    parser = _TopLevel(html)
    parser.feed(html)
    parser.close()
    oob = [(start, end) for start, end, is_oob in parser.elements if is_oob]
    if not oob:
        return (), html
    rest, position = [], 0
    for start, end in oob:
        rest.append(html[position:start])
        position = end
    rest.append(html[position:])
    return tuple(html[start:end] for start, end in oob), "".join(rest)


def check(path, target):
    """The path and target a socket asked for, or Refused. Returns how the view is shared."""
    if not isinstance(path, str) or not isinstance(target, str) or not TARGET.match(target):
        raise Refused(_("A live view needs a path and an element id."))
    parts = urlsplit(path)
    if len(path) > MAX_PATH or not path.startswith("/") or parts.netloc or parts.scheme:
        raise Refused(_("A live view is a path of this console."))
    try:
        match = resolve(parts.path)
    except Resolver404:
        raise Refused(_("There is no such page to follow.")) from None
    sharing = getattr(match.func, "live_view", None)
    if sharing is None:
        raise Refused(_("This page cannot be followed live."))
    return sharing


def follow(scope, language, path, target):
    """Check and render the view as the socket's user (run in a thread): (Followed, html)."""
    sharing = check(path, target)
    status, html = render(scope, path)
    if status != 200:
        raise Refused(_("You may not follow this page."))
    return Followed(target, path, (path, language, reader(scope, sharing))), html


def reader(scope, sharing):
    """Who a render of the view is for: everybody, or one browser (its user, session and CSRF
    cookie: forms rendered for one browser carry a token that another browser's cookie
    refuses, even the same user's)."""
    if sharing == "shared":
        return "shared"
    cookies = scope.get("cookies") or {}
    browser = "\0".join(cookies.get(name, "") for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME))
    return f"user-{scope['user'].pk}-{hashlib.sha256(browser.encode()).hexdigest()[:16]}"


# --- rendering: the internal request

_handler = None


def _get_handler():
    global _handler
    if _handler is None:
        handler = BaseHandler()
        handler.load_middleware(is_async=False)
        _handler = handler
    return _handler


def render(scope, path):
    """GET `path` as htmx would from the socket's page: its cookies (so its session, user and
    language), host and address, through the whole middleware stack. (status, html)."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    host, _sep, port = (headers.get("host") or "localhost").partition(":")
    parts = urlsplit(path)
    client = scope.get("client") or ("127.0.0.1", 0)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "SERVER_NAME": host,
        "SERVER_PORT": port or ("443" if scope.get("scheme") == "wss" else "80"),
        "REMOTE_ADDR": client[0],
        "HTTP_HOST": headers.get("host", "localhost"),
        "HTTP_COOKIE": headers.get("cookie", ""),
        "HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", ""),
        "HTTP_USER_AGENT": headers.get("user-agent", ""),
        "HTTP_HX_REQUEST": "true",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "https" if scope.get("scheme") == "wss" else "http",
    }
    for forwarded in ("x-forwarded-for", "x-forwarded-proto"):
        if forwarded in headers:
            environ["HTTP_" + forwarded.upper().replace("-", "_")] = headers[forwarded]
    response = _get_handler().get_response(WSGIRequest(environ))
    COUNTS["view renders"] += 1
    if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
        return response.status_code, ""
    return 200, response.content.decode(response.charset or "utf-8")


# --- sharing one render between the sockets of a process


class Renders:
    """One render per key and tick, whichever number of sockets show it; at most one render
    running and one waiting per key: a tick that comes while its key renders joins the
    waiting one (which reads the database after that tick, so it is fresh for both). The
    latest render of each followed key is kept until nobody follows it. Lives on one event
    loop (daphne's)."""

    def __init__(self):
        self.latest = {}  # key -> Render
        self.followers = collections.Counter()

    def hold(self, key):
        self.followers[key] += 1

    def release(self, key):
        self.followers[key] -= 1
        if self.followers[key] <= 0:
            del self.followers[key]
            self.latest.pop(key, None)

    async def get(self, key, stamp, render_as):
        """The HTML of `key` as of `stamp` or later; render_as() renders it (in a thread)."""
        entry = self.latest.get(key)
        if entry is not None and (entry.stamp >= stamp or not entry.started):
            entry.stamp = max(entry.stamp, stamp)
            COUNTS["renders shared"] += 1
            return await asyncio.shield(entry.future)
        entry = Render(stamp)
        entry.future = asyncio.ensure_future(entry.run(self.latest.get(key), render_as))
        if key in self.followers:
            self.latest[key] = entry
        return await asyncio.shield(entry.future)


class Render:
    __slots__ = ("stamp", "started", "future")

    def __init__(self, stamp):
        self.stamp, self.started, self.future = stamp, False, None

    async def run(self, previous, render_as):
        if previous is not None:
            await asyncio.wait([previous.future])
        self.started = True
        return await render_as()


RENDERS = Renders()
