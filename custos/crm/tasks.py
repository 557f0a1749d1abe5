"""Background work of the CRM. Payloads carry ids only."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.tasks import task


@task
def run_import(org_id: str, job_id: str) -> None:
    """Process an import from its checkpoint; safe to run again after an interruption."""
    from custos.crm.imports import run_job

    run_job(org_id, job_id)


@task
def expire_imports() -> int:
    """Every organisation's import journals past the undo window, and abandoned uploads."""
    from custos.crm.imports import imports_expire

    return _in_every_organisation(lambda _org_id: imports_expire())


@task
def resume_imports() -> int:
    """Every organisation's imports whose worker died mid-file, handed to a worker again."""
    from custos.crm.imports import imports_resume

    return _in_every_organisation(lambda _org_id: imports_resume())


@task
def reassign_untouched_leads() -> int:
    """Every organisation's leads left untouched past their assignment rule's limit."""
    from custos.crm.services.rules import reassign_untouched

    return _in_every_organisation(lambda org_id: reassign_untouched(org_id=org_id))


@task
def rescore_lapsed_leads() -> int:
    """Every organisation's leads whose recent activity is no longer recent."""
    from custos.crm.services.rules import rescore_lapsed

    return _in_every_organisation(lambda _org_id: rescore_lapsed())


@task
def remove_custom_values(org_id: str, object_type: str, key: str, special: bool) -> int:
    """The values of a deleted custom field, taken off every record of the organisation."""
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.custom_fields import remove_values

    with tenant_scope(uuid.UUID(org_id)):
        return remove_values(object_type, key, special=special)


@task
def finish_custom_value_removals() -> int:
    """Every organisation's removals of a deleted field's values whose task was lost, run again."""
    from custos.crm.services.custom_fields import finish_removals

    return _in_every_organisation(lambda _org_id: finish_removals())


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


def _in_every_organisation(job: Callable[[uuid.UUID], int]) -> int:
    """Run the job inside each organisation in turn; the sum of what it counted."""
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            total += job(org_id)
    return total
