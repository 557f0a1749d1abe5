"""GET /api/v1/search: one box for companies, contacts, leads and deals."""

from custos.accounts.models import Role
from custos.core.tenancy import tenant_scope
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import api_client


def _seed(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        company = company_create(actor=actor, data={"name": "Lovelace Engines GmbH"})
        contact = contact_create(
            actor=actor, data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}
        )
        lead = lead_create(actor=actor, data={"first_name": "Ed", "last_name": "Lovelock"})
        deal = deal_create(actor=actor, data={"name": "Lovelace licence", "company": str(company.pk)})
    return company, contact, lead, deal


def test_search_ranks_across_types_and_forgives_typos(cast):
    company, contact, _lead, deal = _seed(cast)
    body = api_client(cast, cast.alice, "read").get("/api/v1/search", {"q": "lovelase"}).json()
    found = {(item["type"], item["id"]) for item in body["items"]}
    assert {("contact", str(contact.pk)), ("company", str(company.pk)), ("deal", str(deal.pk))} <= found
    labels = {item["label"] for item in body["items"]}
    assert "Ada Lovelace" in labels
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_search_filters_by_type_and_refuses_unknown_ones(cast):
    _, contact, _, _ = _seed(cast)
    client = api_client(cast, cast.alice, "read")
    body = client.get("/api/v1/search", {"q": "lovelace", "type": "contact"}).json()
    assert [(i["type"], i["id"]) for i in body["items"]] == [("contact", str(contact.pk))]
    refused = client.get("/api/v1/search", {"q": "x", "type": "invoice"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "type"


def test_search_shows_only_what_the_member_may_see(cast):
    _seed(cast)
    assert api_client(cast, cast.sam, "read").get("/api/v1/search", {"q": "lovelace"}).json()["items"] == []
    assert api_client(cast, cast.mallory, "read").get("/api/v1/search", {"q": "lovelace"}).json()["items"] == []
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="admin").update(hidden_fields=["contact.first_name", "contact.last_name"])
    body = api_client(cast, cast.alice, "read").get("/api/v1/search", {"q": "ada@example", "type": "contact"}).json()
    assert [i["label"] for i in body["items"]] == ["ada@example.org"]
    assert (
        api_client(cast, cast.alice, "read").get("/api/v1/search", {"q": "lovelace", "type": "contact"}).json()["items"]
        == []
    )


def test_an_empty_query_finds_nothing(cast):
    _seed(cast)
    assert api_client(cast, cast.alice, "read").get("/api/v1/search").json() == {"items": []}
