"""Recalls: a person's next appointment of a service, due every so many months.

A done appointment moves its recall on (see `services.appointments`); a daily job marks
recalls whose day has come as due, and the list of due recalls is where staff book them.
Recalls belong to appointments: they need the `appointment.*` permissions.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Contact
from custos.crm.selectors.records import scoped
from custos.crm.services.records import clean_reference, insert_record, reject_unknown, update_record
from custos.privacy.services.restriction import without_restricted
from custos.scheduling.models import ACTIVE_STATUSES, Appointment, Recall, Service
from custos.scheduling.services.catalogue import scheduling_settings
from custos.scheduling.services.common import delete_audited

RECALL_FIELDS = ("contact", "service", "interval_months", "due_on", "status")
# Booked is set by booking; the others can be chosen.
CHOSEN_STATUSES = (Recall.Status.WAITING, Recall.Status.DUE, Recall.Status.STOPPED)
# Neither booked nor stopped: its status follows its day.
OPEN_STATUSES = (Recall.Status.WAITING, Recall.Status.DUE)


def clean_recall(
    actor: Actor, data: Mapping[str, Any], *, partial: bool, record: Recall | None = None
) -> dict[str, Any]:
    cleaner = Cleaner()
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, RECALL_FIELDS if not partial else ("interval_months", "due_on", "status"))
    for name in RECALL_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "contact":
                cleaned["contact_id"] = clean_reference(
                    cleaner, name, value, scoped(actor, Contact.objects.all()), _("Choose an existing contact.")
                )
            case "service":
                cleaned["service_id"] = clean_reference(
                    cleaner, name, value, Service.objects.filter(is_active=True), _("Choose an active service.")
                )
            case "interval_months":
                cleaned[name] = cleaner.integer(name, value, minimum=1, maximum=120)
            case "due_on":
                cleaned[name] = cleaner.date(name, value)
            case "status":
                cleaned[name] = cleaner.choice(name, value, CHOSEN_STATUSES, default=Recall.Status.WAITING)
                if cleaned[name] in OPEN_STATUSES and record is not None and _booked(record):
                    # Reopened, it could be booked a second time while its appointment stands;
                    # cancelling that appointment reopens a booked recall by itself.
                    cleaner.fail(
                        name, _("An appointment is booked from this recall: cancel it before reopening the recall.")
                    )
    for name in ("contact_id", "service_id", "interval_months", "due_on"):
        field = name.removesuffix("_id")
        if name in cleaned and cleaned[name] is None and not any(e.field == field for e in cleaner.errors):
            cleaner.fail(field, _("This field is required."))
    if not partial and not cleaner.errors:
        taken = Recall.objects.filter(contact_id=cleaned["contact_id"], service_id=cleaned["service_id"])
        if taken.exists():
            cleaner.fail("service", _("This contact has a recall for this service already."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _booked(recall: Recall) -> bool:
    """Booked, or stopped while an appointment booked from it still stands."""
    return (
        recall.status == Recall.Status.BOOKED
        or Appointment.objects.filter(recall=recall, status__in=ACTIVE_STATUSES).exists()
    )


def recall_create(*, actor: Actor, data: Mapping[str, Any]) -> Recall:
    """Start recalling a person for a service."""
    actor.require("appointment.add")
    cleaned = clean_recall(actor, data, partial=False)
    if cleaned["status"] == Recall.Status.WAITING:
        cleaned["status"] = open_status_on(actor.org_id, cleaned["due_on"])
    recall = Recall(**cleaned)
    with transaction.atomic():
        insert_record(actor, recall, "recall", cleaned)
    return recall


def recall_update(*, actor: Actor, recall: Recall, data: Mapping[str, Any]) -> Recall:
    """Change the interval, the day or the status (stop or resume it). A booked recall may
    be stopped, not reopened while its appointment stands; a waiting or due one moved to
    another day is due or waiting by that day, unless a status is given; one resumed (made
    waiting) whose day has come is due."""
    actor.require("appointment.change")
    with transaction.atomic():
        # As it stands now: a booking since this copy was read has made it booked.
        recall.status = Recall.objects.select_for_update().values_list("status", flat=True).get(pk=recall.pk)
        cleaned = clean_recall(actor, data, partial=True, record=recall)
        if "status" not in cleaned and cleaned.get("due_on") is not None and recall.status in OPEN_STATUSES:
            cleaned["status"] = open_status_on(actor.org_id, cleaned["due_on"])
        elif cleaned.get("status") == Recall.Status.WAITING:  # resumed: waiting only until its day
            cleaned["status"] = open_status_on(actor.org_id, cleaned.get("due_on") or recall.due_on)
        update_record(actor, recall, "recall", cleaned)
    return recall


def open_status_on(org_id: Any, due_on: date, now: datetime | None = None) -> str:
    """Due once its day has come in the organisation's time zone, else waiting: what the daily
    job would make it, so that an overdue recall is in the due list at once."""
    zone = zoneinfo.ZoneInfo(scheduling_settings(org_id).time_zone)
    return Recall.Status.DUE if due_on <= timezone.localdate(now or timezone.now(), zone) else Recall.Status.WAITING


def recall_delete(*, actor: Actor, recall: Recall) -> None:
    actor.require("appointment.delete")
    delete_audited(actor, recall, "recall")


def recalls_mark_due(*, actor: Actor, today: date | None = None) -> int:
    """Mark the current organisation's waiting recalls whose day has come (in its time zone) as due."""
    today = today or timezone.localdate(timezone=zoneinfo.ZoneInfo(scheduling_settings(actor.org_id).time_zone))
    with transaction.atomic():
        due = list(  # automation leaves a restricted person's recalls as they are
            without_restricted(Recall.objects.filter(status=Recall.Status.WAITING, due_on__lte=today))
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        if not due:
            return 0
        Recall.objects.filter(pk__in=due).update(status=Recall.Status.DUE, updated_at=timezone.now())
        audit_record(actor=actor, action="recall.mark_due", object_type="recall", extra={"count": len(due)})
    return len(due)
