"""/privacy/…: data subjects, purposes, the consent ledger and data-subject requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool

from custos.api.rendering import Moment, actor_of, choice_filter, moment, reference
from custos.core.errors import NotFound, ValidationFailed
from custos.core.pagination import paginate
from custos.core.validation import Cleaner
from custos.privacy.models import ConsentEvent, PrivacyRequest, Purpose, Subject
from custos.privacy.models.consent import ConsentSource
from custos.privacy.selectors import (
    access_purpose,
    access_request,
    access_subject,
    consent_list,
    purpose_by_reference,
    purpose_list,
    request_list,
    subject_list,
    subject_record_counts,
)
from custos.privacy.services import consent as consents
from custos.privacy.services import requests as requests_service
from custos.privacy.services.answers import request_answer
from custos.privacy.services.erasure import erasure_preview
from custos.privacy.services.restriction import subject_lift_restriction, subject_restrict

router = Router(tags=["privacy"])


# Subjects ------------------------------------------------------------------------------


class SubjectOut(Schema):
    id: str
    reference: str
    state: str
    created_at: datetime
    records: dict[str, int] | None = None


class SubjectPage(Schema):
    items: list[SubjectOut]
    next: str | None


def _subject_out(subject: Subject, records: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": str(subject.pk),
        "reference": subject.reference,
        "state": subject.state,
        "created_at": subject.created_at,
        "records": records,
    }


@router.get("/subjects", response=SubjectPage, summary="List data subjects")
def list_subjects(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    rows, next_cursor = paginate(subject_list(actor_of(request)), cursor=cursor, limit=limit)
    return {"items": [_subject_out(s) for s in rows], "next": next_cursor}


@router.get(
    "/subjects/{subject_id}", response=SubjectOut, summary="A data subject and how many records hold their data"
)
def get_subject(request: HttpRequest, subject_id: str) -> dict[str, Any]:
    subject = access_subject(actor_of(request), subject_id)
    return _subject_out(subject, subject_record_counts(subject))


class ErasurePreviewOut(Schema):
    subject: str
    anonymised: dict[str, int]
    deleted: dict[str, int]
    kept: list[dict[str, Any]]
    redacted_mentions: list[dict[str, str]]
    legal_holds: list[dict[str, Any]]


@router.get(
    "/subjects/{subject_id}/erasure-preview",
    response=ErasurePreviewOut,
    summary="Dry run: what erasing this person would anonymise, delete and keep",
)
def preview_erasure(request: HttpRequest, subject_id: str) -> dict[str, Any]:
    subject = access_subject(actor_of(request), subject_id, "subject.erase")
    return erasure_preview(subject).as_dict()


@router.post("/subjects/{subject_id}/restrict", response=SubjectOut, summary="Restrict processing (Art. 18)")
def restrict_subject(request: HttpRequest, subject_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    return _subject_out(subject_restrict(actor=actor, subject=access_subject(actor, subject_id, "subject.change")))


@router.post("/subjects/{subject_id}/lift-restriction", response=SubjectOut, summary="Lift a restriction")
def lift_restriction(request: HttpRequest, subject_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    subject = access_subject(actor, subject_id, "subject.change")
    return _subject_out(subject_lift_restriction(actor=actor, subject=subject))


class ConsentStateOut(Schema):
    purpose: str
    purpose_id: str
    legal_basis: str
    status: str = Field(description="given, pending (double opt-in not yet confirmed), withdrawn, expired or none")
    granted: bool
    since: datetime | None


@router.get(
    "/subjects/{subject_id}/consents",
    response=list[ConsentStateOut],
    summary="The person's current consent per purpose, derived from the ledger",
)
def subject_consents(request: HttpRequest, subject_id: str) -> list[dict[str, Any]]:
    actor = actor_of(request)
    actor.require("consent.view")
    subject = access_subject(actor, subject_id)
    return [
        {
            "purpose": state.purpose.key,
            "purpose_id": str(state.purpose.pk),
            "legal_basis": state.purpose.legal_basis,
            "status": state.status,
            "granted": state.granted,
            "since": moment(state.since),
        }
        for state in consents.consent_states(subject)
    ]


# Purposes ------------------------------------------------------------------------------


class PurposeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, description="Lower-case letters, digits and underscores; fixed once created.")
    legal_basis: str | None = Field(
        None,
        description="consent, contract, legal_obligation, vital_interests, public_task or legitimate_interest.",
    )
    names: dict[str, Any] | None = Field(None, description='The name per language code, e.g. {"en": "Newsletter"}.')
    descriptions: dict[str, Any] | None = None
    is_marketing: bool | None = None
    is_active: bool | None = None


class PurposeOut(Schema):
    id: str
    key: str
    legal_basis: str
    is_marketing: bool
    is_active: bool
    version: int
    names: dict[str, str]
    descriptions: dict[str, str]
    created_at: datetime


class PurposePage(Schema):
    items: list[PurposeOut]
    next: str | None


def _purpose_out(purpose: Purpose) -> dict[str, Any]:
    text = consents.purpose_text(purpose)
    return {
        "id": str(purpose.pk),
        "key": purpose.key,
        "legal_basis": purpose.legal_basis,
        "is_marketing": purpose.is_marketing,
        "is_active": purpose.is_active,
        "version": purpose.version,
        "names": text.names,
        "descriptions": text.descriptions,
        "created_at": moment(purpose.created_at),
    }


@router.get("/purposes", response=PurposePage, summary="List purposes of processing")
def list_purposes(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    rows, next_cursor = paginate(purpose_list(actor_of(request)).order_by("pk"), cursor=cursor, limit=limit)
    return {"items": [_purpose_out(p) for p in rows], "next": next_cursor}


@router.post("/purposes", response={201: PurposeOut}, summary="Create a purpose")
def create_purpose(request: HttpRequest, payload: PurposeIn) -> Status[dict[str, Any]]:
    purpose = consents.purpose_create(actor=actor_of(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, _purpose_out(purpose))


@router.get("/purposes/{purpose_id}", response=PurposeOut, summary="Get a purpose")
def get_purpose(request: HttpRequest, purpose_id: str) -> dict[str, Any]:
    return _purpose_out(access_purpose(actor_of(request), purpose_id))


@router.patch(
    "/purposes/{purpose_id}", response=PurposeOut, summary="Change a purpose; new wording makes a new version"
)
def update_purpose(request: HttpRequest, purpose_id: str, payload: PurposeIn) -> dict[str, Any]:
    actor = actor_of(request)
    purpose = access_purpose(actor, purpose_id, write=True)
    data = payload.model_dump(exclude_unset=True)
    if "key" in data:
        raise ValidationFailed.single("key", _("The key of a purpose cannot change."))
    return _purpose_out(consents.purpose_update(actor=actor, purpose=purpose, data=data))


# Consent ledger ------------------------------------------------------------------------


class ConsentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    subject: str
    purpose: str = Field(description="The purpose's id or key.")
    action: str = Field(description="given or withdrawn.")
    source: str | None = Field(None, description="web_form, portal, import, staff or api (the default).")
    text_shown: str | None = Field(
        None, description="The exact text the person saw; the purpose's current text when absent."
    )
    form: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    expires_at: Moment | None = None
    double_opt_in: bool = False
    language: str | None = None


class ConsentOut(Schema):
    id: str
    subject: str
    purpose: str
    purpose_version: int
    action: str
    occurred_at: datetime
    source: str
    text_shown: str
    form: str
    ip: str | None
    user_agent: str
    requires_confirmation: bool
    confirmed_at: datetime | None
    expires_at: datetime | None
    recorded_by: str | None


class ConsentPage(Schema):
    items: list[ConsentOut]
    next: str | None


def _consent_out(event: ConsentEvent) -> dict[str, Any]:
    return {
        "id": str(event.pk),
        "subject": str(event.subject_id),
        "purpose": event.purpose.key,
        "purpose_version": event.purpose_version,
        "action": event.action,
        "occurred_at": moment(event.occurred_at),
        "source": event.source,
        "text_shown": event.text_shown,
        "form": event.form,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "requires_confirmation": event.requires_confirmation,
        "confirmed_at": moment(event.confirmed_at),
        "expires_at": moment(event.expires_at),
        "recorded_by": reference(event.recorded_by_id),
    }


@router.get("/consents", response=ConsentPage, summary="The consent ledger, or one person's part of it")
def list_consents(
    request: HttpRequest, cursor: str | None = None, limit: int | None = None, subject: str | None = None
) -> dict[str, Any]:
    actor = actor_of(request)
    events = consent_list(actor)
    if subject:
        events = events.filter(subject=access_subject(actor, subject, "consent.view"))
    rows, next_cursor = paginate(events, cursor=cursor, limit=limit)
    return {"items": [_consent_out(e) for e in rows], "next": next_cursor}


@router.post("/consents", response={201: ConsentOut}, summary="Record consent given or withdrawn, with its proof")
def record_consent(request: HttpRequest, payload: ConsentIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    actor.require("consent.add")
    cleaner = Cleaner()
    action = cleaner.choice("action", payload.action, ConsentEvent.Action.values)
    source = cleaner.choice("source", payload.source or ConsentSource.API, ConsentSource.values)
    text_shown = cleaner.text("text_shown", payload.text_shown, max_length=10000, multiline=True)
    form = cleaner.text("form", payload.form, max_length=100)
    user_agent = cleaner.text("user_agent", payload.user_agent, max_length=300)
    ip = _ip(cleaner, payload.ip)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    subject = _referenced(
        lambda: access_subject(actor, payload.subject, "consent.add"), "subject", _("Choose an existing person.")
    )
    purpose = _referenced(
        lambda: purpose_by_reference(actor, payload.purpose), "purpose", _("Choose an existing purpose.")
    )
    proof = consents.Proof(
        source=source, text_shown=text_shown, form=form, ip=ip, user_agent=user_agent, language=payload.language or "en"
    )
    if action == ConsentEvent.Action.GIVEN:
        event = consents.consent_give(
            actor=actor,
            subject=subject,
            purpose=purpose,
            proof=proof,
            expires_at=payload.expires_at,
            double_opt_in=payload.double_opt_in,
        ).event
    else:
        event = consents.consent_withdraw(actor=actor, subject=subject, purpose=purpose, proof=proof)
    return Status(201, _consent_out(event))


def _ip(cleaner: Cleaner, value: str | None) -> str | None:
    import ipaddress

    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        cleaner.fail("ip", _("Enter an IPv4 or IPv6 address."))
        return None


def _referenced[T](access: Callable[[], T], field: str, message: str) -> T:
    """An id in the body that names nothing (or nothing the caller may see) is a field error."""
    try:
        return access()
    except NotFound:
        raise ValidationFailed.single(field, message) from None


# Settings ------------------------------------------------------------------------------


class SettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    request_days: int | None = Field(None, description="Days to answer a request; at most 31 (Art. 12(3)).")
    reminder_days: int | None = Field(None, description="Remind handlers this many days before a deadline.")
    portal_link_days: int | None = Field(None, description="Days a portal link stays valid; at most 90.")
    inform_recipients: StrictBool | None = Field(
        None,
        description="Art. 19: mail the processors marked inform_of_changes when a rectification, "
        "erasure or restriction is completed.",
    )
    portal_visible: list[str] | None = Field(
        None,
        description="Kinds of data the portal shows: identity, contact, free_text, financial, "
        "online_identifier, special.",
    )
    portal_editable: list[str] | None = Field(
        None, description="Kinds of data the person may correct in the portal: identity, contact (shown ones only)."
    )
    controller_contact: str | None = Field(
        None,
        description="The organisation's address and contact for privacy matters, shown in the privacy notice "
        "and the Art. 30 record; at most 1,000 characters, line breaks kept.",
    )
    dpo_contact: str | None = Field(
        None, description="The data protection officer's name and contact (Art. 37–39), or empty if none is appointed."
    )
    request_keep_years: int | None = Field(
        None,
        description="Years a closed request keeps the requester's email, details and verification (1–10, "
        "default 3); then only its kind, dates and outcome stay.",
    )


class SettingsOut(Schema):
    request_days: int
    reminder_days: int
    portal_link_days: int
    inform_recipients: bool
    portal_visible: list[str]
    portal_editable: list[str]
    controller_contact: str
    dpo_contact: str
    request_keep_years: int


def _settings_out(current: Any) -> dict[str, Any]:
    return {name: getattr(current, name) for name in requests_service.SETTINGS_FIELDS}


@router.get("/settings", response=SettingsOut, summary="The organisation's privacy settings")
def get_settings(request: HttpRequest) -> dict[str, Any]:
    actor_of(request).require("privacy_request.view")
    return _settings_out(requests_service.privacy_settings())


@router.patch("/settings", response=SettingsOut, summary="Change the organisation's privacy settings")
def update_settings(request: HttpRequest, payload: SettingsIn) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    return _settings_out(requests_service.privacy_settings_update(actor=actor_of(request), data=data))


# Requests ------------------------------------------------------------------------------


class RequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="access, rectification, erasure, restriction, portability or objection.")
    email: str
    language: str | None = Field(None, description="The language to answer in: en, de, pl or ar.")
    details: dict[str, Any] | None = Field(
        None,
        description='objection: {"about": "marketing" | "profiling" | "situation", "note": "grounds (situation)"}; '
        'rectification: {"corrections": {"phone": "…"}}. An objection on grounds of a particular situation '
        "(Art. 21(1)) is weighed: completing it restricts the person's processing; reject it with the "
        "compelling grounds to go on.",
    )


class RequestOut(Schema):
    id: str
    kind: str
    status: str
    source: str
    language: str
    received_at: datetime
    due_at: datetime
    extended_at: datetime | None
    verified_at: datetime | None
    verification: str
    completed_at: datetime | None
    rejection_reason: str
    handler: str | None


class RequestDetail(RequestOut):
    subject: str | None
    result: dict[str, Any]


class RequestPage(Schema):
    items: list[RequestDetail]
    next: str | None


def _request_out(request: PrivacyRequest) -> dict[str, Any]:
    return {
        "id": str(request.pk),
        "kind": request.kind,
        "status": request.status,
        "source": request.source,
        "language": request.language,
        "received_at": moment(request.received_at),
        "due_at": moment(request.due_at),
        "extended_at": moment(request.extended_at),
        "verified_at": moment(request.verified_at),
        "verification": request.verification,
        "completed_at": moment(request.completed_at),
        "rejection_reason": request.rejection_reason,
        "handler": reference(request.handler_id),
    }


def _request_detail(request: PrivacyRequest) -> dict[str, Any]:
    return {**_request_out(request), "subject": reference(request.subject_id), "result": request.result}


@router.get("/requests", response=RequestPage, summary="List data-subject requests")
def list_requests(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    status: str = "",
    kind: str = "",
    overdue: bool = False,
) -> dict[str, Any]:
    """`overdue=true`: open requests past their deadline."""
    actor = actor_of(request)
    status = choice_filter("status", status, PrivacyRequest.Status.values)
    kind = choice_filter("kind", kind, PrivacyRequest.Kind.values)
    rows, next_cursor = paginate(
        request_list(actor, status=status, kind=kind, overdue=overdue), cursor=cursor, limit=limit
    )
    return {"items": [_request_detail(r) for r in rows], "next": next_cursor}


@router.post(
    "/requests",
    response={201: RequestOut},
    summary="Receive a data-subject request; the answer looks the same whether or not the email is known",
)
def create_request(request: HttpRequest, payload: RequestIn) -> Status[dict[str, Any]]:
    created = requests_service.request_create(
        actor=actor_of(request),
        kind=payload.kind,
        email=payload.email,
        language=payload.language,
        details=payload.details,
        source=PrivacyRequest.Source.API,
    )
    return Status(201, _request_out(created))


@router.get("/requests/{request_id}", response=RequestDetail, summary="Get a data-subject request")
def get_request(request: HttpRequest, request_id: str) -> dict[str, Any]:
    return _request_detail(access_request(actor_of(request), request_id))


class ReasonIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


class ExtendIn(ReasonIn):
    days: int | None = Field(
        None,
        description="At most 61, and never past three months after receipt (two further months, Art. 12(3)); "
        "an extension is possible within the first month only (409 after it).",
    )


@router.post("/requests/{request_id}/verify", response=RequestDetail, summary="Record staff identity confirmation")
def verify_request(request: HttpRequest, request_id: str, payload: ReasonIn) -> dict[str, Any]:
    actor = actor_of(request)
    found = access_request(actor, request_id)
    return _request_detail(requests_service.request_verify(actor=actor, request=found, reason=payload.reason))


@router.post("/requests/{request_id}/extend", response=RequestDetail, summary="Extend the deadline once, with a reason")
def extend_request(request: HttpRequest, request_id: str, payload: ExtendIn) -> dict[str, Any]:
    actor = actor_of(request)
    found = access_request(actor, request_id)
    return _request_detail(
        requests_service.request_extend(actor=actor, request=found, days=payload.days, reason=payload.reason)
    )


@router.post("/requests/{request_id}/reject", response=RequestDetail, summary="Reject a request, with a reason")
def reject_request(request: HttpRequest, request_id: str, payload: ReasonIn) -> dict[str, Any]:
    actor = actor_of(request)
    found = access_request(actor, request_id)
    return _request_detail(requests_service.request_reject(actor=actor, request=found, reason=payload.reason))


class PersonIn(Schema):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, description="One of the people `GET …/requests/{id}/people` lists.")


@router.get(
    "/requests/{request_id}/people",
    response=SubjectPage,
    summary="The people on record holding a request's email, while it waits to be told whose it is",
)
def request_people(request: HttpRequest, request_id: str) -> dict[str, Any]:
    """Empty once the request is a person's, or when no one holds the email. For those who
    may handle the request and see persons: the record counts tell a patient from a lead."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    actor.require("privacy_request.change")
    actor.require("subject.view")
    people = requests_service.request_people(found) if found.subject_id is None and found.is_open else []
    return {"items": [_subject_out(s, subject_record_counts(s)) for s in people], "next": None}


@router.post("/requests/{request_id}/person", response=RequestDetail, summary="Say whose request it is")
def identify_request(request: HttpRequest, request_id: str, payload: PersonIn) -> dict[str, Any]:
    """Where several people share the request's email (a family), or someone took it since the
    request came: completing waits (409) until staff choose one of them here."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    return _request_detail(requests_service.request_identify(actor=actor, request=found, subject_id=payload.subject))


class CompleteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    corrections: dict[str, Any] | None = Field(
        None,
        description=(
            "Rectification only: the corrections to apply, field name to corrected text, such as "
            '{"phone": "+49 30 1234567"}. They replace the corrections recorded when the request was '
            "received; without them, those are applied. Each is checked as the field it corrects."
        ),
    )


@router.post("/requests/{request_id}/complete", response=RequestDetail, summary="Carry out a verified request")
def complete_request(request: HttpRequest, request_id: str, payload: CompleteIn | None = None) -> dict[str, Any]:
    """The body is optional: no body (or `{}`) carries the request out as received. A
    rectification may carry `corrections`; for any other kind they are refused (422), as is an
    unknown member, a field no record of a person holds, or a value that field cannot take,
    each named in `errors` (`corrections`, `corrections.<field>`); nothing changes then."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    corrections = payload.corrections if payload is not None else None
    return _request_detail(requests_service.request_complete(actor=actor, request=found, corrections=corrections))


@router.get(
    "/requests/{request_id}/report",
    summary="The result of a completed request",
    response={200: dict[str, Any]},
    openapi_extra={
        "responses": {
            200: {
                "description": "access: json, xlsx or pdf; portability: zip or json; every other kind: json.",
                "content": {
                    "application/json": {},
                    "application/pdf": {},
                    "application/zip": {},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                },
            }
        }
    },
)
def request_report(request: HttpRequest, request_id: str, format: str = "json") -> Any:
    actor = actor_of(request)
    found = access_request(actor, request_id)
    answer = request_answer(actor=actor, request=found, file_format=format)
    if answer.data is not None:
        return answer.data
    response = HttpResponse(answer.body, content_type=answer.content_type)
    response["Content-Disposition"] = f'attachment; filename="{answer.file_name}"'
    return response
