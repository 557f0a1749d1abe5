"""`custos backup [--output PATH]`: one file holding the whole database and when it was taken.

The file is a tar archive of two members: `backup.json` (engine, format, the time the copy
began) and the database itself: an SQLite file made with SQLite's online backup API (a
consistent copy while the application runs) or a PostgreSQL custom-format `pg_dump`.
`custos restore` needs the time to erase again everyone erased after it (the erasure
journal). The archive holds personal data: it is written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

FORMAT = 1
MANIFEST = "backup.json"
MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


def postgres_command(tool: str, *arguments: str) -> tuple[list[str], dict[str, str]]:
    """A PostgreSQL client call against this installation's database, with its password in
    the environment (never on the command line, where `ps` shows it)."""
    executable = shutil.which(tool)
    if executable is None:
        raise CommandError(f"{tool} was not found: install the PostgreSQL client matching the server.")
    db = connection.settings_dict
    command = [executable, *arguments, "--dbname", str(db["NAME"])]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            command += [flag, str(db[key])]
    environment = dict(os.environ)
    if db.get("PASSWORD"):
        environment["PGPASSWORD"] = str(db["PASSWORD"])
    return command, environment


def run_postgres(tool: str, *arguments: str) -> str:
    command, environment = postgres_command(tool, *arguments)
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise CommandError(f"{tool} failed: {done.stderr.strip()}")
    return done.stdout


def _copy_sqlite(target: Path) -> None:
    connection.ensure_connection()
    with sqlite3.connect(target) as copy:
        # One step: the whole database under one read lock, so the copy is consistent.
        connection.connection.backup(copy)
    copy.close()


def backup_write(output: Path) -> dt.datetime:
    """Write the archive to `output`; answers the time the copy began."""
    vendor = connection.vendor
    if vendor not in MEMBERS:
        raise CommandError(f"Backups know SQLite and PostgreSQL, not {vendor}.")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".custos-backup-") as work:
        database = Path(work) / MEMBERS[vendor]
        # Taken before the copy starts: an erasure the copy misses is journalled later still.
        taken_at = timezone.now()
        if vendor == "sqlite":
            _copy_sqlite(database)
        else:
            run_postgres("pg_dump", "--format=custom", "--file", str(database))
        database.chmod(0o600)
        manifest = json.dumps({"format": FORMAT, "engine": vendor, "taken_at": taken_at.isoformat()}).encode()
        partial = output.with_name(output.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as stream, tarfile.open(fileobj=stream, mode="w") as archive:
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(manifest)
            info.mtime = int(taken_at.timestamp())
            info.mode = 0o600
            archive.addfile(info, io.BytesIO(manifest))
            archive.add(database, arcname=MEMBERS[vendor], recursive=False)
            stream.flush()
            os.fsync(stream.fileno())
        partial.replace(output)
    return taken_at


class Command(BaseCommand):
    help = "Back the database up into one file (default: var/backups/custos-<time>.tar), readable by you only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", help="Where to write the backup file.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["output"]:
            output = Path(options["output"]).expanduser().resolve()
        else:
            stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
            output = Path(settings.VAR_DIR) / "backups" / f"custos-{stamp}.tar"
            output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        taken_at = backup_write(output)
        self.stdout.write(f"backup: {output}")
        self.stdout.write(f"taken_at: {taken_at.isoformat()}")
