"""Periodic jobs: each has a period; every worker's scheduler enqueues it once per period.

The slot (the start of the current period) is written with a unique constraint, so when
several workers run, exactly one of them enqueues each run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger("custos.periodic")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str  # dotted path of a django.tasks Task taking no arguments
    every: timedelta


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("audit.truncate_old_ips", "custos.audit.tasks.truncate_old_ips", timedelta(days=1)),
    PeriodicJob("tasks.prune_results", "custos.core.tasks.prune_task_results", timedelta(days=1)),
    PeriodicJob("core.refresh_statistics", "custos.core.tasks.refresh_statistics", timedelta(days=1)),
    PeriodicJob("accounts.prune_throttle", "custos.accounts.tasks.prune_throttle_counters", timedelta(hours=1)),
    PeriodicJob("accounts.clear_sessions", "custos.accounts.tasks.clear_expired_sessions", timedelta(days=1)),
    PeriodicJob("crm.expire_imports", "custos.crm.tasks.expire_imports", timedelta(hours=6)),
    # 5 minutes: an import whose worker died goes on at most a quarter of an hour after its last batch.
    PeriodicJob("crm.resume_imports", "custos.crm.tasks.resume_imports", timedelta(minutes=5)),
    PeriodicJob("crm.finish_value_removals", "custos.crm.tasks.finish_custom_value_removals", timedelta(hours=1)),
    PeriodicJob("crm.reassign_untouched", "custos.crm.tasks.reassign_untouched_leads", timedelta(minutes=15)),
    # 6 hours: points for recent activity go at most this late once it is no longer recent.
    PeriodicJob("crm.rescore_lapsed", "custos.crm.tasks.rescore_lapsed_leads", timedelta(hours=6)),
    # 5 minutes: a task's reminder reaches its assignee at most this late.
    PeriodicJob("crm.send_task_reminders", "custos.crm.tasks.send_task_reminders", timedelta(minutes=5)),
    PeriodicJob("scheduling.send_reminders", "custos.scheduling.tasks.send_reminders", timedelta(minutes=15)),
    PeriodicJob("scheduling.mark_due_recalls", "custos.scheduling.tasks.mark_due_recalls", timedelta(hours=6)),
    PeriodicJob("accounts.offboard_due", "custos.accounts.tasks.delete_offboarded_organizations", timedelta(hours=6)),
    PeriodicJob("privacy.remind_deadlines", "custos.privacy.tasks.remind_request_deadlines", timedelta(hours=6)),
    PeriodicJob("privacy.forget_requests", "custos.privacy.tasks.forget_closed_requests", timedelta(days=1)),
    # 15 minutes: the 72-hour clock's reminders go out at most a quarter of an hour late.
    PeriodicJob("privacy.remind_breach_clocks", "custos.privacy.tasks.remind_breach_clocks", timedelta(minutes=15)),
    # 5 minutes: an Art. 19 notice the process did not live to mail goes at most this late.
    PeriodicJob("privacy.send_recipient_notices", "custos.privacy.tasks.send_recipient_notices", timedelta(minutes=5)),
    PeriodicJob(
        "privacy.apply_retention", "custos.privacy.services.retention.apply_retention_policies", timedelta(days=1)
    ),
)


def slot_of(job: PeriodicJob, now: datetime) -> datetime:
    seconds = int(job.every.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def enqueue_due(*, now: datetime | None = None, jobs: tuple[PeriodicJob, ...] = JOBS) -> list[str]:
    """Enqueue every job whose current period has no run yet; returns the names enqueued."""
    from custos.core.models import PeriodicRun

    now = now or timezone.now()
    enqueued = []
    for job in jobs:
        try:
            with transaction.atomic():
                PeriodicRun.objects.create(name=job.name, slot=slot_of(job, now))
                import_string(job.task).enqueue()
        except IntegrityError:
            continue  # another scheduler took this slot
        logger.info("enqueued periodic job %s", job.name)
        enqueued.append(job.name)
    return enqueued
