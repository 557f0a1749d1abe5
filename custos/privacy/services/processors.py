"""The processors register (Art. 28): who processes personal data for the organisation, where,
under which agreement, and how a transfer out of the EU/EEA is safeguarded (Art. 44 to 49).

Art. 19: a processor marked "inform of changes", with a contact address, is told when a
rectification, erasure or restriction *request* is completed, if the organisation informs
recipients (privacy settings). A restriction staff set on the person's page without a request
informs no one yet: that is still to be built. The mail names only what the recipient must act on: the person by the
addresses it knows them by, what to do, and for a rectification the corrected values. It is
sent in-process after commit, like the double opt-in mail: the person's addresses are read
before an erasure removes them and live only in memory until they are in the mail, never in
a table, a task payload or a log. The request records whom it informed and when.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.apps import apps
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.core.models import Organization
from custos.core.tenancy import require_org_id, tenant_scope
from custos.core.validation import Cleaner
from custos.privacy.models import PrivacyRequest, PrivacySettings, Processor, Purpose, Subject
from custos.privacy.services.subjects import identifiers_of

logger = logging.getLogger(__name__)

PROCESSOR_FIELDS = (
    "name",
    "service",
    "location",
    "safeguard",
    "dpa_signed_on",
    "purposes",
    "is_active",
    "contact_email",
    "inform_of_changes",
)
NEW_PROCESSOR: dict[str, Any] = {
    "name": "",
    "service": "",
    "location": "",
    "safeguard": "",
    "dpa_signed_on": None,
    "purposes": [],
    "is_active": True,
    "contact_email": "",
    "inform_of_changes": False,
}
# The EU member states and the other EEA states (Iceland, Liechtenstein, Norway): no transfer
# safeguard is needed for a processor there.
EEA_COUNTRIES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
        *("IS", "LI", "NO"),
    }
)


def is_outside_eea(country: str) -> bool:
    return bool(country) and country not in EEA_COUNTRIES


# Reads -----------------------------------------------------------------------------------


def processor_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[Processor]:
    actor.require("processor.view")
    processors = Processor.objects.prefetch_related("purposes").order_by("pk")
    return processors.filter(is_active=True) if active_only else processors


def access_processor(actor: Actor, processor_id: Any, *, write: bool = False) -> Processor:
    """A processor of the actor's organisation; NotFound for missing and foreign alike."""
    actor.require("processor.change" if write else "processor.view")
    return get_or_not_found(Processor.objects.prefetch_related("purposes"), pk=processor_id)


# Changes ---------------------------------------------------------------------------------


def _clean_purposes(cleaner: Cleaner, value: Any) -> list[Purpose]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str | uuid.UUID) for item in value):
        cleaner.fail("purposes", _("Enter a list of purpose ids."))
        return []
    wanted: list[uuid.UUID] = []
    for item in value:
        try:
            wanted.append(item if isinstance(item, uuid.UUID) else uuid.UUID(item))
        except ValueError:
            cleaner.fail("purposes", _("“%(id)s” is not a purpose id.") % {"id": str(item)[:40]})
            return []
    found = {p.pk: p for p in Purpose.objects.filter(pk__in=wanted)}
    if len(found) != len(set(wanted)):
        cleaner.fail("purposes", _("Choose purposes of this organisation."))
        return []
    return [found[pk] for pk in dict.fromkeys(wanted)]


def _clean_processor(data: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The processor after the change, checked as a whole; raises with every problem at once."""
    cleaner = Cleaner()
    for name in data:
        if name not in PROCESSOR_FIELDS:
            cleaner.fail(name, _("Unknown field."))
    merged = dict(current) | dict(data)
    location = cleaner.country("location", merged["location"])
    if merged["location"] in (None, ""):
        cleaner.fail("location", _("This field is required."))
    safeguard = cleaner.choice("safeguard", merged["safeguard"], Processor.Safeguard.values)
    if is_outside_eea(location) and safeguard == Processor.Safeguard.NONE_NEEDED:
        cleaner.fail(
            "safeguard",
            _("A processor outside the EU/EEA needs a transfer safeguard: an adequacy decision, clauses or rules."),
        )
    is_active = merged["is_active"]
    if not isinstance(is_active, bool):
        cleaner.fail("is_active", _("Use true or false."))
        is_active = True
    inform = merged["inform_of_changes"]
    if not isinstance(inform, bool):
        cleaner.fail("inform_of_changes", _("Use true or false."))
        inform = False
    contact_email = cleaner.email("contact_email", merged["contact_email"])
    if inform and not contact_email and not any(e.field == "contact_email" for e in cleaner.errors):
        cleaner.fail("contact_email", _("Enter the address to inform the processor at."))
    cleaned = {
        "name": cleaner.text("name", merged["name"], max_length=200, required=True),
        "service": cleaner.text("service", merged["service"], max_length=300, required=True),
        "location": location,
        "safeguard": safeguard,
        "dpa_signed_on": cleaner.date("dpa_signed_on", merged["dpa_signed_on"]),
        "purposes": _clean_purposes(cleaner, merged["purposes"]),
        "is_active": is_active,
        "contact_email": contact_email,
        "inform_of_changes": inform,
    }
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _current(processor: Processor) -> dict[str, Any]:
    values = {name: getattr(processor, name) for name in PROCESSOR_FIELDS if name != "purposes"}
    return values | {"purposes": [p.pk for p in processor.purposes.all()]}


def processor_create(*, actor: Actor, data: Mapping[str, Any]) -> Processor:
    actor.require("processor.add")
    cleaned = _clean_processor(data, NEW_PROCESSOR)
    purposes = cleaned.pop("purposes")
    with transaction.atomic():
        processor = Processor.objects.create(**cleaned)
        processor.purposes.set(purposes)
        audit_record(actor=actor, action="processor.create", object_type="processor", object_id=processor.pk)
    return processor


def processor_update(*, actor: Actor, processor: Processor, data: Mapping[str, Any]) -> Processor:
    actor.require("processor.change")
    current = _current(processor)
    cleaned = _clean_processor(data, current)
    purposes = cleaned.pop("purposes")
    changed = sorted(name for name, value in cleaned.items() if getattr(processor, name) != value)
    purposes_changed = {p.pk for p in purposes} != set(current["purposes"])
    if not changed and not purposes_changed:
        return processor
    with transaction.atomic():
        for name in changed:
            setattr(processor, name, cleaned[name])
        if changed:
            processor.save(update_fields=changed)
        if purposes_changed:
            processor.purposes.set(purposes)
        audit_record(
            actor=actor,
            action="processor.update",
            object_type="processor",
            object_id=processor.pk,
            fields=[*changed, *(["purposes"] if purposes_changed else [])],
        )
    return Processor.objects.prefetch_related("purposes").get(pk=processor.pk)


def processor_delete(*, actor: Actor, processor: Processor) -> None:
    """Remove a processor from the register (one that stopped working for the organisation
    can stay, inactive, as a record)."""
    actor.require("processor.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="processor.delete", object_type="processor", object_id=processor.pk)
        processor.delete()


# Informing recipients (Art. 19) ------------------------------------------------------------

# What a recipient is told to do, per kind of request; other kinds inform nobody.
INFORMED_KINDS = (PrivacyRequest.Kind.RECTIFICATION, PrivacyRequest.Kind.ERASURE, PrivacyRequest.Kind.RESTRICTION)


def recipients_to_inform() -> list[Processor]:
    """The processors to tell of a rectification, erasure or restriction: none unless the
    organisation informs recipients; else the active ones marked so, with an address."""
    current = PrivacySettings.objects.first()
    if current is None or not current.inform_recipients:
        return []
    return list(
        Processor.objects.filter(is_active=True, inform_of_changes=True)
        .exclude(contact_email="")
        .order_by("name", "pk")
    )


@dataclass(frozen=True)
class RecipientNotice:
    """What the mail says; held in memory until it is sent, never stored."""

    kind: str
    reference: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    # (record type, field name, corrected value), for a rectification
    corrections: tuple[tuple[str, str, str], ...] = field(default=())


def recipients_prepare(
    request: PrivacyRequest, subject: Subject | None
) -> tuple[list[Processor], RecipientNotice | None]:
    """Before the request is carried out (an erasure removes the addresses): whom to tell, and
    how to name the person to them."""
    if request.kind not in INFORMED_KINDS or subject is None:
        return [], None
    processors = recipients_to_inform()
    if not processors:
        return [], None
    found = identifiers_of(subject)
    notice = RecipientNotice(
        kind=request.kind,
        reference=subject.reference,
        emails=tuple(sorted(found["email"])),
        # Only when no address is on record: the least that still names the person.
        phones=() if found["email"] else tuple(sorted(found["phone"])),
    )
    return processors, notice


def recipients_schedule(
    *, request: PrivacyRequest, processors: list[Processor], notice: RecipientNotice, result: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """After the request was carried out, in its transaction: the entries recording whom it
    informs (`pending` until the mail went), and the mail sent once it commits."""
    if request.kind == PrivacyRequest.Kind.RECTIFICATION:
        corrected = result.get("corrected", {})
        values = request.details.get("corrections", {})
        notice = RecipientNotice(
            kind=notice.kind,
            reference=notice.reference,
            emails=notice.emails,
            phones=notice.phones,
            corrections=tuple(
                (label, name, str(values.get(name, "")))
                for label, names in sorted(corrected.items())
                for name in names
                if name in values
            ),
        )
        if not notice.corrections:
            return []  # nothing changed: nothing to pass on
    entries = [{"processor": str(p.pk), "name": p.name, "status": "pending", "at": None} for p in processors]
    transaction.on_commit(partial(recipients_inform, require_org_id(), request.pk, notice), robust=True)
    return entries


def _field_label(label: str, name: str) -> str:
    try:
        return str(apps.get_model(label)._meta.get_field(name).verbose_name)
    except (LookupError, ValueError):
        return name


def recipients_inform(org_id: uuid.UUID, request_id: uuid.UUID, notice: RecipientNotice) -> int:
    """Mail each pending recipient of the request in the organisation's language and record
    the outcome; returns how many were informed. Logs ids only."""
    from custos.privacy.services.breaches import organization_language

    with tenant_scope(org_id):
        request = PrivacyRequest.objects.filter(pk=request_id).first()
        if request is None:
            return 0
        entries = [dict(e) for e in request.result.get("recipients", [])]
        pending = {e["processor"]: e for e in entries if e.get("status") == "pending"}
        processors = Processor.objects.filter(pk__in=list(pending)).exclude(contact_email="")
        organization = Organization.objects.get(pk=org_id)
        language = organization_language(organization)
        informed = 0
        for processor in processors:
            with translation.override(language):
                corrections: dict[str, str] = {}
                for label, name, value in notice.corrections:
                    corrections.setdefault(_field_label(label, name), value)
                context = {
                    "organization": organization.name,
                    "processor": processor.name,
                    "kind": notice.kind,
                    "reference": notice.reference,
                    "emails": notice.emails,
                    "phones": notice.phones,
                    "corrections": sorted(corrections.items()),
                }
                subject_line = render_to_string("privacy/mail/recipient_notice_subject.txt", context).strip()
                body = render_to_string("privacy/mail/recipient_notice.txt", context)
            message = EmailMessage(
                subject_line, body, None, [processor.contact_email], headers={"Content-Language": language}
            )
            entry = pending[str(processor.pk)]
            try:
                message.send()
            except (smtplib.SMTPException, OSError) as error:
                logger.warning(
                    "Art. 19 notice of request %s to processor %s failed: %s",
                    request_id,
                    processor.pk,
                    type(error).__name__,
                )
                entry["status"] = "failed"
            else:
                entry["status"] = "informed"
                informed += 1
            entry["at"] = timezone.now().isoformat()
        for entry in pending.values():
            if entry["status"] == "pending":  # removed from the register, or its address, meanwhile
                entry["status"] = "failed"
        with transaction.atomic():
            locked = PrivacyRequest.objects.select_for_update().get(pk=request_id)
            locked.result = {**locked.result, "recipients": entries}
            locked.save(update_fields=["result"])
            audit_record(
                actor=Actor.system(org_id),
                action="privacy_request.inform_recipients",
                object_type="privacy_request",
                object_id=request_id,
                extra={
                    "informed": [e["processor"] for e in entries if e["status"] == "informed"],
                    "failed": len(pending) - informed,
                },
            )
    return informed
