"""A dry run's memory of the contacts it would have written, so that it counts as a real run.

A real import finds the contacts its earlier batches wrote: a person repeated further down
the file is updated or skipped, not created twice. A dry run writes nothing, so it keeps
those contacts here: in a SQLite file beside the uploaded one (the same rows, removed with
it), so that a dry run of a million rows needs no more memory than a real one. Special-
category values are not kept: no duplicate check reads them.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from custos.core.personal_data import SPECIAL
from custos.crm.duplicates import StoredPeople, person_name
from custos.crm.models import Contact
from custos.privacy.registry import declaration_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kept (
    pk TEXT NOT NULL, batch INTEGER NOT NULL, email TEXT, phone TEXT, name TEXT, data TEXT NOT NULL,
    PRIMARY KEY (pk, batch)
);
CREATE INDEX IF NOT EXISTS kept_email ON kept (email);
CREATE INDEX IF NOT EXISTS kept_phone ON kept (phone);
CREATE INDEX IF NOT EXISTS kept_name ON kept (name);
CREATE INDEX IF NOT EXISTS kept_batch ON kept (batch);
"""
# Values per statement: far below SQLite's limit of variables.
_CHUNK = 500


def rehearsal_path(upload: str | Path) -> Path:
    upload = Path(upload)
    return upload.with_name(f"{upload.name}.dry-run")


def _kept_fields() -> list[models.Field[Any, Any]]:
    special = {name for name, category in declaration_of(Contact).fields.items() if category == SPECIAL}
    return [f for f in Contact._meta.concrete_fields if f.name not in special]


class Rehearsal:
    """The contacts a dry run would have created or changed so far, by batch."""

    def __init__(self, upload: str | Path, checkpoint: int) -> None:
        path = rehearsal_path(upload)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # as private as the upload (and its journal)
        self.database = sqlite3.connect(path)
        self.database.executescript(_SCHEMA)
        # Kept, then interrupted before its checkpoint was saved: the batch is done again, from
        # the versions the batches before it kept.
        self.database.execute("DELETE FROM kept WHERE batch >= ?", [checkpoint])
        self.database.commit()
        self.fields = {f.attname: f for f in _kept_fields()}

    def recall(self, people: StoredPeople, rows: Iterable[Mapping[str, Any]]) -> StoredPeople:
        """`people`, the stored contacts a batch's rows may be, as a real run would find them:
        with the contacts earlier batches would have created, and those they would have
        changed as changed."""
        rows = list(rows)
        stored = {contact.pk: contact for contact in people.contacts()}
        keys = {
            "email": {str(row["email"]).strip().lower() for row in rows if row.get("email")},
            "phone": {str(row["phone"]) for row in rows if row.get("phone")},
            "name": {person_name(row) for row in rows if not row.get("email") and person_name(row)},
        }
        # Found by any version's values, then each as the latest batch kept it (a contact is
        # kept once for each batch that would have changed it).
        pks = {str(pk) for pk in stored}
        for column, values in keys.items():
            pks.update(pk for (pk,) in self._select("pk", column, values))
        kept: dict[str, str] = dict(self._select("pk, data", "pk", pks, order="batch"))
        if not kept:
            return people
        for data in kept.values():
            contact = self._contact(json.loads(data))
            was = stored.get(contact.pk)
            contact.subject_state = getattr(was, "subject_state", None)  # type: ignore[attr-defined]
            stored[contact.pk] = contact
        recalled = StoredPeople()
        for contact in sorted(stored.values(), key=lambda c: c.pk):
            recalled.add(contact)
        return recalled

    def _select(self, columns: str, column: str, values: Iterable[str], order: str = "pk") -> list[Any]:
        values = sorted(values)
        found: list[Any] = []
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            # Columns and order are this module's own names; every value is a parameter.
            sql = f"SELECT {columns} FROM kept WHERE {column} IN ({', '.join('?' * len(chunk))}) ORDER BY {order}"  # noqa: S608
            found.extend(self.database.execute(sql, chunk).fetchall())
        return found

    def keep(self, contacts: Iterable[Contact], batch: int) -> None:
        """Remember these contacts as the batch starting at row `batch` would have written them."""
        rows = [
            (
                str(contact.pk),
                batch,
                contact.email.lower(),
                contact.phone,
                person_name(contact.__dict__),
                json.dumps({name: getattr(contact, name) for name in self.fields}, cls=DjangoJSONEncoder),
            )
            for contact in contacts
        ]
        self.database.executemany("INSERT OR REPLACE INTO kept VALUES (?, ?, ?, ?, ?, ?)", rows)
        self.database.commit()

    def close(self) -> None:
        self.database.close()

    def _contact(self, data: Mapping[str, Any]) -> Contact:
        values = {
            name: value if isinstance(self.fields[name], models.JSONField) else self.fields[name].to_python(value)
            for name, value in data.items()
            if name in self.fields
        }
        contact = Contact(**values)
        contact._state.adding = False  # stored, as a real run's earlier batch would have left it
        return contact


def forget(upload: str | Path) -> None:
    """The dry run's file, with the uploaded one: gone once the job ends."""
    rehearsal_path(upload).unlink(missing_ok=True)
