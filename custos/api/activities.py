"""/activities: notes, tasks, calls, logged emails and meetings on any record's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictInt

from custos.api.rendering import actor_of, choice_filter, moment, record_filter, reference, visible
from custos.core.actor import Actor
from custos.core.pagination import paginate
from custos.crm.models import Activity
from custos.crm.selectors.activities import access_activity, activity_list
from custos.crm.selectors.deals import access_deal
from custos.crm.selectors.leads import access_lead
from custos.crm.selectors.people import access_company, access_contact
from custos.crm.services import activities as services

router = Router(tags=["crm"])

MOMENT = "A date and time with its offset, e.g. 2026-11-22T14:30:00+01:00."


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(None, description="note (the default), task, call, email or meeting.")
    title: str | None = None
    body: str | None = None
    occurred_at: str | None = Field(None, description=f"{MOMENT} Now when not given.")
    duration_minutes: StrictInt | None = None
    due_at: str | None = Field(None, description=f"{MOMENT} Required for a task.")
    reminder_at: str | None = Field(None, description=f"{MOMENT} Before the due time.")
    owner: str | None = Field(None, description="The assignee of a task, the author of a note; the caller by default.")
    contact: str | None = None
    company: str | None = None
    lead: str | None = None
    deal: str | None = None


class ActivityOut(Schema):
    id: str
    kind: str | None
    title: str | None
    body: str | None
    occurred_at: datetime | None
    duration_minutes: int | None
    due_at: datetime | None
    reminder_at: datetime | None
    done_at: datetime | None
    owner: str | None
    contact: str | None
    company: str | None
    lead: str | None
    deal: str | None
    created_at: datetime
    updated_at: datetime


class ActivityPage(Schema):
    items: list[ActivityOut]
    next: str | None


def activity_out(actor: Actor, activity: Activity) -> dict[str, Any]:
    data = {
        "id": str(activity.pk),
        "kind": activity.kind,
        "title": activity.title,
        "body": activity.body,
        "occurred_at": moment(activity.occurred_at),
        "duration_minutes": activity.duration_minutes,
        "due_at": moment(activity.due_at),
        "reminder_at": moment(activity.reminder_at),
        "done_at": moment(activity.done_at),
        "owner": reference(activity.owner_id),
        "contact": reference(activity.contact_id),
        "company": reference(activity.company_id),
        "lead": reference(activity.lead_id),
        "deal": reference(activity.deal_id),
        "created_at": moment(activity.created_at),
        "updated_at": moment(activity.updated_at),
    }
    return visible(actor, "activity", data, always=("id", "created_at", "updated_at"))


def _containing(actor: Actor, activities: QuerySet[Activity], q: str) -> QuerySet[Activity]:
    """Activities whose title or details contain q, leaving out fields hidden from the actor.

    Activities are not in the search index (their text is free text about people), and
    `activity_list` takes no query yet: until it does, the list filters here."""
    q = "".join(ch for ch in q if ch.isprintable()).strip()[:200]
    fields = [name for name in ("title", "body") if actor.may_see_field("activity", name)]
    if not q:
        return activities
    if not fields:
        return activities.none()
    condition = Q()
    for name in fields:
        condition |= Q(**{f"{name}__icontains": q})
    return activities.filter(condition)


@router.get("/activities", response=ActivityPage, summary="List activities, or one record's timeline")
def list_activities(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    q: str = "",
    kind: str = "",
    open: bool = False,
    contact: str | None = None,
    company: str | None = None,
    lead: str | None = None,
    deal: str | None = None,
) -> dict[str, Any]:
    """`open=true`: only tasks not done yet. `contact`, `company`, `lead` or `deal`: that record's timeline."""
    actor = actor_of(request)
    kind = choice_filter("kind", kind, Activity.Kind.values)
    records = {
        "contact": record_filter(
            "contact", contact, lambda pk: access_contact(actor, pk), _("Choose an existing contact.")
        ),
        "company": record_filter(
            "company", company, lambda pk: access_company(actor, pk), _("Choose an existing company.")
        ),
        "lead": record_filter("lead", lead, lambda pk: access_lead(actor, pk), _("Choose an existing lead.")),
        "deal": record_filter("deal", deal, lambda pk: access_deal(actor, pk), _("Choose an existing deal.")),
    }
    activities = activity_list(actor, kind=kind, open_tasks=open).filter(
        **{link: record for link, record in records.items() if record is not None}
    )
    activities = _containing(actor, activities, q)
    rows, next_cursor = paginate(activities, cursor=cursor, limit=limit)
    return {"items": [activity_out(actor, a) for a in rows], "next": next_cursor}


@router.post("/activities", response={201: ActivityOut}, summary="Create an activity")
def create_activity(request: HttpRequest, payload: ActivityIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    activity = services.activity_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, activity_out(actor, activity))


@router.get("/activities/{activity_id}", response=ActivityOut, summary="Get an activity")
def get_activity(request: HttpRequest, activity_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    return activity_out(actor, access_activity(actor, activity_id))


@router.patch("/activities/{activity_id}", response=ActivityOut, summary="Change some fields of an activity")
def update_activity(request: HttpRequest, activity_id: str, payload: ActivityIn) -> dict[str, Any]:
    actor = actor_of(request)
    activity = access_activity(actor, activity_id, write=True)
    activity = services.activity_update(actor=actor, activity=activity, data=payload.model_dump(exclude_unset=True))
    return activity_out(actor, activity)


@router.delete("/activities/{activity_id}", response={204: None}, summary="Delete an activity")
def delete_activity(request: HttpRequest, activity_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("activity.delete")
    services.activity_delete(actor=actor, activity=access_activity(actor, activity_id))
    return HttpResponse(status=204)


@router.post("/activities/{activity_id}/complete", response=ActivityOut, summary="Mark an activity done")
def complete_activity(request: HttpRequest, activity_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    activity = access_activity(actor, activity_id, write=True)
    return activity_out(actor, services.activity_complete(actor=actor, activity=activity))


@router.post("/activities/{activity_id}/reopen", response=ActivityOut, summary="Mark a done activity not done")
def reopen_activity(request: HttpRequest, activity_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    activity = access_activity(actor, activity_id, write=True)
    return activity_out(actor, services.activity_complete(actor=actor, activity=activity, done=False))
