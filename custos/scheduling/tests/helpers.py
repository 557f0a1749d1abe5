"""A small practice in org A that the scheduling tests book into.

Times are fixed and far ahead (the week of Monday 7 January 2030, Berlin time) so that
nothing depends on today; tests that need "now" pass it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from custos.audit.models import AuditEntry
from custos.core.actor import Actor
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.scheduling.models import Appointment, Practitioner, Resource, Service
from custos.scheduling.services.appointments import appointment_create
from custos.scheduling.services.catalogue import practitioner_add, resource_create, service_create
from custos.testing import Cast

MONDAY_9 = "2030-01-07T09:00:00+01:00"


def at(text: str) -> datetime:
    """A moment written with its offset, as the API takes it."""
    return datetime.fromisoformat(text)


def utc(text: str) -> datetime:
    return at(text).astimezone(UTC)


@dataclass
class Practice:
    cast: Cast
    actor: Actor  # olive, the owner
    check_up: Service  # 30 minutes, recalled every 6 months
    cleaning: Service  # 45 minutes, no recall
    chair: Resource
    room: Resource
    dr_olive: Practitioner
    dr_alice: Practitioner
    greta: Contact  # a patient with an email
    jan: Contact  # a patient without one

    def book(self, actor: Actor | None = None, **data: Any) -> Appointment:
        """An appointment: the check-up with Dr Olive for Greta on Monday at 9 unless told otherwise."""
        defaults = {
            "service": str(self.check_up.pk),
            "practitioner": str(self.dr_olive.pk),
            "contact": str(self.greta.pk),
            "starts_at": MONDAY_9,
        }
        return appointment_create(actor=actor or self.actor, data=defaults | data)


def make_practice(cast: Cast) -> Practice:
    """Call inside `tenant_scope(cast.org_a)`."""
    actor = cast.actor(cast.olive)
    return Practice(
        cast=cast,
        actor=actor,
        check_up=service_create(
            actor=actor,
            data={"name": "Check-up", "duration_minutes": 30, "price": "60.00", "recall_months": 6},
        ),
        cleaning=service_create(actor=actor, data={"name": "Cleaning", "duration_minutes": 45, "price": "90"}),
        chair=resource_create(actor=actor, data={"name": "Chair 1", "kind": "chair"}),
        room=resource_create(actor=actor, data={"name": "Room 2", "kind": "room"}),
        dr_olive=practitioner_add(actor=actor, data={"user": str(cast.olive.pk)}),
        dr_alice=practitioner_add(actor=actor, data={"user": str(cast.alice.pk)}),
        greta=contact_create(
            actor=actor, data={"first_name": "Greta", "last_name": "Lind", "email": "greta@example.org"}
        ),
        jan=contact_create(actor=actor, data={"first_name": "Jan", "last_name": "Nowak"}),
    )


def audit_actions(org: Organization, prefix: str = "") -> list[str]:
    with tenant_scope(org):
        return list(
            AuditEntry.objects.filter(action__startswith=prefix).order_by("seq").values_list("action", flat=True)
        )


def last_audit(org: Organization) -> AuditEntry:
    with tenant_scope(org):
        entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    return entry
