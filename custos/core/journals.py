"""Append-only journals kept beside the database: under `VAR_DIR`, in no table and so in no
backup, for what a restored backup must not bring back (an erased person, a deleted
organisation). One JSON line per event, ids and times only; readable by the service account
alone (mode 0600)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings


def journal_file(name: str) -> Path:
    return Path(settings.VAR_DIR) / name


def journal_write(name: str, record: dict[str, Any]) -> None:
    """Add one line, on disk before this returns."""
    path = journal_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: concurrent writers (several processes) each add whole lines, never overwrite.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (json.dumps(record) + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def journal_read(name: str) -> Iterator[dict[str, Any]]:
    """Every line, oldest first; a line cut short by a crash mid-write is passed over (what it
    names is in the database or was rolled back)."""
    path = journal_file(name)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record
