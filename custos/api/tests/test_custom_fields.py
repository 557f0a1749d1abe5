"""/api/v1/custom-fields, and custom values on records through the API."""

from custos.api.tests.helpers import (
    created,
    entries,
    field_errors,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.crm.models import Deal
from custos.testing import api_client

DIAGNOSIS = "Bruxism"


def _field(client, **data):
    return created(client, "/api/v1/custom-fields", **({"category": "none"} | data))


def test_an_owner_defines_fields_and_members_write_checked_values(cast):
    admin = api_client(cast, cast.olive)
    plan = _field(admin, object_type="contact", key="plan", label="Plan", kind="choice", options=["Basic", "Plus"])
    assert plan | {"id": None} == {
        "id": None,
        "object_type": "contact",
        "key": "plan",
        "label": "Plan",
        "kind": "choice",
        "options": ["Basic", "Plus"],
        "category": "none",
        "position": 0,
    }
    _field(admin, object_type="contact", key="since", label="Customer since", kind="date", category="identity")
    sales = api_client(cast, cast.sam, "write")
    body = created(sales, "/api/v1/contacts", last_name="Lind", custom_fields={"plan": "Plus", "since": "1.2.2024"})
    assert body["custom_fields"] == {"plan": "Plus", "since": "2024-02-01"}

    changed = ok(patch(sales, f"/api/v1/contacts/{body['id']}", {"custom_fields": {"plan": None}}))
    assert changed["custom_fields"] == {"since": "2024-02-01"}

    wrong = post(sales, "/api/v1/contacts", {"last_name": "Kim", "custom_fields": {"plan": "Gold", "shoe": 1}})
    assert field_errors(wrong) == [
        {"field": "custom_fields.plan", "message": "Choose one of: Basic, Plus."},
        {"field": "custom_fields.shoe", "message": "There is no custom field with this key."},
    ]
    listed = ok(sales.get("/api/v1/custom-fields?object_type=contact"))
    assert [f["key"] for f in listed["items"]] == ["plan", "since"]


def test_numbers_are_read_as_written_in_europe_and_an_ambiguous_one_is_asked_about(cast):
    admin = api_client(cast, cast.olive)
    _field(admin, object_type="contact", key="visits", label="Visits", kind="number")
    _field(admin, object_type="contact", key="budget", label="Budget", kind="money")

    body = created(
        admin, "/api/v1/contacts", last_name="Lind", custom_fields={"visits": "1.250,5", "budget": "1.250,50"}
    )
    ambiguous = post(admin, "/api/v1/contacts", {"last_name": "Kim", "custom_fields": {"visits": "1.500"}})

    assert body["custom_fields"] == {"visits": 1250.5, "budget": "1250.50"}
    assert field_errors(ambiguous) == [
        {
            "field": "custom_fields.visits",
            "message": "Write this number without a thousands separator (such as 1500), or with one or two decimals.",
        }
    ]


def test_only_the_organisation_settings_right_changes_definitions(cast):
    admin = api_client(cast, cast.olive)
    field = _field(admin, object_type="lead", key="fleet", label="Fleet", kind="number")
    sales = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)
    assert problem(post(sales, "/api/v1/custom-fields", {"object_type": "lead", "key": "x"}), 403)
    assert problem(patch(sales, f"/api/v1/custom-fields/{field['id']}", {"label": "Vans"}), 403)
    assert problem(sales.delete(f"/api/v1/custom-fields/{field['id']}"), 403)
    assert snapshot(cast.org_a) == before


def test_fixed_parts_of_a_definition_cannot_change(cast):
    admin = warmed(api_client(cast, cast.olive))
    field = _field(admin, object_type="deal", key="seats", label="Seats", kind="number")
    before = snapshot(cast.org_a)
    response = patch(admin, f"/api/v1/custom-fields/{field['id']}", {"kind": "text", "category": "special"})
    assert [e["field"] for e in field_errors(response)] == ["kind", "category"]
    assert snapshot(cast.org_a) == before
    renamed = ok(patch(admin, f"/api/v1/custom-fields/{field['id']}", {"label": "Licences"}))
    assert renamed["label"] == "Licences"


def test_a_position_of_null_is_refused_not_stored(cast):
    """Found by the schema fuzzing: `position: null` reached the NOT NULL column (500)."""
    admin = warmed(api_client(cast, cast.olive))
    field = _field(admin, object_type="deal", key="seats", label="Seats", kind="number")
    before = snapshot(cast.org_a)
    response = patch(admin, f"/api/v1/custom-fields/{field['id']}", {"position": None})
    assert [(e["field"], e["message"]) for e in field_errors(response)] == [("position", "This field is required.")]
    assert snapshot(cast.org_a) == before


def test_special_values_come_only_with_include_special_and_the_read_is_audited(cast):
    admin = api_client(cast, cast.olive)
    _field(admin, object_type="deal", key="diagnosis", label="Diagnosis", kind="text", category="special")
    deal = created(
        admin, "/api/v1/deals", name="Night guard", owner=str(cast.sam.pk), custom_fields={"diagnosis": DIAGNOSIS}
    )
    assert deal["custom_fields"] == {}
    reader = api_client(cast, cast.alice, "read")
    assert ok(reader.get(f"/api/v1/deals/{deal['id']}"))["custom_fields"] == {}
    assert entries(cast.org_a, "deal.read_special") == []
    shown = ok(reader.get(f"/api/v1/deals/{deal['id']}?include=special"))
    assert shown["custom_fields"] == {"diagnosis": DIAGNOSIS}
    [entry] = entries(cast.org_a, "deal.read_special")
    assert entry.fields == ["custom_fields.diagnosis"] and DIAGNOSIS not in str(entry.extra)
    sales = api_client(cast, cast.sam, "read")  # the deal's owner, without the right to special-category data
    assert problem(sales.get(f"/api/v1/deals/{deal['id']}?include=special"), 403)
    with tenant_scope(cast.org_a):
        assert DIAGNOSIS not in str(Deal.objects.filter(pk=deal["id"]).values_list("custom_fields").get())


def test_deleting_a_field_is_204_and_it_is_gone(cast):
    admin = api_client(cast, cast.olive)
    field = _field(admin, object_type="company", key="employees", label="Employees", kind="number")
    company = created(admin, "/api/v1/companies", name="Nordwind", custom_fields={"employees": 250})
    assert company["custom_fields"] == {"employees": 250}
    assert admin.delete(f"/api/v1/custom-fields/{field['id']}").status_code == 204
    assert problem(admin.get(f"/api/v1/custom-fields/{field['id']}"), 404)
    refused = post(admin, "/api/v1/companies", {"name": "Later", "custom_fields": {"employees": 3}})
    assert [e["field"] for e in field_errors(refused)] == ["custom_fields.employees"]


def test_a_new_field_may_be_given_its_position(cast):
    """Found by the bug hunt: `position` was documented for a new field but refused as unknown."""
    admin = api_client(cast, cast.olive)
    _field(admin, object_type="contact", key="plan", label="Plan", kind="text")
    first = _field(admin, object_type="contact", key="since", label="Since", kind="date", position=0)
    last = _field(admin, object_type="contact", key="visits", label="Visits", kind="number")
    wrong = post(
        admin,
        "/api/v1/custom-fields",
        {"object_type": "contact", "key": "x", "label": "X", "kind": "text", "category": "none", "position": -1},
    )

    assert (first["position"], last["position"]) == (0, 2)
    assert [e["field"] for e in field_errors(wrong)] == ["position"]
    listed = ok(admin.get("/api/v1/custom-fields?object_type=contact"))
    assert [f["key"] for f in listed["items"]] == ["plan", "since", "visits"]  # at the same position, by label


def test_a_key_defined_again_shows_none_of_the_deleted_fields_values(cast):
    """Found by the bug hunt: the values of a deleted date field showed under a number field
    of the same key (and failed the contact's page)."""
    admin = api_client(cast, cast.olive)
    since = _field(admin, object_type="contact", key="since", label="Since", kind="date")
    contact = created(admin, "/api/v1/contacts", last_name="Lind", custom_fields={"since": "2024-02-01"})

    assert admin.delete(f"/api/v1/custom-fields/{since['id']}").status_code == 204
    _field(admin, object_type="contact", key="since", label="Visits since", kind="number")

    assert ok(admin.get(f"/api/v1/contacts/{contact['id']}"))["custom_fields"] == {}
    assert ok(admin.get("/api/v1/contacts"))["items"][0]["custom_fields"] == {}
