"""Retention counts from lost deals and ended contracts too; indexes that let erasure find
the mentions of a person without reading every text.

Erasure redacts the person's email, phone and full name from free text in other records
(custos/privacy/services/erasure.py, `mention_fields`). Without an index that meant a
`LIKE '%…%'` over every free-text column of the tenant, so an erasure grew with the database.

PostgreSQL: per table, a stored generated column `privacy_mention_text` joining its text
columns (JSON as text), with a trigram GIN index on it; erasure asks it with pg_trgm's
word-similarity operator, which is LEAKPROOF (search.0003). An index on the joining
expression itself would not do: its functions (concatenation, the JSON cast) are not
LEAKPROOF, so under row-level security PostgreSQL may not use it and reads the whole table.
The column is derived from the row and follows it (an erasure empties it with the row).
pg_trgm declares its word-similarity functions as cheap as an integer comparison, so the
planner preferred reading the tenant's rows and comparing each (measured: 800 ms for
10,900 contacts) to the index (0.5 ms); they are given their real cost (COST 100, as for
LEAKPROOF a superuser's change: another role leaves it and says so). Search gains from it too.

SQLite: one FTS5 index (trigram tokenizer) per table over the same columns, external content
(no copy of the text), kept in step by triggers, with `secure-delete` where SQLite has it
(3.42+; before, erasure merges the index in the worker as it does for the search index).

The columns are frozen here as they were declared when this was written. A new free-text
column needs a new migration replacing its table's index; until then erasure still finds its
mentions (by reading the table's text columns themselves), only slower, and the test
`test_every_mention_column_is_indexed` fails. A migration that rebuilds one of these tables
on SQLite (a table remake) drops the triggers: recreate them and rebuild the index after it.
"""

import sqlite3

from django.db import migrations, models

from custos.core.db.functions import alter_functions

# table -> columns, JSON columns marked (they are indexed as their text).
TABLES = {
    "privacy_breach": [("nature", False), ("consequences", False), ("measures", False), ("person_categories", False)],
    "privacy_legalhold": [("reason", False)],
    "privacy_privacyrequest": [
        ("details", True),
        ("verification_reason", False),
        ("extension_reason", False),
        ("rejection_reason", False),
    ],
    "crm_activity": [("title", False), ("body", False)],
    "crm_deal": [("name", False), ("lost_reason", False), ("tags", True), ("custom_fields", True), ("notes", False)],
    "crm_importjob": [("file_name", False)],
    "crm_company": [("custom_fields", True), ("name", False), ("email", False), ("phone", False)],
    "crm_contact": [("tags", True), ("custom_fields", True), ("notes", False)],
    "crm_lead": [
        ("disqualified_reason", False),
        ("interest", False),
        ("tags", True),
        ("custom_fields", True),
        ("notes", False),
    ],
    "scheduling_appointment": [("notes", False)],
}
PREFIX = "privacy_mentions_"
COLUMN = "privacy_mention_text"
SECURE_DELETE_SINCE = (3, 42, 0)


def _postgres_expression(columns):
    parts = [
        f"COALESCE((\"{name}\")::text, '')" if is_json else f"COALESCE(\"{name}\", '')" for name, is_json in columns
    ]
    return " || ' ' || ".join(parts)


def _sqlite_statements(table, columns):
    index = PREFIX + table
    names = [name for name, _is_json in columns]
    listed = ", ".join(names)
    new = ", ".join(f"new.{name}" for name in names)
    old = ", ".join(f"old.{name}" for name in names)
    remove = f"INSERT INTO {index}({index}, rowid, {listed}) VALUES ('delete', old.rowid, {old});"  # noqa: S608  # names from TABLES
    add = f"INSERT INTO {index}(rowid, {listed}) VALUES (new.rowid, {new});"  # noqa: S608  # names from TABLES
    statements = [
        f"CREATE VIRTUAL TABLE {index} USING fts5({listed}, content='{table}', content_rowid='rowid', "
        "tokenize='trigram')",
        f"INSERT INTO {index}({index}) VALUES ('rebuild')",  # noqa: S608  # names from TABLES
        f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER {index}_update AFTER UPDATE OF {listed} ON {table} BEGIN {remove} {add} END",
    ]
    if sqlite3.sqlite_version_info >= SECURE_DELETE_SINCE:
        statements.append(f"INSERT INTO {index}({index}, rank) VALUES ('secure-delete', 1)")  # noqa: S608  # names from TABLES
    return statements


WORD_SIMILARITY_FUNCTIONS = ("word_similarity_op(text, text)", "word_similarity_commutator_op(text, text)")


def _operator_cost(cost):
    def run(apps, schema_editor):
        alter_functions(
            schema_editor,
            WORD_SIMILARITY_FUNCTIONS,
            f"COST {int(cost)}",
            unless_superuser=(
                "privacy: not a superuser, so pg_trgm's word similarity keeps COST 1 and erasure may read "
                "whole tables to find mentions; run as superuser: ALTER FUNCTION word_similarity_op(text, text) "
                "COST 100; ALTER FUNCTION word_similarity_commutator_op(text, text) COST 100;"
            ),
        )

    return run


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, columns in TABLES.items():
        if vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {table} ADD COLUMN {COLUMN} text "
                f"GENERATED ALWAYS AS ({_postgres_expression(columns)}) STORED"
            )
            schema_editor.execute(f"CREATE INDEX {PREFIX}{table} ON {table} USING gin ({COLUMN} gin_trgm_ops)")
        elif vendor == "sqlite":
            for statement in _sqlite_statements(table, columns):
                schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        index = PREFIX + table
        if vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
            schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {COLUMN}")
        elif vendor == "sqlite":
            for trigger in ("insert", "delete", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {index}_{trigger}")
            schema_editor.execute(f"DROP TABLE IF EXISTS {index}")


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0005_portal_settings_recipients_breach_reminders"),
        ("crm", "0005_contact_contract_ends_on"),
        ("scheduling", "0001_initial"),
        ("search", "0002_search_engines"),  # the pg_trgm extension
    ]

    operations = [
        migrations.AlterField(
            model_name="retentionpolicy",
            name="condition",
            field=models.CharField(
                choices=[
                    ("created", "time since creation"),
                    ("inactive", "time since the last change or activity"),
                    ("deal_lost", "time since the person's deals were lost"),
                    ("contract_end", "time since the person's contract ended"),
                ],
                max_length=12,
                verbose_name="condition",
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(_operator_cost(100), _operator_cost(1)),
    ]
