"""Reminder mails to the person an appointment is for, each sent once.

A periodic job claims the appointments whose reminder is due (a conditional update of
`reminder_sent_at`, so two runs never claim the same one) and enqueues one mail task per
appointment, with ids only. The task checks again, sends in the contact's language (the
organisation's reminder language when the contact has none) and the organisation's time
zone, and gives the claim back if sending fails, so the next run retries. No mail goes to
a person whose processing is restricted (or who is erased), to a contact without an email,
or for an appointment that asks for none.
"""

from __future__ import annotations

import smtplib
import uuid
import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone, translation

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.models import Organization
from custos.privacy.models import Subject
from custos.scheduling.models import Appointment, Service
from custos.scheduling.selectors.catalogue import practitioner_name
from custos.scheduling.services.catalogue import scheduling_settings

REMINDED = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)


class ReminderNotSent(RuntimeError):
    """Says which appointment, never the address: task results and logs keep this text."""


def _remindable(now: datetime) -> Any:
    """Appointments still ahead whose person wants, and may get, a reminder."""
    return Appointment.objects.filter(
        status__in=REMINDED,
        send_reminder=True,
        starts_at__gt=now,
        contact__subject__state=Subject.State.ACTIVE,
    ).exclude(contact__email="")


def reminders_claim(*, org_id: uuid.UUID, now: datetime | None = None) -> list[uuid.UUID]:
    """Claim the current organisation's appointments whose reminder is due; returns their ids."""
    now = now or timezone.now()
    default_hours = scheduling_settings(org_id).reminder_hours
    longest = max(default_hours, Service.objects.aggregate(longest=Max("reminder_hours"))["longest"] or 0)
    candidates = (
        _remindable(now)
        .filter(reminder_sent_at__isnull=True, starts_at__lte=now + timedelta(hours=longest))
        .select_related("service")
        .only("id", "starts_at", "service__reminder_hours")
    )
    claimed = []
    for appointment in candidates:
        hours = appointment.service.reminder_hours or default_hours
        if appointment.starts_at - timedelta(hours=hours) > now:
            continue
        if Appointment.objects.filter(pk=appointment.pk, reminder_sent_at__isnull=True).update(reminder_sent_at=now):
            claimed.append(appointment.pk)
    return claimed


def reminder_send(*, org_id: uuid.UUID, appointment_id: Any, now: datetime | None = None) -> bool:
    """Send one claimed reminder; False when it is no longer wanted. Raises ReminderNotSent
    (and gives the claim back) when the mail server refuses it."""
    now = now or timezone.now()
    appointment = (
        _remindable(now)
        .filter(pk=appointment_id, reminder_sent_at__isnull=False)
        .select_related("service", "contact", "practitioner__user", "resource")
        .defer("clinical_details", "contact__health_notes", "contact__custom_special")
        .first()
    )
    if appointment is None:
        return False
    settings_ = scheduling_settings(org_id)
    zone = zoneinfo.ZoneInfo(settings_.time_zone)
    context = {
        "organization": Organization.objects.get(pk=org_id).name,
        "name": " ".join(part for part in (appointment.contact.first_name, appointment.contact.last_name) if part),
        "service": appointment.service.name,
        "practitioner": practitioner_name(appointment.practitioner),
        "place": appointment.resource.name if appointment.resource else "",
        "starts_at": timezone.localtime(appointment.starts_at, zone),
        "ends_at": timezone.localtime(appointment.ends_at, zone),
    }
    # The person's own language when the contact has one; else the organisation's reminder language.
    language = appointment.contact.language or settings_.language
    with translation.override(language), timezone.override(zone):
        subject = render_to_string("scheduling/mail/reminder_subject.txt", context).strip()
        body = render_to_string("scheduling/mail/reminder.txt", context)
    try:
        send_mail(subject, body, None, [appointment.contact.email])
    except (smtplib.SMTPException, OSError) as error:
        Appointment.objects.filter(pk=appointment.pk).update(reminder_sent_at=None)
        raise ReminderNotSent(f"reminder for appointment {appointment.pk} failed: {type(error).__name__}") from None
    with transaction.atomic():
        audit_record(
            actor=Actor.system(org_id), action="appointment.remind", object_type="appointment", object_id=appointment.pk
        )
    return True
