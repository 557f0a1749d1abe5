"""Duplicates in the staff UI: warned of while a new contact is typed, merged side by side with
a choice per field, and nothing linked to either contact lost."""

import html

import pytest

from custos.accounts.models import Role
from custos.accounts.services import role_update
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Contact, Deal, Lead
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_convert, lead_create
from custos.crm.services.people import company_create, contact_create
from custos.privacy.models import Subject
from custos.scheduling.models import Appointment, Recall
from custos.scheduling.services.recalls import recall_create
from custos.testing import book_appointment, web_client
from custos.web.tests.sales import audit_actions, crm_state, fresh, in_org_a

CHECK = "/contacts/new/duplicates/"


def _text(response):
    return html.unescape(response.content.decode())


def _contact(cast, user=None, **data):
    return in_org_a(cast, contact_create, user=user, data=data)


def _state(cast):
    """What a refused merge must leave as it was: the CRM, the schedule and the people."""
    state = crm_state(cast)
    with tenant_scope(cast.org_a):
        state["appointments"] = list(Appointment.objects.order_by("pk").values_list("pk", "contact_id"))
        state["recalls"] = list(Recall.objects.order_by("pk").values_list("pk", "contact_id"))
        state["subjects"] = sorted(str(pk) for pk in Subject.objects.values_list("pk", flat=True))
    return state


def _merge_url(first, second):
    return f"/contacts/{first.pk}/merge/{second.pk}/"


def _sales_may_delete(cast):
    """Give the sales role the right to delete (and so to merge) the contacts it may see."""
    with tenant_scope(cast.org_a):
        role = Role.objects.get(org=cast.org_a, key="sales")
        role_update(
            actor=cast.actor(cast.olive),
            role=role,
            name=role.name,
            permissions=[*role.permissions, "contact.delete"],
            record_scope=role.record_scope,
            hidden_fields=role.hidden_fields,
        )


# While typing a new contact --------------------------------------------------------------


def test_the_same_email_is_shown_while_a_new_contact_is_typed(cast):
    known = _contact(cast, first_name="Ada", last_name="Lind", email="ada@lind.example")
    body = _text(web_client(cast.alice).post(CHECK, {"email": " ADA@Lind.example "}))
    assert "Possible duplicates:" in body
    assert f'href="/contacts/{known.pk}/"' in body and "Ada Lind" in body and "same email" in body
    assert 'name="save_anyway"' in body


def test_the_same_phone_in_another_format_is_shown(cast):
    known = _contact(cast, first_name="Anna", last_name="Schmidt", phone="+49 30 12345678")
    for typed in ("030 12345678", "+49 (30) 123 456 78", "0049 30 12345678"):
        body = _text(web_client(cast.alice).post(CHECK, {"phone": typed}))
        assert f'href="/contacts/{known.pk}/"' in body and "same phone number" in body, typed
    # A number being typed, not yet whole, warns of nothing and breaks nothing.
    assert "Possible duplicates:" not in _text(web_client(cast.alice).post(CHECK, {"phone": "030 12"}))


def test_a_nul_typed_into_the_new_contact_form_breaks_no_check(cast):
    """Found in review: PostgreSQL refuses a NUL in any text, and the check gave a 500."""
    known = _contact(cast, first_name="Ada", last_name="Lind", email="ada@lind.example")
    fields = ("last_name", "email", "phone", "other_emails", "other_phones")
    response = web_client(cast.alice).post(
        CHECK, {**dict.fromkeys(fields, "ab\x00cd"), "email": "ada@lind\x00.example"}
    )
    assert response.status_code == 200
    assert f'href="/contacts/{known.pk}/"' in _text(response)


def test_a_similar_name_at_the_same_company_is_shown(cast):
    firm = in_org_a(cast, company_create, data={"name": "Nordwind GmbH"})
    known = _contact(cast, first_name="Jürgen", last_name="Müller", company=str(firm.pk))
    client = web_client(cast.alice)
    body = _text(client.post(CHECK, {"first_name": "Jurgen", "last_name": "Mueller", "company": "Nordwind GmbH"}))
    assert f'href="/contacts/{known.pk}/"' in body and "similar name at the same place" in body
    # The same similar name elsewhere is somebody else.
    body = _text(client.post(CHECK, {"first_name": "Jurgen", "last_name": "Mueller", "company": ""}))
    assert "Possible duplicates:" not in body
    body = _text(client.post(CHECK, {"first_name": "Bernd", "last_name": "Schmidt", "email": "b@b.example"}))
    assert "Possible duplicates:" not in body and 'id="possible-duplicates"' in body


def test_the_new_contact_form_warns_before_saving_and_saves_when_told_to(cast):
    _contact(cast, first_name="Ada", last_name="Lind", email="ada@lind.example")
    client = web_client(cast.alice)
    form = client.get("/contacts/new/")
    assert f'hx-post="{CHECK}"' in _text(form)
    before = _state(cast)
    data = {"first_name": "Ada", "last_name": "Lind", "email": "ada@lind.example"}
    response = client.post("/contacts/new/", data)
    assert response.status_code == 200 and "Possible duplicates:" in _text(response)
    assert _state(cast) == before
    response = client.post("/contacts/new/", data | {"save_anyway": "1"})
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        assert Contact.objects.filter(email="ada@lind.example").count() == 2


def test_suggestions_stay_within_what_the_person_may_see(cast):
    _contact(cast, first_name="Ada", last_name="Lind", email="ada@lind.example")  # olive's
    mine = _contact(cast, cast.sam, first_name="Bea", last_name="Berg", email="bea@berg.example")
    client = web_client(cast.sam)
    assert "Possible duplicates:" not in _text(client.post(CHECK, {"email": "ada@lind.example"}))
    assert f"/contacts/{mine.pk}/" in _text(client.post(CHECK, {"email": "bea@berg.example"}))
    # Someone who may not add contacts has nothing to check.
    assert web_client(cast.bob).post(CHECK, {"email": "bea@berg.example"}).status_code == 403
    assert web_client(cast.mallory).post(CHECK, {"email": "bea@berg.example"}).content.count(b"Berg") == 0


# Merging ---------------------------------------------------------------------------------


@pytest.fixture
def twins(cast):
    """Ada twice, each with records of her own: activities, a deal, a converted lead, an appointment, a recall."""
    firm = in_org_a(cast, company_create, data={"name": "Lind Dental"})
    first = _contact(
        cast,
        first_name="Ada",
        last_name="Lind",
        email="ada@lind.example",
        phone="030 12345678",
        city="Berlin",
        tags=["vip"],
    )
    lead = in_org_a(cast, lead_create, data={"first_name": "Ada", "last_name": "Lind", "email": "a.lind@work.example"})
    second = in_org_a(cast, lead_convert, lead=lead, create_deal=False).contact
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        Contact.objects.filter(pk=second.pk).update(
            phone="+4940555666", company=firm, notes="Prefers mornings", tags=["newsletter"]
        )
        activity_create(actor=actor, data={"title": "First call", "contact": str(first.pk)})
        activity_create(actor=actor, data={"title": "Second call", "contact": str(second.pk)})
        deal = deal_create(actor=actor, data={"name": "Chairs", "contact": str(second.pk)})
        appointment = book_appointment(actor, second, cast.olive)
        service = appointment.service
        recall = recall_create(
            actor=actor,
            data={"contact": str(second.pk), "service": str(service.pk), "interval_months": 6, "due_on": "2030-06-01"},
        )
    return {
        "first": first,
        "second": fresh(cast, second),
        "lead": lead,
        "deal": deal,
        "appointment": appointment,
        "recall": recall,
        "service": service,
        "firm": firm,
    }


def test_the_merge_page_shows_both_contacts_and_a_choice_where_they_differ(cast, twins):
    first, second = twins["first"], twins["second"]
    body = _text(web_client(cast.alice).get(_merge_url(first, second)))
    assert "Merge two contacts" in body
    assert "ada@lind.example" in body and "a.lind@work.example" in body
    # A choice for each field that differs, none where they agree (the name).
    assert 'name="value_email"' in body and 'name="value_phone"' in body and 'name="value_company"' in body
    assert 'name="value_first_name"' not in body and 'name="value_last_name"' not in body
    assert "Appointments" in body and "Recalls" in body and "Leads converted into it" in body


def test_a_merge_keeps_the_chosen_values_every_linked_record_and_both_histories(cast, twins):
    first, second = twins["first"], twins["second"]
    client = web_client(cast.alice)
    response = client.post(
        _merge_url(first, second),
        {
            "keep": str(second.pk),
            "value_email": str(first.pk),  # the first's email survives, on the second contact
            "value_phone": str(second.pk),
            "value_company": str(second.pk),
            "value_city": str(first.pk),
            "value_notes": str(second.pk),
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/contacts/{second.pk}/"
    with tenant_scope(cast.org_a):
        merged = Contact.objects.get()
        assert merged.pk == second.pk
        assert (merged.email, merged.phone, merged.company_id, merged.city, merged.notes) == (
            "ada@lind.example",
            "+4940555666",
            twins["firm"].pk,
            "Berlin",
            "Prefers mornings",
        )
        assert merged.tags == ["newsletter", "vip"]
        assert set(Activity.objects.values_list("contact_id", flat=True)) == {second.pk}
        assert Deal.objects.get(pk=twins["deal"].pk).contact_id == second.pk
        assert Lead.objects.get(pk=twins["lead"].pk).converted_contact_id == second.pk
        assert Appointment.objects.get(pk=twins["appointment"].pk).contact_id == second.pk
        assert Recall.objects.get(pk=twins["recall"].pk).contact_id == second.pk
        assert not Subject.objects.filter(pk=first.subject_id).exists()
        entry = AuditEntry.objects.get(action="contact.merge")
    assert entry.object_id == str(second.pk) and entry.extra["merged"] == str(first.pk)
    # The phone not kept as the main one stays as a further one: no way to reach them is lost.
    assert entry.fields == ["city", "email", "other_emails", "other_phones"]
    with tenant_scope(cast.org_a):
        assert sorted(merged.points.values_list("email", "phone")) == [
            ("", "+493012345678"),
            ("a.lind@work.example", ""),
        ]
    assert "ada@lind.example" not in str(entry.extra)

    page = _text(client.get(f"/contacts/{second.pk}/"))
    assert "The contacts are merged" in page
    assert "First call" in page and "Second call" in page  # the history of both
    assert "Chairs" in page
    assert client.get(f"/contacts/{first.pk}/").status_code == 404
    assert client.get(_merge_url(second, first)).status_code == 404


def test_without_choices_the_contact_that_stays_keeps_its_values_and_fills_the_empty_ones(cast, twins):
    first, second = twins["first"], twins["second"]
    response = web_client(cast.alice).post(_merge_url(first, second), {"keep": str(first.pk)})
    assert response.status_code == 302
    merged = fresh(cast, first)
    assert (merged.email, merged.phone, merged.company_id, merged.city, merged.notes) == (
        "ada@lind.example",
        "+493012345678",
        twins["firm"].pk,
        "Berlin",
        "Prefers mornings",
    )
    with tenant_scope(cast.org_a):
        assert Appointment.objects.get().contact_id == first.pk


def test_merging_a_contact_with_itself_or_another_organisations_fails_cleanly(cast, twins):
    first = twins["first"]
    with tenant_scope(cast.org_b):
        foreign = contact_create(
            actor=cast.actor(cast.mallory), data={"last_name": "Lind", "email": "ada@lind.example"}
        )
    client = web_client(cast.alice)
    before = _state(cast)
    response = client.post(_merge_url(first, first), {"keep": str(first.pk)})
    assert response.status_code == 409
    assert "A contact cannot be merged with itself." in _text(response)
    assert client.get(f"/contacts/{first.pk}/merge/{foreign.pk}/").status_code == 404
    assert client.post(f"/contacts/{first.pk}/merge/{foreign.pk}/", {"keep": str(first.pk)}).status_code == 404
    assert web_client(cast.mallory).post(_merge_url(first, twins["second"]), {"keep": str(first.pk)}).status_code == 404
    assert _state(cast) == before
    with tenant_scope(cast.org_b):
        assert Contact.objects.filter(pk=foreign.pk).exists()


def test_bad_choices_are_named_and_change_nothing(cast, twins):
    first, second = twins["first"], twins["second"]
    client = web_client(cast.alice)
    before = _state(cast)
    response = client.post(_merge_url(first, second), {"keep": "someone-else", "value_email": "nobody"})
    assert response.status_code == 200
    body = _text(response)
    assert "Which contact stays: Select a valid choice." in body
    assert "Email: Select a valid choice." in body
    assert _state(cast) == before


def test_a_record_a_person_holds_once_stops_the_merge_with_a_reason(cast, twins):
    first, second = twins["first"], twins["second"]
    in_org_a(
        cast,
        recall_create,
        data={"contact": str(first.pk), "service": str(twins["service"].pk), "interval_months": 12}
        | {"due_on": "2030-09-01"},
    )
    before = _state(cast)
    response = web_client(cast.alice).post(_merge_url(first, second), {"keep": str(first.pk)})
    assert response.status_code == 200
    assert (
        "Both contacts have a recall of the same service, which a person can have only once; remove one, then merge."
        in _text(response)
    )
    assert _state(cast) == before


def test_sales_cannot_merge_and_never_outside_their_scope(cast):
    mine = _contact(cast, cast.sam, last_name="Lind", email="ada@lind.example")
    also_mine = _contact(cast, cast.sam, last_name="Lind", email="ada@lind.example")
    theirs = _contact(cast, last_name="Lind", email="ada@lind.example")
    client = web_client(cast.sam)
    before = _state(cast)
    # Sales may not delete contacts, so they may not merge them either; the page offers no merge.
    assert "Compare and merge" not in _text(client.get(f"/contacts/{mine.pk}/"))
    assert client.post(_merge_url(mine, also_mine), {"keep": str(mine.pk)}).status_code == 403
    assert _state(cast) == before

    _sales_may_delete(cast)
    before = _state(cast)
    page = _text(client.get(f"/contacts/{mine.pk}/"))
    assert "Compare and merge" in page and str(theirs.pk) not in page
    assert client.get(_merge_url(mine, theirs)).status_code == 404
    assert client.post(_merge_url(mine, theirs), {"keep": str(mine.pk)}).status_code == 404
    assert client.post(_merge_url(theirs, mine), {"keep": str(mine.pk)}).status_code == 404
    assert _state(cast) == before
    assert client.post(_merge_url(mine, also_mine), {"keep": str(mine.pk)}).status_code == 302
    with tenant_scope(cast.org_a):
        assert set(Contact.objects.values_list("pk", flat=True)) == {mine.pk, theirs.pk}
    assert audit_actions(cast, mine.pk)[-1] == "contact.merge"


def test_merging_two_people_of_different_names_at_one_address_is_warned_against(cast):
    greta = _contact(cast, first_name="Greta", last_name="Lind", email="family@example.org")
    hans = _contact(cast, first_name="Hans", last_name="Lind", email="family@example.org")
    again = _contact(cast, first_name="G.", last_name="Lind", email="greta@example.org")
    client = web_client(cast.alice)

    family = _text(client.get(_merge_url(greta, hans)))
    same = _text(client.get(_merge_url(greta, again)))

    assert "do not merge them" in family
    assert "do not merge them" not in same
