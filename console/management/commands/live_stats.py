"""Live delivery counts of each process (web, worker, watcher), as the processes last wrote
them to Redis (every few seconds): how many pushes were published, delivered to sockets,
dropped from full socket mailboxes, ticks merged at the source, and live views rendered
(once per key and tick) and shared (pushes served from another socket's render)."""

import json
import time

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from console.live import fanout

FIELDS = ["published", "delivered", "dropped", "ticks", "merged", "view renders", "renders shared", "groups", "sockets"]


class Command(BaseCommand):
    help = (
        "Show each process's live delivery counts: "
        "pushes published, delivered, dropped (full socket mailboxes), ticks merged."
    )

    def handle(self, *args, **options):
        config = settings.CHANNEL_LAYERS["default"]
        if not config["BACKEND"].endswith("FanoutChannelLayer"):
            raise CommandError(
                _("Live delivery counts need the fan-out channel layer (production mode, with REDIS_URL).")
            )
        client = redis.Redis.from_url(config["CONFIG"]["url"])
        try:
            rows = client.hgetall(fanout.stats_key(config["CONFIG"]["prefix"]))
        finally:
            client.close()
        if not rows:
            self.stdout.write(_("No process has reported live delivery counts yet."))
            return
        self.stdout.write(" ".join(["process".ljust(34), *(f"{name:>14}" for name in [*FIELDS, "age (s)"])]))
        for process, raw in sorted(rows.items()):
            stats = json.loads(raw)
            age = time.time() - stats.get("at", 0)
            self.stdout.write(
                " ".join(
                    [process.decode().ljust(34), *(f"{stats.get(name, 0):>14}" for name in FIELDS), f"{age:>10.0f}"]
                )
            )
