"""Background work of the CRM. Payloads carry ids only."""

from __future__ import annotations

import uuid

from django.tasks import task


@task
def run_import(org_id: str, job_id: str) -> None:
    """Process an import from its checkpoint; safe to run again after an interruption."""
    from custos.crm.imports import run_job

    run_job(org_id, job_id)


@task
def expire_imports() -> int:
    """Every organisation's import journals past the undo window, and abandoned uploads."""
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.crm.imports import imports_expire

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            total += imports_expire()
    return total


@task
def reassign_untouched_leads() -> int:
    """Every organisation's leads left untouched past their assignment rule's limit."""
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.rules import reassign_untouched

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            total += reassign_untouched(org_id=org_id)
    return total


@task
def rescore_lapsed_leads() -> int:
    """Every organisation's leads whose recent activity is no longer recent."""
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.rules import rescore_lapsed

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            total += rescore_lapsed()
    return total


@task
def remove_custom_values(org_id: str, object_type: str, key: str, special: bool) -> int:
    """The values of a deleted custom field, taken off every record of the organisation."""
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.custom_fields import remove_values

    with tenant_scope(uuid.UUID(org_id)):
        return remove_values(object_type, key, special=special)


@task
def send_task_reminders() -> int:
    """Every organisation's task reminders whose time has come: claimed here, each mailed by its own task."""
    from functools import partial

    from django.db import transaction
    from django.utils import timezone

    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.reminders import task_reminders_claim

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        now = timezone.now()
        with tenant_scope(org_id), transaction.atomic():
            claimed = task_reminders_claim(now=now)
            for activity_id in claimed:
                enqueue = partial(send_task_reminder.enqueue, str(org_id), str(activity_id), now.isoformat())
                transaction.on_commit(enqueue)
        total += len(claimed)
    return total


@task
def send_task_reminder(org_id: str, activity_id: str, claimed_at: str) -> bool:
    """One reminder mail to the task's assignee, if its claim (the time it was claimed at) still
    stands; raises (and gives the claim back) if the mail server refuses it."""
    from datetime import datetime

    from custos.core.tenancy import tenant_scope
    from custos.crm.services.reminders import task_reminder_send

    with tenant_scope(uuid.UUID(org_id)):
        return task_reminder_send(
            org_id=uuid.UUID(org_id), activity_id=activity_id, claimed_at=datetime.fromisoformat(claimed_at)
        )
