"""The histogram counts exactly while that is quick; when the count would take longer than
HISTOGRAM_EXACT_MS it estimates from a sample of the pages, and the page says "about". The
estimate is checked against the exact count."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from monitoring.logs import store as store_module
from monitoring.logs.store import PostgresStore, Query

pytestmark = pytest.mark.django_db

LINES = 50_000


@pytest.fixture
def busy_hour(empty_store, world):
    """50,000 lines over the last hour, one in four with "timeout", in two tenants' namespaces."""
    store = PostgresStore()
    store.maintain()
    now = datetime.now(UTC)
    cluster_id = world["cluster"].pk
    rows = [
        (now - timedelta(seconds=3600 * (n + 0.5) / LINES), cluster_id, None)
        + ("acme-web" if n % 2 else "globex-shop", "web", f"web-{n % 7}", "web", "node-1", "container", "info")
        + ("stdout", f"payment gateway timeout n={n}" if n % 4 == 0 else f"GET /api/orders 200 n={n}")
        for n in range(LINES)
    ]
    for start in range(0, LINES, 10_000):
        store.write(rows[start : start + 10_000])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs_line")  # the sample's size comes from the partitions' statistics
    return store, now, cluster_id


def test_an_estimate_is_close_to_the_exact_count(busy_hour, monkeypatch):
    store, now, cluster_id = busy_hour
    query = Query(start=now - timedelta(hours=1), end=now + timedelta(seconds=1), words="timeout")
    exact = store.histogram(query, buckets=10)
    assert not exact.estimated
    assert sum(n for _b, n in exact[0]) == LINES // 4
    # Counting 12,500 matches takes longer than 1 ms: the sample (a third of the pages) answers.
    monkeypatch.setattr(store_module, "HISTOGRAM_EXACT_MS", 1)
    monkeypatch.setattr(store_module, "HISTOGRAM_SAMPLE_LINES", LINES // 3)
    estimate = store.histogram(query, buckets=10)
    assert estimate.estimated
    total = sum(n for _b, n in estimate[0])
    assert abs(total - LINES // 4) < 0.15 * LINES // 4, total
    assert estimate[1] == exact[1] and [b for b, _n in estimate[0]] == [b for b, _n in exact[0]]
    assert all(n > 0 for _b, n in estimate[0])  # every bucket of the hour has lines, and shows some
    # The sample keeps the scope: the timeouts are all globex-shop's (n % 4 == 0), none acme-web's.
    scoped = Query(start=query.start, end=query.end, words="timeout", scope=[(cluster_id, "acme-web")])
    assert sum(n for _b, n in store.histogram(scoped, buckets=10)[0]) == 0


def test_the_page_says_about_when_it_estimates(busy_hour, client, world, monkeypatch):
    _store, now, _cluster_id = busy_hour
    hour = {
        "q": "timeout",
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(seconds=1)).isoformat(),
    }
    client.force_login(world["operator"])
    exact = client.get(reverse("logs:histogram"), hour).content.decode()
    caption = re.search(r"<figcaption[^>]*>(.*?)</figcaption>", exact, re.S).group(1)
    assert caption.startswith("12500 matching lines"), caption
    monkeypatch.setattr(store_module, "HISTOGRAM_EXACT_MS", 1)
    monkeypatch.setattr(store_module, "HISTOGRAM_SAMPLE_LINES", LINES // 3)
    body = client.get(reverse("logs:histogram"), hour).content.decode()
    shown = int(re.search(r"about (\d+) matching lines", body).group(1))
    assert abs(shown - 12_500) < 0.15 * 12_500 and shown % 10 == 0  # three significant digits
    assert 'data-testid="histogram-estimated"' in body
