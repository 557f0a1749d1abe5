"""Row-level security: the second tenant wall on PostgreSQL."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from custos.core.db.rls import POLICY, install_row_level_security
from custos.core.tenancy import tenant_models, tenant_scope
from custos.crm.models import Company

pytestmark = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="row-level security exists on PostgreSQL only; CI runs this file against PostgreSQL",
)


def _raw_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None, port=db["PORT"] or None, autocommit=True
    )


def test_every_tenant_table_has_a_forced_policy(db):
    tables = [m._meta.db_table for m in tenant_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s) "
            "FROM pg_class c WHERE c.relname = ANY(%s)",
            [POLICY, tables],
        )
        rows = {name: (enabled, forced, policy) for name, enabled, forced, policy in cursor.fetchall()}
    assert set(rows) == set(tables)
    assert all(rows[t] == (True, True, True) for t in tables), rows


def test_the_application_role_is_neither_superuser_nor_owner(db):
    role = settings.CUSTOS_DB_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename = ANY(%s)",
            [[m._meta.db_table for m in tenant_models()]],
        )
        assert role not in {owner for (owner,) in cursor.fetchall()}


def test_tenant_work_runs_as_the_application_role(cast):
    with tenant_scope(cast.org_a), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('custos.org_id')")
        assert cursor.fetchone() == (settings.CUSTOS_DB_APP_ROLE, str(cast.org_a.pk))


@pytest.mark.django_db(transaction=True)
def test_a_scope_whose_first_read_is_an_iterator_is_walled_too(cast):
    """`.iterator()` reads through a server-side cursor, which only declares the statements
    run on it: the wall must be set on a cursor of its own, or the scope's first read runs as
    the login role without the organisation (a non-superuser owner then sees no rows)."""
    connection.close()  # a new connection: the scope's first statement sets the wall
    with tenant_scope(cast.org_a), transaction.atomic():
        cursor = connection.chunked_cursor()  # what `.iterator()` reads through
        cursor.execute("SELECT current_user, current_setting('custos.org_id', true)")
        assert cursor.fetchall() == [(settings.CUSTOS_DB_APP_ROLE, str(cast.org_a.pk))]
        cursor.close()


@pytest.mark.django_db(transaction=True)
def test_raw_sql_without_the_tenant_setting_sees_no_rows(cast):
    with tenant_scope(cast.org_a):
        Company.objects.create(name="Walled GmbH")
    with tenant_scope(cast.org_b):
        Company.objects.create(name="Other GmbH")
    role = settings.CUSTOS_DB_APP_ROLE
    with _raw_connection() as raw:
        raw.execute(f'SET ROLE "{role}"')
        assert raw.execute("SELECT count(*) FROM crm_company").fetchone() == (0,)
        raw.execute("SELECT set_config('custos.org_id', %s, false)", [str(cast.org_a.pk)])
        assert raw.execute("SELECT name FROM crm_company").fetchall() == [("Walled GmbH",)]
        raw.execute("SELECT set_config('custos.org_id', %s, false)", [str(cast.org_b.pk)])
        assert raw.execute("SELECT name FROM crm_company").fetchall() == [("Other GmbH",)]


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_write_into_another_tenant_or_lift_the_wall(cast):
    role = settings.CUSTOS_DB_APP_ROLE
    with _raw_connection() as raw:
        raw.execute(f'SET ROLE "{role}"')
        raw.execute("SELECT set_config('custos.org_id', %s, false)", [str(cast.org_a.pk)])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute(
                "INSERT INTO crm_company "
                "(id, org_id, name, vat_id, website, email, phone, tags, created_at, updated_at) "
                "VALUES (gen_random_uuid(), %s, 'forged', '', '', '', '', '[]', now(), now())",
                [str(cast.org_b.pk)],
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("ALTER TABLE crm_company DISABLE ROW LEVEL SECURITY")


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_truncate_which_would_ignore_the_wall(cast):
    with tenant_scope(cast.org_b):
        Company.objects.create(name="Other GmbH")
    with _raw_connection() as raw:
        raw.execute(f'SET ROLE "{settings.CUSTOS_DB_APP_ROLE}"')
        raw.execute("SELECT set_config('custos.org_id', %s, false)", [str(cast.org_a.pk)])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("TRUNCATE crm_company")


def _policies() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.oid FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.polname = %s",
            [POLICY],
        )
        return dict(cursor.fetchall())


def test_migrating_again_leaves_the_walls_standing_and_skips_tables_gone(db):
    """`custos migrate` runs while the application serves: a policy dropped and created again
    leaves its table showing no row to anyone in between, so a standing wall is left as it is.
    A model whose table a backwards migration removed is skipped, not an error."""
    before = _policies()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE crm_importrejectedrow")  # undone with the test's transaction
        cursor.execute(f"DROP POLICY {POLICY} ON crm_activity")  # hypothetical drift: put back
    walled = install_row_level_security()

    after = _policies()
    assert "crm_importrejectedrow" not in walled and "crm_contact" in walled
    assert {t: o for t, o in after.items() if t != "crm_activity"} == {
        t: o for t, o in before.items() if t not in ("crm_activity", "crm_importrejectedrow")
    }
    assert "crm_activity" in after


def test_a_connection_open_before_the_role_existed_acts_as_it_once_the_walls_are_up(cast):
    """On a new cluster `migrate` creates the application role on a connection that asked for
    it before it existed; that connection must then act as the role, not on as superuser."""
    connection.ensure_connection()
    connection._app_role = None  # as learnt when the connection opened, before the role
    install_row_level_security()
    with tenant_scope(cast.org_a), connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == settings.CUSTOS_DB_APP_ROLE
