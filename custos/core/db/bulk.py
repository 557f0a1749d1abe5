"""Writing many new rows of one model at once, for imports and benchmarks; and naming many
rows by id (`among`).

`bulk_create` builds its SQL anew for every batch, value by value: for an import of
hundreds of thousands of rows that costs more than the database does. Here each value
still passes through its field's `pre_save` and `get_db_prep_save` (so encrypted fields
are encrypted, defaults applied), but the statement is built once and run with
`executemany`, through the connection's wrappers (the tenant wall on PostgreSQL).

On PostgreSQL, `executemany` is a statement per row (psycopg pipelines them, but each is
still parsed, planned and checked against the tenant wall), so a column's values go as one
array and `unnest` turns them back into rows: one statement per 5,000 rows with as many
parameters as columns. (`COPY` is not an option: PostgreSQL refuses it on tables under
row-level security. A multi-row `VALUES` list has a parameter per value, and psycopg spends
longer finding them in the statement than the server spends inserting the rows.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from custos.core.personal_data import model_field
from custos.core.tenancy import TenantContextMissing, require_org_id

ROWS_PER_STATEMENT = 5_000  # on PostgreSQL: a few megabytes of arrays at most


def insert_rows(model: type[models.Model], records: Sequence[Any]) -> None:
    """Insert new records of the current organisation; no signals, no save()."""
    if not records:
        return
    org_id = require_org_id()
    fields = model._meta.concrete_fields
    database = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: it is asked per value
    quote = database.ops.quote_name
    rows = []
    for record in records:
        if record.org_id is None:
            record.org_id = org_id
        elif record.org_id != org_id:
            raise TenantContextMissing(f"{model.__name__} of another organisation cannot be written here")
        rows.append(tuple([field.get_db_prep_save(field.pre_save(record, True), database) for field in fields]))
    # Names and types from the model's own metadata, values as parameters.
    columns = ", ".join(quote(str(field.column)) for field in fields)
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
    with database.cursor() as cursor:
        if database.vendor == "postgresql":
            arrays = ", ".join(f"%s::{field.db_type(database)}[]" for field in fields)
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                columns_of_chunk = [list(column) for column in zip(*chunk, strict=True)]
                cursor.execute(f"{statement}SELECT * FROM unnest({arrays})", columns_of_chunk)  # noqa: S608
        else:
            cursor.executemany(f"{statement}VALUES ({', '.join(['%s'] * len(fields))})", rows)
    for record in records:
        record._state.adding = False
        record._state.db = DEFAULT_DB_ALIAS


def among(queryset: models.QuerySet[Any], ids: Sequence[uuid.UUID], column: str = "") -> models.QuerySet[Any]:
    """The rows whose id (or `column`) is one of these. PostgreSQL: one array parameter
    (`= ANY`), not a placeholder per id: a batch's thousand placeholders cost more to bind,
    send and parse than the statement's work."""
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{column or 'pk'}__in": ids})
    model = queryset.model
    name = str(model_field(model, column).column if column else model._meta.pk.column)
    quoted = f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name(name)}"
    return queryset.extra(where=[f"{quoted} = ANY(%s::uuid[])"], params=[list(ids)])  # noqa: S610  # names from the model
