"""/api/v1/me, the OpenAPI document and the interactive docs."""

import json

from django.test import Client

from custos.accounts.permissions import ALL_PERMISSIONS
from custos.testing import api_client


def test_me_names_the_member_and_organisation_of_the_token(cast):
    response = api_client(cast, cast.alice).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json() == {
        "user": str(cast.alice.pk),
        "email": "alice@acme.example",
        "organization": "acme-praxis",
        "organization_name": "Acme Praxis",
        "role": "admin",
        "permissions": sorted(ALL_PERMISSIONS),
    }


def test_me_shows_the_permissions_the_token_scope_leaves(cast):
    body = api_client(cast, cast.bob, "read").get("/api/v1/me").json()

    assert (body["email"], body["role"]) == ("bob@acme.example", "read_only")
    assert body["permissions"]
    assert all(p.endswith(".view") for p in body["permissions"])
    assert "contact.view" in body["permissions"]
    assert "audit.view" not in body["permissions"]


def test_me_of_another_organisation(cast):
    body = api_client(cast, cast.mallory).get("/api/v1/me").json()

    assert (body["email"], body["organization"], body["role"]) == ("mallory@bravo.example", "bravo-handel", "owner")


def test_the_openapi_document_lists_the_contact_paths(cast):
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Custos API"
    paths = schema["paths"]
    assert set(paths["/api/v1/contacts"]) == {"get", "post"}
    assert set(paths["/api/v1/contacts/{contact_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v1/contacts/bulk"]) == {"post"}
    assert set(paths["/api/v1/companies/{company_id}"]) == {"get", "patch", "delete"}
    assert "/api/v1/privacy/subjects/{subject_id}" in paths
    assert "/api/v1/me" in paths
    parameters = {p["name"] for p in paths["/api/v1/contacts"]["get"]["parameters"]}
    assert parameters == {"cursor", "limit", "q", "tag", "owner", "company", "country", "consent", "order"}
    assert "custom_fields.<key>" in paths["/api/v1/contacts"]["get"]["description"]
    assert set(paths["/api/v1/contacts/{contact_id}/affiliations"]) == {"get", "post"}
    assert any(s.get("scheme") == "bearer" for s in schema["components"]["securitySchemes"].values())


def test_the_interactive_docs_render(cast):
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<title>Custos API</title>" in page
    assert 'id="swagger-ui"' in page
    assert "/api/v1/openapi.json" in page
    for asset in ("/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"):
        assert f'src="{asset}"' in page
        assert Client().get(asset).status_code == 200
