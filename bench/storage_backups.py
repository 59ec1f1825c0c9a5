"""Backups and the backup chain page, measured.

1. Full vs incremental backup of a 1 GiB RBD image through the console's Ceph gateway
   (console.ceph.gateway: diff_iterate + reads, the rbd diff v1 stream cut into chunks in the
   backup pool, SHA-256 on the way), on a throwaway Ceph of its own (scripts/ceph-dev.sh with
   its own CEPH_DEV_DIR and a memstore big enough for the image, its snapshots and the
   artefacts). The image is filled with random data; then 5% of it changes, two ways: 5% of
   its 4 MiB objects rewritten whole, and 5% of its 4 KiB blocks rewritten at random places
   (which touches nearly every object). `rbd export-diff` (Ceph's own tool) is timed on the
   same snapshots for reference: it streams to /dev/null, without the SHA-256 and without
   storing the artefact, so it is a floor, not a like-for-like figure.
2. The volume page with a chain of 200 nodes (Django test client, PostgreSQL), as the tenant
   admin who sees every node's forms: server time p50/p95 and queries, the chain partial a
   live push makes the page fetch, and the push itself (rendered once per language).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench .venv/bin/python bench/storage_backups.py

The database named in DATABASE_URL is dropped and created again. Prints figures; asserts
only that what it measured is right (the backups restore to the same checksum).
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench")

from mirror_pages import percentile, recreate_database  # noqa: E402

MIB, GIB = 1 << 20, 1 << 30
IMAGE_BYTES = GIB
OBJECT = 4 * MIB  # RBD's default object size
BLOCK = 4096
CHANGED = 0.05
RUNS = 3  # each backup is taken this many times; the median is printed
CHAIN_NODES, PAGE_SAMPLES = 200, 50
# The image (1 GiB), the copies its snapshots keep of what changed after them (~1 GiB: the
# scattered 4 KiB writes touch nearly every object), one full artefact (1 GiB) and the
# incremental ones, with room to spare.
OSD_BYTES = 6 * GIB


def seconds(values):
    return f"median {statistics.median(values):.2f} s (of {len(values)}: {', '.join(f'{v:.2f}' for v in values)})"


def rate(nbytes, values):
    return f"{nbytes / MIB / statistics.median(values):.0f} MiB/s"


# --- 1. backups on a throwaway Ceph ----------------------------------------------------------


def start_ceph():
    from tests import cephdev

    env = {"CEPH_DEV_DIR": tempfile.mkdtemp(prefix="caas-bench-ceph-") + "/ceph", "CEPH_DEV_OSD_BYTES": str(OSD_BYTES)}
    started = cephdev.script("start", env=env)
    if started.returncode:
        raise SystemExit(f"scripts/ceph-dev.sh start failed:\n{started.stderr[-3000:]}")
    return env, cephdev.config_of(cephdev.settings_of(env), timeout=60)


def timed_backups(ceph, image, snapshot, since, label):
    times, manifest = [], None
    for run in range(RUNS):
        name = f"bench/{image}@{snapshot}-{run}"
        started = time.perf_counter()
        manifest = ceph.backup(image, snapshot, since=since, name=name)
        times.append(time.perf_counter() - started)
        if run < RUNS - 1:
            ceph.remove_backup(name)  # the memstore holds one copy of each at a time
    print(
        f"  {label}: {seconds(times)}, {rate(manifest.data_bytes, times)} of data; "
        f"{manifest.data_bytes / MIB:.1f} MiB of data, artefact {manifest.size / MIB:.1f} MiB "
        f"in {manifest.chunks} chunks"
    )
    return manifest, statistics.median(times)


def export_diff(config, image, snapshot, since=None):
    """`rbd export-diff` of the same snapshot, as client.admin, to /dev/null."""
    args = ["rbd", "-c", config.conf, "-n", "client.admin", "export-diff", "--no-progress"]
    if since:
        args += ["--from-snap", since]
    times = []
    for _run in range(RUNS):
        started = time.perf_counter()
        subprocess.run([*args, f"{config.pool}/{image}@{snapshot}", "-"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_backups():
    from console.ceph.gateway import Ceph
    from tests import cephdev

    print(
        f"Backups of a {IMAGE_BYTES // MIB} MiB image, {CHANGED:.0%} changed (load average {os.getloadavg()[0]:.1f}):"
    )
    started = time.perf_counter()
    env, config = start_ceph()
    print(f"  throwaway Ceph (memstore {OSD_BYTES // GIB} GiB) up in {time.perf_counter() - started:.1f} s")
    rng = random.Random(2026)
    image = "bench-vol"
    try:
        with Ceph(config) as ceph:
            ceph.create_image(image, IMAGE_BYTES)
            started = time.perf_counter()
            with ceph._image(config.pool, image, writes=True) as img:
                for offset in range(0, IMAGE_BYTES, OBJECT):
                    img.write(rng.randbytes(OBJECT), offset)
            print(f"  filled with random data in {time.perf_counter() - started:.1f} s")
            ceph.create_snapshot(image, "base")
            full, full_time = timed_backups(ceph, image, "base", None, "full backup")
            full_cli = export_diff(config, image, "base")
            print(f"    (rbd export-diff of the same: {full_cli:.2f} s)")

            objects = IMAGE_BYTES // OBJECT
            chosen = rng.sample(range(objects), round(objects * CHANGED))
            with ceph._image(config.pool, image, writes=True) as img:
                for index in chosen:
                    img.write(rng.randbytes(OBJECT), index * OBJECT)
            ceph.create_snapshot(image, "objects")
            whole, whole_time = timed_backups(
                ceph, image, "objects", "base", f"incremental, {len(chosen)} of {objects} 4 MiB objects rewritten"
            )
            print(f"    (rbd export-diff of the same: {export_diff(config, image, 'objects', 'base'):.2f} s)")

            blocks = IMAGE_BYTES // BLOCK
            scattered = rng.sample(range(blocks), round(blocks * CHANGED))
            with ceph._image(config.pool, image, writes=True) as img:
                for index in scattered:
                    img.write(rng.randbytes(BLOCK), index * BLOCK)
            ceph.create_snapshot(image, "blocks")
            spread, spread_time = timed_backups(
                ceph, image, "blocks", "objects", f"incremental, {len(scattered)} of {blocks} 4 KiB blocks rewritten"
            )
            print(f"    (rbd export-diff of the same: {export_diff(config, image, 'blocks', 'objects'):.2f} s)")
            print(
                f"  incremental / full: {whole_time / full_time:.1%} of the time (whole objects), "
                f"{spread_time / full_time:.1%} (scattered blocks)"
            )

            # what was measured is a working chain: replayed, it gives the image back
            started = time.perf_counter()
            ceph.restore([full.name, whole.name, spread.name], "bench-replayed")
            replay = time.perf_counter() - started
            same = ceph.checksum("bench-replayed") == ceph.checksum(image, snapshot="blocks")
            print(f"  replaying full + 2 incrementals into a new image: {replay:.2f} s; same checksum: {same}")
            assert same
            rss = json.loads(cephdev.script("status", env=env).stdout)["rss_mib"]
            print(f"  Ceph daemons' resident memory: {', '.join(f'{name} {mib} MiB' for name, mib in rss.items())}")
    finally:
        cephdev.script("stop", env=env)
        Path(env["CEPH_DEV_DIR"]).parent.rmdir()


# --- 2. the chain page with 200 nodes --------------------------------------------------------


def timed(client, url, samples=PAGE_SAMPLES, **headers):
    timings = []
    for _n in range(samples):
        started = time.perf_counter()
        response = client.get(url, **headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return timings


def ms(timings):
    return f"p50 {statistics.median(timings):.0f} ms, p95 {percentile(timings, 0.95):.0f} ms"


def bench_chain_page():
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.template.loader import render_to_string
    from django.test import Client
    from django.utils import translation

    from console.accounts.models import User
    from console.clusters.models import Cluster
    from tenants.models import Membership, Project, Tenant
    from workloads.storage import live
    from workloads.storage.models import Backup, Volume

    call_command("migrate", verbosity=0)
    cluster = Cluster.objects.create(
        name="big", server="http://127.0.0.1:1", context="x", kubeconfig_encrypted="x", version="v1.31.0"
    )
    tenant = Tenant.objects.create(name="acme", display_name="Acme")
    project = Project.objects.create(tenant=tenant, cluster=cluster, name="acme-db", status="active")
    admin = User.objects.create_user("bench-admin")
    Membership.objects.create(tenant=tenant, user=admin, role="tenant-admin")
    volume = Volume.objects.create(
        project=project,
        name="data",
        size_bytes=GIB,
        storage_class="ceph-rbd",
        pool="rbd",
        image="csi-vol-x",
        status="ready",
    )
    rng = random.Random(1)
    parent = None
    for i in range(CHAIN_NODES):
        parent = Backup.objects.create(
            volume=volume,
            parent=parent,
            kind="incremental" if parent else "full",
            snapshot=f"caas-backup-{i}",
            artefact=f"rbd/csi-vol-x@caas-backup-{i}",
            image_size=GIB,
            size_bytes=rng.randrange(MIB, 60 * MIB),
            data_bytes=rng.randrange(MIB, 50 * MIB),
            checksum=rng.randbytes(32).hex(),
            status="succeeded" if i % 17 else "failed",
            requested_by=admin,
            requested_by_name="bench-admin",
            seconds=round(rng.uniform(0.2, 3), 2),
        )
    print(f"The volume page with a chain of {CHAIN_NODES} nodes (tenant admin: every node's forms):")
    client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    url = "/storage/acme/acme-db/volumes/data/"
    client.get(url)  # warm: templates compiled, the session's first write
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        page = client.get(url)
    print(
        f"  full page: {ms(timed(client, url))}; {len(queries)} queries, {len(page.content) // 1024} KiB of HTML "
        f"(load average {os.getloadavg()[0]:.1f})"
    )
    partial = {"HTTP_HX_REQUEST": "true"}
    print(f"  chain partial (what a live push makes each page fetch): {ms(timed(client, url, **partial))}")
    pushes = []
    for _n in range(20):
        started = time.perf_counter()
        for code in ("en", "zh-hans"):
            with translation.override(code):
                render_to_string("storage/_chain.html", live.chain_context(volume, pushed=True))
        pushes.append((time.perf_counter() - started) * 1000)
    print(f"  the push itself (the worker renders it in 2 languages after each job step): {ms(pushes)}")


def main():
    bench_chain_page()
    bench_backups()


if __name__ == "__main__":
    main()
