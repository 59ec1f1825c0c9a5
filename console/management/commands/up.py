"""The embedded one-command run: database, the sandbox cluster, in-process Celery worker and
beat, the cluster watcher, the demo data (`seed_demo`), and daphne serving HTTP and
websockets, all in this process. Ctrl-C stops everything."""

import asyncio
import logging
import socket
import sys
import threading
from typing import Any

from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from console.celery import app as celery_app
from console.clusters.clusters import attach_embedded_cluster
from console.clusters.models import Cluster
from console.clusters.watcher import ClusterWatchers
from console.live import realtime
from console.signals import embedded_cluster_attached


class Command(BaseCommand):
    help = "Run the whole console in one process (embedded mode)."
    requires_system_checks = []  # run in handle(), after the port check: they take seconds

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="do not create demo users and workloads")
        parser.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox cluster")

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, no_sandbox: bool, **options: Any) -> None:
        self.check_port(host, port)
        self.check()
        self.quiet_routine_logs()
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database ready: " + str(settings.DATABASES["default"]["NAME"]))
        self.reap_jobs()
        sandbox, cluster = (None, None) if no_sandbox else self.start_sandbox(demo=not no_demo)
        schedule = str(settings.STATE_DIR / "celerybeat-schedule")
        beat = EmbeddedService(celery_app, thread=True, schedule_filename=schedule)
        watchers = ClusterWatchers()
        with start_worker(
            celery_app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
        ):
            beat.start()
            rescan = threading.Event()
            threading.Thread(
                target=self.watch_clusters, args=(watchers, rescan), name="cluster-rescan", daemon=True
            ).start()
            try:
                if not no_demo:  # what waits for the worker (the demo app) is done while the console serves
                    call_command(
                        "seed_demo", cluster=cluster.name if cluster else None, background=True, stdout=self.stdout
                    )
                self.serve(host, port)
            finally:
                self.stdout.write("stopping watchers, worker and beat ...")
                rescan.set()
                watchers.stop(timeout=5)
                beat.stop()
                if sandbox:
                    sandbox.stop()
        self.stdout.write("stopped")

    def check_port(self, host: str, port: int) -> None:
        """Before migrating or starting anything: a taken port would only fail at the very end."""
        if port_in_use(host, port):
            other = 8080 if port != 8080 else 8081
            self.stderr.write(
                f"Port {port} is already in use: is the console already running? Use make run PORT={other}."
            )
            sys.exit(1)

    @staticmethod
    def quiet_routine_logs() -> None:
        """Beat sends tasks every 15 s: one terminal should show the credentials, requests and
        failures (celery.app.trace logs those at ERROR), not every scheduled tick."""
        for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # The in-memory broker has no host; kombu warns about it on every connection.
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)

    def reap_jobs(self) -> None:
        """Jobs the previous run left active: with the in-memory queue, their messages and
        worker died with that process, so every one is lost; with Redis, only stale ones."""
        from console.jobs.jobs import reap_stale_jobs

        reaped = reap_stale_jobs(orphaned=settings.CELERY_BROKER_URL.startswith("memory://"))
        if reaped:
            self.stdout.write(f"{reaped} jobs of the previous run queued again or ended")

    def start_sandbox(self, demo: bool) -> tuple[Any, Cluster]:
        """The default cluster of the embedded run, reached through its kubeconfig only; with
        the demo, it holds the demo workloads made outside the console, as a real one would."""
        from console.sandbox import SandboxCluster
        from console.sandbox.ceph import CephOptions
        from console.sandbox.demo import seed_demo as seed_sandbox_objects

        # With the console's Ceph configured, the sandbox's ceph-csi makes real RBD images in
        # it, so volumes and backup chains act on real data (SANDBOX_CEPH_* still win).
        ceph = CephOptions.from_env() or (
            CephOptions(settings.CEPH_CONF, settings.CEPH_KEYRING, settings.CEPH_CLIENT, settings.CEPH_POOL)
            if settings.CEPH_CONF
            else None
        )
        sandbox = SandboxCluster(nodes=3, ceph=ceph).start()
        path = sandbox.write_kubeconfig(settings.STATE_DIR / "sandbox.kubeconfig")
        if demo:
            seed_sandbox_objects(sandbox.store)
        cluster = attach_embedded_cluster("sandbox", path.read_text(), description="The embedded sandbox cluster")
        embedded_cluster_attached.send(sender=self.__class__, cluster=cluster)
        self.stdout.write(f"sandbox cluster at {sandbox.url} (kubeconfig {path})")
        return sandbox, cluster

    def watch_clusters(self, watchers: ClusterWatchers, stop: threading.Event, every: float = 5.0) -> None:
        """The watcher, in this process: follow clusters as they are added and removed."""
        while not stop.is_set():
            watchers.refresh()
            stop.wait(every)

    def serve(self, host: str, port: int) -> None:
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import reactor

        from console.asgi import application

        # The in-memory channel layer lives on daphne's loop; worker threads push through it.
        reactor.callWhenRunning(lambda: realtime.set_home_loop(asyncio.get_event_loop()))
        self.stdout.write(self.style.SUCCESS(f"console at http://{host}:{port}/ (Ctrl-C stops)"))
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
        ).run()


def port_in_use(host: str, port: int) -> bool:
    """Whether a server listens on host:port (binding as daphne will: SO_REUSEADDR, so that
    connections of a previous run still closing do not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
