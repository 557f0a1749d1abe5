"""The engine under the index: SQLite FTS5 (trigram tokenizer) or PostgreSQL pg_trgm."""

from django.db import migrations

SQLITE_FORWARDS = [
    "CREATE VIRTUAL TABLE search_entry_fts USING fts5("
    "value, content='search_searchentry', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER search_entry_fts_insert AFTER INSERT ON search_searchentry BEGIN "
    "INSERT INTO search_entry_fts(rowid, value) VALUES (new.rowid, new.value); END",
    "CREATE TRIGGER search_entry_fts_delete AFTER DELETE ON search_searchentry BEGIN "
    "INSERT INTO search_entry_fts(search_entry_fts, rowid, value) VALUES ('delete', old.rowid, old.value); END",
    "CREATE TRIGGER search_entry_fts_update AFTER UPDATE ON search_searchentry BEGIN "
    "INSERT INTO search_entry_fts(search_entry_fts, rowid, value) VALUES ('delete', old.rowid, old.value); "
    "INSERT INTO search_entry_fts(rowid, value) VALUES (new.rowid, new.value); END",
]
SQLITE_BACKWARDS = [
    "DROP TRIGGER IF EXISTS search_entry_fts_update",
    "DROP TRIGGER IF EXISTS search_entry_fts_delete",
    "DROP TRIGGER IF EXISTS search_entry_fts_insert",
    "DROP TABLE IF EXISTS search_entry_fts",
]
POSTGRES_FORWARDS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS search_entry_value_trgm ON search_searchentry USING gin (value gin_trgm_ops)",
]
POSTGRES_BACKWARDS = ["DROP INDEX IF EXISTS search_entry_value_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARDS, "postgresql": POSTGRES_FORWARDS}),
            _run({"sqlite": SQLITE_BACKWARDS, "postgresql": POSTGRES_BACKWARDS}),
        )
    ]
