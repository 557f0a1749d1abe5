"""`custos bench crm` at a tiny scale: every step runs and reports figures of the expected shape.

The steps run in the test's process against the test database (`bench.crm.InProcess`), and
the API load goes to the test's live server, with the benchmark's URLs (the bare view).
The figures themselves mean nothing here; docs/benchmarks.md has the real ones.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection

from bench.crm import MEASUREMENTS, InProcess, report, run_database, table
from bench.generate import SMALL_TENANTS, Counts
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.privacy.models import Subject
from custos.search.models import SearchEntry

SCALE = 200
TIMING = {"n", "p50_ms", "p95_ms", "max_ms"}


@pytest.mark.django_db(transaction=True)
def test_the_crm_benchmark_generates_its_scale_and_reports_every_figure(
    live_server: Any, settings: Any, tmp_path: Any
) -> None:
    settings.ROOT_URLCONF = "bench.urls"
    settings.MEDIA_ROOT = tmp_path / "files"
    address = urlsplit(live_server.url)
    runner = InProcess(address.hostname or "127.0.0.1", address.port or 80)

    run = run_database(runner, scale=SCALE, only=set(MEASUREMENTS), api_seconds=1, baseline_scale=0)
    result = json.loads(json.dumps(report([run], quick=True)))

    assert set(result) >= {"benchmark", "date", "code", "machine", "targets", "quick", "runs"}
    (figures,) = result["runs"]
    assert figures["scale"] == SCALE
    assert figures["database"].startswith(("SQLite", "PostgreSQL"))

    big, small = Counts.for_scale(SCALE), Counts.for_scale(max(SCALE // 100, 10))
    assert figures["generation"]["big_tenant"] == big.__dict__
    assert figures["generation"]["records"] == big.rows + SMALL_TENANTS * small.rows
    imported = figures["import"]["created"]
    stored = dict.fromkeys((Company, Contact, Lead, Deal, Activity), 0)
    for org in Organization.objects.filter(name__startswith="Bench "):
        with tenant_scope(org):
            for model in stored:
                stored[model] += model.objects.count()
            # Every person has a subject of their own, every contact its search entries.
            contacts = Contact.objects.count()
            assert Contact.objects.values("subject").distinct().count() == contacts
            assert Subject.objects.filter(pk__in=Contact.objects.values("subject")).count() == contacts
            indexed = SearchEntry.objects.filter(object_type="contact").values("object_id").distinct().count()
            assert indexed == contacts
    assert stored[Contact] == big.contacts + SMALL_TENANTS * small.contacts + imported
    assert stored[Company] >= big.companies + SMALL_TENANTS * small.companies  # the import adds some
    assert stored[Lead] == big.leads + SMALL_TENANTS * small.leads
    assert stored[Deal] == big.deals + SMALL_TENANTS * small.deals
    assert stored[Activity] == big.activities + SMALL_TENANTS * small.activities
    with connection.cursor() as cursor:  # special-category notes are stored encrypted, as the model declares
        cursor.execute("SELECT health_notes FROM crm_contact WHERE health_notes <> ''")
        stored_notes = [value for (value,) in cursor.fetchall()]
    assert stored_notes
    assert all(value.startswith("v1.") for value in stored_notes)

    assert set(figures["search"]) >= TIMING | {"queries_with_results", "by_kind"}
    assert figures["search"]["queries_with_results"] > 0.5
    assert set(figures["list"]) >= TIMING | {"variants"}
    assert all(variant["rows_on_page_p50"] >= 1 for variant in figures["list"]["variants"].values())
    assert figures["list"]["variants"]["first page"]["rows_on_page_p50"] == 50

    assert figures["import"]["rows"] == SCALE
    assert figures["import"]["status"] == "completed"
    assert {"rows_per_second", "peak_rss_mb", "created", "skipped_duplicates", "rejected"} <= set(figures["import"])
    assert figures["import"]["created"] + figures["import"]["skipped_duplicates"] + figures["import"]["rejected"] == (
        SCALE
    )

    api = figures["api"]
    for endpoint in ("bare_view", "contact_get"):
        assert set(api[endpoint]) >= TIMING | {"requests", "requests_per_second", "statuses"}
        assert set(api[endpoint]["statuses"]) == {"200"}
    assert api["throughput_ratio"] > 0

    lines = table(result).splitlines()
    assert any(line.startswith("search p95") for line in lines)
    assert any(line.startswith("API / bare throughput") for line in lines)
