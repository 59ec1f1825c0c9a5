"""Make the operation log append-only in the database itself, not only in the ORM.

PostgreSQL and SQLite both get triggers that refuse UPDATE and DELETE of log rows.
TRUNCATE is left to the table owner (the test runner flushes with it); production
should run the console with a role that does not own the table.
"""

from django.db import migrations

TABLE = "console_operationlogentry"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION console_oplog_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'operation log entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER console_oplog_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION console_oplog_refuse_change();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS console_oplog_append_only ON {TABLE};
DROP FUNCTION IF EXISTS console_oplog_refuse_change();
"""
SQLITE_UP = [
    f"CREATE TRIGGER console_oplog_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'operation log entries are append-only (UPDATE refused)'); END;",
    f"CREATE TRIGGER console_oplog_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'operation log entries are append-only (DELETE refused)'); END;",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS console_oplog_no_update;", "DROP TRIGGER IF EXISTS console_oplog_no_delete;"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("console", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}),
            _run({"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}),
        )
    ]
