"""Marks on PostgreSQL's own functions that only a superuser may set, for migrations.

Row-level security keeps the planner from using an index, or a column's statistics, for a
condition whose function is not LEAKPROOF; some of the functions Custos filters by are safe
to mark (they raise no error that depends on a row's value). A migration run by another role
leaves them as they are (everything stays correct, only slower) and says what to run instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def superuser(schema_editor: Any, unless_superuser: str) -> bool:
    """Whether the migrating role is a superuser; if not, say `unless_superuser` (what stays
    slow, and where to read on) on stderr."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (is_superuser,) = cursor.fetchone()
    if not is_superuser:
        sys.stderr.write(unless_superuser + "\n")
    return bool(is_superuser)


def alter_functions(schema_editor: Any, functions: Iterable[str], change: str, *, unless_superuser: str) -> None:
    """`ALTER FUNCTION f <change>` for each function, on PostgreSQL as a superuser."""
    if schema_editor.connection.vendor != "postgresql" or not superuser(schema_editor, unless_superuser):
        return
    with schema_editor.connection.cursor() as cursor:
        for function in functions:
            cursor.execute(f"ALTER FUNCTION {function} {change}")
