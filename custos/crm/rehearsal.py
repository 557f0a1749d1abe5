"""A dry run's memory of what it would have written, so that it counts as a real run.

A real import finds the contacts and companies its earlier batches wrote: a person repeated
further down the file is updated or skipped, not created twice. A dry run writes nothing, so
it keeps them here: in a SQLite file beside the uploaded one (private like it, removed with
it), so that a dry run of a million rows needs no more memory than a real one, and one
resumed after an interruption goes on from what its checkpointed batches kept. Only what an
import sets is kept, special-category values encrypted as the database holds them.
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

from custos.core.fields import EncryptedTextField
from custos.crm.duplicates import StoredPeople, person_name
from custos.crm.models import Company, Contact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kept (
    pk TEXT NOT NULL, batch INTEGER NOT NULL, email TEXT, phone TEXT, name TEXT,
    data TEXT NOT NULL, points TEXT NOT NULL,
    PRIMARY KEY (pk, batch)
);
CREATE INDEX IF NOT EXISTS kept_email ON kept (email);
CREATE INDEX IF NOT EXISTS kept_phone ON kept (phone);
CREATE INDEX IF NOT EXISTS kept_name ON kept (name);
CREATE INDEX IF NOT EXISTS kept_batch ON kept (batch);
CREATE TABLE IF NOT EXISTS companies (name_lower TEXT PRIMARY KEY, batch INTEGER NOT NULL, pk TEXT, name TEXT);
"""
# Values per statement: far below SQLite's limit of variables.
_CHUNK = 500


def rehearsal_path(upload: str | Path) -> Path:
    upload = Path(upload)
    return upload.with_name(f"{upload.name}.dry-run")


class Rehearsal:
    """The contacts a dry run would have created or changed so far (a version for each batch
    that would have changed one), with their further emails and phones, and the companies
    it would have made. `fields`: the contact's fields an import sets, and its ids."""

    def __init__(self, upload: str | Path, checkpoint: int, fields: Iterable[str]) -> None:
        path = rehearsal_path(upload)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # as private as the upload (and its journal)
        self.database = sqlite3.connect(path)
        self.database.executescript(_SCHEMA)
        # Kept, then interrupted before its checkpoint was saved: the batch is done again, from
        # the versions the batches before it kept.
        for table in ("kept", "companies"):
            self.database.execute(f"DELETE FROM {table} WHERE batch >= ?", [checkpoint])  # noqa: S608 (own names)
        self.database.commit()
        wanted = set(fields)
        self.fields = {f.attname: f for f in Contact._meta.concrete_fields if f.attname in wanted}
        if wanted - self.fields.keys():
            raise ValueError(f"Contact has no field {sorted(wanted - self.fields.keys())[0]}")

    def companies(self) -> dict[str, Company]:
        """The companies earlier batches would have made, by their name in lower case (as the
        import's resolver finds a company named in a cell)."""
        rows = self.database.execute("SELECT name_lower, pk, name FROM companies").fetchall()
        return {name_lower: Company(id=Company._meta.pk.to_python(pk), name=name) for name_lower, pk, name in rows}

    def recall(self, people: StoredPeople, rows: Iterable[Mapping[str, Any]]) -> StoredPeople:
        """`people`, the stored contacts a batch's rows may be, as a real run would find them:
        with the contacts earlier batches would have created, and those they would have
        changed as changed. Each recalled contact's further addresses are its `rehearsed_points`."""
        rows = list(rows)
        stored = {contact.pk: contact for contact in people.contacts()}
        keys = {
            "email": {str(row["email"]).strip().lower() for row in rows if row.get("email")},
            "phone": {str(row["phone"]) for row in rows if row.get("phone")},
            "name": {person_name(row) for row in rows if not row.get("email") and person_name(row)},
        }
        # Found by any version's values, then each as the latest batch kept it.
        pks = {str(pk) for pk in stored}
        for column, values in keys.items():
            pks.update(pk for (pk,) in self._select("pk", column, values))
        kept = {pk: (data, points) for pk, data, points in self._select("pk, data, points", "pk", pks, order="batch")}
        if not kept:
            return people
        for data, points in kept.values():
            contact = self._contact(json.loads(data))
            contact.rehearsed_points = set(json.loads(points))  # type: ignore[attr-defined]
            was = stored.get(contact.pk)
            contact.subject_state = getattr(was, "subject_state", None)  # type: ignore[attr-defined]
            stored[contact.pk] = contact
        recalled = StoredPeople()
        for contact in sorted(stored.values(), key=lambda c: c.pk):
            recalled.add(contact)
        return recalled

    def keep(
        self,
        batch: int,
        contacts: Iterable[Contact],
        points: Mapping[Any, Iterable[str]],
        companies: Iterable[Company],
    ) -> None:
        """Remember what the batch starting at row `batch` would have written: contacts, their
        further emails and phones (`points`, by contact), and new companies."""
        rows = [
            (
                str(contact.pk),
                batch,
                contact.email.lower(),
                contact.phone,
                person_name(contact.__dict__),
                json.dumps({name: self._stored(name, contact) for name in self.fields}, cls=DjangoJSONEncoder),
                json.dumps(sorted(points.get(contact.pk, ()))),
            )
            for contact in contacts
        ]
        self.database.executemany("INSERT OR REPLACE INTO kept VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.database.executemany(
            "INSERT OR IGNORE INTO companies VALUES (?, ?, ?, ?)",
            [(company.name.lower(), batch, str(company.pk), company.name) for company in companies],
        )
        self.database.commit()

    def close(self) -> None:
        self.database.close()

    def _stored(self, name: str, contact: Contact) -> Any:
        value, field = getattr(contact, name), self.fields[name]
        return field.get_prep_value(value) if isinstance(field, EncryptedTextField) else value

    def _contact(self, data: Mapping[str, Any]) -> Contact:
        values = {}
        for name, value in data.items():
            field = self.fields[name]
            if isinstance(field, EncryptedTextField):
                values[name] = field.from_db_value(value, None, None)
            elif isinstance(field, models.JSONField):
                values[name] = value
            else:
                values[name] = field.to_python(value)
        contact = Contact(**values)
        contact._state.adding = False  # stored, as a real run's earlier batch would have left it
        return contact

    def _select(self, columns: str, column: str, values: Iterable[str], order: str = "pk") -> list[Any]:
        values = sorted(values)
        found: list[Any] = []
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            # Columns and order are this module's own names; every value is a parameter.
            sql = f"SELECT {columns} FROM kept WHERE {column} IN ({', '.join('?' * len(chunk))}) ORDER BY {order}"  # noqa: S608
            found.extend(self.database.execute(sql, chunk).fetchall())
        return found


def forget(upload: str | Path) -> None:
    """The dry run's file, with the uploaded one: gone once the job ends."""
    path = rehearsal_path(upload)
    for leftover in (path, path.with_name(f"{path.name}-journal")):
        leftover.unlink(missing_ok=True)
