"""Register (or update in place) a cluster from a kubeconfig file, as `manage.py up` does with
its sandbox: scripts/run-production.sh uses it for the sandbox it starts beside the console."""

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.clusters.clusters import attach_embedded_cluster
from console.kube.errors import ClusterError
from console.signals import embedded_cluster_attached


class Command(BaseCommand):
    help = (
        "Register a cluster by kubeconfig file; its address may change at every start (the row is updated, "
        "the mirror lists again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("kubeconfig", help="path of the kubeconfig file (inline credentials only)")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="then make the demo users and tenants on it (seed_demo), as `manage.py up` does",
        )
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, name: str, kubeconfig: str, demo: bool, description: str, **options: Any) -> None:
        try:
            text = Path(kubeconfig).read_text()
            cluster = attach_embedded_cluster(name, text, description=description)
        except (OSError, ClusterError) as exc:
            raise CommandError(f"cannot attach {name}: {exc}") from None
        # Namespaces the console keeps on it are provisioned again (a fresh sandbox is empty).
        embedded_cluster_attached.send(sender=self.__class__, cluster=cluster)
        self.stdout.write(f"cluster {name} attached: {cluster.server} (Kubernetes {cluster.version})")
        if demo:
            call_command("seed_demo", cluster=name, stdout=self.stdout)
