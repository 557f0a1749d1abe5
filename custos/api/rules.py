"""/scoring-rules, /assignment-rules and /rep-capacities: the organisation's own rules for leads."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool, StrictInt

from custos.api.rendering import actor_of, reference
from custos.core.pagination import paginate
from custos.crm.models import AssignmentRule, RepCapacity, ScoringRule
from custos.crm.selectors.rules import (
    access_assignment_rule,
    access_rep,
    access_scoring_rule,
    assignment_rule_list,
    rep_capacity_list,
    rep_capacity_of,
    scoring_rule_list,
)
from custos.crm.services import rules as services

router = Router(tags=["lead rules"])


class ScoringRuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="Required; shown as the reason beside its points.")
    condition: str | None = Field(
        None,
        description=(
            "Required: field_equals, field_contains, field_at_least (needs `field` and `value`), "
            "tag (needs `value`), recent_activity (uses `days`) or came_from_form."
        ),
    )
    field: str | None = Field(
        None,
        description=(
            "For the field conditions: country, postcode, city, company_name, job_title, source, interest, "
            "email, or `custom:<key>` for a lead custom field that is not special-category data."
        ),
    )
    value: str | None = Field(None, description="What the field equals or contains, its minimum, or the tag.")
    days: StrictInt | None = Field(None, description="For recent_activity: within how many days (1 to 365, 7).")
    points: StrictInt | None = Field(None, description="Required: -1000 to 1000; negative points lower the score.")
    is_active: StrictBool | None = Field(None, description="Inactive rules give no points; true when not given.")


class ScoringRuleOut(Schema):
    id: str
    name: str
    condition: str
    field: str
    value: str
    days: int
    points: int
    is_active: bool
    position: int


class ScoringRulePage(Schema):
    items: list[ScoringRuleOut]
    next: str | None


class AssignmentRuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="Required; leads name the rule that assigned them.")
    reps: list[str] | None = Field(None, description="Required: user ids of members who take turns.")
    countries: list[str] | None = Field(None, description="ISO 3166 codes; any country when empty.")
    postcode_prefixes: list[str] | None = Field(None, description="Postcodes starting so; any when empty.")
    sources: list[str] | None = Field(None, description="Lead sources (web_form, event, …); any when empty.")
    interest_contains: str | None = Field(None, description="Text the lead's interest contains; any when empty.")
    reassign_after_hours: StrictInt | None = Field(
        None, description="A new lead untouched this long goes to the next rep (1 to 2160); never when null."
    )
    is_active: StrictBool | None = Field(None, description="Inactive rules assign nothing; true when not given.")


class AssignmentRuleOut(Schema):
    id: str
    name: str
    position: int
    reps: list[str]
    countries: list[str]
    postcode_prefixes: list[str]
    sources: list[str]
    interest_contains: str
    reassign_after_hours: int | None
    is_active: bool
    last_assigned: str | None = Field(description="The rep who got this rule's latest lead; the turn passes on.")


class AssignmentRulePage(Schema):
    items: list[AssignmentRuleOut]
    next: str | None


class RepCapacityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    max_open_leads: StrictInt | None = Field(None, description="At most this many open leads; no cap when null.")
    away_from: str | None = Field(None, description="First day away, e.g. 2026-11-22; with `away_until`.")
    away_until: str | None = Field(None, description="Last day away; no new leads from the first to the last day.")


class RepCapacityOut(Schema):
    user: str
    max_open_leads: int | None
    away_from: date | None
    away_until: date | None
    is_away: bool = Field(description="Away today: gets no new leads.")


class RepCapacityPage(Schema):
    items: list[RepCapacityOut]
    next: str | None


def scoring_rule_out(rule: ScoringRule) -> dict[str, Any]:
    return {
        "id": str(rule.pk),
        "name": rule.name,
        "condition": rule.condition,
        "field": rule.field,
        "value": rule.value,
        "days": rule.days,
        "points": rule.points,
        "is_active": rule.is_active,
        "position": rule.position,
    }


def assignment_rule_out(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "id": str(rule.pk),
        "name": rule.name,
        "position": rule.position,
        "reps": sorted(str(user.pk) for user in rule.reps.all()),
        "countries": rule.countries,
        "postcode_prefixes": rule.postcode_prefixes,
        "sources": rule.sources,
        "interest_contains": rule.interest_contains,
        "reassign_after_hours": rule.reassign_after_hours,
        "is_active": rule.is_active,
        "last_assigned": reference(rule.last_assigned_id),
    }


def rep_capacity_out(user_id: Any, capacity: RepCapacity | None) -> dict[str, Any]:
    return {
        "user": str(user_id),
        "max_open_leads": capacity.max_open_leads if capacity else None,
        "away_from": capacity.away_from if capacity else None,
        "away_until": capacity.away_until if capacity else None,
        "is_away": capacity.is_away() if capacity else False,
    }


# Scoring rules ---------------------------------------------------------------------------


@router.get("/scoring-rules", response=ScoringRulePage, summary="List scoring rules")
def list_scoring_rules(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    rows, next_cursor = paginate(scoring_rule_list(actor_of(request)), cursor=cursor, limit=limit)
    return {"items": [scoring_rule_out(rule) for rule in rows], "next": next_cursor}


@router.post("/scoring-rules", response={201: ScoringRuleOut}, summary="Create a scoring rule")
def create_scoring_rule(request: HttpRequest, payload: ScoringRuleIn) -> Status[dict[str, Any]]:
    """Every open lead is scored again at once."""
    actor = actor_of(request)
    rule = services.scoring_rule_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, scoring_rule_out(rule))


@router.get("/scoring-rules/{scoring_rule_id}", response=ScoringRuleOut, summary="Get a scoring rule")
def get_scoring_rule(request: HttpRequest, scoring_rule_id: str) -> dict[str, Any]:
    return scoring_rule_out(access_scoring_rule(actor_of(request), scoring_rule_id))


@router.patch("/scoring-rules/{scoring_rule_id}", response=ScoringRuleOut, summary="Change a scoring rule")
def update_scoring_rule(request: HttpRequest, scoring_rule_id: str, payload: ScoringRuleIn) -> dict[str, Any]:
    """Every open lead is scored again at once."""
    actor = actor_of(request)
    rule = access_scoring_rule(actor, scoring_rule_id, write=True)
    rule = services.scoring_rule_update(actor=actor, rule=rule, data=payload.model_dump(exclude_unset=True))
    return scoring_rule_out(rule)


@router.delete("/scoring-rules/{scoring_rule_id}", response={204: None}, summary="Delete a scoring rule")
def delete_scoring_rule(request: HttpRequest, scoring_rule_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead_rule.delete")
    services.scoring_rule_delete(actor=actor, rule=access_scoring_rule(actor, scoring_rule_id))
    return HttpResponse(status=204)


# Assignment rules ------------------------------------------------------------------------


@router.get("/assignment-rules", response=AssignmentRulePage, summary="List assignment rules")
def list_assignment_rules(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """The first active rule a lead matches, in `position` order, decides who gets it."""
    rows, next_cursor = paginate(assignment_rule_list(actor_of(request)), cursor=cursor, limit=limit)
    return {"items": [assignment_rule_out(rule) for rule in rows], "next": next_cursor}


@router.post("/assignment-rules", response={201: AssignmentRuleOut}, summary="Create an assignment rule")
def create_assignment_rule(request: HttpRequest, payload: AssignmentRuleIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    rule = services.assignment_rule_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, assignment_rule_out(rule))


@router.get("/assignment-rules/{assignment_rule_id}", response=AssignmentRuleOut, summary="Get an assignment rule")
def get_assignment_rule(request: HttpRequest, assignment_rule_id: str) -> dict[str, Any]:
    return assignment_rule_out(access_assignment_rule(actor_of(request), assignment_rule_id))


@router.patch("/assignment-rules/{assignment_rule_id}", response=AssignmentRuleOut, summary="Change an assignment rule")
def update_assignment_rule(request: HttpRequest, assignment_rule_id: str, payload: AssignmentRuleIn) -> dict[str, Any]:
    actor = actor_of(request)
    rule = access_assignment_rule(actor, assignment_rule_id, write=True)
    rule = services.assignment_rule_update(actor=actor, rule=rule, data=payload.model_dump(exclude_unset=True))
    return assignment_rule_out(rule)


@router.delete("/assignment-rules/{assignment_rule_id}", response={204: None}, summary="Delete an assignment rule")
def delete_assignment_rule(request: HttpRequest, assignment_rule_id: str) -> HttpResponse:
    """Leads it assigned keep their owner; they only forget the rule."""
    actor = actor_of(request)
    actor.require("lead_rule.delete")
    services.assignment_rule_delete(actor=actor, rule=access_assignment_rule(actor, assignment_rule_id))
    return HttpResponse(status=204)


# Reps' capacities ------------------------------------------------------------------------


@router.get("/rep-capacities", response=RepCapacityPage, summary="List the caps and absences set for reps")
def list_rep_capacities(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Members without an entry have no cap and are never away."""
    rows, next_cursor = paginate(rep_capacity_list(actor_of(request)), cursor=cursor, limit=limit)
    return {"items": [rep_capacity_out(row.user_id, row) for row in rows], "next": next_cursor}


@router.put("/rep-capacities/{user_id}", response=RepCapacityOut, summary="Set a rep's cap of open leads and absence")
def set_rep_capacity(request: HttpRequest, user_id: str, payload: RepCapacityIn) -> dict[str, Any]:
    """The whole entry is replaced: a field left out is cleared. Away reps and reps at their cap get no new leads."""
    actor = actor_of(request)
    member = access_rep(actor, user_id, write=True)
    capacity = services.rep_capacity_set(actor=actor, user_id=member.user_id, data=payload.model_dump())
    return rep_capacity_out(member.user_id, capacity)


@router.get("/rep-capacities/{user_id}", response=RepCapacityOut, summary="Get a rep's cap of open leads and absence")
def get_rep_capacity(request: HttpRequest, user_id: str) -> dict[str, Any]:
    member = access_rep(actor_of(request), user_id)
    return rep_capacity_out(member.user_id, rep_capacity_of(member.user_id))
