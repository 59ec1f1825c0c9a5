"""The log store on ClickHouse, over its HTTP interface (no client library: plain HTTP and
JSONEachRow). For when one PostgreSQL is not enough: ClickHouse compresses log lines about
ten-fold and scans hundreds of millions of them per second per core.

Written for the oldest server the project tests against, Debian's clickhouse-server 18.16 (no
DateTime64, no data-skipping indexes, no TTL, no query parameters), in SQL current ClickHouse
runs as well: the time is a DateTime (partitions by UTC day) plus epoch microseconds for
order; retention drops whole day partitions; values are quoted here with ClickHouse's string
escapes. Substrings are case-insensitive `positionCaseInsensitiveUTF8` scans and words whole-word
regular expressions (see words_condition) over the (cluster, namespace, time)-ordered parts the
time range selects.
"""

import json
import random
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from django.conf import settings

from .store import EPOCH, Histogram, Line, LogStore, Page, StoreBusy, parse_cursor, utc_day

SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    ts DateTime,
    us UInt64,
    id UInt64,
    cluster_id UInt32,
    tenant_id Nullable(UInt32),
    namespace String,
    app String,
    pod String,
    container String,
    node String,
    source String,
    level String,
    stream String,
    message String,
    received DateTime MATERIALIZED now()
) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(ts) ORDER BY (cluster_id, namespace, us, id)
"""
# The server's clock when a block of lines was written: how the timeline follows what commits
# (ClickHouseStore.horizon). MATERIALIZED: no insert can set it, and 18.16 fills a DEFAULT column
# left out of a JSONEachRow row with the type's zero instead of its expression.
RECEIVED = "received DateTime MATERIALIZED now()"
FIELDS = "id, us, cluster_id, tenant_id, namespace, app, pod, container, node, source, level, stream, message"


class ClickHouseError(Exception):
    pass


def quote(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def micros(moment):
    return (moment - EPOCH) // timedelta(microseconds=1)


class ClickHouseStore(LogStore):
    def __init__(self, url=None, table=None, timeout=None):
        self.url = (url or settings.LOGS_CLICKHOUSE_URL).rstrip("/") + "/"
        self.table = table or settings.LOGS_CLICKHOUSE_TABLE
        self.timeout = timeout or settings.LOGS_INGEST_DB_TIMEOUT_SECONDS

    # --- HTTP -----------------------------------------------------------------------

    def _post(self, sql, body=b""):
        data = sql.encode() + (b"\n" + body if body else b"")
        request = urllib.request.Request(self.url, data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise ClickHouseError(exc.read().decode("utf-8", "replace")[:500]) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise StoreBusy(f"ClickHouse: {exc}") from None

    def _rows(self, sql):
        answer = self._post(sql + " FORMAT JSONEachRow")
        return [json.loads(line) for line in answer.splitlines() if line.strip()]

    def create(self):
        self._post(SCHEMA.format(table=self.table))
        columns = self._rows(
            f"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {quote(self.table)}"
        )
        if "received" not in {row["name"] for row in columns}:
            # A table made before the timeline followed ClickHouse (18.16 has no ADD COLUMN IF NOT
            # EXISTS). Its older lines read `received` as the moment they are read, always after a
            # horizon, so the follow never sends them: they were in the archive already.
            self._post(f"ALTER TABLE {self.table} ADD COLUMN {RECEIVED}")

    # --- writing --------------------------------------------------------------------

    def write(self, rows):
        if not rows:
            return 0
        out = []
        for ts, cluster_id, tenant_id, namespace, app, pod, container, node, source, level, stream, message in rows:
            out.append(
                json.dumps(
                    {
                        "ts": int(ts.timestamp()),
                        "us": micros(ts),
                        "id": random.getrandbits(63),
                        "cluster_id": cluster_id,
                        "tenant_id": tenant_id,
                        "namespace": namespace,
                        "app": app,
                        "pod": pod,
                        "container": container,
                        "node": node,
                        "source": source,
                        "level": level,
                        "stream": stream,
                        "message": message,
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
        try:
            self._post(f"INSERT INTO {self.table} FORMAT JSONEachRow", "\n".join(out).encode())
        except ClickHouseError as exc:
            raise StoreBusy(str(exc)) from exc
        return len(rows)

    # --- reading --------------------------------------------------------------------

    def _where(self, query):
        start, end = utc_day(query.start), query.end
        clauses = [
            f"ts >= toDateTime({int(start.timestamp())})",  # prunes day partitions
            f"ts <= toDateTime({int(end.timestamp()) + 1})",
            f"us >= {micros(query.start)}",
            f"us < {micros(query.end)}",
        ]
        if query.scope is not None:
            if not query.scope:
                clauses.append("0")
            else:
                pairs = ", ".join(f"({int(c)}, {quote(n)})" for c, n in query.scope)
                clauses.append(f"(cluster_id, namespace) IN ({pairs})")
        for column in ("cluster_id", "tenant_id"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = {int(value)}")
        for column in ("namespace", "app", "pod", "container", "source"):
            value = getattr(query, column)
            if value:
                clauses.append(f"{column} = {quote(value)}")
        if query.levels:
            clauses.append(f"level IN ({', '.join(quote(level) for level in query.levels)})")
        if query.words:
            clauses.append(words_condition(query.words))
        if query.substring:
            clauses.append(f"positionCaseInsensitiveUTF8(message, {quote(query.substring)}) > 0")
        return " AND ".join(clauses)

    def _lines(self, sql):
        return [
            Line(
                id=int(row["id"]),
                ts=EPOCH + timedelta(microseconds=int(row["us"])),
                cluster_id=int(row["cluster_id"]),
                tenant_id=None if row["tenant_id"] is None else int(row["tenant_id"]),
                namespace=row["namespace"],
                app=row["app"],
                pod=row["pod"],
                container=row["container"],
                node=row["node"],
                source=row["source"],
                level=row["level"],
                stream=row["stream"],
                message=row["message"],
            )
            for row in self._rows(sql)
        ]

    def search(self, query, *, limit, cursor=""):
        where = self._where(query)
        position = parse_cursor(cursor)
        if position:
            at, ident = micros(position[0]), position[1]
            where += f" AND (us < {at} OR (us = {at} AND id < {int(ident)}))"
        lines = self._lines(
            f"SELECT {FIELDS} FROM {self.table} WHERE {where} ORDER BY us DESC, id DESC LIMIT {int(limit) + 1}"
        )
        from .store import make_cursor

        more = len(lines) > limit
        lines = lines[:limit]
        return Page(lines, more, make_cursor(lines[-1]) if more and lines else "")

    def histogram(self, query, *, buckets):
        width = max((query.end - query.start) / buckets, timedelta(seconds=1))
        width_us = width // timedelta(microseconds=1)
        start_us = micros(query.start)
        rows = self._rows(
            f"SELECT intDiv(us - {start_us}, {width_us}) AS bucket, count() AS n FROM {self.table} "
            f"WHERE {self._where(query)} GROUP BY bucket"
        )
        counts = {int(row["bucket"]): int(row["n"]) for row in rows}
        return Histogram([(query.start + width * n, counts.get(n, 0)) for n in range(buckets)], width)

    def get(self, line_id, ts, query):
        lines = self._lines(
            f"SELECT {FIELDS} FROM {self.table} WHERE {self._where(query)} AND id = {int(line_id)} "
            f"AND us = {micros(ts)} LIMIT 1"
        )
        return lines[0] if lines else None

    def context(self, line_id, ts, query, *, before, after):
        where, at, ident = self._where(query), micros(ts), int(line_id)
        older = self._lines(
            f"SELECT {FIELDS} FROM {self.table} WHERE {where} AND (us < {at} OR (us = {at} AND id <= {ident})) "
            f"ORDER BY us DESC, id DESC LIMIT {int(before) + 1}"
        )
        newer = self._lines(
            f"SELECT {FIELDS} FROM {self.table} WHERE {where} AND (us > {at} OR (us = {at} AND id > {ident})) "
            f"ORDER BY us, id LIMIT {int(after)}"
        )
        return list(reversed(older)) + newer

    # --- following: each committed line once ------------------------------------------
    # ClickHouse has no transactions and no sequence; the ids are random. What it has: each block
    # of an INSERT (up to max_insert_block_size rows, a whole ingest batch here) becomes visible at
    # once, as one part, and `received` (MATERIALIZED now()) stamps the block with the server's
    # clock, in whole seconds, while the INSERT runs: after it shows in system.processes. So a
    # horizon is a whole second H such that every block stamped before H is visible: the server's
    # now() (H can only be later than the stamps of inserts that are done and visible), lowered to
    # the start of the oldest INSERT still running (its blocks, stamped since it started, may not
    # all be visible yet), less one second (for a stamp taken in the second it registered). Each
    # poll returns the lines stamped in [previous horizon, new horizon): every line once, as soon
    # as its INSERT has ended.
    # When it can miss a line: the server's clock stepping back (a stamp below a horizon already
    # passed), or INSERTs this server does not list in its system.processes (several replicas
    # behind one address, or inserts into another server's shard of a Distributed table): point
    # LOGS_CLICKHOUSE_URL at one server that takes the inserts. Lines of a table made before this
    # column existed are not followed (see create).

    def horizon(self):
        row = self._rows(
            "SELECT toUInt32(now()) AS now, max(elapsed) AS busy FROM system.processes "
            "WHERE lower(substring(replaceRegexpAll(query, '^\\\\s+', ''), 1, 6)) = 'insert'"
        )[0]
        return int(int(row["now"]) - float(row["busy"] or 0)) - 1

    def follow(self, query, *, since, until, exclude=(), limit):
        """The lines stamped in [since, until) (horizons), oldest first."""
        where = self._where(query)
        where += f" AND received >= toDateTime({int(since)}) AND received < toDateTime({int(until)})"
        if exclude:
            where += f" AND id NOT IN ({', '.join(str(int(ident)) for ident in exclude)})"
        return self._lines(f"SELECT {FIELDS} FROM {self.table} WHERE {where} ORDER BY us, id LIMIT {int(limit)}")

    # --- partitions -----------------------------------------------------------------

    def partitions(self):
        """Days are made as lines arrive; the bounds the ingest uses are the retention's."""
        today = utc_day(datetime.now(UTC))
        oldest = today - timedelta(days=settings.LOGS_RETENTION_DAYS - 1)
        return [oldest + timedelta(days=n) for n in range((today - oldest).days + settings.LOGS_PARTITIONS_AHEAD + 1)]

    def maintain(self, now=None):
        today = utc_day(now or datetime.now(UTC))
        oldest = today - timedelta(days=settings.LOGS_RETENTION_DAYS - 1)
        parts = self._rows(
            f"SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() "
            f"AND table = {quote(self.table)} AND active"
        )
        dropped = []
        for row in parts:
            day = datetime.strptime(str(row["partition"]), "%Y%m%d").replace(tzinfo=UTC)
            if day < oldest:
                self._post(f"ALTER TABLE {self.table} DROP PARTITION {int(row['partition'])}")
                dropped.append(day)
        return [], sorted(dropped)


# --- words -------------------------------------------------------------------------------
# The PostgreSQL store matches `to_tsvector('simple', message) @@ websearch_to_tsquery('simple',
# words)`: whole words, case-insensitively; words in a row must all be there (AND), `or` between
# two of them is OR, -word must not be there, "a quoted phrase" is its words next to each other
# in that order; a word with punctuation inside (id=42) is such a phrase, except at tsquery's
# operator characters (user:7 is user AND 7). Here the same
# query becomes regular expressions over the lower-cased line: a word is a run of letters and
# digits (PostgreSQL's parser splits at everything else, `_` too), so a term matches where its
# words stand between non-letters (or the line's ends) with only non-letters between them.
# Where PostgreSQL's parser keeps a compound as one token (a path /api/orders, a host
# api.example.com, a version 1.2.3), it matches only the whole compound; here its parts match
# too. Written for 18.16: no hasToken, no multiSearch; its (?i) flag is not honoured by the
# substring pre-check, hence lowerUTF8 (one evaluation per query, shared by the terms).

_WORD = re.compile(r"[^\W_]+")
_ITEM = re.compile(r'(-*)"([^"]*)"?|(\S+)')
_SPLIT = re.compile(r"[&|!()<:]+")
_BOUND = "[^\\pL\\pN]"
OR = "or"


def word_terms(text):
    """A websearch query as OR-groups of AND-ed terms: [[(negated, [word, ...]), ...], ...],
    read as PostgreSQL's websearch_to_tsquery reads it (terms without any word are left out;
    a leading or trailing `or`, or a second one in a row, is a word)."""
    pieces = []  # (dashes, text, quoted)
    for dashes, quoted, bare in _ITEM.findall(text or ""):
        if bare:
            # Outside quotes, websearch_to_tsquery splits at tsquery's operator characters:
            # user:42 is user AND 42 (id=42 stays the phrase id 42).
            for n, part in enumerate(_SPLIT.split(bare)):
                stripped = part.lstrip("-") if n == 0 else part
                pieces.append((part[: len(part) - len(stripped)], stripped, False))
        else:
            pieces.append((dashes, quoted, True))
    items, negate = [], False
    for dashes, piece, quoted in pieces:
        negate ^= len(dashes) % 2 == 1
        if not piece:
            continue  # a lone "-": negates what follows
        if not quoted and not dashes and not negate and piece.lower() == OR:
            items.append(OR)
            continue
        words = _WORD.findall(piece.lower())
        if words:
            items.append((negate, words))
        negate = False
    groups, current, after_term = [], [], False
    for n, item in enumerate(items):
        if item == OR:
            if after_term and n + 1 < len(items):
                groups.append(current)
                current, after_term = [], False
                continue
            item = (False, [OR])
        current.append(item)
        after_term = True
    if current:
        groups.append(current)
    return groups


def word_pattern(words):
    """The RE2 pattern of one term over a lower-cased line."""
    return f"(^|{_BOUND})" + f"{_BOUND}+".join(re.escape(word) for word in words) + f"($|{_BOUND})"


def words_condition(text):
    """SQL for a websearch query (see above); a query without any word matches nothing, as
    PostgreSQL's empty tsquery does."""
    groups = word_terms(text)
    if not groups:
        return "0"
    ors = []
    for group in groups:
        ands = []
        for negated, words in group:
            test = f"match(lowerUTF8(message), {quote(word_pattern(words))})"
            ands.append(f"NOT {test}" if negated else test)
        ors.append("(" + " AND ".join(ands) + ")")
    return ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")"
