"""Long time ranges come back in buckets: a chart asks the store for a bucket size that keeps each
line to a few hundred points, and the database averages the rows of the coarsest table fine
enough for them. The same SQL runs on SQLite (the embedded run): checked there in a child
process with the embedded database."""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection

from monitoring.metrics import charts, query, store
from monitoring.metrics.collect import series_ids
from tests.factories import mk_cluster

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60


def at(ts):
    return datetime.fromtimestamp(ts, UTC)


def put(table, rows):
    """Rows (series, ts, value) straight into a downsampled table (value and peak alike)."""
    store.ensure_partitions({ts for _s, ts, _v in rows}, (table,))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table.name} (series_id, ts, value, peak) VALUES (%s, %s, %s, %s)",
            [(s, ts, v, v) for s, ts, v in rows],
        )


def test_steps_keep_every_range_to_a_few_hundred_points():
    every = 30  # the default scrape interval
    assert query.step_for(900, every) == 0 and query.step_for(3600, every) == 0  # raw samples
    for seconds in charts.RANGES.values():
        step = query.step_for(seconds, every)
        points = seconds / step if step else seconds / every
        assert points <= query.MAX_POINTS, (seconds, step)
        assert not step or points >= 50, (seconds, step)  # buckets not so coarse that the chart says nothing
    assert query.step_for(86400, every) == 300
    assert query.step_for(7 * 86400, every) == 3600
    now = 1_796_000_000
    # the coarsest table fine enough for the buckets, among those still holding the start
    assert query.table_for(at(now - 6 * 3600), now=now, step=120) is store.MINUTE
    assert query.table_for(at(now - 86400), now=now, step=300) is store.MINUTE
    assert query.table_for(at(now - 7 * 86400), now=now, step=3600) is store.HOUR
    assert query.table_for(at(now - 3600), now=now, step=0) is store.RAW
    assert query.table_for(at(now - 30 * 86400), now=now, step=60) is store.HOUR  # minutes are gone by then


@pytest.mark.django_db
def test_a_24_hour_chart_of_many_series_is_a_few_hundred_averages_per_series():
    cluster = mk_cluster("c1")
    pods = [f"pod/shop/web-{k}" for k in range(40)]
    found = series_ids(cluster.pk, [("pod_cpu_usage_cores", t) for t in pods])
    now = int(time.time())
    now -= now % MINUTE
    first = now - 86400 - 600
    # a minute average every minute for a day and more: pod k's value is 10 × (minute % 5) + k,
    # so each 5-minute bucket (aligned on multiples of 300 s) holds 0, 10, 20, 30, 40 (+ k)
    put(
        store.MINUTE,
        [
            (found[("pod_cpu_usage_cores", t)], ts, 10.0 * (ts // MINUTE % 5) + k)
            for k, t in enumerate(pods)
            for ts in range(first, now + MINUTE, MINUTE)
        ],
    )
    step = charts.step_of(charts.RANGES["24h"])
    assert step == 300
    begin = now - 86400
    begin -= begin % step

    lines = query.samples(
        cluster_id=cluster.pk, metric="pod_cpu_usage_cores", namespace="shop", start=at(begin), end=at(now), step=step
    )

    assert sorted(lines) == sorted(pods)
    for k, target in enumerate(pods):
        points = lines[target]
        assert len(points) <= query.MAX_POINTS
        assert len(points) == (now - begin) // step + 1  # the last bucket is the one still filling
        assert [ts.timestamp() for ts, _v in points] == list(range(begin, now + 1, step))
        assert {value for _ts, value in points[:-1]} == {20.0 + k}  # (0 + 10 + 20 + 30 + 40) / 5 + k
        filling = range(now - now % step, now + 1, MINUTE)  # the minutes of the last bucket so far
        assert points[-1][1] == sum(10.0 * (ts // MINUTE % 5) for ts in filling) / len(filling) + k
    # the chart of one pod: the same buckets, drawn
    from console.clusters.models import Cluster

    scope = charts.Scope("pod", Cluster.objects.get(pk=cluster.pk), "shop/web-3")
    fig = charts.figure(scope, charts.chart_of(scope, "cpu"), "24h", now=now)
    used = fig["data"][0]
    assert fig["step"] == 300 and fig["live"]
    assert len(used["x"]) == (now - begin) // step + 1 <= query.MAX_POINTS
    assert set(used["y"][:-1]) == {23.0}


@pytest.mark.django_db
def test_raw_samples_average_into_buckets_in_sql():
    cluster = mk_cluster("c1")
    key = ("pod_cpu_usage_cores", "pod/shop/a")
    sid = series_ids(cluster.pk, [key])[key]
    now = int(time.time())
    start = now - now % 3600 - 3600
    store.write([(sid, start + 30 * i, float(i)) for i in range(120)])  # an hour at 30 s: 0, 1, 2, ...

    minutes = query.read({sid: "a"}, at(start), at(start + 3599), store.RAW, step=60)["a"]
    assert [(ts.timestamp(), v) for ts, v in minutes] == [(start + 60 * j, 2 * j + 0.5) for j in range(60)]
    quarters = query.read({sid: "a"}, at(start), at(start + 3599), store.RAW, step=900)["a"]
    assert [v for _ts, v in quarters] == [(30 * q + 30 * q + 29) / 2 for q in range(4)]  # 0..29 → 14.5, ...


SQLITE_SCRIPT = r"""
import json
import django
django.setup()
from datetime import UTC, datetime
from django.core.management import call_command
from django.db import connection

call_command("migrate", verbosity=0)  # the embedded run's database, tables and all
from console.clusters.models import Cluster
from monitoring.alerts import evaluate
from monitoring.alerts.models import AlertRule
from monitoring.metrics import query, store
from monitoring.metrics.collect import series_ids

assert connection.vendor == "sqlite", connection.vendor
cluster = Cluster.objects.create(name="c1", server="https://127.0.0.1:1", context="c1", kubeconfig_encrypted="")
start = 1_795_996_800  # a whole hour
at = lambda ts: datetime.fromtimestamp(ts, UTC)
store.write([(1, start + 30 * i, float(i)) for i in range(120)] + [(2, start + 30 * i, 100.0) for i in range(120)])
with connection.cursor() as cursor:
    cursor.executemany(
        f"INSERT INTO {store.MINUTE.name} (series_id, ts, value, peak) VALUES (%s, %s, %s, %s)",
        [(1, start + 60 * m, float(m % 5), float(m % 5)) for m in range(60)],
    )
out = {
    "raw": query.read({1: "a", 2: "b"}, at(start), at(start + 3599), store.RAW, step=900),
    "minute": query.read({1: "a"}, at(start), at(start + 3599), store.MINUTE, step=300),
    "windows": query.windows({1: "a", 2: "b"}, start + 3000, start + 3599, [start + 3000, start + 3500]),
}
# alert rules over memory as a percentage of the limit: a at 95 %, b at 50 %, c's limit doubled
# within the window (95 % then 47.5 %: read point by point), on SQLite as on PostgreSQL
MIB = 1 << 20
metrics = ("pod_memory_usage_bytes", "pod_memory_limit_bytes")
ids = series_ids(cluster.pk, [(m, f"pod/shop/{p}") for m in metrics for p in "abc"])
now = start + 7200
rows = []
for i in range(5):
    ts = now - 60 + 15 * i
    for pod, used, limit in (("a", 95, 100), ("b", 50, 100), ("c", 95, 100 if i < 2 else 200)):
        rows.append((ids[("pod_memory_usage_bytes", f"pod/shop/{pod}")], ts, used * MIB * 1.0))
        rows.append((ids[("pod_memory_limit_bytes", f"pod/shop/{pod}")], ts, limit * MIB * 1.0))
store.write(rows)
rule = AlertRule(pk=1, kind="threshold", cluster_id=cluster.pk, metric="pod_memory_usage_bytes", comparison=">",
                 threshold=90, percent_of_limit=True, for_seconds=300)
recent = query.crossing_windows(cluster_id=cluster.pk, metric="pod_memory_usage_bytes",
                                limit_metric="pod_memory_limit_bytes", start=now - 60, end=now, sinces=[now - 60],
                                above=90)
views = [evaluate.view_of(rule)]
hits = evaluate.threshold_hits(views, evaluate.Scopes(views), at(now))
print(json.dumps({
    "raw": {t: [[ts.timestamp(), v] for ts, v in p] for t, p in out["raw"].items()},
    "minute": {t: [[ts.timestamp(), v] for ts, v in p] for t, p in out["minute"].items()},
    "windows": {t: list(w) for t, w in out["windows"].items()},
    "crossing": {t: [list(w), f] for t, (w, f) in recent.items()},
    "hits": {t: round(h.value, 3) for (_c, t), h in hits[1].items()},
}))
"""


def test_the_same_bucketed_reads_and_alert_windows_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "console.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    start = 1_795_996_800
    assert out["raw"]["a"] == [[start + 900 * q, 30 * q + 14.5] for q in range(4)]
    assert out["raw"]["b"] == [[start + 900 * q, 100.0] for q in range(4)]
    assert out["minute"]["a"] == [[start + 300 * b, 2.0] for b in range(12)]  # (0+1+2+3+4) / 5
    # the window summary alerts read: 20 points from start + 3000 (values 100..119), lows and
    # highs from each `since` (the first point at or after it), the newest value
    count, ts_sum, first, last, value, stats = out["windows"]["a"]
    stamps = [start + 30 * i for i in range(100, 120)]
    assert (count, ts_sum, first, last, value) == (20, sum(stamps), stamps[0], stamps[-1], 119.0)
    assert stats == [100.0, 119.0, stamps[0], 117.0, 119.0, start + 3510]
    assert out["windows"]["b"][4:] == [100.0, [100.0, 100.0, stamps[0], 100.0, 100.0, start + 3510]]
    # only the targets that may cross 90 % come back: a (factor 100 / its limit), and c, whose
    # limit changed (factor None: read point by point); b, at 50 %, stays in the database
    assert sorted(out["crossing"]) == ["pod/shop/a", "pod/shop/c"]
    assert out["crossing"]["pod/shop/a"][1] == pytest.approx(100.0 / (100 << 20))
    assert out["crossing"]["pod/shop/c"][1] is None
    assert out["hits"] == {"pod/shop/a": 95.0}  # c fell to 47.5 % within the window
