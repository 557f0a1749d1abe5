"""Lead scoring and lead assignment by the organisation's rules.

Every score lists which rules gave how many points; every assignment names its rule and
why that rep. Scoring is profiling: a person whose processing is restricted, or who objected
to profiling, is not scored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.accounts.models import Membership
from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Activity, AssignmentRule, CustomField, Lead, RepCapacity, ScoringRule
from custos.crm.search import reindex
from custos.crm.services.custom_fields import parse_number
from custos.privacy.models import Subject
from custos.privacy.services.restriction import without_restricted

OPEN_LEAD_STATUSES = (Lead.Status.NEW, Lead.Status.CONTACTED, Lead.Status.QUALIFIED)
# Lead fields a rule may look at: never notes, never special-category data.
SCORABLE_FIELDS = ("country", "postcode", "city", "company_name", "job_title", "source", "interest", "email")
CUSTOM_PREFIX = "custom:"
FIELD_CONDITIONS = (
    ScoringRule.Condition.FIELD_EQUALS,
    ScoringRule.Condition.FIELD_CONTAINS,
    ScoringRule.Condition.FIELD_AT_LEAST,
)
NUMBER_KINDS = (CustomField.Kind.NUMBER, CustomField.Kind.MONEY)
SCORING_FIELDS = ("name", "condition", "field", "value", "days", "points", "is_active")
ASSIGNMENT_FIELDS = (
    "name",
    "reps",
    "countries",
    "postcode_prefixes",
    "sources",
    "interest_contains",
    "reassign_after_hours",
    "is_active",
)


def _reject_unknown(cleaner: Cleaner, data: Mapping[str, Any], known: Sequence[str]) -> None:
    for name in data:
        if name not in known:
            cleaner.fail(name, _("Unknown field."))


def _clean_flag(cleaner: Cleaner, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        cleaner.fail(name, _("Use true or false."))
        return True
    return value


# Scoring ----------------------------------------------------------------------------------


NEW_SCORING_RULE = {"name": "", "condition": "", "field": "", "value": "", "days": 7, "points": None, "is_active": True}


def _clean_scoring(data: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The rule after the change, checked as a whole; raises with every problem at once."""
    cleaner = Cleaner()
    _reject_unknown(cleaner, data, SCORING_FIELDS)
    merged = dict(current) | dict(data)
    cleaned: dict[str, Any] = {
        "name": cleaner.text("name", merged["name"], max_length=100, required=True),
        "condition": cleaner.choice("condition", merged["condition"], ScoringRule.Condition.values),
        "points": cleaner.integer("points", merged["points"], minimum=-1000, maximum=1000, required=True),
        "days": cleaner.integer("days", merged["days"], minimum=1, maximum=365) or 7,
        "is_active": _clean_flag(cleaner, "is_active", merged["is_active"]),
        "field": "",
        "value": "",
    }
    condition = cleaned["condition"]
    if condition in FIELD_CONDITIONS:
        field = merged["field"] if isinstance(merged["field"], str) else ""
        custom_key = field.removeprefix(CUSTOM_PREFIX) if field.startswith(CUSTOM_PREFIX) else None
        if custom_key is not None:
            _check_custom_field(cleaner, custom_key, condition)
        else:
            field = cleaner.choice("field", field, SCORABLE_FIELDS)
        cleaned["field"] = field
        cleaned["value"] = cleaner.text("value", merged["value"], max_length=200, required=True)
        if condition == ScoringRule.Condition.FIELD_AT_LEAST and parse_number(cleaned["value"]) is None:
            cleaner.fail("value", _("Enter a number."))
    elif condition == ScoringRule.Condition.TAG:
        cleaned["value"] = cleaner.text("value", merged["value"], max_length=50, required=True)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _check_custom_field(cleaner: Cleaner, key: str, condition: str) -> None:
    definition = CustomField.objects.filter(object_type="lead", key=key).first()
    if definition is None:
        cleaner.fail("field", _("Leads have no custom field with this key."))
    elif definition.is_special:
        cleaner.fail("field", _("Special-category data is never used for scoring."))
    elif condition == ScoringRule.Condition.FIELD_AT_LEAST and definition.kind not in NUMBER_KINDS:
        cleaner.fail("field", _("Compare numbers only: choose a number or an amount field."))


def scoring_rule_create(*, actor: Actor, data: Mapping[str, Any]) -> ScoringRule:
    actor.require("lead_rule.add")
    cleaned = _clean_scoring(data, NEW_SCORING_RULE)
    with transaction.atomic():
        rule = ScoringRule.objects.create(**cleaned, position=ScoringRule.objects.count())
        audit_record(actor=actor, action="scoring_rule.create", object_type="scoring_rule", object_id=rule.pk)
        rescore_all()
    return rule


def scoring_rule_update(*, actor: Actor, rule: ScoringRule, data: Mapping[str, Any]) -> ScoringRule:
    actor.require("lead_rule.change")
    cleaned = _clean_scoring(data, {name: getattr(rule, name) for name in SCORING_FIELDS})
    changed = sorted(name for name, value in cleaned.items() if getattr(rule, name) != value)
    if not changed:
        return rule
    with transaction.atomic():
        for name in changed:
            setattr(rule, name, cleaned[name])
        rule.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="scoring_rule.update",
            object_type="scoring_rule",
            object_id=rule.pk,
            fields=changed,
        )
        rescore_all()
    return rule


def scoring_rule_delete(*, actor: Actor, rule: ScoringRule) -> None:
    actor.require("lead_rule.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="scoring_rule.delete", object_type="scoring_rule", object_id=rule.pk)
        rule.delete()
        rescore_all()


def _value_of(lead: Lead, field: str) -> Any:
    if field.startswith(CUSTOM_PREFIX):
        return lead.custom_fields.get(field.removeprefix(CUSTOM_PREFIX))
    return getattr(lead, field, None) if field in SCORABLE_FIELDS else None


def _matches(rule: ScoringRule, lead: Lead, last_activity: datetime | None, now: datetime) -> bool:
    wanted = rule.value.strip().lower()
    match rule.condition:
        case ScoringRule.Condition.FIELD_EQUALS:
            return str(_value_of(lead, rule.field) or "").strip().lower() == wanted
        case ScoringRule.Condition.FIELD_CONTAINS:
            return wanted in str(_value_of(lead, rule.field) or "").lower()
        case ScoringRule.Condition.FIELD_AT_LEAST:
            value, threshold = _value_of(lead, rule.field), parse_number(rule.value)
            number = parse_number(value)
            return number is not None and threshold is not None and number >= threshold
        case ScoringRule.Condition.TAG:
            return wanted in {tag.lower() for tag in lead.tags}
        case ScoringRule.Condition.RECENT_ACTIVITY:
            return last_activity is not None and last_activity >= now - timedelta(days=rule.days)
        case ScoringRule.Condition.CAME_FROM_FORM:
            return lead.source == Lead.Source.WEB_FORM
    return False


def score(
    lead: Lead, rules: Sequence[ScoringRule], *, last_activity: datetime | None = None, now: datetime | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """The lead's score and its reasons: each matching rule with its points."""
    now = now or timezone.now()
    reasons: list[dict[str, Any]] = [
        {"rule": str(rule.pk), "name": rule.name, "points": rule.points}
        for rule in rules
        if rule.is_active and _matches(rule, lead, last_activity, now)
    ]
    return sum(reason["points"] for reason in reasons), reasons


def rescore(leads: Iterable[Lead], now: datetime | None = None) -> None:
    """Recompute and store these leads' scores; called whenever they or their activities change.
    A closed lead keeps the score it closed with, unless its person is restricted or objected
    to profiling: that score is a profile of them too, and goes."""
    leads = list(leads)
    if not leads:
        return
    rules = list(ScoringRule.objects.filter(is_active=True))
    last_activity = dict(
        Activity.objects.filter(lead__in=leads)
        .values("lead")
        .annotate(last=Max("occurred_at"))
        .values_list("lead", "last")
    )
    restricted = set(
        Subject.objects.filter(pk__in={lead.subject_id for lead in leads})
        .filter(~Q(state=Subject.State.ACTIVE) | Q(objected_to_profiling_at__isnull=False))
        .values_list("pk", flat=True)
    )
    for lead in leads:
        reasons: list[dict[str, Any]]
        if lead.subject_id in restricted:
            value, reasons = 0, []  # no profiling of a person who is restricted or objected to it
        elif lead.status not in OPEN_LEAD_STATUSES:
            continue
        else:
            value, reasons = score(lead, rules, last_activity=last_activity.get(lead.pk), now=now)
        if (value, reasons) != (lead.score, lead.score_reasons):
            lead.score, lead.score_reasons = value, reasons
            Lead.objects.filter(pk=lead.pk).update(score=value, score_reasons=reasons)


def rescore_lapsed(now: datetime | None = None) -> int:
    """Leads whose recent activity stopped being recent since the last run (a rule's days
    passed without a new one): their points for it go. The periodic job runs four times a
    day; two days of overlap make a missed run harmless. Returns how many were looked at."""
    now = now or timezone.now()
    rules = ScoringRule.objects.filter(is_active=True, condition=ScoringRule.Condition.RECENT_ACTIVITY)
    lapsed = Q(pk__in=[])
    for days in set(rules.values_list("days", flat=True)):
        since = now - timedelta(days=days)
        in_window = Activity.objects.filter(
            lead=OuterRef("pk"), occurred_at__lt=since, occurred_at__gte=since - timedelta(days=2)
        )
        lapsed |= Q(Exists(in_window))  # per lead through its timeline index (org, lead, occurred_at)
    # Only leads holding points can lose them.
    leads = list(Lead.objects.filter(status__in=OPEN_LEAD_STATUSES, score__gt=0).filter(lapsed))
    rescore(leads, now)
    return len(leads)


def rescore_subject(subject: Subject) -> None:
    """The person's leads, after a restriction or an objection to profiling (or its end)."""
    rescore(Lead.objects.filter(subject=subject))


def rescore_all(batch_size: int = 500) -> int:
    """Every open lead of the organisation in scope, after its rules changed."""
    count, batch = 0, []
    for lead in Lead.objects.filter(status__in=OPEN_LEAD_STATUSES).iterator(chunk_size=batch_size):
        batch.append(lead)
        if len(batch) == batch_size:
            rescore(batch)
            count, batch = count + len(batch), []
    rescore(batch)
    return count + len(batch)


# Assignment -------------------------------------------------------------------------------


def _clean_assignment(actor: Actor, data: Mapping[str, Any], rule: AssignmentRule) -> dict[str, Any]:
    cleaner = Cleaner()
    _reject_unknown(cleaner, data, ASSIGNMENT_FIELDS)
    current = {name: getattr(rule, name) for name in ASSIGNMENT_FIELDS if name != "reps"}
    merged = current | {"reps": [str(pk) for pk in rule.reps.values_list("pk", flat=True)] if rule.pk else []}
    merged |= dict(data)

    def strings(name: str) -> list[str]:
        value = merged[name]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or len(value) > 200:
            cleaner.fail(name, _("Enter a list of texts."))
            return []
        return value

    cleaned: dict[str, Any] = {
        "name": cleaner.text("name", merged["name"], max_length=100, required=True),
        "countries": sorted({cleaner.country("countries", c) for c in strings("countries")} - {""}),
        "postcode_prefixes": [
            p for p in (cleaner.text("postcode_prefixes", p, max_length=10) for p in strings("postcode_prefixes")) if p
        ],
        "sources": [cleaner.choice("sources", s, Lead.Source.values) for s in strings("sources")],
        "interest_contains": cleaner.text("interest_contains", merged["interest_contains"], max_length=100),
        "reassign_after_hours": cleaner.integer(
            "reassign_after_hours", merged["reassign_after_hours"], minimum=1, maximum=24 * 90
        ),
        "is_active": _clean_flag(cleaner, "is_active", merged["is_active"]),
    }
    asked = set(strings("reps"))
    memberships = Membership.objects.filter(org_id=actor.org_id, is_active=True).select_related("role")
    members = {str(m.user_id): m for m in memberships}
    if not asked or not asked <= members.keys():
        cleaner.fail("reps", _("Choose one or more members of this organisation."))
    elif not all(_works_leads(members[rep]) for rep in asked):
        cleaner.fail("reps", _("Choose members whose role may work on leads."))
    cleaned["reps"] = sorted(asked & members.keys())
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _save_assignment(actor: Actor, rule: AssignmentRule, cleaned: dict[str, Any], action: str) -> AssignmentRule:
    reps = cleaned.pop("reps")
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(rule, name, value)
        if rule.pk is None:
            rule.position = AssignmentRule.objects.count()
        rule.save()
        rule.reps.set(reps)
        audit_record(actor=actor, action=action, object_type="assignment_rule", object_id=rule.pk)
    return rule


def assignment_rule_create(*, actor: Actor, data: Mapping[str, Any]) -> AssignmentRule:
    actor.require("lead_rule.add")
    rule = AssignmentRule(name="", is_active=True)
    return _save_assignment(actor, rule, _clean_assignment(actor, data, rule), "assignment_rule.create")


def assignment_rule_update(*, actor: Actor, rule: AssignmentRule, data: Mapping[str, Any]) -> AssignmentRule:
    actor.require("lead_rule.change")
    return _save_assignment(actor, rule, _clean_assignment(actor, data, rule), "assignment_rule.update")


def assignment_rule_delete(*, actor: Actor, rule: AssignmentRule) -> None:
    """Leads it assigned keep their owner; they only forget the rule."""
    actor.require("lead_rule.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="assignment_rule.delete", object_type="assignment_rule", object_id=rule.pk)
        rule.delete()


def rep_capacity_set(*, actor: Actor, user_id: uuid.UUID, data: Mapping[str, Any]) -> RepCapacity:
    """A rep's cap of open leads and their absence; absent reps get no new leads."""
    actor.require("lead_rule.change")
    cleaner = Cleaner()
    _reject_unknown(cleaner, data, ("max_open_leads", "away_from", "away_until"))
    if not Membership.objects.filter(org_id=actor.org_id, user_id=user_id, is_active=True).exists():
        cleaner.fail("user", _("Choose a member of this organisation."))
    cap = cleaner.integer("max_open_leads", data.get("max_open_leads"), minimum=0, maximum=100000)
    failures = len(cleaner.errors)
    away_from = cleaner.date("away_from", data.get("away_from"))
    away_until = cleaner.date("away_until", data.get("away_until"))
    if len(cleaner.errors) > failures:
        pass  # a date that is not one says so; "give both" would only confuse
    elif (away_from is None) != (away_until is None):
        cleaner.fail("away_until", _("Give both the first and the last day away."))
    elif away_from is not None and away_until is not None and away_until < away_from:
        cleaner.fail("away_until", _("The last day away cannot be before the first."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    cleaned = {"max_open_leads": cap, "away_from": away_from, "away_until": away_until}
    with transaction.atomic():
        capacity, _created = RepCapacity.objects.update_or_create(user_id=user_id, defaults=cleaned)
        audit_record(actor=actor, action="rep_capacity.set", object_type="member", object_id=user_id)
    return capacity


@dataclass(frozen=True)
class Assignment:
    rule: AssignmentRule
    user_id: uuid.UUID


def _rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    postcode = lead.postcode.replace(" ", "").upper()
    return (
        (not rule.countries or lead.country in rule.countries)
        and (
            not rule.postcode_prefixes
            or any(postcode.startswith(p.replace(" ", "").upper()) for p in rule.postcode_prefixes)
        )
        and (not rule.sources or lead.source in rule.sources)
        and (not rule.interest_contains or rule.interest_contains.lower() in lead.interest.lower())
    )


def _works_leads(membership: Membership) -> bool:
    return "lead.change" in membership.role.permissions


def _eligible(rule: AssignmentRule, *, exclude: uuid.UUID | None) -> list[uuid.UUID]:
    """The rule's reps who are still members, not away, and under their cap of open leads."""
    members = Membership.objects.filter(org_id=rule.org_id, is_active=True, user__in=rule.reps.all())
    if exclude is not None:
        members = members.exclude(user_id=exclude)
    # A rep whose role was made read-only since could not work the lead: it would sit there.
    reps = sorted((m.user_id for m in members.select_related("role") if _works_leads(m)), key=str)
    capacities = {c.user_id: c for c in RepCapacity.objects.filter(user_id__in=reps)}
    open_leads = dict(
        Lead.objects.filter(owner_id__in=reps, status__in=OPEN_LEAD_STATUSES)
        .values("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )

    def free(user_id: uuid.UUID) -> bool:
        capacity = capacities.get(user_id)
        if capacity is None:
            return True
        full = capacity.max_open_leads is not None and open_leads.get(user_id, 0) >= capacity.max_open_leads
        return not capacity.is_away() and not full

    return [user_id for user_id in reps if free(user_id)]


def choose_assignee(lead: Lead, *, exclude: uuid.UUID | None = None) -> Assignment | None:
    """The first matching rule with a free rep; round robin after whoever got its last lead."""
    for rule in AssignmentRule.objects.filter(is_active=True):
        if not _rule_matches(rule, lead):
            continue
        eligible = _eligible(rule, exclude=exclude)
        if eligible:
            last = str(rule.last_assigned_id or "")
            after = [user_id for user_id in eligible if str(user_id) > last]
            return Assignment(rule=rule, user_id=(after or eligible)[0])
    return None


def lead_assign(
    *,
    actor: Actor,
    lead: Lead,
    exclude: uuid.UUID | None = None,
    because: str = Lead.AssignedBecause.NEXT_IN_TURN,
    now: datetime | None = None,
) -> Assignment | None:
    """Give the lead to a rep by the rules; audited with the rule, the rep and the reason."""
    with transaction.atomic():
        # One assignment at a time per organisation, so round robin never hands out a turn twice.
        rules = list(AssignmentRule.objects.select_for_update().filter(is_active=True).values_list("pk", flat=True))
        if not rules:
            return None
        assignment = choose_assignee(lead, exclude=exclude)
        if assignment is None:
            return None
        lead.owner_id = assignment.user_id
        lead.assigned_at = now or timezone.now()
        lead.assignment_rule = assignment.rule
        lead.assigned_because = because
        lead.save(update_fields=["owner", "assigned_at", "assignment_rule", "assigned_because"])
        reindex(lead)  # its entries carry the owner, which record scopes search by
        AssignmentRule.objects.filter(pk=assignment.rule.pk).update(last_assigned_id=assignment.user_id)
        audit_record(
            actor=actor,
            action="lead.assign",
            object_type="lead",
            object_id=lead.pk,
            extra={"rule": str(assignment.rule.pk), "owner": str(assignment.user_id), "because": because},
        )
    return assignment


def reassign_untouched(*, org_id: uuid.UUID, now: datetime | None = None) -> int:
    """Leads still new, untouched since their rule assigned them past its limit, go to the next rep."""
    now = now or timezone.now()
    moved = 0
    for rule in AssignmentRule.objects.filter(is_active=True, reassign_after_hours__isnull=False):
        cutoff = now - timedelta(hours=rule.reassign_after_hours or 0)
        stale = without_restricted(  # automation leaves a restricted person's leads alone
            Lead.objects.filter(
                assignment_rule=rule,
                status=Lead.Status.NEW,
                assigned_at__lt=cutoff,
                updated_at__lte=F("assigned_at"),
            )
            .exclude(Q(activities__created_at__gte=F("assigned_at")))
            .distinct()
        )
        for lead in stale:
            if lead_assign(
                actor=Actor.system(org_id),
                lead=lead,
                exclude=lead.owner_id,
                because=Lead.AssignedBecause.UNTOUCHED,
                now=now,
            ):
                moved += 1
    return moved
