"""Fields a role may not see: null in every answer, and never writable."""

from custos.accounts.services import role_update
from custos.accounts.tests.helpers import audit_count, html_text, role
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.testing import api_client, web_client

PHONE = "+49 30 1234567"


def _hide(cast, role_key, *fields):
    with tenant_scope(cast.org_a):
        target = role(cast.org_a, role_key)
        role_update(
            actor=cast.actor(cast.olive),
            role=target,
            name=target.name,
            permissions=target.permissions,
            record_scope=target.record_scope,
            hidden_fields=[*target.hidden_fields, *fields],
        )


def _sams_contact(cast):
    with tenant_scope(cast.org_a):
        return contact_create(
            actor=cast.actor(cast.olive),
            data={"last_name": "Nowak", "phone": PHONE, "email": "nowak@example.com", "owner": str(cast.sam.pk)},
        )


def _stored_phone(cast, contact):
    with tenant_scope(cast.org_a):
        return Contact.objects.get(pk=contact.pk).phone


def test_a_hidden_field_is_null_in_the_api(cast):
    contact = _sams_contact(cast)
    _hide(cast, "sales", "contact.phone")
    client = api_client(cast, cast.sam, "write")
    one = client.get(f"/api/v1/contacts/{contact.pk}").json()
    assert one["phone"] is None
    assert one["email"] == "nowak@example.com"
    (listed,) = client.get("/api/v1/contacts").json()["items"]
    assert listed["phone"] is None


def test_a_hidden_field_stays_visible_to_other_roles(cast):
    contact = _sams_contact(cast)
    _hide(cast, "sales", "contact.phone")
    assert api_client(cast, cast.alice, "read").get(f"/api/v1/contacts/{contact.pk}").json()["phone"] == "+49301234567"


def test_changing_a_hidden_field_is_forbidden_and_changes_nothing(cast):
    contact = _sams_contact(cast)
    _hide(cast, "sales", "contact.phone")
    client = api_client(cast, cast.sam, "write")
    client.get("/api/v1/me")  # the token's first use is audited; that is not what is measured here
    before = audit_count(cast.org_a)
    response = client.patch(
        f"/api/v1/contacts/{contact.pk}", {"phone": "+49 40 7654321"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert _stored_phone(cast, contact) == "+49301234567"
    assert audit_count(cast.org_a) == before


def test_a_hidden_field_cannot_be_set_when_creating(cast):
    _hide(cast, "sales", "contact.phone")
    client = api_client(cast, cast.sam, "write")
    response = client.post("/api/v1/contacts", {"last_name": "Kim", "phone": PHONE}, content_type="application/json")
    assert response.status_code == 403
    with tenant_scope(cast.org_a):
        assert not Contact.objects.exists()


def test_other_fields_stay_writable(cast):
    contact = _sams_contact(cast)
    _hide(cast, "sales", "contact.phone")
    response = api_client(cast, cast.sam, "write").patch(
        f"/api/v1/contacts/{contact.pk}", {"last_name": "Nowicki"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert (response.json()["last_name"], response.json()["phone"]) == ("Nowicki", None)
    assert _stored_phone(cast, contact) == "+49301234567"


def test_a_hidden_field_is_not_shown_on_the_contact_pages(cast):
    contact = _sams_contact(cast)
    _hide(cast, "sales", "contact.phone")
    client = web_client(cast.sam)
    for path in ("/contacts/", f"/contacts/{contact.pk}/", f"/contacts/{contact.pk}/edit/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Nowak" in html_text(response), path
        assert "+49301234567" not in html_text(response), path


def test_a_hidden_field_cannot_be_probed_by_searching(cast):
    _sams_contact(cast)
    _hide(cast, "sales", "contact.phone")
    client = api_client(cast, cast.sam, "read")
    assert [c["last_name"] for c in client.get("/api/v1/contacts", {"q": "Nowak"}).json()["items"]] == ["Nowak"]
    assert client.get("/api/v1/contacts", {"q": "1234567"}).json()["items"] == []


def test_a_hidden_company_is_not_in_the_contact_list(cast):
    from custos.crm.services.people import company_create

    with tenant_scope(cast.org_a):
        company = company_create(actor=cast.actor(cast.olive), data={"name": "Verborgen Werke GmbH"})
        contact_create(
            actor=cast.actor(cast.olive),
            data={"last_name": "Nowak", "company": str(company.pk), "owner": str(cast.sam.pk)},
        )
    assert "Verborgen Werke" in web_client(cast.sam).get("/contacts/").content.decode()
    _hide(cast, "sales", "contact.company")
    assert "Verborgen Werke" not in web_client(cast.sam).get("/contacts/").content.decode()
