"""/services, /resources, /practitioners, /appointments, /recalls and the caller's calendar feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.params.functions import Query as QueryParam
from pydantic import ConfigDict, Field, StrictBool, StrictInt

from custos.api.rendering import (
    actor_of,
    choice_filter,
    moment,
    money,
    record_filter,
    reference,
    visible,
    wants_special,
)
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.pagination import paginate
from custos.core.validation import Cleaner
from custos.crm.selectors.people import access_contact
from custos.scheduling.models import Appointment, Practitioner, Recall, Resource, Service
from custos.scheduling.selectors.appointments import access_appointment, access_recall, appointment_list, recall_list
from custos.scheduling.selectors.catalogue import (
    access_practitioner,
    access_resource,
    access_service,
    practitioner_list,
    practitioner_name,
    resource_list,
    service_list,
)
from custos.scheduling.services import appointments as appointment_services
from custos.scheduling.services import catalogue, feeds, recalls

router = Router(tags=["appointments"])

MOMENT = "A date and time with its offset, e.g. 2026-11-22T14:30:00+01:00."


# Services, resources, practitioners ---------------------------------------------------


class ServiceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    duration_minutes: StrictInt | None = None
    price: str | None = Field(None, description='An amount with two decimals as text, e.g. "60.00".')
    currency: str | None = Field(None, description="ISO 4217, EUR by default.")
    resource_kind: str | None = Field(None, description="room, chair, equipment, or empty.")
    recall_months: StrictInt | None = Field(None, description="A done appointment recalls the person after this.")
    reminder_hours: StrictInt | None = Field(None, description="Hours before; the organisation's setting if null.")
    is_active: StrictBool | None = None


class ServiceOut(Schema):
    id: str
    name: str
    duration_minutes: int
    price: str | None
    currency: str
    resource_kind: str
    recall_months: int | None
    reminder_hours: int | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ServicePage(Schema):
    items: list[ServiceOut]
    next: str | None


def service_out(service: Service) -> dict[str, Any]:
    return {
        "id": str(service.pk),
        "name": service.name,
        "duration_minutes": service.duration_minutes,
        "price": money(service.price),
        "currency": service.currency,
        "resource_kind": service.resource_kind,
        "recall_months": service.recall_months,
        "reminder_hours": service.reminder_hours,
        "is_active": service.is_active,
        "created_at": moment(service.created_at),
        "updated_at": moment(service.updated_at),
    }


@router.get("/services", response=ServicePage, summary="List services")
def list_services(
    request: HttpRequest, cursor: str | None = None, limit: int | None = None, active: bool = False
) -> dict[str, Any]:
    rows, next_cursor = paginate(service_list(actor_of(request), active_only=active), cursor=cursor, limit=limit)
    return {"items": [service_out(s) for s in rows], "next": next_cursor}


@router.post("/services", response={201: ServiceOut}, summary="Create a service")
def create_service(request: HttpRequest, payload: ServiceIn) -> Status[dict[str, Any]]:
    service = catalogue.service_create(actor=actor_of(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, service_out(service))


@router.get("/services/{service_id}", response=ServiceOut, summary="Get a service")
def get_service(request: HttpRequest, service_id: str) -> dict[str, Any]:
    return service_out(access_service(actor_of(request), service_id))


@router.patch("/services/{service_id}", response=ServiceOut, summary="Change some fields of a service")
def update_service(request: HttpRequest, service_id: str, payload: ServiceIn) -> dict[str, Any]:
    actor = actor_of(request)
    service = access_service(actor, service_id, write=True)
    return service_out(
        catalogue.service_update(actor=actor, service=service, data=payload.model_dump(exclude_unset=True))
    )


@router.delete("/services/{service_id}", response={204: None}, summary="Delete a service never booked")
def delete_service(request: HttpRequest, service_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("service.delete")
    catalogue.service_delete(actor=actor, service=access_service(actor, service_id))
    return HttpResponse(status=204)


class ResourceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: str | None = Field(None, description="room (the default), chair or equipment.")
    is_active: StrictBool | None = None


class ResourceOut(Schema):
    id: str
    name: str
    kind: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ResourcePage(Schema):
    items: list[ResourceOut]
    next: str | None


def resource_out(resource: Resource) -> dict[str, Any]:
    return {
        "id": str(resource.pk),
        "name": resource.name,
        "kind": resource.kind,
        "is_active": resource.is_active,
        "created_at": moment(resource.created_at),
        "updated_at": moment(resource.updated_at),
    }


@router.get("/resources", response=ResourcePage, summary="List rooms, chairs and equipment")
def list_resources(
    request: HttpRequest, cursor: str | None = None, limit: int | None = None, active: bool = False
) -> dict[str, Any]:
    rows, next_cursor = paginate(resource_list(actor_of(request), active_only=active), cursor=cursor, limit=limit)
    return {"items": [resource_out(r) for r in rows], "next": next_cursor}


@router.post("/resources", response={201: ResourceOut}, summary="Create a resource")
def create_resource(request: HttpRequest, payload: ResourceIn) -> Status[dict[str, Any]]:
    resource = catalogue.resource_create(actor=actor_of(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, resource_out(resource))


@router.get("/resources/{resource_id}", response=ResourceOut, summary="Get a resource")
def get_resource(request: HttpRequest, resource_id: str) -> dict[str, Any]:
    return resource_out(access_resource(actor_of(request), resource_id))


@router.patch("/resources/{resource_id}", response=ResourceOut, summary="Change some fields of a resource")
def update_resource(request: HttpRequest, resource_id: str, payload: ResourceIn) -> dict[str, Any]:
    actor = actor_of(request)
    resource = access_resource(actor, resource_id, write=True)
    data = payload.model_dump(exclude_unset=True)
    return resource_out(catalogue.resource_update(actor=actor, resource=resource, data=data))


@router.delete("/resources/{resource_id}", response={204: None}, summary="Delete a resource never booked")
def delete_resource(request: HttpRequest, resource_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("service.delete")
    catalogue.resource_delete(actor=actor, resource=access_resource(actor, resource_id))
    return HttpResponse(status=204)


class PractitionerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    user: str | None = Field(None, description="The member's user id; fixed once added.")
    is_active: StrictBool | None = None


class PractitionerOut(Schema):
    id: str
    user: str
    name: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PractitionerPage(Schema):
    items: list[PractitionerOut]
    next: str | None


def practitioner_out(practitioner: Practitioner) -> dict[str, Any]:
    return {
        "id": str(practitioner.pk),
        "user": str(practitioner.user_id),
        "name": practitioner_name(practitioner),
        "is_active": practitioner.is_active,
        "created_at": moment(practitioner.created_at),
        "updated_at": moment(practitioner.updated_at),
    }


@router.get("/practitioners", response=PractitionerPage, summary="List the members who give appointments")
def list_practitioners(
    request: HttpRequest, cursor: str | None = None, limit: int | None = None, active: bool = False
) -> dict[str, Any]:
    queryset = practitioner_list(actor_of(request), active_only=active)
    rows, next_cursor = paginate(queryset, cursor=cursor, limit=limit)
    return {"items": [practitioner_out(p) for p in rows], "next": next_cursor}


@router.post("/practitioners", response={201: PractitionerOut}, summary="Let a member give appointments")
def create_practitioner(request: HttpRequest, payload: PractitionerIn) -> Status[dict[str, Any]]:
    practitioner = catalogue.practitioner_add(actor=actor_of(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, practitioner_out(practitioner))


@router.get("/practitioners/{practitioner_id}", response=PractitionerOut, summary="Get a practitioner")
def get_practitioner(request: HttpRequest, practitioner_id: str) -> dict[str, Any]:
    return practitioner_out(access_practitioner(actor_of(request), practitioner_id))


@router.patch("/practitioners/{practitioner_id}", response=PractitionerOut, summary="Make a practitioner (in)active")
def update_practitioner(request: HttpRequest, practitioner_id: str, payload: PractitionerIn) -> dict[str, Any]:
    actor = actor_of(request)
    practitioner = access_practitioner(actor, practitioner_id, write=True)
    data = payload.model_dump(exclude_unset=True)
    return practitioner_out(catalogue.practitioner_update(actor=actor, practitioner=practitioner, data=data))


@router.delete("/practitioners/{practitioner_id}", response={204: None}, summary="Remove a practitioner never booked")
def delete_practitioner(request: HttpRequest, practitioner_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("service.delete")
    catalogue.practitioner_delete(actor=actor, practitioner=access_practitioner(actor, practitioner_id))
    return HttpResponse(status=204)


# Appointments -------------------------------------------------------------------------


class AppointmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    service: str | None = None
    practitioner: str | None = None
    resource: str | None = None
    contact: str | None = Field(None, description="The patient or customer.")
    starts_at: str | None = Field(None, description=MOMENT)
    ends_at: str | None = Field(None, description=f"{MOMENT} The service's duration after the start when not given.")
    notes: str | None = None
    clinical_details: str | None = Field(
        None, description="Reason and clinical details: special-category data, needs `special_category.change`."
    )
    send_reminder: StrictBool | None = None
    recall: str | None = Field(None, description="The recall it is booked from (on creation only).")


class AppointmentOut(Schema):
    id: str
    service: str | None
    practitioner: str | None
    resource: str | None
    contact: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    notes: str | None
    clinical_details: str | None = Field(
        None,
        description=(
            "Special-category data: null unless asked for with `include=special` on the single-appointment "
            "endpoint, by a role allowed to see it; each such read is audited."
        ),
    )
    send_reminder: bool | None
    reminder_sent_at: datetime | None
    recall: str | None
    created_at: datetime
    updated_at: datetime


class AppointmentPage(Schema):
    items: list[AppointmentOut]
    next: str | None


def appointment_out(actor: Actor, appointment: Appointment, *, special: dict[str, str] | None = None) -> dict[str, Any]:
    data = {
        "id": str(appointment.pk),
        "service": reference(appointment.service_id),
        "practitioner": reference(appointment.practitioner_id),
        "resource": reference(appointment.resource_id),
        "contact": reference(appointment.contact_id),
        "starts_at": moment(appointment.starts_at),
        "ends_at": moment(appointment.ends_at),
        "status": appointment.status,
        "notes": appointment.notes,
        "clinical_details": (special or {}).get("clinical_details"),
        "send_reminder": appointment.send_reminder,
        "reminder_sent_at": moment(appointment.reminder_sent_at),
        "recall": reference(appointment.recall_id),
        "created_at": moment(appointment.created_at),
        "updated_at": moment(appointment.updated_at),
    }
    return visible(actor, "appointment", data, always=("id", "status", "created_at", "updated_at"))


def _moment_filter(field: str, value: str | None) -> datetime | None:
    cleaner = Cleaner()
    result = cleaner.moment(field, value)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return result


@router.get("/appointments", response=AppointmentPage, summary="List appointments")
def list_appointments(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    practitioner: str | None = None,
    resource: str | None = None,
    contact: str | None = None,
    status: str = "",
    starts_from: Annotated[
        str | None, QueryParam(None, alias="from", description=f"Starting at or after this. {MOMENT}")
    ] = None,
    starts_before: Annotated[
        str | None, QueryParam(None, alias="to", description=f"Starting before this. {MOMENT}")
    ] = None,
) -> dict[str, Any]:
    """Filters combine; `from` and `to` bound the start. Ordered by id, like every list."""
    actor = actor_of(request)
    status = choice_filter("status", status, Appointment.Status.values)
    chosen_practitioner = record_filter(
        "practitioner", practitioner, lambda pk: access_practitioner(actor, pk), _("Choose an existing practitioner.")
    )
    chosen_resource = record_filter(
        "resource", resource, lambda pk: access_resource(actor, pk), _("Choose an existing resource.")
    )
    chosen_contact = record_filter(
        "contact", contact, lambda pk: access_contact(actor, pk), _("Choose an existing contact.")
    )
    queryset = appointment_list(
        actor,
        practitioner_id=chosen_practitioner.pk if chosen_practitioner else None,
        resource_id=chosen_resource.pk if chosen_resource else None,
        contact_id=chosen_contact.pk if chosen_contact else None,
        status=status,
        starts_from=_moment_filter("from", starts_from),
        starts_before=_moment_filter("to", starts_before),
    )
    rows, next_cursor = paginate(queryset, cursor=cursor, limit=limit)
    return {"items": [appointment_out(actor, a) for a in rows], "next": next_cursor}


@router.post("/appointments", response={201: AppointmentOut}, summary="Book an appointment")
def create_appointment(request: HttpRequest, payload: AppointmentIn) -> Status[dict[str, Any]]:
    """A practitioner or resource already booked at that time is a 422 naming the field and the
    clashing appointment's time."""
    actor = actor_of(request)
    appointment = appointment_services.appointment_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, appointment_out(actor, appointment))


@router.get("/appointments/{appointment_id}", response=AppointmentOut, summary="Get an appointment")
def get_appointment(request: HttpRequest, appointment_id: str, include: str = "") -> dict[str, Any]:
    """`include=special` adds the clinical details; the read is written to the audit log."""
    actor = actor_of(request)
    appointment = access_appointment(actor, appointment_id)
    special = (
        appointment_services.appointment_read_special(actor=actor, appointment=appointment)
        if wants_special(include)
        else None
    )
    return appointment_out(actor, appointment, special=special)


@router.patch("/appointments/{appointment_id}", response=AppointmentOut, summary="Change or move an appointment")
def update_appointment(request: HttpRequest, appointment_id: str, payload: AppointmentIn) -> dict[str, Any]:
    actor = actor_of(request)
    appointment = access_appointment(actor, appointment_id, write=True)
    data = payload.model_dump(exclude_unset=True)
    return appointment_out(
        actor, appointment_services.appointment_update(actor=actor, appointment=appointment, data=data)
    )


@router.delete("/appointments/{appointment_id}", response={204: None}, summary="Delete an appointment")
def delete_appointment(request: HttpRequest, appointment_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("appointment.delete")
    appointment_services.appointment_delete(actor=actor, appointment=access_appointment(actor, appointment_id))
    return HttpResponse(status=204)


def _set_status(request: HttpRequest, appointment_id: str, status: str) -> dict[str, Any]:
    actor = actor_of(request)
    appointment = access_appointment(actor, appointment_id, write=True)
    appointment = appointment_services.appointment_set_status(actor=actor, appointment=appointment, status=status)
    return appointment_out(actor, appointment)


@router.post("/appointments/{appointment_id}/confirm", response=AppointmentOut, summary="Confirm a booked appointment")
def confirm_appointment(request: HttpRequest, appointment_id: str) -> dict[str, Any]:
    return _set_status(request, appointment_id, Appointment.Status.CONFIRMED)


@router.post("/appointments/{appointment_id}/complete", response=AppointmentOut, summary="Mark an appointment done")
def complete_appointment(request: HttpRequest, appointment_id: str) -> dict[str, Any]:
    """Only a confirmed appointment that has started; its recall moves on."""
    return _set_status(request, appointment_id, Appointment.Status.DONE)


@router.post("/appointments/{appointment_id}/no-show", response=AppointmentOut, summary="Mark an appointment missed")
def no_show_appointment(request: HttpRequest, appointment_id: str) -> dict[str, Any]:
    return _set_status(request, appointment_id, Appointment.Status.NO_SHOW)


@router.post("/appointments/{appointment_id}/cancel", response=AppointmentOut, summary="Cancel an appointment")
def cancel_appointment(request: HttpRequest, appointment_id: str) -> dict[str, Any]:
    return _set_status(request, appointment_id, Appointment.Status.CANCELLED)


# Recalls ------------------------------------------------------------------------------


class RecallIn(Schema):
    model_config = ConfigDict(extra="forbid")

    contact: str | None = Field(None, description="On creation only.")
    service: str | None = Field(None, description="On creation only.")
    interval_months: StrictInt | None = None
    due_on: str | None = Field(None, description="A date such as 2027-05-22.")
    status: str | None = Field(None, description="waiting, due or stopped; booked is set by booking.")


class RecallOut(Schema):
    id: str
    contact: str
    service: str
    interval_months: int
    due_on: str
    status: str
    last_done_on: str | None
    created_at: datetime
    updated_at: datetime


class RecallPage(Schema):
    items: list[RecallOut]
    next: str | None


def recall_out(recall: Recall) -> dict[str, Any]:
    return {
        "id": str(recall.pk),
        "contact": str(recall.contact_id),
        "service": str(recall.service_id),
        "interval_months": recall.interval_months,
        "due_on": recall.due_on.isoformat(),
        "status": recall.status,
        "last_done_on": recall.last_done_on.isoformat() if recall.last_done_on else None,
        "created_at": moment(recall.created_at),
        "updated_at": moment(recall.updated_at),
    }


@router.get("/recalls", response=RecallPage, summary="List recalls")
def list_recalls(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    status: str = "",
    contact: str | None = None,
    due_by: Annotated[
        str | None, QueryParam(None, description="Only those due on or before this date, e.g. 2026-12-31.")
    ] = None,
) -> dict[str, Any]:
    """`status=due`: the recalls to book now."""
    actor = actor_of(request)
    status = choice_filter("status", status, Recall.Status.values)
    chosen_contact = record_filter(
        "contact", contact, lambda pk: access_contact(actor, pk), _("Choose an existing contact.")
    )
    cleaner = Cleaner()
    due = cleaner.date("due_by", due_by)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    queryset = recall_list(actor, status=status, contact_id=chosen_contact.pk if chosen_contact else None, due_by=due)
    rows, next_cursor = paginate(queryset, cursor=cursor, limit=limit)
    return {"items": [recall_out(r) for r in rows], "next": next_cursor}


@router.post("/recalls", response={201: RecallOut}, summary="Recall a person for a service")
def create_recall(request: HttpRequest, payload: RecallIn) -> Status[dict[str, Any]]:
    recall = recalls.recall_create(actor=actor_of(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, recall_out(recall))


@router.get("/recalls/{recall_id}", response=RecallOut, summary="Get a recall")
def get_recall(request: HttpRequest, recall_id: str) -> dict[str, Any]:
    return recall_out(access_recall(actor_of(request), recall_id))


@router.patch("/recalls/{recall_id}", response=RecallOut, summary="Change, stop or resume a recall")
def update_recall(request: HttpRequest, recall_id: str, payload: RecallIn) -> dict[str, Any]:
    actor = actor_of(request)
    recall = access_recall(actor, recall_id, write=True)
    return recall_out(recalls.recall_update(actor=actor, recall=recall, data=payload.model_dump(exclude_unset=True)))


@router.delete("/recalls/{recall_id}", response={204: None}, summary="Delete a recall")
def delete_recall(request: HttpRequest, recall_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("appointment.delete")
    recalls.recall_delete(actor=actor, recall=access_recall(actor, recall_id))
    return HttpResponse(status=204)


class RecallBookIn(Schema):
    model_config = ConfigDict(extra="forbid")

    practitioner: str | None = None
    resource: str | None = None
    starts_at: str | None = Field(None, description=MOMENT)
    ends_at: str | None = None
    notes: str | None = None
    send_reminder: StrictBool | None = None


@router.post(
    "/recalls/{recall_id}/book", response={201: AppointmentOut}, summary="Book the appointment a recall asks for"
)
def book_recall(request: HttpRequest, recall_id: str, payload: RecallBookIn) -> Status[dict[str, Any]]:
    """The appointment takes the recall's contact and service; the recall shows as booked."""
    actor = actor_of(request)
    actor.require("appointment.add")
    recall = access_recall(actor, recall_id)
    data = {**payload.model_dump(exclude_unset=True), "recall": str(recall.pk)}
    appointment = appointment_services.appointment_create(actor=actor, data=data)
    return Status(201, appointment_out(actor, appointment))


# Settings and the caller's calendar feed -----------------------------------------------


class SchedulingSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reminder_hours: StrictInt | None = None
    language: str | None = Field(None, description="The language reminders are written in, e.g. de.")
    time_zone: str | None = Field(None, description="The time zone reminders give times in, e.g. Europe/Berlin.")
    feed_detail: str | None = Field(
        None,
        description="What calendar feeds show of an appointment: busy, service (the default) or service_initials.",
    )


class SchedulingSettingsOut(Schema):
    reminder_hours: int
    language: str
    time_zone: str
    feed_detail: str


def _settings_out(found: Any) -> dict[str, Any]:
    return {name: getattr(found, name) for name in catalogue.SETTINGS_FIELDS}


@router.get("/appointment-settings", response=SchedulingSettingsOut, summary="The organisation's appointment settings")
def get_settings(request: HttpRequest) -> dict[str, Any]:
    actor = actor_of(request)
    actor.require("appointment.view")
    return _settings_out(catalogue.scheduling_settings(actor.org_id))


@router.patch("/appointment-settings", response=SchedulingSettingsOut, summary="Change the appointment settings")
def update_settings(request: HttpRequest, payload: SchedulingSettingsIn) -> dict[str, Any]:
    """Needs `organization.change`: these settings decide what leaves in mails and calendar feeds."""
    actor = actor_of(request)
    data = payload.model_dump(exclude_unset=True)
    return _settings_out(catalogue.scheduling_settings_update(actor=actor, data=data))


class CalendarFeedOut(Schema):
    active: bool
    created_at: datetime | None
    last_used_at: datetime | None
    url: str | None = Field(None, description="The secret link: given once, when the feed is made.")


def feed_url(token: str) -> str:
    return settings.CUSTOS_BASE_URL + reverse("web:calendar-feed-ics", args=[token])


@router.get("/calendar-feed", response=CalendarFeedOut, summary="The caller's calendar feed")
def get_calendar_feed(request: HttpRequest) -> dict[str, Any]:
    actor = actor_of(request)
    actor.require("appointment.view")
    feed = feeds.calendar_feed_of(actor)
    return {
        "active": feed is not None,
        "created_at": moment(feed.created_at) if feed else None,
        "last_used_at": moment(feed.last_used_at) if feed else None,
        "url": None,
    }


@router.post("/calendar-feed", response={201: CalendarFeedOut}, summary="Make a new feed link (the old one stops)")
def create_calendar_feed(request: HttpRequest) -> Status[dict[str, Any]]:
    """The caller's appointments as practitioner, as iCalendar; the answer holds the secret link once."""
    feed, token = feeds.calendar_feed_create(actor=actor_of(request))
    return Status(
        201, {"active": True, "created_at": moment(feed.created_at), "last_used_at": None, "url": feed_url(token)}
    )


@router.delete("/calendar-feed", response={204: None}, summary="Stop the caller's feed link")
def revoke_calendar_feed(request: HttpRequest) -> HttpResponse:
    feeds.calendar_feed_revoke(actor=actor_of(request))
    return HttpResponse(status=204)
