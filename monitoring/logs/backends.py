"""Which log store this console uses (settings.LOGS_STORE)."""

from django.conf import settings

from .clickhouse import ClickHouseStore
from .store import LogStore, PostgresStore


def default_store() -> LogStore:
    """ "postgres" (the default: this database, partitioned by day) or "clickhouse" (its HTTP interface)."""
    if settings.LOGS_STORE == "clickhouse":
        return ClickHouseStore()
    return PostgresStore()
