"""Appointments in the staff UI: the week calendar, booking, detail with status actions,
recalls and a contact's appointments. Set-up and the calendar feed: `scheduling_settings`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.crm.models import Contact
from custos.crm.selectors.records import scoped
from custos.privacy.services.restriction import processing_state
from custos.scheduling.models import Appointment, Practitioner, Recall, Resource
from custos.scheduling.selectors.appointments import (
    access_appointment,
    access_recall,
    contact_appointments,
    recall_list,
)
from custos.scheduling.selectors.calendar import week_calendar
from custos.scheduling.selectors.catalogue import (
    practitioner_list,
    practitioner_name,
    practitioner_of,
    resource_list,
    service_list,
)
from custos.scheduling.services import appointments as services
from custos.scheduling.services.recalls import recall_create, recall_update
from custos.web.forms import attach_errors
from custos.web.pickers import contact_by_id_label, contact_label, linked_contact, with_contact
from custos.web.scheduling_forms import AppointmentForm, RecallForm
from custos.web.shortcuts import actor_of
from custos.web.views.listing import filter_value, posted, submitted

Status = Appointment.Status
RECALLS_SHOWN = 200
FIRST_YEAR, LAST_YEAR = 1900, 2999  # as any date and time the domain takes (`Cleaner.moment`)
STATUS_MESSAGES = {
    Status.CONFIRMED: gettext_lazy("The appointment is confirmed."),
    Status.DONE: gettext_lazy("The appointment is marked done."),
    Status.NO_SHOW: gettext_lazy("The appointment is marked as missed."),
    Status.CANCELLED: gettext_lazy("The appointment is cancelled."),
}


# The week calendar ----------------------------------------------------------------------


def _calendar_key(practitioner: Practitioner | None = None, resource: Resource | None = None) -> str:
    if practitioner is not None:
        return f"practitioner:{practitioner.pk}"
    return f"resource:{resource.pk}" if resource is not None else ""


def calendar_url(
    *, practitioner: Practitioner | None = None, resource: Resource | None = None, week: date | None = None
) -> str:
    """The week calendar of a practitioner or resource; the current week without `week`."""
    query = {"calendar": _calendar_key(practitioner, resource)}
    if week is not None:
        query["week"] = week.isoformat()
    return reverse("web:appointment-calendar") + "?" + urlencode(query)


def _week_of(request: HttpRequest) -> date:
    """The week asked for; the current one for a date that is no date, or one outside the
    years appointments can be booked in (whose week and neighbours may not even exist)."""
    try:
        day = date.fromisoformat(request.GET.get("week", "")[:10])
    except ValueError:
        return timezone.localdate()
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else timezone.localdate()


def calendar_view(request: HttpRequest) -> HttpResponse:
    """One practitioner's or one resource's week: the actor's own calendar if they give
    appointments, else the first practitioner's."""
    actor = actor_of(request)
    actor.require("appointment.view")
    practitioners = list(practitioner_list(actor))
    resources = list(resource_list(actor))
    options = {_calendar_key(practitioner=p): p for p in practitioners} | {
        _calendar_key(resource=r): r for r in resources
    }
    chosen = options.get(filter_value(request, "calendar", options))
    if chosen is None:
        own = practitioner_of(actor)
        active = [p for p in practitioners if p.is_active]
        chosen = own if own is not None and own.is_active else (active[0] if active else None)
        chosen = chosen or next((r for r in resources if r.is_active), None)
    practitioner = chosen if isinstance(chosen, Practitioner) else None
    resource = chosen if isinstance(chosen, Resource) else None
    week = week_calendar(actor, week_of=_week_of(request), practitioner=practitioner, resource=resource)
    start_cell = next(
        (cell for row in week.rows for cell in row.cells if cell.day == week.today and cell.bookable), None
    ) or next((cell for row in week.rows for cell in row.cells if cell.bookable), None)
    booking_base = ""
    if chosen is not None and actor.can("appointment.add"):
        booking_base = (
            reverse("web:appointment-create")
            + "?"
            + urlencode({"practitioner" if practitioner else "resource": str(chosen.pk)})
        )
    return render(
        request,
        "web/scheduling/calendar.html",
        {
            "week": week,
            "appointment_hidden": actor.hidden_fields_of("appointment"),
            "practitioner": practitioner,
            "resource": resource,
            "chosen_key": _calendar_key(practitioner, resource),
            "chosen_name": practitioner_name(practitioner) if practitioner else (resource.name if resource else ""),
            "practitioners": [
                (_calendar_key(practitioner=p), practitioner_name(p), p.is_active) for p in practitioners
            ],
            "resources": [(_calendar_key(resource=r), r.name, r.is_active) for r in resources],
            "previous_url": calendar_url(practitioner=practitioner, resource=resource, week=week.previous),
            "next_url": calendar_url(practitioner=practitioner, resource=resource, week=week.next),
            "today_url": calendar_url(practitioner=practitioner, resource=resource),
            "booking_base": booking_base,
            "start_cell": start_cell,
            "show_names": actor.can("contact.view"),
        },
    )


# Booking and changing -----------------------------------------------------------------


def _choices_with(choices: list[tuple[str, str]], current: Any, label: str) -> list[tuple[str, str]]:
    """Keep a chosen record selectable even when it is inactive."""
    if current is not None and str(current.pk) not in {pk for pk, _label in choices}:
        choices.insert(0, (str(current.pk), label))
    return choices


def _appointment_form(
    actor: Actor, data: Any, initial: dict[str, Any], *, appointment: Appointment | None = None
) -> AppointmentForm:
    services_ = [
        (str(s.pk), _("%(name)s (%(minutes)s min)") % {"name": s.name, "minutes": s.duration_minutes})
        for s in service_list(actor, active_only=True)
    ]
    practitioners = [(str(p.pk), practitioner_name(p)) for p in practitioner_list(actor, active_only=True)]
    resources = [(str(r.pk), r.name) for r in resource_list(actor, active_only=True)]
    if appointment is not None:
        _choices_with(services_, appointment.service, appointment.service.name)
        _choices_with(practitioners, appointment.practitioner, practitioner_name(appointment.practitioner))
        _choices_with(resources, appointment.resource, appointment.resource.name if appointment.resource else "")
    return AppointmentForm(
        data,
        initial=initial,
        services=services_,
        practitioners=practitioners,
        resources=resources,
        show_special=actor.can("special_category.change")
        and (appointment is None or actor.can("special_category.view")),
        hidden=actor.hidden_fields_of("appointment"),
        editing=appointment is not None,
    )


def _local_start(value: str) -> datetime | None:
    """A start given in a booking link (`2026-11-23T09:00`), read in the member's time zone."""
    try:
        moment = datetime.fromisoformat(value[:16])
    except ValueError:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _calendar_after_booking(request: HttpRequest, appointment: Appointment) -> str:
    """Back to the calendar the booking started from, at the week of the appointment."""
    week = timezone.localdate(appointment.starts_at)
    if request.GET.get("resource") and appointment.resource is not None:
        url = calendar_url(resource=appointment.resource, week=week)
    else:
        url = calendar_url(practitioner=appointment.practitioner, week=week)
    return f"{url}#appointment-{appointment.pk}"


def appointment_create_view(request: HttpRequest) -> HttpResponse:
    """Book an appointment; the calendar's links fill in who or what, and when."""
    actor = actor_of(request)
    actor.require("appointment.add")
    initial: dict[str, Any] = {name: request.GET.get(name, "")[:64] for name in ("service", "practitioner", "resource")}
    # A contact is named by id in the link (never by a value of theirs); the picker shows its label.
    initial["contact"] = contact_by_id_label(actor, request.GET.get("contact", "")[:64])
    if not initial["practitioner"] and (own := practitioner_of(actor)) is not None and own.is_active:
        initial["practitioner"] = str(own.pk)
    if starts_at := _local_start(request.GET.get("starts_at", "")):
        initial["starts_at"] = timezone.localtime(starts_at)
    recall: Recall | None = None
    recalled = None
    if request.GET.get("recall"):
        recall = access_recall(actor, request.GET["recall"])
        recalled = linked_contact(recall.contact_id)
        initial |= {
            "recall": str(recall.pk),
            "contact": contact_label(actor, recalled),
            "service": str(recall.service_id),
        }
    form = _appointment_form(actor, posted(request), initial)
    if request.method == "POST" and form.is_valid():
        try:
            data = with_contact(actor, submitted(request, form), current=recalled)
            appointment = services.appointment_create(actor=actor, data=data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The appointment is booked."))
            return redirect(_calendar_after_booking(request, appointment))
    return render(
        request, "web/scheduling/appointment_form.html", {"form": form, "appointment": None, "recall": recall}
    )


def appointment_edit_view(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Change or move an appointment; the clinical details are read (and the read logged)
    only for a member who may see and change them."""
    actor = actor_of(request)
    appointment = access_appointment(actor, appointment_id, write=True)
    contact = linked_contact(appointment.contact_id)
    initial: dict[str, Any] = {
        "contact": contact_label(actor, contact),
        "service": str(appointment.service_id),
        "practitioner": str(appointment.practitioner_id),
        "resource": str(appointment.resource_id or ""),
        "starts_at": timezone.localtime(appointment.starts_at),
        "ends_at": timezone.localtime(appointment.ends_at),
        "notes": appointment.notes,
        "send_reminder": appointment.send_reminder,
    }
    form = _appointment_form(actor, posted(request), initial, appointment=appointment)
    if "clinical_details" in form.fields and request.method == "GET":
        special = services.appointment_read_special(actor=actor, appointment=appointment)
        form.initial["clinical_details"] = special["clinical_details"]
    if request.method == "POST" and form.is_valid():
        try:
            data = with_contact(actor, form.domain_data(), current=contact)
            for name in ("starts_at", "ends_at"):
                if name in data and name not in form.changed_data:
                    del data[name]  # left as shown: not moved by its seconds, nor to the autumn hour's other reading
            services.appointment_update(actor=actor, appointment=appointment, data=data)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The appointment is saved."))
            return redirect("web:appointment-detail", appointment.pk)
    return render(
        request, "web/scheduling/appointment_form.html", {"form": form, "appointment": appointment, "recall": None}
    )


def appointment_detail_view(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """An appointment with the status changes it allows; its clinical details only when
    asked for, by a role that may see them (the domain logs the read)."""
    actor = actor_of(request)
    appointment = access_appointment(actor, appointment_id)
    special = None
    hidden = actor.hidden_fields_of("appointment")
    if (
        actor.can("special_category.view")
        and "clinical_details" not in hidden
        and request.GET.get("reveal") == "special"
    ):
        special = services.appointment_read_special(actor=actor, appointment=appointment)
    started = appointment.starts_at <= timezone.now()
    state = processing_state(appointment)  # a restricted or erased person's appointment stays as it is
    next_statuses = [
        status
        for status in (Status.CONFIRMED, Status.DONE, Status.NO_SHOW, Status.CANCELLED)
        if status in services.TRANSITIONS.get(appointment.status, frozenset())
        and (started or status not in (Status.DONE, Status.NO_SHOW))
    ]
    return render(
        request,
        "web/scheduling/appointment_detail.html",
        {
            "appointment": appointment,
            "privacy_state": state,
            "special": special,
            "hidden": hidden,
            "practitioner": practitioner_name(appointment.practitioner),
            "contact_visible": actor.can("contact.view")
            and scoped(actor, Contact.objects.filter(pk=appointment.contact_id)).exists(),
            "next_statuses": next_statuses if actor.can("appointment.change") and not state else [],
            "calendar_url": calendar_url(
                practitioner=appointment.practitioner, week=timezone.localdate(appointment.starts_at)
            ),
        },
    )


@require_POST
def appointment_status_view(request: HttpRequest, appointment_id: str) -> HttpResponse:
    """Confirm, complete, mark missed or cancel (the detail page's buttons)."""
    actor = actor_of(request)
    appointment = access_appointment(actor, appointment_id, write=True)
    status = filter_value(request, "status", [str(s) for s in STATUS_MESSAGES])
    try:
        services.appointment_set_status(actor=actor, appointment=appointment, status=status)
    except ValidationFailed as error:
        messages.error(request, " ".join(item.message for item in error.errors))
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, str(STATUS_MESSAGES[Status(status)]))
    return redirect("web:appointment-detail", appointment.pk)


def contact_appointments_context(actor: Actor, contact: Contact) -> dict[str, Any]:
    """A contact's latest appointments for their page; None without the right to see them."""
    if not actor.can("appointment.view"):
        return {"contact_appointments": None}
    return {
        "contact_appointments": contact_appointments(actor, contact, limit=10),
        "appointment_hidden": actor.hidden_fields_of("appointment"),
    }


# Recalls --------------------------------------------------------------------------------

RECALL_FILTERS = (Recall.Status.DUE, Recall.Status.BOOKED, Recall.Status.WAITING, Recall.Status.STOPPED)


def recall_list_view(request: HttpRequest) -> HttpResponse:
    """Recalls by status, the soonest due first: due ones are the ones to book now."""
    actor = actor_of(request)
    actor.require("appointment.view")
    status = filter_value(request, "status", [str(s) for s in RECALL_FILTERS]) or Recall.Status.DUE
    recalls = list(recall_list(actor, status=status).order_by("due_on", "id")[:RECALLS_SHOWN])
    return render(
        request,
        "web/scheduling/recall_list.html",
        {
            "recalls": recalls,
            "more": len(recalls) == RECALLS_SHOWN,
            "status": status,
            "statuses": [(str(s), s.label) for s in RECALL_FILTERS],
            "show_names": actor.can("contact.view"),
        },
    )


def recall_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("appointment.add")
    form = RecallForm(
        posted(request),
        initial={"contact": contact_by_id_label(actor, request.GET.get("contact", "")[:64])},
        services=[(str(s.pk), s.name) for s in service_list(actor, active_only=True)],
    )
    if request.method == "POST" and form.is_valid():
        try:
            recall = recall_create(actor=actor, data=with_contact(actor, form.domain_data()))
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            messages.success(request, _("The recall is saved."))
            return redirect(reverse("web:recall-list") + "?" + urlencode({"status": recall.status}))
    return render(request, "web/scheduling/recall_form.html", {"form": form})


@require_POST
def recall_status_view(request: HttpRequest, recall_id: str) -> HttpResponse:
    """Stop recalling a person, or start again."""
    actor = actor_of(request)
    recall = access_recall(actor, recall_id, write=True)
    status = filter_value(request, "status", [Recall.Status.STOPPED, Recall.Status.WAITING])
    try:
        recall_update(actor=actor, recall=recall, data={"status": status})
    except ValidationFailed as error:
        messages.error(request, " ".join(item.message for item in error.errors))
    else:
        messages.success(
            request, _("The recall is stopped.") if status == Recall.Status.STOPPED else _("The recall is resumed.")
        )
    # Where it is now: resumed past its day, it is due, not waiting.
    return redirect(reverse("web:recall-list") + "?" + urlencode({"status": recall.status}))
