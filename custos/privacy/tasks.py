"""Background work of the privacy engine. Payloads carry ids only, never personal values."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from custos.accounts.models import Membership, User
from custos.core.models import Organization
from custos.core.net import staff_link
from custos.core.tenancy import tenant_scope
from custos.privacy.models import Breach, PrivacyRequest

logger = logging.getLogger(__name__)


class ReminderNotSent(RuntimeError):
    """Names the request and the user, never an address (task results keep this text)."""


def _handlers(request: PrivacyRequest) -> list[User]:
    """The request's handler; without one, every member who may handle requests."""
    if request.handler_id is not None:
        return list(User.objects.filter(pk=request.handler_id, is_active=True))
    members = Membership.objects.filter(org_id=request.org_id, user__is_active=True).select_related("user", "role")
    return [m.user for m in members if "privacy_request.change" in m.role.permissions]


@task
def remind_request_deadlines() -> int:
    """Every organisation's open requests nearing their deadline: one reminder each, once."""
    from custos.privacy.services.requests import requests_due_soon

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id), transaction.atomic():
            due = list(requests_due_soon().select_for_update().values_list("pk", flat=True))
            PrivacyRequest.objects.filter(pk__in=due).update(reminded_at=timezone.now())
            for request_id in due:
                transaction.on_commit(partial(send_deadline_reminder.enqueue, str(org_id), str(request_id)))
        total += len(due)
    return total


@task
def forget_closed_requests() -> int:
    """Every organisation's closed requests past the years it keeps them: the requester's details go."""
    from custos.privacy.services.requests import requests_forget

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            total += requests_forget()
    return total


@task
def send_deadline_reminder(org_id: str, request_id: str) -> int:
    """Mail the handlers: which kind of request, when it is due, where to find it; no personal data."""
    with tenant_scope(uuid.UUID(org_id)):
        request = PrivacyRequest.objects.filter(pk=request_id).first()
        if request is None or not request.is_open:
            return 0
        link = staff_link(org_id, reverse("web:privacy-request-detail", args=[request.pk]))
        sent = 0
        for user in _handlers(request):
            # The deadline as the handler reads it: in their own zone, named, like a breach's clock.
            time_zone = user.time_zone or settings.TIME_ZONE
            with translation.override(user.language or settings.LANGUAGE_CODE), timezone.override(time_zone):
                context = {
                    "request": request,
                    "link": link,
                    "kind": request.get_kind_display(),
                    "due": _in_zone(request.due_at, time_zone),
                }
                subject = render_to_string("privacy/mail/deadline_subject.txt", context).strip()
                body = render_to_string("privacy/mail/deadline.txt", context)
            try:
                send_mail(subject, body, None, [user.email])
            except (smtplib.SMTPException, OSError) as error:
                raise ReminderNotSent(
                    f"reminder for request {request.pk} to user {user.pk}: {type(error).__name__}"
                ) from None
            sent += 1
        return sent


@task
def remind_breach_clocks() -> int:
    """Every organisation's open breaches not yet reported to the authority: tell the privacy
    officers when 24 hours are left and when the 72 hours have passed, once each."""
    from custos.privacy.services.breaches import breach_reminders_due

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id), transaction.atomic():
            due = breach_reminders_due()
            locked = {b.pk: b for b in Breach.objects.select_for_update().filter(pk__in=[b.pk for b, _t in due])}
            for breach, threshold in due:
                current = locked.get(breach.pk)
                if current is None or threshold in current.clock_reminders:
                    continue  # another run took it
                current.clock_reminders = [*current.clock_reminders, threshold]
                current.save(update_fields=["clock_reminders"])
                transaction.on_commit(
                    partial(send_breach_clock_reminder.enqueue, str(org_id), str(breach.pk), threshold)
                )
                total += 1
    return total


@task
def send_recipient_notices() -> int:
    """Every organisation's Art. 19 notices that are due: never mailed after their commit (the
    process died first) or refused by the mail server before; returns how many went."""
    from custos.privacy.services.processors import recipients_sweep

    sent = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        try:
            sent += recipients_sweep(org_id)
        except Exception as error:  # one organisation's failure must not hold up the others'
            # The error's type only: its message could quote a value.
            logger.error("Art. 19 sweep of organisation %s failed: %s", org_id, type(error).__name__)
    return sent


@task
def send_breach_clock_reminder(org_id: str, breach_id: str, threshold: str) -> int:
    """Mail the privacy officers where the breach's clock stands and where to find it; no title,
    no description, nothing about the persons: those may name someone."""
    from custos.privacy.services.breaches import breach_clock, breach_officers

    with tenant_scope(uuid.UUID(org_id)):
        breach = Breach.objects.filter(pk=breach_id).first()
        if breach is None:
            return 0
        clock = breach_clock(breach)
        if clock.stopped:
            return 0  # reported or closed since
        link = staff_link(org_id, reverse("web:breach-detail", args=[breach.pk]))
        sent = 0
        for user_id, email, language, time_zone in breach_officers(uuid.UUID(org_id)):
            with translation.override(language), timezone.override(time_zone):
                context = {
                    "aware": _in_zone(breach.aware_at, time_zone),
                    "due": _in_zone(clock.due_at, time_zone),
                    "clock": clock,
                    "link": link,
                    "overdue": clock.overdue,
                }
                subject = render_to_string("privacy/mail/breach_clock_subject.txt", context).strip()
                body = render_to_string("privacy/mail/breach_clock.txt", context)
            try:
                send_mail(subject, body, None, [email])
            except (smtplib.SMTPException, OSError) as error:
                # Give the threshold back: the next run (a quarter of an hour on) tries again.
                # An officer already mailed may get it twice; none may miss it.
                with transaction.atomic():
                    held = Breach.objects.select_for_update().get(pk=breach.pk)
                    held.clock_reminders = [t for t in held.clock_reminders if t != threshold]
                    held.save(update_fields=["clock_reminders"])
                raise ReminderNotSent(
                    f"breach clock reminder for breach {breach.pk} to user {user_id}: {type(error).__name__}"
                ) from None
            sent += 1
        return sent


def _in_zone(moment: dt.datetime, time_zone: str) -> str:
    """A moment as the officer reads it, naming their zone: the deadline is to the minute."""
    return f"{date_format(timezone.localtime(moment), 'DATETIME_FORMAT')} ({time_zone})"


@task
def send_breach_notice(org_id: str, breach_subject_id: str) -> bool:
    """One notice to one affected person (Art. 34); raises (and gives the claim back) if the mail
    server refuses it. The address and the language are looked up when the mail goes."""
    from custos.privacy.services.breaches import breach_notice_send

    with tenant_scope(uuid.UUID(org_id)):
        return breach_notice_send(org_id=uuid.UUID(org_id), breach_subject_id=breach_subject_id)


@task
def clean_storage(tables: list[str]) -> list[str]:
    """Remove what an erasure left behind in these tables' storage (old row versions, deleted
    index terms); payloads carry table names only. See `erasure.storage_clean`."""
    from custos.privacy.services.erasure import storage_clean

    return storage_clean(tables)
