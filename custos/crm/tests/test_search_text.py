"""A searchable record's row holds its search entries' values (`search_text`): written with the
entries, read by a list as it reads its rows, emptied with the record's personal data, and
never reported as data of its own."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from custos.crm.models import Company, Contact, Deal, Lead
from custos.crm.search import reindex_all
from custos.crm.selectors import records
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import contact_list
from custos.crm.selectors.records import searched_page
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, company_delete, company_update, contact_create, contact_update
from custos.crm.services.rules import assignment_rule_create
from custos.privacy.services.erasure import subject_erase
from custos.privacy.services.reports import access_report
from custos.search.index import OVERFLOW, TEXT_BYTES
from custos.search.models import SearchEntry

pytestmark = pytest.mark.usefixtures("as_tenant")

fill = importlib.import_module("custos.crm.migrations.0012_search_text_on_the_record").fill


@pytest.fixture
def alice(cast):
    return cast.actor(cast.alice)


def _text(record) -> set[str]:
    record.refresh_from_db()
    return set(record.search_text.split("\n")) if record.search_text else set()


def _entries(record) -> set[str]:
    return set(SearchEntry.objects.filter(object_id=record.pk).values_list("value", flat=True))


def _found(actor, q, order=("pk",)):
    page, _cursor, _count = searched_page(actor, "contact", contact_list(actor), q, cursor=None, order=order, limit=50)
    return {contact.last_name for contact in page}


def test_a_contacts_row_holds_the_values_its_entries_hold(alice):
    contact = contact_create(
        actor=alice,
        data={
            "first_name": "Jürgen",
            "last_name": "Müller",
            "email": "J.Mueller@Example.org",
            "phone": "+49 30 1234567",
            "tags": ["VIP"],
            "other_emails": [{"email": "jm@private.example", "label": "private"}],
        },
    )
    assert _text(contact) == _entries(contact)
    assert {"jurgen muller", "j.mueller@example.org", "jm@private.example", "vip"} <= _text(contact)


def test_the_text_follows_every_change_of_the_record_and_of_its_company(alice, cast):
    company = company_create(actor=alice, data={"name": "Acme Dental"})
    contact = contact_create(
        actor=alice, data={"last_name": "Nowak", "email": "old@example.org", "company": str(company.pk)}
    )
    contact_update(actor=alice, contact=contact, data={"email": "new@example.org"})
    company_update(actor=alice, company=company, data={"name": "Bright Smile"})

    assert _text(contact) == _entries(contact)
    assert "new@example.org" in _text(contact) and "old@example.org" not in _text(contact)
    assert "bright smile" in _text(contact) and "acme dental" not in _text(contact)
    assert "bright smile" in _text(company)


@pytest.mark.parametrize("order", [("pk",), ("last_name", "first_name", "pk")])
def test_a_list_read_in_its_own_order_checks_each_row_against_its_own_text(alice, monkeypatch, order):
    """With the entries gone, the rows still answer: the list reads them, not the entries."""
    monkeypatch.setattr(records, "WALK", 4)
    for number in range(6):
        contact_create(actor=alice, data={"last_name": f"Name{number}", "email": f"p{number}@gmx.de"})
    SearchEntry.objects.all().delete()
    assert _found(alice, "gmx.de", order) == {f"Name{number}" for number in range(6)}


def test_a_text_too_long_for_an_index_entry_is_checked_against_the_entries(alice, monkeypatch):
    monkeypatch.setattr(records, "WALK", 4)
    tags = [f"tag-{number:03d}-" + "x" * 40 for number in range(TEXT_BYTES // 40)]
    crowded = contact_create(actor=alice, data={"last_name": "Crowded", "tags": tags})
    for number in range(6):
        contact_create(actor=alice, data={"last_name": f"Plain{number}"})

    crowded.refresh_from_db()
    assert crowded.search_text == OVERFLOW
    assert _found(alice, "tag-007") == {"Crowded"}
    assert _found(alice, "plain") == {f"Plain{number}" for number in range(6)}


def test_a_row_never_indexed_is_checked_against_its_entries(alice, monkeypatch):
    monkeypatch.setattr(records, "WALK", 4)
    for number in range(6):
        contact_create(actor=alice, data={"last_name": f"Name{number}", "email": f"p{number}@gmx.de"})
    Contact.objects.update(search_text=None)
    assert _found(alice, "gmx.de") == {f"Name{number}" for number in range(6)}


def test_rebuilding_the_index_writes_every_records_text(alice, cast):
    contact = contact_create(actor=alice, data={"last_name": "Rebuilt", "email": "r@example.org"})
    Contact.objects.update(search_text=None)
    assert reindex_all() >= 1
    assert _text(contact) == _entries(contact)


def test_the_migration_fills_each_row_as_the_application_writes_it(alice, cast):
    """The migration's SQL (both databases) and `record_text` agree, overflow included."""
    company = company_create(actor=alice, data={"name": "Zahnarztpraxis Süd"})
    written = [
        contact_create(
            actor=alice,
            data={"first_name": "Łucja", "last_name": "Żak", "email": "lz@example.pl", "company": str(company.pk)},
        ),
        contact_create(actor=alice, data={"last_name": "Crowded", "tags": [f"y{n:02d}" + "y" * 40 for n in range(40)]}),
    ]
    expected = {model: dict(model.objects.values_list("pk", "search_text")) for model in (Contact, Company)}
    for model in (Contact, Company, Lead, Deal):
        model.objects.update(search_text=None)
    fill(apps, SimpleNamespace(connection=connection))  # all it uses of the schema editor
    for model in (Contact, Company):
        assert dict(model.objects.values_list("pk", "search_text")) == expected[model]
    assert Contact.objects.get(pk=written[1].pk).search_text == OVERFLOW


def test_erasure_empties_the_text_itself_and_no_report_shows_it(alice, cast, monkeypatch):
    person = contact_create(
        actor=alice, data={"first_name": "Greta", "last_name": "Lind", "email": "greta@example.org"}
    )
    report = json.dumps(access_report(person.subject), default=str)
    assert "search_text" not in report and "greta lind\\n" not in report

    # The anonymisation itself empties the copy, not only the search index's hook afterwards.
    monkeypatch.setattr("custos.privacy.services.erasure.records_changed", lambda subject: None)
    subject_erase(actor=cast.actor(cast.olive), subject=person.subject)
    person.refresh_from_db()
    assert person.search_text == ""


def test_an_erased_persons_mention_leaves_the_text_of_others_records(alice, cast):
    """Also their own company (a sole trader's): redacted, indexed again with its contacts,
    but never with the erased person's contact."""
    company = company_create(actor=alice, data={"name": "Greta Lind Consulting"})
    person = contact_create(
        actor=alice,
        data={
            "first_name": "Greta",
            "last_name": "Lind",
            "email": "greta.lind@example.org",
            "company": str(company.pk),
        },
    )
    other = contact_create(
        actor=alice,
        data={"last_name": "Other", "tags": ["greta.lind@example.org"], "company": str(company.pk)},
    )
    assert "greta.lind@example.org" in _text(other)

    subject_erase(actor=cast.actor(cast.olive), subject=person.subject)

    for record in (other, company):
        assert _text(record) == _entries(record)
        assert not any("greta" in value or "lind" in value for value in _text(record))
    assert _text(person) == set() and _entries(person) == set()
    assert _found(alice, "greta.lind") == set()
    assert _found(alice, "consulting") == {"Other"}


def test_a_deleted_companys_name_leaves_its_contacts_text(alice):
    company = company_create(actor=alice, data={"name": "Vanishing Dental"})
    contact = contact_create(actor=alice, data={"last_name": "Stays", "company": str(company.pk)})
    company_delete(actor=alice, company=company)
    assert "vanishing dental" not in _text(contact)
    assert _text(contact) == _entries(contact)


def test_leads_assigned_by_the_rules_are_found_by_their_rep_through_the_index(cast, monkeypatch):
    """The entries carry the owner a record scope searches by: assignment updates them, so the
    row's text and the index agree for a rep who sees only their own leads."""
    olive, sam = cast.actor(cast.olive), cast.actor(cast.sam)
    assignment_rule_create(actor=olive, data={"name": "Everyone", "reps": [str(cast.sam.pk)]})
    leads = [
        lead_create(actor=olive, data={"last_name": f"Assigned{n}", "email": f"a{n}@lead.example"}) for n in range(3)
    ]
    monkeypatch.setattr(records, "WALK", 1)
    monkeypatch.setattr(records, "WALK_BUDGET", 2)  # the index's answer, not the walk's
    page, _cursor, _count = searched_page(sam, "lead", lead_list(sam), "lead.example", cursor=None, limit=50)
    assert {found.pk for found in page} == {lead.pk for lead in leads}
