"""Metric history at volume (PostgreSQL).

Prints
- raw samples ingested per second through the collector's writer (store.write: COPY into the
  day-partitioned table, B-tree on (series_id, ts)), in scrape-sized batches, target >= 100,000/s;
  and through write_scrape (series lookup included) for a 20,000-series scrape;
- downsampling speed (raw -> 1-minute);
- a 7-day chart of 100 series (query.samples in the buckets the chart pages ask for: hours, from
  the 1-hour table; JSON encoding included), p95 target < 200 ms, with 90 days of hours for 2,000
  series and 7 days of minutes for 400 stored;
- the same 100 series over 24 hours (5-minute averages of the 1-minute table) and 90 days
  (12-hour averages of the 1-hour table): a few hundred points per series.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caas_bench_metrics .venv/bin/python bench/metrics.py

The database named in DATABASE_URL is dropped and created again.
"""

import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/caas_bench_metrics")

SERIES = 2_000  # 20 namespaces of 100 pods
CHART_SERIES = 100
MINUTE_SERIES = 400  # 7 days of minutes for these (the chart's 100 among them)
INGEST_BATCH = 20_000  # one scrape of a big cluster
INGEST_ROWS = 1_000_000
RUNS = 30


def recreate_database():
    import dj_database_url
    import psycopg2

    db = dj_database_url.parse(os.environ["DATABASE_URL"])
    admin = psycopg2.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}"')
        cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    admin.close()


def copy_into(table, rows):
    """Rows (series, ts, value, peak) straight into a rollup table (history to read from)."""
    from django.db import connection

    buffer = io.StringIO("".join(f"{s}\t{t}\t{v!r}\t{v!r}\n" for s, t, v in rows))
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table.name} (series_id, ts, value, peak) FROM STDIN", buffer)


def p95(values):
    return statistics.quantiles(values, n=20)[-1]


def main():
    recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from console.clusters.models import Cluster
    from monitoring.metrics import collect, query, store
    from monitoring.metrics.models import Series

    cluster = Cluster.objects.create(name="bench", server="https://127.0.0.1:1", context="x", kubeconfig_encrypted="")
    targets = [f"pod/ns{i // 100}/pod-{i}" for i in range(SERIES)]
    ids = collect.series_ids(cluster.pk, [("pod_cpu_usage_cores", t) for t in targets])
    series = [ids[("pod_cpu_usage_cores", t)] for t in targets]
    now = int(time.time())
    now -= now % 3600

    # --- ingest: raw samples, scrape-sized batches, one transaction each
    store.ensure_partitions([now - 3600, now + 3600], (store.RAW,))
    from django.db import transaction

    written, started, ts = 0, time.perf_counter(), now - 3600
    while written < INGEST_ROWS:
        rows = [(sid, ts, 0.1 + (sid % 7) * 0.01) for sid in series] * (INGEST_BATCH // SERIES)
        rows = [(sid, ts + i // SERIES, v) for i, (sid, _t, v) in enumerate(rows)]
        with transaction.atomic():
            written += store.write(rows)
        ts += INGEST_BATCH // SERIES
    elapsed = time.perf_counter() - started
    print(f"ingest store.write: {written:,} rows in {elapsed:.2f} s = {written / elapsed:,.0f} samples/s")

    scrape_targets = [
        (f"pod_{m}", f"pod/ns{i // 100}/pod-{i}") for m in ("cpu_usage_cores", "restarts") for i in range(10_000)
    ]
    scrape = collect.Scrape(cluster.pk, now - 1)
    for key in scrape_targets:
        scrape.values[key] = 1.0
    collect.write_scrape(scrape)  # first scrape creates the series
    timings = []
    for k in range(5):
        scrape.ts = now - 2 - k
        started = time.perf_counter()
        collect.write_scrape(scrape)
        timings.append(time.perf_counter() - started)
    best = statistics.median(timings)
    print(
        f"ingest write_scrape ({len(scrape_targets):,} series, lookup included): "
        f"median {best * 1000:.0f} ms = {len(scrape_targets) / best:,.0f} samples/s"
    )

    started = time.perf_counter()
    rolled = store.rollup(store.RAW, store.MINUTE, now - 3600, now)
    elapsed = time.perf_counter() - started
    print(f"downsample raw -> 1m: {written:,} raw rows into {rolled:,} minutes in {elapsed:.2f} s")

    # --- history: 90 days of hours for every series, 7 days of minutes for MINUTE_SERIES
    hours = list(range(now - 90 * 86400, now, 3600))
    minutes = list(range(now - 7 * 86400, now - 3600, 60))
    store.ensure_partitions(range(hours[0], now + 86400, 86400), (store.HOUR, store.MINUTE))
    started = time.perf_counter()
    for chunk in range(0, SERIES, 200):
        copy_into(
            store.HOUR, [(sid, t, 0.2 + (t // 3600 % 24) / 100) for sid in series[chunk : chunk + 200] for t in hours]
        )
    for chunk in range(0, MINUTE_SERIES, 100):
        copy_into(store.MINUTE, [(sid, t, 0.2) for sid in series[chunk : chunk + 100] for t in minutes])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM {store.HOUR.name}), (SELECT COUNT(*) FROM {store.MINUTE.name})")
        hour_rows, minute_rows = cursor.fetchone()
    print(
        f"history: {hour_rows:,} hour rows, {minute_rows:,} minute rows stored in {time.perf_counter() - started:.1f} s"
    )

    def chart(seconds, step):
        begin = now - seconds - (now - seconds) % step if step else now - seconds
        start, end = datetime.fromtimestamp(begin, UTC), datetime.fromtimestamp(now, UTC)
        began = time.perf_counter()
        found = query.samples(
            cluster_id=cluster.pk, metric="pod_cpu_usage_cores", namespace="ns3", start=start, end=end, step=step
        )
        iso = {}
        body = json.dumps(
            {
                t: [[iso.get(p[0]) or iso.setdefault(p[0], p[0].isoformat()), p[1]] for p in pts]
                for t, pts in found.items()
            }
        )
        return time.perf_counter() - began, len(found), sum(len(p) for p in found.values()), len(body)

    assert Series.objects.filter(cluster=cluster, metric="pod_cpu_usage_cores", namespace="ns3").count() == CHART_SERIES
    for label, seconds in (("7-day chart", 7 * 86400), ("24-hour chart", 86400), ("90-day chart", 90 * 86400)):
        # the buckets the chart pages ask for (a few hundred points per line), from the table they pick
        step = query.step_for(seconds, settings.METRICS_SCRAPE_SECONDS)
        table = query.table_for(datetime.fromtimestamp(now - seconds, UTC), now=time.time(), step=step)
        chart(seconds, step)  # warm
        runs = [chart(seconds, step) for _ in range(RUNS)]
        times = [r[0] * 1000 for r in runs]
        _t, n, points, size = runs[0]
        print(
            f"{label} ({step} s buckets from {table.name}): {n} series, {points:,} points, "
            f"{size / 1024:,.0f} KiB JSON: median {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms"
        )
    with connection.cursor() as cursor:
        ids100 = list(Series.objects.filter(cluster=cluster, namespace="ns3").values_list("id", flat=True))
        cursor.execute(
            f"EXPLAIN (ANALYZE, BUFFERS) SELECT series_id, ts, value FROM {store.HOUR.name} WHERE series_id IN "
            f"({', '.join(map(str, ids100))}) AND ts >= %s AND ts <= %s ORDER BY series_id, ts",
            [now - 7 * 86400, now],
        )
        plan = [row[0] for row in cursor.fetchall()]
    print(f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while measuring)")
    print("plan of the 7-day read (partitions scanned, rows):")
    for line in plan:
        if "Scan" in line or "Execution" in line or "Append" in line:
            print("   ", line.strip()[:150])


if __name__ == "__main__":
    main()
