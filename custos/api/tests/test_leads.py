"""/api/v1/leads: create, read, list, change, delete — and the rules a lead keeps."""

from custos.api.tests.helpers import (
    created,
    define_fields,
    entries,
    field_errors,
    hide,
    in_id_order,
    iso,
    last_entry,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact, Lead
from custos.testing import api_client


def _lead(client, **data):
    return created(client, "/api/v1/leads", **data)


def test_create_answers_201_with_the_lead_from_the_api_owned_by_the_caller(cast):
    define_fields(cast, "lead", vans="number")
    client = api_client(cast, cast.alice)

    body = _lead(
        client,
        first_name="Greta",
        last_name="Lind",
        email="Greta.Lind@Example.ORG",
        phone="030 1234567",
        company_name="Nordwind GmbH",
        job_title="Fleet manager",
        interest="Route planning for 40 vans",
        tags=["fair-2026"],
        custom_fields={"vans": 40},
    )

    with tenant_scope(cast.org_a):
        lead = Lead.objects.get(pk=body["id"])
    assert body == {
        "id": str(lead.pk),
        "subject": str(lead.subject_id),
        "first_name": "Greta",
        "last_name": "Lind",
        "email": "Greta.Lind@example.org",
        "phone": "+49301234567",
        "company_name": "Nordwind GmbH",
        "job_title": "Fleet manager",
        "status": "new",
        "disqualified_reason": "",
        "source": "api",
        "interest": "Route planning for 40 vans",
        "owner": str(cast.alice.pk),
        "score": 0,
        "score_reasons": [],
        "assigned_at": None,
        "assignment_rule": None,
        "assigned_because": "",
        "tags": ["fair-2026"],
        "custom_fields": {"vans": 40},
        "notes": "",
        "converted_at": None,
        "converted_contact": None,
        "converted_deal": None,
        "street": "",
        "postcode": "",
        "city": "",
        "country": "",
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
    }
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_type, entry.object_id, entry.actor_user_id, entry.via) == (
        "lead.create",
        "lead",
        body["id"],
        cast.alice.pk,
        "api",
    )
    assert entry.fields == sorted(
        [
            "company_name",
            "custom_fields",
            "email",
            "first_name",
            "interest",
            "job_title",
            "last_name",
            "owner",
            "phone",
            "source",
            "status",
            "tags",
        ]
    )


def test_the_body_may_name_another_source(cast):
    client = api_client(cast, cast.alice)

    assert _lead(client, last_name="Lind", source="referral")["source"] == "referral"
    assert _lead(client, last_name="Berg", source=None)["source"] == "api"


def test_a_lead_with_the_email_of_a_contact_is_the_same_person(cast):
    client = api_client(cast, cast.alice)
    contact = created(client, "/api/v1/contacts", last_name="Lind", email="greta@example.org")

    lead = _lead(client, last_name="Lind", email="GRETA@example.org")

    assert lead["subject"] == contact["subject"]


def test_get_patch_and_delete(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, first_name="Greta", last_name="Lind", email="greta@example.org")
    path = f"/api/v1/leads/{lead['id']}"

    assert ok(client.get(path)) == lead

    changed = ok(patch(client, path, {"status": "contacted", "notes": "Call back in May"}))
    assert changed == {**lead, "status": "contacted", "notes": "Call back in May", "updated_at": changed["updated_at"]}
    with tenant_scope(cast.org_a):
        stored = Lead.objects.get(pk=lead["id"])
    assert stored.updated_at > stored.created_at
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields) == ("lead.update", lead["id"], ["notes", "status"])

    response = client.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert problem(client.get(path), 404)["detail"] == "Not found."
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_id) == ("lead.delete", lead["id"])


def test_unknown_fields_wrong_types_and_invalid_values_are_422_naming_each_field(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)

    unknown = post(client, "/api/v1/leads", {"last_name": "Lind", "nickname": "Gigi"})
    wrong_types = post(client, "/api/v1/leads", {"last_name": 7, "tags": "vip", "custom_fields": ["x"]})
    invalid = post(
        client,
        "/api/v1/leads",
        {"last_name": "Lind", "email": "greta@", "phone": "12", "status": "won", "source": "tv", "owner": "nobody"},
    )
    nameless = post(client, "/api/v1/leads", {"job_title": "CTO"})

    assert field_errors(unknown) == [{"field": "nickname", "message": "Unknown field."}]
    assert field_errors(wrong_types) == [
        {"field": "last_name", "message": "Enter text."},
        {"field": "tags", "message": "Enter a list."},
        {"field": "custom_fields", "message": "Enter an object."},
    ]
    assert field_errors(invalid) == [
        {"field": "email", "message": "Enter a valid email address."},
        {"field": "phone", "message": "Enter a valid phone number, e.g. +49 30 1234567."},
        {"field": "status", "message": "Choose one of: new, contacted, qualified, disqualified."},
        {"field": "source", "message": "Choose one of: manual, web_form, import, api, referral, event, other."},
        {"field": "owner", "message": "Choose a member of this organisation."},
    ]
    assert field_errors(nameless) == [{"field": "last_name", "message": "Enter a name, an email address or a company."}]
    assert snapshot(cast.org_a) == before


def test_a_disqualified_lead_needs_a_reason(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, last_name="Lind")
    path = f"/api/v1/leads/{lead['id']}"

    assert field_errors(post(client, "/api/v1/leads", {"last_name": "Berg", "status": "disqualified"})) == [
        {"field": "disqualified_reason", "message": "Say why the lead is disqualified."}
    ]
    assert field_errors(patch(client, path, {"status": "disqualified"})) == [
        {"field": "disqualified_reason", "message": "Say why the lead is disqualified."}
    ]
    assert ok(client.get(path))["status"] == "new"

    changed = ok(patch(client, path, {"status": "disqualified", "disqualified_reason": "Student project"}))
    assert (changed["status"], changed["disqualified_reason"]) == ("disqualified", "Student project")
    assert field_errors(patch(client, path, {"disqualified_reason": ""})) == [
        {"field": "disqualified_reason", "message": "Say why the lead is disqualified."}
    ]


def test_converted_is_reached_only_by_converting(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, last_name="Lind")

    response = patch(client, f"/api/v1/leads/{lead['id']}", {"status": "converted"})

    assert field_errors(response) == [
        {"field": "status", "message": "Choose one of: new, contacted, qualified, disqualified."}
    ]


def test_a_patch_that_changes_nothing_writes_no_entry(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, first_name="Greta", last_name="Lind", phone="+49 30 1234567")
    before = last_entry(cast.org_a).seq

    body = ok(patch(client, f"/api/v1/leads/{lead['id']}", {"first_name": "Greta", "phone": "030 1234567"}))

    assert body == lead
    assert last_entry(cast.org_a).seq == before


def test_the_list_pages_filters_by_status_and_searches(cast):
    client = api_client(cast, cast.alice)
    greta = _lead(client, first_name="Greta", last_name="Lind", company_name="Nordwind GmbH")
    jonas = _lead(client, first_name="Jonas", last_name="Berg", status="qualified")
    maria = _lead(client, first_name="Maria", last_name="Nowak", email="maria@nordwind.example")

    first = ok(client.get("/api/v1/leads", {"limit": 2}))
    second = ok(client.get("/api/v1/leads", {"limit": 2, "cursor": first["next"]}))
    qualified = ok(client.get("/api/v1/leads", {"status": "qualified"}))
    nordwind = ok(client.get("/api/v1/leads", {"q": "nordwind"}))

    assert [item["id"] for item in first["items"] + second["items"]] == in_id_order(greta, jonas, maria)
    assert second["next"] is None
    assert greta in first["items"] + second["items"]
    assert qualified == {"items": [jonas], "next": None}
    assert [item["id"] for item in nordwind["items"]] == in_id_order(greta, maria)
    assert field_errors(client.get("/api/v1/leads", {"status": "hot"})) == [
        {"field": "status", "message": "Choose one of: new, contacted, qualified, disqualified, converted."}
    ]


def test_a_sales_member_sees_and_changes_only_own_leads(cast):
    alice = api_client(cast, cast.alice)
    not_sams = _lead(alice, last_name="Lind")
    sams = _lead(alice, last_name="Berg", owner=str(cast.sam.pk))
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert ok(sam.get("/api/v1/leads"))["items"] == [sams]
    assert problem(sam.get(f"/api/v1/leads/{not_sams['id']}"), 404)
    assert problem(patch(sam, f"/api/v1/leads/{not_sams['id']}", {"last_name": "Mine"}), 404)
    assert problem(post(sam, f"/api/v1/leads/{not_sams['id']}/convert"), 404)
    assert problem(sam.delete(f"/api/v1/leads/{sams['id']}"), 403)  # sales may not delete
    assert snapshot(cast.org_a) == before

    own = _lead(sam, last_name="Kim")
    assert own["owner"] == str(cast.sam.pk)
    assert ok(sam.get(f"/api/v1/leads/{sams['id']}")) == sams


def test_a_read_only_member_reads_but_cannot_create(cast):
    _lead(api_client(cast, cast.alice), last_name="Lind")
    bob = warmed(api_client(cast, cast.bob, "write"))
    before = snapshot(cast.org_a)

    assert len(ok(bob.get("/api/v1/leads"))["items"]) == 1
    assert problem(post(bob, "/api/v1/leads", {"last_name": "Berg"}), 403)
    assert snapshot(cast.org_a) == before


def test_hidden_fields_are_null_and_cannot_be_written(cast):
    lead = _lead(api_client(cast, cast.alice), last_name="Lind", email="greta@example.org", owner=str(cast.sam.pk))
    hide(cast, "sales", "lead.email")
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert ok(sam.get(f"/api/v1/leads/{lead['id']}"))["email"] is None
    assert ok(sam.get("/api/v1/leads"))["items"][0]["email"] is None
    assert ok(sam.get("/api/v1/leads", {"q": "greta"}))["items"] == []
    assert problem(patch(sam, f"/api/v1/leads/{lead['id']}", {"email": "other@example.org"}), 403)
    assert snapshot(cast.org_a) == before
    assert ok(api_client(cast, cast.alice).get(f"/api/v1/leads/{lead['id']}"))["email"] == "greta@example.org"


def test_a_converted_lead_cannot_be_changed(cast):
    client = api_client(cast, cast.alice)
    lead = _lead(client, last_name="Lind")
    ok(post(client, f"/api/v1/leads/{lead['id']}/convert", {"create_deal": False}))
    before = snapshot(cast.org_a)

    response = patch(client, f"/api/v1/leads/{lead['id']}", {"last_name": "Berg"})

    assert problem(response, 409)["detail"] == "This lead is converted; change the contact or the deal instead."
    assert snapshot(cast.org_a) == before
    with tenant_scope(cast.org_a):
        assert Contact.objects.get().last_name == "Lind"
    assert [e.action for e in entries(cast.org_a, "lead.")] == ["lead.create", "lead.convert"]
