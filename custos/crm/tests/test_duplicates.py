"""The same person twice: found by email, phone or a close name at the same place; merged whole."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, PermissionDenied
from custos.core.tenancy import tenant_scope
from custos.crm.duplicates import contact_duplicates, contact_merge, find_duplicates, stored_people
from custos.crm.models import Activity, Contact, Deal, Lead
from custos.crm.selectors.people import contact_list
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.privacy.models import Subject
from custos.search.models import SearchEntry
from custos.testing import on_postgres


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
    assert sorted(_reasons(identical)) == [("Muller", ("name",)), ("Müller", ("name",))]


def test_a_different_person_is_not_suggested(alice):
    contact_create(actor=alice, data={"first_name": "Anna", "last_name": "Schmidt", "email": "anna@a.example"})
    assert find_duplicates(alice, {"first_name": "Bernd", "last_name": "Schmidt", "email": "bernd@b.example"}) == []


def test_suggestions_stay_within_the_record_scope(cast, alice):
    contact_create(actor=alice, data={"last_name": "Hidden", "email": "x@x.example"})
    assert find_duplicates(cast.actor(cast.sam), {"email": "x@x.example"}) == []


def test_a_name_typed_in_another_case_is_the_same_name(alice):
    contact_create(actor=alice, data={"first_name": "Jürgen", "last_name": "Müller", "email": "jm@gmail.com"})
    for first, last in (("JÜRGEN", "MÜLLER"), ("jürgen", "müller"), (" Jürgen ", "Müller ")):
        found = find_duplicates(alice, {"first_name": first, "last_name": last, "email": "other@gmail.com"})
        assert _reasons(found) == [("Müller", ("name",))], (first, last)


def test_a_name_typed_without_its_accents_is_the_same_name(alice):
    """A keyboard without umlauts or Polish letters: the person on record is still found."""
    contact_create(actor=alice, data={"first_name": "Jürgen", "last_name": "Müller", "email": "jm@gmail.com"})
    contact_create(actor=alice, data={"first_name": "Łucja", "last_name": "Wójcik", "phone": "+48 22 1234567"})

    muller = find_duplicates(alice, {"first_name": "Jurgen", "last_name": "Muller", "email": "other@gmail.com"})
    wojcik = find_duplicates(alice, {"first_name": "lucja", "last_name": "WOJCIK"})

    assert _reasons(muller) == [("Müller", ("name",))]
    assert _reasons(wojcik) == [("Wójcik", ("name",))]
    assert find_duplicates(alice, {"first_name": "Jurgen", "last_name": "Mulder", "email": "o@gmail.com"}) == []


def _people_named(last_name, count, first_name="", **values):
    people = Subject.objects.bulk_create([Subject() for _ in range(count)])
    return Contact.objects.bulk_create(
        Contact(first_name=first_name or f"P{i}", last_name=last_name, subject=s, **values)
        for i, s in enumerate(people)
    )


def test_the_same_email_or_phone_is_found_among_thousands_of_the_same_name(alice):
    """Each reason is looked up on its own: the many bearers of a common last name (or a big
    company's people) cannot crowd out the one contact holding the same email or phone, and
    it comes before a dozen namesakes (an identical name scores 100 too)."""
    firm = company_create(actor=alice, data={"name": "Großhandel AG"})
    _people_named("Schmidt", 450, company=firm)
    _people_named("Schmidt", 12, first_name="Eva", company=firm)
    _people_named("Schmidt", 450, email="someone@grosshandel.example")
    eva = {"first_name": "Eva", "last_name": "Schmidt", "email": "eva@gmail.com", "phone": "030 5556667"}
    wanted = contact_create(actor=alice, data=eva)
    asked = {"first_name": "Eva", "last_name": "Schmidt", "company_id": firm.pk}
    by_email = find_duplicates(alice, {**asked, "email": "EVA@gmail.com"})
    by_phone = find_duplicates(alice, {**asked, "email": "eva@grosshandel.example", "phone": "+49 30 5556667"})
    assert [(c.contact.pk, c.reasons) for c in by_email[:1]] == [(wanted.pk, ("email", "name"))]
    assert [(c.contact.pk, c.reasons) for c in by_phone[:1]] == [(wanted.pk, ("phone", "name"))]


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


@pytest.mark.parametrize("side", ["keep", "other"])
def test_a_restricted_persons_contact_is_never_merged(cast, alice, side):
    """Processing of Anna's data is restricted: her contact is stored as it is, neither filled
    from another nor merged away."""
    from custos.privacy.services.restriction import subject_restrict

    anna = contact_create(actor=alice, data={"first_name": "Anna", "last_name": "Schmidt", "city": "Bonn"})
    twin = contact_create(actor=alice, data={"first_name": "Anna", "last_name": "Schmidt", "email": "a@example.org"})
    subject_restrict(actor=alice, subject=anna.subject, inform=False)
    keep, other = (anna, twin) if side == "keep" else (twin, anna)
    with pytest.raises(Conflict, match="restricted"):
        contact_merge(actor=alice, keep=keep, other=other)
    assert Contact.objects.get(pk=anna.pk).email == ""
    assert Contact.objects.filter(pk__in=[anna.pk, twin.pk]).count() == 2


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_a_batch_s_emails_are_found_through_the_index_not_by_reading_every_contact(cast):
    """As the application role, under row-level security: `lower(email)` is LEAKPROOF (core
    migration 0004), so an import's batch finds its stored people through the per-organisation
    index on it. Without the mark the policy keeps the planner off that index, and each batch
    read every contact of the organisation."""
    if not on_postgres():
        pytest.skip("the plan is PostgreSQL's; the mark is for its row-level security")
    with tenant_scope(cast.org_a):
        people = Subject.objects.bulk_create([Subject() for _ in range(3000)])
        Contact.objects.bulk_create(
            Contact(last_name=f"P{i}", email=f"Person.{i}@Example.org", subject=s) for i, s in enumerate(people)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact")  # as the owner: the planner's statistics

    with tenant_scope(cast.org_a):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, row_security_active('crm_contact')")
            assert cursor.fetchone() == (settings.CUSTOS_DB_APP_ROLE, True)
        with CaptureQueriesContext(connection) as ran:
            found = stored_people([{"email": "person.7@example.org"}, {"email": "PERSON.2999@example.ORG"}])
        assert sorted(c.last_name for c in found.contacts()) == ["P2999", "P7"]
        [statement] = [q["sql"] for q in ran.captured_queries if "crm_contact" in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}")
            raw = cursor.fetchone()[0]
        [plan] = raw if isinstance(raw, list) else json.loads(raw)  # psycopg reads json already

    reads = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in _nodes(plan["Plan"])]
    assert ("Seq Scan", "crm_contact", None) not in reads, reads
    assert any(index == "contact_org_email_lower" for _type, _relation, index in reads), reads


def test_the_duplicate_check_on_create_reads_through_indexes(cast):
    """As the application role, under row-level security: each of the check's look-ups (email,
    phone, further addresses, company, the same name, a last name at one email domain) finds
    its contacts through an index, none reads the organisation's contacts one by one."""
    if not on_postgres():
        pytest.skip("the plan is PostgreSQL's; the mark is for its row-level security")
    with tenant_scope(cast.org_a):
        people = Subject.objects.bulk_create([Subject() for _ in range(3000)])
        Contact.objects.bulk_create(
            Contact(first_name="Eva", last_name=f"P{i}", email=f"p{i}@firm.example", phone=f"+4930{i:07d}", subject=s)
            for i, s in enumerate(people)
        )
        firm = company_create(actor=cast.actor(cast.alice), data={"name": "Firm"})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact")
        cursor.execute("ANALYZE crm_contactpoint")

    asked = {
        "first_name": "Eva",
        "last_name": "P7",
        "email": "eva@firm.example",
        "phone": "+49300000007",
        "company_id": firm.pk,
        "other_emails": ["e@firm.example"],
    }
    with tenant_scope(cast.org_a):
        with CaptureQueriesContext(connection) as ran:
            found = find_duplicates(cast.actor(cast.alice), asked)
        assert [(c.contact.last_name, c.reasons) for c in found] == [("P7", ("phone", "name"))]
        statements = [q["sql"] for q in ran.captured_queries if 'FROM "crm_contact"' in q["sql"]]
        reads = []
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}")
                raw = cursor.fetchone()[0]
                [plan] = raw if isinstance(raw, list) else json.loads(raw)
                reads += [(n["Node Type"], n.get("Relation Name")) for n in _nodes(plan["Plan"])]
    assert len(statements) >= 6
    assert ("Seq Scan", "crm_contact") not in reads, reads


def test_a_name_in_any_case_is_the_same_name(alice):
    contact_create(actor=alice, data={"first_name": "Anna", "last_name": "van der Berg", "email": "a@gmail.com"})
    contact_create(actor=alice, data={"first_name": "JON", "last_name": "McAllister", "email": "jon@firm.example"})
    same = find_duplicates(alice, {"first_name": "anna", "last_name": "Van Der Berg", "email": "b@gmail.com"})
    assert _reasons(same) == [("van der Berg", ("name",))]
    close = find_duplicates(alice, {"first_name": "John", "last_name": "Mcallister", "email": "john@firm.example"})
    assert _reasons(close) == [("McAllister", ("name",))]


def test_a_merge_keeps_the_objections_and_breaches_of_both_people(cast, alice):
    """Art. 21: an objection of the contact merged away still stands; both were in one breach."""
    from custos.privacy.models import BreachSubject
    from custos.privacy.services.breaches import breach_add_subjects, breach_create
    from custos.privacy.services.restriction import subject_object

    keep = contact_create(actor=alice, data={"first_name": "Ada", "last_name": "Lovelace"})
    other = contact_create(actor=alice, data={"first_name": "Ada", "last_name": "Lovelace", "email": "a@example.org"})
    subject_object(actor=alice, subject=other.subject, about="profiling")
    subject_object(actor=alice, subject=other.subject, about="marketing")
    breach = breach_create(actor=alice, data={"title": "Laptop", "aware_at": "2026-11-20T10:00:00+01:00"})
    breach_add_subjects(actor=alice, breach=breach, subject_ids=[str(keep.subject_id), str(other.subject_id)])

    contact_merge(actor=alice, keep=keep, other=other)

    person = Subject.objects.get(pk=keep.subject_id)
    assert person.objected_to_profiling_at is not None and person.objected_to_marketing_at is not None
    assert list(BreachSubject.objects.filter(breach=breach).values_list("subject_id", flat=True)) == [person.pk]


def test_merging_health_notes_into_a_contact_needs_the_right_to_write_them(cast, alice):
    from custos.accounts.models import Role
    from custos.accounts.services import member_add

    keep = contact_create(actor=alice, data={"first_name": "Ada", "last_name": "Lovelace"})
    other = contact_create(actor=alice, data={"first_name": "Ada", "last_name": "Lovelace", "health_notes": "Asthma"})
    role = Role.objects.create(
        key="merger", name="Merger", permissions=["contact.view", "contact.change", "contact.delete"]
    )
    manager = member_add(actor=cast.actor(cast.olive), email="m@acme.example", role=role).user

    with pytest.raises(PermissionDenied):
        contact_merge(actor=cast.actor(manager), keep=keep, other=other)

    assert Contact.objects.get(pk=keep.pk).health_notes == ""
    assert Contact.objects.filter(pk=other.pk).exists()
