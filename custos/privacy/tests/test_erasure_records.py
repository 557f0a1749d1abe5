"""Erasure reads the person's records and the values they are recognised by in one statement,
one part per path to the person; what it finds and does is what the registry says."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from custos.crm.models import Activity, ContactPoint, Lead
from custos.crm.services.activities import activity_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import contact_create
from custos.privacy.models import PrivacyRequest, Subject, Suppression
from custos.privacy.registry import records_of
from custos.privacy.services import erasure
from custos.privacy.services.subjects import identifiers_of
from custos.privacy.services.suppression import suppress_subject

pytestmark = pytest.mark.usefixtures("as_tenant")

EMAIL = "ines.vogt@example.org"


def _person(cast):
    """A contact with a further address, a lead of the same email (the same person), and an
    activity reaching the person by both paths (contact and lead)."""
    olive = cast.actor(cast.olive)
    contact = contact_create(
        actor=olive, data={"first_name": "Ines", "last_name": "Vogt", "email": EMAIL, "phone": "+49 30 5550101"}
    )
    ContactPoint.objects.create(contact=contact, email="ines.private@example.org")
    ContactPoint.objects.create(contact=contact, phone="+49 171 5550102")
    lead = lead_create(actor=olive, data={"first_name": "I.", "last_name": "Vogt", "email": EMAIL})
    assert lead.subject_id == contact.subject_id
    both = activity_create(actor=olive, data={"title": "call", "contact": str(contact.pk)})
    Activity.objects.filter(pk=both.pk).update(lead=lead)
    return Subject.objects.get(pk=contact.subject_id), both


def test_the_records_and_identifiers_read_at_once_are_those_of_the_registry(cast):
    subject, both = _person(cast)
    other = contact_create(actor=cast.actor(cast.olive), data={"last_name": "Else", "email": "else@example.org"})

    with CaptureQueriesContext(connection) as captured:
        own, identifiers = erasure._own_records(subject)

    assert len(captured) == 1
    expected = {
        r.declaration.model._meta.label: sorted(r.queryset.values_list("pk", flat=True)) for r in records_of(subject)
    }
    assert {label: sorted(ids) for label, ids in own.items()} == {label: ids for label, ids in expected.items() if ids}
    assert own["crm.Activity"] == [both.pk]  # reached by two paths, counted once
    assert identifiers == identifiers_of(subject)
    assert (identifiers["email"], identifiers["name"]) == (
        {EMAIL, "ines.private@example.org"},
        {"Ines Vogt", "I. Vogt"},
    )
    assert len(identifiers["phone"]) == 2
    assert other.pk not in own["crm.Contact"]


def test_a_request_known_by_email_alone_is_linked_counted_and_emptied(cast):
    subject, _ = _person(cast)
    request = PrivacyRequest.objects.create(kind="access", email=EMAIL.upper(), due_at=timezone.now())

    plan = erasure.subject_erase(actor=cast.actor(cast.olive), subject=subject)

    request.refresh_from_db()
    assert (request.subject_id, request.email) == (subject.pk, "")
    assert plan.anonymise["privacy.PrivacyRequest"] == 1
    assert plan.delete["crm.Activity"] == 1
    assert not Lead.objects.exclude(email="").exists()


def test_the_suppression_list_gets_every_address_once_in_two_statements(cast):
    subject, _ = _person(cast)
    identifiers = identifiers_of(subject)

    with CaptureQueriesContext(connection) as captured:
        added = suppress_subject(subject, reason="erasure", identifiers=identifiers)

    assert added == 4  # two emails, two phones
    assert len(captured) == 2
    assert Suppression.objects.count() == 4
    assert suppress_subject(subject, reason="erasure", identifiers=identifiers) == 0
    assert Suppression.objects.count() == 4
