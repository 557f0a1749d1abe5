"""`records_of`: every record of a person, model by model, found through the foreign keys'
indexes (an activity reaches the person as a contact or as a lead), never by reading the
tenant's every activity; and its querysets stay querysets the callers filter, count and update."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection

from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Contact, Lead
from custos.crm.services.activities import activity_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import contact_create
from custos.privacy.models import Subject
from custos.privacy.registry import records_of
from custos.privacy.selectors import subject_record_counts
from custos.privacy.services.reports import access_report
from custos.testing import on_postgres

EMAIL = "ines.vogt@example.org"


def _person(cast):
    """Ines as a contact and, by the same email, a lead: one activity on each, one on both."""
    olive = cast.actor(cast.olive)
    contact = contact_create(actor=olive, data={"first_name": "Ines", "last_name": "Vogt", "email": EMAIL})
    lead = lead_create(actor=olive, data={"first_name": "Ines", "last_name": "Vogt", "email": EMAIL})
    assert lead.subject_id == contact.subject_id
    as_contact = activity_create(actor=olive, data={"title": "call", "contact": str(contact.pk)})
    as_lead = activity_create(actor=olive, data={"title": "mail", "lead": str(lead.pk)})
    both = activity_create(actor=olive, data={"title": "visit", "contact": str(contact.pk)})
    Activity.objects.filter(pk=both.pk).update(lead=lead)
    return Subject.objects.get(pk=contact.subject_id), {as_contact.pk, as_lead.pk, both.pk}


def _activities(subject):
    [found] = [r.queryset for r in records_of(subject) if r.declaration.model is Activity]
    return found


def test_an_activity_reached_by_either_path_is_found_once_and_the_queryset_takes_further_filters(cast, as_tenant):
    subject, mine = _person(cast)
    other = contact_create(actor=cast.actor(cast.olive), data={"last_name": "Else", "email": "else@example.org"})
    activity_create(actor=cast.actor(cast.olive), data={"title": "call", "contact": str(other.pk)})

    found = _activities(subject)

    assert sorted(found.values_list("pk", flat=True)) == sorted(mine)
    assert found.count() == 3
    assert set(found.filter(title="call").values_list("pk", flat=True)) == mine & set(
        Activity.objects.filter(title="call").values_list("pk", flat=True)
    )
    assert found.exclude(title="visit").update(body="checked") == 2
    assert Activity.objects.filter(body="checked").count() == 2  # the other person's untouched
    assert subject_record_counts(subject)["crm.Activity"] == 3
    report = access_report(subject, language="en")
    assert sorted(r["id"] for r in report["records"] if r["type"] == "crm.Activity") == sorted(map(str, mine))


def test_a_person_without_a_lead_or_without_a_contact_still_has_their_records_found(cast, as_tenant):
    olive = cast.actor(cast.olive)
    contact = contact_create(actor=olive, data={"last_name": "Only Contact", "email": "c@example.org"})
    lead = lead_create(actor=olive, data={"last_name": "Only Lead", "email": "l@example.org"})
    on_contact = activity_create(actor=olive, data={"title": "call", "contact": str(contact.pk)})
    on_lead = activity_create(actor=olive, data={"title": "call", "lead": str(lead.pk)})

    assert list(_activities(Subject.objects.get(pk=contact.subject_id)).values_list("pk", flat=True)) == [on_contact.pk]
    assert list(_activities(Subject.objects.get(pk=lead.subject_id)).values_list("pk", flat=True)) == [on_lead.pk]
    nobody = Subject.objects.create()
    assert _activities(nobody).count() == 0 and subject_record_counts(nobody) == {}


def test_an_activity_logged_on_the_person_s_deal_is_theirs(cast, as_tenant):
    """A note added on Ines's deal names no contact itself: it is hers all the same (found,
    reported, and so erased with her), and one on another person's deal is not."""
    from custos.crm.services.deals import deal_create

    olive = cast.actor(cast.olive)
    subject, mine = _person(cast)
    contact = Contact.objects.get(subject=subject)
    other = contact_create(actor=olive, data={"last_name": "Else", "email": "else@example.org"})
    hers = deal_create(actor=olive, data={"name": "Crown", "contact": str(contact.pk)})
    theirs = deal_create(actor=olive, data={"name": "Bridge", "contact": str(other.pk)})
    on_hers = activity_create(actor=olive, data={"title": "offer sent", "deal": str(hers.pk)})
    activity_create(actor=olive, data={"title": "offer sent", "deal": str(theirs.pk)})

    assert sorted(_activities(subject).values_list("pk", flat=True)) == sorted(mine | {on_hers.pk})
    report = access_report(subject, language="en")
    assert str(on_hers.pk) in {r["id"] for r in report["records"] if r["type"] == "crm.Activity"}


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_the_person_s_activities_are_read_through_the_indexes_not_the_tenant_s_every_activity(cast):
    """Measured as the application role, under row-level security, at a few thousand activities
    of other people: the person's activities come from index scans; no node reads the table."""
    if not on_postgres():
        pytest.skip("the plan is PostgreSQL's; SQLite's follows its statistics (ANALYZE), not the query's shape")
    with tenant_scope(cast.org_a):
        subject, mine = _person(cast)
        people = Subject.objects.bulk_create([Subject() for _ in range(1000)])
        contacts = Contact.objects.bulk_create([Contact(last_name=f"P{i}", subject=s) for i, s in enumerate(people)])
        leads = Lead.objects.bulk_create([Lead(last_name=f"P{i}", subject=s) for i, s in enumerate(people)])
        Activity.objects.bulk_create(
            Activity(title="note", contact=contacts[i % 1000] if i % 2 else None, lead=leads[i % 1000])
            for i in range(4000)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_activity, crm_contact, crm_lead")  # as the owner: the planner's statistics

    with tenant_scope(cast.org_a):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, row_security_active('crm_activity')")
            assert cursor.fetchone() == (settings.CUSTOS_DB_APP_ROLE, True)
        found = _activities(subject)
        [plan] = json.loads(found.explain(analyze=True, format="json"))
        assert sorted(found.values_list("pk", flat=True)) == sorted(mine)

    reads = [(n["Node Type"], n.get("Relation Name")) for n in _nodes(plan["Plan"])]
    assert ("Seq Scan", "crm_activity") not in reads, reads
