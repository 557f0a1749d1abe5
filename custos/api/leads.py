"""/leads: create, read, change, delete, and convert into contact, company and deal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool

from custos.api.rendering import (
    FILTERS_DOC,
    AddressIn,
    AddressOut,
    actor_of,
    address_of,
    choice_filter,
    list_filters,
    moment,
    reference,
    visible,
    wants_special,
)
from custos.core.actor import Actor
from custos.core.errors import FieldError, ValidationFailed
from custos.core.pagination import paginate
from custos.crm.models import Lead
from custos.crm.selectors.filters import list_order
from custos.crm.selectors.leads import access_lead, lead_list
from custos.crm.services import leads as services
from custos.crm.services.custom_fields import read_special

router = Router(tags=["crm"])


class LeadIn(AddressIn):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company_name: str | None = None
    job_title: str | None = None
    status: str | None = Field(None, description="new, contacted, qualified or disqualified (with a reason).")
    disqualified_reason: str | None = None
    source: str | None = Field(
        None, description="manual, web_form, import, api, referral, event or other; `api` when not given."
    )
    interest: str | None = None
    owner: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    notes: str | None = None


class ScoreReasonOut(Schema):
    rule: str
    name: str
    points: int


class LeadOut(AddressOut):
    id: str
    subject: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company_name: str | None
    job_title: str | None
    status: str | None
    disqualified_reason: str | None
    source: str | None
    interest: str | None
    owner: str | None
    score: int | None = Field(description="The sum of the points of the scoring rules the lead meets.")
    score_reasons: list[ScoreReasonOut] | None = Field(
        description="Each rule that gave points: its id, its name and the points, so every score can be explained."
    )
    assignment_rule: str | None = Field(description="The assignment rule that gave the lead to its owner, if one did.")
    assigned_because: str | None = Field(
        description="Why the rule chose the owner: next_in_turn, or untouched (reassigned after the rule's limit)."
    )
    assigned_at: datetime | None
    tags: list[str] | None
    custom_fields: dict[str, Any] | None
    notes: str | None
    converted_at: datetime | None
    converted_contact: str | None
    converted_deal: str | None
    created_at: datetime
    updated_at: datetime


class LeadPage(Schema):
    items: list[LeadOut]
    next: str | None


class ConvertIn(Schema):
    model_config = ConfigDict(extra="forbid")

    create_deal: StrictBool = True
    deal_name: str | None = Field(None, description="The deal's name; the lead's company or name when not given.")
    amount: Decimal | None = Field(None, description='Text with at most two decimals, e.g. "1250.50".')
    currency: str | None = None
    pipeline: str | None = Field(None, description="The default pipeline when not given.")
    stage: str | None = Field(None, description="The pipeline's first open stage when not given.")
    expected_close: str | None = Field(None, description="A date, e.g. 2026-11-22.")


class ConversionOut(Schema):
    contact: str
    company: str | None
    deal: str | None
    lead: LeadOut


DEAL_FIELDS = ("amount", "currency", "pipeline", "stage", "expected_close")


def lead_out(actor: Actor, lead: Lead) -> dict[str, Any]:
    data = {
        "id": str(lead.pk),
        "subject": str(lead.subject_id),
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone": lead.phone,
        "company_name": lead.company_name,
        "job_title": lead.job_title,
        "status": lead.status,
        "disqualified_reason": lead.disqualified_reason,
        "source": lead.source,
        "interest": lead.interest,
        "owner": reference(lead.owner_id),
        "score": lead.score,
        "score_reasons": lead.score_reasons,
        "assignment_rule": reference(lead.assignment_rule_id),
        "assigned_because": lead.assigned_because,
        "assigned_at": moment(lead.assigned_at),
        "tags": lead.tags,
        "custom_fields": dict(lead.custom_fields),
        "notes": lead.notes,
        **address_of(lead),
        "converted_at": moment(lead.converted_at),
        "converted_contact": reference(lead.converted_contact_id),
        "converted_deal": reference(lead.converted_deal_id),
        "created_at": moment(lead.created_at),
        "updated_at": moment(lead.updated_at),
    }
    return visible(actor, "lead", data, always=("id", "subject", "created_at", "updated_at"))


@router.get("/leads", response=LeadPage, summary="List leads", description=FILTERS_DOC)
def list_leads(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    q: str = "",
    status: str = "",
    tag: str = "",
    owner: str = "",
    country: str = "",
    consent: str = "",
    order: str = "",
) -> dict[str, Any]:
    actor = actor_of(request)
    status = choice_filter("status", status, Lead.Status.values)
    filters = list_filters(request, tag=tag, owner=owner, country=country, consent=consent)
    leads = lead_list(actor, q=q, status=status, filters=filters)
    rows, next_cursor = paginate(leads, cursor=cursor, limit=limit, order=list_order("lead", order))
    return {"items": [lead_out(actor, lead) for lead in rows], "next": next_cursor}


@router.post("/leads", response={201: LeadOut}, summary="Create a lead")
def create_lead(request: HttpRequest, payload: LeadIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    data = payload.model_dump(exclude_unset=True)
    return Status(201, lead_out(actor, services.lead_create(actor=actor, data=data)))


@router.get("/leads/{lead_id}", response=LeadOut, summary="Get a lead")
def get_lead(request: HttpRequest, lead_id: str, include: str = "") -> dict[str, Any]:
    """`include=special` adds the values of special-category custom fields; the read is audited."""
    actor = actor_of(request)
    lead = access_lead(actor, lead_id)
    data = lead_out(actor, lead)
    if wants_special(include) and data["custom_fields"] is not None:
        data["custom_fields"] |= read_special(actor=actor, record=lead, object_type="lead")["custom_fields"]
    return data


@router.patch("/leads/{lead_id}", response=LeadOut, summary="Change some fields of a lead")
def update_lead(request: HttpRequest, lead_id: str, payload: LeadIn) -> dict[str, Any]:
    actor = actor_of(request)
    lead = access_lead(actor, lead_id, write=True)
    return lead_out(actor, services.lead_update(actor=actor, lead=lead, data=payload.model_dump(exclude_unset=True)))


@router.delete("/leads/{lead_id}", response={204: None}, summary="Delete a lead")
def delete_lead(request: HttpRequest, lead_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("lead.delete")
    services.lead_delete(actor=actor, lead=access_lead(actor, lead_id))
    return HttpResponse(status=204)


@router.post(
    "/leads/{lead_id}/convert",
    response=ConversionOut,
    summary="Convert a lead into a contact, its company and (unless told not to) a deal, in one step",
)
def convert_lead(request: HttpRequest, lead_id: str, payload: ConvertIn) -> dict[str, Any]:
    """The contact keeps the lead's data subject; the lead's activities move to the contact."""
    actor = actor_of(request)
    lead = access_lead(actor, lead_id, write=True)
    given = payload.model_dump(exclude_unset=True)
    deal_data = {name: given[name] for name in DEAL_FIELDS if name in given}
    if not payload.create_deal:
        stray = [name for name in ("deal_name", *DEAL_FIELDS) if given.get(name) not in (None, "")]
        if stray:
            raise ValidationFailed([FieldError(name, _("Leave this out when no deal is created.")) for name in stray])
    try:
        conversion = services.lead_convert(
            actor=actor,
            lead=lead,
            deal_name=payload.deal_name or "",
            create_deal=payload.create_deal,
            deal_data=deal_data,
        )
    except ValidationFailed as failed:
        # The deal's name is `deal_name` in this body.
        failed.errors = [FieldError("deal_name", e.message, e.index) if e.field == "name" else e for e in failed.errors]
        raise
    return {
        "contact": str(conversion.contact.pk),
        "company": reference(conversion.company.pk if conversion.company else None),
        "deal": reference(conversion.deal.pk if conversion.deal else None),
        "lead": lead_out(actor, lead),
    }
