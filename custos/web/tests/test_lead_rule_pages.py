"""Lead rules in the settings: managers keep scoring rules, assignment rules and reps' absences;
sales see them; a lead's page says which rules gave its points and why it went to its owner."""

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.accounts.models import Role
from custos.accounts.services import member_add
from custos.audit.models import AuditEntry
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.models import AssignmentRule, Lead, RepCapacity, ScoringRule
from custos.crm.services.leads import lead_create
from custos.crm.services.rules import assignment_rule_create, rep_capacity_set, scoring_rule_create
from custos.testing import enable_two_factor, web_client
from custos.web.tests.sales import audit_actions, fresh, in_org_a


@pytest.fixture
def manager(cast):
    """Maria, a manager in org A: she may keep the lead rules (and, exporting, signs in with a
    second factor)."""
    with tenant_scope(cast.org_a):
        maria = member_add(
            actor=cast.actor(cast.olive), email="maria@acme.example", role=Role.objects.get(key="manager")
        ).user
    enable_two_factor(maria)
    return maria


def _state(cast):
    """Every rule, every capacity, every lead's score and owner, and the audit log's length."""
    with tenant_scope(cast.org_a):
        return {
            "scoring": list(ScoringRule.objects.order_by("pk").values()),
            "assignment": [
                (
                    rule,
                    sorted(
                        str(pk) for pk in AssignmentRule.objects.get(pk=rule["id"]).reps.values_list("pk", flat=True)
                    ),
                )
                for rule in AssignmentRule.objects.order_by("pk").values()
            ],
            "capacity": list(RepCapacity.objects.order_by("pk").values()),
            "leads": list(Lead.objects.order_by("pk").values_list("pk", "score", "score_reasons", "owner_id")),
            "audit": AuditEntry.objects.count(),
        }


def _text(response):
    return html.unescape(response.content.decode())


def _germany(cast, **data):
    return in_org_a(
        cast,
        scoring_rule_create,
        data={"name": "In Germany", "condition": "field_equals", "field": "country", "value": "DE", "points": 20}
        | data,
    )


def _lead(cast, **data):
    return in_org_a(cast, lead_create, data={"last_name": "Lind", **data})


def test_every_lead_rule_page_renders_for_a_manager(cast, manager):
    scoring = _germany(cast)
    assignment = in_org_a(cast, assignment_rule_create, data={"name": "DACH", "reps": [str(cast.sam.pk)]})
    client = web_client(manager)
    for path in (
        "/settings/lead-rules/",
        "/settings/lead-rules/scoring/new/",
        f"/settings/lead-rules/scoring/{scoring.pk}/",
        "/settings/lead-rules/assignment/new/",
        f"/settings/lead-rules/assignment/{assignment.pk}/",
        f"/settings/lead-rules/reps/{cast.sam.pk}/",
    ):
        assert client.get(path).status_code == 200, path
    body = _text(client.get("/settings/lead-rules/"))
    assert "Country is “DE”" in body and "+20" in body
    assert "DACH" in body and "Every lead" in body and "sam@acme.example" in body
    assert 'href="/settings/lead-rules/"' in body  # in the navigation


def test_a_manager_creates_a_scoring_rule_and_open_leads_are_scored_again(cast, manager):
    lead = _lead(cast, country="DE")
    client = web_client(manager)
    response = client.post(
        "/settings/lead-rules/scoring/new/",
        {"name": "In Germany", "condition": "field_equals", "field": "country", "value": "de", "points": "20"}
        | {"is_active": "on"},
    )
    assert response.status_code == 302 and response["Location"] == "/settings/lead-rules/"
    with tenant_scope(cast.org_a):
        rule = ScoringRule.objects.get()
    assert (rule.name, rule.condition, rule.field, rule.value, rule.points, rule.is_active) == (
        "In Germany",
        "field_equals",
        "country",
        "de",
        20,
        True,
    )
    assert (fresh(cast, lead).score, fresh(cast, lead).score_reasons) == (
        20,
        [{"rule": str(rule.pk), "name": "In Germany", "points": 20}],
    )
    assert audit_actions(cast, rule.pk) == ["scoring_rule.create"]
    assert "The scoring rule “In Germany” is saved; every open lead is scored again." in _text(
        client.get(response["Location"])
    )


def test_a_manager_edits_and_deletes_a_scoring_rule(cast, manager):
    rule = _germany(cast)
    lead = _lead(cast, country="DE")
    assert fresh(cast, lead).score == 20
    client = web_client(manager)
    url = f"/settings/lead-rules/scoring/{rule.pk}/"
    form = _text(client.get(url))
    assert 'value="In Germany"' in form and 'value="20"' in form

    response = client.post(
        url, {"name": "Germany", "condition": "field_equals", "field": "country", "value": "DE", "points": "35"}
    )
    assert response.status_code == 302
    changed = fresh(cast, rule)
    # The box left unticked makes the rule inactive: it gives no points any more.
    assert (changed.name, changed.points, changed.is_active) == ("Germany", 35, False)
    assert fresh(cast, lead).score == 0
    client.post(
        url,
        {"name": "Germany", "condition": "field_equals", "field": "country", "value": "DE"}
        | {
            "points": "35",
            "is_active": "on",
        },
    )
    assert fresh(cast, lead).score_reasons == [{"rule": str(rule.pk), "name": "Germany", "points": 35}]

    response = client.post(f"{url}delete/")
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        assert not ScoringRule.objects.exists()
    assert (fresh(cast, lead).score, fresh(cast, lead).score_reasons) == (0, [])
    assert audit_actions(cast, rule.pk) == [
        "scoring_rule.create",
        "scoring_rule.update",
        "scoring_rule.update",
        "scoring_rule.delete",
    ]


def test_a_recent_activity_rule_keeps_its_days_and_a_tag_rule_its_tag(cast, manager):
    client = web_client(manager)
    client.post(
        "/settings/lead-rules/scoring/new/",
        {"name": "Busy", "condition": "recent_activity", "days": "14", "points": "5", "is_active": "on"},
    )
    client.post(
        "/settings/lead-rules/scoring/new/",
        {"name": "Student", "condition": "tag", "value": "student", "points": "-30", "is_active": "on"},
    )
    with tenant_scope(cast.org_a):
        rules = {rule.name: rule for rule in ScoringRule.objects.all()}
    assert (rules["Busy"].days, rules["Busy"].field, rules["Busy"].value) == (14, "", "")
    assert (rules["Student"].value, rules["Student"].points) == ("student", -30)
    body = _text(client.get("/settings/lead-rules/"))
    assert "An activity within 14 days" in body and "Tagged “student”" in body and "\u221230" in body


def test_a_bad_scoring_rule_shows_each_problem_and_changes_nothing(cast, manager):
    _lead(cast, country="DE")
    client = web_client(manager)
    before = _state(cast)
    response = client.post(
        "/settings/lead-rules/scoring/new/",
        {"name": "", "condition": "field_at_least", "field": "country", "value": "many", "points": ""},
    )
    assert response.status_code == 200
    body = _text(response)
    assert body.count("This field is required.") == 2  # the name and the points
    # The domain's own checks, once the form's pass: a field condition needs its field and value,
    # and "at least" needs a number.
    response = client.post(
        "/settings/lead-rules/scoring/new/",
        {"name": "At least", "condition": "field_at_least", "field": "country", "value": "many", "points": "5"},
    )
    assert response.status_code == 200
    assert "Enter a number." in _text(response)
    response = client.post(
        "/settings/lead-rules/scoring/new/", {"name": "No field", "condition": "field_equals", "points": "5"}
    )
    assert response.status_code == 200
    body = _text(response)
    assert "Choose one of: country" in body and "This field is required." in body
    rule = _germany(cast)
    before = _state(cast)
    response = client.post(
        f"/settings/lead-rules/scoring/{rule.pk}/",
        {"name": "In Germany", "condition": "field_equals", "field": "notes", "value": "DE", "points": "2000"},
    )
    assert response.status_code == 200
    body = _text(response)
    assert "Select a valid choice." in body and "Ensure this value is less than or equal to 1000." in body
    assert _state(cast) == before


def test_a_manager_creates_edits_and_deletes_an_assignment_rule(cast, manager):
    client = web_client(manager)
    response = client.post(
        "/settings/lead-rules/assignment/new/",
        {
            "name": "DACH",
            "reps": [str(cast.sam.pk), str(manager.pk)],
            "countries": "de, at,ch",
            "postcode_prefixes": "80, 81",
            "sources": ["web_form", "event"],
            "interest_contains": "implants",
            "reassign_after_hours": "4",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        rule = AssignmentRule.objects.get()
        assert set(rule.reps.all()) == {cast.sam, manager}
    assert (rule.countries, rule.postcode_prefixes, rule.sources, rule.interest_contains) == (
        ["AT", "CH", "DE"],
        ["80", "81"],
        ["web_form", "event"],
        "implants",
    )
    assert (rule.reassign_after_hours, rule.is_active) == (4, True)
    body = _text(client.get("/settings/lead-rules/"))
    assert "Countries: AT, CH, DE" in body and "Postcodes starting with: 80, 81" in body
    assert "after 4 hours" in body

    url = f"/settings/lead-rules/assignment/{rule.pk}/"
    form = _text(client.get(url))
    assert 'value="AT, CH, DE"' in form and 'value="80, 81"' in form
    response = client.post(url, {"name": "DACH", "reps": [str(cast.sam.pk)], "countries": "DE", "is_active": "on"})
    assert response.status_code == 302
    changed = fresh(cast, rule)
    with tenant_scope(cast.org_a):
        assert list(changed.reps.all()) == [cast.sam]
    assert (changed.countries, changed.postcode_prefixes, changed.sources, changed.reassign_after_hours) == (
        ["DE"],
        [],
        [],
        None,
    )

    # A lead it assigned keeps its owner when the rule goes.
    lead = in_org_a(cast, lead_create, user=cast.alice, data={"last_name": "Lind", "country": "DE"})
    assert lead.owner_id == cast.sam.pk
    assert client.post(f"{url}delete/").status_code == 302
    with tenant_scope(cast.org_a):
        assert not AssignmentRule.objects.exists()
    assert (fresh(cast, lead).owner_id, fresh(cast, lead).assignment_rule_id) == (cast.sam.pk, None)
    assert audit_actions(cast, rule.pk) == [
        "assignment_rule.create",
        "assignment_rule.update",
        "assignment_rule.delete",
    ]


def test_a_bad_assignment_rule_shows_each_problem_and_changes_nothing(cast, manager):
    rule = in_org_a(cast, assignment_rule_create, data={"name": "DACH", "reps": [str(cast.sam.pk)]})
    client = web_client(manager)
    before = _state(cast)
    response = client.post("/settings/lead-rules/assignment/new/", {"name": "", "countries": "Germany, XX"})
    assert response.status_code == 200
    body = _text(response)
    assert "This field is required." in body  # the name
    # Once the form's own checks pass, the domain's: reps who are members, real countries.
    response = client.post("/settings/lead-rules/assignment/new/", {"name": "DACH", "countries": "Germany, XX"})
    assert response.status_code == 200
    body = _text(response)
    assert "Choose one or more members of this organisation." in body
    assert "Use a two-letter country code such as DE." in body
    response = client.post(
        f"/settings/lead-rules/assignment/{rule.pk}/",
        {"name": "DACH", "reps": [str(cast.mallory.pk)], "reassign_after_hours": "0", "sources": ["fax"]},
    )
    assert response.status_code == 200
    body = _text(response)
    assert body.count("Select a valid choice.") == 2  # a stranger as rep, a source that is none
    assert "Ensure this value is greater than or equal to 1." in body
    assert _state(cast) == before


def test_a_manager_sets_a_reps_cap_and_absence(cast, manager):
    client = web_client(manager)
    today = timezone.localdate()
    url = f"/settings/lead-rules/reps/{cast.sam.pk}/"
    response = client.post(
        url, {"max_open_leads": "3", "away_from": str(today), "away_until": str(today + timedelta(days=2))}
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        capacity = RepCapacity.objects.get(user=cast.sam)
    assert (capacity.max_open_leads, capacity.away_from, capacity.away_until) == (
        3,
        today,
        today + timedelta(days=2),
    )
    assert audit_actions(cast, cast.sam.pk)[-1] == "rep_capacity.set"
    body = _text(client.get("/settings/lead-rules/"))
    assert "no: away" in body
    form = _text(client.get(url))
    assert f'value="{today.isoformat()}"' in form and 'value="3"' in form

    # Away, Sam gets no lead from a rule naming him; back, he does.
    in_org_a(cast, assignment_rule_create, data={"name": "All", "reps": [str(cast.sam.pk)]})
    lead = in_org_a(cast, lead_create, user=cast.alice, data={"last_name": "Lind"})
    assert lead.owner_id == cast.alice.pk
    client.post(url, {"max_open_leads": ""})
    with tenant_scope(cast.org_a):
        capacity = RepCapacity.objects.get(user=cast.sam)
    assert (capacity.max_open_leads, capacity.away_from, capacity.away_until) == (None, None, None)
    lead = in_org_a(cast, lead_create, user=cast.alice, data={"last_name": "Berg"})
    assert lead.owner_id == cast.sam.pk


def test_a_bad_absence_shows_its_error_and_changes_nothing(cast, manager):
    in_org_a(cast, rep_capacity_set, user_id=cast.sam.pk, data={"max_open_leads": 5})
    client = web_client(manager)
    before = _state(cast)
    url = f"/settings/lead-rules/reps/{cast.sam.pk}/"
    response = client.post(url, {"max_open_leads": "2", "away_from": "2030-05-10", "away_until": "2030-05-01"})
    assert response.status_code == 200
    assert "The last day away cannot be before the first." in _text(response)
    response = client.post(url, {"max_open_leads": "-1", "away_from": "2030-05-10", "away_until": "soon"})
    assert response.status_code == 200
    body = _text(response)
    assert "Ensure this value is greater than or equal to 0." in body and "Enter a valid date." in body
    response = client.post(url, {"away_from": "2030-05-10"})
    assert "Give both the first and the last day away." in _text(response)
    assert _state(cast) == before
    # Someone who is not a member of the organisation has no capacity to set.
    assert client.get(f"/settings/lead-rules/reps/{cast.mallory.pk}/").status_code == 404


def test_sales_see_the_rules_but_change_nothing(cast):
    scoring = _germany(cast)
    assignment = in_org_a(cast, assignment_rule_create, data={"name": "DACH", "reps": [str(cast.sam.pk)]})
    client = web_client(cast.sam)
    body = _text(client.get("/settings/lead-rules/"))
    assert "In Germany" in body and "DACH" in body
    assert "/settings/lead-rules/scoring/new/" not in body and "/delete/" not in body
    assert f"/settings/lead-rules/scoring/{scoring.pk}/" not in body
    before = _state(cast)
    for path, data in (
        ("/settings/lead-rules/scoring/new/", {"name": "X", "condition": "tag", "value": "x", "points": "1"}),
        (f"/settings/lead-rules/scoring/{scoring.pk}/", {"name": "X", "condition": "tag", "value": "x", "points": "1"}),
        (f"/settings/lead-rules/scoring/{scoring.pk}/delete/", {}),
        ("/settings/lead-rules/assignment/new/", {"name": "X", "reps": [str(cast.sam.pk)]}),
        (f"/settings/lead-rules/assignment/{assignment.pk}/", {"name": "X", "reps": [str(cast.sam.pk)]}),
        (f"/settings/lead-rules/assignment/{assignment.pk}/delete/", {}),
        (f"/settings/lead-rules/reps/{cast.sam.pk}/", {"max_open_leads": "0"}),
    ):
        assert client.post(path, data).status_code == 403, path
        if not path.endswith("/delete/"):
            assert client.get(path).status_code == 403, path
    assert _state(cast) == before


def test_another_organisations_rules_are_not_found(cast):
    scoring = _germany(cast)
    assignment = in_org_a(cast, assignment_rule_create, data={"name": "DACH", "reps": [str(cast.sam.pk)]})
    client = web_client(cast.mallory)
    before = _state(cast)
    for path in (
        f"/settings/lead-rules/scoring/{scoring.pk}/",
        f"/settings/lead-rules/assignment/{assignment.pk}/",
        f"/settings/lead-rules/reps/{cast.sam.pk}/",
    ):
        assert client.get(path).status_code == 404, path
        assert client.post(path, {"name": "Mine", "points": "1"}).status_code == 404, path
    for path in (
        f"/settings/lead-rules/scoring/{scoring.pk}/delete/",
        f"/settings/lead-rules/assignment/{assignment.pk}/delete/",
    ):
        assert client.post(path).status_code == 404, path
    assert "In Germany" not in _text(client.get("/settings/lead-rules/"))
    assert _state(cast) == before


def test_a_leads_page_shows_each_rule_with_its_points_and_why_it_was_assigned(cast):
    _germany(cast)
    in_org_a(cast, scoring_rule_create, data={"name": "Student", "condition": "tag", "value": "student", "points": -30})
    in_org_a(cast, scoring_rule_create, data={"name": "Web form", "condition": "came_from_form", "points": 10})
    rule = in_org_a(
        cast, assignment_rule_create, data={"name": "DACH", "countries": ["DE"], "reps": [str(cast.sam.pk)]}
    )
    with tenant_scope(cast.org_a):
        lead = lead_create(
            actor=cast.actor(cast.alice, via=Via.API),
            data={"last_name": "Lind", "country": "DE", "tags": ["student"], "source": "web_form"},
        )
    assert lead.score == 0
    body = _text(web_client(cast.alice).get(f"/leads/{lead.pk}/"))
    reasons = body.split('aria-label="Why this score"', 1)[1].split("</ul>", 1)[0]
    assert '<bdi class="points">+20</bdi> In Germany' in reasons
    assert '<bdi class="points">\u221230</bdi> Student' in reasons
    assert '<bdi class="points">+10</bdi> Web form' in reasons
    assert "Assigned to sam@acme.example by rule “DACH”: next in turn" in body

    # Deleted, the rule is no longer named, but the reason stays.
    from custos.crm.services.rules import assignment_rule_delete

    in_org_a(cast, assignment_rule_delete, rule=rule)
    body = _text(web_client(cast.alice).get(f"/leads/{lead.pk}/"))
    assert "Assigned to sam@acme.example by a rule since deleted: next in turn" in body


def test_a_lead_without_rules_shows_a_plain_score(cast):
    lead = _lead(cast, country="DE")
    body = _text(web_client(cast.alice).get(f"/leads/{lead.pk}/"))
    assert "<strong>0</strong>" in body
    assert "Why this score" not in body and "by rule" not in body
