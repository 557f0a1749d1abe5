"""On PostgreSQL the application role can add to the audit log but not rewrite it.

The chain detects tampering after the fact; the database grants should refuse it in the
first place, leaving only what the IP truncation job needs (updating `ip`, `ip_truncated`)
and what appending needs (inserting entries, moving the head).
"""

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="database grants exist on PostgreSQL only; CI runs this file against PostgreSQL",
)


def _as_application_role(org):
    db = connection.settings_dict
    raw = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None, port=db["PORT"] or None, autocommit=True
    )
    # The test's own transaction holds locks on these tables: fail fast rather than wait.
    raw.execute("SET lock_timeout = '2s'")
    raw.execute(f'SET ROLE "{settings.CUSTOS_DB_APP_ROLE}"')
    raw.execute("SELECT set_config('custos.org_id', %s, false)", [str(org.pk)])
    return raw


def test_the_application_role_may_append_and_truncate_addresses(cast):
    with _as_application_role(cast.org_a) as raw:
        raw.execute("SELECT count(*) FROM audit_auditentry")
        raw.execute("UPDATE audit_auditentry SET ip = ip, ip_truncated = ip_truncated WHERE false")
        raw.execute("UPDATE audit_audithead SET seq = seq, hash = hash, seal = seal WHERE false")


def test_the_application_role_cannot_rewrite_or_delete_audit_entries(cast):
    statements = [
        "DELETE FROM audit_auditentry WHERE false",
        "UPDATE audit_auditentry SET action = 'x' WHERE false",
        "UPDATE audit_auditentry SET fields = '[]' WHERE false",
        "UPDATE audit_auditentry SET hash = '' WHERE false",
        "DELETE FROM audit_audithead WHERE false",
        "TRUNCATE audit_auditentry",
    ]
    allowed = []
    with _as_application_role(cast.org_a) as raw:
        for statement in statements:
            try:
                raw.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                continue
            except psycopg.errors.LockNotAvailable:
                pass  # permitted: it was only waiting for the table lock
            allowed.append(statement)

    assert allowed == []
