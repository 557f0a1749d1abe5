"""Reads of the organisation's lead rules: scoring rules, assignment rules, reps' capacities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import Count

from custos.accounts.models import Membership
from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.crm.models import AssignmentRule, Lead, RepCapacity, ScoringRule
from custos.crm.services.rules import OPEN_LEAD_STATUSES


def access_scoring_rule(actor: Actor, rule_id: Any, *, write: bool = False) -> ScoringRule:
    """The scoring rule of the actor's organisation; NotFound for missing and foreign alike."""
    actor.require("lead_rule.change" if write else "lead_rule.view")
    return get_or_not_found(ScoringRule.objects.all(), pk=rule_id)


def access_assignment_rule(actor: Actor, rule_id: Any, *, write: bool = False) -> AssignmentRule:
    actor.require("lead_rule.change" if write else "lead_rule.view")
    return get_or_not_found(AssignmentRule.objects.prefetch_related("reps"), pk=rule_id)


def access_rep(actor: Actor, user_id: Any, *, write: bool = False) -> Membership:
    """An active member of the actor's organisation, by user id, whose capacity may be read or set."""
    actor.require("lead_rule.change" if write else "lead_rule.view")
    return get_or_not_found(
        Membership.objects.select_related("user").filter(org_id=actor.org_id, is_active=True), user_id=user_id
    )


def scoring_rule_list(actor: Actor) -> models.QuerySet[ScoringRule]:
    actor.require("lead_rule.view")
    return ScoringRule.objects.all()


def assignment_rule_list(actor: Actor) -> models.QuerySet[AssignmentRule]:
    actor.require("lead_rule.view")
    return AssignmentRule.objects.prefetch_related("reps")


def rep_capacity_list(actor: Actor) -> models.QuerySet[RepCapacity]:
    """The capacities set for members who still belong to the organisation."""
    actor.require("lead_rule.view")
    members = Membership.objects.filter(org_id=actor.org_id, is_active=True).values("user_id")
    return RepCapacity.objects.filter(user_id__in=members)


def rep_capacity_of(user_id: uuid.UUID) -> RepCapacity | None:
    return RepCapacity.objects.filter(user_id=user_id).first()


@dataclass(frozen=True)
class Rep:
    """A member as the rules see them: their cap, their absence, and the open leads they hold."""

    user_id: uuid.UUID
    name: str
    capacity: RepCapacity | None
    open_leads: int

    @property
    def is_away(self) -> bool:
        return self.capacity is not None and self.capacity.is_away()

    @property
    def is_full(self) -> bool:
        cap = self.capacity.max_open_leads if self.capacity is not None else None
        return cap is not None and self.open_leads >= cap


def reps(actor: Actor) -> list[Rep]:
    """Every active member of the organisation, with what decides whether they get new leads."""
    actor.require("lead_rule.view")
    members = (
        Membership.objects.filter(org_id=actor.org_id, is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
    capacities = {c.user_id: c for c in RepCapacity.objects.all()}
    open_leads = dict(
        Lead.objects.filter(status__in=OPEN_LEAD_STATUSES, owner__isnull=False)
        .values("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )
    return [
        Rep(
            user_id=m.user_id,
            name=m.user.full_name or m.user.email,
            capacity=capacities.get(m.user_id),
            open_leads=open_leads.get(m.user_id, 0),
        )
        for m in members
    ]
