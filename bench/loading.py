"""How generated rows reach the database quickly without changing what is stored.

Values are prepared exactly as `custos.core.db.bulk.insert_rows` prepares them (through each
field, so encrypted fields are encrypted); only the way in differs:

- SQLite: `insert_rows` itself, one transaction per chunk, with the full-text tables filled
  once at the end (their insert triggers are dropped meanwhile and put back as they were).
- PostgreSQL, as a superuser (the benchmark's `postgres`): `COPY` through a second connection
  of the login role (row-level security does not apply to it, and `COPY FROM` refuses tables
  it applies to), with foreign
  key triggers off (`session_replication_role = replica`) and every index that backs no
  constraint built once at the end from its own stored definition. The generator writes
  references it has just made, so nothing is checked that could fail.

This is a restore's way of loading a database; the application never writes like this.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction

from custos.core.db.bulk import insert_rows
from custos.core.tenancy import TenantContextMissing, require_org_id

# Every index that no constraint needs (primary keys and unique constraints stay).
_DEFERRABLE_INDEXES = """
    SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisunique AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""
# FTS5 tables with external content, and the trigger that adds each new row to one of them.
_FULL_TEXT_INSERT_TRIGGERS = """
    SELECT t.name, t.sql, f.name FROM sqlite_master t
    JOIN sqlite_master f ON f.type = 'table' AND f.sql LIKE 'CREATE VIRTUAL TABLE%fts5(%content=%'
    WHERE t.type = 'trigger' AND t.sql LIKE '%AFTER INSERT%INSERT INTO ' || f.name || '(%'
"""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _superuser() -> bool:
    """Only a superuser may switch foreign-key triggers off; anyone else inserts as the application does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = session_user")
        return bool(cursor.fetchone()[0])


class Loader:
    def __init__(self) -> None:
        self.copying = connection.vendor == "postgresql" and _superuser()
        self._connection: Any = None

    @property
    def _copier(self) -> Any:
        """The COPY connection, opened when first needed (and again after `close`)."""
        if self._connection is None:
            import psycopg

            self._connection = psycopg.connect(**connection.get_connection_params(), autocommit=True)
            self._connection.execute("SET session_replication_role = replica")
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @contextlib.contextmanager
    def chunk(self) -> Iterator[None]:
        """One transaction: a chunk is written whole or not at all."""
        if self.copying:
            with self._copier.transaction():
                yield
        else:
            with transaction.atomic():
                yield

    def write(self, model: type[models.Model], records: Sequence[Any]) -> None:
        if not records:
            return
        if not self.copying:
            insert_rows(model, records)
            return
        org_id = require_org_id()
        database = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: it is asked per value
        fields = model._meta.concrete_fields
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(field.column)) for field in fields)
        # Names from the model's own metadata; values travel as COPY data.
        with self._copier.cursor().copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for record in records:
                if record.org_id is None:
                    record.org_id = org_id
                elif record.org_id != org_id:  # no wall behind COPY: this is the only check
                    raise TenantContextMissing(f"{model.__name__} of another organisation cannot be written here")
                copy.write_row([field.get_db_prep_save(field.pre_save(record, True), database) for field in fields])
        for record in records:
            record._state.adding = False

    @contextlib.contextmanager
    def indexes_built_afterwards(self) -> Iterator[None]:
        """Indexes built once over the loaded rows instead of row by row, as a restore does."""
        with connection.cursor() as cursor:
            cursor.execute(_DEFERRABLE_INDEXES if self.copying else _FULL_TEXT_INSERT_TRIGGERS)
            deferred = cursor.fetchall()
            for name, *_rest in deferred:
                cursor.execute(f'DROP {"INDEX" if self.copying else "TRIGGER"} "{name}"')
        yield
        started = time.perf_counter()
        with connection.cursor() as cursor:
            if self.copying:
                cursor.execute("SET maintenance_work_mem = '1GB'")
            for _name, definition, *table in deferred:
                cursor.execute(definition)
                if table:  # SQLite: the trigger is back; fill its table from the stored rows
                    cursor.execute(f'INSERT INTO "{table[0]}"("{table[0]}") VALUES (\'rebuild\')')  # noqa: S608  # a name read from sqlite_master
        _say(f"{len(deferred)} indexes built in {time.perf_counter() - started:.0f} s")
