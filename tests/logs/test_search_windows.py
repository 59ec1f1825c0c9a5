"""PostgresStore.search reads newest first in growing time windows: whatever the windows and
the page size, the pages together are exactly the lines one ORDER BY ts DESC, id DESC query
gives, each once, in that order; lines on a window's edge (and a microsecond either side),
lines sharing one timestamp across a page break, the range's own ends."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.logs import store as store_module
from monitoring.logs.store import PostgresStore, Query

pytestmark = pytest.mark.django_db

US = timedelta(microseconds=1)


def edges(end, first, growth, count):
    """Where the windows of a search ending at `end` begin: end - first, end - first * (1 + growth), ..."""
    out, width, high = [], first, end
    for _ in range(count):
        high -= width
        out.append(high)
        width *= growth
    return out


def row(ts, message, namespace="acme-web", pod="web-1"):
    return (ts, 7, None, namespace, "web", pod, "web", "node-1", "container", "info", "stdout", message)


@pytest.fixture
def store(empty_store):
    store = PostgresStore()
    store.maintain()
    return store


@pytest.fixture
def now():
    # Not at a UTC midnight's doorstep: the lines of one test stay in the partitions maintain() made.
    return datetime.now(UTC).replace(microsecond=500_000)


def reference(query):
    """The lines the search must give, by one plain query (ids, newest first)."""
    where, params = PostgresStore()._where(query)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM logs_line WHERE {where} ORDER BY ts DESC, id DESC", params)
        return [r[0] for r in cursor.fetchall()]


def all_pages(store, query, limit):
    ids, cursor, pages = [], "", 0
    while True:
        page = store.search(query, limit=limit, cursor=cursor)
        assert len(page.lines) <= limit
        ids += [line.id for line in page.lines]
        pages += 1
        if not page.more:
            return ids, pages
        assert len(page.lines) == limit and page.next_cursor
        cursor = page.next_cursor


def seed_edges(store, end):
    """Lines on every window edge of a search ending at `end` and a microsecond either side,
    four lines sharing one timestamp, one at the range's start and one at its end."""
    rows = []
    for n, edge in enumerate(edges(end, store_module.FIRST_WINDOW, store_module.WINDOW_GROWTH, 4)):
        for offset in (-US, timedelta(0), US):
            rows.append(row(edge + offset, f"edge {n} {offset.microseconds}"))
    twins = end - timedelta(minutes=2)
    rows += [row(twins, f"twin {n}") for n in range(4)]
    rows += [row(end - timedelta(minutes=7, seconds=n), f"filler {n}", pod=f"web-{n % 3}") for n in range(30)]
    rows.append(row(end, "at the end: left out"))
    rows.append(row(end - timedelta(hours=12), "at the start: kept"))
    store.write(rows)
    return rows


def test_pages_are_exactly_the_plain_query_across_window_edges(store, now):
    seed_edges(store, now)
    query = Query(start=now - timedelta(hours=12), end=now)
    expected = reference(query)
    assert len(expected) == 12 + 4 + 30 + 1  # the line at the end is out, the one at the start in
    for limit in (1, 2, 3, 4, 5, 7, 11, 100):
        ids, pages = all_pages(store, query, limit)
        assert ids == expected, f"limit {limit}"
        assert pages == -(-len(expected) // limit)  # ceil: the last page says there is no more


def test_the_windows_with_filters_words_and_substrings(store, now):
    rows = seed_edges(store, now)
    store.write([row(ts, message, namespace="globex-shop") for ts, *_middle, message in rows])
    scoped = Query(start=now - timedelta(hours=12), end=now, scope=[(7, "acme-web")])
    for query in (
        scoped,
        Query(start=now - timedelta(hours=12), end=now, scope=[(7, "acme-web")], words="edge"),
        Query(start=now - timedelta(hours=12), end=now, substring="twin"),
        Query(start=now - timedelta(hours=12), end=now, pod="web-1", words="filler or twin"),
    ):
        expected = reference(query)
        assert expected
        for limit in (1, 3, 8, 100):
            assert all_pages(store, query, limit)[0] == expected
    assert len(reference(scoped)) == 47


def test_a_cursor_past_the_range_or_a_narrow_range(store, now):
    seed_edges(store, now)
    # A range narrower than the first window: one query, the same lines.
    narrow = Query(start=now - timedelta(minutes=3), end=now - timedelta(minutes=1))
    assert [line.message for line in store.search(narrow, limit=10).lines] == [f"twin {n}" for n in range(3, -1, -1)]
    # A cursor older than the range's start: nothing more.
    page = store.search(narrow, limit=2)
    assert page.more
    older = store.search(Query(start=now - timedelta(minutes=1), end=now), limit=10, cursor=page.next_cursor)
    assert older.lines == [] and not older.more


def test_the_windows_grow_so_a_wide_range_takes_few_queries(store, now):
    store.write([row(now - timedelta(hours=23), "the only line")])
    query = Query(start=now - timedelta(hours=24), end=now, words="only")
    with CaptureQueriesContext(connection) as queries:
        page = store.search(query, limit=100)
    assert [line.message for line in page.lines] == ["the only line"] and not page.more
    # Where the newest line is, its 5 minutes (nothing there), then the rest of the day at once.
    assert len([q for q in queries.captured_queries if "FROM logs_line" in q["sql"]]) == 3
    # A full page and one more from the first window: the newest line's time, then one window.
    store.write([row(now - timedelta(seconds=n + 1), "only again") for n in range(6)])
    with CaptureQueriesContext(connection) as queries:
        assert len(store.search(query, limit=5).lines) == 5
    assert len([q for q in queries.captured_queries if "FROM logs_line" in q["sql"]]) == 2
    # Lines only an hour back (nothing in the last minutes): found all the same, none twice.
    quiet = Query(start=now - timedelta(hours=24), end=now + timedelta(hours=1), words="only")
    assert [line.message for line in store.search(quiet, limit=10).lines] == ["only again"] * 6 + ["the only line"]
