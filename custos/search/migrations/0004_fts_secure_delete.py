"""SQLite: the FTS5 index removes a deleted entry's terms at once (FTS5 `secure-delete`).

Without it, deleting from an FTS5 index writes a delete marker and the old terms stay in
older segments of the index b-tree until a merge, so an erased person's values could be
read back from the index's pages. The option exists from SQLite 3.42; on an older library
the migration says so and changes nothing, and erasure merges the index instead
(custos/privacy/services/erasure.py). PostgreSQL has no such index: nothing to do there.
"""

import sqlite3
import sys

from django.db import migrations

FIRST_VERSION = (3, 42, 0)


def _secure_delete(value):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        if sqlite3.sqlite_version_info < FIRST_VERSION:
            if value:
                sys.stderr.write(
                    f"search: SQLite {sqlite3.sqlite_version} has no FTS5 secure-delete (3.42+); erasure merges "
                    "the index instead, see docs/operations.md.\n"
                )
            return
        schema_editor.execute(
            "INSERT INTO search_entry_fts(search_entry_fts, rank) VALUES ('secure-delete', %s)", [value]
        )

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0003_trigram_operators_leakproof")]

    operations = [migrations.RunPython(_secure_delete(1), _secure_delete(0))]
