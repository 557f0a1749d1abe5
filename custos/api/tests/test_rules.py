"""/api/v1/scoring-rules, /assignment-rules and /rep-capacities: lead rules by API."""

import pytest
from django.utils import timezone

from custos.accounts.models import Role
from custos.accounts.services import member_add
from custos.api.tests.helpers import created, entries, field_errors, ok, patch, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Lead
from custos.testing import api_client


@pytest.fixture
def manager(cast):
    with tenant_scope(cast.org_a):
        return member_add(
            actor=cast.actor(cast.olive), email="maria@acme.example", role=Role.objects.get(key="manager")
        ).user


def _put(client, path, data):
    import json

    return client.put(path, json.dumps(data), content_type="application/json")


def _score_of(cast, lead_id):
    with tenant_scope(cast.org_a):
        lead = Lead.objects.get(pk=lead_id)
    return lead.score, lead.score_reasons


def test_a_scoring_rule_is_created_read_changed_and_deleted(cast, manager):
    client = api_client(cast, manager, scope="write")
    lead = created(client, "/api/v1/leads", last_name="Lind", country="DE")
    body = created(
        client,
        "/api/v1/scoring-rules",
        name="In Germany",
        condition="field_equals",
        field="country",
        value="DE",
        points=20,
    )
    assert body == {
        "id": body["id"],
        "name": "In Germany",
        "condition": "field_equals",
        "field": "country",
        "value": "DE",
        "days": 7,
        "points": 20,
        "is_active": True,
        "position": 0,
    }
    assert _score_of(cast, lead["id"]) == (20, [{"rule": body["id"], "name": "In Germany", "points": 20}])
    assert ok(client.get(f"/api/v1/scoring-rules/{body['id']}")) == body
    assert ok(client.get("/api/v1/scoring-rules")) == {"items": [body], "next": None}

    changed = ok(patch(client, f"/api/v1/scoring-rules/{body['id']}", {"points": -5}))
    assert changed == body | {"points": -5}
    assert _score_of(cast, lead["id"])[0] == -5
    assert client.delete(f"/api/v1/scoring-rules/{body['id']}").status_code == 204
    assert _score_of(cast, lead["id"]) == (0, [])
    assert problem(client.get(f"/api/v1/scoring-rules/{body['id']}"), 404)
    audit = entries(cast.org_a, "scoring_rule.")
    assert [(e.action, e.object_id, e.fields) for e in audit] == [
        ("scoring_rule.create", body["id"], []),
        ("scoring_rule.update", body["id"], ["points"]),
        ("scoring_rule.delete", body["id"], []),
    ]


def test_a_bad_scoring_rule_names_every_field_and_changes_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)
    errors = field_errors(
        post(client, "/api/v1/scoring-rules", {"name": "", "condition": "field_at_least", "field": "notes"})
    )
    assert sorted({e["field"] for e in errors}) == ["field", "name", "points", "value"]
    errors = field_errors(post(client, "/api/v1/scoring-rules", {"name": "x", "condition": "odd", "points": 1}))
    assert [e["field"] for e in errors] == ["condition"]
    errors = field_errors(post(client, "/api/v1/scoring-rules", {"name": "x", "condition": "tag", "points": "5"}))
    assert "points" in [e["field"] for e in errors]
    errors = field_errors(post(client, "/api/v1/scoring-rules", {"name": "x", "colour": "red"}))
    assert "colour" in [e["field"] for e in errors]
    assert snapshot(cast.org_a) == before

    rule = created(client, "/api/v1/scoring-rules", name="Tagged", condition="tag", value="vip", points=5)
    before = snapshot(cast.org_a)
    errors = field_errors(patch(client, f"/api/v1/scoring-rules/{rule['id']}", {"points": 5000, "value": ""}))
    assert sorted(e["field"] for e in errors) == ["points", "value"]
    assert snapshot(cast.org_a) == before


def test_an_assignment_rule_is_created_read_changed_and_deleted(cast, manager):
    client = api_client(cast, manager, scope="write")
    body = created(
        client,
        "/api/v1/assignment-rules",
        name="DACH",
        reps=[str(cast.sam.pk)],
        countries=["de", "AT"],
        postcode_prefixes=["80"],
        sources=["web_form"],
        interest_contains="implants",
        reassign_after_hours=4,
    )
    assert body == {
        "id": body["id"],
        "name": "DACH",
        "position": 0,
        "reps": [str(cast.sam.pk)],
        "countries": ["AT", "DE"],
        "postcode_prefixes": ["80"],
        "sources": ["web_form"],
        "interest_contains": "implants",
        "reassign_after_hours": 4,
        "is_active": True,
        "last_assigned": None,
    }
    lead = created(client, "/api/v1/leads", last_name="Lind", country="DE", postcode="80331", source="web_form") | {
        "interest": "Implants"
    }
    # The lead's interest was not given: the rule asks for one, so it does not match.
    assert lead["owner"] == str(manager.pk)
    lead = created(
        client,
        "/api/v1/leads",
        last_name="Berg",
        country="DE",
        postcode="80331",
        source="web_form",
        interest="Dental implants",
    )
    assert lead["owner"] == str(cast.sam.pk)
    assert ok(client.get(f"/api/v1/assignment-rules/{body['id']}"))["last_assigned"] == str(cast.sam.pk)

    changed = ok(
        patch(client, f"/api/v1/assignment-rules/{body['id']}", {"reps": [str(manager.pk)], "is_active": False})
    )
    assert (changed["reps"], changed["is_active"], changed["countries"]) == ([str(manager.pk)], False, ["AT", "DE"])
    assert ok(client.get("/api/v1/assignment-rules"))["items"] == [changed]
    assert client.delete(f"/api/v1/assignment-rules/{body['id']}").status_code == 204
    with tenant_scope(cast.org_a):
        kept = Lead.objects.get(pk=lead["id"])
    assert (kept.owner_id, kept.assignment_rule_id) == (cast.sam.pk, None)
    assert [e.action for e in entries(cast.org_a, "assignment_rule.")] == [
        "assignment_rule.create",
        "assignment_rule.update",
        "assignment_rule.delete",
    ]


def test_a_bad_assignment_rule_names_every_field_and_changes_nothing(cast):
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)
    errors = field_errors(
        post(
            client,
            "/api/v1/assignment-rules",
            {"name": "", "reps": [str(cast.mallory.pk)], "countries": ["Germany"], "sources": ["fax"]},
        )
    )
    assert sorted({e["field"] for e in errors}) == ["countries", "name", "reps", "sources"]
    errors = field_errors(post(client, "/api/v1/assignment-rules", {"name": "x", "reassign_after_hours": 0}))
    assert sorted(e["field"] for e in errors) == ["reassign_after_hours", "reps"]
    errors = field_errors(post(client, "/api/v1/assignment-rules", {"name": "x", "reps": "sam"}))
    assert "reps" in [e["field"] for e in errors]
    assert snapshot(cast.org_a) == before


def test_a_reps_capacity_is_set_replaced_and_read(cast, manager):
    client = api_client(cast, manager, scope="write")
    today = timezone.localdate().isoformat()
    path = f"/api/v1/rep-capacities/{cast.sam.pk}"
    assert ok(client.get(path)) == {
        "user": str(cast.sam.pk),
        "max_open_leads": None,
        "away_from": None,
        "away_until": None,
        "is_away": False,
    }
    body = ok(_put(client, path, {"max_open_leads": 3, "away_from": today, "away_until": today}))
    assert body == {
        "user": str(cast.sam.pk),
        "max_open_leads": 3,
        "away_from": today,
        "away_until": today,
        "is_away": True,
    }
    assert ok(client.get(path)) == body
    assert ok(client.get("/api/v1/rep-capacities")) == {"items": [body], "next": None}
    # The whole entry is replaced: what is left out is cleared.
    assert ok(_put(client, path, {"max_open_leads": 1}))["away_from"] is None
    assert [e.object_id for e in entries(cast.org_a, "rep_capacity.")] == [str(cast.sam.pk)] * 2

    before = snapshot(cast.org_a)
    errors = field_errors(_put(client, path, {"away_from": "2030-05-10", "away_until": "2030-05-01"}))
    assert [(e["field"], e["message"]) for e in errors] == [
        ("away_until", "The last day away cannot be before the first.")
    ]
    errors = field_errors(_put(client, path, {"max_open_leads": -1, "away_from": "soon", "away_until": "2030-05-01"}))
    assert sorted(e["field"] for e in errors) == ["away_from", "max_open_leads"]
    assert snapshot(cast.org_a) == before
    assert problem(_put(client, f"/api/v1/rep-capacities/{cast.mallory.pk}", {}), 404)


def test_sales_read_the_rules_and_change_none(cast):
    admin = api_client(cast, cast.alice)
    scoring = created(admin, "/api/v1/scoring-rules", name="Tagged", condition="tag", value="vip", points=5)
    assignment = created(admin, "/api/v1/assignment-rules", name="All", reps=[str(cast.sam.pk)])
    client = warmed(api_client(cast, cast.sam, scope="write"))
    assert [r["id"] for r in ok(client.get("/api/v1/scoring-rules"))["items"]] == [scoring["id"]]
    assert [r["id"] for r in ok(client.get("/api/v1/assignment-rules"))["items"]] == [assignment["id"]]
    assert ok(client.get(f"/api/v1/rep-capacities/{cast.sam.pk}"))["user"] == str(cast.sam.pk)
    before = snapshot(cast.org_a)
    for response in (
        post(client, "/api/v1/scoring-rules", {"name": "x", "condition": "tag", "value": "x", "points": 1}),
        patch(client, f"/api/v1/scoring-rules/{scoring['id']}", {"points": 50}),
        client.delete(f"/api/v1/scoring-rules/{scoring['id']}"),
        post(client, "/api/v1/assignment-rules", {"name": "x", "reps": [str(cast.sam.pk)]}),
        patch(client, f"/api/v1/assignment-rules/{assignment['id']}", {"name": "Mine"}),
        client.delete(f"/api/v1/assignment-rules/{assignment['id']}"),
        _put(client, f"/api/v1/rep-capacities/{cast.sam.pk}", {"max_open_leads": 100}),
    ):
        problem(response, 403)
    assert snapshot(cast.org_a) == before


def test_a_read_token_cannot_change_rules(cast):
    admin = api_client(cast, cast.alice)
    scoring = created(admin, "/api/v1/scoring-rules", name="Tagged", condition="tag", value="vip", points=5)
    client = warmed(api_client(cast, cast.alice, scope="read"))
    assert ok(client.get(f"/api/v1/scoring-rules/{scoring['id']}"))["name"] == "Tagged"
    before = snapshot(cast.org_a)
    problem(patch(client, f"/api/v1/scoring-rules/{scoring['id']}", {"points": 50}), 403)
    problem(client.delete(f"/api/v1/scoring-rules/{scoring['id']}"), 403)
    assert snapshot(cast.org_a) == before


def test_another_organisations_rules_are_not_found(cast):
    admin = api_client(cast, cast.alice)
    scoring = created(admin, "/api/v1/scoring-rules", name="Tagged", condition="tag", value="vip", points=5)
    assignment = created(admin, "/api/v1/assignment-rules", name="All", reps=[str(cast.sam.pk)])
    client = warmed(api_client(cast, cast.mallory))
    before = snapshot(cast.org_a)
    assert ok(client.get("/api/v1/scoring-rules"))["items"] == []
    assert ok(client.get("/api/v1/assignment-rules"))["items"] == []
    for path in (f"/api/v1/scoring-rules/{scoring['id']}", f"/api/v1/assignment-rules/{assignment['id']}"):
        problem(client.get(path), 404)
        problem(patch(client, path, {"name": "Mine"}), 404)
        problem(client.delete(path), 404)
    problem(client.get(f"/api/v1/rep-capacities/{cast.sam.pk}"), 404)
    problem(_put(client, f"/api/v1/rep-capacities/{cast.sam.pk}", {"max_open_leads": 0}), 404)
    # Nor can a rule of Bravo name Acme's people.
    errors = field_errors(post(client, "/api/v1/assignment-rules", {"name": "Steal", "reps": [str(cast.sam.pk)]}))
    assert [e["field"] for e in errors] == ["reps"]
    assert snapshot(cast.org_a) == before
