"""SQLite: the mention indexes (0006) are rewritten only when an indexed text changes.

Django's save() writes every column, so the update trigger fired on every save of a contact,
deal or lead and deleted and re-added its notes, tags and custom fields in the FTS5 index
even when none of them had changed: a new index segment per save, merged and secure-deleted
later. A WHEN clause keeps the trigger to saves that change an indexed column; the index
holds the same terms either way (the row keeps its rowid). PostgreSQL's generated column
follows the row by itself: nothing to do there.
"""

import importlib

from django.db import migrations

mentions = importlib.import_module("custos.privacy.migrations.0006_retention_conditions_and_mention_indexes")


def _update_trigger(table, columns, *, on_change_only):
    index = mentions.PREFIX + table
    names = [name for name, _is_json in columns]
    listed = ", ".join(names)
    old = ", ".join(f"old.{name}" for name in names)
    new = ", ".join(f"new.{name}" for name in names)
    remove = f"INSERT INTO {index}({index}, rowid, {listed}) VALUES ('delete', old.rowid, {old});"  # noqa: S608  # names from TABLES
    add = f"INSERT INTO {index}(rowid, {listed}) VALUES (new.rowid, {new});"  # noqa: S608  # names from TABLES
    when = " OR ".join(f"old.{name} IS NOT new.{name}" for name in names)
    condition = f" WHEN {when}" if on_change_only else ""
    return (
        f"DROP TRIGGER IF EXISTS {index}_update",
        f"CREATE TRIGGER {index}_update AFTER UPDATE OF {listed} ON {table}{condition} BEGIN {remove} {add} END",
    )


def _triggers(*, on_change_only):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for table, columns in mentions.TABLES.items():
            for statement in _update_trigger(table, columns, on_change_only=on_change_only):
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0008_erased_subjects"),
        ("crm", "0010_import_journal_by_record"),  # its 0006 remade the import jobs' triggers
        ("scheduling", "0001_initial"),
    ]

    operations = [migrations.RunPython(_triggers(on_change_only=True), _triggers(on_change_only=False))]
