"""Pipeline settings: create a pipeline with its stages, edit a stage; only with pipeline rights."""

from custos.core.tenancy import tenant_scope
from custos.crm.models import Pipeline
from custos.crm.services.deals import deal_create, pipeline_create
from custos.testing import web_client
from custos.web.tests.sales import audit_actions, crm_state, fresh, in_org_a, stages_of


def _rows(*stages):
    data = {}
    for number, (name, probability, outcome) in enumerate(stages, start=1):
        data |= {
            f"stage_{number}_name": name,
            f"stage_{number}_probability": probability,
            f"stage_{number}_outcome": outcome,
        }
    return data


def test_the_settings_pages_render_for_an_admin(cast):
    stages = stages_of(cast)
    stage = stages["Proposal"]
    client = web_client(cast.alice)
    for path in (
        "/settings/pipelines/",
        f"/settings/pipelines/{stage.pipeline_id}/",
        f"/settings/pipelines/{stage.pipeline_id}/stages/{stage.pk}/",
    ):
        assert client.get(path).status_code == 200, path


def test_a_pipeline_is_created_with_its_stages_in_order(cast):
    stages_of(cast)
    data = {
        "name": "Implants",
        **_rows(("Consultation", "30", "open"), ("", "", "open"), ("Treatment", "80", "open"), ("Done", "100", "won")),
    }
    response = web_client(cast.alice).post("/settings/pipelines/", data)
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        pipeline = Pipeline.objects.get(name="Implants")
        assert list(pipeline.stages.order_by("position").values_list("name", "probability", "outcome")) == [
            ("Consultation", 30, "open"),
            ("Treatment", 80, "open"),
            ("Done", 100, "won"),
        ]
    assert response["Location"] == f"/settings/pipelines/{pipeline.pk}/"
    assert audit_actions(cast, pipeline.pk) == ["pipeline.create"]
    assert "Implants" in web_client(cast.alice).get(f"/deals/pipelines/{pipeline.pk}/").content.decode()


def test_a_pipeline_without_an_open_stage_is_refused(cast):
    stages_of(cast)
    before = crm_state(cast)
    response = web_client(cast.alice).post("/settings/pipelines/", {"name": "Broken", **_rows(("Won", "100", "won"))})
    assert response.status_code == 200
    assert "Keep at least one open stage for deals in progress." in response.content.decode()
    assert crm_state(cast) == before


def test_a_stage_is_renamed_and_reordered(cast):
    stage = stages_of(cast)["Proposal"]
    url = f"/settings/pipelines/{stage.pipeline_id}/stages/{stage.pk}/"
    response = web_client(cast.alice).post(
        url, {"name": "Offer", "probability": "60", "outcome": "open", "position": "1"}
    )
    assert response.status_code == 302
    changed = fresh(cast, stage)
    assert (changed.name, changed.probability, changed.position) == ("Offer", 60, 0)
    assert audit_actions(cast, stage.pk) == ["pipeline.stage_change"]


def test_the_outcome_of_a_stage_holding_deals_stays(cast):
    stage = stages_of(cast)["Proposal"]
    in_org_a(cast, deal_create, data={"name": "Chairs", "stage": str(stage.pk)})
    before = crm_state(cast)
    url = f"/settings/pipelines/{stage.pipeline_id}/stages/{stage.pk}/"
    response = web_client(cast.alice).post(
        url, {"name": "Proposal", "probability": "50", "outcome": "won", "position": "2"}
    )
    assert response.status_code == 200
    assert "move them before changing whether it is open, won or lost" in response.content.decode()
    assert crm_state(cast) == before


def test_a_stage_is_reached_only_through_its_own_pipeline(cast):
    stage = stages_of(cast)["Proposal"]
    other = in_org_a(cast, pipeline_create, name="Other", stages=[{"name": "A"}])
    assert web_client(cast.alice).get(f"/settings/pipelines/{other.pk}/stages/{stage.pk}/").status_code == 404


def test_without_pipeline_rights_nothing_changes(cast):
    stage = stages_of(cast)["Proposal"]
    before = crm_state(cast)
    url = f"/settings/pipelines/{stage.pipeline_id}/stages/{stage.pk}/"
    for user in (cast.bob, cast.sam):
        client = web_client(user)
        assert client.get("/settings/pipelines/").status_code == 403
        assert client.post("/settings/pipelines/", {"name": "New", **_rows(("A", "10", "open"))}).status_code == 403
        assert (
            client.post(url, {"name": "Offer", "probability": "60", "outcome": "open", "position": "1"}).status_code
            == 403
        )
    assert crm_state(cast) == before
