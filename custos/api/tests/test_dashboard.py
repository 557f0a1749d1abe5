"""/api/v1/dashboard: the home page's figures as JSON, for a token that may read the crm area."""

from __future__ import annotations

import zoneinfo

from django.test import Client
from django.utils import timezone

from custos.api.tests.helpers import created, field_errors, hide, ok, problem
from custos.core.tenancy import tenant_scope
from custos.crm.services.deals import deal_create, pipeline_default
from custos.testing import api_client


def _stages(cast):
    with tenant_scope(cast.org_a):
        return {stage.name: stage for stage in pipeline_default(cast.actor(cast.olive)).stages.all()}


def _deal(cast, stage, amount=None, currency="EUR", owner=None, **data):
    with tenant_scope(cast.org_a):
        return deal_create(
            actor=cast.actor(cast.olive),
            data={
                "name": "Deal",
                "stage": str(stage.pk),
                "pipeline": str(stage.pipeline_id),
                "owner": str((owner or cast.olive).pk),
                "currency": currency,
                **({"amount": amount} if amount else {}),
                **data,
            },
        )


def _today(user):
    return timezone.now().astimezone(zoneinfo.ZoneInfo(user.time_zone)).date()


def test_the_figures_come_per_currency_with_the_quarter_they_are_of(cast):
    stages = _stages(cast)
    today = _today(cast.alice)
    _deal(cast, stages["Proposal"], "1000.00", expected_close=today.isoformat())
    _deal(cast, stages["Negotiation"], "400.00", currency="PLN")
    _deal(cast, stages["Won"], "250.00")
    _deal(cast, stages["Lost"], "99.00", lost_reason="Price")
    client = api_client(cast, cast.alice, "crm:read")
    created(api_client(cast, cast.alice), "/api/v1/leads", last_name="Lind", source="referral")

    body = ok(client.get("/api/v1/dashboard"))

    pipeline = {"id": str(stages["Won"].pipeline_id), "name": "Sales"}
    quarter_number = (today.month - 1) // 3 + 1
    assert body["time_zone"] == "Europe/Berlin"
    assert (body["quarter"]["year"], body["quarter"]["number"]) == (today.year, quarter_number)
    assert body["quarter"]["first_day"] <= today.isoformat() <= body["quarter"]["last_day"]
    assert (body["pipelines"], body["pipeline"], body["amounts_visible"]) == ([pipeline], pipeline, True)
    assert body["pipeline_by_stage"] == [
        {
            "stage": str(stages["Qualification"].pk),
            "name": "Qualification",
            "probability": 20,
            "count": 0,
            "value": [],
            "weighted": [],
        },
        {
            "stage": str(stages["Proposal"].pk),
            "name": "Proposal",
            "probability": 50,
            "count": 1,
            "value": [{"currency": "EUR", "amount": "1000.00"}],
            "weighted": [{"currency": "EUR", "amount": "500.00"}],
        },
        {
            "stage": str(stages["Negotiation"].pk),
            "name": "Negotiation",
            "probability": 75,
            "count": 1,
            "value": [{"currency": "PLN", "amount": "400.00"}],
            "weighted": [{"currency": "PLN", "amount": "300.00"}],
        },
    ]
    assert body["open_value"] == [{"currency": "EUR", "amount": "1000.00"}, {"currency": "PLN", "amount": "400.00"}]
    assert body["win_rate"] == {
        "won_this_quarter": 1,
        "lost_this_quarter": 1,
        "rate_this_quarter": 0.5,
        "won_all_time": 1,
        "lost_all_time": 1,
        "rate_all_time": 0.5,
    }
    # The PLN deal has no expected close date: it is in no quarter's expected revenue.
    assert body["expected_revenue"] == [
        {"currency": "EUR", "weighted_open": "500.00", "won": "250.00", "total": "750.00"}
    ]
    assert body["funnel"] == [
        {"step": "leads", "count": 1},
        {"step": "qualified", "count": 0},
        {"step": "converted", "count": 0},
        {"step": "won", "count": 0},
    ]
    assert body["leads_by_source"] == [{"source": "referral", "count": 1}]
    assert body["tasks_due"] == {"overdue": 0, "today": 0, "upcoming": 0}


def test_a_role_that_may_not_see_amounts_gets_no_money_at_all(cast):
    stages = _stages(cast)
    hide(cast, "sales", "deal.amount")
    _deal(cast, stages["Proposal"], "1234.00", owner=cast.sam, expected_close=_today(cast.sam).isoformat())
    _deal(cast, stages["Won"], "1234.00", owner=cast.sam)

    response = api_client(cast, cast.sam, "read").get("/api/v1/dashboard")

    body = ok(response)
    assert body["amounts_visible"] is False
    assert (body["open_value"], body["expected_revenue"]) == (None, None)
    assert [(s["count"], s["value"], s["weighted"]) for s in body["pipeline_by_stage"]] == [
        (0, None, None),
        (1, None, None),
        (0, None, None),
    ]
    assert b"1234" not in response.content and b"EUR" not in response.content


def test_a_role_without_deals_gets_the_won_step_of_the_funnel_as_null(cast):
    from custos.accounts.services import role_create
    from custos.accounts.tests.helpers import add_member

    with tenant_scope(cast.org_a):
        leads_only = role_create(
            actor=cast.actor(cast.olive),
            name="Lead desk",
            permissions=["lead.view", "activity.view"],
            record_scope="all",
            hidden_fields=[],
        )
    lena = add_member(cast, "lena@acme.example", leads_only.key)

    body = ok(api_client(cast, lena, "read").get("/api/v1/dashboard"))

    assert body["funnel"][-1] == {"step": "won", "count": None}
    assert (body["pipeline"], body["win_rate"]) == (None, None)


def test_the_record_scope_narrows_every_figure(cast):
    stages = _stages(cast)
    _deal(cast, stages["Proposal"], "100.00", owner=cast.sam)
    _deal(cast, stages["Proposal"], "900.00", owner=cast.olive)

    sams = ok(api_client(cast, cast.sam, "read").get("/api/v1/dashboard"))

    assert sams["open_value"] == [{"currency": "EUR", "amount": "100.00"}]
    assert sams["pipeline_by_stage"][1]["count"] == 1


def test_another_pipeline_is_chosen_and_an_unknown_one_is_a_field_error(cast):
    _stages(cast)
    client = api_client(cast, cast.alice, "crm:read")
    writer = api_client(cast, cast.alice)
    renewals = created(
        writer, "/api/v1/pipelines", name="Renewals", stages=[{"name": "Due"}, {"name": "Done", "outcome": "won"}]
    )
    mallorys = ok(api_client(cast, cast.mallory).get("/api/v1/pipelines"))["items"][0]

    chosen = ok(client.get(f"/api/v1/dashboard?pipeline={renewals['id']}"))

    assert chosen["pipeline"] == {"id": renewals["id"], "name": "Renewals"}
    assert [s["name"] for s in chosen["pipeline_by_stage"]] == ["Due"]
    for unknown in (mallorys["id"], "not-an-id"):
        errors = field_errors(client.get(f"/api/v1/dashboard?pipeline={unknown}"))
        assert errors == [{"field": "pipeline", "message": "Choose an existing pipeline."}]


def test_quarter_and_today_are_the_callers_own(cast):
    cast.alice.time_zone = "Pacific/Kiritimati"  # UTC+14: often a day ahead of Berlin
    cast.alice.save()

    body = ok(api_client(cast, cast.alice, "read").get("/api/v1/dashboard"))

    today = _today(cast.alice)
    assert body["time_zone"] == "Pacific/Kiritimati"
    assert body["quarter"]["first_day"] <= today.isoformat() <= body["quarter"]["last_day"]


def test_a_token_needs_to_read_the_crm_area(cast):
    assert problem(api_client(cast, cast.alice, "privacy:read").get("/api/v1/dashboard"), 403)
    assert problem(api_client(cast, cast.alice, "finance:read").get("/api/v1/dashboard"), 403)
    assert problem(Client().get("/api/v1/dashboard"), 401)


def test_the_schema_documents_the_dashboard(cast):
    schema = ok(api_client(cast, cast.alice).get("/api/v1/openapi.json"))
    operation = schema["paths"]["/api/v1/dashboard"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["pipeline"]
    properties = schema["components"]["schemas"]["DashboardOut"]["properties"]
    assert set(properties) == {
        "time_zone",
        "quarter",
        "pipelines",
        "pipeline",
        "amounts_visible",
        "pipeline_by_stage",
        "open_value",
        "win_rate",
        "expected_revenue",
        "funnel",
        "leads_by_source",
        "tasks_due",
    }
    assert "description" in properties["expected_revenue"]
