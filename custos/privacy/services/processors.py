"""The processors register (Art. 28): who processes personal data for the organisation, where,
under which agreement, and how a transfer out of the EU/EEA is safeguarded (Art. 44 to 49).

Art. 19: a processor marked "inform of changes", with a contact address, is told of every
rectification, erasure or restriction, if the organisation informs recipients (privacy
settings): when such a request is completed, and when staff restrict a person, or lift the
restriction, directly on the person's page (the restriction's mail asks the recipient to hold
the data until told otherwise). The mail names only what the recipient must act on: the person
by the addresses it knows them by, what to do, and for a rectification the corrected values
as stored (cleaned as the records were written).

One `RecipientNotice` per recipient is recorded in the change's own transaction and mailed in
process after commit. The person's addresses are read before an erasure removes them; they
stay on the notice, encrypted, only until the mail went or was given up, and never reach a
task payload, an audit entry or a log. A notice the process did not live to send, or whose
mail the server refused, is sent by the sweeper (`privacy.send_recipient_notices`); a
compare-and-set claim makes each attempt one process's. A request records whom it informed
and when; a change without a request, the person's audit trail.

Each notice ends informed or given up, and the record says which, and why a notice was given
up (ids and reason codes, never values): its attempts were used, its recipient (or the
address) was removed, the person was erased first, or the restriction it announces was lifted
before it went; a lifting goes only to a recipient the restriction it lifts reached, else it is
given up at its turn. Until then a refused notice shows as pending, with the time of its next
attempt. Each outcome is recorded as soon as it is known, once.
"""

from __future__ import annotations

import datetime as dt
import json
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
from custos.privacy.models import PrivacyRequest, PrivacySettings, Processor, Purpose, RecipientNotice, Subject
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


def _clean_signed_on(cleaner: Cleaner, value: Any) -> dt.date | None:
    """An agreement is signed on a day that has come: a later one is a typing error."""
    signed_on = cleaner.date("dpa_signed_on", value)
    if signed_on is not None and signed_on > timezone.localdate():
        cleaner.fail("dpa_signed_on", _("This date is in the future; enter when the agreement was signed."))
        return None
    return signed_on


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
        "dpa_signed_on": _clean_signed_on(cleaner, merged["dpa_signed_on"]),
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
        # First: it locks the requests it records on before any audit entry (see the lock order).
        recipients_give_up(processor=processor, reason=RECIPIENT_REMOVED)
        audit_record(actor=actor, action="processor.delete", object_type="processor", object_id=processor.pk)
        processor.delete()


# Informing recipients (Art. 19) ------------------------------------------------------------

Kind = RecipientNotice.Kind
NoticeStatus = RecipientNotice.Status
# What a recipient is told of: a completed rectification, erasure or restriction, and a
# restriction lifted (the restriction's mail asks them to hold the data "until we tell you").
INFORMED_KINDS = frozenset(Kind.values)
# The mail normally goes right after commit; a notice still pending this long after it was
# recorded (the process died in between) is the sweeper's. Also the first wait after a refusal.
SWEEP_AFTER = dt.timedelta(minutes=5)
# A refused mail is tried again after 5, 10, 20… minutes, at most 12 hours apart: 12 attempts
# span about two and a half days, then the notice is given up (and its values emptied).
MAX_ATTEMPTS = 12
MAX_RETRY_DELAY = dt.timedelta(hours=12)
SWEEP_BATCH = 200
# Why a notice was given up unsent: codes on the request's record and in the audit trail.
ATTEMPTS_USED = "attempts_used"  # every attempt refused, or cut short
RECIPIENT_REMOVED = "recipient_removed"  # the processor, or its address, removed meanwhile
PERSON_ERASED = "person_erased"  # the person erased first: the erasure's own notice tells them
RESTRICTION_LIFTED = "restriction_lifted"  # lifted before the recipient heard of it
RESTRICTION_NOT_SENT = "restriction_not_sent"  # a lifting whose restriction was never told


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th attempt a notice waits (also how long a claim holds)."""
    return min(SWEEP_AFTER * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)


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
class NoticeDetails:
    """What the mail names the person by and, for a rectification, the values as stored."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    # (record type, field name, corrected value)
    corrections: tuple[tuple[str, str, str], ...] = field(default=())

    def dumps(self) -> str:
        return json.dumps(
            {"emails": self.emails, "phones": self.phones, "corrections": self.corrections}, ensure_ascii=False
        )

    @classmethod
    def loads(cls, text: str) -> NoticeDetails:
        data = json.loads(text)
        return cls(
            emails=tuple(data["emails"]),
            phones=tuple(data["phones"]),
            corrections=tuple((str(label), str(name), str(value)) for label, name, value in data["corrections"]),
        )


@dataclass(frozen=True)
class PreparedNotice:
    """Whom to tell of a change and how to name the person, read before the change (an
    erasure removes the addresses)."""

    kind: str
    subject: Subject
    processors: tuple[Processor, ...]
    details: NoticeDetails


def recipients_prepare(*, kind: str, subject: Subject | None) -> PreparedNotice | None:
    """Before the change, in its transaction: None when nobody is to be told, because the
    organisation informs no one, the kind is not told, or the change changes nothing (a
    restriction of a person restricted already was told then; an erased person was told at
    the erasure)."""
    if kind not in INFORMED_KINDS or subject is None:
        return None
    # Locked, so that a request's restriction and a direct one at the same time tell once.
    state, restricted_at = Subject.objects.select_for_update().values_list("state", "restricted_at").get(pk=subject.pk)
    if state == Subject.State.ERASED:
        return None
    if kind == Kind.RESTRICTION and state != Subject.State.ACTIVE:
        return None
    if kind == Kind.RESTRICTION_LIFTED and state != Subject.State.RESTRICTED:
        return None
    processors = recipients_to_inform()
    if kind == Kind.RESTRICTION_LIFTED:
        # Only those told of the restriction it lifts, or still to be: a recipient added since, or
        # whose notice was given up, never heard of it.
        told = RecipientNotice.objects.filter(
            subject=subject, kind=Kind.RESTRICTION, status__in=[NoticeStatus.INFORMED, NoticeStatus.PENDING]
        )
        if restricted_at is not None:
            told = told.filter(created_at__gte=restricted_at)
        processor_ids = set(told.values_list("processor_id", flat=True))
        processors = [p for p in processors if p.pk in processor_ids]
    if not processors:
        return None
    found = identifiers_of(subject)
    details = NoticeDetails(
        emails=tuple(sorted(found["email"])),
        # Only when no address is on record: the least that still names the person.
        phones=() if found["email"] else tuple(sorted(found["phone"])),
    )
    return PreparedNotice(kind=kind, subject=subject, processors=tuple(processors), details=details)


def recipients_schedule(
    *,
    prepared: PreparedNotice,
    request: PrivacyRequest | None = None,
    corrections: tuple[tuple[str, str, str], ...] = (),
) -> list[dict[str, Any]]:
    """After the change, in its transaction: one pending notice per recipient, mailed once the
    transaction commits (or by the sweeper, if that never happens); returns the entries a
    request records whom it informs by. A rectification that corrected nothing tells no one.

    `corrections`: (record type, field name, value as stored) for each field corrected."""
    if prepared.kind == Kind.RECTIFICATION:
        if not corrections:
            return []
        details = NoticeDetails(prepared.details.emails, prepared.details.phones, tuple(corrections))
    else:
        details = prepared.details
    now = timezone.now()
    notices = RecipientNotice.objects.bulk_create(
        RecipientNotice(
            subject=prepared.subject,
            request=request,
            processor=processor,
            kind=prepared.kind,
            details=details.dumps(),
            next_attempt_at=now + SWEEP_AFTER,
            created_at=now,
        )
        for processor in prepared.processors
    )
    transaction.on_commit(
        partial(recipients_inform, require_org_id(), [n.pk for n in notices], after_commit=True), robust=True
    )
    return [{"processor": str(p.pk), "name": p.name, "status": "pending", "at": None} for p in prepared.processors]


def _field_label(label: str, name: str) -> str:
    try:
        return str(apps.get_model(label)._meta.get_field(name).verbose_name)
    except (LookupError, ValueError):
        return name


def _claim(notice_id: uuid.UUID, *, after_commit: bool, now: dt.datetime) -> RecipientNotice | None:
    """Take a pending notice for one attempt, or None if it is not to be tried now or another
    process took it first: a compare-and-set on its attempts, committed before the mail goes.
    The attempt's claim holds until its retry time, so nobody else tries meanwhile. It only
    claims: whether the notice is still to be sent is `_attempt`'s to decide, so that a notice
    stays pending (and later ones to its recipient wait) until its outcome is recorded.

    After commit, only a notice nobody tried yet is taken; the sweeper takes those due."""
    seen = (
        RecipientNotice.objects.filter(pk=notice_id, status=NoticeStatus.PENDING)
        .values_list("attempts", "next_attempt_at", "subject_id", "processor_id")
        .first()
    )
    if seen is None:
        return None
    attempts, due_at, subject_id, processor_id = seen
    if (attempts != 0) if after_commit else (due_at > now):
        return None
    if RecipientNotice.objects.filter(
        subject_id=subject_id, processor_id=processor_id, status=NoticeStatus.PENDING, pk__lt=notice_id
    ).exists():
        # An earlier notice to this recipient about this person is not through yet: they must
        # arrive in order (a "lifted" before its restriction, old corrections last, mislead).
        return None
    # Held from now, not from when a long sweep began: else a claim made late is over already.
    held_from = max(now, timezone.now())
    taken = RecipientNotice.objects.filter(pk=notice_id, status=NoticeStatus.PENDING, attempts=attempts).update(
        attempts=attempts + 1, next_attempt_at=held_from + retry_delay(attempts + 1)
    )
    if not taken:
        return None
    return RecipientNotice.objects.select_related("processor", "subject").get(pk=notice_id)


def _mail(notice: RecipientNotice, processor: Processor, organization: Organization, language: str) -> EmailMessage:
    details = NoticeDetails.loads(notice.details)
    with translation.override(language):
        corrections: dict[str, str] = {}
        for label, name, value in details.corrections:
            corrections.setdefault(_field_label(label, name), value)
        context = {
            "organization": organization.name,
            "processor": processor.name,
            "kind": notice.kind,
            "requested": notice.request_id is not None,
            "reference": notice.subject.reference,
            "emails": details.emails,
            "phones": details.phones,
            "corrections": sorted(corrections.items()),
        }
        subject_line = render_to_string("privacy/mail/recipient_notice_subject.txt", context).strip()
        body = render_to_string("privacy/mail/recipient_notice.txt", context)
    return EmailMessage(subject_line, body, None, [processor.contact_email], headers={"Content-Language": language})


@dataclass
class _Outcome:
    notice: RecipientNotice
    status: str  # informed, failed (given up), or pending (refused, tried again at `retry_at`)
    at: dt.datetime
    retry_at: dt.datetime | None = None
    reason: str = ""  # why it was given up


# Lock order, everywhere a notice's outcome is recorded: the notice rows, then their requests
# (by pk), then the audit head (`audit_record`). A sweeper recording one outcome and a deletion
# or erasure giving many up thus never each wait for what the other holds.


def _lifted(notice: RecipientNotice) -> bool:
    """Whether a notice lifting this restriction, to the same recipient about the same person,
    waits behind it."""
    return RecipientNotice.objects.filter(
        subject_id=notice.subject_id,
        processor_id=notice.processor_id,
        kind=Kind.RESTRICTION_LIFTED,
        status=NoticeStatus.PENDING,
        pk__gt=notice.pk,
    ).exists()


def _restriction_told(notice: RecipientNotice) -> bool:
    """Whether the recipient got the restriction a lifting lifts: the latest earlier one to them
    about the person. Final by now: `_claim` takes no notice while an earlier one is pending."""
    latest = (
        RecipientNotice.objects.filter(
            subject_id=notice.subject_id, processor_id=notice.processor_id, kind=Kind.RESTRICTION, pk__lt=notice.pk
        )
        .order_by("-pk")
        .values_list("status", flat=True)
        .first()
    )
    return latest == NoticeStatus.INFORMED


def _why_not_sent(notice: RecipientNotice) -> str:
    """The reason to give a claimed notice up instead of mailing it, or ""."""
    if notice.attempts > MAX_ATTEMPTS:
        return ATTEMPTS_USED  # every attempt was cut short (the process died while sending)
    processor = notice.processor
    if processor is None:
        return RECIPIENT_REMOVED
    if notice.kind == Kind.RESTRICTION_LIFTED and not _restriction_told(notice):
        return RESTRICTION_NOT_SENT
    if not processor.contact_email or not notice.details:
        return RECIPIENT_REMOVED  # its address removed meanwhile: nobody left to write to
    if notice.kind == Kind.RESTRICTION and _lifted(notice):
        # Lifted before the recipient heard of it: it needs to hear of neither. Decided here, by
        # the process holding the claim, so never while this notice's mail is on its way.
        return RESTRICTION_LIFTED
    return ""


def _given_up(notices: list[RecipientNotice], reason: str, now: dt.datetime) -> list[_Outcome]:
    """In the caller's transaction: give these notices up unsent, emptying their values. Outcomes
    only for those still pending under the lock: one given up meanwhile was recorded then."""
    pending = set(
        RecipientNotice.objects.select_for_update()
        .filter(pk__in=[n.pk for n in notices], status=NoticeStatus.PENDING)
        .values_list("pk", flat=True)
    )
    RecipientNotice.objects.filter(pk__in=pending).update(status=NoticeStatus.FAILED, details="")
    return [_Outcome(n, NoticeStatus.FAILED, now, reason=reason) for n in notices if n.pk in pending]


def _attempt(org_id: uuid.UUID, notice: RecipientNotice, organization: Organization, language: str) -> bool:
    """One attempt at one claimed notice, its outcome recorded at once (a crash loses at most
    this one); True if its mail went."""
    now = timezone.now()
    reason = _why_not_sent(notice)
    if reason:
        with transaction.atomic():
            _record(org_id, _given_up([notice], reason, now))
        return False
    processor = notice.processor
    assert processor is not None
    try:
        _mail(notice, processor, organization, language).send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning(
            "Art. 19 notice %s to processor %s failed (attempt %s): %s",
            notice.pk,
            processor.pk,
            notice.attempts,
            type(error).__name__,
        )
        with transaction.atomic():
            if notice.attempts >= MAX_ATTEMPTS:
                _record(org_id, _given_up([notice], ATTEMPTS_USED, now))
            else:
                _record(org_id, [_Outcome(notice, NoticeStatus.PENDING, now, retry_at=notice.next_attempt_at)])
        return False
    with transaction.atomic():
        # Its mail went, even if the notice was given up meanwhile (its recipient removed while
        # the mail was on its way): recorded informed, once.
        if (
            RecipientNotice.objects.filter(pk=notice.pk)
            .exclude(status=NoticeStatus.INFORMED)
            .update(status=NoticeStatus.INFORMED, details="", sent_at=now)
        ):
            _record(org_id, [_Outcome(notice, NoticeStatus.INFORMED, now)])
    return True


# An audit entry holds short values (ids, names): four processor ids fit, so more recipients
# make more entries.
AUDIT_CHUNK = 4


def _audit_extras(outcomes: list[_Outcome]) -> list[dict[str, Any]]:
    """What each audit entry says, ids and counts only: the recipients informed, how many were
    given up (those for one reason together) and how many are tried again, from when."""
    by_reason: dict[str, list[_Outcome]] = {}
    for outcome in outcomes:
        by_reason.setdefault(outcome.reason, []).append(outcome)
    extras = []
    for reason, group in by_reason.items():
        for start in range(0, len(group), AUDIT_CHUNK):
            part = group[start : start + AUDIT_CHUNK]
            extra: dict[str, Any] = {
                "informed": [str(o.notice.processor_id) for o in part if o.status == NoticeStatus.INFORMED],
                "failed": sum(1 for o in part if o.status == NoticeStatus.FAILED),
            }
            retries = [o.retry_at for o in part if o.retry_at is not None]
            if retries:
                extra |= {"pending": len(retries), "retry_at": min(retries).isoformat()}
            if reason:
                extra["reason"] = reason
            extras.append(extra)
    return extras


def _still_true(outcomes: list[_Outcome]) -> list[_Outcome]:
    """Leave out a refusal whose notice was given up meanwhile (an erasure, the recipient
    removed): that was recorded then, and the notice is not tried again. Read with the notices
    locked, first (the lock order), so that no give-up is recorded between this and the record."""
    waiting = [o.notice.pk for o in outcomes if o.status == NoticeStatus.PENDING]
    if not waiting:
        return outcomes
    pending = set(
        RecipientNotice.objects.select_for_update()
        .filter(pk__in=waiting, status=NoticeStatus.PENDING)
        .values_list("pk", flat=True)
    )
    return [o for o in outcomes if o.status != NoticeStatus.PENDING or o.notice.pk in pending]


def _record_on_request(org_id: uuid.UUID, request_id: uuid.UUID, outcomes: list[_Outcome]) -> None:
    """The request's entries say whom it informed and when, whom it gave up on and why, and
    when a refused mail is tried again."""
    with transaction.atomic():
        outcomes = _still_true(outcomes)
        request = PrivacyRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            return
        by_processor = {str(o.notice.processor_id): o for o in outcomes if o.notice.processor_id is not None}
        removed = [o for o in outcomes if o.notice.processor_id is None]
        if removed:
            # A notice whose processor left the register before it was given up (deleted the
            # way nothing is any more) no longer says whose it was: it stands for every entry
            # still pending whose processor is gone.
            waiting = [e.get("processor") for e in request.result.get("recipients", []) if e.get("status") == "pending"]
            present = {str(pk) for pk in Processor.objects.filter(pk__in=waiting).values_list("pk", flat=True)}
            by_processor |= {pk: removed[0] for pk in waiting if pk not in present}
        entries = []
        for entry in request.result.get("recipients", []):
            outcome = by_processor.get(entry.get("processor"))
            if outcome is not None:
                entry = {k: v for k, v in entry.items() if k not in ("retry_at", "reason")}
                entry["status"] = str(outcome.status)
                entry["at"] = outcome.at.isoformat()
                if outcome.retry_at is not None:
                    entry["retry_at"] = outcome.retry_at.isoformat()
                if outcome.reason:
                    entry["reason"] = outcome.reason
            entries.append(entry)
        request.result = {**request.result, "recipients": entries}
        request.save(update_fields=["result"])
        for extra in _audit_extras(outcomes):
            audit_record(
                actor=Actor.system(org_id),
                action="privacy_request.inform_recipients",
                object_type="privacy_request",
                object_id=request_id,
                extra=extra,
            )


def _record_on_subject(org_id: uuid.UUID, subject_id: uuid.UUID, kind: str, outcomes: list[_Outcome]) -> None:
    """A change made without a request: the person's audit trail says whom it informed."""
    with transaction.atomic():
        for extra in _audit_extras(_still_true(outcomes)):
            audit_record(
                actor=Actor.system(org_id),
                action="subject.inform_recipients",
                object_type="subject",
                object_id=subject_id,
                extra={"kind": kind, **extra},
            )


def _record(org_id: uuid.UUID, outcomes: list[_Outcome]) -> None:
    """Each outcome on its request's record, or on the person's audit trail."""
    by_request: dict[uuid.UUID, list[_Outcome]] = {}
    by_change: dict[tuple[uuid.UUID, str], list[_Outcome]] = {}
    for outcome in outcomes:
        if outcome.notice.request_id is not None:
            by_request.setdefault(outcome.notice.request_id, []).append(outcome)
        else:
            by_change.setdefault((outcome.notice.subject_id, outcome.notice.kind), []).append(outcome)
    for request_id, of_request in by_request.items():
        _record_on_request(org_id, request_id, of_request)
    for (subject_id, kind), of_change in by_change.items():
        _record_on_subject(org_id, subject_id, kind, of_change)


def recipients_give_up(*, reason: str, subject: Subject | None = None, processor: Processor | None = None) -> None:
    """In the caller's transaction, before the change: the pending notices about this person
    (an erasure, which then deletes them) or to this recipient (removed from the register) are
    given up unsent, and their requests and the audit trail say why."""
    pending = RecipientNotice.objects.filter(status=NoticeStatus.PENDING)
    if subject is not None:
        pending = pending.filter(subject=subject)
    elif processor is not None:
        pending = pending.filter(processor=processor)
    else:
        raise TypeError("recipients_give_up needs a subject or a processor")
    notices = list(pending.select_for_update(of=("self",)).select_related("processor", "subject").order_by("pk"))
    if not notices:
        return
    # Every request recorded on, locked now, in order, before any audit entry (the lock order).
    requests = {n.request_id for n in notices if n.request_id is not None}
    list(PrivacyRequest.objects.select_for_update().filter(pk__in=requests).order_by("pk").values_list("pk"))
    _record(require_org_id(), _given_up(notices, reason, timezone.now()))


def recipients_inform(
    org_id: uuid.UUID, notice_ids: list[uuid.UUID], *, after_commit: bool = False, now: dt.datetime | None = None
) -> int:
    """Mail each of these notices that is due and not taken by another process, in the
    organisation's language, and record each outcome; returns how many were sent. Runs outside
    a transaction: each claim commits before its mail goes. Logs ids only."""
    from custos.privacy.services.breaches import organization_language

    with tenant_scope(org_id):
        organization = Organization.objects.get(pk=org_id)
        language = organization_language(organization)
        sent = 0
        for notice_id in notice_ids:
            notice = _claim(notice_id, after_commit=after_commit, now=now or timezone.now())
            if notice is not None:
                sent += _attempt(org_id, notice, organization, language)
    return sent


def recipients_sweep(org_id: uuid.UUID, *, now: dt.datetime | None = None) -> int:
    """Send the organisation's notices that are due: never sent after their commit (a crash),
    or refused before and due again. Several sweepers at once send each notice once."""
    now = now or timezone.now()
    sent = 0
    after: tuple[dt.datetime, uuid.UUID] | None = None
    with tenant_scope(org_id):
        while True:
            # Onwards from the last batch: a notice left waiting (its recipient has an earlier
            # one still pending) stays due, and must not be read again and again.
            due = RecipientNotice.objects.filter(status=NoticeStatus.PENDING, next_attempt_at__lte=now)
            if after is not None:
                due = due.filter(
                    models.Q(next_attempt_at__gt=after[0]) | models.Q(next_attempt_at=after[0], pk__gt=after[1])
                )
            batch = list(due.order_by("next_attempt_at", "pk").values_list("next_attempt_at", "pk")[:SWEEP_BATCH])
            if not batch:
                return sent
            sent += recipients_inform(org_id, [pk for _at, pk in batch], now=now)
            if len(batch) < SWEEP_BATCH:
                return sent
            after = batch[-1]
