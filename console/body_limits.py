"""Request bodies capped while they arrive, for the views that take large machine bodies.

Under ASGI, Django reads a request's whole body into a spooled temporary file before any
view runs, so a view that refuses a body over its limit (a log collector's chunked batch,
no Content-Length) refuses it only after the whole of it was stored. `BodyLimit` sits in
front of Django and counts the body as the server hands it over: past the view's limit it
ends the body for Django there (the limit plus one byte, so the view's own length check
refuses it at once with its clear message and its counters) and never reads the rest.
Only views marked with `body_limit(...)` are capped; others keep Django's behaviour.

What this cannot change: the HTTP server below. daphne (Twisted) receives a request's whole
body into its own temporary file before it calls the application; a proxy in front (nginx
`client_max_body_size`) bounds that layer.
"""

import asyncio

from django.urls import Resolver404, resolve


def body_limit(get_limit):
    """Mark a view whose request body is capped at `get_limit()` bytes while it is received.
    The view still checks the length it reads: the cap only ends the body early (one byte
    over the limit) and does not apply where no ASGI server runs (the test client, WSGI)."""

    def mark(view):
        view.body_limit = get_limit
        return view

    return mark


def limit_for(scope):
    """The byte limit of the view the request goes to, or None."""
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    try:
        match = resolve(path or "/")
    except Resolver404:
        return None
    get_limit = getattr(match.func, "body_limit", None)
    return get_limit() if get_limit else None


class BodyLimit:
    """ASGI middleware: a capped view's body ends for Django one byte past its limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope)
        if limit is None:
            return await self.app(scope, receive, send)
        received = 0
        ended = False

        async def capped_receive():
            nonlocal received, ended
            if ended:
                # Past the cap the rest is never read: Django asks again only to watch for a
                # disconnect while the view runs, and stops asking (cancels) once it answered.
                await asyncio.Event().wait()
            message = await receive()
            if message["type"] != "http.request":
                return message  # http.disconnect
            body = message.get("body", b"")
            received += len(body)
            if received <= limit:
                return message
            ended = True
            keep = len(body) - (received - (limit + 1))
            return {"type": "http.request", "body": body[:keep], "more_body": False}

        return await self.app(scope, capped_receive, send)
