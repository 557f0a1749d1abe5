"""PostgreSQL with the tenant wall mirrored into row-level security.

Before a statement runs, the connection is brought in line with the tenant context:
inside a tenant scope it acts as the application role (neither superuser nor table
owner, so RLS applies) with `custos.org_id` set; outside, it is the login role with the
setting cleared. A rollback may undo either change, so it forgets what it last set.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base

from custos.core.tenancy import current_org_id

_UNKNOWN = object()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tenant_state: object = _UNKNOWN
        self._app_role: str | None = None
        self.execute_wrappers.append(self._tenant_wall)

    def init_connection_state(self) -> None:
        super().init_connection_state()
        self._tenant_state = _UNKNOWN
        self.learn_app_role()

    def learn_app_role(self) -> None:
        """Act as the application role where this login may. Asked again once the walls are
        installed: on a new cluster `migrate` creates the role on a connection already open."""
        self._app_role = None
        role = settings.CUSTOS_DB_APP_ROLE
        if role:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s", [role]
                )
                row = cursor.fetchone()
            self._app_role = role if row and row[0] else None

    def _sync_tenant(self, raw_cursor: Any) -> None:
        org_id: uuid.UUID | None = current_org_id()
        if self._tenant_state == org_id:
            return
        if org_id is None:
            raw_cursor.execute("SELECT set_config('custos.org_id', '', false)")
            if self._app_role:
                raw_cursor.execute("RESET ROLE")
        else:
            raw_cursor.execute("SELECT set_config('custos.org_id', %s, false)", [str(org_id)])
            if self._app_role:
                raw_cursor.execute("SELECT set_config('role', %s, false)", [self._app_role])
        self._tenant_state = org_id

    def _tenant_wall(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if self._tenant_state != current_org_id():
            # A cursor of its own: the statement's may be a server-side one (`.iterator()`),
            # which would only declare these statements, never run them, and the first read
            # of a tenant scope would then see no rows.
            with self.connection.cursor() as raw_cursor:
                self._sync_tenant(raw_cursor)
        return execute(sql, params, many, context)

    def _rollback(self) -> None:
        super()._rollback()  # type: ignore[misc]  # private, absent from the stubs
        self._tenant_state = _UNKNOWN

    def _savepoint_rollback(self, sid: str) -> None:
        # Forget afterwards: the rollback statement itself must not try to sync first,
        # since the transaction may be in an aborted state until it has run.
        super()._savepoint_rollback(sid)  # type: ignore[misc]  # private, absent from the stubs
        self._tenant_state = _UNKNOWN

    def _close(self) -> None:
        self._tenant_state = _UNKNOWN
        super()._close()  # type: ignore[misc]  # private, absent from the stubs
