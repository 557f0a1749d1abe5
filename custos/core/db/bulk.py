"""Writing many new rows of one model at once, for imports and benchmarks.

`bulk_create` builds its SQL anew for every batch, value by value: for an import of
hundreds of thousands of rows that costs more than the database does. Here each value
still passes through its field's `pre_save` and `get_db_prep_save` (so encrypted fields
are encrypted, defaults applied), but the statement is built once and run with
`executemany`, through the connection's wrappers (the tenant wall on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models

from custos.core.tenancy import TenantContextMissing, require_org_id


def insert_rows(model: type[models.Model], records: Sequence[Any]) -> None:
    """Insert new records of the current organisation; no signals, no save()."""
    if not records:
        return
    org_id = require_org_id()
    fields = model._meta.concrete_fields
    database = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: it is asked per value
    quote = database.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    rows = []
    for record in records:
        if record.org_id is None:
            record.org_id = org_id
        elif record.org_id != org_id:
            raise TenantContextMissing(f"{model.__name__} of another organisation cannot be written here")
        rows.append(tuple([field.get_db_prep_save(field.pre_save(record, True), database) for field in fields]))
    # Names from the model's own metadata, values as parameters.
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with database.cursor() as cursor:
        cursor.executemany(statement, rows)
    for record in records:
        record._state.adding = False
        record._state.db = DEFAULT_DB_ALIAS
