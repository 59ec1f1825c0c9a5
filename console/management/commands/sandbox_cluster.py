"""Run the sandbox Kubernetes API server until Ctrl-C (a thin wrapper: only console.sandbox is used)."""

import argparse
import os
import signal
import threading

from django.core.management.base import BaseCommand

from console.sandbox import CephOptions, SandboxCluster
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
        parser.add_argument(
            "--tls",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="serve HTTPS with a throwaway CA (default); --no-tls serves plain HTTP, which the Python "
            "client accepts but kubectl does not (it sends bearer tokens over TLS only)",
        )
        env = os.environ.get
        parser.add_argument(
            "--ceph-conf",
            default=env("SANDBOX_CEPH_CONF"),
            help="a Ceph conf: PVCs get real RBD images in that Ceph (default $SANDBOX_CEPH_CONF; "
            "none: the images are simulated)",
        )
        parser.add_argument(
            "--ceph-keyring",
            default=env("SANDBOX_CEPH_KEYRING", ""),
            help="the Ceph client's keyring (default $SANDBOX_CEPH_KEYRING)",
        )
        parser.add_argument(
            "--ceph-client",
            default=env("SANDBOX_CEPH_CLIENT") or "client.admin",
            help="the Ceph client's name (default $SANDBOX_CEPH_CLIENT or client.admin)",
        )
        parser.add_argument(
            "--ceph-pool",
            default=env("SANDBOX_CEPH_POOL") or "rbd",
            help="the pool of the ceph-rbd StorageClass (default $SANDBOX_CEPH_POOL or rbd)",
        )

    def handle(
        self,
        *args,
        port,
        nodes,
        clock_speed,
        kubeconfig,
        demo,
        tls,
        ceph_conf,
        ceph_keyring,
        ceph_client,
        ceph_pool,
        **options,
    ):
        ceph = CephOptions(ceph_conf, ceph_keyring, ceph_client, ceph_pool) if ceph_conf else False
        cluster = SandboxCluster(
            nodes=nodes, port=port, clock_speed=clock_speed, use_tls=tls, kubeconfig_path=kubeconfig, ceph=ceph
        ).start()
        if demo:
            seed_demo(cluster)
        storage = f"RBD images in pool {ceph.pool} of {ceph.conf} as {ceph.name}" if ceph else "simulated RBD images"
        self.stdout.write(
            f"sandbox cluster at {cluster.url}\nkubeconfig: {cluster.kubeconfig_path.resolve()}\n"
            f"context: sandbox\nstorage: {storage}\n(Ctrl-C stops)"
        )
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
