"""What every PostgreSQL connection of the application is set to (config/settings.py)."""

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's session settings")


@pytest.mark.django_db
def test_connections_run_without_jit_and_with_room_for_a_trigram_bitmap():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()[0]

    assert jit == "off"
    assert work_mem == f"{settings.CUSTOS_DB_WORK_MEM_MB}MB"
