"""Purposes and the consent ledger: given and withdrawn, with proof; the state is derived."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, NotFound, ValidationFailed
from custos.core.validation import FIELD_KEY_PATTERN, Cleaner
from custos.privacy.models import ConsentEvent, Purpose, PurposeVersion, Subject
from custos.privacy.models.consent import ConsentSource, LegalBasis

LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
# How long a double opt-in link confirms: a yes weeks later may no longer be what was meant.
CONFIRMATION_DAYS = 30


def _clean_texts(cleaner: Cleaner, field: str, value: Any, *, max_length: int, required: bool) -> dict[str, str]:
    """A text per language: {"en": "...", "de": "..."}; at least one when required."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        cleaner.fail(field, _('Enter an object with a text per language code, such as {"en": "…"}.'))
        return {}
    texts: dict[str, str] = {}
    for language, text in value.items():
        if language not in LANGUAGES:
            cleaner.fail(
                f"{field}.{language}", _("Unknown language; use one of: %(codes)s.") % {"codes": ", ".join(LANGUAGES)}
            )
            continue
        cleaned = cleaner.text(f"{field}.{language}", text, max_length=max_length, multiline=max_length > 200)
        if cleaned:
            texts[language] = cleaned
    if required and not texts:
        cleaner.fail(field, _("Write it in at least one language."))
    return texts


def purpose_create(*, actor: Actor, data: Mapping[str, Any]) -> Purpose:
    """A new purpose, at version 1."""
    actor.require("purpose.add")
    cleaner = Cleaner()
    key = cleaner.text("key", data.get("key"), max_length=60, required=True)
    if key and not FIELD_KEY_PATTERN.match(key):
        cleaner.fail("key", _("Use lower-case letters, digits and underscores, starting with a letter."))
    elif key and Purpose.objects.filter(key=key).exists():
        cleaner.fail("key", _("A purpose with this key exists already."))
    basis = cleaner.choice("legal_basis", data.get("legal_basis"), LegalBasis.values)
    names = _clean_texts(cleaner, "names", data.get("names"), max_length=200, required=True)
    descriptions = _clean_texts(cleaner, "descriptions", data.get("descriptions"), max_length=5000, required=False)
    is_marketing = _boolean(cleaner, "is_marketing", data.get("is_marketing", False))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        purpose = Purpose.objects.create(key=key, legal_basis=basis, is_marketing=is_marketing)
        PurposeVersion.objects.create(purpose=purpose, version=1, names=names, descriptions=descriptions)
        audit_record(actor=actor, action="purpose.create", object_type="purpose", object_id=purpose.pk)
    return purpose


def _boolean(cleaner: Cleaner, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        cleaner.fail(field, _("Enter true or false."))
        return False
    return value


def purpose_update(*, actor: Actor, purpose: Purpose, data: Mapping[str, Any]) -> Purpose:
    """Change a purpose; new wording becomes a new version, so earlier proof stays exact."""
    actor.require("purpose.change")
    cleaner = Cleaner()
    unknown = set(data) - {"legal_basis", "names", "descriptions", "is_marketing", "is_active"}
    for name in sorted(unknown):
        cleaner.fail(name, _("Unknown field."))
    current = purpose_text(purpose)
    names = current.names
    descriptions = current.descriptions
    if "names" in data:
        names = _clean_texts(cleaner, "names", data["names"], max_length=200, required=True)
    if "descriptions" in data:
        descriptions = _clean_texts(cleaner, "descriptions", data["descriptions"], max_length=5000, required=False)
    changes: dict[str, Any] = {}
    if "legal_basis" in data:
        changes["legal_basis"] = cleaner.choice("legal_basis", data["legal_basis"], LegalBasis.values)
    for flag in ("is_marketing", "is_active"):
        if flag in data:
            changes[flag] = _boolean(cleaner, flag, data[flag])
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    reworded = names != current.names or descriptions != current.descriptions
    changed_basis = "legal_basis" in changes and changes["legal_basis"] != purpose.legal_basis
    with transaction.atomic():
        purpose = Purpose.objects.select_for_update().get(pk=purpose.pk)
        for name, value in changes.items():
            setattr(purpose, name, value)
        if reworded or changed_basis:
            purpose.version += 1
            PurposeVersion.objects.create(
                purpose=purpose, version=purpose.version, names=names, descriptions=descriptions
            )
        purpose.save()
        audit_record(
            actor=actor,
            action="purpose.update",
            object_type="purpose",
            object_id=purpose.pk,
            fields=[*changes, *(["names", "descriptions"] if reworded else [])],
            extra={"version": purpose.version},
        )
    return purpose


def purpose_text(purpose: Purpose, version: int | None = None) -> PurposeVersion:
    return PurposeVersion.objects.get(purpose=purpose, version=version or purpose.version)


def in_language(texts: Mapping[str, str], language: str) -> str:
    """The text in this language, else English, else the first one written."""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


def purpose_names(language: str) -> list[tuple[Purpose, str]]:
    """The purposes in use, each with its name in the language (its key where it has none);
    their current wordings read in one statement."""
    purposes = list(Purpose.objects.filter(is_active=True).order_by("key"))
    names = {
        (text.purpose_id, text.version): text.names for text in PurposeVersion.objects.filter(purpose__in=purposes)
    }
    return [(p, in_language(names.get((p.pk, p.version), {}), language) or p.key) for p in purposes]


def shown_text(purpose: Purpose, language: str, version: int | None = None) -> str:
    """Exactly what a person is shown when asked for consent: name and description."""
    text = purpose_text(purpose, version)
    name = in_language(text.names, language)
    description = in_language(text.descriptions, language)
    return f"{name}\n\n{description}".strip()


@dataclass(frozen=True)
class Proof:
    """Where a consent came from; every part is optional except the source."""

    source: str
    text_shown: str = ""
    form: str = ""
    ip: str | None = None
    user_agent: str = ""
    language: str = "en"


@dataclass(frozen=True)
class NewConsent:
    event: ConsentEvent
    confirmation_secret: str | None  # for the double opt-in mail, never stored


def _event(
    *,
    actor: Actor,
    subject: Subject,
    purpose: Purpose,
    action: str,
    proof: Proof,
    expires_at: datetime | None = None,
    double_opt_in: bool = False,
) -> NewConsent:
    if proof.source not in ConsentSource.values:
        raise ValidationFailed.single(
            "source", _("Choose one of: %(values)s.") % {"values": ", ".join(ConsentSource.values)}
        )
    if subject.state == Subject.State.ERASED:
        raise Conflict(_("This person's data has been erased."))
    secret = secrets.token_urlsafe(32) if double_opt_in else None
    with transaction.atomic():
        event = ConsentEvent.objects.create(
            subject=subject,
            purpose=purpose,
            purpose_version=purpose.version,
            action=action,
            source=proof.source,
            text_shown=proof.text_shown or shown_text(purpose, proof.language),
            form=proof.form[:100],
            ip=proof.ip,
            user_agent=proof.user_agent[:300],
            requires_confirmation=double_opt_in,
            confirmation_digest=hashlib.sha256(secret.encode()).hexdigest() if secret else "",
            expires_at=expires_at,
            recorded_by_id=actor.user_id,
        )
        audit_record(
            actor=actor,
            action=f"consent.{action}",
            object_type="subject",
            object_id=subject.pk,
            extra={"purpose": purpose.key, "version": purpose.version, "source": proof.source},
        )
    return NewConsent(event=event, confirmation_secret=secret)


def consent_give(
    *,
    actor: Actor,
    subject: Subject,
    purpose: Purpose,
    proof: Proof,
    expires_at: datetime | None = None,
    double_opt_in: bool = False,
) -> NewConsent:
    """Record consent; with double opt-in it counts only once the emailed link is followed."""
    if actor.via not in ("portal", "system", "automation"):
        actor.require("consent.add")
    if not purpose.is_active:
        raise ValidationFailed.single("purpose", _("This purpose is no longer in use."))
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed.single("expires_at", _("Choose a time in the future."))
    return _event(
        actor=actor,
        subject=subject,
        purpose=purpose,
        action="given",
        proof=proof,
        expires_at=expires_at,
        double_opt_in=double_opt_in,
    )


def consent_withdraw(*, actor: Actor, subject: Subject, purpose: Purpose, proof: Proof) -> ConsentEvent:
    """Withdrawing is as easy as giving (Art. 7(3)): anyone who may record consent may record this."""
    if actor.via not in ("portal", "system", "automation"):
        actor.require("consent.add")
    with transaction.atomic():
        # A mailed link still waiting would otherwise confirm what was just refused.
        ConsentEvent.objects.filter(subject=subject, purpose=purpose).exclude(confirmation_digest="").update(
            confirmation_digest=""
        )
        return _event(actor=actor, subject=subject, purpose=purpose, action="withdrawn", proof=proof).event


def consent_confirm(*, actor: Actor, secret: str) -> ConsentEvent:
    """The double opt-in link was followed: the consent it belongs to now counts.

    The digest is cleared with the confirmation: a used link opens nothing any more, and
    no lookup key for it stays at rest."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    spent = ConsentEvent.objects.filter(confirmation_digest=digest).first()
    if spent is not None and not confirmable(spent):
        # Too old to say what the person wants now, or the person is erased: the link is
        # spent, and its lookup key goes.
        ConsentEvent.objects.filter(pk=spent.pk).update(confirmation_digest="")
        raise NotFound()
    with transaction.atomic():
        event = ConsentEvent.objects.select_for_update().filter(confirmation_digest=digest).first()
        if event is None:
            raise NotFound()
        event.confirmation_digest = ""
        if event.confirmed_at is not None:  # confirmed before the digest was cleared on use
            event.save(update_fields=["confirmation_digest"])
        else:
            event.confirmed_at = timezone.now()
            event.save(update_fields=["confirmed_at", "confirmation_digest"])
            audit_record(
                actor=actor,
                action="consent.confirm",
                object_type="subject",
                object_id=event.subject_id,
                extra={"purpose": event.purpose_id and str(event.purpose_id)},
            )
    return event


def confirmable(event: ConsentEvent) -> bool:
    """A mailed link confirms for `CONFIRMATION_DAYS`, and never for an erased person."""
    fresh = event.occurred_at > timezone.now() - timedelta(days=CONFIRMATION_DAYS)
    return fresh and Subject.objects.filter(pk=event.subject_id).exclude(state=Subject.State.ERASED).exists()


@dataclass(frozen=True)
class ConsentState:
    purpose: Purpose
    granted: bool
    status: str  # "given", "pending" (awaiting double opt-in), "withdrawn", "expired", "none"
    since: datetime | None
    event: ConsentEvent | None


def _state_of(purpose: Purpose, events: list[ConsentEvent], now: datetime) -> ConsentState:
    """The state from one purpose's events, newest first. An unconfirmed double opt-in does
    not undo what stands before it: anyone can submit a public form with someone's address,
    and only the person's click makes it count (so a consent already given stays given, and
    the older of two mailed links still confirms)."""
    # A request no longer confirmable (its link lapsed) waits for nothing: as if never made.
    lapsed = now - timedelta(days=CONFIRMATION_DAYS)
    waiting = next((e for e in events if _unconfirmed(e) and e.occurred_at > lapsed), None)
    effective = next((e for e in events if not _unconfirmed(e)), None)
    if effective is None or effective.action == ConsentEvent.Action.WITHDRAWN:
        if waiting is not None and (effective is None or _newer(waiting, effective)):
            return ConsentState(purpose, False, "pending", waiting.occurred_at, waiting)
        if effective is None:
            return ConsentState(purpose, False, "none", None, None)
        return ConsentState(purpose, False, "withdrawn", effective.occurred_at, effective)
    if effective.expires_at is not None and effective.expires_at <= now:
        if waiting is not None and _newer(waiting, effective):
            return ConsentState(purpose, False, "pending", waiting.occurred_at, waiting)
        return ConsentState(purpose, False, "expired", effective.expires_at, effective)
    return ConsentState(purpose, True, "given", effective.confirmed_at or effective.occurred_at, effective)


def _unconfirmed(event: ConsentEvent) -> bool:
    return event.requires_confirmation and event.confirmed_at is None


def _newer(one: ConsentEvent, other: ConsentEvent) -> bool:
    return (one.occurred_at, str(one.pk)) > (other.occurred_at, str(other.pk))


def consent_states(subject: Subject) -> list[ConsentState]:
    """The current state per purpose, derived from the ledger."""
    events: dict[Any, list[ConsentEvent]] = {}
    for event in ConsentEvent.objects.filter(subject=subject).order_by("-occurred_at", "-pk"):
        events.setdefault(event.purpose_id, []).append(event)
    now = timezone.now()
    return [_state_of(p, events.get(p.pk, []), now) for p in Purpose.objects.order_by("key")]


def consent_history(subject: Subject) -> list[ConsentEvent]:
    return list(ConsentEvent.objects.filter(subject=subject).select_related("purpose").order_by("-occurred_at", "-pk"))


def processable(purpose: Purpose, path: str = "subject") -> Q:
    """The rows whose person may be processed for the purpose now, as `may_process` decides,
    as a condition on the rows' path to their subject: lists and exports ("everyone who
    consented to the newsletter") ask the database rather than the ledger person by person.
    A consent stands where the newest event that counts (a double opt-in only once confirmed)
    gave it and it has not expired. `path` empty: the rows are the subjects."""
    prefix = f"{path}__" if path else ""
    condition = Q(**{f"{prefix}state": Subject.State.ACTIVE})
    if purpose.is_marketing:
        condition &= Q(**{f"{prefix}objected_to_marketing_at__isnull": True})
    if purpose.legal_basis != LegalBasis.CONSENT:
        return condition
    counts = Q(requires_confirmation=False) | Q(confirmed_at__isnull=False)
    newer = ConsentEvent.objects.filter(counts, subject=OuterRef("subject"), purpose=purpose).filter(
        Q(occurred_at__gt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), pk__gt=OuterRef("pk"))
    )
    standing = (
        ConsentEvent.objects.filter(
            counts, subject=OuterRef(path or "pk"), purpose=purpose, action=ConsentEvent.Action.GIVEN
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .filter(~Exists(newer))
    )
    return condition & Q(Exists(standing))


def may_process(subject: Subject, purpose: Purpose) -> bool:
    """Checked at the moment of processing. Consent-based purposes need a current consent;
    other legal bases (contract, legal obligation…) do not. A restricted or erased person is
    never processed for anything but storage, and one who objected gets no marketing."""
    if subject.state != Subject.State.ACTIVE:
        return False
    if purpose.is_marketing and subject.objected_to_marketing_at is not None:
        return False  # Art. 21(3): after an objection, no direct marketing on any basis
    if purpose.legal_basis != LegalBasis.CONSENT:
        return True
    events = list(ConsentEvent.objects.filter(subject=subject, purpose=purpose).order_by("-occurred_at", "-pk"))
    return _state_of(purpose, events, timezone.now()).granted
