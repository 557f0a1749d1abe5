"""The benchmark's loader (`bench/loading.py`): however the rows get in, the data is the same,
every reference points at a stored row, and the indexes and triggers come back as the
migrations made them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from bench import generate
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Company, Contact, Deal, Lead
from custos.privacy.models import Subject
from custos.search.models import SearchEntry

SCALE = 120  # with chunks of 30 records: four chunks of contacts, enough to fork for


def _indexes_and_triggers() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')")
        return set(cursor.fetchall())


def _content(name: str) -> dict[str, Any]:
    """What a tenant holds, without its ids (which are new for every record)."""
    with tenant_scope(Organization.objects.get(name=name)):
        return {
            "contacts": sorted(Contact.objects.values_list("first_name", "last_name", "email", "phone", "city")),
            "companies": sorted(Company.objects.values_list("name", "vat_id", "phone")),
            "leads": sorted(Lead.objects.values_list("first_name", "last_name", "email", "status")),
            "deals": sorted(Deal.objects.values_list("name", "amount", "status", "contact__last_name")),
            "activities": sorted(Activity.objects.values_list("kind", "title", "occurred_at")),
        }


def _dangling(name: str) -> dict[str, int]:
    """References that point at no stored row (foreign-key triggers were off while loading)."""
    with tenant_scope(Organization.objects.get(name=name)):
        contacts, leads, deals = Contact.objects.all(), Lead.objects.all(), Deal.objects.all()
        return {
            "contact subject": contacts.exclude(subject__in=Subject.objects.all()).count(),
            "contact company": contacts.filter(company__isnull=False)
            .exclude(company__in=Company.objects.all())
            .count(),
            "lead subject": leads.exclude(subject__in=Subject.objects.all()).count(),
            "deal contact": deals.filter(contact__isnull=False).exclude(contact__in=contacts).count(),
            "activity contact": Activity.objects.filter(contact__isnull=False).exclude(contact__in=contacts).count(),
            "activity lead": Activity.objects.filter(lead__isnull=False).exclude(lead__in=leads).count(),
            "activity deal": Activity.objects.filter(deal__isnull=False).exclude(deal__in=deals).count(),
            "search entry subject": SearchEntry.objects.exclude(subject__in=Subject.objects.all())
            .exclude(subject__isnull=True)
            .count(),
        }


@pytest.mark.django_db(transaction=True)
def test_the_loader_stores_the_same_data_in_one_process_or_several(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "CHUNK", 30)
    monkeypatch.setattr(generate, "SMALL_TENANTS", 0)
    before = _indexes_and_triggers()

    contents = {}
    for workers, name in ((1, "Loaded Alone"), (2, "Loaded Forked")):
        monkeypatch.setattr(generate, "WORKERS", workers)
        monkeypatch.setattr(generate, "BIG_TENANT", name)
        generate.generate(SCALE)
        contents[workers] = _content(name)
        assert _dangling(name) == dict.fromkeys(_dangling(name), 0)

    assert len(contents[1]["contacts"]) == SCALE
    assert len(contents[1]["activities"]) == generate.Counts.for_scale(SCALE).activities
    assert contents[1] == contents[2]
    assert _indexes_and_triggers() == before
    if connection.vendor == "sqlite":  # the full-text tables were filled at the end: the index finds every row
        with connection.cursor() as cursor:
            cursor.execute("SELECT substr(last_name, 1, 3) FROM crm_contact LIMIT 1")
            (part,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM search_entry_fts WHERE search_entry_fts MATCH %s", [f'"{part}"'])
            (found,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM search_searchentry WHERE value LIKE %s", [f"%{part}%"])
            assert (found,) == cursor.fetchone()
            assert found > 0
