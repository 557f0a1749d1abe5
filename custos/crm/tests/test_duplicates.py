"""The same person twice: found by email, phone or a close name at the same place; merged whole."""

import pytest

from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, PermissionDenied
from custos.crm.duplicates import contact_duplicates, contact_merge, find_duplicates
from custos.crm.models import Activity, Contact, Deal, Lead
from custos.crm.selectors.people import contact_list
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.privacy.models import Subject
from custos.search.models import SearchEntry


@pytest.fixture
def alice(cast, as_tenant):
    return cast.actor(cast.alice)


def _reasons(candidates):
    return [(c.contact.last_name, c.reasons) for c in candidates]


def test_the_same_email_phone_or_a_close_name_at_the_same_company_is_suggested(alice):
    firm = company_create(actor=alice, data={"name": "Nordwind GmbH"})
    contact_create(
        actor=alice,
        data={"first_name": "Jürgen", "last_name": "Müller", "email": "jm@nordwind.example", "company": str(firm.pk)},
    )
    contact_create(actor=alice, data={"first_name": "Anna", "last_name": "Schmidt", "phone": "030 12345678"})
    contact_create(actor=alice, data={"first_name": "Jurgen", "last_name": "Muller", "email": "j.mueller@gmail.com"})

    assert _reasons(find_duplicates(alice, {"email": "JM@nordwind.example"})) == [("Müller", ("email",))]
    assert _reasons(find_duplicates(alice, {"phone": "+493012345678"})) == [("Schmidt", ("phone",))]
    same_company = find_duplicates(alice, {"first_name": "Jürgen", "last_name": "Mueller", "company_id": firm.pk})
    assert _reasons(same_company) == [("Müller", ("name",))]
    # A similar name alone, at a free-mail address, is not enough; the very same name is.
    assert find_duplicates(alice, {"first_name": "Jurgen", "last_name": "Mueller", "email": "x@gmail.com"}) == []
    identical = find_duplicates(alice, {"first_name": "Jurgen", "last_name": "Muller", "email": "x@gmail.com"})
    assert _reasons(identical) == [("Muller", ("name",))]


def test_a_different_person_is_not_suggested(alice):
    contact_create(actor=alice, data={"first_name": "Anna", "last_name": "Schmidt", "email": "anna@a.example"})
    assert find_duplicates(alice, {"first_name": "Bernd", "last_name": "Schmidt", "email": "bernd@b.example"}) == []


def test_suggestions_stay_within_the_record_scope(cast, alice):
    contact_create(actor=alice, data={"last_name": "Hidden", "email": "x@x.example"})
    assert find_duplicates(cast.actor(cast.sam), {"email": "x@x.example"}) == []


def test_a_merge_keeps_every_linked_record_and_joins_the_two_people(cast, alice):
    keep = contact_create(actor=alice, data={"first_name": "Ada", "last_name": "Lovelace", "tags": ["vip"]})
    other = contact_create(
        actor=alice,
        data={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.org",
            "phone": "030 12345678",
            "tags": ["newsletter"],
            "health_notes": "Asthma",
        },
    )
    lead = lead_create(actor=alice, data={"last_name": "Lovelace", "email": "ada@example.org"})
    assert lead.subject_id == other.subject_id != keep.subject_id
    activity_create(actor=alice, data={"title": "Called", "contact": str(other.pk)})
    deal = deal_create(actor=alice, data={"name": "Analytical engine", "contact": str(other.pk)})
    gone_subject = other.subject_id
    assert [c.contact.pk for c in contact_duplicates(alice, keep)] == [other.pk]

    merged = contact_merge(actor=alice, keep=keep, other=other)

    assert not Contact.objects.filter(pk=other.pk).exists()
    merged = Contact.objects.get(pk=keep.pk)
    assert (merged.email, merged.phone, merged.tags, merged.health_notes) == (
        "ada@example.org",
        "+493012345678",
        ["vip", "newsletter"],
        "Asthma",
    )
    assert Activity.objects.get(title="Called").contact_id == keep.pk
    assert Deal.objects.get(pk=deal.pk).contact_id == keep.pk
    assert Lead.objects.get(pk=lead.pk).subject_id == keep.subject_id  # one person, one subject
    assert not Subject.objects.filter(pk=gone_subject).exists()
    assert not SearchEntry.objects.filter(object_id=other.pk).exists()
    assert [c.email for c in contact_list(alice, q="ada@example")] == ["ada@example.org"]
    entry = AuditEntry.objects.filter(action="contact.merge").get()
    assert entry.extra == {
        "merged": str(other.pk),
        "activities": 1,
        "deals": 1,
        "subject_records": entry.extra["subject_records"],
    }
    assert entry.extra["subject_records"] >= 1
    assert "ada@example.org" not in str(entry.extra)


def test_merging_needs_both_change_and_delete_and_two_contacts(cast, alice):
    one = contact_create(actor=alice, data={"last_name": "One"})
    two = contact_create(actor=alice, data={"last_name": "Two"})
    with pytest.raises(PermissionDenied):
        contact_merge(actor=cast.actor(cast.sam), keep=one, other=two)
    with pytest.raises(Conflict):
        contact_merge(actor=alice, keep=one, other=one)
    assert Contact.objects.count() == 2
