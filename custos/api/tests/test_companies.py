"""/api/v1/companies: create, read, list, change, delete."""

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Company
from custos.testing import api_client

JSON = "application/json"


def _last_entry(org):
    with tenant_scope(org):
        return AuditEntry.objects.order_by("-seq").first()


def _create(client, **data):
    response = client.post("/api/v1/companies", data, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_answers_201_with_the_company(cast):
    client = api_client(cast, cast.alice)

    body = _create(
        client,
        name="Nordwind GmbH",
        vat_id="de 129 273 398",
        website="https://nordwind.example",
        email="info@nordwind.example",
        phone="040 123456",
        tags=["supplier"],
    )

    assert body == {
        "id": body["id"],
        "name": "Nordwind GmbH",
        "vat_id": "DE129273398",
        "website": "https://nordwind.example",
        "email": "info@nordwind.example",
        "phone": "+4940123456",
        "owner": str(cast.alice.pk),
        "tags": ["supplier"],
        "street": "",
        "postcode": "",
        "city": "",
        "country": "",
        "custom_fields": {},
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    entry = _last_entry(cast.org_a)
    assert (entry.action, entry.object_type, entry.object_id) == ("company.create", "company", body["id"])


def test_a_company_needs_a_name(cast):
    client = api_client(cast, cast.alice)

    response = client.post("/api/v1/companies", {"name": "  ", "email": "x@"}, content_type=JSON)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "name", "message": "This field is required."},
        {"field": "email", "message": "Enter a valid email address."},
    ]
    with tenant_scope(cast.org_a):
        assert not Company.objects.exists()


def test_get_patch_and_delete(cast):
    client = api_client(cast, cast.alice)
    created = _create(client, name="Nordwind GmbH", email="info@nordwind.example")
    path = f"/api/v1/companies/{created['id']}"

    assert client.get(path).json() == created

    patched = client.patch(path, {"website": "https://nordwind.example"}, content_type=JSON)
    assert patched.status_code == 200
    assert patched.json() == {
        **created,
        "website": "https://nordwind.example",
        "updated_at": patched.json()["updated_at"],
    }
    entry = _last_entry(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields) == ("company.update", created["id"], ["website"])

    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert _last_entry(cast.org_a).action == "company.delete"


def test_list_pages_and_searches(cast):
    client = api_client(cast, cast.alice)
    ids = [_create(client, name=f"Firma {n:02d}")["id"] for n in range(12)]
    _create(client, name="Nordwind GmbH", vat_id="DE129273398")

    first = client.get("/api/v1/companies", {"limit": 10}).json()
    second = client.get("/api/v1/companies", {"limit": 10, "cursor": first["next"]}).json()
    found = client.get("/api/v1/companies", {"q": "nordwind"}).json()

    assert [c["id"] for c in first["items"] + second["items"]][:12] == ids
    assert len(first["items"] + second["items"]) == 13
    assert second["next"] is None
    assert [c["name"] for c in found["items"]] == ["Nordwind GmbH"]
    assert [c["name"] for c in client.get("/api/v1/companies", {"q": "de129273398"}).json()["items"]] == [
        "Nordwind GmbH"
    ]


def test_another_organisation_sees_404(cast):
    created = _create(api_client(cast, cast.alice), name="Nordwind GmbH")
    mallory = api_client(cast, cast.mallory)
    path = f"/api/v1/companies/{created['id']}"

    assert mallory.get(path).status_code == 404
    assert mallory.patch(path, {"name": "Stolen"}, content_type=JSON).status_code == 404
    assert mallory.delete(path).status_code == 404
    assert mallory.get("/api/v1/companies").json() == {"items": [], "next": None}


def test_a_read_token_cannot_change_companies(cast):
    created = _create(api_client(cast, cast.alice), name="Nordwind GmbH")
    read = api_client(cast, cast.alice, "read")

    assert read.post("/api/v1/companies", {"name": "New"}, content_type=JSON).status_code == 403
    assert read.patch(f"/api/v1/companies/{created['id']}", {"name": "X"}, content_type=JSON).status_code == 403
    assert read.delete(f"/api/v1/companies/{created['id']}").status_code == 403
    with tenant_scope(cast.org_a):
        assert list(Company.objects.values_list("name", flat=True)) == ["Nordwind GmbH"]


def test_a_vat_id_is_checked_by_its_countrys_rules(cast):
    client = api_client(cast, cast.alice)
    for bad in ("DE123456789", "DE123", "123456789", "XX123456"):
        response = client.post("/api/v1/companies", {"name": "Bad VAT", "vat_id": bad}, content_type="application/json")
        assert response.status_code == 422, bad
        assert [e["field"] for e in response.json()["errors"]] == ["vat_id"], bad
    good = client.post(
        "/api/v1/companies", {"name": "Good", "vat_id": "PL 526-025-02-74"}, content_type="application/json"
    )
    assert good.json()["vat_id"] == "PL5260250274"


def test_a_northern_irish_vat_id_is_checked_as_a_uk_one_and_keeps_its_prefix(cast):
    """Found by the bug hunt: XI numbers were refused ("Start the VAT ID with its country code")."""
    client = api_client(cast, cast.alice)

    good = _create(client, name="Belfast Dental", vat_id="XI 980 7806 84")
    bad = client.post("/api/v1/companies", {"name": "Bad", "vat_id": "XI980780685"}, content_type=JSON)

    assert good["vat_id"] == "XI980780684"
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "vat_id", "message": "This VAT ID is not valid for its country; check the digits."}
    ]


def test_a_website_is_a_domain_or_a_web_address(cast):
    """Found by the bug hunt: any text was taken as a website."""
    client = api_client(cast, cast.alice)

    for website in ("nordwind.example", "www.nordwind.example/kontakt", "http://nordwind.example/?a=1"):
        assert _create(client, name="Nordwind", website=website)["website"] == website
    for website in ("not a site", "javascript:alert(1)", "ftp://nordwind.example", "https://user:pw@nordwind.example"):
        refused = client.post("/api/v1/companies", {"name": "Bad", "website": website}, content_type=JSON)
        assert refused.status_code == 422, website
        assert refused.json()["errors"] == [
            {"field": "website", "message": "Enter a web address such as example.com or https://www.example.com."}
        ], website
