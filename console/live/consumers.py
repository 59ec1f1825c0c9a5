import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from console import documents
from console.live import realtime
from console.live import views as live_views

MAX_MESSAGE_BYTES = 4096
CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncWebsocketConsumer):
    """One socket per open page. It always joins the user's own group; pages ask for
    more groups with {"subscribe": "<group>"} and each request is authorised."""

    async def connect(self):
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = set()
        self.views = {}  # group -> {target: live_views.Followed}
        self.language = socket_language(self.scope)
        await self.accept()
        await self._join(realtime.user_group(self.user.pk))

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
        for followed in getattr(self, "views", {}).values():
            for view in followed.values():
                live_views.RENDERS.release(view.key)

    async def receive(self, text_data=None, bytes_data=None):
        with translation.override(self.language):
            await self._handle(text_data, bytes_data)

    async def _handle(self, text_data, bytes_data):
        try:
            if bytes_data is not None or len(text_data or "") > MAX_MESSAGE_BYTES:
                raise ValueError(_("Messages must be JSON text of at most 4 KB."))
            message = documents.load_json(text_data or "", max_bytes=MAX_MESSAGE_BYTES, max_depth=8)
            if not isinstance(message, dict):
                raise ValueError(_("Messages must be JSON objects."))
            group = message.get("subscribe")
            if not isinstance(group, str):
                raise ValueError(_('Unknown message: expected {"subscribe": "<group>"}.'))
        except (ValueError, TypeError) as exc:
            await self._error(
                _("Messages must be valid JSON.") if isinstance(exc, documents.DocumentError) else str(exc)
            )
            return
        allowed = await database_sync_to_async(realtime.may_subscribe)(self.user, group)
        if not allowed:
            await self._error(_("You may not follow %(group)s.") % {"group": group[:100]})
            return
        if "view" in message:
            already = self._following(message.get("view"), message.get("target"))
            if already is not None:  # the same view on more groups (the app page's): rendered once
                self._follow(group, already)
                await self._join(group)
                return
            try:
                view, html = await database_sync_to_async(live_views.follow)(
                    self.scope, self.language, message.get("view"), message.get("target")
                )
            except live_views.Refused as exc:
                await self._error(str(exc))
                return
            self._follow(group, view)
            await self._join(group)
            await self.send(text_data=live_views.wrap(view.target, html))
            return
        await self._join(group)
        current = await database_sync_to_async(realtime.snapshot)(self.user, group)
        if current:
            await self.send(text_data=current)

    def _following(self, path, target):
        """The view this socket already follows at `target` from `path` (checked and rendered
        for this socket's user then), under any group; else None."""
        for followed in self.views.values():
            view = followed.get(target) if isinstance(target, str) else None
            if view is not None and view.path == path:
                return view
        return None

    def _follow(self, group, view):
        followed = self.views.setdefault(group, {})
        if view.target in followed:  # the page subscribed again (a reconnect): the newest wins
            live_views.RENDERS.release(followed[view.target].key)
        followed[view.target] = view
        live_views.RENDERS.hold(view.key)

    async def live_lost(self, event):
        """The channel layer lost Redis for a while and pushes may be missing: send the page
        a fresh snapshot of each group it follows, and each view it follows rendered afresh."""
        for group in list(getattr(self, "groups_joined", ())):
            current = await database_sync_to_async(realtime.snapshot)(self.user, group)
            if current:
                await self.send(text_data=current)
        views = {}  # target -> view: a view followed on several groups is rendered once
        for followed in getattr(self, "views", {}).values():
            for view in followed.values():
                views.setdefault(view.target, view)
        html = ""
        for view in list(views.values()):
            html += await self._render_view(view, time.time())
        if html:
            await self.send(text_data=html)

    async def push_html(self, event):
        html = event.get("languages", {}).get(self.language) or event["html"]
        followed = self.views.get(event.get("group")) if "tick" in event else None
        for view in list((followed or {}).values()):
            html += await self._render_view(view, event["tick"])
        await self.send(text_data=html)

    async def _render_view(self, view, stamp):
        """The followed view as of this tick, from the render this process shares for its key.
        A shared render made as someone who has since lost access is redone as this socket's
        user; when this user lost access too, the page stops following (and is told)."""
        status, html = await live_views.RENDERS.get(view.key, stamp, self._renderer(view.path))
        if status != 200:
            status, html = await self._renderer(view.path)()
        if status == 200:
            return live_views.wrap(view.target, html)
        for followed in self.views.values():  # under every group that shows it
            if followed.get(view.target) == view:
                del followed[view.target]
                live_views.RENDERS.release(view.key)
        with translation.override(self.language):
            return render_to_string("console/_live_error.html", {"message": _("You may no longer follow this page.")})

    def _renderer(self, path):
        return lambda: database_sync_to_async(live_views.render)(self.scope, path)

    async def _join(self, group):
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def _error(self, message):
        # What the message echoes may hold lone surrogates (JSON "\ud800"): no UTF-8 frame can carry them.
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        await self.send(text_data=render_to_string("console/_live_error.html", {"message": message}))


def socket_language(scope):
    """The language the page was served in, found as LocaleMiddleware finds it: the language
    cookie, else the browser's Accept-Language, else the default."""
    request = HttpRequest()
    request.COOKIES = scope.get("cookies", {})
    headers = dict(scope.get("headers", []))
    request.META["HTTP_ACCEPT_LANGUAGE"] = headers.get(b"accept-language", b"").decode("latin-1")
    return translation.get_language_from_request(request)
