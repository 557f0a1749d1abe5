"""The breach register (Art. 33 to 34): record a breach, run its 72-hour clock, tell the people.

A breach is written down as soon as someone becomes aware of it; the supervisory authority
must hear of it within 72 hours of that moment (Art. 33(1)) unless it is unlikely to put
anyone at risk. When it is likely to put people at high risk, they are told too (Art. 34):
one mail per affected person who has an email, in their language, sent by a task that
carries ids only. Affected persons are data subjects, picked by id or as everyone in a
contact or lead list the face narrowed: the privacy layer knows no contacts or leads. Every
step is audited with ids and counts, never values.
"""

from __future__ import annotations

import math
import smtplib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import batched
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.core.models import Organization
from custos.core.personal_data import CATEGORY_LABELS, Category
from custos.core.tenancy import require_org_id
from custos.core.validation import Cleaner
from custos.privacy.models import Breach, BreachSubject, PrivacyRequest, Subject
from custos.privacy.models.breaches import AUTHORITY_DEADLINE
from custos.privacy.registry import records_of
from custos.privacy.services.subjects import identifiers_of

BREACH_FIELDS = (
    "title",
    "aware_at",
    "occurred_at",
    "nature",
    "data_categories",
    "person_categories",
    "approx_persons",
    "approx_records",
    "consequences",
    "measures",
)
NEW_BREACH: dict[str, Any] = {
    "title": "",
    "aware_at": None,
    "occurred_at": None,
    "nature": "",
    "data_categories": [],
    "person_categories": "",
    "approx_persons": None,
    "approx_records": None,
    "consequences": "",
    "measures": "",
}
# A PositiveIntegerField holds this much on every database.
MAX_COUNT = 2_147_483_647
MAX_SUBJECTS_PER_CALL = 1000
LIST_BATCH = 2000  # rows a statement when a whole list is recorded
LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
# The organisation's language when a person never told us theirs: by its country, else English.
COUNTRY_LANGUAGES = {"DE": "de", "AT": "de", "CH": "de", "LI": "de", "PL": "pl"}


class ListChanged(Conflict):
    """The list holds another number of persons than the one confirmed: nothing was recorded."""


class BreachNoticeNotSent(RuntimeError):
    """Says which affected person (by link id), never the address: task results keep this text."""


# Reads -----------------------------------------------------------------------------------


def breach_list(actor: Actor, *, status: str = "") -> models.QuerySet[Breach]:
    """The register, oldest first (ids are time-ordered), optionally only open or closed breaches."""
    actor.require("breach.view")
    breaches = Breach.objects.annotate(
        affected_count=models.Count("affected", distinct=True),
    )
    if status:
        breaches = breaches.filter(status=status)
    return breaches.order_by("pk")


def open_breach_titles(actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """The open breaches by id and title, oldest first: what a contact or lead list offers to
    record its persons against (no counts: the list page is drawn at every keystroke)."""
    actor.require("breach.change")
    breaches = Breach.objects.filter(status=Breach.Status.OPEN).order_by("pk")
    return list(breaches.values_list("pk", "title"))


def access_breach(actor: Actor, breach_id: Any, *, write: bool = False) -> Breach:
    """A breach of the actor's organisation; NotFound for missing and foreign alike."""
    actor.require("breach.change" if write else "breach.view")
    return get_or_not_found(Breach.objects.all(), pk=breach_id)


def breach_counts(breach: Breach) -> tuple[int, int]:
    """How many persons the breach is known to affect, and how many of them were told."""
    affected = BreachSubject.objects.filter(breach=breach)
    return affected.count(), affected.filter(notified_at__isnull=False).count()


@dataclass(frozen=True)
class BreachClock:
    """The Art. 33 clock: 72 hours from awareness to the authority's notification."""

    due_at: datetime
    hours_left: int | None  # whole hours left, or (negative) whole hours overdue; None when the clock stopped
    overdue: bool  # open, the authority not notified, and the deadline passed
    stopped: bool  # the authority was notified, or the breach closed
    late: bool  # the authority was notified after the deadline

    @property
    def hours_overdue(self) -> int:
        """Whole hours past the deadline (0 while not overdue, or less than an hour over)."""
        return -self.hours_left if self.overdue and self.hours_left is not None else 0


def breach_clock(breach: Breach, now: datetime | None = None) -> BreachClock:
    """Hours left until the authority must be notified, or how far past the deadline it is."""
    now = now or timezone.now()
    due_at: datetime = breach.authority_due_at
    notified = breach.authority_notified_at
    stopped = notified is not None or breach.status == Breach.Status.CLOSED
    seconds = (due_at - now).total_seconds()
    return BreachClock(
        due_at=due_at,
        hours_left=None if stopped else math.trunc(seconds / 3600),
        overdue=not stopped and seconds < 0,
        stopped=stopped,
        late=notified is not None and notified > due_at,
    )


# Reminders of the 72-hour clock to the privacy officers: when this little time is left, and
# once the deadline has passed. Each goes once per breach.
REMINDER_BEFORE = timedelta(hours=24)
REMINDER_SOON = "24h"
REMINDER_OVERDUE = "overdue"


def breach_reminders_due(now: datetime | None = None) -> list[tuple[Breach, str]]:
    """Open breaches not yet notified to the authority whose clock crossed a reminder
    threshold it has not been reminded of: (breach, "24h" | "overdue")."""
    now = now or timezone.now()
    due: list[tuple[Breach, str]] = []
    candidates = Breach.objects.filter(
        status=Breach.Status.OPEN,
        authority_notified_at__isnull=True,
        aware_at__lte=now - (AUTHORITY_DEADLINE - REMINDER_BEFORE),
    ).order_by("pk")
    for breach in candidates:
        threshold = REMINDER_OVERDUE if breach.authority_due_at <= now else REMINDER_SOON
        if threshold not in breach.clock_reminders:
            due.append((breach, threshold))
    return due


def breach_officers(org_id: uuid.UUID) -> list[tuple[uuid.UUID, str, str, str]]:
    """Who hears of the clock: active members whose role may change breaches (the privacy
    officers, owners and admins); (user id, email, language, time zone)."""
    from custos.accounts.models import Membership

    members = Membership.objects.filter(org_id=org_id, user__is_active=True).select_related("user", "role")
    return [
        (m.user.pk, m.user.email, m.user.language or settings.LANGUAGE_CODE, m.user.time_zone)
        for m in members.order_by("user__pk")
        if "breach.change" in m.role.permissions
    ]


def breach_report_data(breach: Breach) -> dict[str, Any]:
    """What a report to the supervisory authority says (Art. 33(3)), ready for a template.

    Plain values only: texts, numbers, datetimes and labels in the active language.
    """
    affected, notified = breach_counts(breach)
    clock = breach_clock(breach)
    organization = Organization.objects.get(pk=breach.org_id)
    return {
        "organization": {"name": organization.name, "country": organization.country},
        "id": str(breach.pk),
        "title": breach.title,
        "status": breach.status,
        "status_label": str(Breach.Status(breach.status).label),
        "aware_at": breach.aware_at,
        "occurred_at": breach.occurred_at,
        "authority_due_at": clock.due_at,
        "authority_notified_at": breach.authority_notified_at,
        "authority_notified_late": clock.late,
        "nature": breach.nature,
        "data_categories": [
            {"key": key, "label": str(CATEGORY_LABELS[Category(key)])}
            for key in _known_categories(breach.data_categories)
        ],
        "person_categories": breach.person_categories,
        "approx_persons": breach.approx_persons,
        "approx_records": breach.approx_records,
        "affected_recorded": affected,
        "affected_notified": notified,
        "persons_notified_at": breach.persons_notified_at,
        "consequences": breach.consequences,
        "measures": breach.measures,
        "created_at": breach.created_at,
        "generated_at": timezone.now(),
    }


# Changes ---------------------------------------------------------------------------------


def _clean_text(cleaner: Cleaner, merged: Mapping[str, Any], name: str, max_length: int = 10000) -> str:
    return cleaner.text(name, merged[name], max_length=max_length, multiline=True)


def _clean_categories(cleaner: Cleaner, value: Any) -> list[str]:
    allowed = [str(c) for c in Category]
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        cleaner.fail("data_categories", _("Enter a list of categories."))
        return []
    unknown = [item for item in value if item not in allowed]
    if unknown:
        cleaner.fail("data_categories", _("Choose from: %(choices)s.") % {"choices": ", ".join(allowed)})
        return []
    return [item for item in allowed if item in value]  # the catalogue's order, each once


def _clean_breach(data: Mapping[str, Any], current: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The breach after the change, checked as a whole; raises with every problem at once."""
    cleaner = Cleaner()
    for name in data:
        if name not in BREACH_FIELDS:
            cleaner.fail(name, _("Unknown field."))
    merged = dict(current) | dict(data)
    aware_at = cleaner.moment("aware_at", merged["aware_at"])
    occurred_at = cleaner.moment("occurred_at", merged["occurred_at"])
    if merged["aware_at"] in (None, ""):
        cleaner.fail("aware_at", _("This field is required."))
    elif aware_at is not None and aware_at > now:
        cleaner.fail("aware_at", _("This moment is in the future; enter when you became aware of the breach."))
    if occurred_at is not None and occurred_at > now:
        cleaner.fail("occurred_at", _("This moment is in the future."))
    elif occurred_at is not None and aware_at is not None and occurred_at > aware_at:
        cleaner.fail("occurred_at", _("A breach cannot occur after you became aware of it."))
    cleaned = {
        "title": cleaner.text("title", merged["title"], max_length=200, required=True),
        "aware_at": aware_at,
        "occurred_at": occurred_at,
        "nature": _clean_text(cleaner, merged, "nature"),
        "data_categories": _clean_categories(cleaner, merged["data_categories"]),
        "person_categories": _clean_text(cleaner, merged, "person_categories", 2000),
        "approx_persons": cleaner.integer("approx_persons", merged["approx_persons"], minimum=0, maximum=MAX_COUNT),
        "approx_records": cleaner.integer("approx_records", merged["approx_records"], minimum=0, maximum=MAX_COUNT),
        "consequences": _clean_text(cleaner, merged, "consequences"),
        "measures": _clean_text(cleaner, merged, "measures"),
    }
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _audit(actor: Actor, breach: Breach, action: str, **kwargs: Any) -> None:
    audit_record(actor=actor, action=f"breach.{action}", object_type="breach", object_id=breach.pk, **kwargs)


def _locked(breach: Breach) -> Breach:
    return Breach.objects.select_for_update().get(pk=breach.pk)


def _require_open(breach: Breach) -> None:
    if breach.status == Breach.Status.CLOSED:
        raise Conflict(_("This breach is closed."))


def breach_create(*, actor: Actor, data: Mapping[str, Any]) -> Breach:
    """Record a breach; the 72-hour clock runs from `aware_at`."""
    actor.require("breach.add")
    cleaned = _clean_breach(data, NEW_BREACH, timezone.now())
    with transaction.atomic():
        breach = Breach.objects.create(**cleaned, created_by_id=actor.user_id)
        _audit(actor, breach, "create")
    return breach


def breach_update(*, actor: Actor, breach: Breach, data: Mapping[str, Any]) -> Breach:
    actor.require("breach.change")
    cleaned = _clean_breach(data, {name: getattr(breach, name) for name in BREACH_FIELDS}, timezone.now())
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        for name in ("aware_at", "occurred_at"):
            stored = getattr(breach, name)
            if stored is not None and cleaned[name] == stored.replace(second=0, microsecond=0):
                cleaned[name] = stored  # given back to the minute (a form): not a change
        changed = sorted(name for name, value in cleaned.items() if getattr(breach, name) != value)
        if not changed:
            return breach
        if "aware_at" in changed and breach.authority_notified_at is not None:
            # What the authority was told, and whether in time, stays as it was reported.
            raise ValidationFailed.single(
                "aware_at", _("The authority has been notified: when you became aware can no longer change.")
            )
        for name in changed:
            setattr(breach, name, cleaned[name])
        breach.save(update_fields=changed)
        _audit(actor, breach, "update", fields=changed)
    return breach


def breach_mark_authority_notified(*, actor: Actor, breach: Breach, notified_at: Any = None) -> Breach:
    """Record when the supervisory authority was notified (now, unless told otherwise); stops the clock."""
    actor.require("breach.change")
    cleaner = Cleaner()
    now = timezone.now()
    moment = cleaner.moment("notified_at", notified_at) or now
    if moment > now:
        cleaner.fail("notified_at", _("This moment is in the future."))
    elif moment < breach.aware_at:
        cleaner.fail("notified_at", _("The authority cannot be notified before you became aware of the breach."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        if breach.authority_notified_at is not None:
            raise Conflict(_("The authority has been notified of this breach already."))
        breach.authority_notified_at = moment
        breach.save(update_fields=["authority_notified_at"])
        _audit(actor, breach, "authority_notified", extra={"late": moment > breach.authority_due_at})
    return breach


def breach_close(*, actor: Actor, breach: Breach) -> Breach:
    """Close the breach: it stays in the register, read-only."""
    actor.require("breach.change")
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        breach.status = Breach.Status.CLOSED
        breach.save(update_fields=["status"])
        _audit(actor, breach, "close")
    return breach


def _subject_ids(cleaner: Cleaner, value: Any) -> list[uuid.UUID]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value) or not value:
        cleaner.fail("subject_ids", _("Enter a list of data subject ids."))
        return []
    if len(value) > MAX_SUBJECTS_PER_CALL:
        cleaner.fail("subject_ids", _("Add at most %(max)d persons at a time.") % {"max": MAX_SUBJECTS_PER_CALL})
        return []
    parsed: list[uuid.UUID] = []
    for item in value:
        try:
            parsed.append(uuid.UUID(item))
        except ValueError:
            cleaner.fail("subject_ids", _("“%(id)s” is not a data subject id.") % {"id": item[:40]})
    return list(dict.fromkeys(parsed))


def breach_add_subjects(*, actor: Actor, breach: Breach, subject_ids: Any) -> int:
    """Record persons as affected by the breach, by their subject ids; returns how many were new."""
    actor.require("breach.change")
    cleaner = Cleaner()
    ids = _subject_ids(cleaner, subject_ids)
    known = set(Subject.objects.filter(pk__in=ids).exclude(state=Subject.State.ERASED).values_list("pk", flat=True))
    unknown = [str(pk) for pk in ids if pk not in known]
    if unknown:
        cleaner.fail("subject_ids", _("No data subject has the id %(ids)s.") % {"ids": ", ".join(unknown[:5])})
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        present = set(BreachSubject.objects.filter(breach=breach).values_list("subject_id", flat=True))
        new = [pk for pk in ids if pk not in present]
        for subject_id in new:
            BreachSubject.objects.create(breach=breach, subject_id=subject_id)
        if new:
            _audit(actor, breach, "add_subjects", extra={"added": len(new)})
    return len(new)


def breach_listed_count(breach: Breach, subjects: Iterable[models.QuerySet[Any]]) -> tuple[int, int]:
    """How many persons the lists hold that could be recorded, and how many of them are
    recorded already: what the confirmation before adding a whole list says."""
    chosen = _listed(subjects)
    return chosen.count(), chosen.filter(pk__in=BreachSubject.objects.filter(breach=breach).values("subject")).count()


def breach_add_listed(
    *, actor: Actor, breach: Breach, subjects: Iterable[models.QuerySet[Any]], expected: int | None = None
) -> int:
    """Record as affected everyone in lists the face narrowed with the list's own search and
    filters (`subjects`: querysets of subject ids); returns how many were new. One transaction
    in batches: an interrupted add leaves nothing, and a repeat adds only the missing.

    `expected`: how many persons the lists held when someone confirmed them
    (`breach_listed_count`); if the persons read now are not as many, nothing is recorded
    (ListChanged): a list that grew since would record persons no one saw counted."""
    actor.require("breach.change")
    chosen = _listed(subjects).values_list("pk", flat=True)
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        recorded = BreachSubject.objects.filter(breach=breach)
        before = recorded.count()
        read = 0
        for batch in batched(chosen.iterator(chunk_size=LIST_BATCH), LIST_BATCH):
            read += len(batch)
            BreachSubject.objects.bulk_create(
                [BreachSubject(breach=breach, subject_id=pk) for pk in batch], ignore_conflicts=True
            )
        if expected is not None and read != expected:
            # The rows just written go with the transaction.
            raise ListChanged(_("The list has changed since you saw it: check the new count."))
        added = recorded.count() - before
        if added:
            _audit(actor, breach, "add_subjects", extra={"added": added, "from_list": True})
    return added


def _listed(subjects: Iterable[models.QuerySet[Any]]) -> models.QuerySet[Subject]:
    condition = models.Q(pk__in=[])
    for query in subjects:
        condition |= models.Q(pk__in=query)
    return Subject.objects.filter(condition).exclude(state=Subject.State.ERASED).order_by()


def breach_remove_subjects(*, actor: Actor, breach: Breach, subject_ids: Any) -> int:
    """Take persons recorded by mistake off the breach; returns how many were removed. A person
    told already stays: the register keeps that they were told (Art. 34)."""
    actor.require("breach.change")
    cleaner = Cleaner()
    ids = _subject_ids(cleaner, subject_ids)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        links = BreachSubject.objects.filter(breach=breach, subject_id__in=ids)
        if links.filter(notified_at__isnull=False).exists():
            raise Conflict(_("A person who was told of the breach stays recorded as affected."))
        # Which persons (by their pseudonymous subject id): who was taken off a breach is
        # what an auditor of the register asks.
        taken_off = sorted(str(pk) for pk in links.values_list("subject_id", flat=True))
        removed, _kinds = links.delete()
        if removed:
            _audit(actor, breach, "remove_subjects", extra={"removed": removed, "subjects": taken_off})
    return removed


@dataclass(frozen=True)
class NoticeCounts:
    queued: int  # mails queued now
    without_email: int  # affected persons we hold no email of
    notified_before: int  # told already


def breach_notify_subjects(*, actor: Actor, breach: Breach) -> NoticeCounts:
    """Queue one notice per affected person not yet told who has an email (Art. 34).

    Each person is claimed (`notified_at` set) before their mail is queued, so a second
    click queues nobody twice; a mail the server refuses gives the claim back.
    """
    actor.require("breach.change")
    org_id = require_org_id()
    queued = without_email = 0
    with transaction.atomic():
        breach = _locked(breach)
        _require_open(breach)
        affected = BreachSubject.objects.filter(breach=breach).select_related("subject")
        notified_before = affected.filter(notified_at__isnull=False).count()
        now = timezone.now()
        for link in affected.filter(notified_at__isnull=True).order_by("pk"):
            if link.subject.state == Subject.State.ERASED or not identifiers_of(link.subject, requests=False)["email"]:
                without_email += 1
                continue
            BreachSubject.objects.filter(pk=link.pk).update(notified_at=now)
            transaction.on_commit(partial(_enqueue_notice, str(org_id), str(link.pk)))
            queued += 1
        if queued and breach.persons_notified_at is None:
            breach.persons_notified_at = now
            breach.save(update_fields=["persons_notified_at"])
        _audit(actor, breach, "notify_subjects", extra={"queued": queued, "without_email": without_email})
    return NoticeCounts(queued=queued, without_email=without_email, notified_before=notified_before)


def _enqueue_notice(org_id: str, breach_subject_id: str) -> None:
    from custos.privacy.tasks import send_breach_notice

    send_breach_notice.enqueue(org_id, breach_subject_id)


def subject_language(subject: Subject, organization: Organization) -> str:
    """The language to write to a person in: the one their records name (a contact's
    preference), else that of their latest privacy request, else the organisation's (by its
    country), else English."""
    for records in records_of(subject):
        if "language" in records.declaration.fields:
            named = records.queryset.exclude(language="").values_list("language", flat=True).first()
            if named in LANGUAGES:
                return str(named)
    latest = (
        PrivacyRequest.objects.filter(subject=subject).order_by("-received_at").values_list("language", flat=True)
    ).first()
    if latest in LANGUAGES:
        return str(latest)
    return organization_language(organization)


def organization_language(organization: Organization) -> str:
    """The language the organisation works in, by its country; else English."""
    return COUNTRY_LANGUAGES.get(organization.country, settings.LANGUAGE_CODE)


def breach_notice_send(*, org_id: uuid.UUID, breach_subject_id: Any) -> bool:
    """Send one claimed notice; False when there is nobody to write to any more.

    Raises BreachNoticeNotSent (and gives the claim back) when the mail server refuses it.
    """
    link = (
        BreachSubject.objects.filter(pk=breach_subject_id, notified_at__isnull=False)
        .select_related("breach", "subject")
        .first()
    )
    if link is None:
        return False
    erased = link.subject.state == Subject.State.ERASED
    # The address on record now: one a request once came from may belong to someone else since.
    emails = [] if erased else sorted(identifiers_of(link.subject, requests=False)["email"])
    if not emails:
        BreachSubject.objects.filter(pk=link.pk).update(notified_at=None)
        return False
    organization = Organization.objects.get(pk=org_id)
    language = subject_language(link.subject, organization)
    breach = link.breach
    context = {
        "organization": organization.name,
        "nature": breach.nature,
        "consequences": breach.consequences,
        "measures": breach.measures,
        "data_categories": [str(CATEGORY_LABELS[Category(key)]) for key in _known_categories(breach.data_categories)],
    }
    with translation.override(language):
        subject_line = render_to_string("privacy/mail/breach_notice_subject.txt", context).strip()
        body = render_to_string("privacy/mail/breach_notice.txt", context)
    message = EmailMessage(subject_line, body, None, [emails[0]], headers={"Content-Language": language})
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        BreachSubject.objects.filter(pk=link.pk).update(notified_at=None)
        raise BreachNoticeNotSent(
            f"breach notice to affected person {link.pk} failed: {type(error).__name__}"
        ) from None
    with transaction.atomic():
        BreachSubject.objects.filter(pk=link.pk).update(notified_at=timezone.now())
        audit_record(
            actor=Actor.system(org_id),
            action="breach.subject_notified",
            object_type="breach",
            object_id=breach.pk,
            extra={"breach_subject": str(link.pk), "language": language},
        )
    return True


def _known_categories(keys: Iterable[str]) -> list[str]:
    values = {str(c) for c in Category}
    return [key for key in keys if key in values]
