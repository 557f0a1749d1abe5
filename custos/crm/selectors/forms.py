"""Reads of the organisation's web-to-lead forms and what they received."""

from __future__ import annotations

from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.crm.models import Lead, LeadForm, LeadFormSubmission
from custos.crm.selectors.records import scoped


def access_lead_form(actor: Actor, form_id: Any, *, write: bool = False) -> LeadForm:
    """The web form of the actor's organisation; NotFound for missing and foreign alike."""
    actor.require("lead_rule.change" if write else "lead_rule.view")
    return get_or_not_found(LeadForm.objects.prefetch_related("purposes"), pk=form_id)


def lead_form_list(actor: Actor) -> models.QuerySet[LeadForm]:
    actor.require("lead_rule.view")
    return LeadForm.objects.annotate(submission_count=models.Count("submissions"))


def lead_form_submissions(actor: Actor, form: LeadForm, *, limit: int = 200) -> list[LeadFormSubmission]:
    """The form's latest submissions whose leads the actor may see (record scope applies)."""
    actor.require("lead.view")

    visible = scoped(actor, Lead.objects.all()).values("pk")
    return list(
        LeadFormSubmission.objects.filter(form=form, lead__in=visible)
        .select_related("lead")
        .order_by("-submitted_at")[:limit]
    )
