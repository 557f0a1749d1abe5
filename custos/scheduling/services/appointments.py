"""Booking, moving and closing appointments. Every face (web, API, CLI) calls these.

Conflicts: a practitioner or a resource holds one appointment at a time (cancelled and
missed ones free their slot). The check runs inside the writing transaction after
locking the practitioner's and the resource's rows (`select_for_update`, always in that
order, so two bookings cannot deadlock), so two concurrent bookings of the same slot are
serialised and the second one sees the first. SQLite takes its write lock at `BEGIN`
(`transaction_mode = IMMEDIATE`), which serialises them just the same. A PostgreSQL
exclusion constraint would need the btree_gist extension for the uuid columns; the lock
is enough and works on both databases.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Contact
from custos.crm.selectors.records import scoped
from custos.crm.services.records import check_field_rights, clean_reference, given_fields, insert_record, reject_unknown
from custos.crm.services.records import update_record as audited_update
from custos.privacy.services.restriction import require_processable
from custos.scheduling.models import ACTIVE_STATUSES, Appointment, Practitioner, Recall, Resource, Service
from custos.scheduling.selectors.appointments import visible_recalls
from custos.scheduling.services.catalogue import scheduling_settings
from custos.scheduling.services.common import add_months, delete_audited
from custos.scheduling.services.recalls import open_status_on

Status = Appointment.Status

APPOINTMENT_FIELDS = (
    "service",
    "practitioner",
    "resource",
    "contact",
    "starts_at",
    "ends_at",
    "notes",
    "clinical_details",
    "send_reminder",
    "recall",
)
SPECIAL_APPOINTMENT_FIELDS = frozenset({"clinical_details"})
# What changes when an appointment moves; a closed one (done, missed, cancelled) stays where it was.
SCHEDULE_FIELDS = frozenset({"service", "practitioner", "resource", "contact", "starts_at", "ends_at"})
# What a check of a changed appointment needs from the stored one.
KEPT = frozenset({"id", "service", "practitioner", "resource", "contact", "starts_at", "ends_at"})
MAX_LENGTH = timedelta(hours=24)

# status → the statuses it may move to; done, no-show and cancelled are final. Confirming is
# optional: many people never confirm and come anyway (done), or do not come (no-show).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.BOOKED: frozenset({Status.CONFIRMED, Status.DONE, Status.NO_SHOW, Status.CANCELLED}),
    Status.CONFIRMED: frozenset({Status.DONE, Status.NO_SHOW, Status.CANCELLED}),
}
STATUS_ACTIONS = {
    Status.CONFIRMED: "appointment.confirm",
    Status.DONE: "appointment.complete",
    Status.NO_SHOW: "appointment.no_show",
    Status.CANCELLED: "appointment.cancel",
}


def _active_or_current(queryset: Any, current_id: Any) -> Any:
    """What can be chosen: active rows, and the one already chosen even if inactive since."""
    return queryset.filter(Q(is_active=True) | Q(pk=current_id)) if current_id else queryset.filter(is_active=True)


def clean_appointment(
    actor: Actor, data: Mapping[str, Any], *, partial: bool, record: Appointment | None = None
) -> tuple[dict[str, Any], Cleaner]:
    """Clean the given fields; unknown fields are errors, not silently dropped."""
    cleaner = Cleaner()
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, APPOINTMENT_FIELDS)
    for name in APPOINTMENT_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "service":
                cleaned["service_id"] = clean_reference(
                    cleaner,
                    name,
                    value,
                    _active_or_current(Service.objects.all(), record and record.service_id),
                    _("Choose an active service."),
                )
            case "practitioner":
                cleaned["practitioner_id"] = clean_reference(
                    cleaner,
                    name,
                    value,
                    _active_or_current(Practitioner.objects.all(), record and record.practitioner_id),
                    _("Choose an active practitioner."),
                )
            case "resource":
                cleaned["resource_id"] = clean_reference(
                    cleaner,
                    name,
                    value,
                    _active_or_current(Resource.objects.all(), record and record.resource_id),
                    _("Choose an active resource."),
                )
            case "contact" if record is not None and _safe_id(value) == record.contact_id:
                # Not chosen again: the appointment may be the actor's as its practitioner
                # while its person is past their record scope.
                cleaned["contact_id"] = record.contact_id
            case "contact":
                cleaned["contact_id"] = clean_reference(
                    cleaner, name, value, scoped(actor, Contact.objects.all()), _("Choose an existing contact.")
                )
            case "recall" if partial:
                cleaner.fail(name, _("An appointment is linked to its recall when it is booked."))
            case "recall":
                # A booked recall has its appointment already: a second one would leave it
                # booked after the first is cancelled.
                open_recalls = visible_recalls(actor).exclude(status__in=(Recall.Status.STOPPED, Recall.Status.BOOKED))
                cleaned["recall_id"] = clean_reference(
                    cleaner, name, value, open_recalls, _("Choose a recall that is not booked or stopped.")
                )
            case "starts_at" | "ends_at":
                moment = cleaner.moment(name, value, time_required=True)
                # In UTC: minutes added in a wall-clock zone (as the forms give) would be wall time,
                # a 90-minute visit at 01:30 the night the clocks change lasting 30 or 150 minutes.
                cleaned[name] = moment.astimezone(UTC) if moment is not None else None
            case "notes" | "clinical_details":
                cleaned[name] = cleaner.text(name, value, max_length=20000, multiline=True)
            case "send_reminder":
                if value is None or value == "":
                    cleaned[name] = True
                elif isinstance(value, bool):
                    cleaned[name] = value
                else:
                    cleaner.fail(name, _("Enter true or false."))
    for name in ("service_id", "practitioner_id", "contact_id", "starts_at"):
        if (
            name in cleaned
            and cleaned[name] is None
            and not any(e.field == name.removesuffix("_id") for e in cleaner.errors)
        ):
            cleaner.fail(name.removesuffix("_id"), _("This field is required."))
    return cleaned, cleaner


def _local(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _clash_message(clash: Appointment, who: str) -> str:
    start, end = timezone.localtime(clash.starts_at), timezone.localtime(clash.ends_at)
    values = {"start": _local(start), "end": formats.time_format(end, "TIME_FORMAT")}
    # In brackets: a time can end in a full stop of its own ("9:30 a.m.").
    if who == "practitioner":
        return _("The practitioner already has an appointment at that time (%(start)s to %(end)s).") % values
    return _("The resource is already booked at that time (%(start)s to %(end)s).") % values


def _check_free(cleaner: Cleaner, appointment: Appointment) -> None:
    """Lock the practitioner's and the resource's rows, then look for an overlapping appointment.

    Call inside the transaction that writes the appointment, so that the lock holds until commit.
    """
    Practitioner.objects.select_for_update().filter(pk=appointment.practitioner_id).first()
    if appointment.resource_id:
        Resource.objects.select_for_update().filter(pk=appointment.resource_id).first()
    overlapping = (
        Appointment.objects.filter(
            status__in=ACTIVE_STATUSES, starts_at__lt=appointment.ends_at, ends_at__gt=appointment.starts_at
        )
        .exclude(pk=appointment.pk)
        .only("id", "starts_at", "ends_at")
        .order_by("starts_at")
    )
    clash = overlapping.filter(practitioner_id=appointment.practitioner_id).first()
    if clash is not None:
        cleaner.fail("practitioner", _clash_message(clash, "practitioner"))
    if appointment.resource_id:
        clash = overlapping.filter(resource_id=appointment.resource_id).first()
        if clash is not None:
            cleaner.fail("resource", _clash_message(clash, "resource"))


def _check_times(cleaner: Cleaner, appointment: Appointment) -> None:
    if appointment.starts_at is None or appointment.ends_at is None:
        return
    if appointment.ends_at <= appointment.starts_at:
        cleaner.fail("ends_at", _("End the appointment after it starts."))
    elif appointment.ends_at - appointment.starts_at > MAX_LENGTH:
        cleaner.fail("ends_at", _("An appointment lasts at most 24 hours."))


def _raise_if(cleaner: Cleaner) -> None:
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)


def appointment_create(*, actor: Actor, data: Mapping[str, Any]) -> Appointment:
    """Book an appointment; without an end, it lasts as long as its service. Booked from a
    recall, it takes the recall's contact and service unless told otherwise."""
    actor.require("appointment.add")
    check_field_rights(actor, "appointment", given_fields(data), SPECIAL_APPOINTMENT_FIELDS)
    data = dict(data)
    recall = None
    recall_id = _safe_id(data["recall"]) if data.get("recall") else None
    if recall_id is not None:
        recall = visible_recalls(actor).filter(pk=recall_id).first()
        if recall is not None:
            data.setdefault("contact", str(recall.contact_id))
            data.setdefault("service", str(recall.service_id))
    cleaned, cleaner = clean_appointment(actor, data, partial=False)
    _raise_if(cleaner)
    service = Service.objects.get(pk=cleaned["service_id"])
    if cleaned.get("ends_at") is None:
        cleaned["ends_at"] = cleaned["starts_at"] + timedelta(minutes=service.duration_minutes)
    if recall is not None and (recall.contact_id, recall.service_id) != (cleaned["contact_id"], cleaned["service_id"]):
        cleaner.fail("recall", _("The recall is for another contact or service."))
    appointment = Appointment(booked_by_id=actor.user_id, **cleaned)
    _check_times(cleaner, appointment)
    _raise_if(cleaner)
    with transaction.atomic():
        _check_free(cleaner, appointment)
        _raise_if(cleaner)
        insert_record(actor, appointment, "appointment", cleaned)
        if recall is not None:
            _recall_set(actor, Recall.objects.select_for_update().get(pk=recall.pk), status=Recall.Status.BOOKED)
    return appointment


def _safe_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def appointment_update(*, actor: Actor, appointment: Appointment, data: Mapping[str, Any]) -> Appointment:
    """Change the given fields. Moving it checks for conflicts again and, when the start or
    the person changes, sends its reminder again; a closed appointment keeps its time and place."""
    actor.require("appointment.change")
    check_field_rights(actor, "appointment", data.keys(), SPECIAL_APPOINTMENT_FIELDS)
    cleaned, cleaner = clean_appointment(actor, data, partial=True, record=appointment)
    _raise_if(cleaner)
    moved = any(
        getattr(appointment, name) != value
        for name, value in cleaned.items()
        if name.removesuffix("_id") in SCHEDULE_FIELDS
    )
    if moved and appointment.status not in TRANSITIONS:
        raise ValidationFailed.single("status", _("A closed appointment cannot be moved."))
    if appointment.recall_id is not None:
        # The recall is this person's for this service: another one would leave it booked for good.
        for name in ("contact", "service"):
            if cleaned.get(f"{name}_id", getattr(appointment, f"{name}_id")) != getattr(appointment, f"{name}_id"):
                cleaner.fail(
                    name, _("It was booked from a recall: book a new appointment for another person or service.")
                )
        _raise_if(cleaner)
    if "ends_at" in cleaned and cleaned["ends_at"] is None:
        # No end: as long as its service, as when booking.
        service = Service.objects.get(pk=cleaned.get("service_id", appointment.service_id))
        cleaned["ends_at"] = cleaned.get("starts_at", appointment.starts_at) + timedelta(
            minutes=service.duration_minutes
        )
    elif "starts_at" in cleaned and "ends_at" not in cleaned:
        # Moving the start keeps the length.
        cleaned["ends_at"] = cleaned["starts_at"] + (appointment.ends_at - appointment.starts_at)
    kept = {f.attname: getattr(appointment, f.attname) for f in Appointment._meta.concrete_fields if f.name in KEPT}
    after = Appointment(**(kept | cleaned))
    _check_times(cleaner, after)
    _raise_if(cleaner)
    with transaction.atomic():
        if moved:
            _check_free(cleaner, after)
            _raise_if(cleaner)
        # A new start, or another person, who has not had this reminder.
        remind_again = any(
            cleaned.get(name, getattr(appointment, name)) != getattr(appointment, name)
            for name in ("starts_at", "contact_id")
        )
        audited_update(actor, appointment, "appointment", cleaned)
        if remind_again:
            # Written whatever this copy says: the reminder job may have claimed it since it was read.
            Appointment.objects.filter(pk=appointment.pk).update(reminder_sent_at=None)
            appointment.reminder_sent_at = None
    return appointment


def appointment_set_status(
    *, actor: Actor, appointment: Appointment, status: str, now: datetime | None = None
) -> Appointment:
    """Confirm, complete, mark missed or cancel. Done, no-show and cancelled are final; an
    appointment is done or missed only once it has started."""
    actor.require("appointment.change")
    require_processable(appointment)  # a restricted person's appointment is kept as it stands
    now = now or timezone.now()
    with transaction.atomic():
        current = Appointment.objects.select_for_update().only("id", "status", "starts_at").get(pk=appointment.pk)
        allowed = TRANSITIONS.get(current.status, frozenset())
        if status not in allowed:
            if status not in Status.values:
                raise ValidationFailed.single(
                    "status", _("Choose one of: %(choices)s.") % {"choices": ", ".join(Status.values)}
                )
            raise Conflict(
                _("A %(current)s appointment cannot become %(new)s.")
                % {"current": Status(current.status).label, "new": Status(status).label}
            )
        if status in (Status.DONE, Status.NO_SHOW) and current.starts_at > now:
            raise ValidationFailed.single(
                "status", _("An appointment that has not started yet cannot be done or missed.")
            )
        before = current.status
        appointment.status = status
        appointment.status_changed_at = now
        appointment.updated_at = now
        appointment.save(update_fields=["status", "status_changed_at", "updated_at"])
        audit_record(
            actor=actor,
            action=STATUS_ACTIONS[Status(status)],
            object_type="appointment",
            object_id=appointment.pk,
            fields=["status"],
            extra={"from": before, "to": status},
        )
        if status == Status.DONE:
            _recall_after_done(actor, appointment, now)
        elif status in (Status.CANCELLED, Status.NO_SHOW):
            _recall_reopen(actor, appointment, now)
    return appointment


def appointment_delete(*, actor: Actor, appointment: Appointment) -> None:
    actor.require("appointment.delete")
    with transaction.atomic():
        if appointment.is_active and appointment.status != Status.DONE:
            _recall_reopen(actor, appointment, timezone.now())
        delete_audited(actor, appointment, "appointment")


def appointment_read_special(*, actor: Actor, appointment: Appointment) -> dict[str, str]:
    """Reveal the clinical details to an actor allowed to see them, and log the read."""
    actor.require("special_category.view")
    value = Appointment.objects.filter(pk=appointment.pk).values_list("clinical_details", flat=True).first() or ""
    if value:
        audit_record(
            actor=actor,
            action="appointment.read_special",
            object_type="appointment",
            object_id=appointment.pk,
            fields=["clinical_details"],
        )
    return {"clinical_details": value}


# Recalls moved by appointments ------------------------------------------------------------


def _recall_set(actor: Actor, recall: Recall, **changes: Any) -> None:
    changed = [name for name, value in changes.items() if getattr(recall, name) != value]
    if not changed:
        return
    for name in changed:
        setattr(recall, name, changes[name])
    recall.updated_at = timezone.now()
    recall.save(update_fields=[*changed, "updated_at"])
    audit_record(actor=actor, action="recall.update", object_type="recall", object_id=recall.pk, fields=changed)


def _recall_after_done(actor: Actor, appointment: Appointment, now: datetime) -> None:
    """The person's next recall of this service moves on from the day it was done (due at once
    for a visit recorded that late); a service with a recall interval starts one for a person
    who has none."""
    service = Service.objects.get(pk=appointment.service_id)
    zone = zoneinfo.ZoneInfo(scheduling_settings(actor.org_id).time_zone)
    done_on = timezone.localtime(appointment.starts_at, zone).date()
    recall = Recall.objects.select_for_update().filter(contact_id=appointment.contact_id, service=service).first()
    if recall is None:
        if not service.recall_months:
            return
        due_on = add_months(done_on, service.recall_months)
        recall = Recall(
            contact_id=appointment.contact_id,
            service=service,
            interval_months=service.recall_months,
            due_on=due_on,
            status=open_status_on(actor.org_id, due_on, now),
            last_done_on=done_on,
        )
        cleaned = {"contact_id": recall.contact_id, "service_id": service.pk, "due_on": recall.due_on}
        insert_record(actor, recall, "recall", cleaned | {"interval_months": recall.interval_months})
        return
    if recall.status == Recall.Status.STOPPED:
        return
    booked_ahead = Appointment.objects.filter(
        recall=recall, status__in=(Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)
    ).exclude(pk=appointment.pk)
    if recall.status == Recall.Status.BOOKED and booked_ahead.exists():
        # Another visit (an emergency) was done: the check-up booked from the recall still stands.
        _recall_set(actor, recall, last_done_on=done_on)
        return
    due_on = add_months(done_on, recall.interval_months)
    _recall_set(actor, recall, due_on=due_on, status=open_status_on(actor.org_id, due_on, now), last_done_on=done_on)


def _recall_reopen(actor: Actor, appointment: Appointment, now: datetime) -> None:
    """A cancelled or missed appointment booked from a recall leaves the recall open again."""
    if appointment.recall_id is None:
        return
    recall = Recall.objects.select_for_update().filter(pk=appointment.recall_id, status=Recall.Status.BOOKED).first()
    if recall is not None:
        _recall_set(actor, recall, status=open_status_on(actor.org_id, recall.due_on, now))
