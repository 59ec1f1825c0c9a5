"""PostgreSQL search indexes for the resource browser at 150k objects: a GIN index on
labels (label selectors use @> and ?) and a trigram index on names (name contains).
"""

from django.db import migrations

TABLE = "console_mirroredobject"
UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS mirror_labels_gin ON {TABLE} USING gin (labels)",
    f"CREATE INDEX IF NOT EXISTS mirror_name_trgm ON {TABLE} USING gin (name gin_trgm_ops)",
    # Room on each page so that status updates which keep indexed columns are HOT updates.
    f"ALTER TABLE {TABLE} SET (fillfactor = 70)",
]
DOWN = [
    "DROP INDEX IF EXISTS mirror_labels_gin",
    "DROP INDEX IF EXISTS mirror_name_trgm",
    f"ALTER TABLE {TABLE} RESET (fillfactor)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("console", "0005_resource_mirror")]
    operations = [migrations.RunPython(_run(UP), _run(DOWN))]
