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
        "other_emails": [],
        "other_phones": [],
        "language": "",
        "contract_ends_on": None,
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


def _fields(cast):
    from custos.crm.services.custom_fields import custom_field_create

    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        for key, kind, options, category in [
            ("branch", "choice", ["Dental", "Vet"], "none"),
            ("topics", "multi_choice", ["Implants", "Hygiene", "Zähne", 'x"Hygiene'], "none"),
            ("member", "yes_no", [], "none"),
            ("chairs", "number", [], "none"),
            ("note", "text", [], "none"),
            ("diagnosis", "text", [], "special"),
        ]:
            data = {"object_type": "contact", "key": key, "label": key, "kind": kind, "category": category}
            custom_field_create(actor=actor, data={**data, **({"options": options} if options else {})})


def _names(client, **params):
    response = client.get("/api/v1/contacts", params)
    assert response.status_code == 200, response.json()
    return [item["last_name"] for item in response.json()["items"]]


def test_filters_by_tag_owner_country_company_and_custom_fields(cast):
    from custos.crm.services.people import company_create

    _fields(cast)
    with tenant_scope(cast.org_a):
        acme = company_create(actor=cast.actor(cast.alice), data={"name": "Acme Dental"})
    _contacts(
        cast,
        [
            {
                "last_name": "Adler",
                "tags": ["Zahnärzte", "vip"],
                "country": "DE",
                "company": str(acme.pk),
                "custom_fields": {
                    "branch": "Dental",
                    "topics": ["Zähne", "Hygiene"],
                    "member": True,
                    "chairs": 4,
                    "note": "Prefers mornings",
                },
            },
            {
                "last_name": "Brandt",
                "tags": ["vipx"],
                "country": "PL",
                "custom_fields": {"branch": "Vet", "topics": ["Implants", 'x"Hygiene'], "member": False, "chairs": 2.5},
            },
        ],
    )
    _contacts(cast, [{"last_name": "Cohen", "tags": ["vip"], "country": "DE"}], user=cast.olive)
    client = api_client(cast, cast.alice, "read")

    assert _names(client, tag="vip") == ["Adler", "Cohen"]
    assert _names(client, tag="Zahnärzte") == ["Adler"]
    assert _names(client, owner="me") == ["Adler", "Brandt"]
    assert _names(client, owner=str(cast.olive.pk)) == ["Cohen"]
    assert _names(client, country="de") == ["Adler", "Cohen"]
    assert _names(client, company=str(acme.pk)) == ["Adler"]
    assert _names(client, **{"custom_fields.branch": "Vet"}) == ["Brandt"]
    assert _names(client, **{"custom_fields.topics": "Zähne"}) == ["Adler"]
    assert _names(client, **{"custom_fields.topics": "Implants"}) == ["Brandt"]
    # An option is never found inside another option that quotes it.
    assert _names(client, **{"custom_fields.topics": "Hygiene"}) == ["Adler"]
    assert _names(client, **{"custom_fields.member": "false"}) == ["Brandt"]
    assert _names(client, **{"custom_fields.chairs": "2,5"}) == ["Brandt"]
    assert _names(client, **{"custom_fields.note": "MORNING"}) == ["Adler"]
    assert _names(client, tag="vip", country="DE", owner="me") == ["Adler"]


def test_a_bad_filter_names_its_field(cast):
    _fields(cast)
    client = api_client(cast, cast.alice, "read")

    for params, field in [
        ({"country": "Germany"}, "country"),
        ({"owner": "nobody"}, "owner"),
        ({"company": "0190d7a0-0000-7000-8000-000000000000"}, "company"),
        ({"custom_fields.branch": "Bakery"}, "custom_fields.branch"),
        ({"custom_fields.member": "perhaps"}, "custom_fields.member"),
        ({"custom_fields.unknown": "x"}, "custom_fields.unknown"),
        ({"custom_fields.diagnosis": "flu"}, "custom_fields.diagnosis"),
        ({"order": "email"}, "order"),
    ]:
        response = client.get("/api/v1/contacts", params)
        assert response.status_code == 422, params
        assert [e["field"] for e in response.json()["errors"]] == [field], params


def test_another_organisations_company_is_not_a_filter(cast):
    from custos.crm.services.people import company_create

    with tenant_scope(cast.org_b):
        bravo = company_create(actor=cast.actor(cast.mallory, cast.org_b), data={"name": "Bravo"})
    client = api_client(cast, cast.alice, "read")

    response = client.get("/api/v1/contacts", {"company": str(bravo.pk)})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "company"


def test_sorted_by_name_pages_through_every_contact_once_in_order(cast):
    names = [f"{letter}{n}" for n in range(3) for letter in "DBECA"]
    # Ties on the last name, and on both names: a page may end inside them.
    people = [(name, "Same") for name in names] + [("B1", "Zoe"), ("B1", "Amy"), ("B1", "Amy"), ("C0", "Amy")]
    _contacts(cast, [{"last_name": last, "first_name": first} for last, first in people])
    client = api_client(cast, cast.alice, "read")

    ids_up, _ = _walk(client, limit=5, order="name")  # the first page ends between the two (B1, Amy)
    ids_down, _ = _walk(client, limit=5, order="-name")
    first = client.get("/api/v1/contacts", {"limit": 4, "order": "name"}).json()
    mixed = client.get("/api/v1/contacts", {"limit": 4, "order": "-created", "cursor": first["next"]})

    everyone = client.get("/api/v1/contacts", {"limit": 200}).json()["items"]
    by_id = {item["id"]: (item["last_name"], item["first_name"]) for item in everyone}
    assert [by_id[pk] for pk in ids_up] == sorted(people)
    assert len(set(ids_up)) == len(people)
    assert ids_down == ids_up[::-1]
    assert mixed.status_code == 422
    assert mixed.json()["errors"][0]["field"] == "cursor"


def test_a_custom_field_named_like_a_lookup_is_filtered_by_its_value(cast):
    """Found by the bug hunt: keys `contains`, `isnull`, `lt`… were taken for Django's lookups
    on the whole column (`custom_fields.contains=A` answered 500, `isnull=false` everyone)."""
    from custos.crm.services.custom_fields import custom_field_create

    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        for key, kind, options in [
            ("contains", "choice", ["A", "B"]),
            ("isnull", "yes_no", []),
            ("lt", "number", []),
            ("in", "multi_choice", ["A", "B"]),
            ("exact", "money", []),
            ("gt", "date", []),
            ("icontains", "text", []),
        ]:
            data = {"object_type": "contact", "key": key, "label": key, "kind": kind, "category": "none"}
            custom_field_create(actor=actor, data={**data, **({"options": options} if options else {})})
    values = {
        "contains": "A",
        "isnull": True,
        "lt": 3,
        "in": ["A"],
        "exact": "12.50",
        "gt": "2026-01-02",
        "icontains": "Morning",
    }
    _contacts(cast, [{"last_name": "Adler", "custom_fields": values}, {"last_name": "Brandt"}])
    client = api_client(cast, cast.alice, "read")

    for key, wanted in [
        ("contains", "A"),
        ("isnull", "true"),
        ("lt", "3"),
        ("in", "A"),
        ("exact", "12.50"),
        ("gt", "2026-01-02"),
        ("icontains", "morn"),
    ]:
        assert _names(client, **{f"custom_fields.{key}": wanted}) == ["Adler"], key
    assert _names(client, **{"custom_fields.contains": "B"}) == []
    assert _names(client, **{"custom_fields.isnull": "false"}) == []
