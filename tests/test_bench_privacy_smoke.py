"""`custos bench privacy` at a tiny scale: every step runs and reports figures of the expected shape.

The steps run in the test's process against the test database (`bench.privacy.InProcess`).
The figures themselves mean nothing here; docs/benchmarks.md has the real ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.generate import BIG_TENANT
from bench.privacy import PROFILED, RETAINED_SHARE, TARGETS, InProcess, report, run_database, table
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.privacy.models import RetentionRun, Subject

CONTACTS = 200
SAMPLES = 5
TIMING = {"n", "p50_ms", "p95_ms", "max_ms"}
PROFILE = {"total_ms", "statements", "database_ms", "like_statements", "like_ms", "mention_index_statements"}


@pytest.mark.django_db(transaction=True)
def test_the_privacy_benchmark_reports_every_figure(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.VAR_DIR = tmp_path / "var"  # the erasure journal

    run = run_database(InProcess(), contacts=CONTACTS, samples=SAMPLES, baseline_contacts=0)
    result = json.loads(json.dumps(report([run])))

    assert set(result) >= {"benchmark", "date", "code", "machine", "targets", "runs"}
    assert result["benchmark"] == "privacy"
    assert result["targets"] == TARGETS
    (figures,) = result["runs"]
    assert figures["contacts"] == CONTACTS
    assert figures["samples"] == SAMPLES
    assert figures["database"].startswith(("SQLite", "PostgreSQL"))
    assert figures["tenant"]["contacts"] == CONTACTS

    reported = figures["access_report"]
    assert set(reported) >= TIMING | {"records_per_report_p50", "json_bytes_p50", "profile", "under_cprofile"}
    assert reported["n"] == SAMPLES
    assert reported["records_per_report_p50"] >= 1  # every person sampled is a contact
    assert set(reported["profile"]) >= PROFILE
    assert reported["profile"]["statements"] > 0

    erased = figures["erasure"]
    assert set(erased) >= TIMING | {"redacted_mentions_p50", "mention_scan", "profile", "under_cprofile"}
    assert erased["n"] == SAMPLES
    assert set(erased["mention_scan"]) >= TIMING
    assert erased["profile"]["mention_index_statements"] > 0  # the mention scan is there to see, by index
    assert erased["under_cprofile"]["hot_spots"]

    retained = figures["retention"]
    expected = round(CONTACTS * RETAINED_SHARE)
    assert retained["persons"] == retained["records"] == retained["processed"] == expected
    assert retained["persons_per_second"] > 0
    assert retained["second_run"]["processed"] == 0

    org = Organization.objects.get(name=BIG_TENANT)
    with tenant_scope(org):
        # Every erasure happened, and the swept contacts are emptied.
        assert Subject.objects.filter(state=Subject.State.ERASED).count() == SAMPLES + PROFILED + 1
        assert Contact.objects.filter(first_name="", last_name="", email="").count() >= expected
        assert RetentionRun.objects.filter(is_preview=False).count() == 2

    lines = table(result).splitlines()
    assert any(line.startswith("access report p95") for line in lines)
    assert any(line.startswith("erasure p95") for line in lines)
    assert any(line.startswith("retention persons/s") for line in lines)
