"""SQLite's planner needs statistics for every index, which only ANALYZE gives: the daily job."""

import pytest
from django.db import connection

from custos.core.periodic import JOBS
from custos.core.tasks import refresh_statistics
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_bulk_create


def test_the_statistics_job_runs_daily():
    [job] = [j for j in JOBS if j.name == "core.refresh_statistics"]
    assert job.every.days == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's autovacuum keeps its own statistics")
def test_every_list_index_gets_statistics(cast):
    with tenant_scope(cast.org_a):
        contact_bulk_create(actor=cast.actor(cast.alice), items=[{"last_name": f"Lind {n}"} for n in range(20)])

    assert refresh_statistics.call() is True

    with connection.cursor() as cursor:
        cursor.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'crm_contact'")
        indexes = {row[0] for row in cursor.fetchall()}
    assert {"contact_org_id", "contact_org_name", "contact_org_country"} <= indexes


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's ANALYZE")
def test_postgresql_leaves_statistics_to_autovacuum(db):
    assert refresh_statistics.call() is False
