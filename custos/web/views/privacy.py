"""Staff pages of the privacy engine: data-subject requests, purposes and consents, and one
person's privacy view. The forms parse; `custos.privacy.services` decides and records.

No personal value ever goes into a URL: the list filters are a status, a kind and a flag, and
a new request's email travels in the POST body only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict, NotFound, ValidationFailed
from custos.core.personal_data import CATEGORY_LABELS, Category
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import contact_list
from custos.privacy.models import ConsentEvent, PrivacyRequest, Purpose, PurposeVersion, Subject
from custos.privacy.models.consent import ConsentSource, LegalBasis
from custos.privacy.models.requests import PORTAL_EDITABLE_CHOICES
from custos.privacy.selectors import access_purpose, access_request, access_subject, open_requests, purpose_list
from custos.privacy.selectors import request_list as privacy_request_list
from custos.privacy.services import consent as consents
from custos.privacy.services import portal as portal_service
from custos.privacy.services import processors
from custos.privacy.services import requests as requests_service
from custos.privacy.services.answers import FORMATS, formats_of, request_answer
from custos.privacy.services.erasure import erasure_preview
from custos.privacy.services.restriction import subject_lift_restriction, subject_restrict
from custos.web.privacy_forms import (
    LANGUAGES,
    ConsentForm,
    ExtendForm,
    PurposeForm,
    ReasonForm,
    RequestForm,
    attach_domain_errors,
)
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of
from custos.web.views.listing import filter_value, page, posted

TEMPLATES = "web/privacy/"
Kind = PrivacyRequest.Kind
Status = PrivacyRequest.Status
# The files a completed request is answered with; every other kind: its JSON result.
DUE_SOON_DAYS = 7
PANEL_ROWS = 10


# Shared pieces -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """Where a request stands against its deadline, in days rounded to the nearest whole one."""

    due_at: dt.datetime
    is_open: bool
    overdue: bool
    days: int  # days left, or days overdue when overdue


def deadline_of(found: PrivacyRequest, now: dt.datetime | None = None) -> Deadline:
    now = now or timezone.now()
    days = round((found.due_at - now).total_seconds() / 86400)
    overdue = found.is_open and found.due_at < now
    return Deadline(found.due_at, found.is_open, overdue, max(-days, 1) if overdue else max(days, 0))


def _rows(found: Iterable[PrivacyRequest]) -> list[tuple[PrivacyRequest, Deadline]]:
    now = timezone.now()
    return [(item, deadline_of(item, now)) for item in found]


def _type_label(label: str) -> str:
    """A record type (`crm.Contact`) as staff read it (“Contacts”)."""
    try:
        return capfirst(str(apps.get_model(label)._meta.verbose_name_plural))
    except (LookupError, ValueError):
        return label


def _field_label(label: str, name: str) -> str:
    try:
        return str(apps.get_model(label)._meta.get_field(name).verbose_name)
    except (LookupError, ValueError):
        return name


def _erasure_lines(plan: dict[str, Any]) -> dict[str, Any]:
    """An erasure plan or result (`ErasurePlan.as_dict()`) in words: what is anonymised,
    deleted and kept, why and until when."""
    return {
        "anonymised": [(_type_label(label), count) for label, count in sorted(plan.get("anonymised", {}).items())],
        "deleted": [(_type_label(label), count) for label, count in sorted(plan.get("deleted", {}).items())],
        "kept": [
            {
                "type": _type_label(item.get("type", "")),
                "count": item.get("count", 0),
                "reason": item.get("reason", ""),
                "until": _date(item.get("until")),
            }
            for item in plan.get("kept", [])
        ],
        "mentions": len(plan.get("redacted_mentions", [])),
        "holds": [{"until": _date(hold.get("until"))} for hold in plan.get("legal_holds", [])],
    }


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def result_summary(found: PrivacyRequest) -> dict[str, Any]:
    """A completed request's result as a person reads it; no personal values are in it."""
    result = found.result or {}
    summary: dict[str, Any] = {"found": bool(result.get("found")), "lines": [], "erasure": None}
    if not summary["found"]:
        return summary
    lines: list[str] = summary["lines"]
    match found.kind:
        case Kind.ACCESS | Kind.PORTABILITY:
            count = int(result.get("records", 0))
            lines.append(
                ngettext("%(count)d record was reported.", "%(count)d records were reported.", count) % {"count": count}
            )
        case Kind.ERASURE:
            summary["erasure"] = _erasure_lines(result)
        case Kind.RESTRICTION:
            lines.append(_("Processing of the person's data is restricted: it is stored, but not used or changed."))
        case Kind.OBJECTION:
            if result.get("objection") == "profiling":
                lines.append(_("The objection to profiling is recorded: the person's leads are no longer scored."))
            elif result.get("objection") == "situation":
                lines.append(_("The objection is upheld: the person's data is stored, but no longer used or changed."))
            else:
                lines.append(_("The objection to direct marketing is recorded: the person is on the suppression list."))
        case Kind.RECTIFICATION:
            for label, names in sorted(result.get("corrected", {}).items()):
                fields = ", ".join(_field_label(label, name) for name in names)
                lines.append(_("Corrected in %(type)s: %(fields)s.") % {"type": _type_label(label), "fields": fields})
            if not result.get("corrected"):
                lines.append(_("Nothing needed correcting: the records held these values already."))
            if result.get("not_applied"):
                lines.append(
                    _("Not applied (no record holds such a field, or it held the value already): %(fields)s.")
                    % {"fields": ", ".join(result["not_applied"])}
                )
    summary["recipients"] = [
        {
            "name": entry.get("name", ""),
            "status": entry.get("status", ""),
            "at": _moment(entry.get("at")),
            "retry_at": _moment(entry.get("retry_at")),
            "reason": _given_up_reason(entry.get("reason", "")),
        }
        for entry in result.get("recipients", [])
    ]
    return summary


def _given_up_reason(code: str) -> str:
    """Why a recipient's notice was given up, in words; a code this page does not know yet
    reads as no reason rather than as the code."""
    reasons = {
        processors.ATTEMPTS_USED: _("every attempt was refused, so it was given up"),
        processors.RECIPIENT_REMOVED: _("the recipient, or its address, was removed from the register"),
        processors.PERSON_ERASED: _("the person was erased first: the erasure's own notice tells the recipient"),
        processors.RESTRICTION_LIFTED: _("the restriction was lifted before the recipient heard of it"),
        processors.RESTRICTION_NOT_SENT: _("the recipient was never told of the restriction this lifts"),
    }
    return reasons.get(code, "")


def _moment(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _purpose_names(language: str) -> dict[tuple[Any, int], str]:
    """Every purpose's name in this language, per version: (purpose id, version) → name."""
    return {
        (version.purpose_id, version.version): consents.in_language(version.names, language)
        for version in PurposeVersion.objects.all()
    }


def _language() -> str:
    return (get_language() or "en").split("-")[0]


# Requests ----------------------------------------------------------------------------------


def _kind_choices() -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in Kind.choices]


def _status_choices() -> list[tuple[str, str]]:
    return [(str(value), capfirst(str(label))) for value, label in Status.choices]


def privacy_requests(request: HttpRequest) -> HttpResponse:
    """The requests, newest first, with the Privacy Officer's two panels on top: overdue and
    due within a week. Filters are non-personal (status, kind, overdue) and may sit in the URL."""
    actor = actor_of(request)
    status = filter_value(request, "status", Status.values)
    kind = filter_value(request, "kind", Kind.values)
    overdue = filter_value(request, "overdue", ("1",)) == "1"
    data = request.POST if request.method == "POST" else request.GET
    rows, next_cursor = page(
        privacy_request_list(actor, status=status, kind=kind, overdue=overdue), data.get("cursor") or None, ("-pk",)
    )
    now = timezone.now()
    still_open = open_requests(privacy_request_list(actor))
    overdue_requests = still_open.filter(due_at__lt=now).order_by("due_at", "pk")
    due_soon = still_open.filter(due_at__gte=now, due_at__lte=now + dt.timedelta(days=DUE_SOON_DAYS)).order_by(
        "due_at", "pk"
    )
    filters = [(name, value) for name, value in (("status", status), ("kind", kind)) if value]
    if overdue:
        filters.append(("overdue", "1"))
    return render(
        request,
        TEMPLATES + "requests/list.html",
        {
            "rows": _rows(rows),
            "next_cursor": next_cursor,
            "status": status,
            "kind": kind,
            "overdue": overdue,
            "filters": filters,
            "statuses": _status_choices(),
            "kinds": _kind_choices(),
            "members": member_names(actor),
            "overdue_count": overdue_requests.count(),
            "overdue_rows": _rows(overdue_requests[:PANEL_ROWS]),
            "due_soon_count": due_soon.count(),
            "due_soon_rows": _rows(due_soon[:PANEL_ROWS]),
            "due_soon_days": DUE_SOON_DAYS,
        },
    )


# A rectification's corrections as the domain names them, and the form fields they come from.
CORRECTION_FIELDS = {
    "details.corrections.first_name": "first_name",
    "details.corrections.last_name": "last_name",
    "details.corrections.email": "corrected_email",
    "details.corrections.phone": "phone",
}


def privacy_request_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("privacy_request.add")
    form = RequestForm(posted(request), initial={"language": _language()})
    if request.method == "POST" and form.is_valid():
        try:
            created = requests_service.request_create(
                actor=actor,
                kind=form.cleaned_data["kind"],
                email=form.cleaned_data["email"],
                language=form.cleaned_data["language"],
                details=form.details(),
                source=PrivacyRequest.Source.STAFF,
            )
        except ValidationFailed as error:
            attach_domain_errors(
                form, error, {**CORRECTION_FIELDS, "details": "note", "details.about": "objection_about"}
            )
        else:
            messages.success(request, _("The request is recorded; the deadline runs from now."))
            if actor.can("privacy_request.view"):
                return redirect("web:privacy-request-detail", created.pk)
            return redirect("web:home")
    return render(request, TEMPLATES + "requests/form.html", {"form": form})


def _timeline(found: PrivacyRequest) -> list[dict[str, Any]]:
    """The request's steps in the order they happened, from its own dates."""
    steps: list[dict[str, Any]] = [{"at": found.received_at, "label": _("Received"), "text": ""}]
    if found.verified_at:
        method = PrivacyRequest.Verification(found.verification).label if found.verification else ""
        steps.append(
            {
                "at": found.verified_at,
                "label": _("Identity verified: %(method)s") % {"method": method},
                "text": found.verification_reason,
            }
        )
    if found.extended_at:
        steps.append({"at": found.extended_at, "label": _("Deadline extended"), "text": found.extension_reason})
    if found.completed_at:
        if found.status == Status.REJECTED:
            steps.append({"at": found.completed_at, "label": _("Rejected"), "text": found.rejection_reason})
        else:
            steps.append({"at": found.completed_at, "label": _("Completed"), "text": ""})
    return sorted(steps, key=lambda step: step["at"])


def _detail_page(
    request: HttpRequest,
    found: PrivacyRequest,
    *,
    verify_form: ReasonForm | None = None,
    extend_form: ExtendForm | None = None,
    reject_form: ReasonForm | None = None,
) -> HttpResponse:
    actor = actor_of(request)
    subject = found.subject
    personal = found.kind in FORMATS and subject is not None and bool(found.result.get("found"))
    completed = found.status == Status.COMPLETED
    downloads = formats_of(found.kind) if completed else ()
    if personal and not actor.can("subject.export"):
        downloads = ()
    return render(
        request,
        TEMPLATES + "requests/detail.html",
        {
            "item": found,
            "deadline": deadline_of(found),
            "timeline": _timeline(found),
            "members": member_names(actor),
            "subject": subject,
            "may_change": found.is_open and actor.can("privacy_request.change"),
            "verify_form": verify_form or ReasonForm(prefix="verify"),
            "extend_form": extend_form or ExtendForm(prefix="extend"),
            "reject_form": reject_form or ReasonForm(prefix="reject"),
            "summary": result_summary(found) if completed else None,
            "downloads": downloads,
            "objection_about": found.details.get("about", "") if found.kind == Kind.OBJECTION else "",
            "corrections": [
                (_field_label("crm.Contact", name), value)
                for name, value in sorted(found.details.get("corrections", {}).items())
            ],
            "note": found.details.get("note", ""),
            "people": _people_to_choose(actor, found),
        },
    )


def _people_to_choose(actor: Actor, found: PrivacyRequest) -> list[tuple[Subject, str]]:
    """Where several people share the request's email: each, with a name where the role may
    see contacts, for staff to say whose request it is."""
    if found.subject is not None or not found.is_open or not actor.can("privacy_request.change"):
        return []
    people = requests_service.request_people(found)
    if not people:
        return []
    return [(person, _name_of(actor, person)) for person in people]


def _name_of(actor: Actor, subject: Subject) -> str:
    for kind, records_of_kind in (("contact", contact_list), ("lead", lead_list)):
        if not actor.can(f"{kind}.view") or {"first_name", "last_name"} & actor.hidden_fields_of(kind):
            continue
        row = records_of_kind(actor).filter(subject=subject).values_list("first_name", "last_name").first()
        if row:
            return " ".join(part for part in row if part)
    return ""


def privacy_request_detail_view(request: HttpRequest, request_id: str) -> HttpResponse:
    return _detail_page(request, access_request(actor_of(request), request_id))


def _step_view(request: HttpRequest, request_id: str, step: str) -> HttpResponse:
    """Verify, extend or reject: a reason (and for an extension, days); a bad one is shown on
    the detail page beside its field, and nothing changes."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    actor.require("privacy_request.change")
    form: ReasonForm = (ExtendForm if step == "extend" else ReasonForm)(request.POST, prefix=step)
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        try:
            if step == "verify":
                requests_service.request_verify(actor=actor, request=found, reason=reason)
                messages.success(request, _("The requester's identity is recorded as verified."))
            elif step == "extend":
                requests_service.request_extend(
                    actor=actor, request=found, days=form.cleaned_data["days"], reason=reason
                )
                messages.success(request, _("The deadline is extended."))
            else:
                requests_service.request_reject(actor=actor, request=found, reason=reason)
                messages.success(request, _("The request is rejected."))
        except ValidationFailed as error:
            attach_domain_errors(form, error)
        except Conflict as error:
            messages.error(request, error.detail)
            return redirect("web:privacy-request-detail", found.pk)
        else:
            return redirect("web:privacy-request-detail", found.pk)
    forms_by_step: dict[str, Any] = {f"{step}_form": form}
    return _detail_page(request, found, **forms_by_step)


@require_POST
def privacy_request_person_view(request: HttpRequest, request_id: str) -> HttpResponse:
    """Whose request it is, where several people share its email."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    try:
        requests_service.request_identify(actor=actor, request=found, subject_id=request.POST.get("subject"))
    except (ValidationFailed, Conflict) as error:
        messages.error(request, error.errors[0].message if isinstance(error, ValidationFailed) else error.detail)
    else:
        messages.success(request, _("The request is now this person's."))
    return redirect("web:privacy-request-detail", found.pk)


@require_POST
def privacy_request_verify_view(request: HttpRequest, request_id: str) -> HttpResponse:
    return _step_view(request, request_id, "verify")


@require_POST
def privacy_request_extend_view(request: HttpRequest, request_id: str) -> HttpResponse:
    return _step_view(request, request_id, "extend")


@require_POST
def privacy_request_reject_view(request: HttpRequest, request_id: str) -> HttpResponse:
    return _step_view(request, request_id, "reject")


def privacy_request_complete_view(request: HttpRequest, request_id: str) -> HttpResponse:
    """GET: what completing will do (for an erasure: the dry run) and a confirm button.
    POST: carry the request out. An erasure needs the confirmation from that page."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    actor.require("privacy_request.change")
    if not found.is_open:
        messages.info(request, _("This request is closed already."))
        return redirect("web:privacy-request-detail", found.pk)
    if found.verified_at is None:
        messages.error(request, _("Verify the requester's identity before completing the request."))
        return redirect("web:privacy-request-detail", found.pk)
    confirmed = request.POST.get("confirm") == "yes"
    if request.method == "POST" and (confirmed or found.kind != Kind.ERASURE):
        try:
            answered = requests_service.request_complete(actor=actor, request=found)
        except Conflict as error:
            messages.error(request, error.detail)
        except ValidationFailed as error:
            for item in error.errors:
                messages.error(request, item.message)
        else:
            if answered.status == Status.REJECTED:
                messages.warning(request, _("The request is rejected.") + " " + answered.rejection_reason)
            else:
                messages.success(request, _("The request is completed."))
        return redirect("web:privacy-request-detail", found.pk)
    preview = None
    if found.kind == Kind.ERASURE and found.subject is not None and actor.can("subject.erase"):
        preview = _erasure_lines(erasure_preview(found.subject).as_dict())
    return render(
        request,
        TEMPLATES + "requests/complete.html",
        {"item": found, "preview": preview, "may_erase": actor.can("subject.erase")},
    )


def privacy_request_report_view(request: HttpRequest, request_id: str) -> HttpResponse:
    """The answer to a completed request, as a file (see `request_answer`)."""
    actor = actor_of(request)
    found = access_request(actor, request_id)
    if request.GET.get("format", "json") not in formats_of(found.kind):
        raise NotFound()
    if found.status != Status.COMPLETED:
        messages.info(request, _("The request is not completed yet."))
        return redirect("web:privacy-request-detail", found.pk)
    answer = request_answer(actor=actor, request=found, file_format=request.GET.get("format", "json"))
    response = HttpResponse(answer.body, content_type=answer.content_type)
    response["Content-Disposition"] = f'attachment; filename="{answer.file_name}"'
    response["Cache-Control"] = "no-store"
    return response


# Purposes ----------------------------------------------------------------------------------


def purposes(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    language = _language()
    names = _purpose_names(language)
    rows = [
        {"purpose": purpose, "name": names.get((purpose.pk, purpose.version), purpose.key)}
        for purpose in purpose_list(actor)
    ]
    return render(request, TEMPLATES + "purposes/list.html", {"rows": rows})


def _purpose_page(request: HttpRequest, form: PurposeForm, purpose: Purpose | None) -> HttpResponse:
    return render(
        request,
        TEMPLATES + "purposes/form.html",
        {"form": form, "purpose": purpose, "languages": LANGUAGES},
    )


def purpose_create_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("purpose.add")
    form = PurposeForm(posted(request), creating=True, initial={"legal_basis": LegalBasis.CONSENT})
    if request.method == "POST" and form.is_valid():
        try:
            consents.purpose_create(actor=actor, data=form.domain_data())
        except ValidationFailed as error:
            attach_domain_errors(form, error, PurposeForm.error_names())
        else:
            messages.success(request, _("The purpose is saved."))
            return redirect("web:purposes")
    return _purpose_page(request, form, None)


def purpose_edit_view(request: HttpRequest, purpose_id: str) -> HttpResponse:
    actor = actor_of(request)
    purpose = access_purpose(actor, purpose_id, write=True)
    text = consents.purpose_text(purpose)
    initial: dict[str, Any] = {
        "legal_basis": purpose.legal_basis,
        "is_marketing": purpose.is_marketing,
        "is_active": purpose.is_active,
    }
    for code, _name in LANGUAGES:
        initial[f"name_{code}"] = text.names.get(code, "")
        initial[f"description_{code}"] = text.descriptions.get(code, "")
    form = PurposeForm(posted(request), creating=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        before = purpose.version
        try:
            purpose = consents.purpose_update(actor=actor, purpose=purpose, data=form.domain_data())
        except ValidationFailed as error:
            attach_domain_errors(form, error, PurposeForm.error_names())
        else:
            if purpose.version != before:
                messages.success(
                    request,
                    _(
                        "The purpose is saved as version %(version)d; "
                        "earlier consents keep the wording they were given for."
                    )
                    % {"version": purpose.version},
                )
            else:
                messages.success(request, _("The purpose is saved."))
            return redirect("web:purposes")
    return _purpose_page(request, form, purpose)


# One person's privacy ----------------------------------------------------------------------


def _active_purpose_choices(actor: Actor, language: str) -> list[tuple[str, str]]:
    names = _purpose_names(language)
    return [
        (str(p.pk), names.get((p.pk, p.version), p.key)) for p in purpose_list(actor, active_only=True).order_by("key")
    ]


def _people_of(actor: Actor, subject: Subject) -> list[tuple[str, models.Model]]:
    """The contacts and leads of this person the actor may see: ("contact" | "lead", record)."""
    found: list[tuple[str, models.Model]] = []
    if actor.can("contact.view"):
        found += [("contact", c) for c in contact_list(actor).filter(subject=subject)[:20]]
    if actor.can("lead.view"):
        found += [("lead", lead) for lead in lead_list(actor).filter(subject=subject)[:20]]
    return found


def _subject_page(
    request: HttpRequest,
    subject: Subject,
    consent_form: ConsentForm | None = None,
    status: int = 200,
    portal_form: PortalLinkForm | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    actor = actor_of(request)
    language = _language()
    names = _purpose_names(language)
    erased = subject.state == Subject.State.ERASED
    context: dict[str, Any] = {
        "subject": subject,
        "erased": erased,
        "restricted": subject.state == Subject.State.RESTRICTED,
        "people": _people_of(actor, subject),
        "members": member_names(actor),
    }
    if actor.can("consent.view"):
        context["states"] = [
            {"state": state, "name": names.get((state.purpose.pk, state.purpose.version), state.purpose.key)}
            for state in consents.consent_states(subject)
        ]
        context["history"] = [
            {"event": event, "name": names.get((event.purpose_id, event.purpose_version), event.purpose.key)}
            for event in consents.consent_history(subject)
        ]
        context["sources"] = dict(ConsentSource.choices)
    if actor.can("consent.add") and not erased:
        context["consent_form"] = consent_form or ConsentForm(purposes=_active_purpose_choices(actor, language))
    if actor.can("subject.erase") and not erased:
        context["preview"] = _erasure_lines(erasure_preview(subject).as_dict())
    if actor.can("privacy_request.view"):
        context["requests"] = _rows(privacy_request_list(actor).filter(subject=subject).order_by("-pk")[:50])
    if actor.can("privacy_request.change") and not erased:
        context["portal_links"] = portal_service.portal_links_active(subject)
        context["portal_form"] = portal_form or PortalLinkForm(initial=_portal_initial())
    context.update(extra or {})
    return render(request, TEMPLATES + "subjects/detail.html", context, status=status)


def subject_privacy_view(request: HttpRequest, subject_id: str) -> HttpResponse:
    """Consent per purpose and its history, restriction, the erasure dry run and the requests."""
    return _subject_page(request, access_subject(actor_of(request), subject_id))


@require_POST
def subject_consent_record_view(request: HttpRequest, subject_id: str) -> HttpResponse:
    """Staff record consent given or withdrawn, as the person told them (source "staff")."""
    actor = actor_of(request)
    subject = access_subject(actor, subject_id, "consent.add")
    form = ConsentForm(request.POST, purposes=_active_purpose_choices(actor, _language()))
    if form.is_valid():
        try:
            purpose = access_purpose(actor, form.cleaned_data["purpose"])
        except NotFound:
            form.add_error("purpose", _("Choose an existing purpose."))
        else:
            proof = consents.Proof(
                source=ConsentSource.STAFF, text_shown=form.cleaned_data["text_shown"], language=_language()
            )
            try:
                if form.cleaned_data["action"] == ConsentEvent.Action.GIVEN:
                    consents.consent_give(actor=actor, subject=subject, purpose=purpose, proof=proof)
                    messages.success(request, _("The consent is recorded."))
                else:
                    consents.consent_withdraw(actor=actor, subject=subject, purpose=purpose, proof=proof)
                    messages.success(request, _("The withdrawal is recorded."))
            except ValidationFailed as error:
                attach_domain_errors(form, error)
            except Conflict as error:
                form.add_error(None, error.detail)
            else:
                return redirect("web:subject-privacy", subject.pk)
    return _subject_page(request, subject, consent_form=form)


@require_POST
def subject_restrict_view(request: HttpRequest, subject_id: str) -> HttpResponse:
    actor = actor_of(request)
    subject = access_subject(actor, subject_id, "subject.change")
    try:
        subject_restrict(actor=actor, subject=subject)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Processing is restricted: the person's data is stored only, not changed."))
    return redirect("web:subject-privacy", subject.pk)


@require_POST
def subject_lift_restriction_view(request: HttpRequest, subject_id: str) -> HttpResponse:
    actor = actor_of(request)
    subject = access_subject(actor, subject_id, "subject.change")
    subject_lift_restriction(actor=actor, subject=subject)
    messages.success(request, _("The restriction is lifted."))
    return redirect("web:subject-privacy", subject.pk)


# Portal links ------------------------------------------------------------------------------


class PortalLinkForm(forms.Form):
    days = forms.CharField(
        label=gettext_lazy("Valid for (days)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "dir": "ltr", "size": 4}),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language of the portal"), choices=LANGUAGES)


def _portal_initial() -> dict[str, Any]:
    return {"days": str(requests_service.privacy_settings().portal_link_days), "language": _language()}


@require_POST
def subject_portal_link_view(request: HttpRequest, subject_id: str) -> HttpResponse:
    """Create a portal link. "email": mailed to the person's address on record (staff never
    see it); else shown on this one page to hand out, and never again: the answer is not
    cached, and the secret goes neither into a message nor into a URL."""
    actor = actor_of(request)
    subject = access_subject(actor, subject_id)
    actor.require("privacy_request.change")
    form = PortalLinkForm(request.POST)
    by_email = request.POST.get("action") == "email"
    if form.is_valid():
        language, days = form.cleaned_data["language"], form.cleaned_data["days"]
        try:
            if by_email:
                portal_service.portal_link_email(actor=actor, subject=subject, language=language, days=days)
                messages.success(request, _("A new portal link is being mailed to the person's address on record."))
                return redirect("web:subject-privacy", subject.pk)
            link, secret = portal_service.portal_link_create(actor=actor, subject=subject, language=language, days=days)
        except ValidationFailed as error:
            attach_domain_errors(form, error)
        except Conflict as error:
            form.add_error(None, error.detail)
        else:
            shown = {"new_link": link, "new_link_url": portal_service.portal_link_url(secret)}
            response = _subject_page(request, subject, extra=shown)
            response["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
    return _subject_page(request, subject, portal_form=form, status=422)


@require_POST
def subject_portal_link_revoke_view(request: HttpRequest, subject_id: str) -> HttpResponse:
    """Revoke one of the person's links; its id travels in the POST body."""
    actor = actor_of(request)
    subject = access_subject(actor, subject_id)
    link = portal_service.access_portal_link(actor, subject, request.POST.get("link"))
    portal_service.portal_link_revoke(actor=actor, link=link)
    messages.success(request, _("The portal link is revoked: it no longer opens the portal."))
    return redirect("web:subject-privacy", subject.pk)


# Privacy settings --------------------------------------------------------------------------


def _category_choices(categories: Iterable[Category]) -> list[tuple[str, str]]:
    return [(str(c), str(CATEGORY_LABELS[c])) for c in categories]


class PrivacySettingsForm(forms.Form):
    request_days = forms.IntegerField(
        label=gettext_lazy("Days to answer a request"),
        help_text=gettext_lazy("At most one month (Art. 12(3) GDPR)."),
        required=False,
    )
    reminder_days = forms.IntegerField(
        label=gettext_lazy("Remind this many days before a request's deadline"), required=False
    )
    portal_link_days = forms.IntegerField(
        label=gettext_lazy("Days a portal link stays valid"),
        help_text=gettext_lazy("The default when staff create a link, and for links people ask for."),
        required=False,
    )
    inform_recipients = forms.BooleanField(
        label=gettext_lazy("Inform recipients of rectifications, erasures and restrictions (Art. 19 GDPR)"),
        help_text=gettext_lazy("Mails the processors marked for it in the processors register."),
        required=False,
    )
    portal_visible = forms.MultipleChoiceField(
        label=gettext_lazy("Data the portal shows the person"),
        choices=_category_choices(Category),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    portal_editable = forms.MultipleChoiceField(
        label=gettext_lazy("Data the person may correct in the portal"),
        help_text=gettext_lazy("Other data is corrected by staff, through a rectification request."),
        choices=_category_choices(PORTAL_EDITABLE_CHOICES),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    request_keep_years = forms.IntegerField(
        label=gettext_lazy("Years a closed request keeps the requester's details"),
        help_text=gettext_lazy(
            "Then the email, the details and how the identity was verified are removed; "
            "the request's kind, dates and outcome stay as a record of how it was answered."
        ),
        required=False,
    )
    controller_contact = forms.CharField(
        label=gettext_lazy("Address and contact for privacy matters"),
        help_text=gettext_lazy(
            "Postal address, email or phone where people reach you about their data. "
            "Shown in the privacy notice and the record of processing activities."
        ),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        strip=False,
    )
    dpo_contact = forms.CharField(
        label=gettext_lazy("Data protection officer"),
        help_text=gettext_lazy("Name and how to reach them. Leave empty if you have not appointed one."),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        strip=False,
    )


def privacy_settings_view(request: HttpRequest) -> HttpResponse:
    """The organisation's privacy settings: request deadlines, the portal, Art. 19, who to contact."""
    actor = actor_of(request)
    actor.require("privacy_request.view")
    current = requests_service.privacy_settings()
    initial = {name: getattr(current, name) for name in requests_service.SETTINGS_FIELDS}
    may_change = actor.can("privacy_request.change")
    form = PrivacySettingsForm(posted(request), initial=initial)
    if request.method == "POST":
        actor.require("privacy_request.change")
        if form.is_valid():
            try:
                requests_service.privacy_settings_update(actor=actor, data=form.cleaned_data)
            except ValidationFailed as error:
                attach_domain_errors(form, error)
            else:
                messages.success(request, _("The privacy settings are saved."))
                return redirect("web:privacy-settings")
    if not may_change:
        for field in form.fields.values():
            field.disabled = True
    status = 422 if form.errors else 200
    return render(request, TEMPLATES + "settings.html", {"form": form, "may_change": may_change}, status=status)


urlpatterns: list[URLPattern] = [
    path("privacy/settings/", privacy_settings_view, name="privacy-settings"),
    path("privacy/requests/", privacy_requests, name="privacy-requests"),
    path("privacy/requests/new/", privacy_request_create_view, name="privacy-request-create"),
    path("privacy/requests/<str:request_id>/", privacy_request_detail_view, name="privacy-request-detail"),
    path("privacy/requests/<str:request_id>/verify/", privacy_request_verify_view, name="privacy-request-verify"),
    path("privacy/requests/<str:request_id>/person/", privacy_request_person_view, name="privacy-request-person"),
    path("privacy/requests/<str:request_id>/extend/", privacy_request_extend_view, name="privacy-request-extend"),
    path("privacy/requests/<str:request_id>/reject/", privacy_request_reject_view, name="privacy-request-reject"),
    path("privacy/requests/<str:request_id>/complete/", privacy_request_complete_view, name="privacy-request-complete"),
    path("privacy/requests/<str:request_id>/report/", privacy_request_report_view, name="privacy-request-report"),
    path("privacy/purposes/", purposes, name="purposes"),
    path("privacy/purposes/new/", purpose_create_view, name="purpose-create"),
    path("privacy/purposes/<str:purpose_id>/", purpose_edit_view, name="purpose-edit"),
    path("privacy/subjects/<str:subject_id>/", subject_privacy_view, name="subject-privacy"),
    path("privacy/subjects/<str:subject_id>/consents/", subject_consent_record_view, name="subject-consent-record"),
    path("privacy/subjects/<str:subject_id>/restrict/", subject_restrict_view, name="subject-restrict"),
    path(
        "privacy/subjects/<str:subject_id>/lift-restriction/",
        subject_lift_restriction_view,
        name="subject-lift-restriction",
    ),
    path("privacy/subjects/<str:subject_id>/portal-links/", subject_portal_link_view, name="subject-portal-link"),
    path(
        "privacy/subjects/<str:subject_id>/portal-links/revoke/",
        subject_portal_link_revoke_view,
        name="subject-portal-link-revoke",
    ),
]
