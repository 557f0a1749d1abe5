"""A task's reminder, mailed once to the member it is assigned to.

A periodic job claims the open tasks whose reminder time has come (a conditional update of
`reminded_at`, so two runs never claim the same task) and enqueues one mail task per
reminder, with ids only. The mail says when the task is due and links to it, in the
member's language and time zone; it carries no title or details, which may name a person
and would otherwise sit in a mailbox outside Custos. A reminder whose time passed more than
a day before it was found (the worker was down) is marked, not sent: a late flood helps
nobody. Moving the reminder sends it again; a task done, reassigned to nobody, or assigned
to someone no longer a member gets none.
"""

from __future__ import annotations

import smtplib
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from custos.accounts.models import Membership
from custos.core.models import Organization
from custos.core.net import staff_link
from custos.crm.models import Activity

# A reminder found later than this after its time is marked without a mail.
STALE_AFTER = timedelta(days=1)


class TaskReminderNotSent(RuntimeError):
    """Names the task, never the address: task results and logs keep this text."""


def _unsent() -> Any:
    return Activity.objects.filter(
        kind=Activity.Kind.TASK, done_at__isnull=True, reminded_at__isnull=True, reminder_at__isnull=False
    )


def task_reminders_claim(*, now: datetime | None = None) -> list[uuid.UUID]:
    """Claim the current organisation's task reminders whose time has come (stamping them with
    `now`, which the mail task is given to check its claim by); returns the ids to mail.
    Those more than STALE_AFTER late are marked in one statement and left out."""
    now = now or timezone.now()
    _unsent().filter(reminder_at__lt=now - STALE_AFTER).update(reminded_at=now)
    due = _unsent().filter(reminder_at__lte=now).values_list("pk", flat=True)
    # Each claimed on its own condition: a reminder moved since it was read is left alone.
    return [pk for pk in due if _unsent().filter(pk=pk, reminder_at__lte=now).update(reminded_at=now)]


def task_reminder_send(*, org_id: uuid.UUID, activity_id: Any, claimed_at: datetime) -> bool:
    """Mail one claimed reminder; False when it is no longer wanted (done, moved since the
    claim, nobody to tell). Raises TaskReminderNotSent, giving the claim back, when the mail
    server refuses."""
    task = (
        Activity.objects.filter(pk=activity_id, kind=Activity.Kind.TASK, done_at__isnull=True, reminded_at=claimed_at)
        .only("id", "due_at", "owner_id")
        .first()
    )
    if task is None or task.owner_id is None:
        return False
    member = (
        Membership.objects.filter(org_id=org_id, user_id=task.owner_id, is_active=True, user__is_active=True)
        .select_related("user")
        .first()
    )
    if member is None:
        return False
    user = member.user
    context = {
        "name": user.full_name,
        "organization": Organization.objects.get(pk=org_id).name,
        "due_at": task.due_at,
        "link": staff_link(org_id, reverse("web:activity-edit", args=[task.pk])),
    }
    with translation.override(user.language or settings.LANGUAGE_CODE), timezone.override(user.time_zone):
        subject = render_to_string("crm/mail/task_reminder_subject.txt", context).strip()
        body = render_to_string("crm/mail/task_reminder.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except (smtplib.SMTPException, OSError) as error:
        Activity.objects.filter(pk=task.pk, reminded_at=claimed_at).update(reminded_at=None)
        raise TaskReminderNotSent(f"reminder of task {task.pk} failed: {type(error).__name__}") from None
    return True
