"""The sample store: partitions, downsampling, retention and reads at the right resolution."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from monitoring.metrics import query, store
from monitoring.metrics.collect import series_ids
from monitoring.metrics.models import Watermark
from tests.factories import mk_cluster

DAY = store.DAY
NOW = 1_796_000_000 - 1_796_000_000 % DAY + 13 * 3600  # a fixed day, 13:00 UTC


def at(ts):
    return datetime.fromtimestamp(ts, UTC)


@pytest.fixture
def c1(db):
    return mk_cluster("c1")


def ids(cluster, *targets):
    found = series_ids(cluster.pk, [("pod_cpu_usage_cores", t) for t in targets])
    return [found[("pod_cpu_usage_cores", t)] for t in targets]


def count(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table.name}")
        return cursor.fetchone()[0]


def test_raw_samples_roll_up_into_minutes_and_hours(c1):
    (a,) = ids(c1, "pod/shop/a")
    start = NOW - 2 * 3600  # two hours of a sample every 30 s: 1, 2, 3, ...
    store.write([(a, start + i * 30, float(i % 4)) for i in range(240)])
    Watermark.objects.create(name=store.MINUTE.name, done_until=start)
    Watermark.objects.create(name=store.HOUR.name, done_until=start)

    store.downsample(now=NOW)

    minutes = query.read({a: "a"}, at(start), at(NOW), store.MINUTE)["a"]
    assert len(minutes) == 120
    assert {value for _ts, value in minutes} == {0.5, 2.5}  # (0+1)/2, (2+3)/2
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(peak) FROM {store.MINUTE.name}")
        assert cursor.fetchone()[0] == 3
    hours = query.read({a: "a"}, at(start), at(NOW), store.HOUR)["a"]
    assert [(ts.timestamp(), value) for ts, value in hours] == [(start, 1.5), (start + 3600, 1.5)]

    # a second run recomputes the unfinished bucket and nothing else doubles up
    store.write([(a, NOW + 10, 10.0)])
    store.downsample(now=NOW + 20)
    minutes = query.read({a: "a"}, at(NOW), at(NOW + 60), store.MINUTE)["a"]
    assert minutes == [(at(NOW), 10.0)]
    assert count(store.MINUTE) == 121


def test_reads_take_the_finest_table_that_still_holds_the_start(c1):
    (a,) = ids(c1, "pod/shop/a")
    store.write([(a, NOW - 60, 1.0)])
    assert query.table_for(at(NOW - 3600), now=NOW) is store.RAW
    assert query.table_for(at(NOW - 3 * DAY), now=NOW) is store.MINUTE
    assert query.table_for(at(NOW - 30 * DAY), now=NOW) is store.HOUR
    assert query.table_for(at(NOW - 200 * DAY), now=NOW) is store.HOUR


def test_samples_filters_by_namespace_and_target(c1):
    a, b = ids(c1, "pod/shop/a", "pod/bank/b")
    other = mk_cluster("c2")
    (c,) = ids(other, "pod/shop/a")
    now = int(datetime.now(UTC).timestamp())
    store.write([(a, now - 30, 1.0), (a, now, 2.0), (b, now, 5.0), (c, now, 9.0)])
    window = {"start": at(now - 600), "end": at(now + 1), "metric": "pod_cpu_usage_cores"}

    assert query.samples(cluster_id=c1.pk, **window) == {
        "pod/shop/a": [(at(now - 30), 1.0), (at(now), 2.0)],
        "pod/bank/b": [(at(now), 5.0)],
    }
    assert query.samples(cluster_id=c1.pk, namespace="bank", **window) == {"pod/bank/b": [(at(now), 5.0)]}
    assert query.samples(cluster_id=other.pk, target="pod/shop/a", **window) == {"pod/shop/a": [(at(now), 9.0)]}
    assert query.samples(cluster_id=c1.pk, namespace="nope", **window) == {}
    with pytest.raises(KeyError):
        query.samples(cluster_id=c1.pk, **{**window, "metric": "no_such_metric"})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
def test_retention_drops_whole_day_partitions(c1):
    (a,) = ids(c1, "pod/shop/a")
    old_day, yesterday = NOW - 3 * DAY, NOW - DAY
    store.write([(a, old_day, 1.0), (a, yesterday, 2.0), (a, NOW, 3.0)])
    store.ensure_partitions([old_day, NOW], (store.MINUTE,))
    day = lambda ts: ts - ts % DAY  # noqa: E731
    assert {d for _n, d in store.partitions(store.RAW)} >= {day(old_day), day(yesterday), day(NOW)}

    dropped = store.apply_retention(now=NOW)

    raw_days = {d for _n, d in store.partitions(store.RAW)}
    assert day(old_day) not in raw_days and day(yesterday) in raw_days and day(NOW) in raw_days
    assert dropped[store.RAW.name] >= 1
    assert day(old_day) in {d for _n, d in store.partitions(store.MINUTE)}  # minutes are kept a week
    assert [v for _t, v in query.read({a: "a"}, at(old_day - 1), at(NOW + 1), store.RAW)["a"]] == [2.0, 3.0]


def test_creating_partitions_ahead(c1):
    store.create_partitions_ahead(now=NOW, days=2)
    if connection.vendor == "postgresql":
        days = {d for _n, d in store.partitions(store.HOUR)}
        assert {NOW - NOW % DAY + i * DAY for i in range(3)} <= days
