"""`migrate`, then the row-level-security policies that the models imply (PostgreSQL)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.commands import migrate
from django.db import connections

from custos.core.db.rls import install_row_level_security


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        # The cache table holds the sign-in throttle counters; the application role needs it.
        call_command("createcachetable", database=options["database"], verbosity=0)
        walled = install_row_level_security(connections[options["database"]])
        if walled and options["verbosity"] >= 1:
            self.stdout.write(f"Row-level security on {len(walled)} tenant tables.")
