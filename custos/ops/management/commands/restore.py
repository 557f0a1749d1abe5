"""`custos restore PATH`: bring back a `custos backup` file, without bringing back anyone erased
or any organisation deleted.

The database is replaced by the backup's (SQLite: through SQLite's backup API into the live
file; PostgreSQL: `pg_restore --clean` in one transaction), migrated forward to this
version's schema, and then every organisation deletion and every erasure the journals record
after the backup was taken is carried out again, before the command returns. Stop the server and workers first.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from custos.accounts.offboarding import deletions_replay
from custos.core.models import DeletionCertificate
from custos.ops.management.commands.backup import FORMAT, MANIFEST, MEMBERS, run_postgres
from custos.privacy.services.journal import JournalEntry, journal_replay


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = archive.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise CommandError(f"Not a Custos backup: it has no {MANIFEST}.")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise CommandError(f"Backup format {manifest.get('format')!r} is not one this version reads ({FORMAT}).")
    if manifest.get("engine") != connection.vendor:
        raise CommandError(
            f"The backup is of a {manifest.get('engine')} database; DATABASE_URL points to {connection.vendor}."
        )
    return manifest


def _restore_sqlite(database: Path) -> None:
    connection.ensure_connection()
    with sqlite3.connect(database) as source:
        # Written through the live connection's pager: the WAL and other readers stay correct.
        source.backup(connection.connection)
    source.close()


def _restore_postgres(database: Path, work: Path) -> None:
    # The extension and its comment stay as they are: dropping pg_trgm would also drop the
    # LEAKPROOF marks only a superuser can set (see migration search 0003).
    listing = run_postgres("pg_restore", "--list", str(database)).splitlines()
    kept = [line for line in listing if " EXTENSION " not in line]
    chosen = work / "restore.list"
    chosen.write_text("\n".join(kept) + "\n", encoding="utf-8")
    connection.close()  # our own session must hold no lock on the tables being replaced
    run_postgres(
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--use-list",
        str(chosen),
        str(database),
    )


def restore_from(path: Path) -> tuple[dt.datetime, list[JournalEntry], list[DeletionCertificate]]:
    """Restore the backup at `path`, migrate, delete again the organisations deleted since and
    erase again whoever was erased since; answers when the backup was taken, the erasures and
    the deletions carried out again."""
    if not path.is_file():
        raise CommandError(f"{path}: no such backup file.")
    with tempfile.TemporaryDirectory(dir=settings.VAR_DIR, prefix=".custos-restore-") as work:
        database = Path(work) / MEMBERS[connection.vendor]
        try:
            with tarfile.open(path, mode="r:") as archive:
                manifest = _read_manifest(archive)
                member = archive.extractfile(MEMBERS[connection.vendor])
                if member is None:
                    raise KeyError(MEMBERS[connection.vendor])
                with database.open("wb") as target:
                    shutil.copyfileobj(member, target)
        except (tarfile.TarError, KeyError, ValueError) as error:
            raise CommandError(f"{path}: not a Custos backup ({error}).") from error
        taken_at = dt.datetime.fromisoformat(manifest["taken_at"])
        if connection.vendor == "sqlite":
            _restore_sqlite(database)
        else:
            _restore_postgres(database, Path(work))
    call_command("migrate", interactive=False, verbosity=0)
    deleted = deletions_replay(after=taken_at)
    return taken_at, journal_replay(after=taken_at), deleted


class Command(BaseCommand):
    help = (
        "Replace the database with a backup made by `custos backup`, then delete again every "
        "organisation deleted and erase again everyone erased after the backup was taken. Stop the "
        "server and workers first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The backup file.")

    def handle(self, *args: Any, **options: Any) -> None:
        taken_at, replayed, deleted = restore_from(Path(options["path"]).expanduser().resolve())
        self.stdout.write(f"restored: backup taken at {taken_at.isoformat()}")
        self.stdout.write(f"organisations deleted again: {len(deleted)}")
        self.stdout.write(f"erased again: {len(replayed)}")
