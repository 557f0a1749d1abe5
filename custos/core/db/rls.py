"""Row-level security on PostgreSQL: the second tenant wall, derived from the models.

Every TenantModel's table gets a policy that admits only rows of the organisation in
`custos.org_id`, forced even for the table owner. The application role gets data
privileges only, so it can neither bypass nor alter the policies.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from custos.core.tenancy import tenant_models

POLICY = "custos_tenant_wall"
CONDITION = "org_id = NULLIF(current_setting('custos.org_id', true), '')::uuid"
# The policy's condition as PostgreSQL shows it back (`pg_policies.qual`): a policy with
# another condition is replaced.
SHOWN = "(org_id = (NULLIF(current_setting('custos.org_id'::text, true), ''::text))::uuid)"


def install_row_level_security(connection: BaseDatabaseWrapper | None = None) -> list[str]:
    """Create the application role, grant it data access, and wall every tenant table."""
    connection = connection or connections["default"]
    if connection.vendor != "postgresql":
        return []
    role = settings.CUSTOS_DB_APP_ROLE
    quote = connection.ops.quote_name
    walled = []
    with connection.cursor() as cursor:
        if role:
            cursor.execute(
                f"DO $$ BEGIN CREATE ROLE {quote(role)} NOLOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if not cursor.fetchone()[0]:
                cursor.execute(f"GRANT {quote(role)} TO CURRENT_USER")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quote(role)}")
            # Never TRUNCATE: it ignores row-level security and would empty every tenant.
            cursor.execute(f"REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM {quote(role)}")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quote(role)}")
            cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}")
            # Tables created later by this login role (a cache table, say) are covered too.
            cursor.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quote(role)}"
            )
            cursor.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {quote(role)}"
            )
        standing = _walls(cursor)
        for model in tenant_models():
            name = model._meta.db_table
            if name not in standing:  # no such table (yet, or any more: a migration went back)
                continue
            table = quote(name)
            secured, forced, has_policy = standing[name]
            # Each change only where needed, and a policy replaced in one transaction: `migrate`
            # runs while the application serves, and between a DROP and a CREATE a walled
            # table shows nobody any row (a deploy's requests answered 404 and 401).
            with transaction.atomic(using=connection.alias):
                if not secured:
                    cursor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
                if not forced:
                    cursor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
                if not has_policy:
                    cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
                    cursor.execute(f"CREATE POLICY {POLICY} ON {table} USING ({CONDITION}) WITH CHECK ({CONDITION})")
            append_only = getattr(model, "append_only", None)
            if role and append_only is not None:
                # Logs: never deleted or rewritten by the application, only these columns move.
                cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {quote(role)}")
                columns = ", ".join(quote(str(model._meta.get_field(name).column)) for name in append_only)  # type: ignore[union-attr]
                cursor.execute(f"GRANT UPDATE ({columns}) ON {table} TO {quote(role)}")
            walled.append(model._meta.db_table)
    if hasattr(connection, "learn_app_role"):
        connection.learn_app_role()
    return walled


def _walls(cursor: Any) -> dict[str, tuple[bool, bool, bool]]:
    """Per table of the schema: row security enabled, forced, and the wall's policy in place
    with today's condition (for reading and for writing)."""
    cursor.execute(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname
                       AND p.policyname = %s AND p.qual = %s AND p.with_check = %s)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
        """,
        [POLICY, SHOWN, SHOWN],
    )
    return {name: (secured, forced, has_policy) for name, secured, forced, has_policy in cursor.fetchall()}
