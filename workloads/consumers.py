"""The web terminal's socket (workloads/terminal.py tells the whole story).

Browser to console: binary frames are keystrokes (at most MAX_INPUT_BYTES each); text frames
are JSON {"resize": {"cols": N, "rows": M}}. Console to browser: binary frames are the
terminal's output; text frames are JSON {"state": "open" | "ended" | "error", "message",
"exit_code"}. Bad text gets an {"error": ...} answer and changes nothing."""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext as _

from console import documents
from console.live.consumers import CLOSE_UNAUTHENTICATED, socket_language
from console.oplog import oplog

from . import terminal

CLOSE_REFUSED = 4403
CLOSE_TOO_BIG = 1009
MAX_TEXT_BYTES = 1024


class TerminalConsumer(AsyncWebsocketConsumer):
    bridge = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.language = socket_language(self.scope)
        await self.accept()  # first, so that a refusal can be shown in the terminal
        token = self.scope["url_route"]["kwargs"].get("token", "")
        try:
            with translation.override(self.language):
                session = await database_sync_to_async(terminal.claim)(user, token, self._request_info())
        except terminal.Refused as exc:
            await self._state("error", str(exc))
            await self.close(code=CLOSE_REFUSED)
            return
        loop = asyncio.get_running_loop()
        self.bridge = terminal.Bridge(session, terminal.deliver_on(loop, self._output), self._finisher(loop))
        self.bridge.start()
        await self._state("open", "")

    async def disconnect(self, code):
        if self.bridge is not None:
            self.bridge.stop(terminal.CLOSED)

    async def receive(self, text_data=None, bytes_data=None):
        if self.bridge is None:
            return
        with translation.override(self.language):
            if bytes_data is not None:
                if len(bytes_data) > terminal.MAX_INPUT_BYTES or not self.bridge.send_input(bytes_data):
                    self.bridge.stop(terminal.FLOODED)
                    await self.close(code=CLOSE_TOO_BIG)
                return
            size = self._size(text_data or "")
            if size is None:
                await self.send(
                    text_data=json.dumps(
                        {"error": _('Expected keystrokes (binary) or {"resize": {"cols": N, "rows": M}}.')}
                    )
                )
            elif not self.bridge.resize(*size):
                self.bridge.stop(terminal.FLOODED)
                await self.close(code=CLOSE_TOO_BIG)

    def _size(self, text):
        if len(text) > MAX_TEXT_BYTES:
            return None
        try:
            message = documents.load_json(text, max_bytes=MAX_TEXT_BYTES, max_depth=4)
        except (ValueError, TypeError):
            return None
        size = message.get("resize") if isinstance(message, dict) else None
        cols, rows = (size.get("cols"), size.get("rows")) if isinstance(size, dict) else (None, None)
        valid = all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= terminal.MAX_SIZE for n in (cols, rows)
        )
        return (cols, rows) if valid else None

    async def _output(self, data):
        await self.send(bytes_data=data)

    def _finisher(self, loop):
        async def finish(state, message, exit_code):
            await self._state(state, message, exit_code)
            await self.close(code=1000)

        def from_thread(state, message, exit_code):
            if not loop.is_closed():  # else the socket is long gone
                asyncio.run_coroutine_threadsafe(finish(state, message, exit_code), loop).result(timeout=10)

        return from_thread

    async def _state(self, state, message, exit_code=None):
        await self.send(text_data=json.dumps({"state": state, "message": message, "exit_code": exit_code}))

    def _request_info(self):
        headers = dict(self.scope.get("headers") or [])
        client = self.scope.get("client") or [None]
        return oplog.RequestInfo(
            request_id=f"ws-{id(self):x}",
            source_ip=client[0],
            user_agent=headers.get(b"user-agent", b"").decode(errors="replace")[:512],
        )
