from django.db import migrations

# The line table is PostgreSQL's: range-partitioned by day, with a full-text and a trigram
# index (pg_trgm ships with Debian's postgresql package). Partitions are made by
# store.PostgresStore.maintain (at migrate time here, then by the beat task).
CREATE_LINES = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE logs_line (
    id bigserial NOT NULL,
    ts timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    cluster_id integer NOT NULL,
    tenant_id integer NULL,
    namespace varchar(253) NOT NULL DEFAULT '',
    app varchar(253) NOT NULL DEFAULT '',
    pod varchar(253) NOT NULL DEFAULT '',
    container varchar(253) NOT NULL DEFAULT '',
    node varchar(253) NOT NULL DEFAULT '',
    source varchar(16) NOT NULL DEFAULT 'container',
    level varchar(16) NOT NULL DEFAULT '',
    stream varchar(16) NOT NULL DEFAULT '',
    message text NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX logs_line_ts ON logs_line (ts DESC, id DESC);
CREATE INDEX logs_line_namespace ON logs_line (cluster_id, namespace, ts DESC, id DESC);
CREATE INDEX logs_line_pod ON logs_line (cluster_id, namespace, pod, container, ts DESC, id DESC);
CREATE INDEX logs_line_id ON logs_line (id);
CREATE INDEX logs_line_words ON logs_line USING gin (to_tsvector('simple', message));
CREATE INDEX logs_line_trigrams ON logs_line USING gin (message gin_trgm_ops);
"""


def create_lines(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # the log store needs PostgreSQL (the embedded SQLite mode has no Logs store)
    schema_editor.execute(CREATE_LINES)
    from monitoring.logs.store import PostgresStore

    PostgresStore().maintain()


def drop_lines(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TABLE IF EXISTS logs_line CASCADE")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("console", "0011_stored_texts"),
    ]

    operations = [
        migrations.RunPython(create_lines, drop_lines),
    ]
