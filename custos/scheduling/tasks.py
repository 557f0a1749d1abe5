"""Background work of scheduling. Payloads carry ids only, never personal values."""

from __future__ import annotations

import uuid
from functools import partial

from django.tasks import task


@task
def send_reminders() -> int:
    """Every organisation's due reminders: claimed here, each sent by its own task."""
    from django.db import transaction

    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.scheduling.services.reminders import reminders_claim

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id), transaction.atomic():
            claimed = reminders_claim(org_id=org_id)
            for appointment_id in claimed:
                transaction.on_commit(partial(send_appointment_reminder.enqueue, str(org_id), str(appointment_id)))
        total += len(claimed)
    return total


@task
def send_appointment_reminder(org_id: str, appointment_id: str) -> bool:
    """One reminder mail; raises (and gives the claim back) if the mail server refuses it."""
    from custos.core.tenancy import tenant_scope
    from custos.scheduling.services.reminders import reminder_send

    with tenant_scope(uuid.UUID(org_id)):
        return reminder_send(org_id=uuid.UUID(org_id), appointment_id=appointment_id)


@task
def mark_due_recalls() -> int:
    """Every organisation's recalls whose day has come, marked due."""
    from custos.core.actor import Actor
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.scheduling.services.recalls import recalls_mark_due

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            total += recalls_mark_due(actor=Actor.system(org_id))
    return total
