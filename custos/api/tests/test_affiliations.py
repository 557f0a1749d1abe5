"""/api/v1/contacts/{id}/affiliations: a contact at further companies, each with a role."""

from custos.api.tests.helpers import last_entry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Affiliation
from custos.crm.services.people import company_create, contact_create
from custos.testing import api_client

JSON = "application/json"


def _setup(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        main = company_create(actor=actor, data={"name": "Praxis Nord"})
        second = company_create(actor=actor, data={"name": "Zahnklinik Süd"})
        contact = contact_create(actor=actor, data={"last_name": "Berg", "company": str(main.pk)})
    return main, second, contact


def test_a_contact_gets_a_further_company_with_a_role_and_loses_it_again(cast):
    _main, second, contact = _setup(cast)
    client = api_client(cast, cast.alice)
    url = f"/api/v1/contacts/{contact.pk}/affiliations"

    created = client.post(url, {"company": str(second.pk), "role": "Consultant"}, content_type=JSON)
    listed = client.get(url).json()
    changed = client.patch(f"{url}/{created.json()['id']}", {"role": "Partner"}, content_type=JSON)
    entry = last_entry(cast.org_a)
    removed = client.delete(f"{url}/{created.json()['id']}")

    assert created.status_code == 201
    assert listed == [
        {
            "id": created.json()["id"],
            "company": str(second.pk),
            "company_name": "Zahnklinik Süd",
            "role": "Consultant",
            "created_at": listed[0]["created_at"],
        }
    ]
    assert changed.json()["role"] == "Partner"
    assert (entry.action, entry.fields) == ("contact.affiliation_update", ["role"])
    assert "Partner" not in str(entry.__dict__)
    assert removed.status_code == 204
    assert client.get(url).json() == []


def test_the_same_company_twice_or_a_foreign_one_is_refused_and_nothing_changes(cast):
    main, second, contact = _setup(cast)
    with tenant_scope(cast.org_b):
        foreign = company_create(actor=cast.actor(cast.mallory, cast.org_b), data={"name": "Bravo"})
    client = api_client(cast, cast.alice)
    url = f"/api/v1/contacts/{contact.pk}/affiliations"
    client.post(url, {"company": str(second.pk)}, content_type=JSON)

    for body in (
        {"company": str(main.pk)},
        {"company": str(second.pk)},
        {"company": str(foreign.pk)},
        {"company": "not-an-id"},
        {},
        {"company": str(second.pk), "role": "x" * 101},
    ):
        response = client.post(url, body, content_type=JSON)
        assert response.status_code == 422, body
        assert {e["field"] for e in response.json()["errors"]} <= {"company", "role"}
    with tenant_scope(cast.org_a):
        assert Affiliation.objects.count() == 1


def test_a_read_token_lists_but_cannot_change(cast):
    _main, second, contact = _setup(cast)
    url = f"/api/v1/contacts/{contact.pk}/affiliations"

    response = api_client(cast, cast.alice, "read").post(url, {"company": str(second.pk)}, content_type=JSON)

    assert response.status_code == 403
    assert api_client(cast, cast.alice, "read").get(url).status_code == 200
