"""Web-to-lead forms: the builder's actions, and a visitor's submission turned into a lead
with its consent proof.

A submission runs as the form itself (an automation actor that may only add leads), so
the lead is scored and assigned by the organisation's rules like any other new lead.

Double opt-in mail: the confirmation secret that `consent_give` returns is never stored
(only its digest is, on the consent event) and never enters the task queue. The mail is
sent from `transaction.on_commit` in the submitting request's own process, so the secret
lives only in that process's memory until it is in the mail. The price: a failed send is
not retried — the consent then simply stays pending, which never counts as consent, and
the visitor can submit the form again. An encrypted token in a table would buy retries at
the cost of keeping a live secret at rest; for a link a visitor asked for a second ago,
not worth it.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from custos.accounts.throttle import rate_exceeded
from custos.audit.services import audit_record
from custos.core.actor import Actor, RecordScope, Via
from custos.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from custos.core.ids import org_of_token
from custos.core.net import network_of
from custos.core.tenancy import tenant_scope
from custos.core.validation import Cleaner
from custos.crm.models import Lead, LeadForm, LeadFormSubmission
from custos.crm.models.forms import ASKABLE_FIELDS
from custos.crm.services.leads import REACH_FIELDS, clean_lead, lead_create
from custos.crm.services.records import org_country
from custos.privacy.models import ConsentEvent, Purpose
from custos.privacy.services.consent import (
    Proof,
    confirmable,
    consent_confirm,
    consent_give,
    in_language,
    shown_text,
)

logger = logging.getLogger(__name__)

LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)
FORM_SETTINGS = ("name", "fields", "purposes", "thank_you", "tags", "is_active")
# The hidden field people never see; only a robot fills it in.
HONEYPOT = "website"
# Submissions per network address and form in the window, before the form says "later".
SUBMISSIONS_PER_ADDRESS = 10
SUBMISSION_WINDOW_SECONDS = 600


class TooManySubmissions(DomainError):
    status = 429


# The builder ----------------------------------------------------------------------------


def _clean_fields(cleaner: Cleaner, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        cleaner.fail("fields", _("Ask for at least one field."))
        return []
    asked: dict[str, bool] = {}
    for item in value:
        name = item.get("name") if isinstance(item, Mapping) else None
        if name not in ASKABLE_FIELDS:
            cleaner.fail("fields", _("Choose fields from: %(fields)s.") % {"fields": ", ".join(ASKABLE_FIELDS)})
            return []
        asked[name] = bool(item.get("required"))
    # Kept in the one order every form shows its fields in.
    return [{"name": name, "required": asked[name]} for name in ASKABLE_FIELDS if name in asked]


def _clean_texts(cleaner: Cleaner, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        cleaner.fail("thank_you", _('Enter an object with a text per language code, such as {"en": "…"}.'))
        return {}
    texts: dict[str, str] = {}
    for language, text in value.items():
        if language not in LANGUAGES:
            cleaner.fail(
                f"thank_you.{language}",
                _("Unknown language; use one of: %(codes)s.") % {"codes": ", ".join(LANGUAGES)},
            )
            continue
        cleaned = cleaner.text(f"thank_you.{language}", text, max_length=2000, multiline=True)
        if cleaned:
            texts[language] = cleaned
    return texts


def _clean_purposes(cleaner: Cleaner, value: Any, form: LeadForm | None) -> list[Purpose]:
    """Active purposes; a purpose taken out of use since may stay on a form that has it
    (reads list it, so a read written back must pass), but is never newly added."""
    if value is None:
        return []
    ids = [str(item) for item in value] if isinstance(value, list) else None
    if ids is None:
        cleaner.fail("purposes", _("Enter a list of purposes."))
        return []
    attached = set(form.purposes.values_list("pk", flat=True)) if form is not None else set()
    try:
        found = [
            purpose
            for purpose in Purpose.objects.filter(pk__in=[uuid.UUID(i) for i in ids])
            if purpose.is_active or purpose.pk in attached
        ]
    except ValueError:
        found = []
    if len(found) != len(set(ids)):
        cleaner.fail("purposes", _("Choose purposes that exist and are in use."))
    return found


def _clean_form(
    data: Mapping[str, Any], *, form: LeadForm | None = None
) -> tuple[dict[str, Any], list[Purpose] | None]:
    """The settings given; for a form being changed (`form`), only those, for a new one all."""
    partial = form is not None
    cleaner = Cleaner()
    for name in sorted(set(data) - set(FORM_SETTINGS)):
        cleaner.fail(name, _("Unknown field."))
    cleaned: dict[str, Any] = {}
    purposes = None
    if not partial or "name" in data:
        cleaned["name"] = cleaner.text("name", data.get("name"), max_length=100, required=True)
    if not partial or "fields" in data:
        cleaned["fields"] = _clean_fields(cleaner, data.get("fields"))
    if not partial or "thank_you" in data:
        cleaned["thank_you"] = _clean_texts(cleaner, data.get("thank_you"))
    if not partial or "tags" in data:
        cleaned["tags"] = cleaner.tags("tags", data.get("tags"))
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            cleaner.fail("is_active", _("Enter true or false."))
        cleaned["is_active"] = bool(data["is_active"])
    if not partial or "purposes" in data:
        purposes = _clean_purposes(cleaner, data.get("purposes"), form)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned, purposes


def _check_form(form: LeadForm, purposes: Sequence[Purpose], *, check_reach: bool = True) -> None:
    """A form asking for marketing consent needs an address to send the confirmation to; and
    every form must require one of the fields a lead cannot do without, else each
    submission would be refused for fields the visitor is never shown."""
    if any(p.is_marketing for p in purposes) and not form.requires("email"):
        raise ValidationFailed.single(
            "fields", _("A form that asks for marketing consent must ask for the email address, as required.")
        )
    if check_reach and not any(form.requires(name) for name in REACH_FIELDS):
        raise ValidationFailed.single(
            "fields",
            _(
                "Ask for the first name, the last name, the email address or the company, as required: "
                "a lead needs one of them."
            ),
        )


def lead_form_create(*, actor: Actor, data: Mapping[str, Any]) -> LeadForm:
    """A new web form, with a fresh unguessable public key."""
    actor.require("lead_rule.change")
    cleaned, purposes = _clean_form(data)
    form = LeadForm(**cleaned)
    _check_form(form, purposes or [])
    with transaction.atomic():
        form.save(force_insert=True)
        form.purposes.set(purposes or [])
        audit_record(
            actor=actor, action="lead_form.create", object_type="lead_form", object_id=form.pk, fields=sorted(data)
        )
    return form


def lead_form_update(*, actor: Actor, form: LeadForm, data: Mapping[str, Any]) -> LeadForm:
    actor.require("lead_rule.change")
    cleaned, purposes = _clean_form(data, form=form)
    for name, value in cleaned.items():
        setattr(form, name, value)
    # A form saved before the rule may still be renamed or switched off without fixing its fields.
    check_reach = "fields" in cleaned or cleaned.get("is_active") is True
    _check_form(form, purposes if purposes is not None else list(form.purposes.all()), check_reach=check_reach)
    with transaction.atomic():
        form.save()
        if purposes is not None:
            form.purposes.set(purposes)
        audit_record(
            actor=actor, action="lead_form.update", object_type="lead_form", object_id=form.pk, fields=sorted(data)
        )
    return form


def lead_form_delete(*, actor: Actor, form: LeadForm) -> None:
    """Delete the form; its leads and their consent proof stay (the proof names the form)."""
    actor.require("lead_rule.change")
    with transaction.atomic():
        form_id = form.pk
        form.delete()
        audit_record(actor=actor, action="lead_form.delete", object_type="lead_form", object_id=form_id)


# The public face ----------------------------------------------------------------------


def lead_form_public(public_key: str) -> LeadForm | None:
    """The active form behind a public key, in any organisation; None for unknown or inactive."""
    org_id = org_of_token(public_key) if public_key and len(public_key) <= 40 else None
    if org_id is None:
        return None
    with tenant_scope(org_id):
        return LeadForm.objects.filter(public_key=public_key, is_active=True).first()


def form_actor(form: LeadForm, *, ip: str | None = None, user_agent: str = "") -> Actor:
    """The form acting for its visitor: it may add a lead, nothing else."""
    return _visitor(form.org_id, frozenset({"lead.add"}), ip=ip, user_agent=user_agent)


def _visitor(org_id: Any, permissions: frozenset[str], *, ip: str | None, user_agent: str) -> Actor:
    return Actor(
        org_id=org_id,
        via=Via.AUTOMATION,
        role_key="lead_form",
        permissions=permissions,
        record_scope=RecordScope.ALL,
        ip=ip,
        user_agent=user_agent,
    )


def thank_you_text(form: LeadForm, language: str) -> str:
    return in_language(form.thank_you, language)


def shown_versions(posted: list[str]) -> dict[str, str]:
    """The purposes' versions the form showed ("<purpose id>:<version>" each), by purpose id."""
    return dict(item.split(":", 1) for item in posted[:100] if isinstance(item, str) and ":" in item)


@dataclass(frozen=True)
class Submission:
    lead: Lead | None  # None when the honeypot caught a robot: it is answered like a person


def form_submit(
    *, form: LeadForm, data: Mapping[str, Any], ip: str | None, user_agent: str, language: str
) -> Submission:
    """A visitor's submission: a lead (source web form, scored and assigned by the rules) and
    a consent event with its proof for every purpose they ticked; marketing purposes need the
    emailed link followed (double opt-in). Errors name the field, in the visitor's language,
    and store nothing.

    `data` holds the asked fields' values as posted, `purposes` (the ids ticked), `shown`
    (purpose id → the version the visitor read, where known) and the honeypot field."""
    language = language if language in LANGUAGES else settings.LANGUAGE_CODE
    with translation.override(language):
        return _submit(form, data, ip, user_agent[:300], language)


def _submit(form: LeadForm, data: Mapping[str, Any], ip: str | None, user_agent: str, language: str) -> Submission:
    if ip and rate_exceeded(
        f"lead-form:{form.pk}", network_of(ip), limit=SUBMISSIONS_PER_ADDRESS, window=SUBMISSION_WINDOW_SECONDS
    ):
        raise TooManySubmissions(_("Too many submissions from your network. Please try again in a few minutes."))
    if str(data.get(HONEYPOT) or "").strip():
        return Submission(lead=None)
    actor = form_actor(form, ip=ip, user_agent=user_agent)
    cleaner = Cleaner()
    values: dict[str, Any] = {}
    for item in form.fields:
        name = item["name"]
        value = data.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if item.get("required") and not value:
            cleaner.fail(name, _("This field is required."))
        values[name] = value
    offered = {str(p.pk): p for p in form.purposes.filter(is_active=True)}
    ticked_ids = data.get("purposes") or []
    if isinstance(ticked_ids, str):
        ticked_ids = [ticked_ids]
    ticked = [offered[str(i)] for i in dict.fromkeys(ticked_ids) if str(i) in offered]
    shown = data.get("shown") or {}
    if any(str(shown.get(str(p.pk), p.version)) != str(p.version) for p in ticked):
        # The proof must be the text the visitor read: reworded since, it is read again first.
        cleaner.fail(
            "purposes", _("The wording of a consent has changed since the form was opened: please read it again.")
        )
    if any(p.is_marketing for p in ticked) and not values.get("email"):
        cleaner.fail("email", _("Enter your email address: we send you a link to confirm your consent."))
    _cleaned, checked = clean_lead(actor, values, partial=True, country=org_country(actor))
    for error in checked.errors:
        if not any(e.field == error.field for e in cleaner.errors):
            cleaner.errors.append(error)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    try:
        with transaction.atomic():
            return _store(form, actor, values, ticked, ip=ip, user_agent=user_agent, language=language)
    except Conflict:
        # The address belongs to a person whose processing is restricted: nothing is stored,
        # and the visitor is answered like anyone else, so the form reveals nothing about them.
        return Submission(lead=None)


def _store(
    form: LeadForm,
    actor: Actor,
    values: dict[str, Any],
    ticked: list[Purpose],
    *,
    ip: str | None,
    user_agent: str,
    language: str,
) -> Submission:
    """The lead, its submission row and the consents with their proof, in the caller's transaction."""
    confirmations: list[tuple[str, str]] = []
    lead = lead_create(actor=actor, data={**values, "source": Lead.Source.WEB_FORM, "tags": list(form.tags)})
    LeadFormSubmission.objects.create(form=form, lead=lead, ip=ip)
    proof_form = f"{form.pk} {form.name}"[:100]
    for purpose in ticked:
        given = consent_give(
            actor=actor,
            subject=lead.subject,
            purpose=purpose,
            proof=Proof(
                source="web_form",
                text_shown=shown_text(purpose, language),
                form=proof_form,
                ip=ip,
                user_agent=user_agent,
                language=language,
            ),
            double_opt_in=purpose.is_marketing,
        )
        if given.confirmation_secret:
            confirmations.append((purpose_name(purpose, language), given.confirmation_secret))
    audit_record(
        actor=actor,
        action="lead_form.submit",
        object_type="lead_form",
        object_id=form.pk,
        extra={"lead": str(lead.pk), "purposes": [p.key for p in ticked]},
    )
    if confirmations:
        transaction.on_commit(partial(_send_confirmation, form.org_id, form.pk, lead.pk, language, confirmations))
    return Submission(lead=lead)


def purpose_name(purpose: Purpose, language: str) -> str:
    return shown_text(purpose, language).split("\n\n", 1)[0]


def confirmation_token(form: LeadForm, secret: str) -> str:
    """The link's last part: the public key finds the organisation, the secret the consent."""
    return f"{form.public_key}.{secret}"


def _send_confirmation(
    org_id: uuid.UUID, form_id: uuid.UUID, lead_id: uuid.UUID, language: str, confirmations: list[tuple[str, str]]
) -> None:
    """Mail the double opt-in link(s) to the lead's address; logs ids only, never the address."""
    with tenant_scope(org_id):
        form = LeadForm.objects.filter(pk=form_id).first()
        lead = Lead.objects.filter(pk=lead_id).first()
        if form is None or lead is None or not lead.email:
            return
        links = [
            (
                name,
                settings.CUSTOS_BASE_URL
                + reverse("web:lead-form-confirm", kwargs={"token": confirmation_token(form, secret)}),
            )
            for name, secret in confirmations
        ]
        context = {"form": form, "links": links}
        with translation.override(language):
            subject = render_to_string("crm/mail/lead_form_confirm_subject.txt", context).strip()
            body = render_to_string("crm/mail/lead_form_confirm.txt", context)
        try:
            send_mail(subject, body, None, [lead.email])
        except (smtplib.SMTPException, OSError) as error:
            logger.warning("double opt-in mail for lead %s failed: %s", lead_id, type(error).__name__)


def form_consent_check(token: str) -> None:
    """NotFound unless the token belongs to a consent awaiting its confirmation. Opening the
    link only asks; the person confirms with a button, so a mail scanner that follows every
    link confirms nothing."""
    public_key, _dot, secret = token.partition(".")
    org_id = org_of_token(public_key) if secret and public_key else None
    if org_id is None:
        raise NotFound()
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with tenant_scope(org_id):
        event = ConsentEvent.objects.filter(confirmation_digest=digest).first()
        if event is None or not confirmable(event):
            raise NotFound()


def form_consent_confirm(token: str, *, ip: str | None = None, user_agent: str = "") -> ConsentEvent:
    """The visitor followed the double opt-in link; NotFound for anything unknown."""
    public_key, _dot, secret = token.partition(".")
    org_id = org_of_token(public_key) if secret and public_key else None
    if org_id is None:
        raise NotFound()
    with tenant_scope(org_id):
        # A form deleted since keeps its leads and their consent: the link still confirms.
        actor = _visitor(org_id, frozenset(), ip=ip, user_agent=user_agent)
        return consent_confirm(actor=actor, secret=secret)
