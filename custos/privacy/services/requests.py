"""Data-subject requests: received → verified → (in progress) → completed or rejected.

Every step is audited with ids only. The answer to a new request has the same shape
whether or not its email is known, so the API and the portal reveal nothing.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, NotFound, ValidationFailed
from custos.core.models import Organization
from custos.core.personal_data import Category, model_field
from custos.core.tenancy import require_org_id
from custos.core.validation import Cleaner
from custos.privacy.models import PrivacyRequest, PrivacySettings, Subject
from custos.privacy.models.requests import PORTAL_EDITABLE_CHOICES
from custos.privacy.registry import declaration_of, declarations, records_of
from custos.privacy.services.erasure import anonymised_values, subject_erase
from custos.privacy.services.hooks import records_changed
from custos.privacy.services.processors import recipients_prepare, recipients_schedule
from custos.privacy.services.reports import access_report, portability_data
from custos.privacy.services.restriction import subject_object, subject_restrict
from custos.privacy.services.subjects import subjects_with_email

Kind = PrivacyRequest.Kind
Status = PrivacyRequest.Status
LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
# Art. 12(3): "extended by two further months where necessary".
MAX_EXTENSION_DAYS = 61


# The settings staff change on the privacy settings page (and `invoice_keep_years`, which
# belongs to retention, elsewhere).
SETTINGS_FIELDS = (
    "request_days",
    "reminder_days",
    "portal_link_days",
    "inform_recipients",
    "portal_visible",
    "portal_editable",
    "controller_contact",
    "dpo_contact",
    "request_keep_years",
)
MAX_CONTACT_LENGTH = 1000
# What an objection is to: direct marketing and profiling (honoured as asked, Art. 21(2) and (3)),
# or any processing, on grounds of the person's particular situation (weighed, Art. 21(1)).
SITUATION = "situation"
OBJECTIONS = ("marketing", "profiling", SITUATION)
MAX_KEEP_YEARS = 10
# Art. 12(3): a request is answered within one month.
MAX_REQUEST_DAYS = 31
MAX_PORTAL_LINK_DAYS = 90


def months_after(moment: dt.datetime, months: int) -> dt.datetime:
    """The same local day and time so many months on; the 31st becomes the month's last day
    where it has none. Art. 12(3) counts in months: a request received on 31 January is due
    by 28 (or 29) February, not 30 days on, in March."""
    local = timezone.localtime(moment)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    return local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))


def request_due_at(received_at: dt.datetime) -> dt.datetime:
    """The organisation's days to answer, but never later than the one month the law gives."""
    days_later = timezone.localtime(received_at) + dt.timedelta(days=privacy_settings().request_days)
    return min(days_later, months_after(received_at, 1))


def privacy_settings() -> PrivacySettings:
    found = PrivacySettings.objects.first()
    return found if found is not None else PrivacySettings()


def _clean_categories(cleaner: Cleaner, field: str, value: Any, allowed: tuple[str, ...]) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        cleaner.fail(field, _("Enter a list of kinds of data."))
        return []
    unknown = [item for item in value if item not in allowed]
    if unknown:
        cleaner.fail(field, _("Choose from: %(choices)s.") % {"choices": ", ".join(allowed)})
        return []
    return [item for item in allowed if item in value]  # the catalogue's order, each once


def privacy_settings_update(*, actor: Actor, data: Mapping[str, Any]) -> PrivacySettings:
    """Change the organisation's privacy settings; the fields not given keep their values."""
    actor.require("privacy_request.change")
    with transaction.atomic():
        # Locked (created first if need be) before reading, so the fields not given keep the
        # values of a save that ran at the same time, not those read before it.
        current = _settings_locked()
        changed = _settings_apply(current, data)
        if changed:
            current.save(update_fields=changed)
            audit_record(
                actor=actor,
                action="privacy_settings.update",
                object_type="privacy_settings",
                object_id=current.pk,
                fields=changed,
            )
    return current


def _settings_locked() -> PrivacySettings:
    """The organisation's settings row, locked; the first save creates it."""
    found = PrivacySettings.objects.select_for_update().first()
    return found if found is not None else settings_row_created()


def settings_row_created() -> PrivacySettings:
    """Insert the settings row, or, when a save running at the same time inserted it first
    (the unique constraint on the organisation refuses a second), lock and use that one."""
    try:
        with transaction.atomic():
            return PrivacySettings.objects.create()
    except IntegrityError:
        return PrivacySettings.objects.select_for_update().get()


def _settings_apply(current: PrivacySettings, data: Mapping[str, Any]) -> list[str]:
    """Check the change against the current settings and set it on them; returns the names
    changed. Raises with every problem at once, changing nothing."""
    cleaner = Cleaner()
    for name in sorted(set(data) - set(SETTINGS_FIELDS)):
        cleaner.fail(name, _("Unknown field."))
    merged = {name: getattr(current, name) for name in SETTINGS_FIELDS} | {
        k: v for k, v in data.items() if k in SETTINGS_FIELDS
    }
    request_days = cleaner.integer(
        "request_days", merged["request_days"], minimum=1, maximum=MAX_REQUEST_DAYS, required=True
    )
    reminder_days = cleaner.integer(
        "reminder_days", merged["reminder_days"], minimum=0, maximum=MAX_REQUEST_DAYS, required=True
    )
    link_days = cleaner.integer(
        "portal_link_days", merged["portal_link_days"], minimum=1, maximum=MAX_PORTAL_LINK_DAYS, required=True
    )
    if request_days is not None and reminder_days is not None and reminder_days >= request_days:
        cleaner.fail("reminder_days", _("Remind before the deadline: fewer days than there are to answer."))
    inform = merged["inform_recipients"]
    if not isinstance(inform, bool):
        cleaner.fail("inform_recipients", _("Enter true or false."))
    every_category = tuple(str(c) for c in Category)
    visible = _clean_categories(cleaner, "portal_visible", merged["portal_visible"], every_category)
    editable = _clean_categories(
        cleaner, "portal_editable", merged["portal_editable"], tuple(str(c) for c in PORTAL_EDITABLE_CHOICES)
    )
    controller_contact = cleaner.text(
        "controller_contact", merged["controller_contact"], max_length=MAX_CONTACT_LENGTH, multiline=True
    )
    dpo_contact = cleaner.text("dpo_contact", merged["dpo_contact"], max_length=MAX_CONTACT_LENGTH, multiline=True)
    keep_years = cleaner.integer(
        "request_keep_years", merged["request_keep_years"], minimum=1, maximum=MAX_KEEP_YEARS, required=True
    )
    hidden = [category for category in editable if category not in visible]
    if hidden:
        cleaner.fail("portal_editable", _("The person can only correct data the portal shows them."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    cleaned = {
        "request_days": request_days,
        "reminder_days": reminder_days,
        "portal_link_days": link_days,
        "inform_recipients": inform,
        "portal_visible": visible,
        "portal_editable": editable,
        "controller_contact": controller_contact,
        "dpo_contact": dpo_contact,
        "request_keep_years": keep_years,
    }
    changed = sorted(name for name, value in cleaned.items() if getattr(current, name) != value)
    for name in changed:
        setattr(current, name, cleaned[name])
    return changed


def _clean_details(cleaner: Cleaner, kind: str, value: Any) -> dict[str, Any]:
    if value in (None, {}):
        return {"about": "marketing"} if kind == Kind.OBJECTION else {}
    if not isinstance(value, Mapping):
        cleaner.fail("details", _("Enter an object."))
        return {}
    if kind == Kind.OBJECTION:
        about = cleaner.choice("details.about", value.get("about", "marketing"), OBJECTIONS)
        # Grounds of a particular situation (Art. 21(1)), in the person's words.
        note = cleaner.text("details.note", value.get("note"), max_length=2000, multiline=True)
        return {"about": about, **({"note": note} if note and about == SITUATION else {})}
    if kind == Kind.RECTIFICATION:
        corrections = value.get("corrections", {})
        if not isinstance(corrections, Mapping):
            cleaner.fail("details.corrections", _("Enter an object of field names and corrected texts."))
            return {}
        # Checked now as completing checks them: a value its field cannot take, recorded as
        # typed, would leave a request that can never be carried out as received.
        cleaned = _check_corrections(cleaner, "details.corrections", corrections) if corrections else {}
        note = cleaner.text("details.note", value.get("note", ""), max_length=2000, multiline=True)
        return {"corrections": cleaned, "note": note}
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
        # People sharing an address (a family): staff say whose it is (`request_identify`).
        subject = found[0] if len(found) == 1 else None
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
            due_at=request_due_at(now),
        )
        audit_record(
            actor=actor,
            action="privacy_request.create",
            object_type="privacy_request",
            object_id=request.pk,
            extra={"kind": kind, "source": source},
        )
    return request


def request_people(request: PrivacyRequest) -> list[Subject]:
    """The people on record with the request's email: several where they share an address."""
    return subjects_with_email(request.email) if request.email else []


def request_identify(*, actor: Actor, request: PrivacyRequest, subject_id: Any) -> PrivacyRequest:
    """Say which of the people sharing the request's email it is from, before it is carried
    out: carried out for all of them, one would get, correct or erase another's data."""
    actor.require("privacy_request.change")
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        chosen = next((s for s in request_people(request) if str(s.pk) == str(subject_id)), None)
        if chosen is None:
            raise ValidationFailed.single("subject", _("Choose one of the people with this email address."))
        request.subject = chosen
        request.save(update_fields=["subject"])
        _step(actor, request, "identify")
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
    """Extend the deadline once, with the reason documented. Art. 12(3): the person is told
    within one month of receipt, and the answer is due three months after it at the latest.
    The reminder is sent again before the new deadline."""
    actor.require("privacy_request.change")
    cleaner = Cleaner()
    days = cleaner.integer("days", days, minimum=1, maximum=MAX_EXTENSION_DAYS, required=True)
    reason = cleaner.text("reason", reason, max_length=1000, required=True, multiline=True)
    if cleaner.errors or days is None:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        if request.extended_at is not None:
            raise Conflict(_("The deadline of this request has been extended already."))
        now = timezone.now()
        if now > months_after(request.received_at, 1):
            raise Conflict(_("An extension must be given within one month of receiving the request (Art. 12(3))."))
        latest = months_after(request.received_at, 3)
        # Whole days on the local calendar: the same time of day, across a change of clocks.
        due_at = timezone.localtime(request.due_at) + dt.timedelta(days=days)
        if due_at > latest:
            raise ValidationFailed.single(
                "days",
                _("The law allows two further months at most: choose a deadline no later than %(date)s.")
                % {"date": date_format(latest, "DATE_FORMAT")},
            )
        request.due_at = due_at
        request.extended_at = now
        request.extension_reason = reason
        request.reminded_at = None
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


def clean_correction(cleaner: Cleaner, key: str, field_of: models.Field[Any, Any], value: Any, *, country: str) -> str:
    """A corrected value checked and normalised as the record's own write does it: an email
    with its domain in lower case, a phone in E.164, a VAT ID compact, a country code upper
    case, a choice among the field's choices; other text trimmed to the field's length.
    Errors name `key`."""
    name = field_of.name
    if isinstance(field_of, models.EmailField):
        return cleaner.email(key, value)
    if "phone" in name:
        return cleaner.phone(key, value, country=country)
    if name == "vat_id":
        return cleaner.vat_id(key, value)
    if name == "country":
        return cleaner.country(key, value)
    if field_of.choices:
        return cleaner.choice(key, value, ["", *(str(code) for code, _label in field_of.flatchoices)])
    return cleaner.text(key, value, max_length=field_of.max_length or 300)


@dataclass(frozen=True)
class Rectified:
    # What changed, by record type and field name: the request's result (no values).
    result: dict[str, Any]
    # (record type, field name, value as stored) for each field changed: for the recipients'
    # notice only, never stored with the request.
    written: tuple[tuple[str, str, str], ...]


# The privacy engine's own records of the person (their requests, with the address each came
# from, consents, links) are evidence of what happened: a correction never rewrites them.
RECORDS_OF_REQUESTS = ("privacy",)


def _rectify(actor: Actor, subject: Subject, corrections: Mapping[str, str]) -> Rectified:
    """Apply each correction to every record of the person that declares that field as
    identity or contact data, cleaned as that record's field is."""
    country = Organization.objects.get(pk=require_org_id()).country
    cleaner = Cleaner()
    changed: dict[str, list[str]] = {}
    written: list[tuple[str, str, str]] = []
    for found in records_of(subject):
        declaration = found.declaration
        if (
            declaration.copy_of_personal_data
            or not declaration.rectify
            or declaration.model._meta.app_label in RECORDS_OF_REQUESTS
        ):
            continue
        for name, given in sorted(corrections.items()):
            if declaration.fields.get(name) not in (Category.IDENTITY, Category.CONTACT):
                continue
            value = clean_correction(cleaner, name, model_field(declaration.model, name), given, country=country)
            if cleaner.errors:
                raise ValidationFailed(cleaner.errors)
            if found.queryset.exclude(**{name: value}).update(**{name: value}):
                label = declaration.model._meta.label
                changed.setdefault(label, []).append(name)
                written.append((label, name, value))
    unknown = sorted(set(corrections) - {n for names in changed.values() for n in names})
    records_changed(subject)
    return Rectified(
        result={"corrected": {label: sorted(names) for label, names in changed.items()}, "not_applied": unknown},
        written=tuple(sorted(written)),
    )


def _perform(actor: Actor, request: PrivacyRequest) -> tuple[dict[str, Any], tuple[tuple[str, str, str], ...]]:
    """Carry the request out; returns its result and, for a rectification, the values written."""
    subject = request.subject
    if subject is None:
        return {"found": False}, ()
    match request.kind:
        case Kind.ACCESS:
            report = access_report(subject, language=request.language)
            return {"found": True, "records": len(report["records"])}, ()
        case Kind.PORTABILITY:
            data = portability_data(subject)
            return {"found": True, "records": sum(len(rows) for rows in data.values())}, ()
        case Kind.ERASURE:
            return {"found": True, **subject_erase(actor=actor, subject=subject).as_dict()}, ()
        case Kind.RESTRICTION:
            # The request informs the recipients itself, recording whom on its result.
            subject_restrict(actor=actor, subject=subject, inform=False)
            return {"found": True, "restricted": True}, ()
        case Kind.OBJECTION if request.details.get("about") == SITUATION:
            # Upheld: the organisation has no compelling grounds to go on (else it rejects the
            # request, saying which). Its data is no longer processed, only stored (Art. 21(1)).
            subject_restrict(actor=actor, subject=subject, inform=False)
            return {"found": True, "objection": SITUATION, "restricted": True}, ()
        case Kind.OBJECTION:
            about = request.details.get("about", "marketing")
            subject_object(actor=actor, subject=subject, about=about)
            return {"found": True, "objection": about}, ()
        case Kind.RECTIFICATION:
            rectified = _rectify(actor, subject, request.details.get("corrections", {}))
            return {"found": True, **rectified.result}, rectified.written
    raise AssertionError(request.kind)


def correctable_fields() -> dict[str, models.Field[Any, Any]]:
    """Every field a rectification can correct, by name: identity and contact fields the
    declarations name (the first model declaring a name decides how its value is checked)."""
    found: dict[str, models.Field[Any, Any]] = {}
    for declaration in declarations():
        if declaration.copy_of_personal_data or declaration.subject is None or not declaration.rectify:
            continue
        for name, category in sorted(declaration.fields.items()):
            if category in (Category.IDENTITY, Category.CONTACT):
                found.setdefault(name, model_field(declaration.model, name))
    return found


def _clean_corrections(value: Any) -> dict[str, str]:
    """Corrections given when completing a rectification: field name → corrected text, each
    checked as the field it corrects; errors name `corrections.<field>`."""
    cleaner = Cleaner()
    if not isinstance(value, Mapping) or not value:
        raise ValidationFailed.single("corrections", _("Enter an object of field names and corrected texts."))
    cleaned = _check_corrections(cleaner, "corrections", value)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _check_corrections(cleaner: Cleaner, prefix: str, value: Mapping[Any, Any]) -> dict[str, str]:
    """Each correction checked as the field it corrects; errors name `<prefix>.<field>`."""
    country = Organization.objects.get(pk=require_org_id()).country
    known = correctable_fields()
    cleaned: dict[str, str] = {}
    for name, text in sorted(value.items(), key=lambda item: str(item[0])):
        key = f"{prefix}.{name}"
        field_of = known.get(name)
        if field_of is None:
            cleaner.fail(
                key,
                _("No record of a person holds such a field; choose from: %(names)s.")
                % {"names": ", ".join(sorted(known))},
            )
        elif not isinstance(text, str):
            cleaner.fail(key, _("Enter text."))
        else:
            cleaned[name] = clean_correction(cleaner, key, field_of, text, country=country)
    return cleaned


def request_complete(*, actor: Actor, request: PrivacyRequest, corrections: Any = None) -> PrivacyRequest:
    """Carry out a verified request for its person and record what was done; a request the
    law does not let us carry out (a legal hold) is answered as rejected, with the reason.

    `corrections` (rectification only): what staff found is to be corrected, replacing the
    corrections recorded when the request was received; None keeps those."""
    actor.require("privacy_request.change")
    if corrections is not None and request.kind != Kind.RECTIFICATION:
        raise ValidationFailed.single("corrections", _("Only a rectification request takes corrections."))
    cleaned_corrections = _clean_corrections(corrections) if corrections is not None else None
    with transaction.atomic():
        request = _locked(request)
        _require_open(request)
        if request.verified_at is None:
            raise Conflict(_("Verify the requester's identity before completing the request."))
        if request.subject is None and (people := request_people(request)):  # several, or someone since
            if len(people) > 1:
                raise Conflict(_("Several people share this email address: choose whose request it is first."))
            raise Conflict(
                _("Someone on record has taken this email address since the request came: confirm it is theirs first.")
            )
        if cleaned_corrections is not None:
            request.details = {**request.details, "corrections": cleaned_corrections}
            request.save(update_fields=["details"])
        request.status = Status.IN_PROGRESS
        # Art. 19: whom to tell, and the person's addresses, read before an erasure removes them.
        notice = recipients_prepare(kind=request.kind, subject=request.subject)
        try:
            with transaction.atomic():
                result, written = _perform(actor, request)
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
        if notice is not None and result.get("found"):
            informing = recipients_schedule(prepared=notice, request=request, corrections=written)
            if informing:
                result = {**result, "recipients": informing}
        request.status = Status.COMPLETED
        request.completed_at = timezone.now()
        request.handler_id = request.handler_id or actor.user_id
        request.result = result
        request.save()
        if cleaned_corrections is not None:
            _step(actor, request, "complete", kind=request.kind, corrections_given=sorted(cleaned_corrections))
        else:
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


def requests_forget(*, now: dt.datetime | None = None) -> int:
    """Closed requests past the years the organisation keeps them lose the requester's email,
    the details and how the identity was verified; their kind, dates and outcome stay, as a
    pseudonymous record of how the organisation answers. A second run changes nothing."""
    now = now or timezone.now()
    years = privacy_settings().request_keep_years
    cutoff = now - dt.timedelta(days=365 * years + years // 4)
    closed = PrivacyRequest.objects.filter(status__in=(Status.COMPLETED, Status.REJECTED)).filter(
        models.Q(completed_at__lt=cutoff) | models.Q(completed_at__isnull=True, received_at__lt=cutoff)
    )
    holding = closed.filter(models.Q(email__gt="") | models.Q(verification_reason__gt="") | ~models.Q(details={}))
    with transaction.atomic():
        forgotten = holding.update(**anonymised_values(declaration_of(PrivacyRequest)))
        if forgotten:
            audit_record(
                actor=Actor.system(require_org_id()),
                action="privacy_request.forget",
                object_type="privacy_request",
                extra={"count": forgotten, "years": years},
            )
    return forgotten
