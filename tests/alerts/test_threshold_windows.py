"""Threshold rules read one summary per series from the database (lowest and highest values
since each rule's start, the newest value), usages paired with their limits there, and only
the series that may cross a threshold come back. Hand-made samples, every case of the rule."""

from datetime import UTC, datetime

import pytest

from monitoring.alerts import evaluate
from monitoring.alerts.models import AlertRule
from monitoring.metrics import query, store
from monitoring.metrics.collect import series_ids
from tests.factories import mk_cluster

pytestmark = pytest.mark.django_db
MIB = 1 << 20
NOW = 1_796_000_000


def write(cluster, samples):
    """samples: {(metric, target): [value at NOW - 60, -45, -30, -15, 0]}."""
    ids = series_ids(cluster.pk, list(samples))
    store.write(
        [
            (ids[key], NOW - 60 + 15 * i, float(value))
            for key, values in samples.items()
            for i, value in enumerate(values)
        ]
    )


def rule(pk, cluster, **fields):
    defaults = {"kind": "threshold", "comparison": ">", "for_seconds": 300, "namespace": "", "app": ""}
    return evaluate.view_of(AlertRule(pk=pk, cluster_id=cluster.pk, **{**defaults, **fields}))


def hits(rules):
    found = evaluate.threshold_hits(rules, evaluate.Scopes(rules), datetime.fromtimestamp(NOW, UTC))
    return {
        pk: {target: round(hit.value, 3) for (_c, target), hit in by_target.items()} for pk, by_target in found.items()
    }


def test_percent_of_limit_below_and_short_durations(english):
    cluster = mk_cluster("c1")
    used, limit = "pod_memory_usage_bytes", "pod_memory_limit_bytes"
    cpu = "pod_cpu_usage_cores"
    write(
        cluster,
        {
            (used, "pod/shop/hot"): [95 * MIB] * 5,  # 95 % all along
            (limit, "pod/shop/hot"): [100 * MIB] * 5,
            (used, "pod/shop/calm"): [50 * MIB] * 5,  # 50 %
            (limit, "pod/shop/calm"): [100 * MIB] * 5,
            (used, "pod/shop/resized"): [95 * MIB] * 5,  # 95 %, then 47.5 % once its limit doubled
            (limit, "pod/shop/resized"): [100 * MIB, 100 * MIB, 200 * MIB, 200 * MIB, 200 * MIB],
            (used, "pod/shop/rising"): [50 * MIB, 50 * MIB, 50 * MIB, 95 * MIB, 95 * MIB],  # 95 % for 15 s
            (limit, "pod/shop/rising"): [100 * MIB] * 5,
            (used, "pod/shop/nolimit"): [500 * MIB] * 5,  # no limit: no percentage
            (cpu, "pod/shop/idle"): [0.05] * 5,
            (cpu, "pod/shop/woke"): [0.05, 0.05, 0.05, 0.05, 0.5],
        },
    )
    rules = [
        rule(1, cluster, metric=used, threshold=90, percent_of_limit=True),  # for the whole window
        rule(2, cluster, metric=used, threshold=90, percent_of_limit=True, for_seconds=20),  # the last 20 s
        rule(3, cluster, metric=cpu, comparison="<", threshold=0.1),
        rule(4, cluster, metric=cpu, comparison=">", threshold=0.4, for_seconds=10),
    ]

    assert hits(rules) == {
        1: {"pod/shop/hot": 95.0},  # resized fell below, rising was not above all along
        2: {"pod/shop/hot": 95.0, "pod/shop/rising": 95.0},
        3: {"pod/shop/idle": 0.05},  # woke is not below any more
        4: {"pod/shop/woke": 0.5},
    }


def test_only_the_series_that_may_cross_come_back_from_the_database():
    cluster = mk_cluster("c1")
    used, limit = "pod_memory_usage_bytes", "pod_memory_limit_bytes"
    write(
        cluster,
        {
            **{(used, f"pod/shop/p{k}"): [(10 + k) * MIB] * 5 for k in range(50)},
            **{(limit, f"pod/shop/p{k}"): [100 * MIB] * 5 for k in range(50)},
            (limit, "pod/shop/p7"): [100 * MIB, 100 * MIB, 100 * MIB, 50 * MIB, 50 * MIB],  # changed: 34 %
        },
    )
    found = query.crossing_windows(
        cluster_id=cluster.pk,
        metric=used,
        limit_metric=limit,
        start=NOW - 60,
        end=NOW,
        sinces=[NOW - 60],
        above=55,  # p46..p49 are at 56..59 %
    )
    assert sorted(found) == ["pod/shop/p46", "pod/shop/p47", "pod/shop/p48", "pod/shop/p49", "pod/shop/p7"]
    window, factor = found["pod/shop/p49"]
    assert (window.count, window.first, window.last, window.value) == (5, NOW - 60, NOW, 59.0 * MIB)
    assert window.value * factor == pytest.approx(59.0)
    assert found["pod/shop/p7"][1] is None  # read point by point by the caller
