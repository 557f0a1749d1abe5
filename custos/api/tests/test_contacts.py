"""/api/v1/contacts/{id} and POST /contacts: create, read, change, delete."""

import pytest

from custos.api.tests.helpers import define_fields
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.testing import api_client

JSON = "application/json"


def _create(client, **data):
    response = client.post("/api/v1/contacts", data, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


def _last_entry(org):
    with tenant_scope(org):
        return AuditEntry.objects.order_by("-seq").first()


def test_create_answers_201_with_the_contact_owned_by_the_caller(cast):
    define_fields(cast, "contact", shoe_size="number", member="yes_no")
    client = api_client(cast, cast.alice)

    body = _create(
        client,
        first_name="Greta",
        last_name="Lind",
        email="Greta.Lind@Example.ORG",
        phone="030 1234567",
        tags=["vip", "newsletter"],
        custom_fields={"shoe_size": 38, "member": True},
        health_notes="Pollen allergy",
    )
    # Special-category data is written, but a response carries it only when asked for.

    with tenant_scope(cast.org_a):
        contact = Contact.objects.get(pk=body["id"])
    assert body == {
        "id": str(contact.pk),
        "subject": str(contact.subject_id),
        "first_name": "Greta",
        "last_name": "Lind",
        "email": "Greta.Lind@example.org",
        "phone": "+49301234567",
        "other_emails": [],
        "other_phones": [],
        "language": "",
        "contract_ends_on": None,
        "company": None,
        "owner": str(cast.alice.pk),
        "tags": ["vip", "newsletter"],
        "custom_fields": {"shoe_size": 38, "member": True},
        "notes": "",
        "health_notes": None,
        "street": "",
        "postcode": "",
        "city": "",
        "country": "",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert (contact.phone, contact.owner_id) == ("+49301234567", cast.alice.pk)


def test_national_phone_numbers_are_read_with_the_organisation_country(cast):
    in_germany = _create(api_client(cast, cast.alice), last_name="Lind", phone="(030) 123 45 67")
    in_poland = _create(api_client(cast, cast.mallory), last_name="Nowak", phone="22 123 45 67")
    international = _create(api_client(cast, cast.mallory), last_name="Smith", phone="+44 20 7946 0958")

    assert in_germany["phone"] == "+49301234567"
    assert in_poland["phone"] == "+48221234567"
    assert international["phone"] == "+442079460958"


def test_an_explicit_owner_must_be_a_member_of_the_organisation(cast):
    client = api_client(cast, cast.alice)

    assert _create(client, last_name="Lind", owner=str(cast.sam.pk))["owner"] == str(cast.sam.pk)
    response = client.post("/api/v1/contacts", {"last_name": "Lind", "owner": str(cast.mallory.pk)}, content_type=JSON)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "owner", "message": "Choose a member of this organisation."}]


def test_a_contact_links_to_a_company_of_the_same_organisation_only(cast):
    client = api_client(cast, cast.alice)
    company = client.post("/api/v1/companies", {"name": "Nordwind GmbH"}, content_type=JSON).json()
    foreign = api_client(cast, cast.mallory).post("/api/v1/companies", {"name": "Wisła"}, content_type=JSON).json()

    assert _create(client, last_name="Lind", company=company["id"])["company"] == company["id"]
    response = client.post("/api/v1/contacts", {"last_name": "Lind", "company": foreign["id"]}, content_type=JSON)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "company", "message": "Choose an existing company."}]


def test_text_is_stored_and_returned_exactly_as_given(cast):
    client = api_client(cast, cast.alice)
    name = "<script>alert('x')</script>"

    created = _create(client, first_name=name, last_name='O\'Brien & Söhne "Ltd"', notes="<b>bold</b>\nline two")
    fetched = client.get(f"/api/v1/contacts/{created['id']}")

    assert fetched["Content-Type"].startswith("application/json")
    assert fetched.json()["first_name"] == name
    assert fetched.json()["last_name"] == 'O\'Brien & Söhne "Ltd"'
    assert fetched.json()["notes"] == "<b>bold</b>\nline two"
    with tenant_scope(cast.org_a):
        assert Contact.objects.get(pk=created["id"]).first_name == name


def test_get_returns_the_contact_and_audits_the_special_category_read(cast):
    client = api_client(cast, cast.alice)
    created = _create(client, last_name="Lind", health_notes="Pollen allergy")

    response = client.get(f"/api/v1/contacts/{created['id']}?include=special")

    assert response.status_code == 200
    assert response.json() == {**created, "health_notes": "Pollen allergy"}
    entry = _last_entry(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields, entry.actor_user_id, entry.via) == (
        "contact.read_special",
        created["id"],
        ["health_notes"],
        cast.alice.pk,
        "api",
    )


def test_roles_without_special_category_rights_never_see_health_notes(cast):
    created = _create(api_client(cast, cast.alice), last_name="Lind", owner=str(cast.sam.pk), health_notes="Asthma")

    for user in (cast.sam, cast.bob):
        response = api_client(cast, user, "read").get(f"/api/v1/contacts/{created['id']}")
        assert response.status_code == 200, user
        assert response.json()["health_notes"] is None, user
    assert _last_entry(cast.org_a).action != "contact.read_special"


def test_a_sales_member_may_not_set_health_notes(cast):
    client = api_client(cast, cast.sam, "write")

    response = client.post("/api/v1/contacts", {"last_name": "Lind", "health_notes": "Asthma"}, content_type=JSON)

    assert response.status_code == 403
    with tenant_scope(cast.org_a):
        assert not Contact.objects.exists()


def test_patch_changes_only_the_given_fields_and_the_audit_names_them(cast):
    client = api_client(cast, cast.alice)
    created = _create(client, first_name="Greta", last_name="Lind", email="greta@example.org", tags=["vip"])

    response = client.patch(
        f"/api/v1/contacts/{created['id']}", {"phone": "030 7654321", "tags": ["vip", "b2b"]}, content_type=JSON
    )

    assert response.status_code == 200
    body = response.json()
    assert body == {**created, "phone": "+49307654321", "tags": ["vip", "b2b"], "updated_at": body["updated_at"]}
    with tenant_scope(cast.org_a):
        contact = Contact.objects.get(pk=created["id"])
    assert contact.updated_at > contact.created_at
    entry = _last_entry(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields) == ("contact.update", created["id"], ["phone", "tags"])


def test_patch_with_the_current_values_changes_nothing_and_writes_no_entry(cast):
    client = api_client(cast, cast.alice)
    created = _create(client, first_name="Greta", phone="+49 30 1234567")
    before = _last_entry(cast.org_a).seq

    response = client.patch(
        f"/api/v1/contacts/{created['id']}", {"first_name": "Greta", "phone": "030 1234567"}, content_type=JSON
    )

    assert response.status_code == 200
    assert response.json()["updated_at"] == created["updated_at"]
    assert _last_entry(cast.org_a).seq == before


@pytest.mark.parametrize("hidden", ["\u202e", "\x85", "\x9b", "\u2028"])
def test_a_name_with_a_hidden_control_or_direction_override_is_refused(cast, hidden):
    """A right-to-left override makes a name read as another; C1 controls and line separators
    are never meant in a name either. Arabic itself needs none of them."""
    client = api_client(cast, cast.alice)

    refused = client.post("/api/v1/contacts", {"last_name": f"Lind{hidden}qvist"}, content_type=JSON)
    arabic = _create(client, first_name="ليلى", last_name="حداد")

    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "last_name", "message": "Remove the control characters from this text."}
    ]
    assert arabic["last_name"] == "حداد"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ('{"last_name": "Lind\\ud800"}', "last_name", "Remove the control characters from this text."),
        ('{"last_name": "Lind", "notes": "a\\udc00b"}', "notes", "Remove the control characters from this text."),
        (
            '{"last_name": "Lind", "tags": ["vip\\ud800"]}',
            "tags",
            "Each tag has 1 to 50 characters and no control characters.",
        ),
        (
            '{"last_name": "Lind", "custom_fields": {"size\\ud800": 1}}',
            "custom_fields.size\ufffd",
            "There is no custom field with this key.",
        ),
    ],
)
def test_a_lone_surrogate_in_the_json_is_refused_and_the_answer_can_say_so(cast, body, field, message):
    """Found by the bug hunt: JSON may escape half a UTF-16 pair ("\\ud800"), which no text
    holds and neither the database nor a response can encode (500, even for the error)."""
    client = api_client(cast, cast.alice)

    refused = client.post("/api/v1/contacts", body, content_type=JSON)

    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": field, "message": message}]
    with tenant_scope(cast.org_a):
        assert not Contact.objects.exists()


def test_a_wrong_language_names_the_languages_to_choose_from(cast):
    """Found by the bug hunt: the message began with the empty choice (", en, de…")."""
    client = api_client(cast, cast.alice)

    refused = client.post("/api/v1/contacts", {"last_name": "Lind", "language": "xx"}, content_type=JSON)
    unset = _create(client, last_name="Kim", language="")

    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "language", "message": "Choose one of: en, de, pl, ar."}]
    assert unset["language"] == ""


def test_an_invalid_patch_changes_nothing(cast):
    client = api_client(cast, cast.alice)
    created = _create(client, first_name="Greta", email="greta@example.org")

    response = client.patch(
        f"/api/v1/contacts/{created['id']}", {"first_name": "Gerda", "email": "no"}, content_type=JSON
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "email", "message": "Enter a valid email address."}]
    assert client.get(f"/api/v1/contacts/{created['id']}").json()["first_name"] == "Greta"


def test_delete_answers_204_and_the_contact_is_gone(cast):
    client = api_client(cast, cast.alice)
    created = _create(client, last_name="Lind")

    response = client.delete(f"/api/v1/contacts/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/api/v1/contacts/{created['id']}").status_code == 404
    assert client.delete(f"/api/v1/contacts/{created['id']}").status_code == 404
    entry = _last_entry(cast.org_a)
    assert (entry.action, entry.object_id) == ("contact.delete", created["id"])


def test_another_organisation_sees_404_for_every_operation(cast):
    created = _create(api_client(cast, cast.alice), last_name="Lind")
    mallory = api_client(cast, cast.mallory)
    path = f"/api/v1/contacts/{created['id']}"

    assert mallory.get(path).status_code == 404
    assert mallory.patch(path, {"last_name": "Stolen"}, content_type=JSON).status_code == 404
    assert mallory.delete(path).status_code == 404
    assert api_client(cast, cast.alice).get(path).json()["last_name"] == "Lind"


def test_a_sales_member_sees_only_own_contacts(cast):
    alice = api_client(cast, cast.alice)
    not_sams = _create(alice, last_name="Lind")
    sams = _create(alice, last_name="Berg", owner=str(cast.sam.pk))
    sam = api_client(cast, cast.sam, "write")

    assert sam.get(f"/api/v1/contacts/{not_sams['id']}").status_code == 404
    assert sam.get(f"/api/v1/contacts/{sams['id']}").status_code == 200
    assert [c["id"] for c in sam.get("/api/v1/contacts").json()["items"]] == [sams["id"]]


def test_an_address_is_stored_and_a_country_checked(cast):
    client = api_client(cast, cast.alice)
    body = _create(client, last_name="Lind", street="Hauptstr. 5", postcode="10115", city="Berlin", country="de")
    assert (body["street"], body["postcode"], body["city"], body["country"]) == ("Hauptstr. 5", "10115", "Berlin", "DE")
    bad = client.post("/api/v1/contacts", {"last_name": "X", "country": "XX"}, content_type="application/json")
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["country"]
