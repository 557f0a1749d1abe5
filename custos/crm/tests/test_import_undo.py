"""An import's undo keeps the work done since the import: contacts in use or changed by hand stay,
changed contacts edited again are left as they are, and a legal hold is respected."""

import io

from django.db import connection
from django.test.utils import CaptureQueriesContext

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm import imports
from custos.crm.imports import import_start, import_undo, import_upload
from custos.crm.models import Activity, Company, Contact, ContactPoint, Deal, ImportJob, ImportJournalEntry
from custos.crm.selectors.search import global_search
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create
from custos.crm.services.people import (
    affiliation_add,
    company_create,
    company_update,
    contact_create,
    contact_update,
)
from custos.privacy.services.retention import legal_hold_create
from custos.testing import run_tasks

FIVE = (
    "Last name,Email,Company\n"
    "Anders,anders@example.org,Alpha GmbH\n"
    "Berg,berg@example.org,Beta AG\n"
    "Claas,claas@example.org,\n"
    "Dorn,dorn@example.org,Delta KG\n"
    "Engel,engel@example.org,\n"
    "Falk,falk@example.org,\n"
)


def _import(cast, text: str, duplicates: str = "skip") -> ImportJob:
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        job = import_upload(actor=actor, object_type="contact", file_name="k.csv", stream=io.BytesIO(text.encode()))
        import_start(actor=actor, job=job, mapping=job.mapping, duplicates=duplicates)
    run_tasks()
    with tenant_scope(cast.org_a):
        return ImportJob.objects.get(pk=job.pk)


def _undo_extra(job: ImportJob) -> dict:
    return AuditEntry.objects.get(action="import.undo", object_id=str(job.pk)).extra


def test_undo_keeps_the_contacts_worked_on_since_and_removes_the_rest(cast, monkeypatch):
    monkeypatch.setattr(imports, "UNDO_CHUNK", 2)  # the kept ones fall in different chunks
    job = _import(cast, FIVE)
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        people = {c.last_name: c for c in Contact.objects.all()}
        call = activity_create(
            actor=actor, data={"kind": "call", "title": "Called", "contact": str(people["Anders"].pk)}
        )
        deal = deal_create(actor=actor, data={"name": "Order", "contact": str(people["Berg"].pk)})
        contact_update(actor=actor, contact=people["Claas"], data={"last_name": "Claassen"})
        partner = company_create(actor=actor, data={"name": "Partner SE"})
        affiliation_add(actor=actor, contact=people["Falk"], data={"company": str(partner.pk), "role": "Buyer"})

        undone = import_undo(actor=actor, job=job)

        assert sorted(Contact.objects.values_list("last_name", flat=True)) == ["Anders", "Berg", "Claassen", "Falk"]
        assert (undone.removed, undone.contacts_kept, undone.restored, undone.restore_skipped) == (2, 4, 0, 0)
        # Alpha and Beta stay with the contacts kept; Delta's only contact is gone.
        assert (undone.companies_removed, undone.companies_kept) == (1, 2)
        assert sorted(Company.objects.values_list("name", flat=True)) == ["Alpha GmbH", "Beta AG", "Partner SE"]
        assert Contact.objects.get(last_name="Anders").company.name == "Alpha GmbH"
        assert Activity.objects.get(pk=call.pk).contact_id == people["Anders"].pk
        assert Deal.objects.get(pk=deal.pk).contact_id == people["Berg"].pk
        assert Contact.objects.get(pk=people["Falk"].pk).affiliations.get().company_id == partner.pk
        assert global_search(actor, "Dorn", types=["contact"]) == []
        assert global_search(actor, "Anders", types=["contact"]) != []
        assert _undo_extra(job) == {
            "removed": 2,
            "restored": 0,
            "companies_removed": 1,
            "companies_kept": 2,
            "not_restored": 0,
            "contacts_kept": 4,
            "restore_skipped": 0,
        }
        assert not ImportJournalEntry.objects.filter(job=job).exists()
        assert ImportJob.objects.get(pk=job.pk).status == "undone"


def test_a_kept_contact_keeps_the_further_addresses_the_import_gave_it(cast):
    text = "Last name,Email,Email 2\nNeu,neu@example.org,neu@home.example\nLeer,leer@example.org,\n"
    job = _import(cast, text)
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        new = Contact.objects.get(last_name="Neu")
        activity_create(actor=actor, data={"title": "Met", "contact": str(new.pk)})

        undone = import_undo(actor=actor, job=job)

        assert list(ContactPoint.objects.values_list("contact_id", "email")) == [(new.pk, "neu@home.example")]
        assert (undone.removed, undone.contacts_kept) == (1, 1)


def test_undo_never_deletes_a_contact_whose_person_is_under_a_legal_hold(cast):
    job = _import(cast, "Last name,Email\nHeld,held@example.org\nFree,free@example.org\n")
    with tenant_scope(cast.org_a):
        held = Contact.objects.get(last_name="Held")
        legal_hold_create(actor=cast.actor(cast.olive), data={"subject": str(held.subject_id), "reason": "Court case"})

        undone = import_undo(actor=cast.actor(cast.alice), job=job)

        assert list(Contact.objects.values_list("last_name", flat=True)) == ["Held"]
        assert (undone.removed, undone.contacts_kept) == (1, 1)


def test_undo_keeps_a_company_someone_edited_since(cast):
    """Someone filled in the new company's website after the import: that work stays, like a
    contact edited since."""
    job = _import(cast, "Last name,Email,Company\nKurz,kurz@example.org,Kept GmbH\nLang,lang@example.org,Gone AG\n")
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        kept = Company.objects.get(name="Kept GmbH")
        company_update(actor=actor, company=kept, data={"website": "https://kept.example"})

        undone = import_undo(actor=actor, job=job)

        assert list(Company.objects.values_list("name", "website")) == [("Kept GmbH", "https://kept.example")]
        assert (undone.removed, undone.companies_removed, undone.companies_kept) == (2, 1, 1)
        assert global_search(actor, "Kept", types=["company"]) != []


def test_undo_leaves_a_changed_contact_that_someone_edited_since_as_it_is(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        ute = contact_create(actor=actor, data={"last_name": "Alt", "city": "Bonn", "email": "ute@example.org"})
        max_ = contact_create(actor=actor, data={"last_name": "Alt", "email": "max@example.org"})
        eva = contact_create(actor=actor, data={"last_name": "Alt", "email": "eva@example.org"})
    text = (
        "Last name,Email,Email 2\n"
        "Neu,ute@example.org,\n"
        "Neu,max@example.org,\n"
        "Alt,eva@example.org,eva@home.example\n"  # only a further address added
    )
    job = _import(cast, text, duplicates="update")
    with tenant_scope(cast.org_a):
        contact_update(actor=actor, contact=Contact.objects.get(pk=ute.pk), data={"city": "Köln"})
        contact_update(actor=actor, contact=Contact.objects.get(pk=eva.pk), data={"first_name": "Eva"})

        undone = import_undo(actor=actor, job=job)

        assert Contact.objects.values_list("last_name", "city").get(pk=ute.pk) == ("Neu", "Köln")
        assert (undone.restored, undone.restore_skipped, undone.removed, undone.contacts_kept) == (1, 2, 0, 0)
        assert Contact.objects.get(pk=max_.pk).last_name == "Alt"
        # Eva's further address stays: she was edited after the import, with it in view.
        assert list(ContactPoint.objects.values_list("contact_id", "email")) == [(eva.pk, "eva@home.example")]
        assert _undo_extra(job)["restore_skipped"] == 2


def _undo_queries(cast, rows: int) -> int:
    job = _import(cast, "Last name,Email\n" + "".join(f"P{n},p{n}.{rows}@example.org\n" for n in range(rows)))
    with tenant_scope(cast.org_a), CaptureQueriesContext(connection) as queries:
        import_undo(actor=cast.actor(cast.alice), job=job)
    return len(queries)


def test_undo_takes_the_same_queries_for_each_chunk(cast, monkeypatch):
    monkeypatch.setattr(imports, "UNDO_CHUNK", 2)
    one, two, four = (_undo_queries(cast, rows) for rows in (2, 4, 8))
    assert four - two == 2 * (two - one)


def test_undo_leaves_a_person_restricted_since_as_they_are(cast):
    """Anna, made by the import, and Eva, given a further address by it, are restricted after
    it: undo removes neither Anna nor Eva's address (counted as kept and skipped)."""
    from custos.privacy.services.restriction import subject_restrict

    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        eva = contact_create(actor=actor, data={"last_name": "Alt", "email": "eva@example.org"})
    text = "Last name,Email,Email 2\nAlt,eva@example.org,eva@home.example\nNeu,anna@example.org,\nFrei,f@example.org,\n"
    job = _import(cast, text, duplicates="update")
    with tenant_scope(cast.org_a):
        anna = Contact.objects.get(email="anna@example.org")
        for person in (anna, Contact.objects.get(pk=eva.pk)):
            subject_restrict(actor=actor, subject=person.subject, inform=False)

        undone = import_undo(actor=actor, job=job)

        assert sorted(Contact.objects.values_list("last_name", flat=True)) == ["Alt", "Neu"]
        assert list(ContactPoint.objects.values_list("contact_id", "email")) == [(eva.pk, "eva@home.example")]
        assert (undone.removed, undone.contacts_kept, undone.restore_skipped) == (1, 1, 1)
