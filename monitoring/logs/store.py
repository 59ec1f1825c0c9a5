"""The log store: one interface (LogStore), implemented on PostgreSQL here.

PostgreSQL keeps the lines in `logs_line`, range-partitioned by day on `ts` (UTC days): a
search names a time range, so it only ever reads the partitions of that range, and
retention drops whole partitions instead of deleting rows. Writes are one COPY per batch,
inside a transaction whose statement_timeout makes a slow database answer "later" (the
ingest endpoint turns that into 429 + Retry-After) instead of holding the collector.
Words are searched with a GIN full-text index (`simple` configuration: log lines are not
prose in one language), substrings with a pg_trgm GIN index.
"""

import io
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.utils import OperationalError
from psycopg2.errors import QueryCanceled

COLUMNS = (
    "ts",
    "cluster_id",
    "tenant_id",
    "namespace",
    "app",
    "pod",
    "container",
    "node",
    "source",
    "level",
    "stream",
    "message",
)
SELECT = "id, " + ", ".join(COLUMNS)
PARTITION_PREFIX = "logs_line_p"
FIRST_WINDOW = timedelta(minutes=5)  # search(): the newest window, then at least WINDOW_GROWTH times wider each
WINDOW_GROWTH = 4
HISTOGRAM_EXACT_MS = 700  # histogram(): past this, an estimate from a sample of HISTOGRAM_SAMPLE_LINES lines
HISTOGRAM_SAMPLE_LINES = 100_000


class StoreBusy(Exception):
    """The store cannot take the batch now (slow or saturated): try again later."""


@dataclass(frozen=True)
class Line:
    id: int
    ts: datetime
    cluster_id: int
    tenant_id: int | None
    namespace: str
    app: str
    pod: str
    container: str
    node: str
    source: str
    level: str
    stream: str
    message: str


@dataclass
class Query:
    """What a search asks for. `scope` is None for people who see every namespace, else the
    (cluster id, namespace) pairs the reader may see (an empty list: nothing)."""

    start: datetime
    end: datetime
    scope: list | None = None
    cluster_id: int | None = None
    tenant_id: int | None = None
    namespace: str = ""
    app: str = ""
    pod: str = ""
    container: str = ""
    source: str = ""
    levels: list = field(default_factory=list)
    words: str = ""  # full text: websearch syntax ("a b", "a or b", -a, "exact phrase")
    substring: str = ""


class Histogram(tuple):
    """(counts, width) as every store gives them: counts are [(bucket start, lines)]. `estimated`
    when the counts come from a sample (PostgresStore.histogram)."""

    def __new__(cls, counts, width, *, estimated=False):
        histogram = super().__new__(cls, (counts, width))
        histogram.estimated = estimated
        return histogram


@dataclass
class Page:
    lines: list
    more: bool
    next_cursor: str = ""


def escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def utc_day(moment):
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class LogStore:
    """What the console needs from a log store."""

    def write(self, rows):
        """Store rows (tuples in COLUMNS order) durably, or raise StoreBusy. Returns the count."""
        raise NotImplementedError

    def search(self, query, *, limit, cursor=""):
        """Newest first, keyset-paged: a Page whose next_cursor continues after its last line."""
        raise NotImplementedError

    def histogram(self, query, *, buckets):
        """([(bucket start, count)], bucket width) over the query's time range, `buckets` equal
        buckets; a Histogram with `estimated` set when the counts are an estimate."""
        raise NotImplementedError

    def context(self, line_id, ts, query, *, before, after):
        """The lines of the same pod and container around one line, oldest first."""
        raise NotImplementedError

    def since(self, query, *, after_id, limit):
        """Lines newer than `after_id` (oldest first): how a timeline follows the archive."""
        raise NotImplementedError


class PostgresStore(LogStore):
    def write(self, rows):
        if not rows:
            return 0
        buffer = io.BytesIO(copy_bytes(rows))
        timeout = str(int(settings.LOGS_INGEST_DB_TIMEOUT_SECONDS * 1000))
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                    [timeout, timeout],
                )
                with connection.wrap_database_errors:  # psycopg2's errors as Django's, as execute() does
                    cursor.copy_expert(f"COPY logs_line ({', '.join(COLUMNS)}) FROM STDIN", buffer)
        except OperationalError as exc:
            # statement_timeout / lock_timeout (QueryCanceled), too many connections, ...
            raise StoreBusy(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from exc
        return len(rows)

    # --- reading ----------------------------------------------------------------------

    def _where(self, query):
        clauses = ["ts >= %s", "ts < %s"]
        params = [query.start, query.end]
        if query.scope is not None:
            if not query.scope:
                clauses.append("false")
            elif len(query.scope) <= 100:
                # Written out, the planner sees how few namespaces these are and walks their
                # (cluster, namespace, ts) index newest first instead of matching the whole range.
                clauses.append(f"(cluster_id, namespace) IN ({', '.join(['(%s, %s)'] * len(query.scope))})")
                params += [value for pair in query.scope for value in pair]
            else:
                clauses.append("(cluster_id, namespace) IN (SELECT * FROM unnest(%s::int[], %s::text[]))")
                params += [[c for c, _ in query.scope], [n for _, n in query.scope]]
        for column in ("cluster_id", "tenant_id"):
            value = getattr(query, column)
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        for column in ("namespace", "app", "pod", "container", "source"):
            value = getattr(query, column)
            if value:
                clauses.append(f"{column} = %s")
                params.append(value)
        if query.levels:
            clauses.append("level = ANY(%s)")
            params.append(list(query.levels))
        if query.words:
            clauses.append("to_tsvector('simple', message) @@ websearch_to_tsquery('simple', %s)")
            params.append(query.words)
        if query.substring:
            clauses.append("message ILIKE %s")
            params.append(f"%{escape_like(query.substring)}%")
        return " AND ".join(clauses), params

    def search(self, query, *, limit, cursor=""):
        """Newest first in growing time windows (FIRST_WINDOW, then wider), each asking only for
        what the page still lacks, until the page is full or the range is done. The planner's
        guess of how many lines match (words ANDed as if independent, ILIKE) is often far off,
        and over a wide range a wrong guess fetches every match of the day from the full-text
        or trigram index to keep 100; inside a narrow window even a wrong plan is cheap, so
        common matches fill the page from the first window, and rare ones (the first window
        finds none) go on with the rest of the range in one query. Windows are half-open
        [low, high) and each ends where the one before began: no line is read twice or skipped."""
        position = parse_cursor(cursor)
        high = query.end
        if position:
            high = min(high, position[0] + timedelta(microseconds=1))  # ts <= the cursor's: (ts, id) sorts it out
        lines, width, rare = [], FIRST_WINDOW, False
        with transaction.atomic(), connection.cursor() as cursor:
            no_jit(cursor)
            if query.words or query.substring:
                # The windows start at the newest line the reader may see (one step back along a
                # btree): minutes without lines at the top of the range are no sign of rare matches.
                where, params = self._where(replace(query, end=high, words="", substring=""))
                cursor.execute(f"SELECT max(ts) FROM logs_line WHERE {where}", params)
                newest = cursor.fetchone()[0]
                high = min(high, newest + timedelta(microseconds=1)) if newest else query.start
            while high > query.start and len(lines) <= limit:
                low = max(query.start, high - width)
                where, params = self._where(replace(query, start=low, end=high))
                if position and high > position[0]:
                    where += " AND (ts, id) < (%s, %s)"
                    params += list(position)
                if rare:
                    # Rare matches: from the indexes that find them (full text, trigrams, with the
                    # namespace), not a newest-first walk. The planner takes words and namespace as
                    # independent and would walk a namespace's every line to find none.
                    cursor.execute(
                        "SELECT current_setting('enable_indexscan'), set_config('enable_indexscan', 'off', true)"
                    )
                    walk = cursor.fetchone()[0]
                cursor.execute(
                    f"SELECT {SELECT} FROM logs_line WHERE {where} ORDER BY ts DESC, id DESC LIMIT %s",
                    params + [limit + 1 - len(lines)],
                )
                found = [Line(*row) for row in cursor.fetchall()]
                lines += found
                if rare:  # this search's only: not the rest of an enclosing transaction's
                    cursor.execute("SELECT set_config('enable_indexscan', %s, true)", [walk])
                # The next window: WINDOW_GROWTH times wider, or as wide as the lines found so far
                # say the rest of the page needs; none found in a window with words or a substring:
                # rare matches, the rest of the range at once.
                needed = limit + 1 - len(lines)
                if found:
                    width = max(width * WINDOW_GROWTH, width * 2 * needed / len(found))
                elif query.words or query.substring:
                    width, rare = low - query.start, True
                else:
                    width = width * WINDOW_GROWTH
                high = low
        more = len(lines) > limit
        lines = lines[:limit]
        next_cursor = make_cursor(lines[-1]) if more and lines else ""
        return Page(lines, more, next_cursor)

    def histogram(self, query, *, buckets):
        """Exact counts when they take less than HISTOGRAM_EXACT_MS. Past that (hundreds of
        thousands of matches over a wide range: every matching line's page is read), counts
        from a sample of the range's pages scaled up, marked `estimated` (the page says
        "about"): one in a hundred pages of ten million lines gives the shape and the total
        to a few percent in a fraction of the time."""
        where, params = self._where(query)
        width = max((query.end - query.start) / buckets, timedelta(seconds=1))

        def counting(sample=""):
            return (
                f"SELECT date_bin(%s, ts, %s) AS bucket, count(*) FROM logs_line{sample} WHERE {where} GROUP BY bucket"
            )

        estimated = False
        with transaction.atomic(), connection.cursor() as cursor:
            no_jit(cursor)
            try:
                with transaction.atomic():  # a savepoint: after a cancelled count the transaction goes on
                    cursor.execute(
                        "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                        [str(HISTOGRAM_EXACT_MS)],
                    )
                    before = cursor.fetchone()[0]
                    cursor.execute(counting(), [width, query.start, *params])
                    counts = dict(cursor.fetchall())
                    # the timeout is this count's only: not the rest of an enclosing transaction's
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
            except OperationalError as exc:
                if not isinstance(exc.__cause__, QueryCanceled):
                    raise
                percent = self._sample_percent(cursor, query)
                cursor.execute(
                    counting(" TABLESAMPLE SYSTEM (%s) REPEATABLE (0)"),
                    [width, query.start, percent, *params],
                )
                counts = {bucket: round(n * 100 / percent) for bucket, n in cursor.fetchall()}
                estimated = True
        counts = [(query.start + width * n, counts.get(query.start + width * n, 0)) for n in range(buckets)]
        return Histogram(counts, width, estimated=estimated)

    def _sample_percent(self, cursor, query):
        """The share of pages (percent) that holds about HISTOGRAM_SAMPLE_LINES lines of the
        range's day partitions (as of their last ANALYZE; never analyzed: all of them)."""
        days, day = [], utc_day(query.start)
        while day < query.end:
            days.append(partition_name(day))
            day += timedelta(days=1)
        cursor.execute(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs_line'::regclass AND c.relname = ANY(%s)",
            [days],
        )
        lines = cursor.fetchone()[0]
        return min(100.0, 100.0 * HISTOGRAM_SAMPLE_LINES / lines) if lines else 100.0

    def context(self, line_id, ts, query, *, before, after):
        where, params = self._where(query)
        older = self._fetch(
            f"SELECT {SELECT} FROM logs_line WHERE {where} AND (ts, id) <= (%s, %s) ORDER BY ts DESC, id DESC LIMIT %s",
            params + [ts, line_id, before + 1],
        )
        newer = self._fetch(
            f"SELECT {SELECT} FROM logs_line WHERE {where} AND (ts, id) > (%s, %s) ORDER BY ts, id LIMIT %s",
            params + [ts, line_id, after],
        )
        return list(reversed(older)) + newer

    def since(self, query, *, after_id, limit):
        where, params = self._where(query)
        return self._fetch(
            f"SELECT {SELECT} FROM logs_line WHERE {where} AND id > %s ORDER BY ts, id LIMIT %s",
            params + [after_id, limit],
        )

    # --- following: each committed line exactly once -----------------------------------
    # Ids come from a sequence, so concurrent batches commit out of id order and "id > last"
    # would miss a batch that committed late. The follower walks transaction ids instead: a
    # horizon is the oldest transaction still running in this database (or the next one to
    # start), every line written below it is committed, and each poll returns the lines
    # written in [previous horizon, new horizon). Transaction ids are 32 bits and wrap: the
    # window is compared modulo 2^32. Other databases on the same server do not hold it back;
    # a long transaction in the console's own database delays the follower until it ends.

    def horizon(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce((SELECT backend_xid::text::bigint FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
                "ORDER BY age(backend_xid) DESC LIMIT 1), "
                "pg_snapshot_xmax(pg_current_snapshot())::text::bigint %% 4294967296)",
                [],
            )
            return cursor.fetchone()[0]

    def follow(self, query, *, since, until, exclude=(), limit):
        where, params = self._where(query)
        sql = (
            f"SELECT {SELECT} FROM logs_line WHERE {where} "
            "AND ((xmin::text::bigint - %s) %% 4294967296 + 4294967296) %% 4294967296 < %s"
        )
        params += [since, (until - since) % 4294967296]
        if exclude:
            sql += " AND NOT (id = ANY(%s))"
            params.append(list(exclude))
        return self._fetch(sql + " ORDER BY ts, id LIMIT %s", params + [limit])

    def get(self, line_id, ts, query):
        where, params = self._where(query)
        rows = self._fetch(
            f"SELECT {SELECT} FROM logs_line WHERE {where} AND id = %s AND ts = %s", params + [line_id, ts]
        )
        return rows[0] if rows else None

    def _fetch(self, sql, params):
        with transaction.atomic(), connection.cursor() as cursor:
            no_jit(cursor)
            cursor.execute(sql, params)
            return [Line(*row) for row in cursor.fetchall()]

    # --- partitions -------------------------------------------------------------------

    def partitions(self):
        """The days (UTC midnights) that have a partition, oldest first."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'logs_line'"
            )
            names = sorted(row[0] for row in cursor.fetchall() if row[0].startswith(PARTITION_PREFIX))
        return [datetime.strptime(name[len(PARTITION_PREFIX) :], "%Y%m%d").replace(tzinfo=UTC) for name in names]

    def maintain(self, now=None):
        """Partitions from the retention horizon to LOGS_PARTITIONS_AHEAD days ahead; older ones dropped.
        Returns (created, dropped) day lists."""
        today = utc_day(now or datetime.now(UTC))
        oldest = today - timedelta(days=settings.LOGS_RETENTION_DAYS - 1)
        wanted = [oldest + timedelta(days=n) for n in range((today - oldest).days + settings.LOGS_PARTITIONS_AHEAD + 1)]
        existing = set(self.partitions())
        created, dropped = [], []
        with connection.cursor() as cursor:
            for day in existing:
                if day < oldest:
                    cursor.execute(f"DROP TABLE IF EXISTS {partition_name(day)}")
                    dropped.append(day)
            for day in wanted:
                if day not in existing:
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF logs_line "
                        "FOR VALUES FROM (%s) TO (%s)",
                        [day, day + timedelta(days=1)],
                    )
                    created.append(day)
        return created, dropped


def no_jit(cursor):
    """For this transaction: the planner's cost estimates over millions of lines switch JIT
    compilation on, which costs 20-40 ms per search and gains nothing for queries that stop at
    a page of lines."""
    cursor.execute("SELECT set_config('jit', 'off', true)")


def partition_name(day):
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


_SURROGATES = re.compile("[\ud800-\udfff]")


def copy_bytes(rows):
    """copy_text() in UTF-8, the connection's encoding. A JSON batch can carry half of a UTF-16
    pair ("\\ud800" with no partner): Python keeps it in a str, but it is no text PostgreSQL
    stores, and the COPY failed on every retry of the batch. It becomes U+FFFD, as an
    undecodable byte does."""
    text = copy_text(rows)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode()


def copy_text(rows):
    """Rows (tuples in COLUMNS order: ts, the two ids, then text) as COPY's text format. Most
    lines need no escaping: a row's texts are joined as they are, and only a row whose joined
    texts hold a tab, newline, carriage return or backslash beyond the separators is escaped
    value by value (escaping every value one by one was a third of the ingest's Python time)."""
    separators = len(COLUMNS) - 4  # between the texts
    out = []
    append = out.append
    for row in rows:
        ts, cluster_id, tenant_id, *texts = row
        try:
            text = "\t".join(texts)
            fast = (
                type(cluster_id) is int
                and (tenant_id is None or type(tenant_id) is int)
                and text.count("\t") == separators
                and "\\" not in text
                and "\n" not in text
                and "\r" not in text
            )
            if fast:
                tenant = "\\N" if tenant_id is None else str(tenant_id)
                append(f"{ts.isoformat()}\t{cluster_id}\t{tenant}\t{text}")
                continue
        except (AttributeError, TypeError):  # not the usual types (a None text, a ts given as text)
            pass
        append("\t".join(_copy_value(value) for value in row))
    out.append("")
    return "\n".join(out)


def _copy_value(value):
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def make_cursor(line):
    return f"{(line.ts - EPOCH) // timedelta(microseconds=1)}_{line.id}"


def parse_cursor(text):
    """(ts, id) from a cursor, or None for none or a malformed one (a malformed one starts over)."""
    try:
        stamp, ident = text.split("_")
        return EPOCH + timedelta(microseconds=int(stamp)), int(ident)
    except (ValueError, OverflowError, OSError):
        return None
