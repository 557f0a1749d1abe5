"""POST /api/v1/contacts/bulk: up to 1,000 items, all created or none."""

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.testing import api_client

JSON = "application/json"


def _bulk(client, items):
    return client.post("/api/v1/contacts/bulk", {"items": items}, content_type=JSON)


def _count(cast):
    with tenant_scope(cast.org_a):
        return Contact.objects.count(), AuditEntry.objects.filter(action="contact.create").count()


def test_valid_items_are_all_created(cast):
    client = api_client(cast, cast.alice)

    response = _bulk(
        client,
        [
            {"first_name": "Greta", "last_name": "Lind", "phone": "030 1234567"},
            {"email": "hans@example.org", "tags": ["import"]},
            {"last_name": "Berg", "owner": str(cast.sam.pk)},
        ],
    )

    assert response.status_code == 201
    items = response.json()["items"]
    assert [(i["first_name"], i["last_name"], i["email"], i["phone"], i["tags"], i["owner"]) for i in items] == [
        ("Greta", "Lind", "", "+49301234567", [], str(cast.alice.pk)),
        ("", "", "hans@example.org", "", ["import"], str(cast.alice.pk)),
        ("", "Berg", "", "", [], str(cast.sam.pk)),
    ]
    assert _count(cast) == (3, 3)
    with tenant_scope(cast.org_a):
        assert sorted(str(pk) for pk in Contact.objects.values_list("pk", flat=True)) == sorted(i["id"] for i in items)


def test_one_invalid_item_creates_none_and_is_named_by_index(cast):
    client = api_client(cast, cast.alice)

    response = _bulk(
        client,
        [{"last_name": "Lind"}, {"last_name": "Berg", "email": "berg@"}, {"last_name": "Nowak"}],
    )

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"index": 1, "field": "email", "message": "Enter a valid email address."}]
    assert _count(cast) == (0, 0)


def test_every_invalid_item_is_reported(cast):
    client = api_client(cast, cast.alice)

    response = _bulk(
        client,
        [
            {"first_name": 5, "last_name": "Lind"},
            {"last_name": "Berg"},
            {"last_name": "Nowak", "nickname": "N"},
            {"tags": "vip"},
            "not an object",
        ],
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 0, "field": "first_name", "message": "Enter text."},
        {"index": 2, "field": "nickname", "message": "Unknown field."},
        {"index": 3, "field": "tags", "message": "Enter a list of tags."},
        {"index": 3, "field": "last_name", "message": "Enter a name or an email address."},
        {"index": 4, "field": None, "message": "Each item must be an object."},
    ]
    assert _count(cast) == (0, 0)


def test_more_than_a_thousand_items_are_refused(cast):
    client = api_client(cast, cast.alice)

    response = _bulk(client, [{"last_name": f"P{n}"} for n in range(1001)])

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "items", "message": "Send at most 1000 items per request."}]
    assert _count(cast) == (0, 0)


def test_an_empty_batch_is_refused(cast):
    response = _bulk(api_client(cast, cast.alice), [])

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "items", "message": "Send at least one item."}]


def test_a_batch_without_items_names_the_missing_field(cast):
    client = api_client(cast, cast.alice)

    missing = client.post("/api/v1/contacts/bulk", {}, content_type=JSON)
    extra = client.post("/api/v1/contacts/bulk", {"items": [], "dry_run": True}, content_type=JSON)

    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "items", "message": "This field is required."}]
    assert extra.status_code == 422
    assert extra.json()["errors"] == [{"field": "dry_run", "message": "Unknown field."}]


def test_items_sharing_an_email_share_one_data_subject(cast):
    client = api_client(cast, cast.alice)

    response = _bulk(client, [{"email": "same@example.org"}, {"email": "same@example.org", "last_name": "Twin"}])

    first, second = response.json()["items"]
    assert first["subject"] == second["subject"]
