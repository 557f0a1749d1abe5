"""POST /api/v1/deals/{id}/move: won and lost close a deal, moving back reopens it, every move kept."""

from custos.api.tests.helpers import created, entries, field_errors, hide, ok, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Deal
from custos.testing import api_client


def _setup(cast):
    client = warmed(api_client(cast, cast.alice))
    deal = created(client, "/api/v1/deals", name="Fleet", amount="4000")
    (pipeline,) = ok(client.get("/api/v1/pipelines"))["items"]
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
    return client, deal, stages


def _move(client, deal, **body):
    return post(client, f"/api/v1/deals/{deal['id']}/move", body)


def test_a_move_answers_the_deal_with_its_history_and_is_audited(cast):
    client, deal, stages = _setup(cast)

    body = ok(_move(client, deal, stage=stages["Proposal"]))

    with tenant_scope(cast.org_a):
        stored = Deal.objects.get(pk=deal["id"])
    assert body == {
        **deal,
        "stage": stages["Proposal"],
        "updated_at": body["updated_at"],
        "history": [*deal["history"], body["history"][1]],
    }
    assert body["history"][1] == {
        "from_stage": stages["Qualification"],
        "to_stage": stages["Proposal"],
        "changed_at": body["history"][1]["changed_at"],
        "changed_by": str(cast.alice.pk),
    }
    assert str(stored.stage_id) == stages["Proposal"]
    entry = entries(cast.org_a, "deal.move")[-1]
    assert (entry.object_id, entry.actor_user_id, entry.via, entry.fields, entry.extra) == (
        deal["id"],
        cast.alice.pk,
        "api",
        ["lost_reason", "stage"],
        {"from": stages["Qualification"], "to": stages["Proposal"], "status": "open"},
    )


def test_moving_to_a_lost_stage_needs_a_reason_and_changes_nothing_without_one(cast):
    client, deal, stages = _setup(cast)
    before = snapshot(cast.org_a)

    response = _move(client, deal, stage=stages["Lost"])

    assert field_errors(response) == [{"field": "lost_reason", "message": "Say why the deal was lost."}]
    assert snapshot(cast.org_a) == before


def test_lost_and_won_close_the_deal_and_moving_back_reopens_it_every_move_kept(cast):
    client, deal, stages = _setup(cast)

    lost = ok(_move(client, deal, stage=stages["Lost"], lost_reason="Chose a competitor"))
    reopened = ok(_move(client, deal, stage=stages["Negotiation"]))
    won = ok(_move(client, deal, stage=stages["Won"]))

    assert (lost["status"], lost["lost_reason"]) == ("lost", "Chose a competitor")
    assert lost["closed_at"] is not None
    assert (reopened["status"], reopened["closed_at"]) == ("open", None)
    assert won["status"] == "won"
    assert won["closed_at"] is not None
    assert [(h["from_stage"], h["to_stage"]) for h in won["history"]] == [
        (None, stages["Qualification"]),
        (stages["Qualification"], stages["Lost"]),
        (stages["Lost"], stages["Negotiation"]),
        (stages["Negotiation"], stages["Won"]),
    ]
    assert [(e.extra["to"], e.extra["status"], e.fields) for e in entries(cast.org_a, "deal.move")] == [
        (stages["Lost"], "lost", ["closed_at", "lost_reason", "stage", "status"]),
        (stages["Negotiation"], "open", ["closed_at", "lost_reason", "stage", "status"]),
        (stages["Won"], "won", ["closed_at", "lost_reason", "stage", "status"]),
    ]
    assert ok(client.get(f"/api/v1/deals/{deal['id']}")) == won
    assert [d["id"] for d in ok(client.get("/api/v1/deals", {"status": "won"}))["items"]] == [deal["id"]]


def test_a_move_to_the_current_stage_changes_nothing(cast):
    client, deal, stages = _setup(cast)
    before = snapshot(cast.org_a)

    body = ok(_move(client, deal, stage=stages["Qualification"]))

    assert body == deal
    assert snapshot(cast.org_a) == before


def test_bad_moves_are_422_naming_the_field_and_change_nothing(cast):
    client, deal, stages = _setup(cast)
    other = created(client, "/api/v1/pipelines", name="Renewals", stages=[{"name": "Offer"}])
    foreign_stage = ok(api_client(cast, cast.mallory).get("/api/v1/pipelines"))["items"][0]["stages"][1]["id"]
    before = snapshot(cast.org_a)

    assert field_errors(_move(client, deal)) == [{"field": "stage", "message": "This field is required."}]
    assert field_errors(_move(client, deal, stage=other["stages"][0]["id"])) == [
        {"field": "stage", "message": "Choose a stage of the deal's pipeline."}
    ]
    for unknown in ("nope", foreign_stage, other["id"]):
        assert field_errors(_move(client, deal, stage=unknown)) == [
            {"field": "stage", "message": "Choose an existing stage."}
        ]
    assert field_errors(_move(client, deal, stage=stages["Won"], status="won")) == [
        {"field": "status", "message": "Unknown field."}
    ]
    assert field_errors(_move(client, deal, stage=stages["Lost"], lost_reason="x" * 501)) == [
        {"field": "lost_reason", "message": "Use at most 500 characters (this text has 501)."}
    ]
    assert field_errors(_move(client, deal, stage=7)) == [{"field": "stage", "message": "Enter text."}]
    assert snapshot(cast.org_a) == before


def test_a_read_only_member_cannot_move_deals(cast):
    _client, deal, stages = _setup(cast)
    bob = warmed(api_client(cast, cast.bob, "write"))
    before = snapshot(cast.org_a)

    assert problem(_move(bob, deal, stage=stages["Won"]), 403)
    assert snapshot(cast.org_a) == before


def test_a_sales_member_moves_own_deals(cast):
    sam = api_client(cast, cast.sam, "write")
    deal = created(sam, "/api/v1/deals", name="Sam's")
    (pipeline,) = ok(sam.get("/api/v1/pipelines"))["items"]

    body = ok(_move(sam, deal, stage=pipeline["stages"][3]["id"]))

    assert (body["status"], body["history"][-1]["changed_by"]) == ("won", str(cast.sam.pk))


def test_a_role_that_may_not_see_the_stage_or_the_reason_cannot_move_deals(cast):
    """A move writes the stage (and the reason for a loss): as for a change, writing a field
    needs the right to see it, else a role could close deals it cannot tell apart."""
    sam = api_client(cast, cast.sam, "write")
    deal = created(sam, "/api/v1/deals", name="Sam's")
    (pipeline,) = ok(sam.get("/api/v1/pipelines"))["items"]
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}

    for hidden, move in (
        ("deal.lost_reason", {"stage": stages["Lost"], "lost_reason": "Too dear"}),
        ("deal.stage", {"stage": stages["Won"]}),
    ):
        hide(cast, "sales", hidden)
        sam = warmed(api_client(cast, cast.sam, "write"))
        before = snapshot(cast.org_a)

        assert problem(_move(sam, deal, **move), 403), hidden
        assert snapshot(cast.org_a) == before
