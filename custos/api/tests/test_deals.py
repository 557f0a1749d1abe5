"""/api/v1/deals: create, read, list, change, delete."""

from custos.api.tests.helpers import (
    created,
    define_fields,
    field_errors,
    hide,
    in_id_order,
    iso,
    last_entry,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.crm.models import Deal, DealStageChange
from custos.testing import api_client


def _deal(client, **data):
    return created(client, "/api/v1/deals", **data)


def _default_pipeline(client):
    (pipeline,) = ok(client.get("/api/v1/pipelines"))["items"]
    return pipeline


def test_create_answers_201_with_the_deal_in_the_default_pipeline_and_its_first_move(cast):
    define_fields(cast, "deal", seats="number")
    client = api_client(cast, cast.alice)
    company = created(client, "/api/v1/companies", name="Nordwind GmbH")
    contact = created(client, "/api/v1/contacts", last_name="Lind", company=company["id"])

    body = _deal(
        client,
        name="Fleet software",
        amount="1250.5",
        currency="eur",
        expected_close="2026-12-31",
        company=company["id"],
        contact=contact["id"],
        tags=["q4"],
        custom_fields={"seats": 40},
        notes="Needs a demo",
    )

    pipeline = _default_pipeline(client)
    with tenant_scope(cast.org_a):
        deal = Deal.objects.get(pk=body["id"])
        change = DealStageChange.objects.get(deal=deal)
    assert body == {
        "id": str(deal.pk),
        "name": "Fleet software",
        "pipeline": pipeline["id"],
        "stage": pipeline["stages"][0]["id"],
        "status": "open",
        "amount": "1250.50",
        "currency": "EUR",
        "expected_close": "2026-12-31",
        "lost_reason": "",
        "closed_at": None,
        "owner": str(cast.alice.pk),
        "company": company["id"],
        "contact": contact["id"],
        "tags": ["q4"],
        "custom_fields": {"seats": 40},
        "notes": "Needs a demo",
        "created_at": iso(deal.created_at),
        "updated_at": iso(deal.updated_at),
        "history": [
            {
                "from_stage": None,
                "to_stage": pipeline["stages"][0]["id"],
                "changed_at": iso(change.changed_at),
                "changed_by": str(cast.alice.pk),
            }
        ],
    }
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_type, entry.object_id, entry.actor_user_id) == (
        "deal.create",
        "deal",
        body["id"],
        cast.alice.pk,
    )
    assert entry.fields == [
        "amount",
        "company",
        "contact",
        "currency",
        "custom_fields",
        "expected_close",
        "name",
        "notes",
        "owner",
        "pipeline",
        "stage",
        "tags",
    ]
    assert ok(client.get(f"/api/v1/deals/{body['id']}")) == body


def test_amounts_leave_as_text_with_two_decimals(cast):
    client = api_client(cast, cast.alice)

    assert _deal(client, name="A", amount=99)["amount"] == "99.00"
    assert _deal(client, name="B", amount=0.5)["amount"] == "0.50"
    assert _deal(client, name="C", amount="999999999999.99")["amount"] == "999999999999.99"
    assert _deal(client, name="D")["amount"] is None


def test_a_deal_may_start_in_any_stage_of_its_pipeline(cast):
    client = api_client(cast, cast.alice)
    renewals = created(
        client,
        "/api/v1/pipelines",
        name="Renewals",
        stages=[{"name": "Offer"}, {"name": "Signed", "outcome": "won"}, {"name": "Gone", "outcome": "lost"}],
    )
    offer, signed, gone = (s["id"] for s in renewals["stages"])

    first_open = _deal(client, name="A", pipeline=renewals["id"])
    won = _deal(client, name="B", pipeline=renewals["id"], stage=signed)
    lost = _deal(client, name="C", pipeline=renewals["id"], stage=gone, lost_reason="Budget cut")

    assert (first_open["stage"], first_open["status"], first_open["closed_at"]) == (offer, "open", None)
    assert (won["stage"], won["status"]) == (signed, "won")
    assert won["closed_at"] is not None
    assert (lost["status"], lost["lost_reason"]) == ("lost", "Budget cut")
    assert field_errors(post(client, "/api/v1/deals", {"name": "D", "pipeline": renewals["id"], "stage": gone})) == [
        {"field": "lost_reason", "message": "Say why the deal was lost."}
    ]


def test_bad_deals_are_422_naming_each_field_and_change_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    default = _default_pipeline(client)
    other = created(client, "/api/v1/pipelines", name="Renewals", stages=[{"name": "Offer"}])
    foreign_contact = created(api_client(cast, cast.mallory), "/api/v1/contacts", last_name="Nowak")
    before = snapshot(cast.org_a)

    cases = [
        ({"name": "A", "status": "won"}, [{"field": "status", "message": "Unknown field."}]),
        (
            {"name": 5, "amount": [1], "tags": "vip"},
            [
                {"field": "name", "message": "Enter text."},
                {"field": "amount", "message": "Enter an amount such as 1250.50."},
                {"field": "tags", "message": "Enter a list."},
            ],
        ),
        (
            {"amount": "-1", "currency": "EURO", "expected_close": "2026-02-30"},
            [
                {"field": "name", "message": "This field is required."},
                {"field": "amount", "message": "Enter an amount from 0 to 999,999,999,999.99."},
                {"field": "currency", "message": "Use a three-letter currency code such as EUR."},
                {"field": "expected_close", "message": "Enter a date such as 2026-11-22 or 22.11.2026."},
            ],
        ),
        (
            {"name": "A", "amount": "abc", "stage": other["stages"][0]["id"]},
            [{"field": "amount", "message": "Enter an amount such as 1250.50."}],
        ),
        (
            {"name": "A", "stage": other["stages"][0]["id"]},
            [{"field": "stage", "message": "Choose a stage of the deal's pipeline."}],
        ),
        (
            {"name": "A", "pipeline": "nope", "contact": foreign_contact["id"], "owner": str(cast.mallory.pk)},
            [
                {"field": "pipeline", "message": "Choose an existing pipeline."},
                {"field": "owner", "message": "Choose a member of this organisation."},
                {"field": "contact", "message": "Choose an existing contact."},
            ],
        ),
        (
            {"name": "A", "pipeline": default["id"], "stage": default["stages"][4]["id"]},
            [{"field": "lost_reason", "message": "Say why the deal was lost."}],
        ),
    ]
    for body, errors in cases:
        assert field_errors(post(client, "/api/v1/deals", body)) == errors, body
    assert snapshot(cast.org_a) == before


def test_patch_changes_the_given_fields_and_a_new_stage_is_a_move(cast):
    client = api_client(cast, cast.alice)
    deal = _deal(client, name="Fleet", amount="100")
    proposal = _default_pipeline(client)["stages"][1]["id"]
    path = f"/api/v1/deals/{deal['id']}"

    renamed = ok(patch(client, path, {"name": "Fleet (40 vans)", "amount": "4000"}))
    entry = last_entry(cast.org_a)
    moved = ok(patch(client, path, {"stage": proposal}))

    assert renamed == {**deal, "name": "Fleet (40 vans)", "amount": "4000.00", "updated_at": renamed["updated_at"]}
    assert (entry.action, entry.fields) == ("deal.update", ["amount", "name"])
    assert moved["stage"] == proposal
    assert [(h["from_stage"], h["to_stage"]) for h in moved["history"]] == [
        (None, deal["stage"]),
        (deal["stage"], proposal),
    ]
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.extra) == ("deal.move", {"from": deal["stage"], "to": proposal, "status": "open"})


def test_delete_answers_204(cast):
    client = api_client(cast, cast.alice)
    deal = _deal(client, name="Fleet")

    response = client.delete(f"/api/v1/deals/{deal['id']}")

    assert (response.status_code, response.content) == (204, b"")
    assert problem(client.get(f"/api/v1/deals/{deal['id']}"), 404)
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_id) == ("deal.delete", deal["id"])


def test_the_list_pages_filters_and_searches(cast):
    client = api_client(cast, cast.alice)
    stages = _default_pipeline(client)["stages"]
    renewals = created(client, "/api/v1/pipelines", name="Renewals", stages=[{"name": "Offer"}])
    fleet = _deal(client, name="Fleet software")
    won = _deal(client, name="Route planner", stage=stages[3]["id"])
    renewal = _deal(client, name="Fleet renewal", pipeline=renewals["id"])

    def ids(**params):
        body = ok(client.get("/api/v1/deals", params))
        assert body["next"] is None
        return [item["id"] for item in body["items"]]

    first = ok(client.get("/api/v1/deals", {"limit": 2}))
    rest = ok(client.get("/api/v1/deals", {"limit": 2, "cursor": first["next"]}))
    assert [d["id"] for d in first["items"] + rest["items"]] == in_id_order(fleet, won, renewal)
    assert {k: v for k, v in fleet.items() if k != "history"} in first["items"] + rest["items"]
    assert ids(pipeline=renewals["id"]) == [renewal["id"]]
    assert ids(stage=stages[3]["id"]) == [won["id"]]
    assert ids(status="won") == [won["id"]]
    assert ids(status="open", q="fleet") == in_id_order(fleet, renewal)
    assert field_errors(client.get("/api/v1/deals", {"status": "closed", "pipeline": "nope"})) == [
        {"field": "status", "message": "Choose one of: open, won, lost."}
    ]
    assert field_errors(client.get("/api/v1/deals", {"pipeline": "nope"})) == [
        {"field": "pipeline", "message": "Choose an existing pipeline."}
    ]
    assert field_errors(client.get("/api/v1/deals", {"stage": renewals["id"]})) == [
        {"field": "stage", "message": "Choose an existing stage."}
    ]


def test_a_sales_member_sees_and_changes_only_own_deals(cast):
    alice = api_client(cast, cast.alice)
    not_sams = _deal(alice, name="Alice's")
    sams = _deal(alice, name="Sam's", owner=str(cast.sam.pk))
    alices_contact = created(alice, "/api/v1/contacts", last_name="Lind")
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert [d["id"] for d in ok(sam.get("/api/v1/deals"))["items"]] == [sams["id"]]
    for method, path, body in [
        ("get", f"/api/v1/deals/{not_sams['id']}", None),
        ("patch", f"/api/v1/deals/{not_sams['id']}", {"name": "Mine"}),
        ("post", f"/api/v1/deals/{not_sams['id']}/move", {"stage": not_sams["stage"]}),
    ]:
        response = sam.get(path) if method == "get" else (patch if method == "patch" else post)(sam, path, body)
        assert problem(response, 404), path
    assert field_errors(post(sam, "/api/v1/deals", {"name": "X", "contact": alices_contact["id"]})) == [
        {"field": "contact", "message": "Choose an existing contact."}
    ]
    assert problem(sam.delete(f"/api/v1/deals/{sams['id']}"), 403)
    assert snapshot(cast.org_a) == before
    assert ok(sam.get(f"/api/v1/deals/{sams['id']}"))["name"] == "Sam's"


def test_hidden_fields_are_null_and_cannot_be_written(cast):
    deal = _deal(api_client(cast, cast.alice), name="Fleet", amount="4000", owner=str(cast.sam.pk))
    hide(cast, "sales", "deal.amount", "deal.stage")
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    body = ok(sam.get(f"/api/v1/deals/{deal['id']}"))
    assert (body["amount"], body["stage"], body["history"], body["name"]) == (None, None, None, "Fleet")
    assert ok(sam.get("/api/v1/deals"))["items"][0]["amount"] is None
    assert problem(patch(sam, f"/api/v1/deals/{deal['id']}", {"amount": "1"}), 403)
    assert problem(post(sam, "/api/v1/deals", {"name": "New", "amount": "1"}), 403)
    assert snapshot(cast.org_a) == before


def test_a_change_without_a_currency_keeps_the_deals_currency(cast):
    """USD 1000 never silently becomes EUR 1000."""
    client = api_client(cast, cast.alice)
    deal = _deal(client, name="Export", amount="1000", currency="USD")
    path = f"/api/v1/deals/{deal['id']}"

    for empty in (None, ""):
        assert ok(patch(client, path, {"currency": empty}))["currency"] == "USD"
    assert ok(patch(client, path, {"currency": "chf"}))["currency"] == "CHF"


def test_a_stage_keeps_its_probability_unless_a_number_is_given(cast):
    client = api_client(cast, cast.alice)
    pipeline = _default_pipeline(client)
    stage = pipeline["stages"][1]
    path = f"/api/v1/pipelines/{pipeline['id']}/stages/{stage['id']}"

    errors = field_errors(patch(client, path, {"probability": None}))

    assert [e["field"] for e in errors] == ["probability"]
    assert ok(client.get(f"/api/v1/pipelines/{pipeline['id']}"))["stages"][1]["probability"] == stage["probability"]


def test_only_a_lost_deal_takes_a_reason_for_the_loss(cast):
    """Else a reason typed on an open deal would let it be lost later without one."""
    client = api_client(cast, cast.alice)
    deal = _deal(client, name="Clinic chairs")

    errors = field_errors(patch(client, f"/api/v1/deals/{deal['id']}", {"lost_reason": "old note"}))

    assert [e["field"] for e in errors] == ["lost_reason"]
    assert ok(client.get(f"/api/v1/deals/{deal['id']}"))["lost_reason"] == ""


def test_a_new_deal_takes_a_reason_for_the_loss_only_when_it_is_lost(cast):
    """Created open with a reason, a deal could later be moved to lost without anyone saying why."""
    client = api_client(cast, cast.alice)
    (pipeline,) = ok(client.get("/api/v1/pipelines"))["items"]
    lost = next(s["id"] for s in pipeline["stages"] if s["outcome"] == "lost")
    before = snapshot(cast.org_a)

    errors = field_errors(post(client, "/api/v1/deals", {"name": "Clinic chairs", "lost_reason": "old note"}))

    assert errors == [{"field": "lost_reason", "message": "Only a lost deal has a reason for the loss."}]
    assert snapshot(cast.org_a) == before
    assert _deal(client, name="Chairs", stage=lost, lost_reason="Too dear")["lost_reason"] == "Too dear"


def test_a_won_deal_is_not_reopened_by_a_change_of_pipeline_alone(cast):
    client = api_client(cast, cast.alice)
    first = _default_pipeline(client)
    won = next(s["id"] for s in first["stages"] if s["outcome"] == "won")
    other = created(
        client,
        "/api/v1/pipelines",
        name="Service",
        stages=[{"name": "Open", "probability": 10}, {"name": "Won", "probability": 100, "outcome": "won"}],
    )
    deal = _deal(client, name="Chairs", stage=won)
    path = f"/api/v1/deals/{deal['id']}"

    errors = field_errors(patch(client, path, {"pipeline": other["id"]}))
    moved = ok(patch(client, path, {"pipeline": other["id"], "stage": other["stages"][1]["id"]}))

    assert [e["field"] for e in errors] == ["stage"]
    assert (moved["pipeline"], moved["status"]) == (other["id"], "won")


def test_a_list_is_not_filtered_by_a_field_the_role_may_not_see(cast):
    """The filter would tell the hidden values all the same: which deals are won."""
    client = api_client(cast, cast.alice)
    _deal(client, name="Chairs")
    hide(cast, "read_only", "deal.status", "deal.stage")
    reader = api_client(cast, cast.bob, scope="read")

    errors = field_errors(reader.get("/api/v1/deals", {"status": "won"}))

    assert [e["field"] for e in errors] == ["status"]
    assert [d["status"] for d in ok(reader.get("/api/v1/deals"))["items"]] == [None]
