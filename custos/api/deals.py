"""/pipelines with their stages, and /deals moving through them (every move kept)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictInt

from custos.api.rendering import (
    FILTERS_DOC,
    actor_of,
    choice_filter,
    list_filters,
    moment,
    money,
    record_filter,
    reference,
    visible,
    wants_special,
)
from custos.core.actor import Actor
from custos.core.errors import NotFound, ValidationFailed
from custos.core.pagination import paginate
from custos.crm.models import Deal, Pipeline, Stage
from custos.crm.selectors.deals import (
    access_deal,
    access_pipeline,
    access_stage,
    deal_history,
    deal_list,
    pipeline_list,
)
from custos.crm.selectors.filters import list_order
from custos.crm.services import deals as services
from custos.crm.services.custom_fields import read_special

router = Router(tags=["crm"])


class StageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    probability: StrictInt | None = Field(None, description="Per cent, 0 to 100.")
    outcome: str | None = Field(None, description="open (the default), won or lost.")


class StageChangeIn(StageIn):
    position: StrictInt | None = Field(None, description="Where the stage stands in its pipeline, from 0.")


class PipelineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    stages: list[StageIn] | None = Field(None, description="In order; at least one open stage.")


class StageOut(Schema):
    id: str
    name: str
    position: int
    probability: int
    outcome: str


class PipelineOut(Schema):
    id: str
    name: str
    position: int
    is_default: bool
    stages: list[StageOut]


class PipelinePage(Schema):
    items: list[PipelineOut]
    next: str | None


class DealIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    pipeline: str | None = Field(None, description="The default pipeline when not given.")
    stage: str | None = Field(None, description="The pipeline's first open stage when not given; a change is a move.")
    amount: Decimal | None = Field(None, description='Text with at most two decimals, e.g. "1250.50".')
    currency: str | None = Field(None, description="ISO 4217, EUR when not given.")
    expected_close: str | None = Field(None, description="A date, e.g. 2026-11-22.")
    lost_reason: str | None = None
    owner: str | None = None
    company: str | None = None
    contact: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    notes: str | None = None


class MoveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    stage: str | None = Field(None, description="Required: a stage of the deal's pipeline.")
    lost_reason: str | None = Field(None, description="Required when the stage is a lost one.")


class StageChangeOut(Schema):
    from_stage: str | None = Field(
        description="null in the first entry (the deal's creation), or for a stage since deleted."
    )
    to_stage: str | None = Field(description="null for a stage since deleted.")
    changed_at: datetime
    changed_by: str | None


class DealOut(Schema):
    id: str
    name: str | None
    pipeline: str | None
    stage: str | None
    status: str | None
    amount: str | None = Field(description='Text with two decimals, e.g. "1250.50".')
    currency: str | None
    expected_close: date | None
    lost_reason: str | None
    closed_at: datetime | None
    owner: str | None
    company: str | None
    contact: str | None
    tags: list[str] | None
    custom_fields: dict[str, Any] | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class DealDetailOut(DealOut):
    history: list[StageChangeOut] | None = Field(description="Every move between stages, oldest first.")


class DealPage(Schema):
    items: list[DealOut]
    next: str | None


def stage_out(stage: Stage) -> dict[str, Any]:
    return {
        "id": str(stage.pk),
        "name": stage.name,
        "position": stage.position,
        "probability": stage.probability,
        "outcome": stage.outcome,
    }


def pipeline_out(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": str(pipeline.pk),
        "name": pipeline.name,
        "position": pipeline.position,
        "is_default": pipeline.is_default,
        "stages": [stage_out(stage) for stage in pipeline.stages.all()],
    }


def deal_out(actor: Actor, deal: Deal) -> dict[str, Any]:
    data = {
        "id": str(deal.pk),
        "name": deal.name,
        "pipeline": reference(deal.pipeline_id),
        "stage": reference(deal.stage_id),
        "status": deal.status,
        "amount": money(deal.amount),
        "currency": deal.currency,
        "expected_close": deal.expected_close,
        "lost_reason": deal.lost_reason,
        "closed_at": moment(deal.closed_at),
        "owner": reference(deal.owner_id),
        "company": reference(deal.company_id),
        "contact": reference(deal.contact_id),
        "tags": deal.tags,
        "custom_fields": dict(deal.custom_fields),
        "notes": deal.notes,
        "created_at": moment(deal.created_at),
        "updated_at": moment(deal.updated_at),
    }
    return visible(actor, "deal", data, always=("id", "created_at", "updated_at"))


def deal_detail_out(actor: Actor, deal: Deal) -> dict[str, Any]:
    """The deal with its moves; a role that may not see the stage sees no history either."""
    history = None
    if actor.may_see_field("deal", "stage"):
        history = [
            {
                "from_stage": reference(change.from_stage_id),
                "to_stage": reference(change.to_stage_id),
                "changed_at": moment(change.changed_at),
                "changed_by": reference(change.actor_user_id),
            }
            for change in deal_history(deal)
        ]
    return {**deal_out(actor, deal), "history": history}


# Pipelines -------------------------------------------------------------------------------


@router.get("/pipelines", response=PipelinePage, summary="List pipelines with their stages")
def list_pipelines(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """An organisation's first look at its pipelines creates the default one."""
    actor = actor_of(request)
    pipelines = pipeline_list(actor)
    services.pipeline_default(actor)
    rows, next_cursor = paginate(pipelines, cursor=cursor, limit=limit)
    return {"items": [pipeline_out(p) for p in rows], "next": next_cursor}


@router.post("/pipelines", response={201: PipelineOut}, summary="Create a pipeline with its stages")
def create_pipeline(request: HttpRequest, payload: PipelineIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    stages = [stage.model_dump(exclude_unset=True) for stage in payload.stages or []]
    pipeline = services.pipeline_create(actor=actor, name=payload.name or "", stages=stages)
    return Status(201, pipeline_out(pipeline))


@router.get("/pipelines/{pipeline_id}", response=PipelineOut, summary="Get a pipeline with its stages")
def get_pipeline(request: HttpRequest, pipeline_id: str) -> dict[str, Any]:
    return pipeline_out(access_pipeline(actor_of(request), pipeline_id))


@router.patch("/pipelines/{pipeline_id}/stages/{stage_id}", response=StageOut, summary="Change some fields of a stage")
def update_stage(request: HttpRequest, pipeline_id: str, stage_id: str, payload: StageChangeIn) -> dict[str, Any]:
    actor = actor_of(request)
    actor.require("pipeline.change")
    pipeline = access_pipeline(actor, pipeline_id)
    stage = access_stage(actor, stage_id)
    if stage.pipeline_id != pipeline.pk:
        raise NotFound()
    given = payload.model_dump(exclude_unset=True)
    stage = services.stage_update(
        actor=actor,
        stage=stage,
        name=given.get("name", stage.name),
        probability=given.get("probability", stage.probability),
        outcome=given.get("outcome", stage.outcome),
        position=given.get("position"),
    )
    return stage_out(stage)


# Deals -----------------------------------------------------------------------------------


@router.get("/deals", response=DealPage, summary="List deals", description=FILTERS_DOC)
def list_deals(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    q: str = "",
    pipeline: str | None = None,
    stage: str | None = None,
    status: str = "",
    tag: str = "",
    owner: str = "",
    company: str = "",
    order: str = "",
) -> dict[str, Any]:
    actor = actor_of(request)
    status = choice_filter("status", status, Deal.Status.values)
    ordering = list_order("deal", order)
    in_pipeline = record_filter(
        "pipeline", pipeline, lambda pk: access_pipeline(actor, pk), _("Choose an existing pipeline.")
    )
    in_stage = record_filter("stage", stage, lambda pk: access_stage(actor, pk), _("Choose an existing stage."))
    deals = deal_list(
        actor,
        q=q,
        pipeline_id=in_pipeline.pk if in_pipeline else None,
        stage_id=in_stage.pk if in_stage else None,
        status=status,
        filters=list_filters(request, tag=tag, owner=owner, company=company),
    )
    rows, next_cursor = paginate(deals, cursor=cursor, limit=limit, order=ordering)
    return {"items": [deal_out(actor, deal) for deal in rows], "next": next_cursor}


@router.post("/deals", response={201: DealDetailOut}, summary="Create a deal")
def create_deal(request: HttpRequest, payload: DealIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    deal = services.deal_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, deal_detail_out(actor, deal))


@router.get("/deals/{deal_id}", response=DealDetailOut, summary="Get a deal with its stage history")
def get_deal(request: HttpRequest, deal_id: str, include: str = "") -> dict[str, Any]:
    """`include=special` adds the values of special-category custom fields; the read is audited."""
    actor = actor_of(request)
    deal = access_deal(actor, deal_id)
    data = deal_detail_out(actor, deal)
    if wants_special(include) and data["custom_fields"] is not None:
        data["custom_fields"] |= read_special(actor=actor, record=deal, object_type="deal")["custom_fields"]
    return data


@router.patch("/deals/{deal_id}", response=DealDetailOut, summary="Change some fields of a deal")
def update_deal(request: HttpRequest, deal_id: str, payload: DealIn) -> dict[str, Any]:
    """A new `stage` moves the deal, as `POST …/move` does."""
    actor = actor_of(request)
    deal = access_deal(actor, deal_id, write=True)
    deal = services.deal_update(actor=actor, deal=deal, data=payload.model_dump(exclude_unset=True))
    return deal_detail_out(actor, deal)


@router.delete("/deals/{deal_id}", response={204: None}, summary="Delete a deal")
def delete_deal(request: HttpRequest, deal_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("deal.delete")
    services.deal_delete(actor=actor, deal=access_deal(actor, deal_id))
    return HttpResponse(status=204)


@router.post("/deals/{deal_id}/move", response=DealDetailOut, summary="Move a deal to another stage of its pipeline")
def move_deal(request: HttpRequest, deal_id: str, payload: MoveIn) -> dict[str, Any]:
    """A won or lost stage closes the deal (a lost one needs `lost_reason`); moving back reopens it."""
    actor = actor_of(request)
    deal = access_deal(actor, deal_id, write=True)
    # Checked here rather than by the schema, so a deal one may not see is 404 whatever the body.
    if not payload.stage:
        raise ValidationFailed.single("stage", _("This field is required."))
    try:
        stage = access_stage(actor, payload.stage)
    except NotFound:
        raise ValidationFailed.single("stage", _("Choose an existing stage.")) from None
    deal = services.deal_move(actor=actor, deal=deal, stage=stage, lost_reason=payload.lost_reason or "")
    return deal_detail_out(actor, deal)
