"""The sample tables: writing (COPY), day partitions, downsampling and retention.

Three tables of (series_id, ts, value[, peak]) with `ts` in integer epoch seconds:

    metrics_sample      raw scrapes, kept RAW_KEEP (a day)
    metrics_sample_1m   1-minute averages and peaks, kept 7 days
    metrics_sample_1h   1-hour averages and peaks, kept 90 days

On PostgreSQL each is range-partitioned by day (partitions created ahead by a beat task and
on demand by the writer) and retention drops whole partitions; on SQLite (embedded run) they
are plain tables and retention deletes rows. Every other statement is the same on both.
"""

import calendar
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction

DAY = 86400


@dataclass(frozen=True)
class Table:
    name: str
    step: int  # seconds per sample (0: raw)
    keep: int  # seconds of history kept


RAW = Table("metrics_sample", 0, DAY)
MINUTE = Table("metrics_sample_1m", 60, 7 * DAY)
HOUR = Table("metrics_sample_1h", 3600, 90 * DAY)
TABLES = (RAW, MINUTE, HOUR)

_known_partitions: set[str] = set()


def partitioned() -> bool:
    return connection.vendor == "postgresql"


# --- schema (used by the migration) -------------------------------------------------------


def create_tables(schema_editor) -> None:
    pg = schema_editor.connection.vendor == "postgresql"
    by_day = " PARTITION BY RANGE (ts)" if pg else ""
    real = "double precision" if pg else "REAL"
    statements = [
        f"CREATE TABLE {RAW.name} (series_id bigint NOT NULL, ts bigint NOT NULL, value {real} NOT NULL){by_day}",
        f"CREATE INDEX {RAW.name}_series_ts ON {RAW.name} (series_id, ts)",
    ]
    for table in (MINUTE, HOUR):
        statements.append(
            f"CREATE TABLE {table.name} (series_id bigint NOT NULL, ts bigint NOT NULL, value {real} NOT NULL, "
            f"peak {real} NOT NULL, PRIMARY KEY (series_id, ts)){by_day}"
        )
    for statement in statements:
        schema_editor.execute(statement)


def drop_tables(schema_editor) -> None:
    for table in TABLES:
        schema_editor.execute(f"DROP TABLE IF EXISTS {table.name}")


# --- partitions ---------------------------------------------------------------------------


def partition_name(table: Table, day_start: int) -> str:
    return f"{table.name}_p{time.strftime('%Y%m%d', time.gmtime(day_start))}"


def ensure_partitions(timestamps: Iterable[int], tables: Iterable[Table] = TABLES) -> None:
    """Create the day partitions holding these epoch seconds (PostgreSQL; nothing on SQLite)."""
    if not partitioned():
        return
    days = {int(ts) - int(ts) % DAY for ts in timestamps}
    with connection.cursor() as cursor:
        for table in tables:
            for day in sorted(days):
                name = partition_name(table, day)
                # Inside a transaction a partition made earlier may have been rolled back since:
                # ask the catalogue (cheap) rather than the process's memory.
                if name in _known_partitions and not connection.in_atomic_block:
                    continue
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is not None:
                    _known_partitions.add(name)
                    continue
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table.name} "
                    f"FOR VALUES FROM ({day}) TO ({day + DAY})"
                )
                _known_partitions.add(name)


def create_partitions_ahead(now: int | None = None, days: int = 2) -> None:
    now = int(now if now is not None else time.time())
    ensure_partitions([now + i * DAY for i in range(days + 1)])


def partitions(table: Table) -> list[tuple[str, int]]:
    """[(partition name, first epoch second)] of a table, oldest first (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [table.name],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        stamp = name.rsplit("_p", 1)[-1]
        try:
            day = calendar.timegm(time.strptime(stamp, "%Y%m%d"))
        except ValueError:
            continue
        found.append((name, day))
    return sorted(found, key=lambda item: item[1])


# --- writing ------------------------------------------------------------------------------


def write(rows: list[tuple[int, int, float]]) -> int:
    """Append raw samples (series id, epoch seconds, value); COPY on PostgreSQL."""
    if not rows:
        return 0
    rows = sorted(rows)  # in index order: B-tree inserts land next to each other (no cost when sorted already)
    ensure_partitions({rows[0][1], rows[-1][1], *(ts for _, ts, _ in rows[:: max(1, len(rows) // 16)])}, (RAW,))
    if partitioned():
        buffer = io.StringIO("".join(f"{s}\t{t}\t{v!r}\n" for s, t, v in rows))
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {RAW.name} (series_id, ts, value) FROM STDIN", buffer)
    else:
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {RAW.name} (series_id, ts, value) VALUES (%s, %s, %s)", rows)
    return len(rows)


# --- downsampling -------------------------------------------------------------------------

_ROLLUP_SQL = (
    "INSERT INTO {target} (series_id, ts, value, peak) "
    "SELECT series_id, ts - ts %% {step}, AVG(value), MAX({peak}) FROM {source} "
    "WHERE ts >= %s AND ts < %s GROUP BY series_id, ts - ts %% {step} "
    "ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value, peak = excluded.peak"
)


def rollup(source: Table, target: Table, start: int, end: int) -> int:
    """(Re)compute `target`'s buckets covering [start, end) from `source`; idempotent."""
    start -= start % target.step
    if end <= start:
        return 0
    ensure_partitions(range(start, end + DAY, DAY), (target,))
    sql = _ROLLUP_SQL.format(
        target=target.name, source=source.name, step=target.step, peak="value" if source is RAW else "peak"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end])
        return cursor.rowcount


def downsample(now: int | None = None) -> dict[str, int]:
    """Bring the 1-minute and 1-hour tables up to `now` from where the last run stopped (the
    current, unfinished bucket included, so that charts of long ranges reach the present)."""
    from .models import Watermark

    now = int(now if now is not None else time.time())
    done = {}
    for source, target in ((RAW, MINUTE), (MINUTE, HOUR)):
        with transaction.atomic():
            mark, _ = Watermark.objects.select_for_update().get_or_create(name=target.name)
            start = max(mark.done_until, now - source.keep)
            done[target.name] = rollup(source, target, start, now + 1)
            # the bucket still filling is recomputed next time
            mark.done_until = now - now % target.step
            mark.save(update_fields=["done_until"])
    return done


# --- retention ----------------------------------------------------------------------------


def apply_retention(now: int | None = None) -> dict[str, int]:
    """Forget what is older than each table keeps: drop whole day partitions (PostgreSQL) or
    delete rows (SQLite). Returns {table: partitions dropped or rows deleted}."""
    now = int(now if now is not None else time.time())
    result = {}
    for table in TABLES:
        cutoff = now - table.keep
        if partitioned():
            dropped = 0
            with connection.cursor() as cursor:
                for name, day in partitions(table):
                    if day + DAY <= cutoff:  # every row of that day is older than kept
                        cursor.execute(f"DROP TABLE IF EXISTS {name}")
                        _known_partitions.discard(name)
                        dropped += 1
            result[table.name] = dropped
        else:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table.name} WHERE ts < %s", [cutoff])
                result[table.name] = cursor.rowcount
    return result
