"""/api/v1/contacts/{id}/duplicates and /contacts/{id}/merge: the same person twice, made one."""

from custos.accounts.models import Role
from custos.accounts.services import role_update
from custos.api.tests.helpers import created, field_errors, last_entry, ok, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact, Lead
from custos.privacy.models import Subject
from custos.scheduling.models import Appointment, Recall
from custos.testing import api_client


def _merge(client, keep, other_id, **body):
    return post(client, f"/api/v1/contacts/{keep['id']}/merge", {"other": other_id, **body})


def _schedule_for(cast, contact_id):
    """An appointment and a recall of the contact, made by API as a practice would."""
    client = api_client(cast, cast.olive)
    service = created(client, "/api/v1/services", name="Check-up", duration_minutes=30)
    resource = created(client, "/api/v1/resources", name="Room 1", kind="room")
    practitioner = created(client, "/api/v1/practitioners", user=str(cast.olive.pk))
    appointment = created(
        client,
        "/api/v1/appointments",
        service=service["id"],
        practitioner=practitioner["id"],
        resource=resource["id"],
        contact=contact_id,
        starts_at="2030-01-07T09:00:00+01:00",
    )
    recall = created(
        client, "/api/v1/recalls", contact=contact_id, service=service["id"], interval_months=6, due_on="2030-06-01"
    )
    return appointment, recall, service


def test_duplicates_name_why_they_were_suggested(cast):
    client = api_client(cast, cast.alice)
    firm = created(client, "/api/v1/companies", name="Nordwind GmbH")
    ada = created(client, "/api/v1/contacts", first_name="Ada", last_name="Lind", email="ada@lind.example")
    by_email = created(client, "/api/v1/contacts", last_name="Other", email="ADA@lind.example")
    by_phone = created(client, "/api/v1/contacts", first_name="Anna", last_name="Schmidt", phone="+49 30 12345678")
    jurgen = created(
        client, "/api/v1/contacts", first_name="Jürgen", last_name="Müller", company=firm["id"], phone="030 12345678"
    )
    created(client, "/api/v1/contacts", first_name="Bernd", last_name="Berg", email="bernd@berg.example")

    body = ok(client.get(f"/api/v1/contacts/{ada['id']}/duplicates"))
    assert [(item["contact"]["id"], item["reasons"], item["score"]) for item in body["items"]] == [
        (by_email["id"], ["email"], 100)
    ]
    assert body["next"] is None
    body = ok(client.get(f"/api/v1/contacts/{by_phone['id']}/duplicates"))
    assert [(item["contact"]["id"], item["reasons"]) for item in body["items"]] == [(jurgen["id"], ["phone"])]
    mueller = created(
        client, "/api/v1/contacts", first_name="Jurgen", last_name="Mueller", company=firm["id"], email="j@x.example"
    )
    body = ok(client.get(f"/api/v1/contacts/{mueller['id']}/duplicates"))
    assert [(item["contact"]["id"], item["reasons"]) for item in body["items"]] == [(jurgen["id"], ["name"])]


def test_a_merge_keeps_the_chosen_values_and_every_linked_record(cast):
    client = api_client(cast, cast.alice)
    keep = created(
        client, "/api/v1/contacts", first_name="Ada", last_name="Lind", email="ada@lind.example", tags=["vip"]
    )
    lead = created(client, "/api/v1/leads", first_name="Ada", last_name="Lind", email="a.lind@work.example")
    converted = ok(post(client, f"/api/v1/leads/{lead['id']}/convert", {"create_deal": False}))
    other_id = converted["contact"]
    other = ok(client.get(f"/api/v1/contacts/{other_id}"))
    ok(post(client, "/api/v1/activities", {"title": "Called", "contact": other_id}), 201)
    deal = created(client, "/api/v1/deals", name="Chairs", contact=other_id)
    appointment, recall, _service = _schedule_for(cast, other_id)
    ok(client.patch(f"/api/v1/contacts/{other_id}", '{"phone": "040 555666", "notes": "Mornings"}', "application/json"))

    body = ok(_merge(client, keep, other_id, values_from={"email": "other", "notes": "keep"}))

    assert (body["id"], body["email"], body["phone"], body["notes"], body["tags"]) == (
        keep["id"],
        "a.lind@work.example",
        "+4940555666",
        "",  # kept empty: chosen so, rather than filled
        ["vip"],
    )
    assert body["subject"] == keep["subject"]
    problem(client.get(f"/api/v1/contacts/{other_id}"), 404)
    assert ok(client.get(f"/api/v1/deals/{deal['id']}"))["contact"] == keep["id"]
    assert [a["contact"] for a in ok(client.get("/api/v1/activities"))["items"] if a["title"] == "Called"] == [
        keep["id"]
    ]
    with tenant_scope(cast.org_a):
        assert Lead.objects.get(pk=lead["id"]).converted_contact_id == Contact.objects.get().pk
        assert str(Appointment.objects.get(pk=appointment["id"]).contact_id) == keep["id"]
        assert str(Recall.objects.get(pk=recall["id"]).contact_id) == keep["id"]
        assert not Subject.objects.filter(pk=other["subject"]).exists()
    entry = last_entry(cast.org_a)
    # The kept contact's own email, replaced by the other's, stays as a further one.
    assert body["other_emails"] == [{"email": "ada@lind.example", "label": "other"}]
    assert (entry.action, entry.object_id, entry.fields) == (
        "contact.merge",
        keep["id"],
        ["email", "other_emails", "phone"],
    )
    assert entry.extra["merged"] == other_id and entry.extra["deals"] == 1 and entry.extra["activities"] >= 1


def test_a_merge_refuses_bad_input_and_changes_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    keep = created(client, "/api/v1/contacts", last_name="Lind", email="ada@lind.example")
    other = created(client, "/api/v1/contacts", last_name="Lind", email="ada@lind.example")
    before = snapshot(cast.org_a)
    assert [e["field"] for e in field_errors(post(client, f"/api/v1/contacts/{keep['id']}/merge", {}))] == ["other"]
    assert [e["field"] for e in field_errors(_merge(client, keep, "no-such-contact"))] == ["other"]
    errors = field_errors(_merge(client, keep, other["id"], values_from={"health_notes": "other", "email": "both"}))
    assert sorted(e["field"] for e in errors) == ["values_from.email", "values_from.health_notes"]
    assert "values_from" in [e["field"] for e in field_errors(_merge(client, keep, other["id"], values_from=["x"]))]
    assert "colour" in [e["field"] for e in field_errors(_merge(client, keep, other["id"], colour="red"))]
    body = problem(_merge(client, keep, keep["id"]), 409)
    assert body["detail"] == "A contact cannot be merged with itself."
    assert snapshot(cast.org_a) == before


def test_a_record_a_person_holds_once_stops_the_merge(cast):
    client = warmed(api_client(cast, cast.alice))
    keep = created(client, "/api/v1/contacts", last_name="Lind")
    other = created(client, "/api/v1/contacts", last_name="Lind")
    _appointment, _recall, service = _schedule_for(cast, other["id"])
    created(
        api_client(cast, cast.olive),
        "/api/v1/recalls",
        contact=keep["id"],
        service=service["id"],
        interval_months=12,
        due_on="2030-09-01",
    )
    before = snapshot(cast.org_a)
    body = problem(_merge(client, keep, other["id"]), 409)
    assert (
        body["detail"]
        == "Both contacts have a recall of the same service, which a person can have only once; remove one, then merge."
    )
    assert snapshot(cast.org_a) == before


def test_another_organisations_contact_cannot_be_merged(cast):
    client = warmed(api_client(cast, cast.alice))
    keep = created(client, "/api/v1/contacts", last_name="Lind")
    stranger_client = api_client(cast, cast.mallory)
    stranger = created(stranger_client, "/api/v1/contacts", last_name="Lind")
    before = snapshot(cast.org_a)
    before_b = snapshot(cast.org_b)
    assert [e["field"] for e in field_errors(_merge(client, keep, stranger["id"]))] == ["other"]
    problem(_merge(stranger_client, keep, stranger["id"]), 404)
    problem(stranger_client.get(f"/api/v1/contacts/{keep['id']}/duplicates"), 404)
    assert snapshot(cast.org_a) == before
    assert snapshot(cast.org_b)["crm.Contact"] == before_b["crm.Contact"]


def test_sales_merge_nothing_and_never_outside_their_scope(cast):
    admin = api_client(cast, cast.alice)
    client = warmed(api_client(cast, cast.sam, scope="write"))
    mine = created(client, "/api/v1/contacts", last_name="Lind", email="ada@lind.example")
    also_mine = created(client, "/api/v1/contacts", last_name="Lind", email="ada@lind.example")
    theirs = created(admin, "/api/v1/contacts", last_name="Lind", email="ada@lind.example")
    assert [i["contact"]["id"] for i in ok(client.get(f"/api/v1/contacts/{mine['id']}/duplicates"))["items"]] == [
        also_mine["id"]
    ]
    before = snapshot(cast.org_a)
    problem(_merge(client, mine, also_mine["id"]), 403)
    assert snapshot(cast.org_a) == before

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
    client = warmed(api_client(cast, cast.sam, scope="write"))
    before = snapshot(cast.org_a)
    assert [e["field"] for e in field_errors(_merge(client, mine, theirs["id"]))] == ["other"]
    problem(_merge(client, theirs, mine["id"]), 404)
    assert snapshot(cast.org_a) == before
    assert ok(_merge(client, mine, also_mine["id"]))["id"] == mine["id"]
    problem(client.get(f"/api/v1/contacts/{also_mine['id']}"), 404)
