"""The log store's second implementation, on a real ClickHouse (Debian's clickhouse-server
18.16, started here on loopback with a throwaway config): the ingest endpoint writes to it,
and search, pages, histogram, context, tenant scope and retention behave as on PostgreSQL."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from monitoring.logs.clickhouse import ClickHouseStore
from monitoring.logs.store import Query

from .conftest import loadgen, send


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
    assert "<mark>fresh</mark> &lt;b&gt;line&lt;/b&gt;" in page and "1 matching line" in page
    _created, dropped = store.maintain()
    assert [day.date() for day in dropped] == [old.date()]
    answer = store._rows(f"SELECT count() AS n FROM {store.table}")
    assert answer == [{"n": "1"}] or answer == [{"n": 1}]
