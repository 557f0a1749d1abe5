"""GET /api/v1/leads and /deals take the same filters and sort orders as the contact list."""

from custos.core.tenancy import tenant_scope
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create
from custos.testing import api_client


def _in_org_a(cast, function, user=None, **data):
    with tenant_scope(cast.org_a):
        return function(actor=cast.actor(user or cast.alice), data=data)


def _field(cast, object_type, key, kind, options=None):
    data = {"object_type": object_type, "key": key, "label": key, "kind": kind, "category": "none"}
    _in_org_a(cast, custom_field_create, user=cast.olive, **data, **({"options": options} if options else {}))


def test_leads_filter_by_tag_country_owner_and_custom_field_and_sort_by_name(cast):
    _field(cast, "lead", "fair", "choice", ["Berlin", "Warsaw"])
    _in_org_a(cast, lead_create, last_name="Zander", tags=["hot"], country="DE", custom_fields={"fair": "Berlin"})
    _in_org_a(cast, lead_create, last_name="Abel", tags=["hot"], country="PL", custom_fields={"fair": "Warsaw"})
    _in_org_a(cast, lead_create, user=cast.olive, last_name="Meyer", country="DE")
    client = api_client(cast, cast.alice, "read")

    def names(**params):
        response = client.get("/api/v1/leads", params)
        assert response.status_code == 200, response.json()
        return [item["last_name"] for item in response.json()["items"]]

    assert names(tag="hot", order="name") == ["Abel", "Zander"]
    assert names(country="DE", order="-name") == ["Zander", "Meyer"]
    assert names(owner="me", order="name") == ["Abel", "Zander"]
    assert names(**{"custom_fields.fair": "Warsaw"}) == ["Abel"]
    assert client.get("/api/v1/leads", {"custom_fields.fair": "Paris"}).status_code == 422


def test_deals_filter_by_company_tag_and_custom_field_and_sort_by_name(cast):
    _field(cast, "deal", "priority", "yes_no")
    acme = _in_org_a(cast, company_create, name="Acme")
    _in_org_a(
        cast, deal_create, name="Beta chairs", company=str(acme.pk), tags=["q4"], custom_fields={"priority": True}
    )
    _in_org_a(cast, deal_create, name="Alpha rooms", company=str(acme.pk))
    _in_org_a(cast, deal_create, name="Gamma", tags=["q4"])
    client = api_client(cast, cast.alice, "read")

    def names(**params):
        response = client.get("/api/v1/deals", params)
        assert response.status_code == 200, response.json()
        return [item["name"] for item in response.json()["items"]]

    assert names(company=str(acme.pk), order="name") == ["Alpha rooms", "Beta chairs"]
    assert names(tag="q4", order="-name") == ["Gamma", "Beta chairs"]
    assert names(**{"custom_fields.priority": "yes"}) == ["Beta chairs"]
    bad = client.get("/api/v1/deals", {"company": "nope"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "company"


def test_the_lead_export_keeps_the_filters(cast):
    _in_org_a(cast, lead_create, last_name="Zander", tags=["hot"])
    _in_org_a(cast, lead_create, last_name="Abel")
    client = api_client(cast, cast.alice, "read")

    response = client.get("/api/v1/leads/export", {"tag": "hot"})

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Zander" in text and "Abel" not in text
