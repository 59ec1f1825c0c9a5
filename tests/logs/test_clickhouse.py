"""The log store's second implementation, on a real ClickHouse (Debian's clickhouse-server
18.16, started here on loopback with a throwaway config): the ingest endpoint writes to it,
and search, pages, histogram, context, tenant scope and retention behave as on PostgreSQL."""

import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from monitoring.logs.clickhouse import ClickHouseStore
from monitoring.logs.store import Query

from .conftest import loadgen, send
from .test_word_search import chdb_store  # noqa: F401 (the fixture: the store's SQL on chdb, when installed)


@pytest.fixture
def store(clickhouse):
    table = f"logs_{int(time.time() * 1000)}"
    with override_settings(LOGS_STORE="clickhouse", LOGS_CLICKHOUSE_URL=clickhouse, LOGS_CLICKHOUSE_TABLE=table):
        store = ClickHouseStore()
        store.create()
        yield store
        store._post(f"DROP TABLE IF EXISTS {table}")


@pytest.mark.django_db
def test_the_ingest_endpoint_writes_to_clickhouse_and_it_searches_the_same(client, world, store):
    base = datetime.now(UTC) - timedelta(minutes=20)
    records = [
        loadgen.container_record("acme-web", "web-1", "web", f"GET /orders/{n} 200", moment=base + timedelta(seconds=n))
        for n in range(150)
    ]
    records += [
        loadgen.container_record("acme-web", "web-1", "web", "ERROR payment gateway timeout", moment=base),
        loadgen.container_record("globex-shop", "shop-1", "shop", "ERROR payment globex's secret", app="shop"),
    ]
    for fmt in ("json", "msgpack"):
        assert (
            send(
                client, world["token"], records[:76] if fmt == "json" else records[76:], fmt, compress=True
            ).status_code
            == 200
        )
    now = datetime.now(UTC)
    acme = [(world["cluster"].pk, "acme-web")]
    everything = Query(start=now - timedelta(hours=1), end=now)
    assert sum(n for _b, n in store.histogram(everything, buckets=12)[0]) == 152
    member = Query(start=now - timedelta(hours=1), end=now, scope=acme)
    first = store.search(member, limit=100)
    assert first.more and first.lines[0].message == "GET /orders/149 200"
    rest = store.search(member, limit=100, cursor=first.next_cursor)
    assert not rest.more and len(first.lines) + len(rest.lines) == 151
    assert {line.id for line in first.lines}.isdisjoint(line.id for line in rest.lines)
    words = store.search(Query(start=now - timedelta(hours=1), end=now, scope=acme, words="payment timeout"), limit=10)
    assert [line.message for line in words.lines] == ["ERROR payment gateway timeout"]
    quoted = store.search(Query(start=now - timedelta(hours=1), end=now, substring="globex's"), limit=10)
    assert [line.tenant_id for line in quoted.lines] == [world["globex"].pk]
    assert store.search(Query(start=now - timedelta(hours=1), end=now, scope=[]), limit=10).lines == []
    hit = first.lines[50]
    around = Query(start=now - timedelta(hours=1), end=now, scope=acme, pod="web-1")
    context = store.context(hit.id, hit.ts, around, before=2, after=2)
    assert [line.message for line in context] == [f"GET /orders/{n} 200" for n in range(97, 102)]
    assert store.get(hit.id, hit.ts, Query(start=hit.ts, end=hit.ts + timedelta(seconds=1), scope=[])) is None


@pytest.mark.django_db
def test_the_search_page_reads_clickhouse_and_retention_drops_old_days(client, world, store, settings):
    old = datetime.now(UTC) - timedelta(days=settings.LOGS_RETENTION_DAYS + 2)
    row = (old, world["cluster"].pk, None, "acme-web", "web", "p", "c", "", "container", "", "", "ancient")
    store.write([row])
    send(client, world["token"], [loadgen.container_record("acme-web", "web-1", "web", "fresh <b>line</b>")])
    client.force_login(world["users"]["acme-dev"])
    page = client.get("/logs/", {"substring": "fresh"}).content.decode()
    assert "<mark>fresh</mark> &lt;b&gt;line&lt;/b&gt;" in page
    assert "1 matching line" in client.get("/logs/histogram/", {"substring": "fresh"}).content.decode()
    _created, dropped = store.maintain()
    assert [day.date() for day in dropped] == [old.date()]
    answer = store._rows(f"SELECT count() AS n FROM {store.table}")
    assert answer == [{"n": "1"}] or answer == [{"n": 1}]


# --- following what commits (the app timeline's store follow) ---------------------------------

SLOW_INSERT = (
    "INSERT INTO {table} (ts, us, id, cluster_id, tenant_id, namespace, app, pod, container, node, source, level, "
    "stream, message) SELECT now(), toUInt64(now()) * 1000000 + number, number + 1, 1, NULL, 'acme-web', 'web', "
    "'web-1', 'web', '', 'container', '', '', concat('slow ', toString(number)) FROM system.numbers "
    "WHERE sleep(0.7) = 0 LIMIT 4"
)


def store_row(message, moment=None, namespace="acme-web"):
    moment = moment or datetime.now(UTC)
    return (moment, 1, None, namespace, "web", "web-1", "web", "", "container", "", "", message)


def followed(store, query, since, deadline_seconds, stop=lambda: False):
    """Poll as the timeline does (horizon, then the lines since the last one) until `stop()` or
    the deadline: [(messages of one poll)], and where it got to."""
    polls, deadline = [], time.monotonic() + deadline_seconds
    while time.monotonic() < deadline and not stop():
        until = store.horizon()
        if until > since:
            polls.append([line.message for line in store.follow(query, since=since, until=until, limit=1000)])
            since = until
        time.sleep(0.2)
    return polls, since


def test_clickhouse_follows_each_committed_line_once_and_none_of_an_insert_still_running(store):
    """ClickHouse has no transactions: the follow walks the server's clock stamped on each block
    (`received`), up to a horizon held back by the INSERTs still running. An INSERT that writes
    its blocks over three seconds (each visible as it is written) is followed only once it has
    ended, and then whole; every line comes once."""
    since = store.horizon()
    now = datetime.now(UTC)
    query = Query(start=now - timedelta(minutes=30), end=now + timedelta(minutes=5), scope=[(1, "acme-web")])
    store.write([store_row("before 1"), store_row("before 2"), store_row("another namespace", namespace="x")])
    slow_done = threading.Event()

    def slow_insert():
        # each row its own block: stamped and made visible one after the other, 0.7 s apart
        settings = "max_block_size=1&min_insert_block_size_rows=1&min_insert_block_size_bytes=1"
        request = urllib.request.Request(
            f"{store.url}?{settings}", data=SLOW_INSERT.format(table=store.table).encode(), method="POST"
        )
        try:
            urllib.request.urlopen(request, timeout=30).read()
        finally:
            slow_done.set()

    slow = threading.Thread(target=slow_insert)
    slow.start()
    time.sleep(0.3)
    store.write([store_row("during")])
    seen_while_running = []

    def check():
        visible = store._rows(f"SELECT count() AS n FROM {store.table} WHERE startsWith(message, 'slow')")
        seen_while_running.append(int(visible[0]["n"]))
        return slow_done.is_set()

    polls, since = followed(store, query, since, 20, stop=check)
    slow.join()
    assert max(seen_while_running) >= 1  # blocks of the running INSERT were visible...
    assert all("slow" not in message for poll in polls for message in poll)  # ...and not followed yet
    later, _since = followed(store, query, since, 4)
    got = [message for poll in polls + later for message in poll]
    assert sorted(got) == ["before 1", "before 2", "during", "slow 0", "slow 1", "slow 2", "slow 3"]


def test_a_table_made_before_the_follow_gets_its_column_and_its_old_lines_are_not_followed_again(clickhouse):
    table = f"logs_old_{int(time.time() * 1000)}"
    old = ClickHouseStore(url=clickhouse, table=table)
    old._post(monitoring_schema_without_received(table))
    try:
        old._post(
            f"INSERT INTO {table} FORMAT JSONEachRow",
            b'{"ts":%d,"us":%d,"id":1,"cluster_id":1,"tenant_id":null,"namespace":"acme-web","app":"web",'
            b'"pod":"web-1","container":"web","node":"","source":"","level":"","stream":"","message":"old"}'
            % (int(time.time()), int(time.time() * 1_000_000)),
        )
        store = ClickHouseStore(url=clickhouse, table=table)
        since = store.horizon()
        store.create()
        store.create()  # again: nothing to add
        store.write([store_row("new")])
        now = datetime.now(UTC)
        query = Query(start=now - timedelta(minutes=30), end=now + timedelta(minutes=5))
        polls, _since = followed(store, query, since, 3)
        assert [message for poll in polls for message in poll] == ["new"]
        assert len(store.search(query, limit=10).lines) == 2  # the old line is still searched
    finally:
        old._post(f"DROP TABLE IF EXISTS {table}")


def monitoring_schema_without_received(table):
    from monitoring.logs.clickhouse import SCHEMA

    return SCHEMA.format(table=table).replace(",\n    received DateTime MATERIALIZED now()", "")


def test_the_follow_sql_runs_on_a_current_engine(chdb_store):  # noqa: F811 (the fixture imported above)
    """horizon() and follow() (and the `received` column) on chdb's current ClickHouse engine."""
    store = chdb_store
    since = store.horizon()
    store.write([store_row("one"), store_row("two")])
    now = datetime.now(UTC)
    query = Query(start=now - timedelta(minutes=30), end=now + timedelta(minutes=5), scope=[(1, "acme-web")])
    polls, _since = followed(store, query, since, 3)
    assert sorted(message for poll in polls for message in poll) == ["one", "two"]
    old = store.search(query, limit=10).lines
    assert store.follow(query, since=since, until=since + 3600, exclude=[old[0].id], limit=10) == [old[1]]
