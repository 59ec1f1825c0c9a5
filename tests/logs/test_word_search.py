"""Free-text word search means the same on every log store: PostgreSQL (full text, websearch
syntax), ClickHouse 18.16 (Debian's server on loopback) and a current ClickHouse engine (the
chdb wheel, in process, when it is installed: it runs the ClickHouse store's own SQL). Whole
words, case-insensitive, AND, `or`, -negation, "phrases"; then the ClickHouse store's every
statement (DDL, inserts, searches, pages, histogram, context, retention) on chdb."""

import tempfile
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from monitoring.logs.clickhouse import ClickHouseError, ClickHouseStore, word_terms
from monitoring.logs.store import PostgresStore, Query

try:
    from chdb import session as chdb_session
except ImportError:  # not a project dependency: `uv pip install chdb` into the venv to run these
    chdb_session = None

needs_chdb = pytest.mark.skipif(
    chdb_session is None,
    reason="chdb is not importable (install it into the venv only: .venv/bin/uv pip install chdb)",
)

MESSAGES = [
    "ERROR payment gateway timeout after 3000ms",  # 0
    "WARN gateway slow, timeout=500",  # 1
    "connection reset by peer",  # 2
    "timeouts are rising",  # 3
    "GET /api/orders 200 12ms",  # 4
    "user_id=42 signed in",  # 5
    "Ünïcode café ready",  # 6
    "数据库 连接 失败",  # 7
    "cache miss for key user:42",  # 8
    "retrying (attempt 3) after Timeout",  # 9
    "it's a tab\there and a 'quote' and a back\\slash",  # 10
]
ALL = set(range(len(MESSAGES)))
CASES = [
    ("timeout", {0, 1, 9}),  # a whole word: not "timeouts"; any case; next to punctuation
    ("time", set()),  # not a prefix
    ("TIMEOUT gateway", {0, 1}),  # AND, any order
    ('"gateway timeout"', {0}),  # a phrase: next to each other, in order
    ('"timeout gateway"', set()),
    ("gateway -slow", {0}),
    ("-timeout", ALL - {0, 1, 9}),
    ("reset or miss", {2, 8}),
    ("reset OR miss -peer", {2, 8}),  # AND binds tighter: reset | (miss & !peer)
    ("reset -peer or miss", {8}),
    ("id=42", {5}),  # punctuation inside a word: its parts as a phrase
    ("user:42", {5, 8}),  # websearch syntax: ":" splits, user AND 42
    ("café", {6}),
    ("CAFÉ ÜNÏCODE", {6}),
    ("连接", {7}),
    ("12ms", {4}),
    ("attempt 3", {9}),
    ('"attempt 3" -"after timeout"', set()),
    ("quote slash", {10}),
    ("back", {10}),
    ("it's", {10}),
    ("!!!", set()),  # no word at all: nothing, as PostgreSQL's empty query
    ("or", set()),
]


def test_the_query_is_read_as_postgresql_reads_it():
    """websearch_to_tsquery('simple', ...) for these gives: 'a' & 'or'; 'or' & 'a';
    'a' | 'or' & 'b'; !'or'; 'a' & !('b' <-> 'c') | 'd' & 'e'; 'id' <-> '123'; 'a'."""
    assert word_terms("a or") == [[(False, ["a"]), (False, ["or"])]]
    assert word_terms("or a") == [[(False, ["or"]), (False, ["a"])]]
    assert word_terms("a or or b") == [[(False, ["a"])], [(False, ["or"]), (False, ["b"])]]
    assert word_terms("-or") == [[(True, ["or"])]]
    assert word_terms('a -"b c" OR d e') == [[(False, ["a"]), (True, ["b", "c"])], [(False, ["d"]), (False, ["e"])]]
    assert word_terms("id=123") == [[(False, ["id", "123"])]]
    assert word_terms("a - ") == [[(False, ["a"])]] and word_terms("- a") == [[(True, ["a"])]]


def rows(cluster_id, now):
    return [
        (now - timedelta(minutes=len(MESSAGES) - n), cluster_id, None, "acme-web", "web", "web-1", "web", "node-1")
        + ("container", "info", "stdout", message)
        for n, message in enumerate(MESSAGES)
    ]


class ChdbStore(ClickHouseStore):
    """The ClickHouse store with its SQL run by chdb (a current ClickHouse engine, in process)
    instead of sent over HTTP: every statement the store makes, unchanged."""

    def __init__(self, session, table):
        super().__init__(url="http://chdb.invalid/", table=table)
        self.session = session

    def _post(self, sql, body=b""):
        text = sql + ("\n" + body.decode() if body else "")
        try:
            return self.session.query(text).bytes()
        except RuntimeError as exc:  # chdb's errors: the engine's message
            raise ClickHouseError(str(exc)[:500]) from None


@pytest.fixture
def chdb_store():
    if chdb_session is None:
        pytest.skip("chdb is not importable (install it into the venv only: .venv/bin/uv pip install chdb)")
    with tempfile.TemporaryDirectory(prefix="chdb-") as path:
        session = chdb_session.Session(path)
        try:
            store = ChdbStore(session, "logs_line")
            store.create()
            yield store
        finally:
            session.close()


@pytest.fixture(params=["postgres", "clickhouse-18.16", pytest.param("chdb", marks=needs_chdb)])
def store(request, db):
    if request.param == "postgres":
        request.getfixturevalue("empty_store")  # what transactional tests before left behind
        store = PostgresStore()
        store.maintain()
        yield store
    elif request.param == "chdb":
        yield request.getfixturevalue("chdb_store")
    else:
        table = f"logs_words_{int(time.time() * 1000)}"
        with override_settings(LOGS_CLICKHOUSE_URL=request.getfixturevalue("clickhouse"), LOGS_CLICKHOUSE_TABLE=table):
            store = ClickHouseStore()
            store.create()
            try:
                yield store
            finally:
                store._post(f"DROP TABLE IF EXISTS {table}")


def test_word_search_means_the_same_on_every_store(store):
    now = datetime.now(UTC).replace(microsecond=0)
    assert store.write(rows(7, now)) == len(MESSAGES)
    wrong = {}
    for words, expected in CASES:
        page = store.search(Query(start=now - timedelta(hours=1), end=now, words=words), limit=100)
        found = {MESSAGES.index(line.message) for line in page.lines}
        if found != expected:
            wrong[words] = {"expected": sorted(expected), "found": sorted(found)}
    assert wrong == {}
    # Words with the other filters, and in the histogram.
    query = Query(start=now - timedelta(hours=1), end=now, words="timeout", scope=[(7, "acme-web")], levels=["info"])
    assert len(store.search(query, limit=100).lines) == 3
    assert sum(n for _start, n in store.histogram(query, buckets=6)[0]) == 3
    assert store.search(Query(start=now - timedelta(hours=1), end=now, words="timeout", scope=[]), limit=9).lines == []


def test_the_clickhouse_sql_runs_on_a_current_engine(chdb_store, settings):
    """Every statement of the ClickHouse store, on chdb's current engine: the DDL, JSONEachRow
    inserts (quotes, tabs, newlines, backslashes, a NULL tenant, non-ASCII), keyset pages,
    scope, filters, substring, histogram, get, context and the retention's partition drop."""
    store = chdb_store
    now = datetime.now(UTC).replace(microsecond=0)
    store.write(rows(7, now))
    batch = [
        (now - timedelta(seconds=30 - n), 8, 3, "globex-shop", "shop", "shop-1", "app", "node-2")
        + ("container", "error" if n % 10 == 0 else "info", "stderr", f"line {n}\nsecond part")
        for n in range(30)
    ]
    old = now - timedelta(days=settings.LOGS_RETENTION_DAYS + 2)
    batch.append((old, 8, 3, "globex-shop", "shop", "shop-1", "app", "node-2", "container", "", "", "ancient"))
    assert store.write(batch) == 31
    hour = {"start": now - timedelta(hours=1), "end": now + timedelta(seconds=1)}

    shop = Query(**hour, scope=[(8, "globex-shop")])
    first = store.search(shop, limit=20)
    assert first.more and first.lines[0].message == "line 29\nsecond part" and first.lines[0].tenant_id == 3
    rest = store.search(shop, limit=20, cursor=first.next_cursor)
    assert not rest.more and len(first.lines) + len(rest.lines) == 30

    assert {line.message for line in store.search(Query(**hour, substring="'QUOTE'"), limit=5).lines} == {MESSAGES[10]}
    assert store.search(Query(**hour, substring="back\\slash"), limit=5).lines[0].tenant_id is None
    assert len(store.search(Query(**hour, levels=["error"], cluster_id=8), limit=50).lines) == 3
    assert [line.message for line in store.search(Query(**hour, words="ÜNÏCODE"), limit=5).lines] == [MESSAGES[6]]

    counts, _width = store.histogram(Query(**hour), buckets=12)
    assert sum(n for _start, n in counts) == len(MESSAGES) + 30

    hit = first.lines[5]
    assert store.get(hit.id, hit.ts, shop).message == hit.message
    around = store.context(hit.id, hit.ts, Query(**hour, scope=[(8, "globex-shop")], pod="shop-1"), before=2, after=2)
    assert [line.message.split("\n")[0] for line in around] == [f"line {n}" for n in range(22, 27)]

    _created, dropped = store.maintain()
    assert [day.date() for day in dropped] == [old.date()]
    assert store._rows(f"SELECT count() AS n FROM {store.table}") in ([{"n": "41"}], [{"n": 41}])
