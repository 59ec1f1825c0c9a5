from django.db import migrations

# A tenant's search names its namespaces: with the namespace inside the full-text and trigram
# GIN indexes (btree_gin ships with Debian's postgresql package, as pg_trgm does), a word or
# substring search in one namespace of forty intersects inside one index instead of fetching
# every matching line of every namespace and throwing 39 in 40 away (2.5 s at 10 million lines
# when the namespace held none). A multicolumn GIN index serves a condition on any of its
# columns alone as well as the single-column one did, so the operators' searches keep theirs.
# On a partitioned table CREATE INDEX builds on every partition (no CONCURRENTLY): minutes at
# millions of lines.
FORWARD = """
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX logs_line_ns_words ON logs_line USING gin (namespace, to_tsvector('simple', message));
CREATE INDEX logs_line_ns_trigrams ON logs_line USING gin (namespace, message gin_trgm_ops);
DROP INDEX IF EXISTS logs_line_words;
DROP INDEX IF EXISTS logs_line_trigrams;
"""

BACKWARD = """
CREATE INDEX logs_line_words ON logs_line USING gin (to_tsvector('simple', message));
CREATE INDEX logs_line_trigrams ON logs_line USING gin (message gin_trgm_ops);
DROP INDEX IF EXISTS logs_line_ns_words;
DROP INDEX IF EXISTS logs_line_ns_trigrams;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("logs", "0002_bookkeeping"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
