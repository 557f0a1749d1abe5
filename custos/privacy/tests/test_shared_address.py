"""A family sharing one email address: each their own person, whose data none of the others
sees, corrects or erases, in the staff UI, the API, the portal and an import."""

import io

import pytest

from custos.api.tests.helpers import created, ok, post, problem
from custos.core.tenancy import tenant_scope
from custos.crm.imports import import_start, import_upload
from custos.crm.models import Contact, ImportJob
from custos.crm.services.leads import lead_create
from custos.crm.services.people import contact_create
from custos.privacy.models import PrivacyRequest
from custos.privacy.services.reports import access_report
from custos.testing import api_client, run_tasks, web_client

FAMILY = "family@example.org"


@pytest.fixture
def family(cast):
    """Greta and her father Hans, one address; Hans's health notes are his alone."""
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        greta = contact_create(actor=actor, data={"first_name": "Greta", "last_name": "Lind", "email": FAMILY})
        hans = contact_create(
            actor=actor,
            data={"first_name": "Hans", "last_name": "Lind", "email": FAMILY, "health_notes": "Diabetes"},
        )
    return greta, hans


def _imported(cast, rows, duplicates):
    """An import of these rows (first name, last name, email, city), run by the worker."""
    actor = cast.actor(cast.alice)
    text = "Vorname,Nachname,E-Mail,Stadt\n" + rows
    with tenant_scope(cast.org_a):
        job = import_upload(actor=actor, object_type="contact", file_name="f.csv", stream=io.BytesIO(text.encode()))
        mapping = {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email", "Stadt": "city"}
        import_start(actor=actor, job=job, mapping=mapping, duplicates=duplicates)
    run_tasks()
    with tenant_scope(cast.org_a):
        return ImportJob.objects.get(pk=job.pk)


def test_people_sharing_an_address_are_each_their_own_person(cast, family):
    greta, hans = family
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        again = contact_create(actor=actor, data={"first_name": "greta", "last_name": "LIND", "email": FAMILY})
        unnamed_lead = lead_create(actor=actor, data={"email": FAMILY.upper()})
        report = access_report(greta.subject, language="en")

    assert greta.subject_id != hans.subject_id
    assert again.subject_id == greta.subject_id  # the same name, written otherwise: the same person
    assert unnamed_lead.subject_id == greta.subject_id  # no name: the address alone says who
    assert "Diabetes" not in str(report) and "Hans" not in str(report)


def test_a_request_from_a_shared_address_is_carried_out_for_the_person_staff_choose(cast, family):
    greta, hans = family
    client = api_client(cast, cast.alice)
    request = created(client, "/api/v1/privacy/requests", kind="erasure", email=FAMILY)
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "Hans came to the desk"}))

    refused = problem(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"), 409)
    assert refused["detail"] == "Several people share this email address: choose whose request it is first."

    staff = web_client(cast.alice)
    page = staff.get(f"/privacy/requests/{request['id']}/").content.decode()
    assert "Whose request is it?" in page and "Greta Lind" in page and "Hans Lind" in page
    staff.post(f"/privacy/requests/{request['id']}/person/", {"subject": str(hans.subject_id)})
    done = ok(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"))

    assert done["status"] == "completed"
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=hans.pk).first_name == ""
        assert Contact.objects.get(pk=greta.pk).first_name == "Greta"


def test_through_the_api_staff_list_the_people_sharing_the_address_and_choose_one(cast, family):
    greta, hans = family
    client = api_client(cast, cast.alice)
    request = created(client, "/api/v1/privacy/requests", kind="access", email=FAMILY)
    path = f"/api/v1/privacy/requests/{request['id']}"

    people = ok(client.get(f"{path}/people"))["items"]
    wrong = problem(post(client, f"{path}/person", {"subject": "nobody"}), 422)
    chosen = ok(post(client, f"{path}/person", {"subject": str(greta.subject_id)}))

    assert sorted(p["id"] for p in people) == sorted([str(greta.subject_id), str(hans.subject_id)])
    assert all(p["records"]["crm.Contact"] == 1 for p in people)
    assert wrong["errors"][0]["field"] == "subject"
    assert chosen["subject"] == str(greta.subject_id)
    assert ok(client.get(f"{path}/people"))["items"] == []  # the request is Greta's now


def test_support_staff_who_may_see_requests_do_not_list_the_people_behind_them(cast, family):
    """The record counts would tell them a patient from a lead: handlers who see persons only."""
    from custos.accounts.models import Membership
    from custos.accounts.tests.helpers import role

    request = created(api_client(cast, cast.alice), "/api/v1/privacy/requests", kind="access", email=FAMILY)
    with tenant_scope(cast.org_a):
        Membership.objects.filter(user=cast.bob, org=cast.org_a).update(role=role(cast.org_a, "support"))
    support = api_client(cast, cast.bob, scope="read,write")

    assert ok(support.get(f"/api/v1/privacy/requests/{request['id']}"))["id"] == request["id"]
    problem(support.get(f"/api/v1/privacy/requests/{request['id']}/people"), 403)


def test_only_a_person_with_the_address_may_be_chosen(cast, family):
    client = api_client(cast, cast.alice)
    other = created(client, "/api/v1/contacts", first_name="Olga", email="olga@example.org")
    request = created(client, "/api/v1/privacy/requests", kind="access", email=FAMILY)

    web_client(cast.alice).post(f"/privacy/requests/{request['id']}/person/", {"subject": other["subject"]})

    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=request["id"]).subject_id is None


def test_an_import_creating_a_family_member_gives_them_their_own_person(cast, family):
    greta, _hans = family
    job = _imported(cast, "Emil,Lind,family@example.org,\nGreta,Lind,family@example.org,\n", "create")
    with tenant_scope(cast.org_a):
        assert job.created_count == 2
        emil = Contact.objects.get(first_name="Emil")
        greta_again = Contact.objects.exclude(pk=greta.pk).get(first_name="Greta")
    assert emil.subject_id not in (greta.subject_id, _hans.subject_id)
    assert greta_again.subject_id == greta.subject_id


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (("Ines", "Vogt"), ("I.", "Vogt"), True),
        (("Ada", "Lovelace"), ("", "Lovelace"), True),
        (("Hans", "Lind"), ("H", "Lind"), True),
        (("Jürgen", "Müller"), ("JURGEN", "MULLER"), True),
        (("", ""), ("Hans", "Lind"), True),  # unnamed: the address alone says who
        (("Greta", ""), ("", "Lind"), True),  # no name given on both: nothing disagrees
        (("Anna", "Lind"), ("Anna Lena", "Lind"), True),
        (("Greta", "Lind"), ("Hans", "Lind"), False),
        (("Ada", "Lovelace"), ("Ada", "Byron"), False),
    ],
)
def test_two_names_with_one_address_are_one_person_unless_they_disagree(one, other, same):
    from custos.crm.services.records import names_of, same_person

    assert same_person(names_of(*one), names_of(*other)) is same
    assert same_person(names_of(*other), names_of(*one)) is same


def test_erasing_one_person_leaves_the_others_waiting_request_alone(cast, family):
    from custos.privacy.services.erasure import subject_erase

    greta, _hans = family
    client = api_client(cast, cast.alice)
    waiting = created(client, "/api/v1/privacy/requests", kind="access", email=FAMILY)
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.alice), subject=greta.subject)
        request = PrivacyRequest.objects.get(pk=waiting["id"])
    assert (request.subject_id, request.email) == (None, FAMILY)


def test_a_request_whose_address_someone_took_since_waits_to_be_told_whose_it_is(cast):
    client = api_client(cast, cast.alice)
    request = created(client, "/api/v1/privacy/requests", kind="access", email="later@example.org")
    created(client, "/api/v1/contacts", first_name="Lena", last_name="Lind", email="later@example.org")
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "Known caller"}))

    waiting = problem(post(client, f"/api/v1/privacy/requests/{request['id']}/complete"), 409)
    assert waiting["detail"].startswith("Someone on record has taken this email address since")
    assert "Whose request is it?" in web_client(cast.alice).get(f"/privacy/requests/{request['id']}/").content.decode()


def test_an_address_corrected_away_finds_no_one_though_the_request_keeps_it(cast):
    from custos.privacy.services.subjects import subjects_with_email

    client = api_client(cast, cast.alice)
    greta = created(client, "/api/v1/contacts", first_name="Greta", email="old@example.org")
    request = created(client, "/api/v1/privacy/requests", kind="rectification", email="old@example.org")
    ok(post(client, f"/api/v1/privacy/requests/{request['id']}/verify", {"reason": "ID card seen"}))
    ok(
        post(
            client, f"/api/v1/privacy/requests/{request['id']}/complete", {"corrections": {"email": "new@example.org"}}
        )
    )

    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=request["id"]).email == "old@example.org"
        assert subjects_with_email("old@example.org") == []
        assert [str(s.pk) for s in subjects_with_email("new@example.org")] == [greta["subject"]]


def test_an_update_import_reaches_the_family_member_it_names_and_no_other(cast, family):
    greta, hans = family
    job = _imported(cast, "Hans,Lind,family@example.org,Bonn\nEmil,Lind,family@example.org,Köln\n", "update")
    with tenant_scope(cast.org_a):
        assert (job.updated_count, job.created_count) == (1, 1)
        assert Contact.objects.get(pk=hans.pk).city == "Bonn"
        assert (Contact.objects.get(pk=greta.pk).first_name, Contact.objects.get(pk=greta.pk).city) == ("Greta", "")
        emil = Contact.objects.get(first_name="Emil")
    assert emil.subject_id not in (greta.subject_id, hans.subject_id)
