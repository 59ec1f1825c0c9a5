"""The watcher end to end: a sandbox cluster in its own process holding many pods, the
`watch_clusters` command mirroring it into PostgreSQL, all on the same machine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench_watch .venv/bin/python bench/watcher.py \
        [--pods 30000] [--updates 20000]

Reports, in order:
- the sandbox alone: a burst of pod updates read by a bare watch client that only counts
  lines (no JSON parsing, no database), before the watcher runs: the ceiling the
  sandbox puts on ingestion on this machine;
- the initial list of all pods into the mirror, and the watcher's resident memory after
  it (and its peak);
- a second burst of pod updates through the watcher into the mirror: events applied /
  wall time from the first applied batch to the last (the watcher's cursor, polled
  every 10 ms), and from the start of the burst to the last applied batch; the CPU time
  each process used meanwhile; the watcher's memory after it;
- a check that the mirror then holds every pod at the sandbox's resourceVersion.

The database named in DATABASE_URL is dropped and created again.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench_watch")

from mirror_pages import recreate_database  # noqa: E402  (same folder)

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def memory_mib(pid):
    """(resident now, peak resident) in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _stat(pid):
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # fields from the 3rd on


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return total


def postgres_cpu_seconds():
    """All of PostgreSQL: its processes now, plus the backends that have ended (their time
    is added to the postmaster's cutime + cstime)."""
    total, names = 0.0, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                names[int(entry.name)] = (entry / "comm").read_text().strip()
            except OSError:
                pass
    for pid, name in names.items():
        if name != "postgres":
            continue
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
        if names.get(int(fields[1])) != "postgres":  # the postmaster
            total += (int(fields[13]) + int(fields[14])) / TICK
    return total


def count_modified_lines(api, resource_version, expected, result):
    """A bare watch client: count MODIFIED lines, parse nothing (the sandbox's ceiling)."""
    from console.kube.connection import raw_get

    response = raw_get(
        api,
        "/api/v1/pods",
        [("watch", "1"), ("resourceVersion", resource_version), ("timeoutSeconds", "120")],
        (5, 150),
    ).response
    seen, buffer = 0, b""
    result["ready"].set()
    for chunk in response.stream(256 * 1024):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        seen += sum(1 for line in lines if line.startswith(b'{"type":"MODIFIED"'))
        if seen >= expected:
            break
    result["done"] = time.perf_counter()
    result["seen"] = seen
    response.release_conn()


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

    from console.clusters.clusters import attach_embedded_cluster
    from console.clusters.models import MirroredObject, WatchCursor
    from console.kube.kinds import KINDS
    from console.kube.watch import list_pages

    call_command("migrate", verbosity=0)
    state = tempfile.mkdtemp()
    kubeconfig = Path(state) / "kubeconfig"
    logs = {name: open(Path(state) / f"{name}.log", "w+") for name in ("sandbox", "watcher")}

    def alive(process, name):
        if process.poll() is not None:
            logs[name].seek(0)
            raise SystemExit(f"the {name} exited ({process.returncode}):\n" + logs[name].read()[-3000:])

    sandbox = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox_cluster", "--kubeconfig", str(kubeconfig)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=logs["sandbox"],
    )
    watcher = None
    try:
        while not kubeconfig.exists():
            alive(sandbox, "sandbox")
            time.sleep(0.2)
        time.sleep(1)
        api = config.new_client_from_config(str(kubeconfig))

        def knob(**body):
            method, url, headers, payload, _ = api.param_serialize(
                "POST",
                "/sandbox/v1/faults",
                body=body,
                header_params={"Content-Type": "application/json"},
                auth_settings=["BearerToken"],
            )
            return json.loads(api.call_api(method, url, header_params=headers, body=payload).read())

        def stats():
            method, url, headers, _payload, _ = api.param_serialize(
                "GET", "/sandbox/v1/stats", auth_settings=["BearerToken"]
            )
            return json.loads(api.call_api(method, url, header_params=headers).read())

        from django.conf import settings

        print(
            "channel layer for the watcher's pushes:",
            settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
            "(set REDIS_URL for Redis, as in production)",
        )
        namespaces = max(1, args.pods // 30)
        print("sandbox bulk load:", knob(action="bulk_load", namespaces=namespaces, pods_per_namespace=30))
        expected = namespaces * 30

        # 1. the sandbox alone, before the watcher runs
        result = {"ready": threading.Event()}
        reader = threading.Thread(
            target=count_modified_lines, args=(api, stats()["resourceVersion"], args.updates, result), daemon=True
        )
        reader.start()
        result["ready"].wait(10)
        started = time.perf_counter()
        burst = knob(action="generate_pod_updates", count=args.updates, namespace_prefix="bulk-")
        reader.join(120)
        print(
            f"sandbox alone: {burst['updates']:,} pod updates made at {burst['per_second']:,}/s; a bare watch client "
            f"(no parsing) had them all after {result['done'] - started:.2f} s = "
            f"{result['seen'] / (result['done'] - started):,.0f} events/s"
        )

        # 2. the initial list
        attach_embedded_cluster("bench", kubeconfig.read_text())
        cpu_before = cpu_seconds([sandbox.pid]), postgres_cpu_seconds()
        started = time.perf_counter()
        watcher = subprocess.Popen(
            [sys.executable, "manage.py", "watch_clusters"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=logs["watcher"],
        )
        while not WatchCursor.objects.filter(kind="Pod", listed_at__isnull=False).exists():
            alive(watcher, "watcher")
            time.sleep(0.1)
        listed = MirroredObject.objects.filter(kind="Pod", namespace__startswith="bulk-").count()
        assert listed == expected, (listed, expected)
        rss, peak = memory_mib(watcher.pid)
        print(
            f"initial list of {expected:,} pods into the mirror: {time.perf_counter() - started:.1f} s; "
            f"watcher RSS {rss:.0f} MiB (peak {peak:.0f} MiB); CPU seconds: watcher {cpu_seconds([watcher.pid]):.1f}, "
            f"sandbox {cpu_seconds([sandbox.pid]) - cpu_before[0]:.1f}, "
            f"PostgreSQL {postgres_cpu_seconds() - cpu_before[1]:.1f}"
        )

        # 3. a burst through the watcher
        time.sleep(3)
        load_before = os.getloadavg()[0]
        first_rv = int(stats()["resourceVersion"])
        cpu_before = cpu_seconds([watcher.pid]), cpu_seconds([sandbox.pid]), postgres_cpu_seconds(), time.process_time()
        outcome = {}
        burster = threading.Thread(
            target=lambda: outcome.update(
                knob(action="generate_pod_updates", count=args.updates, namespace_prefix="bulk-")
            )
        )
        started = time.perf_counter()
        burster.start()
        first_applied = last_applied = None
        while last_applied is None:
            cursor = int(WatchCursor.objects.get(kind="Pod").resource_version or 0)
            now = time.perf_counter()
            if first_applied is None and cursor > first_rv:
                first_applied = now
            if not burster.is_alive() and cursor >= int(outcome["resourceVersion"]):
                last_applied = now
            alive(watcher, "watcher")
            time.sleep(0.01)
        burster.join()
        cpu_after = cpu_seconds([watcher.pid]), cpu_seconds([sandbox.pid]), postgres_cpu_seconds(), time.process_time()
        updates = outcome["updates"]
        rss, peak = memory_mib(watcher.pid)
        print(
            f"burst of {updates:,} pod updates (sandbox made them at {outcome['per_second']:,}/s): "
            f"{updates / (last_applied - first_applied):,.0f} events/s from the first applied batch to the last "
            f"({last_applied - first_applied:.2f} s); "
            f"{updates / (last_applied - started):,.0f} events/s from the start of the burst "
            f"({last_applied - started:.2f} s); watcher RSS {rss:.0f} MiB (peak {peak:.0f} MiB)"
        )
        used = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
        cores = os.cpu_count()
        print(
            "CPU seconds meanwhile "
            f"({cores} cores x {last_applied - started:.2f} s = {cores * (last_applied - started):.2f}): "
            f"watcher {used[0]:.2f}, sandbox {used[1]:.2f}, PostgreSQL {used[2]:.2f}, this bench {used[3]:.2f}; "
            f"load average before the burst {load_before:.1f} (other work on the machine skews all figures)"
        )

        # 4. nothing lost, nothing stale
        time.sleep(0.5)
        server = {}
        for items, _rv in list_pages(api, KINDS["Pod"], page_size=5000):
            server.update(
                ((i["metadata"]["namespace"], i["metadata"]["name"]), i["metadata"]["resourceVersion"]) for i in items
            )
        mirrored = dict(
            ((ns, name), rv)
            for ns, name, rv in MirroredObject.objects.filter(kind="Pod").values_list(
                "namespace", "name", "resource_version"
            )
        )
        differ = sum(1 for key in server.keys() | mirrored.keys() if server.get(key) != mirrored.get(key))
        print(f"mirror vs sandbox: {len(server):,} pods, {differ} differ")
        assert differ == 0
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
