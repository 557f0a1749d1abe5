"""The self-service privacy portal: links for one person, and what that person may do there.

A link carries a random secret; only its SHA-256 is stored, so the database alone opens no
portal. A link is bound to one subject, expires after the organisation's
`portal_link_days`, and staff may revoke it at any time.

Mailing a link: the secret must be in the mail, and task arguments carry ids only. So the
task receives the organisation, the subject and the language, creates the link itself and
sends the mail in the same run: the secret exists only inside the worker, never in the
task queue, and nobody but the recipient ever sees it. The portal's start page enqueues
that task only when the typed address is known; its answer is the same either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
import smtplib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.accounts.throttle import rate_exceeded
from custos.audit.services import audit_record
from custos.core.actor import Actor, RecordScope, Via
from custos.core.errors import Conflict, NotFound, ValidationFailed
from custos.core.ids import org_of_token, org_token
from custos.core.models import Organization
from custos.core.net import network_of
from custos.core.personal_data import Category, model_field
from custos.core.tenancy import require_org_id, tenant_scope
from custos.core.validation import Cleaner
from custos.privacy.models import ConsentEvent, PortalLink, PrivacyRequest, Purpose, Subject
from custos.privacy.models.consent import ConsentSource, LegalBasis
from custos.privacy.models.requests import PORTAL_EDITABLE_CHOICES
from custos.privacy.registry import records_of
from custos.privacy.services.consent import Proof, consent_give, consent_withdraw, shown_text
from custos.privacy.services.reports import access_report
from custos.privacy.services.requests import (
    LANGUAGES,
    MAX_PORTAL_LINK_DAYS,
    RECORDS_OF_REQUESTS,
    privacy_settings,
    request_complete,
    request_create,
    request_verification_secret,
    request_verify_by_email,
)
from custos.privacy.services.subjects import identifiers_of, subjects_with_email

logger = logging.getLogger(__name__)

Kind = PrivacyRequest.Kind
# What a person may ask for through the portal; staff carry these out.
PORTAL_REQUEST_KINDS = ("erasure", "restriction", "objection_marketing", "objection_profiling", "objection_situation")
# The privacy engine's own records (requests, consent proof, links) are not corrected through
# the portal: correcting the person's CRM records is what rectification means here.
_NOT_EDITABLE_APPS = RECORDS_OF_REQUESTS
# Country codes are chosen, not typed; `_rectify` would only check their length.
_NOT_EDITABLE_FIELDS = ("country",)
# At most this many mailed links per address and per network address within an hour, so
# the start page cannot be used to flood someone's mailbox.
MAILS_PER_ADDRESS = 3
# A request's note, added to when the person asks again: bounded like one note five times.
MAX_NOTE = 10_000
MAILS_PER_NETWORK = 20
# The longest a link may stay valid: it opens personal data to whoever holds it.
MAX_LINK_DAYS = MAX_PORTAL_LINK_DAYS


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def portal_actor(link: PortalLink, *, ip: str | None = None, user_agent: str = "") -> Actor:
    """The person holding the link, acting on their own data: exactly the rights the portal needs."""
    return Actor(
        org_id=link.org_id,
        via=Via.PORTAL,
        permissions=frozenset({"privacy_request.change"}),
        record_scope=RecordScope.OWN,
        ip=ip,
        user_agent=user_agent,
    )


def portal_link_url(secret: str) -> str:
    """The absolute address a person opens; the secret is its last part."""
    return settings.CUSTOS_BASE_URL + reverse("portal:link", kwargs={"secret": secret})


def _new_link(
    *, subject: Subject, language: str, created_by: uuid.UUID | None, days: int | None = None
) -> tuple[PortalLink, str]:
    secret = org_token(require_org_id(), secrets.token_urlsafe(32))
    now = timezone.now()
    link = PortalLink.objects.create(
        subject=subject,
        digest=_digest(secret),
        language=language,
        created_at=now,
        expires_at=now + dt.timedelta(days=days or privacy_settings().portal_link_days),
        created_by_id=created_by,
    )
    return link, secret


def _clean_link_request(subject: Subject, language: Any, days: Any) -> tuple[str, int]:
    """The language and validity of a new link (the organisation's setting when no days are
    given); raises with every field's problem at once."""
    cleaner = Cleaner()
    language = cleaner.choice("language", language or "en", LANGUAGES)
    if days in (None, ""):
        days = privacy_settings().portal_link_days
    cleaned_days = cleaner.integer("days", days, minimum=1, maximum=MAX_LINK_DAYS)
    if cleaner.errors or cleaned_days is None:
        raise ValidationFailed(cleaner.errors)
    if subject.state == Subject.State.ERASED:
        raise Conflict(_("This person's data has been erased."))
    return language, cleaned_days


def portal_link_create(*, actor: Actor, subject: Subject, language: Any, days: Any = None) -> tuple[PortalLink, str]:
    """A new link for the person; returns the link and its secret, which is shown once and never stored."""
    actor.require("privacy_request.change")
    language, days = _clean_link_request(subject, language, days)
    with transaction.atomic():
        link, secret = _new_link(subject=subject, language=language, created_by=actor.user_id, days=days)
        audit_record(
            actor=actor,
            action="portal_link.create",
            object_type="subject",
            object_id=subject.pk,
            extra={"link": str(link.pk), "language": language, "days": days},
        )
    return link, secret


def portal_link_email(*, actor: Actor, subject: Subject, language: Any, days: Any = None) -> None:
    """Staff send the person a new link to the email addresses on record.

    The link is made by the task that mails it (see the module's docstring), so the secret
    exists only in the worker and the mail: staff never see it, the queue never holds it.
    """
    actor.require("privacy_request.change")
    language, days = _clean_link_request(subject, language, days)
    if not identifiers_of(subject, requests=False)["email"]:
        raise ValidationFailed.single("email", _("There is no email address on record for this person."))
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="portal_link.email",
            object_type="subject",
            object_id=subject.pk,
            extra={"language": language, "days": days},
        )
        _enqueue_mail(str(actor.org_id), str(subject.pk), language, str(actor.user_id or ""), days)


def portal_link_revoke(*, actor: Actor, link: PortalLink) -> PortalLink:
    """The link stops working at once, also for a portal session already opened with it."""
    actor.require("privacy_request.change")
    with transaction.atomic():
        link = PortalLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is None:
            link.revoked_at = timezone.now()
            link.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="portal_link.revoke",
                object_type="subject",
                object_id=link.subject_id,
                extra={"link": str(link.pk)},
            )
    return link


def portal_links_of(subject: Subject) -> list[PortalLink]:
    """The person's links, newest first (for the staff page)."""
    return list(PortalLink.objects.filter(subject=subject).order_by("-created_at"))


def portal_links_active(subject: Subject) -> list[PortalLink]:
    """The person's links that still open the portal, newest first."""
    return list(
        PortalLink.objects.filter(subject=subject, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by(
            "-created_at", "-pk"
        )
    )


def access_portal_link(actor: Actor, subject: Subject, link_id: Any) -> PortalLink:
    """One of this person's links, for staff who may manage them; NotFound otherwise."""
    actor.require("privacy_request.change")
    try:
        link = PortalLink.objects.filter(pk=link_id, subject=subject).first()
    except (ValueError, TypeError, ValidationError):
        link = None
    if link is None:
        raise NotFound()
    return link


class LinkProblem(StrEnum):
    UNKNOWN = "unknown"  # never issued, mistyped or tampered with: all look alike
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class LinkOpening:
    link: PortalLink | None
    problem: LinkProblem | None


def _problem_of(link: PortalLink) -> LinkProblem | None:
    if link.revoked_at is not None:
        return LinkProblem.REVOKED
    if link.expires_at <= timezone.now():
        return LinkProblem.EXPIRED
    if link.subject.state == Subject.State.ERASED:
        return LinkProblem.UNKNOWN
    return None


def portal_link_open(secret: str, *, ip: str | None = None, user_agent: str = "") -> LinkOpening:
    """Find the link a secret belongs to, in whichever organisation issued it.

    Unknown, mistyped and tampered secrets all answer UNKNOWN, and an expired or revoked
    link says only that: neither reveals anything about the person it was made for.
    """
    if not secret or len(secret) > 100:
        return LinkOpening(None, LinkProblem.UNKNOWN)
    # The secret begins with its organisation (`org_token`): the link is looked up inside that
    # organisation only, as row-level security on PostgreSQL requires, whatever staff session
    # of another organisation the same browser may hold.
    org_id = org_of_token(secret)
    if org_id is None:
        return LinkOpening(None, LinkProblem.UNKNOWN)
    with tenant_scope(org_id):
        link_id = PortalLink.objects.filter(digest=_digest(secret)).values_list("pk", flat=True).first()
    if link_id is None:
        return LinkOpening(None, LinkProblem.UNKNOWN)
    with tenant_scope(org_id), transaction.atomic():
        link = PortalLink.objects.select_for_update().select_related("subject").get(pk=link_id)
        problem = _problem_of(link)
        if problem is None:
            link.last_used_at = timezone.now()
            link.save(update_fields=["last_used_at"])
            audit_record(
                actor=portal_actor(link, ip=ip, user_agent=user_agent),
                action="portal_link.open",
                object_type="subject",
                object_id=link.subject_id,
                extra={"link": str(link.pk)},
            )
    return LinkOpening(link if problem is None else None, problem)


def portal_link_current(link_id: Any) -> LinkOpening:
    """The link a portal session is bound to, checked again on every page (inside its tenant)."""
    try:
        link = PortalLink.objects.select_related("subject").filter(pk=link_id).first()
    except (ValueError, TypeError):
        link = None
    if link is None:
        return LinkOpening(None, LinkProblem.UNKNOWN)
    problem = _problem_of(link)
    return LinkOpening(link if problem is None else None, problem)


# Asking for a link on the start page ---------------------------------------------------


def portal_request_link(*, org: Organization, email: Any, language: Any, ip: str | None = None) -> None:
    """A person asks for a link: mailed to them if the address is known, nothing otherwise.

    Returns nothing on purpose: the caller shows the same answer whatever happened. An
    invalid address, a rate limit and an unknown address are all silent.
    """
    cleaner = Cleaner()
    email = cleaner.email("email", email, required=True)
    language = cleaner.choice("language", language or "en", LANGUAGES)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    # Per organisation: requests to one organisation's portal never use up another's for the address.
    over_limit = rate_exceeded("portal-link", f"{org.pk}|{email.lower()}", limit=MAILS_PER_ADDRESS, window=3600) or (
        ip is not None and rate_exceeded("portal-link-ip", network_of(ip), limit=MAILS_PER_NETWORK, window=3600)
    )
    if over_limit:
        return
    with tenant_scope(org):
        subject_ids = [str(s.pk) for s in subjects_with_email(email)]
    # One task whether or not the address is known (for an unknown one it does nothing), so
    # the answer takes as long either way: its time must not tell a known address either.
    transaction.on_commit(lambda: send_portal_links.enqueue(str(org.pk), subject_ids, language))


def _enqueue_mail(org_id: str, subject_id: str, language: str, created_by: str, days: int | None = None) -> None:
    transaction.on_commit(lambda: send_portal_link.enqueue(org_id, subject_id, language, created_by, days))


@task
def send_portal_links(org_id: str, subject_ids: list[str], language: str) -> int:
    """The start page's links: one mail per person holding the typed address, each its own
    task (retried on its own); none for an address nobody holds."""
    for subject_id in subject_ids:
        send_portal_link.enqueue(org_id, subject_id, language, "")
    return len(subject_ids)


class PortalLinkNotSent(RuntimeError):
    """Says which subject, never the address: a task result and a log keep this text."""


@task
def send_portal_link(org_id: str, subject_id: str, language: str, created_by: str, days: int | None = None) -> bool:
    """Create a link for the subject and mail it to the addresses on record; False if there are none.

    The secret is made here, so it never enters the task queue. `days`: how long the link
    stays valid, when staff chose it; else the organisation's setting.
    """
    with tenant_scope(uuid.UUID(org_id)):
        return _send_portal_link(org_id, subject_id, language, created_by, days)


def _send_portal_link(org_id: str, subject_id: str, language: str, created_by: str, days: int | None) -> bool:
    subject = Subject.objects.filter(pk=subject_id).exclude(state=Subject.State.ERASED).first()
    if subject is None:
        return False
    emails = sorted(identifiers_of(subject, requests=False)["email"])
    if not emails:
        return False
    organization = Organization.objects.get(pk=org_id)
    language = language if language in LANGUAGES else "en"
    with transaction.atomic():
        link, secret = _new_link(
            subject=subject,
            language=language,
            created_by=uuid.UUID(created_by) if created_by else None,
            days=days if isinstance(days, int) and 0 < days <= MAX_LINK_DAYS else None,
        )
        audit_record(
            actor=Actor.system(organization.pk),
            action="portal_link.mail",
            object_type="subject",
            object_id=subject.pk,
            extra={"link": str(link.pk), "language": language},
        )
    context = {
        "organization": organization.name,
        "link": portal_link_url(secret),
        "days": (link.expires_at - link.created_at).days,
        "expires_at": link.expires_at,
    }
    with translation.override(language):
        subject_line = render_to_string("privacy/mail/portal_link_subject.txt", context).strip()
        body = render_to_string("privacy/mail/portal_link.txt", context)
    # All addresses belong to the same person (one subject): one mail, one link.
    message = EmailMessage(subject_line, body, None, emails, headers={"Content-Language": language})
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        # The link was never delivered: it must not stay usable.
        PortalLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())
        raise PortalLinkNotSent(f"portal link for subject {subject.pk} failed: {type(error).__name__}") from None
    return True


# What the person sees and does -------------------------------------------------------


@dataclass(frozen=True)
class EditableField:
    name: str
    label: str
    value: str
    is_email: bool
    max_length: int


def portal_visible_categories() -> frozenset[str]:
    """The kinds of data the organisation shows in the portal (privacy settings)."""
    return frozenset(privacy_settings().portal_visible)


def portal_editable_categories() -> frozenset[str]:
    """The kinds of data the person may correct in the portal: only identity and contact
    details can be (see `PORTAL_EDITABLE_CHOICES`), and only when they are shown too."""
    current = privacy_settings()
    allowed = {str(c) for c in PORTAL_EDITABLE_CHOICES}
    return frozenset(set(current.portal_editable) & set(current.portal_visible) & allowed)


def portal_report(subject: Subject, *, language: str) -> dict[str, Any]:
    """The access report as the portal shows and exports it: only the kinds of data the
    organisation made visible there. Profiling results stay in, with their logic (Art. 15(1)(h));
    a complete copy is always available through an access request."""
    report = access_report(subject, language=language)
    visible = portal_visible_categories() | {"profiling"}
    records = []
    for record in report["records"]:
        fields = [f for f in record["fields"] if f["category"] in visible]
        if fields:
            records.append({**record, "fields": fields})
    shown = {f["category"] for r in records for f in r["fields"]}
    return {**report, "records": records, "categories": [c for c in report["categories"] if c["key"] in shown]}


def portal_hides_data() -> bool:
    """Whether the organisation keeps some kind of data out of the portal."""
    return not portal_visible_categories() >= {str(c) for c in Category}


def portal_editable_fields(subject: Subject) -> list[EditableField]:
    """The fields the person's records declare as a kind of data the organisation lets them
    correct (identity and contact details by default), with their current values.

    A field held by several records (a contact and a lead) appears once, with the first
    value found; a correction is applied to every record that holds it.
    """
    editable = portal_editable_categories()
    if not editable:
        return []
    fields: dict[str, EditableField] = {}
    for found in records_of(subject):
        declaration = found.declaration
        if (
            declaration.copy_of_personal_data
            or not declaration.rectify  # corrected one by one, never by a field-wide correction
            or declaration.model._meta.app_label in _NOT_EDITABLE_APPS
        ):
            continue
        names = [
            name
            for name, category in declaration.fields.items()
            if category in editable
            and name not in _NOT_EDITABLE_FIELDS
            and isinstance(model_field(declaration.model, name), models.CharField)
            and not model_field(declaration.model, name).choices  # chosen, not typed (a language)
        ]
        if not names:
            continue
        for row in found.queryset.order_by("pk").values(*names):
            for name in names:
                current = fields.get(name)
                value = row[name] or ""
                if current is None or (not current.value and value):
                    field_of = model_field(declaration.model, name)
                    fields[name] = EditableField(
                        name=name,
                        label=str(field_of.verbose_name),
                        value=value,
                        is_email=isinstance(field_of, models.EmailField),
                        max_length=field_of.max_length or 300,
                    )
    return list(fields.values())


def _portal_request(*, actor: Actor, link: PortalLink, kind: str, details: Mapping[str, Any] | None) -> PrivacyRequest:
    """A request of the link's person, received and verified at once: holding the link (mailed
    to the address on record, or handed over by staff) proves who they are."""
    subject = link.subject
    # The address on record now; an earlier request's only where none is (evidence, not a mailbox).
    emails = sorted(identifiers_of(subject, requests=False)["email"] or identifiers_of(subject)["email"])
    with transaction.atomic():
        # The link names the person, even where several share an email or none is on record.
        request = request_create(
            actor=actor,
            kind=kind,
            email=emails[0] if emails else "",
            language=link.language,
            details=details,
            source=PrivacyRequest.Source.PORTAL,
            subject=subject,
        )
        request = request_verify_by_email(actor=actor, secret=request_verification_secret(request=request))
    return request


def portal_correct(*, actor: Actor, link: PortalLink, data: Mapping[str, Any]) -> PrivacyRequest | None:
    """Rectification (Art. 16) from the portal: recorded as a request and applied at once.

    Only changed fields count; None when nothing changed. Bad input changes nothing.
    """
    subject = link.subject
    fields = {f.name: f for f in portal_editable_fields(subject)}
    cleaner = Cleaner()
    corrections: dict[str, str] = {}
    country = Organization.objects.get(pk=link.org_id).country
    for name, field in fields.items():
        if name not in data:
            continue
        raw = data[name]
        required = name in ("first_name", "last_name") and bool(field.value)
        if field.is_email:
            value = cleaner.email(name, raw, required=required)
        elif "phone" in name:
            value = cleaner.phone(name, raw, country=country)
        else:
            value = cleaner.text(name, raw, max_length=field.max_length, required=required)
        if value != field.value:
            corrections[name] = value
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    if not corrections:
        return None
    with transaction.atomic():
        request = _portal_request(actor=actor, link=link, kind=Kind.RECTIFICATION, details={"corrections": corrections})
        request = request_complete(actor=actor, request=request)
    return request


def portal_ask(*, actor: Actor, link: PortalLink, what: Any, note: Any = "") -> PrivacyRequest:
    """Erasure, restriction or an objection (to marketing, to profiling, or on grounds of the
    person's particular situation, which the note gives), for staff to carry out."""
    cleaner = Cleaner()
    what = cleaner.choice("kind", what, PORTAL_REQUEST_KINDS)
    note = cleaner.text("note", note, max_length=2000, multiline=True)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    details: dict[str, Any]
    if what.startswith("objection_"):
        about = what.removeprefix("objection_")
        kind, details = Kind.OBJECTION, {"about": about, **({"note": note} if note and about == "situation" else {})}
    else:
        kind, details = what, ({"note": note} if note else {})
    with transaction.atomic():
        Subject.objects.select_for_update().filter(pk=link.subject_id).first()  # one at a time per person
        waiting = _open_request_like(link.subject, kind, details)
        if waiting is not None:  # sent twice (a double click, a reload): the first stands
            combined = "\n\n".join(filter(None, [waiting.details.get("note"), note]))
            if note and note not in waiting.details.get("note", "") and len(combined) <= MAX_NOTE:
                waiting.details = {**waiting.details, "note": combined}
                waiting.save(update_fields=["details"])
                audit_record(
                    actor=actor, action="privacy_request.note", object_type="privacy_request", object_id=waiting.pk
                )
            return waiting
        request = _portal_request(actor=actor, link=link, kind=kind, details=details)
        if what == "objection_marketing":  # no weighing of interests (Art. 21(3)): honoured at once
            # The person's own objection, for this request only: the right to record it.
            objecting = dataclasses.replace(actor, permissions=actor.permissions | {"subject.change"})
            request = request_complete(actor=objecting, request=request)
    return request


def _open_request_like(subject: Subject, kind: str, details: Mapping[str, Any]) -> PrivacyRequest | None:
    """The person's open request of this kind (and, for an objection, about the same thing)."""
    waiting = PrivacyRequest.objects.filter(
        subject=subject,
        kind=kind,
        status__in=[PrivacyRequest.Status.RECEIVED, PrivacyRequest.Status.VERIFIED, PrivacyRequest.Status.IN_PROGRESS],
    ).order_by("received_at")
    return next((r for r in waiting if r.details.get("about") == details.get("about")), None)


def portal_requests(subject: Subject) -> list[PrivacyRequest]:
    """The person's own requests, newest first."""
    return list(PrivacyRequest.objects.filter(subject=subject).order_by("-received_at"))


def portal_consent_purposes() -> list[Purpose]:
    """Purposes a person can give or withdraw consent for: active ones based on consent."""
    return list(Purpose.objects.filter(is_active=True, legal_basis=LegalBasis.CONSENT).order_by("key"))


def portal_consent_change(
    *, actor: Actor, link: PortalLink, purpose_key: Any, give: bool, language: str
) -> ConsentEvent:
    """Give or withdraw consent from the portal, with the text shown in the portal's language as proof."""
    purpose = next((p for p in portal_consent_purposes() if p.key == purpose_key), None)
    if purpose is None:
        raise ValidationFailed.single("purpose", _("Choose one of the purposes listed."))
    proof = Proof(
        source=ConsentSource.PORTAL,
        text_shown=shown_text(purpose, language),
        form="privacy portal",
        ip=actor.ip,
        user_agent=actor.user_agent,
        language=language,
    )
    if give:
        return consent_give(actor=actor, subject=link.subject, purpose=purpose, proof=proof).event
    return consent_withdraw(actor=actor, subject=link.subject, purpose=purpose, proof=proof)


def portal_export_recorded(*, actor: Actor, link: PortalLink, file_format: str) -> None:
    """The person downloaded their data: an audit entry, no values."""
    audit_record(
        actor=actor,
        action="subject.portal_export",
        object_type="subject",
        object_id=link.subject_id,
        extra={"format": file_format, "link": str(link.pk)},
    )
