"""A b-tree index on (org, value): values starting with a text, for searches too short for
trigrams (one or two characters).

Bytewise on PostgreSQL (collation "C"), so that "starts with" is a range of the index under
any database collation; the comparison operators are LEAKPROOF, so it serves under
row-level security. SQLite compares bytewise already.
"""

from django.db import migrations

FORWARDS = {
    "sqlite": "CREATE INDEX IF NOT EXISTS search_entry_value_prefix ON search_searchentry (org_id, value)",
    "postgresql": 'CREATE INDEX IF NOT EXISTS search_entry_value_prefix ON search_searchentry (org_id, value COLLATE "C")',
}
BACKWARDS = "DROP INDEX IF EXISTS search_entry_value_prefix"


def _forwards(apps, schema_editor):
    statement = FORWARDS.get(schema_editor.connection.vendor)
    if statement:
        schema_editor.execute(statement)


def _backwards(apps, schema_editor):
    if schema_editor.connection.vendor in FORWARDS:
        schema_editor.execute(BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [("search", "0004_fts_secure_delete")]

    operations = [migrations.RunPython(_forwards, _backwards)]
