"""Background work of the privacy engine. Payloads carry ids only, never personal values."""

from __future__ import annotations

import smtplib
import uuid
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import timezone, translation

from custos.accounts.models import Membership, User
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.privacy.models import PrivacyRequest


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
def send_deadline_reminder(org_id: str, request_id: str) -> int:
    """Mail the handlers: which kind of request, when it is due, where to find it; no personal data."""
    with tenant_scope(uuid.UUID(org_id)):
        request = PrivacyRequest.objects.filter(pk=request_id).first()
        if request is None or not request.is_open:
            return 0
        link = f"{settings.CUSTOS_BASE_URL}/privacy/requests/{request.pk}/"
        sent = 0
        for user in _handlers(request):
            with translation.override(user.language or settings.LANGUAGE_CODE):
                context = {"request": request, "link": link, "kind": request.get_kind_display()}
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
