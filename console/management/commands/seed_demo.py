"""Make the demo data (console/demo.py): the platform's users and, with --cluster, the demo
tenants of each feature app on that cluster. Only what is missing is made, so running it
again changes nothing; generated passwords are printed once, when their user is made.

What waits for the worker (an app for its namespace) is done before the command returns;
`manage.py up` passes background=True: the console serves meanwhile and it is done then."""

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from console import demo
from console.clusters.models import Cluster

WAIT_SECONDS = 60.0


class Command(BaseCommand):
    help = "Create the demo users, and with --cluster the demo tenants on it; what exists is left as it is."
    stealth_options = ("background",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cluster", help="the registered cluster the demo tenants live on (without: users only)")
        parser.add_argument(
            "--wait",
            type=float,
            default=WAIT_SECONDS,
            help="seconds what needs the worker's work first may wait for it (an app, its namespace)",
        )

    def handle(self, *args: Any, cluster: str | None, wait: float, background: bool = False, **options: Any) -> None:
        found = None
        if cluster:
            found = Cluster.objects.filter(name=cluster).first()
            if found is None:
                raise CommandError(f"no cluster named {cluster!r} is registered")
        run = demo.Demo(say=self.say, cluster=found, wait_seconds=wait)
        demo.seed(run)
        if background and run.later:
            threading.Thread(target=self.settle_in_background, args=(run,), name="seed-demo", daemon=True).start()
        else:
            demo.settle(run)

    @staticmethod
    def settle_in_background(run: demo.Demo) -> None:
        try:
            demo.settle(run)
        finally:
            connection.close()  # this thread's own

    def say(self, text: str, success: bool = False) -> None:
        self.stdout.write(self.style.SUCCESS(text) if success else text)
