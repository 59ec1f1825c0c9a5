"""The watcher end to end: a sandbox cluster in its own process holding many pods, the
`watch_clusters` command mirroring it into PostgreSQL. Reports the initial list time,
the rate at which a burst of pod updates reaches the mirror, and the watcher's memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench_watch .venv/bin/python bench/watcher.py [--pods 30000]

The database named in DATABASE_URL is dropped and created again.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench_watch")

from mirror_pages import recreate_database  # noqa: E402  (same folder)

ROOT = Path(__file__).resolve().parent.parent


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=30_000)
    parser.add_argument("--updates", type=int, default=20_000)
    args = parser.parse_args()
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from kubernetes import config

    from console.clusters import attach_embedded_cluster
    from console.models import MirroredObject

    call_command("migrate", verbosity=0)
    state = tempfile.mkdtemp()
    kubeconfig = Path(state) / "kubeconfig"
    sandbox = subprocess.Popen([sys.executable, "manage.py", "sandbox_cluster", "--kubeconfig", str(kubeconfig)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher = None
    try:
        while not kubeconfig.exists():
            time.sleep(0.2)
        time.sleep(1)
        api = config.new_client_from_config(str(kubeconfig))

        def knob(**body):
            method, url, headers, payload, _ = api.param_serialize("POST", "/sandbox/v1/faults", body=body,
                                                                  header_params={"Content-Type": "application/json"}, auth_settings=["BearerToken"])
            return json.loads(api.call_api(method, url, header_params=headers, body=payload).read())

        namespaces = max(1, args.pods // 30)
        print("sandbox bulk load:", knob(action="bulk_load", namespaces=namespaces, pods_per_namespace=30))
        attach_embedded_cluster("bench", kubeconfig.read_text())
        started = time.perf_counter()
        watcher = subprocess.Popen([sys.executable, "manage.py", "watch_clusters"], cwd=ROOT, env=dict(os.environ),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        expected = namespaces * 30
        while MirroredObject.objects.filter(kind="Pod", namespace__startswith="bulk-").count() < expected:
            time.sleep(0.5)
        print(f"initial list of {expected:,} pods into the mirror: {time.perf_counter() - started:.1f} s; "
              f"watcher RSS {rss_mib(watcher.pid):.0f} MiB")

        time.sleep(3)
        before = {rv for rv in MirroredObject.objects.filter(kind="Pod", namespace__startswith="bulk-").values_list("resource_version", flat=True)}
        burst = knob(action="generate_pod_updates", count=args.updates, namespace_prefix="bulk-")
        last_rv = burst["resourceVersion"]
        started = time.perf_counter()
        while not MirroredObject.objects.filter(kind="Pod", resource_version=last_rv).exists():
            time.sleep(0.05)
        seconds = time.perf_counter() - started + burst["seconds"]
        print(f"burst of {burst['updates']:,} pod updates (sandbox made them at {burst['per_second']:,}/s): "
              f"in the mirror after {seconds:.1f} s = {burst['updates'] / seconds:,.0f} events/s; "
              f"watcher RSS {rss_mib(watcher.pid):.0f} MiB")
        assert len(before) > 0
    finally:
        for process in (watcher, sandbox):
            if process:
                process.send_signal(2)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
