"""`custos mentions rebuild`: make SQLite's mention indexes again, as the migrations left them.

Erasure finds a person's mentions in free text through one FTS5 table per table with free text,
kept by triggers (privacy migrations 0006 and 0009). Rebuilding such a table by hand, or a
manual VACUUM (which may renumber rowids), leaves them missing or stale; erasure then reads the
whole table (and warns). Migrating backwards to rerun 0006 would drop what later migrations
made, so this runs their statements for every table instead. PostgreSQL's index is a generated
column that follows the rows: nothing to rebuild there.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

made = importlib.import_module("custos.privacy.migrations.0006_retention_conditions_and_mention_indexes")
kept = importlib.import_module("custos.privacy.migrations.0009_mention_triggers_on_change_only")


class Command(BaseCommand):
    help = "Manage the mention indexes erasure searches (SQLite)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rebuild", help="Drop and make again every mention index, triggers included, from the rows.")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "sqlite":
            self.stdout.write("PostgreSQL keeps its mention index in a generated column: nothing to rebuild.")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for table, columns in made.TABLES.items():
                index = made.PREFIX + table
                statements = [
                    *(f"DROP TRIGGER IF EXISTS {index}_{trigger}" for trigger in ("insert", "delete", "update")),
                    f"DROP TABLE IF EXISTS {index}",
                    *made._sqlite_statements(table, columns),
                    *kept._update_trigger(table, columns, on_change_only=True),
                ]
                for statement in statements:
                    cursor.execute(statement)
                self.stdout.write(f"{table}: mention index rebuilt")
