"""Reads of appointments and recalls: who may see which, access functions, lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models
from django.db.models import Q

from custos.core.actor import Actor, RecordScope
from custos.core.lookup import get_or_not_found
from custos.crm.models import Contact
from custos.crm.selectors.records import scoped
from custos.scheduling.models import Appointment, Recall

# Decrypted only when asked for (an audited reveal), never for lists.
UNREAD_SPECIAL = ("clinical_details", "contact__health_notes", "contact__custom_special")


def _scope_owners(actor: Actor) -> set[Any]:
    return set(actor.team_member_ids) if actor.record_scope == RecordScope.TEAM else {actor.user_id}


def visible_appointments(actor: Actor) -> models.QuerySet[Appointment]:
    """An appointment is visible to its practitioner (and their team, with team scope) and to
    whoever may see its contact; with the record scope `all`, to everyone who may view appointments."""
    actor.require("appointment.view")
    queryset = Appointment.objects.select_related("service", "practitioner__user", "resource", "contact").defer(
        *UNREAD_SPECIAL
    )
    if actor.record_scope == RecordScope.ALL:
        return queryset
    return queryset.filter(
        Q(practitioner__user_id__in=_scope_owners(actor))
        | Q(contact__in=scoped(actor, Contact.objects.all()).values("pk"))
    )


def access_appointment(actor: Actor, appointment_id: Any, *, write: bool = False) -> Appointment:
    """The appointment if the actor may see it (and change it, with write); else NotFound."""
    if write:
        actor.require("appointment.change")
    return get_or_not_found(visible_appointments(actor), pk=appointment_id)


def appointment_list(
    actor: Actor,
    *,
    practitioner_id: Any = None,
    resource_id: Any = None,
    contact_id: Any = None,
    status: str = "",
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
) -> models.QuerySet[Appointment]:
    """Appointments the actor may see, in id order, narrowed by the filters given."""
    queryset = visible_appointments(actor)
    filters: dict[str, Any] = {
        "practitioner_id": practitioner_id,
        "resource_id": resource_id,
        "contact_id": contact_id,
        "status": status or None,
        "starts_at__gte": starts_from,
        "starts_at__lt": starts_before,
    }
    return queryset.filter(**{name: value for name, value in filters.items() if value is not None}).order_by("id")


def contact_appointments(actor: Actor, contact: Contact, *, limit: int = 50) -> list[Appointment]:
    """A contact's appointments, latest first, for their page."""
    return list(visible_appointments(actor).filter(contact=contact).order_by("-starts_at")[:limit])


def visible_recalls(actor: Actor) -> models.QuerySet[Recall]:
    """Recalls of the contacts the actor may see."""
    actor.require("appointment.view")
    queryset = Recall.objects.select_related("service", "contact").defer(*UNREAD_SPECIAL[1:])
    if actor.record_scope == RecordScope.ALL:
        return queryset
    return queryset.filter(contact__in=scoped(actor, Contact.objects.all()).values("pk"))


def access_recall(actor: Actor, recall_id: Any, *, write: bool = False) -> Recall:
    if write:
        actor.require("appointment.change")
    return get_or_not_found(visible_recalls(actor), pk=recall_id)


def recall_list(
    actor: Actor, *, status: str = "", contact_id: Any = None, due_by: date | None = None
) -> models.QuerySet[Recall]:
    """Recalls in id order; `due_by`: those due on or before that day."""
    queryset = visible_recalls(actor)
    if status:
        queryset = queryset.filter(status=status)
    if contact_id is not None:
        queryset = queryset.filter(contact_id=contact_id)
    if due_by is not None:
        queryset = queryset.filter(due_on__lte=due_by)
    return queryset.order_by("id")
