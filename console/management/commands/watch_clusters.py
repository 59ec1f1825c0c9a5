import gc
import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from console.clusters.watcher import ClusterWatchers

log = logging.getLogger("console.clusters.watcher")


class Command(BaseCommand):
    help = "Keep the resource mirror in step with every registered cluster (list + watch)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rescan", type=float, default=10.0, help="seconds between checks for added or removed clusters"
        )

    def handle(self, *args, rescan, **options):
        # The watcher makes and drops many objects per event; frozen, the long-lived ones
        # (Django, the Kubernetes client, ...) are not walked by every collection: lists
        # go a third faster.
        gc.freeze()
        watchers = ClusterWatchers()
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        self.stdout.write("watching clusters (Ctrl-C stops)")
        while not done.is_set():
            try:
                watchers.refresh()
            except DatabaseError as exc:  # PostgreSQL away (a restart): the watchers go on, look again later
                log.warning("could not look for added or removed clusters: %s", exc)
                close_old_connections()
            done.wait(rescan)
        watchers.stop()
        self.stdout.write("stopped")
