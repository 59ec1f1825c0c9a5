"""The app timeline's socket (monitoring/logs/live.py tells the whole story).

/ws/logs/<tenant>/<namespace>/apps/<app>/?since=<store horizon>&from=<microseconds>[&pod=<name>]:
the console sends JSON text frames, the browser sends nothing.
- {"rows": "<html>"}: new lines (templates/logs/_timeline_rows.html), oldest first, each with
  its time (data-ts, microseconds) and key (data-key); the page puts each in place, once;
  "since" comes along: where a reconnecting page asks to go on from.
- {"state": "following" | "stopped" | "error", "message": "..."}: after "stopped" and "error"
  the socket closes (4403: not allowed; 4400: a bad address; 1000: stopped). "following" comes
  again whenever the containers followed live change; when not all are, it names those that are.
- {"note": "..."}: something the reader should know (lines skipped, a pod the cluster refused).
"""

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from console.live.consumers import CLOSE_UNAUTHENTICATED, socket_language

from . import live

log = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400
CLOSE_REFUSED = 4403


class TimelineConsumer(AsyncWebsocketConsumer):
    follow = None
    pump = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.language = socket_language(self.scope)
        await self.accept()  # first, so that a refusal can be shown on the page
        route = self.scope["url_route"]["kwargs"]
        with translation.override(self.language):
            try:
                since, start, pod = live.parse_params(parse_qs(self.scope.get("query_string", b"").decode("latin-1")))
                self.follow = await database_sync_to_async(live.open_follow)(
                    user, route["tenant"], route["namespace"], route["app"], since=since, start=start, pod=pod
                )
            except live.BadRequest as exc:
                await self._send(state="error", message=str(exc))
                await self.close(code=CLOSE_BAD_REQUEST)
                return
            except live.Refused as exc:
                await self._send(state="error", message=str(exc))
                await self.close(code=CLOSE_REFUSED)
                return
        self.pump = asyncio.create_task(self._pump())

    async def disconnect(self, code):
        if self.pump is not None and self.pump is not asyncio.current_task():
            self.pump.cancel()
        if self.follow is not None:
            self.follow.close()

    async def receive(self, text_data=None, bytes_data=None):
        with translation.override(self.language):
            await self._send(note=_("This socket only sends: there is nothing to ask it."))

    async def _pump(self):
        try:
            with translation.override(self.language):
                await self._follow()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the timeline of %s/%s failed", self.follow.project.name, self.follow.app)
            with translation.override(self.language):
                await self._send(state="error", message=_("The timeline stopped; reload the page."))
            await self.close(code=1011)
        finally:
            self.follow.close()

    async def _follow(self):
        follow = self.follow
        refresh, poll = database_sync_to_async(follow.refresh), database_sync_to_async(follow.poll_store)
        next_refresh = 0.0
        budget, last, shown = live.LINES_PER_SECOND, time.monotonic(), None
        while True:
            if follow.closed.is_set():
                await self._send(state="stopped", message=follow.stop_message or _("Stopped."))
                await self.close(code=1000)
                return
            now = time.monotonic()
            budget, last = min(live.LINES_PER_SECOND, budget + live.LINES_PER_SECOND * (now - last)), now
            if now >= next_refresh:
                next_refresh = now + live.REFRESH_SECONDS
                try:
                    await refresh()
                except live.Refused as exc:
                    await self._send(state="error", message=str(exc))
                    await self.close(code=CLOSE_REFUSED)
                    return
                except DatabaseError:  # the database is away for a moment: try again at the next refresh
                    log.warning("the timeline of %s/%s could not look up its pods", follow.project.name, follow.app)
                if (follow.containers, follow.chosen) != shown:
                    shown = (follow.containers, follow.chosen)
                    await self._send(state="following", message=following_message(follow))
            entries, skipped, notes = follow.take_api()
            # The store is asked by the app's poll, once for every socket of this process that
            # follows the same lines: only when it is due does this socket go to the database thread.
            if follow.store_due():
                try:
                    await poll()
                except DatabaseError:  # the next poll goes on from the same horizon
                    log.warning("the timeline of %s/%s could not read the store", follow.project.name, follow.app)
            stored, more = follow.take_store()
            entries += stored
            fresh = follow.admit(entries)
            if len(fresh) > budget:  # the newest go, the oldest are counted
                skipped += len(fresh) - int(budget)
                fresh = fresh[len(fresh) - int(budget) :]
            budget -= len(fresh)
            if fresh:
                await self._send(rows=live.render_rows(fresh), since=follow.since)
            if skipped:
                notes.append(
                    ngettext(
                        "%(count)s line skipped: the app logs faster than the page shows; search for it.",
                        "%(count)s lines skipped: the app logs faster than the page shows; search for them.",
                        skipped,
                    )
                    % {"count": skipped}
                )
            if more:
                notes.append(_("More lines arrived than the page shows at once: search for the rest."))
            for note in notes:
                await self._send(note=note)
            await asyncio.sleep(live.FLUSH_SECONDS)

    async def _send(self, **message):
        await self.send(text_data=json.dumps(message))


def following_message(follow):
    live_count = len(follow.chosen)
    if not live_count:
        if follow.since is None:
            return _("No container of this app runs now: reload the page for new lines.")
        return _("No container of this app runs now: following the lines collectors deliver.")
    if follow.containers > live_count:
        values = {
            "live": live_count,
            "count": follow.containers,
            "names": ", ".join(f"{pod}/{container}" for pod, container in follow.chosen),
        }
        if follow.since is None:
            return (
                _(
                    "Following %(live)s of %(count)s containers live from the cluster: %(names)s. The others' "
                    "lines reach the archive as collectors deliver them: search for them or reload the page."
                )
                % values
            )
        if follow.pod and follow.chosen[0][0] == follow.pod:
            return (
                _(
                    "Following %(live)s of %(count)s containers live from the cluster, the pod you picked and then "
                    "the most recently started: %(names)s. The others' lines come through the archive, as "
                    "collectors deliver them."
                )
                % values
            )
        return (
            _(
                "Following %(live)s of %(count)s containers live from the cluster, the most recently started: "
                "%(names)s. The others' lines come through the archive, as collectors deliver them."
            )
            % values
        )
    if follow.since is None:
        return ngettext(
            "Following %(count)s container live from the cluster.",
            "Following %(count)s containers live from the cluster.",
            live_count,
        ) % {"count": live_count}
    return ngettext(
        "Following %(count)s container live from the cluster, and the lines collectors deliver.",
        "Following %(count)s containers live from the cluster, and the lines collectors deliver.",
        live_count,
    ) % {"count": live_count}
