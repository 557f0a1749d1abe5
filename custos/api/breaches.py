"""/privacy/breaches and /privacy/processors: the breach register (Art. 33 to 34) and the
processors register (Art. 28)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr

from custos.api.rendering import Day, Moment, actor_of, choice_filter, moment
from custos.core.actor import Actor
from custos.core.errors import FieldError, NotFound, ValidationFailed
from custos.core.pagination import paginate
from custos.crm.models import Lead
from custos.crm.selectors.people import persons_listed
from custos.privacy.models import Breach, Processor
from custos.privacy.services import breaches as breach_services
from custos.privacy.services import processors as processor_services
from custos.privacy.services.breaches import access_breach, breach_clock, breach_counts, breach_list
from custos.privacy.services.processors import access_processor, is_outside_eea, processor_list

router = Router(tags=["privacy"])


# Breaches --------------------------------------------------------------------------------


class BreachIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, description="Required: a short name for the incident.")
    aware_at: Moment | None = Field(
        None, description="Required: when the organisation became aware of the breach; the 72-hour clock runs from it."
    )
    occurred_at: Moment | None = Field(None, description="When the breach happened, if known.")
    nature: str | None = Field(None, description="What happened (Art. 33(3)(a)).")
    data_categories: list[str] | None = Field(
        None,
        description="Kinds of personal data concerned: identity, contact, free_text, financial, "
        "online_identifier, special.",
    )
    person_categories: str | None = Field(None, description="Categories of persons concerned (customers, patients…).")
    approx_persons: StrictInt | None = Field(None, description="Approximate number of persons concerned; 0 or more.")
    approx_records: StrictInt | None = Field(None, description="Approximate number of records concerned; 0 or more.")
    consequences: str | None = Field(None, description="Likely consequences of the breach.")
    measures: str | None = Field(None, description="Measures taken or proposed to address it.")


class BreachOut(Schema):
    id: str
    title: str
    status: str
    aware_at: datetime
    occurred_at: datetime | None
    authority_due_at: datetime = Field(description="72 hours after `aware_at` (Art. 33(1)).")
    hours_left: int | None = Field(
        description="Whole hours left until `authority_due_at`, or whole hours past it (negative); null once the "
        "authority was notified or the breach closed."
    )
    overdue: bool = Field(description="Open, the authority not notified, and the deadline passed.")
    authority_notified_at: datetime | None
    persons_notified_at: datetime | None
    nature: str
    data_categories: list[str]
    person_categories: str
    approx_persons: int | None
    approx_records: int | None
    consequences: str
    measures: str
    affected: int = Field(description="Persons recorded as affected.")
    notified: int = Field(description="Affected persons told so far.")
    created_at: datetime


class BreachPage(Schema):
    items: list[BreachOut]
    next: str | None


LIST_DOC = (
    "Everyone in the {kind} list with this search and these filters, named as `GET /api/v1/{path}` takes them "
    "({names}, `custom_fields.<key>`); an empty object is the whole list the caller may see."
)
# As the lists take them; `order` is taken and changes nothing.
CONTACT_FILTERS = ("q", "tag", "owner", "company", "country", "consent", "order")
LEAD_FILTERS = ("q", "status", "tag", "owner", "country", "consent", "order")
# Names a list object may hold: its own filters and as many custom fields as the web list
# posts (`custos.web.views.listing.list_filters`); more is refused before any is looked at.
MAX_LIST_NAMES = 57


class SubjectsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    subject_ids: list[str] | None = Field(None, description="Ids of the data subjects affected, at most 1,000.")
    contacts: dict[str, StrictStr] | None = Field(
        None, description=LIST_DOC.format(kind="contact", path="contacts", names=", ".join(CONTACT_FILTERS))
    )
    leads: dict[str, StrictStr] | None = Field(
        None, description=LIST_DOC.format(kind="lead", path="leads", names=", ".join(LEAD_FILTERS))
    )


class SubjectsOut(Schema):
    added: int = Field(description="Persons newly recorded as affected.")
    affected: int
    notified: int


class AuthorityNotifiedIn(Schema):
    model_config = ConfigDict(extra="forbid")

    notified_at: str | None = Field(None, description="When the authority was notified (ISO 8601); now when not given.")


class NoticesOut(Schema):
    queued: int = Field(description="Notices queued now, one per affected person with an email.")
    without_email: int = Field(description="Affected persons not told: no email is held for them.")
    notified_before: int = Field(description="Affected persons told earlier.")


def breach_out(breach: Breach) -> dict[str, Any]:
    clock = breach_clock(breach)
    affected, notified = breach_counts(breach)
    return {
        "id": str(breach.pk),
        "title": breach.title,
        "status": breach.status,
        "aware_at": moment(breach.aware_at),
        "occurred_at": moment(breach.occurred_at),
        "authority_due_at": moment(clock.due_at),
        "hours_left": clock.hours_left,
        "overdue": clock.overdue,
        "authority_notified_at": moment(breach.authority_notified_at),
        "persons_notified_at": moment(breach.persons_notified_at),
        "nature": breach.nature,
        "data_categories": breach.data_categories,
        "person_categories": breach.person_categories,
        "approx_persons": breach.approx_persons,
        "approx_records": breach.approx_records,
        "consequences": breach.consequences,
        "measures": breach.measures,
        "affected": affected,
        "notified": notified,
        "created_at": moment(breach.created_at),
    }


@router.get("/breaches", response=BreachPage, summary="List the breach register")
def list_breaches(
    request: HttpRequest, status: str = "", cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """`status` is `open` or `closed`; every breach when not given."""
    status = choice_filter("status", status, Breach.Status.values)
    rows, next_cursor = paginate(breach_list(actor_of(request), status=status), cursor=cursor, limit=limit)
    return {"items": [breach_out(breach) for breach in rows], "next": next_cursor}


@router.post("/breaches", response={201: BreachOut}, summary="Record a breach")
def create_breach(request: HttpRequest, payload: BreachIn) -> Status[dict[str, Any]]:
    breach = breach_services.breach_create(actor=actor_of(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, breach_out(breach))


@router.get("/breaches/{breach_id}", response=BreachOut, summary="Get a breach and its 72-hour clock")
def get_breach(request: HttpRequest, breach_id: str) -> dict[str, Any]:
    return breach_out(access_breach(actor_of(request), breach_id))


@router.patch("/breaches/{breach_id}", response=BreachOut, summary="Change an open breach")
def update_breach(request: HttpRequest, breach_id: str, payload: BreachIn) -> dict[str, Any]:
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    breach = breach_services.breach_update(actor=actor, breach=breach, data=payload.model_dump(exclude_unset=True))
    return breach_out(breach)


@router.post("/breaches/{breach_id}/subjects", response=SubjectsOut, summary="Record the persons a breach affects")
def add_breach_subjects(request: HttpRequest, breach_id: str, payload: SubjectsIn) -> dict[str, Any]:
    """Send `subject_ids`, `contacts` or `leads`, or several: each whole list is recorded in one
    transaction. Persons already recorded are left as they are."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    lists = _lists(actor, payload)
    if payload.subject_ids is None and not lists:
        raise ValidationFailed.single("subject_ids", _("Send subject_ids, contacts or leads."))
    with transaction.atomic():
        added = 0
        if payload.subject_ids is not None:
            added += breach_services.breach_add_subjects(actor=actor, breach=breach, subject_ids=payload.subject_ids)
        if lists:
            added += breach_services.breach_add_listed(actor=actor, breach=breach, subjects=lists)
    affected, notified = breach_counts(breach)
    return {"added": added, "affected": affected, "notified": notified}


def _lists(actor: Actor, payload: SubjectsIn) -> list[models.QuerySet[Any]]:
    """The lists' subject ids, every bad filter of both lists refused (named under its list:
    `contacts.country`) before anything is written."""
    wanted = [
        ("contact", "contacts", payload.contacts, CONTACT_FILTERS),
        ("lead", "leads", payload.leads, LEAD_FILTERS),
    ]
    errors: list[FieldError] = []
    for _kind, field, params, names in wanted:
        if params is not None and len(params) > MAX_LIST_NAMES:
            errors.append(
                FieldError(field=field, message=_("Send at most %(max)d items per request.") % {"max": MAX_LIST_NAMES})
            )
            continue
        errors += [
            FieldError(field=f"{field}.{name}"[:80], message=_("There is no filter of this name."))
            for name in params or {}
            if name not in names and not name.startswith("custom_fields.")
        ]
    if errors:
        raise ValidationFailed(errors)
    lists = []
    for kind, field, params, _names in wanted:
        if params is None:
            continue
        try:
            status = choice_filter("status", params.get("status", ""), Lead.Status.values) if kind == "lead" else ""
            filters = {name: value for name, value in params.items() if name not in {"q", "status", "order"}}
            lists.append(persons_listed(actor, kind, q=params.get("q", ""), status=status, filters=filters))
        except ValidationFailed as failure:
            errors += [
                FieldError(field=f"{field}.{error.field}"[:80] if error.field else field, message=error.message)
                for error in failure.errors
            ]
    if errors:
        raise ValidationFailed(errors)
    return lists


@router.delete(
    "/breaches/{breach_id}/subjects/{subject_id}", response={204: None}, summary="Take a person off a breach"
)
def remove_breach_subject(request: HttpRequest, breach_id: str, subject_id: str) -> HttpResponse:
    """For a person recorded by mistake; a person told of the breach stays recorded (409)."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    try:
        removed = breach_services.breach_remove_subjects(actor=actor, breach=breach, subject_ids=[subject_id])
    except ValidationFailed:  # not an id: no such person on the breach, like any other
        raise NotFound() from None
    if not removed:
        raise NotFound()
    return HttpResponse(status=204)


@router.post("/breaches/{breach_id}/notify", response={202: NoticesOut}, summary="Tell the affected persons")
def notify_breach_subjects(request: HttpRequest, breach_id: str) -> Status[dict[str, Any]]:
    """Queues one mail per affected person not told yet who has an email, in their language (Art. 34)."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    counts = breach_services.breach_notify_subjects(actor=actor, breach=breach)
    return Status(
        202,
        {"queued": counts.queued, "without_email": counts.without_email, "notified_before": counts.notified_before},
    )


@router.post(
    "/breaches/{breach_id}/authority-notified", response=BreachOut, summary="Record the authority's notification"
)
def mark_authority_notified(
    request: HttpRequest, breach_id: str, payload: AuthorityNotifiedIn | None = None
) -> dict[str, Any]:
    """Stops the 72-hour clock."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    notified_at = payload.notified_at if payload is not None else None
    breach = breach_services.breach_mark_authority_notified(actor=actor, breach=breach, notified_at=notified_at)
    return breach_out(breach)


@router.post("/breaches/{breach_id}/close", response=BreachOut, summary="Close a breach")
def close_breach(request: HttpRequest, breach_id: str) -> dict[str, Any]:
    """A closed breach stays in the register and can no longer be changed."""
    actor = actor_of(request)
    breach = access_breach(actor, breach_id, write=True)
    return breach_out(breach_services.breach_close(actor=actor, breach=breach))


# Processors ------------------------------------------------------------------------------


class ProcessorIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="Required.")
    service: str | None = Field(None, description="Required: what the processor does for the organisation.")
    location: str | None = Field(None, description="Required: ISO 3166 code of the country it processes in.")
    safeguard: str | None = Field(
        None,
        description="Required: none_needed (inside the EU/EEA only), adequacy, scc, bcr or derogation.",
    )
    dpa_signed_on: Day | None = Field(None, description="When the data processing agreement was signed.")
    purposes: list[str] | None = Field(None, description="Ids of the purposes it processes for.")
    is_active: StrictBool | None = Field(None, description="True when not given.")
    contact_email: str | None = Field(
        None, description="Where the processor is told of rectifications, erasures and restrictions (Art. 19)."
    )
    inform_of_changes: StrictBool | None = Field(
        None,
        description=(
            "Tell the processor when a rectification, erasure or restriction request is completed "
            "(needs contact_email, and inform_recipients in the privacy settings). False when not given."
        ),
    )


class ProcessorOut(Schema):
    id: str
    name: str
    service: str
    location: str
    outside_eea: bool = Field(description="The data leave the EU/EEA: a safeguard is needed.")
    safeguard: str
    dpa_signed_on: date | None
    purposes: list[str]
    is_active: bool
    contact_email: str
    inform_of_changes: bool
    created_at: datetime


class ProcessorPage(Schema):
    items: list[ProcessorOut]
    next: str | None


def processor_out(processor: Processor) -> dict[str, Any]:
    return {
        "id": str(processor.pk),
        "name": processor.name,
        "service": processor.service,
        "location": processor.location,
        "outside_eea": is_outside_eea(processor.location),
        "safeguard": processor.safeguard,
        "dpa_signed_on": processor.dpa_signed_on,
        "purposes": sorted(str(p.pk) for p in processor.purposes.all()),
        "is_active": processor.is_active,
        "contact_email": processor.contact_email,
        "inform_of_changes": processor.inform_of_changes,
        "created_at": moment(processor.created_at),
    }


@router.get("/processors", response=ProcessorPage, summary="List the processors register")
def list_processors(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    rows, next_cursor = paginate(processor_list(actor_of(request)), cursor=cursor, limit=limit)
    return {"items": [processor_out(p) for p in rows], "next": next_cursor}


@router.post("/processors", response={201: ProcessorOut}, summary="Add a processor")
def create_processor(request: HttpRequest, payload: ProcessorIn) -> Status[dict[str, Any]]:
    data = payload.model_dump(exclude_unset=True)
    processor = processor_services.processor_create(actor=actor_of(request), data=data)
    return Status(201, processor_out(processor))


@router.get("/processors/{processor_id}", response=ProcessorOut, summary="Get a processor")
def get_processor(request: HttpRequest, processor_id: str) -> dict[str, Any]:
    return processor_out(access_processor(actor_of(request), processor_id))


@router.patch("/processors/{processor_id}", response=ProcessorOut, summary="Change a processor")
def update_processor(request: HttpRequest, processor_id: str, payload: ProcessorIn) -> dict[str, Any]:
    actor = actor_of(request)
    processor = access_processor(actor, processor_id, write=True)
    data = payload.model_dump(exclude_unset=True)
    return processor_out(processor_services.processor_update(actor=actor, processor=processor, data=data))


@router.delete("/processors/{processor_id}", response={204: None}, summary="Remove a processor")
def delete_processor(request: HttpRequest, processor_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("processor.delete")
    processor_services.processor_delete(actor=actor, processor=access_processor(actor, processor_id))
    return HttpResponse(status=204)
