"""Run the sandbox Kubernetes API server until Ctrl-C (a thin wrapper: only console.sandbox is used)."""

import argparse
import signal
import threading

from django.core.management.base import BaseCommand

from console.sandbox import SandboxCluster
from console.sandbox.demo import seed_demo


class Command(BaseCommand):
    help = "Run the sandbox Kubernetes API server (a simulated cluster) and write a kubeconfig for it."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
        parser.add_argument("--nodes", type=int, default=3)
        parser.add_argument("--clock-speed", type=float, default=1.0, help="simulated seconds per real second")
        parser.add_argument("--kubeconfig", default="var/sandbox.kubeconfig", help="where to write the kubeconfig")
        parser.add_argument("--demo", action="store_true", help="create demo namespaces and workloads")
        parser.add_argument("--tls", action=argparse.BooleanOptionalAction, default=True,
                            help="serve HTTPS with a throwaway CA (default); --no-tls serves plain HTTP, which the Python "
                                 "client accepts but kubectl does not (it sends bearer tokens over TLS only)")

    def handle(self, *args, port, nodes, clock_speed, kubeconfig, demo, tls, **options):
        cluster = SandboxCluster(nodes=nodes, port=port, clock_speed=clock_speed, use_tls=tls, kubeconfig_path=kubeconfig).start()
        if demo:
            seed_demo(cluster)
        self.stdout.write(f"sandbox cluster at {cluster.url}\nkubeconfig: {cluster.kubeconfig_path.resolve()}\n"
                          f"context: sandbox\n(Ctrl-C stops)")
        self.stdout.flush()
        done = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            done.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            cluster.stop()
        self.stdout.write("stopped")
