"""/api/v1/pipelines: the default pipeline on first use, new pipelines, changing stages."""

from custos.api.tests.helpers import (
    created,
    entries,
    field_errors,
    last_entry,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.crm.models import Pipeline
from custos.testing import api_client

DEFAULT_STAGES = [
    ("Qualification", 0, 20, "open"),
    ("Proposal", 1, 50, "open"),
    ("Negotiation", 2, 75, "open"),
    ("Won", 3, 100, "won"),
    ("Lost", 4, 0, "lost"),
]


def _stages(pipeline):
    return [(s["name"], s["position"], s["probability"], s["outcome"]) for s in pipeline["stages"]]


def test_the_default_pipeline_appears_on_first_use_and_only_once(cast):
    client = api_client(cast, cast.bob, "read")

    first = ok(client.get("/api/v1/pipelines"))
    again = ok(client.get("/api/v1/pipelines"))

    assert first == again
    (pipeline,) = first["items"]
    assert first["next"] is None
    assert (pipeline["name"], pipeline["position"], pipeline["is_default"]) == ("Sales", 0, True)
    assert _stages(pipeline) == DEFAULT_STAGES
    (entry,) = entries(cast.org_a, "pipeline.")
    assert (entry.action, entry.object_id, entry.actor_user_id, entry.via) == (
        "pipeline.create",
        pipeline["id"],
        None,
        "system",
    )
    assert ok(client.get(f"/api/v1/pipelines/{pipeline['id']}")) == pipeline


def test_the_default_pipeline_speaks_the_language_of_its_first_user(cast):
    client = api_client(cast, cast.alice)

    (pipeline,) = ok(client.get("/api/v1/pipelines", headers={"Accept-Language": "de"}))["items"]

    assert pipeline["name"] != "Sales"
    assert len(pipeline["stages"]) == 5


def test_create_answers_201_with_the_pipeline_and_its_stages_in_order(cast):
    client = api_client(cast, cast.alice)

    body = created(
        client,
        "/api/v1/pipelines",
        name="Implants",
        stages=[
            {"name": "Consultation", "probability": 30},
            {"name": "Treatment plan", "probability": 60, "outcome": "open"},
            {"name": "Accepted", "probability": 100, "outcome": "won"},
            {"name": "Declined", "outcome": "lost"},
        ],
    )

    with tenant_scope(cast.org_a):
        pipeline = Pipeline.objects.get(pk=body["id"])
        stage_ids = [str(pk) for pk in pipeline.stages.order_by("position").values_list("pk", flat=True)]
    assert body == {
        "id": str(pipeline.pk),
        "name": "Implants",
        "position": 0,
        "is_default": False,
        "stages": [
            {"id": stage_ids[0], "name": "Consultation", "position": 0, "probability": 30, "outcome": "open"},
            {"id": stage_ids[1], "name": "Treatment plan", "position": 1, "probability": 60, "outcome": "open"},
            {"id": stage_ids[2], "name": "Accepted", "position": 2, "probability": 100, "outcome": "won"},
            {"id": stage_ids[3], "name": "Declined", "position": 3, "probability": 0, "outcome": "lost"},
        ],
    }
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_id, entry.actor_user_id) == ("pipeline.create", body["id"], cast.alice.pk)
    # Another pipeline exists, so the first look creates no default one.
    assert [p["name"] for p in ok(client.get("/api/v1/pipelines"))["items"]] == ["Implants"]


def test_bad_pipelines_are_422_naming_each_field_and_change_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    created(client, "/api/v1/pipelines", name="Renewals", stages=[{"name": "Offer"}])
    before = snapshot(cast.org_a)

    cases = [
        ({"name": "Partners"}, [{"field": "stages", "message": "Give the pipeline at least one stage."}]),
        (
            {"name": "", "stages": [{"name": "Offer"}]},
            [{"field": "name", "message": "This field is required."}],
        ),
        (
            {"name": "renewals", "stages": [{"name": "Offer"}]},
            [{"field": "name", "message": "A pipeline with this name already exists."}],
        ),
        (
            {"name": "Partners", "stages": [{"name": "Offer", "probability": "high"}, {"colour": "red"}]},
            [
                {"field": "stages.0.probability", "message": "Enter a whole number."},
                {"field": "stages.1.colour", "message": "Unknown field."},
            ],
        ),
        (
            {"name": "Partners", "stages": [{"name": "", "probability": 150}, {"name": "Done", "outcome": "maybe"}]},
            [
                {"field": "stages.0.name", "message": "This field is required."},
                {"field": "stages.0.probability", "message": "Enter a number from 0 to 100."},
                {"field": "stages.1.outcome", "message": "Choose one of: open, won, lost."},
            ],
        ),
        (
            {"name": "Partners", "stages": [{"name": "Signed", "outcome": "won"}]},
            [{"field": "stages", "message": "Keep at least one open stage for deals in progress."}],
        ),
        ({"name": "Partners", "stages": "Offer"}, [{"field": "stages", "message": "Enter a list."}]),
        ({"name": "Partners", "stages": [], "owner": "me"}, [{"field": "owner", "message": "Unknown field."}]),
    ]
    for body, errors in cases:
        assert field_errors(post(client, "/api/v1/pipelines", body)) == errors, body
    assert snapshot(cast.org_a) == before


def test_sales_sees_pipelines_but_may_not_create_or_change_them(cast):
    alice = api_client(cast, cast.alice)
    (pipeline,) = ok(alice.get("/api/v1/pipelines"))["items"]
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert ok(sam.get("/api/v1/pipelines"))["items"] == [pipeline]
    assert problem(post(sam, "/api/v1/pipelines", {"name": "Mine", "stages": [{"name": "A"}]}), 403)
    stage_path = f"/api/v1/pipelines/{pipeline['id']}/stages/{pipeline['stages'][0]['id']}"
    assert problem(patch(sam, stage_path, {"name": "Mine"}), 403)
    assert snapshot(cast.org_a) == before


def test_patch_a_stage_changes_only_what_is_given(cast):
    client = api_client(cast, cast.alice)
    (pipeline,) = ok(client.get("/api/v1/pipelines"))["items"]
    proposal = pipeline["stages"][1]
    path = f"/api/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}"

    renamed = ok(patch(client, path, {"name": "Offer sent"}))
    moved = ok(patch(client, path, {"probability": 40, "position": 7}))

    assert renamed == {**proposal, "name": "Offer sent"}
    # Placed last (of five): positions stay 0, 1, 2, … without gaps.
    assert moved == {**proposal, "name": "Offer sent", "probability": 40, "position": 4}
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_type, entry.object_id) == ("pipeline.stage_change", "stage", proposal["id"])
    assert ok(client.get(f"/api/v1/pipelines/{pipeline['id']}"))["stages"][-1] == moved


def test_bad_stage_changes_are_422_and_change_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    (pipeline,) = ok(client.get("/api/v1/pipelines"))["items"]
    path = f"/api/v1/pipelines/{pipeline['id']}/stages/{pipeline['stages'][0]['id']}"
    before = snapshot(cast.org_a)

    assert field_errors(patch(client, path, {"name": " ", "probability": 101, "outcome": "done", "position": -1})) == [
        {"field": "name", "message": "This field is required."},
        {"field": "probability", "message": "Enter a number from 0 to 100."},
        {"field": "outcome", "message": "Choose one of: open, won, lost."},
        {"field": "position", "message": "Enter a number from 0 to 10000."},
    ]
    assert field_errors(patch(client, path, {"probability": "50", "pipeline": "x"})) == [
        {"field": "probability", "message": "Enter a whole number."},
        {"field": "pipeline", "message": "Unknown field."},
    ]
    assert snapshot(cast.org_a) == before


def test_a_stage_holding_deals_keeps_its_outcome(cast):
    client = warmed(api_client(cast, cast.alice))
    deal = created(client, "/api/v1/deals", name="Fleet")
    path = f"/api/v1/pipelines/{deal['pipeline']}/stages/{deal['stage']}"
    before = snapshot(cast.org_a)

    response = patch(client, path, {"outcome": "won"})

    assert problem(response, 409)["detail"] == (
        "Deals are in this stage; move them before changing whether it is open, won or lost."
    )
    assert snapshot(cast.org_a) == before
    assert ok(patch(client, path, {"probability": 25}))["probability"] == 25


def test_a_stage_is_found_only_under_its_own_pipeline(cast):
    client = api_client(cast, cast.alice)
    (default,) = ok(client.get("/api/v1/pipelines"))["items"]
    other = created(client, "/api/v1/pipelines", name="Renewals", stages=[{"name": "Offer"}])

    response = patch(client, f"/api/v1/pipelines/{other['id']}/stages/{default['stages'][0]['id']}", {"name": "X"})

    assert problem(response, 404)["detail"] == "Not found."
    assert problem(client.get("/api/v1/pipelines/not-an-id"), 404)
