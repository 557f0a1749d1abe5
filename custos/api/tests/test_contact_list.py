"""GET /api/v1/contacts: {"items", "next"}, cursor paging without loss or repeat, limit, q."""

from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_bulk_create
from custos.testing import api_client


def _contacts(cast, items, org=None, user=None):
    org = org or cast.org_a
    user = user or cast.alice
    with tenant_scope(org):
        return contact_bulk_create(actor=cast.actor(user, org, via=Via.CLI), items=items)


def _walk(client, **params):
    ids, pages, cursor = [], 0, None
    while True:
        response = client.get("/api/v1/contacts", {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"items", "next"}
        ids += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            return ids, pages


def test_cursor_paging_returns_every_contact_once(cast):
    created = [str(c.pk) for c in _contacts(cast, [{"last_name": f"Person {n:03d}"} for n in range(120)])]
    client = api_client(cast, cast.alice, "read")

    ids, pages = _walk(client, limit=50)

    assert pages == 3
    assert ids == sorted(created)
    assert len(set(ids)) == 120


def test_the_default_page_has_fifty_and_the_largest_two_hundred(cast):
    _contacts(cast, [{"last_name": f"Person {n:03d}"} for n in range(120)])
    client = api_client(cast, cast.alice, "read")

    first = client.get("/api/v1/contacts").json()
    everything = client.get("/api/v1/contacts", {"limit": 200}).json()

    assert len(first["items"]) == 50
    assert first["next"] is not None
    assert len(everything["items"]) == 120
    assert everything["next"] is None


def test_paging_is_stable_when_contacts_are_added_meanwhile(cast):
    _contacts(cast, [{"last_name": f"Person {n:03d}"} for n in range(30)])
    client = api_client(cast, cast.alice, "read")

    first = client.get("/api/v1/contacts", {"limit": 20}).json()
    _contacts(cast, [{"last_name": "Latecomer"}])
    second = client.get("/api/v1/contacts", {"limit": 20, "cursor": first["next"]}).json()

    seen = [c["id"] for c in first["items"] + second["items"]]
    assert len(seen) == len(set(seen)) == 31
    assert second["items"][-1]["last_name"] == "Latecomer"
    assert second["next"] is None


def test_a_list_item_has_the_contact_shape_without_special_category_data(cast):
    (contact,) = _contacts(
        cast, [{"first_name": "Greta", "last_name": "Lind", "email": "greta@example.org", "health_notes": "Asthma"}]
    )

    (item,) = api_client(cast, cast.alice).get("/api/v1/contacts").json()["items"]

    assert item == {
        "id": str(contact.pk),
        "subject": str(contact.subject_id),
        "first_name": "Greta",
        "last_name": "Lind",
        "email": "greta@example.org",
        "phone": "",
        "company": None,
        "owner": str(cast.alice.pk),
        "tags": [],
        "custom_fields": {},
        "notes": "",
        "health_notes": None,
        "street": "",
        "postcode": "",
        "city": "",
        "country": "",
        "created_at": item["created_at"],
        "updated_at": item["updated_at"],
    }


def test_q_searches_names_email_and_phone(cast):
    _contacts(
        cast,
        [
            {"first_name": "Greta", "last_name": "Schmidt", "email": "greta@nordwind.example", "phone": "030 1111111"},
            {"first_name": "Hans", "last_name": "Meyer", "email": "hans@suedwind.example", "phone": "040 2222222"},
            {"first_name": "Ida", "last_name": "Schmidtke", "email": "ida@example.org"},
        ],
    )
    client = api_client(cast, cast.alice, "read")

    def names(q):
        return [c["first_name"] for c in client.get("/api/v1/contacts", {"q": q}).json()["items"]]

    assert names("schmidt") == ["Greta", "Ida"]
    assert names("  SCHMIDTKE ") == ["Ida"]
    assert names("suedwind") == ["Hans"]
    assert names("+4940") == ["Hans"]
    assert names("Greta") == ["Greta"]
    assert names("nobody") == []
    assert names("") == ["Greta", "Hans", "Ida"]


def test_q_and_paging_combine(cast):
    _contacts(cast, [{"last_name": f"Match {n}" if n % 2 else f"Other {n}"} for n in range(40)])
    client = api_client(cast, cast.alice, "read")

    ids, pages = _walk(client, q="match", limit=7)

    assert len(ids) == len(set(ids)) == 20
    assert pages == 3


def test_the_list_holds_only_the_organisation_of_the_token(cast):
    _contacts(cast, [{"last_name": "In A"}])
    _contacts(cast, [{"last_name": "In B"}], org=cast.org_b, user=cast.mallory)

    in_a = api_client(cast, cast.alice).get("/api/v1/contacts").json()["items"]
    in_b = api_client(cast, cast.mallory).get("/api/v1/contacts").json()["items"]

    assert [c["last_name"] for c in in_a] == ["In A"]
    assert [c["last_name"] for c in in_b] == ["In B"]
