"""/lead-forms: the organisation's web-to-lead forms, as the builder at /settings/web-forms/ keeps them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool

from custos.api.rendering import actor_of, moment
from custos.core.pagination import paginate
from custos.crm.models import LeadForm
from custos.crm.models.forms import ASKABLE_FIELDS
from custos.crm.selectors.forms import access_lead_form, lead_form_list
from custos.crm.services import forms as services
from custos.search.text import query

router = Router(tags=["lead forms"])


class AskedFieldIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=f"One of: {', '.join(ASKABLE_FIELDS)}.")
    required: StrictBool = False


class LeadFormIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="Required; staff see it, visitors do not.")
    fields: list[AskedFieldIn] | None = Field(
        None, description="Required: the lead fields asked, at least one; shown in one fixed order."
    )
    purposes: list[str] | None = Field(
        None,
        description=(
            "Ids of active purposes, one consent checkbox each; a marketing purpose needs a required "
            "`email` field and is confirmed by an emailed link (double opt-in)."
        ),
    )
    thank_you: dict[str, str] | None = Field(
        None, description='The text after a submission, per language: {"en": "…"}.'
    )
    tags: list[str] | None = Field(None, description="Tags every lead from this form gets.")
    is_active: StrictBool | None = Field(None, description="Inactive forms answer visitors 404; true when not given.")


class AskedFieldOut(Schema):
    name: str
    required: bool


class LeadFormOut(Schema):
    id: str
    name: str
    fields: list[AskedFieldOut]
    purposes: list[str]
    thank_you: dict[str, str]
    tags: list[str]
    is_active: bool
    hosted_url: str = Field(description="The hosted page; embed it in an iframe to put the form on a website.")
    submission_count: int
    created_at: datetime | None


class LeadFormPage(Schema):
    items: list[LeadFormOut]
    next: str | None


def lead_form_out(form: LeadForm, submission_count: int | None = None) -> dict[str, Any]:
    if submission_count is None:
        submission_count = getattr(form, "submission_count", None)
        if submission_count is None:
            submission_count = form.submissions.count()
    return {
        "id": str(form.pk),
        "name": form.name,
        "fields": [{"name": item["name"], "required": bool(item.get("required"))} for item in form.fields],
        "purposes": sorted(str(purpose.pk) for purpose in form.purposes.all()),
        "thank_you": dict(form.thank_you),
        "tags": list(form.tags),
        "is_active": form.is_active,
        "hosted_url": settings.CUSTOS_BASE_URL + reverse("web:lead-form-public", args=[form.public_key]),
        "submission_count": submission_count,
        "created_at": moment(form.created_at),
    }


def _data(payload: LeadFormIn) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


@router.get("/lead-forms", response=LeadFormPage, summary="List web-to-lead forms")
def list_lead_forms(
    request: HttpRequest, cursor: str | None = None, limit: int | None = None, q: str = ""
) -> dict[str, Any]:
    """`q` finds forms whose name contains it (any case)."""
    forms = lead_form_list(actor_of(request)).prefetch_related("purposes")
    if text := query(q):
        forms = forms.filter(name__icontains=text)
    rows, next_cursor = paginate(forms, cursor=cursor, limit=limit)
    return {"items": [lead_form_out(form) for form in rows], "next": next_cursor}


@router.post("/lead-forms", response={201: LeadFormOut}, summary="Create a web-to-lead form")
def create_lead_form(request: HttpRequest, payload: LeadFormIn) -> Status[dict[str, Any]]:
    form = services.lead_form_create(actor=actor_of(request), data=_data(payload))
    return Status(201, lead_form_out(form, submission_count=0))


@router.get("/lead-forms/{lead_form_id}", response=LeadFormOut, summary="Get a web-to-lead form")
def get_lead_form(request: HttpRequest, lead_form_id: str) -> dict[str, Any]:
    return lead_form_out(access_lead_form(actor_of(request), lead_form_id))


@router.patch("/lead-forms/{lead_form_id}", response=LeadFormOut, summary="Change some settings of a web form")
def update_lead_form(request: HttpRequest, lead_form_id: str, payload: LeadFormIn) -> dict[str, Any]:
    actor = actor_of(request)
    form = access_lead_form(actor, lead_form_id, write=True)
    return lead_form_out(services.lead_form_update(actor=actor, form=form, data=_data(payload)))


@router.delete("/lead-forms/{lead_form_id}", response={204: None}, summary="Delete a web-to-lead form")
def delete_lead_form(request: HttpRequest, lead_form_id: str) -> HttpResponse:
    """Its leads and their consent proof stay; the hosted page answers 404 from now on."""
    actor = actor_of(request)
    services.lead_form_delete(actor=actor, form=access_lead_form(actor, lead_form_id, write=True))
    return HttpResponse(status=204)
