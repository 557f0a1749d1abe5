"""Data-subject requests: received → verified → (in progress) → completed or rejected.

Every step is audited with ids only. The answer to a new request has the same shape
whether or not its email is known, so the API and the portal reveal nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, NotFound, ValidationFailed
from custos.core.models import Organization
from custos.core.personal_data import Category, model_field
from custos.core.tenancy import require_org_id
from custos.core.validation import Cleaner
from custos.privacy.models import PrivacyRequest, PrivacySettings, Subject
from custos.privacy.registry import records_of
from custos.privacy.services.erasure import subject_erase
from custos.privacy.services.hooks import records_changed
from custos.privacy.services.reports import access_report, portability_data
from custos.privacy.services.restriction import subject_object, subject_restrict
from custos.privacy.services.subjects import subjects_with_email

Kind = PrivacyRequest.Kind
Status = PrivacyRequest.Status
LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
# Art. 12(3): "extended by two further months where necessary".
MAX_EXTENSION_DAYS = 61


def privacy_settings() -> PrivacySettings:
    found = PrivacySettings.objects.first()
    return found if found is not None else PrivacySettings()


def _clean_details(cleaner: Cleaner, kind: str, value: Any) -> dict[str, Any]:
    if value in (None, {}):
        return {"about": "marketing"} if kind == Kind.OBJECTION else {}
    if not isinstance(value, Mapping):
        cleaner.fail("details", _("Enter an object."))
        return {}
    if kind == Kind.OBJECTION:
        about = cleaner.choice("details.about", value.get("about", "marketing"), ("marketing", "profiling"))
        return {"about": about}
    if kind == Kind.RECTIFICATION:
        corrections = value.get("corrections", {})
        if not isinstance(corrections, Mapping) or not all(isinstance(v, str) for v in corrections.values()):
            cleaner.fail("details.corrections", _("Enter an object of field names and corrected texts."))
            return {}
        for name, text in corrections.items():
            cleaner.text(f"details.corrections.{name}", text, max_length=300)
        note = cleaner.text("details.note", value.get("note", ""), max_length=2000, multiline=True)
        return {"corrections": dict(corrections), "note": note}
    note = cleaner.text("details.note", value.get("note", ""), max_length=2000, multiline=True)
    return {"note": note} if note else {}


def request_create(
    *,
    actor: Actor,
    kind: Any,
    email: Any,
    language: Any = None,
    details: Any = None,
    source: str = PrivacyRequest.Source.STAFF,
    subject: Subject | None = None,
) -> PrivacyRequest:
    """Receive a request; the deadline runs from now (Art. 12(3)). The person is found by the
    email, unless the caller knows them already (`subject`: the portal's link names them, and
    they may have no email on record)."""
    if actor.via != "portal":
        actor.require("privacy_request.add")
    cleaner = Cleaner()
    kind = cleaner.choice("kind", kind, Kind.values)
    email = cleaner.email("email", email, required=subject is None)
    language = cleaner.choice("language", language or "en", LANGUAGES)
    cleaned_details = _clean_details(cleaner, kind, details) if kind else {}
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    if subject is None:
        found = subjects_with_email(email)
        subject = found[0] if found else None
    now = timezone.now()
    with transaction.atomic():
        request = PrivacyRequest.objects.create(
            kind=kind,
            source=source,
            subject=subject,
            email=email,
            language=language,
            details=cleaned_details,
            received_at=now,
            due_at=now + dt.timedelta(days=privacy_settings().request_days),
        )
        audit_record(
            actor=actor,
            action="privacy_request.create",
            object_type="privacy_request",
            object_id=request.pk,
            extra={"kind": kind, "source": source},
        )
    return request


def _step(actor: Actor, request: PrivacyRequest, action: str, **extra: Any) -> None:
    audit_record(
        actor=actor,
        action=f"privacy_request.{action}",
        object_type="privacy_request",
        object_id=request.pk,
        extra=extra,
    )


def _locked(request: PrivacyRequest) -> PrivacyRequest:
    return PrivacyRequest.objects.select_for_update().get(pk=request.pk)


def _require_open(request: PrivacyRequest) -> None:
    if not request.is_open:
        raise Conflict(_("This request is closed already."))


def request_verify(*, actor: Actor, request: PrivacyRequest, reason: Any) -> PrivacyRequest:
    """Staff confirm the requester's identity and say how (ID seen, known caller…)."""
    actor.require("privacy_request.change")
    cleaner = Cleaner()
    reason = cleaner.text("reason", reason, max_length=1000, required=True, multiline=True)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        if request.verified_at is not None:
            raise Conflict(_("This request is verified already."))
        request.verification = PrivacyRequest.Verification.STAFF
        request.verification_reason = reason
        request.verified_at = timezone.now()
        request.status = Status.VERIFIED
        request.handler_id = actor.user_id
        request.save()
        _step(actor, request, "verify", method="staff")
    return request


def request_verification_secret(*, request: PrivacyRequest) -> str:
    """A one-time secret for the link mailed to the address on record; only its hash is kept."""
    secret = secrets.token_urlsafe(32)
    PrivacyRequest.objects.filter(pk=request.pk).update(verification_digest=hashlib.sha256(secret.encode()).hexdigest())
    return secret


def request_verify_by_email(*, actor: Actor, secret: str) -> PrivacyRequest:
    """The requester followed the link sent to the email on record: they hold that address."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with transaction.atomic():
        request = PrivacyRequest.objects.select_for_update().filter(verification_digest=digest).first()
        if request is None or not request.is_open:
            raise NotFound()
        if request.verified_at is None:
            request.verification = PrivacyRequest.Verification.EMAIL
            request.verified_at = timezone.now()
            request.status = Status.VERIFIED
            request.verification_digest = ""
            request.save()
            _step(actor, request, "verify", method="email")
    return request


def request_extend(*, actor: Actor, request: PrivacyRequest, days: Any, reason: Any) -> PrivacyRequest:
    """Extend the deadline once, by at most two months, with the reason documented."""
    actor.require("privacy_request.change")
    cleaner = Cleaner()
    days = cleaner.integer("days", days, minimum=1, maximum=MAX_EXTENSION_DAYS)
    reason = cleaner.text("reason", reason, max_length=1000, required=True, multiline=True)
    if cleaner.errors or days is None:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        if request.extended_at is not None:
            raise Conflict(_("The deadline of this request has been extended already."))
        request.due_at += dt.timedelta(days=days)
        request.extended_at = timezone.now()
        request.extension_reason = reason
        request.save()
        _step(actor, request, "extend", days=days)
    return request


def request_reject(*, actor: Actor, request: PrivacyRequest, reason: Any) -> PrivacyRequest:
    actor.require("privacy_request.change")
    cleaner = Cleaner()
    reason = cleaner.text("reason", reason, max_length=2000, required=True, multiline=True)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        request.status = Status.REJECTED
        request.rejection_reason = reason
        request.completed_at = timezone.now()
        request.handler_id = request.handler_id or actor.user_id
        request.save()
        _step(actor, request, "reject")
    return request


def _rectify(actor: Actor, subject: Subject, corrections: Mapping[str, str]) -> dict[str, Any]:
    """Apply each correction to every record of the person that declares that field as
    identity or contact data; returns what changed, by record type and field name."""
    country = Organization.objects.get(pk=require_org_id()).country
    cleaner = Cleaner()
    changed: dict[str, list[str]] = {}
    for found in records_of(subject):
        declaration = found.declaration
        if declaration.copy_of_personal_data:
            continue
        for name, value in sorted(corrections.items()):
            if declaration.fields.get(name) not in (Category.IDENTITY, Category.CONTACT):
                continue
            field_of = model_field(declaration.model, name)
            if isinstance(field_of, models.EmailField):
                value = cleaner.email(name, value)
            elif "phone" in name:
                value = cleaner.phone(name, value, country=country)
            else:
                value = cleaner.text(name, value, max_length=field_of.max_length or 300)
            if cleaner.errors:
                raise ValidationFailed(cleaner.errors)
            if found.queryset.exclude(**{name: value}).update(**{name: value}):
                changed.setdefault(declaration.model._meta.label, []).append(name)
    unknown = sorted(set(corrections) - {n for names in changed.values() for n in names})
    records_changed(subject)
    return {"corrected": {label: sorted(names) for label, names in changed.items()}, "not_applied": unknown}


def _perform(actor: Actor, request: PrivacyRequest) -> dict[str, Any]:
    subject = request.subject
    if subject is None:
        return {"found": False}
    match request.kind:
        case Kind.ACCESS:
            report = access_report(subject, language=request.language)
            return {"found": True, "records": len(report["records"])}
        case Kind.PORTABILITY:
            data = portability_data(subject)
            return {"found": True, "records": sum(len(rows) for rows in data.values())}
        case Kind.ERASURE:
            return {"found": True, **subject_erase(actor=actor, subject=subject).as_dict()}
        case Kind.RESTRICTION:
            subject_restrict(actor=actor, subject=subject)
            return {"found": True, "restricted": True}
        case Kind.OBJECTION:
            about = request.details.get("about", "marketing")
            subject_object(actor=actor, subject=subject, about=about)
            return {"found": True, "objection": about}
        case Kind.RECTIFICATION:
            return {"found": True, **_rectify(actor, subject, request.details.get("corrections", {}))}
    raise AssertionError(request.kind)


def request_complete(*, actor: Actor, request: PrivacyRequest) -> PrivacyRequest:
    """Carry out a verified request for its person and record what was done; a request the
    law does not let us carry out (a legal hold) is answered as rejected, with the reason."""
    actor.require("privacy_request.change")
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        if request.verified_at is None:
            raise Conflict(_("Verify the requester's identity before completing the request."))
        request.status = Status.IN_PROGRESS
        try:
            with transaction.atomic():
                result = _perform(actor, request)
        except Conflict as refusal:
            # The law keeps the data (a legal hold, Art. 17(3)) or it is gone already: the
            # request is answered, rejected with the reason, rather than left open.
            request.status = Status.REJECTED
            request.rejection_reason = refusal.detail
            request.completed_at = timezone.now()
            request.handler_id = request.handler_id or actor.user_id
            request.save()
            _step(actor, request, "reject")
            return request
        request = _locked(request)  # an erasure has just anonymised this request's own email
        request.status = Status.COMPLETED
        request.completed_at = timezone.now()
        request.handler_id = request.handler_id or actor.user_id
        request.result = result
        request.save()
        _step(actor, request, "complete", kind=request.kind)
    return request


def requests_due_soon(now: dt.datetime | None = None) -> models.QuerySet[PrivacyRequest]:
    """Open requests whose deadline falls within the reminder window and not yet reminded."""
    now = now or timezone.now()
    window = dt.timedelta(days=privacy_settings().reminder_days)
    return PrivacyRequest.objects.filter(
        status__in=[Status.RECEIVED, Status.VERIFIED, Status.IN_PROGRESS],
        due_at__lte=now + window,
        reminded_at__isnull=True,
    )
