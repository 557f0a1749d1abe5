"""The self-service portal's pages: thin, like every face — parse, call the service, render.

A person enters with a link (`l/<secret>/`); the page binds the browser's session to that
link and sends it on to an address without the secret, so the secret leaves neither the
address bar nor the browser history. Every later page checks the link again, so a
revocation or the expiry takes effect at once. No staff navigation, no scripts, nothing
from another origin, no tracking: only the session and CSRF cookies the forms need.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from custos.core.errors import Conflict, ValidationFailed
from custos.core.models import Organization
from custos.core.net import client_ip, local_path
from custos.core.tenancy import tenant_scope
from custos.privacy.models import PortalLink, PrivacyRequest
from custos.privacy.services.consent import consent_states, in_language, purpose_text
from custos.privacy.services.portal import (
    PORTAL_REQUEST_KINDS,
    LinkProblem,
    portal_actor,
    portal_ask,
    portal_consent_change,
    portal_consent_purposes,
    portal_correct,
    portal_editable_fields,
    portal_export_recorded,
    portal_hides_data,
    portal_link_current,
    portal_link_open,
    portal_report,
    portal_request_link,
    portal_requests,
)
from custos.privacy.services.processing_record import privacy_notice
from custos.privacy.services.requests import privacy_settings

SESSION_LINK = "custos_portal_link"
SESSION_ORG = "custos_portal_org"
SESSION_LANGUAGE = "custos_portal_language"
LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)

PROBLEMS = {
    LinkProblem.UNKNOWN: (
        404,
        gettext_lazy("This link does not work"),
        gettext_lazy(
            "The link is not complete or no longer valid. Please copy the whole link from your email, or ask for a "
            "new one. A link stops working once the data it showed has been erased."
        ),
    ),
    LinkProblem.EXPIRED: (
        410,
        gettext_lazy("This link has expired"),
        gettext_lazy("For your protection, links to your data work only for a limited time. Please ask for a new one."),
    ),
    LinkProblem.REVOKED: (
        410,
        gettext_lazy("This link has been withdrawn"),
        gettext_lazy("The organisation has withdrawn this link. Please ask for a new one."),
    ),
}
NO_SESSION = (
    403,
    gettext_lazy("Please open your link again"),
    gettext_lazy("Your visit has ended or was never started here. Open the link from your email again."),
)
REQUEST_CHOICES = {
    "erasure": gettext_lazy("Erase my data"),
    "restriction": gettext_lazy("Restrict the processing of my data"),
    "objection_marketing": gettext_lazy("Object to direct marketing"),
    "objection_profiling": gettext_lazy("Object to profiling (lead scoring)"),
    "objection_situation": gettext_lazy("Object to the processing of my data for reasons of my particular situation"),
}
OBJECTIONS = {
    "marketing": gettext_lazy("direct marketing"),
    "profiling": gettext_lazy("profiling"),
    "situation": gettext_lazy("processing, for reasons of your particular situation"),
}
CONSENT_STATES = {
    "given": gettext_lazy("given"),
    "pending": gettext_lazy("awaiting your confirmation"),
    "withdrawn": gettext_lazy("withdrawn"),
    "expired": gettext_lazy("expired"),
    "none": gettext_lazy("not given"),
}
assert set(REQUEST_CHOICES) == set(PORTAL_REQUEST_KINDS)


def _private(response: HttpResponse, language: str) -> HttpResponse:
    # Every portal page may show personal data: neither the browser nor a proxy keeps it.
    patch_cache_control(response, private=True, no_store=True)
    response.headers["Content-Language"] = language
    return response


def _use_language(request: HttpRequest, fallback: str | None = None) -> str:
    """The portal's language: the person's choice here, else the link's, else the browser's."""
    chosen = request.session.get(SESSION_LANGUAGE) or fallback or getattr(request, "LANGUAGE_CODE", "")
    language = chosen if chosen in LANGUAGE_CODES else settings.LANGUAGE_CODE
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def _problem(request: HttpRequest, status: int, title: Any, message: Any, language: str) -> HttpResponse:
    response = render(request, "portal/problem.html", {"title": title, "message": message}, status=status)
    return _private(response, language)


def _forget(request: HttpRequest) -> None:
    for key in (SESSION_LINK, SESSION_ORG):
        request.session.pop(key, None)


PortalView = Callable[..., HttpResponse]


def portal_page(view: PortalView) -> PortalView:
    """A page of an opened portal: the session's link, checked now, inside its organisation."""

    @login_not_required
    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        link_id, org_id = request.session.get(SESSION_LINK), request.session.get(SESSION_ORG)
        try:
            org_uuid = uuid.UUID(str(org_id))
        except ValueError:
            language = _use_language(request)
            return _problem(request, *NO_SESSION, language)
        with tenant_scope(org_uuid):
            opening = portal_link_current(link_id)
            if opening.link is None:
                _forget(request)
                language = _use_language(request)
                assert opening.problem is not None
                return _problem(request, *PROBLEMS[opening.problem], language)
            link = opening.link
            language = _use_language(request, link.language)
            organization = Organization.objects.get(pk=link.org_id)
            actor = portal_actor(link, ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""))
            response = view(request, link=link, actor=actor, organization=organization, **kwargs)
        return _private(response, language)

    return page


def _render(request: HttpRequest, template: str, organization: Organization, **context: Any) -> HttpResponse:
    context.setdefault("status", 200)
    status = context.pop("status")
    return render(request, template, {"organization": organization, "in_portal": True, **context}, status=status)


# Entering ---------------------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Type your email, get a link if the organisation knows you: the answer never tells."""
    language = _use_language(request)
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        return _problem(request, 404, _("Page not found"), "", language)
    errors: dict[str, str] = {}
    email = ""
    if request.method == "POST":
        email = request.POST.get("email", "")
        try:
            portal_request_link(org=organization, email=email, language=language, ip=client_ip(request))
        except ValidationFailed as error:
            errors = {e.field or "": e.message for e in error.errors}
        else:
            return redirect("portal:sent", org_slug=organization.slug)
    response = render(
        request,
        "portal/start.html",
        {"organization": organization, "errors": errors, "email": email},
        status=422 if errors else 200,
    )
    return _private(response, language)


@login_not_required
def sent(request: HttpRequest, org_slug: str) -> HttpResponse:
    language = _use_language(request)
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        return _problem(request, 404, _("Page not found"), "", language)
    with tenant_scope(organization):
        days = privacy_settings().portal_link_days
    response = render(request, "portal/sent.html", {"organization": organization, "days": days})
    return _private(response, language)


@login_not_required
def notice(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organisation's privacy notice, public, generated from what the system does."""
    language = _use_language(request)
    organization = Organization.objects.filter(slug=org_slug).first()
    if organization is None:
        return _problem(request, 404, _("Page not found"), "", language)
    with tenant_scope(organization):
        generated = privacy_notice(language=language)
    response = render(request, "portal/notice.html", {"organization": organization, "notice": generated})
    return _private(response, language)


@login_not_required
def link_landing(request: HttpRequest, secret: str) -> HttpResponse:
    opening = portal_link_open(secret, ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""))
    if opening.link is None:
        _forget(request)
        language = _use_language(request)
        assert opening.problem is not None
        return _problem(request, *PROBLEMS[opening.problem], language)
    link = opening.link
    # A fresh session key: whoever planted a session id before cannot ride on this one.
    request.session.cycle_key()
    request.session[SESSION_LINK] = str(link.pk)
    request.session[SESSION_ORG] = str(link.org_id)
    request.session[SESSION_LANGUAGE] = link.language
    response = redirect("portal:data")
    response.headers["Referrer-Policy"] = "no-referrer"
    return _private(response, link.language)


@login_not_required
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    _forget(request)
    request.session.cycle_key()
    language = _use_language(request)
    return _private(render(request, "portal/signed_out.html"), language)


@login_not_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    if language in LANGUAGE_CODES:
        request.session[SESSION_LANGUAGE] = language
    return redirect(local_path(request, request.POST.get("next", "")) or reverse("portal:data"))


# The person's own pages ------------------------------------------------------------------


def _display(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_display(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_display(v) for v in value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return "" if value is None else str(value)


@portal_page
def my_data(request: HttpRequest, *, link: PortalLink, actor: Any, organization: Organization) -> HttpResponse:
    from custos.privacy.services.documents import detail_text  # WeasyPrint loads with it: not at start-up

    report = portal_report(link.subject, language=translation.get_language() or "en")
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in report["records"]:
        # What the record is (a contact's company), then what it holds.
        details = [{"label": d["label"], "value": detail_text(d["value"])} for d in record["details"]]
        fields = [{"label": f["label"], "value": _display(f["value"])} for f in record["fields"]]
        groups.setdefault(record["label"], []).append({"fields": details + fields})
    return _render(
        request,
        "portal/data.html",
        organization,
        report=report,
        groups=groups,
        page="data",
        partial=portal_hides_data(),
    )


@portal_page
def correct(request: HttpRequest, *, link: PortalLink, actor: Any, organization: Organization) -> HttpResponse:
    fields = portal_editable_fields(link.subject)
    errors: dict[str, str] = {}
    values = {f.name: f.value for f in fields}
    if request.method == "POST":
        posted = {f.name: request.POST[f.name] for f in fields if f.name in request.POST}
        values = {**values, **posted}
        try:
            changed = portal_correct(actor=actor, link=link, data=posted)
        except ValidationFailed as error:
            errors = {e.field or "": e.message for e in error.errors}
        else:
            if changed is None:
                messages.info(request, _("Nothing was changed."))
            else:
                messages.success(request, _("Your corrections have been saved."))
            return redirect("portal:correct")
    rows = [{"field": f, "value": values.get(f.name, ""), "error": errors.get(f.name, "")} for f in fields]
    status = 422 if errors else 200
    return _render(request, "portal/correct.html", organization, rows=rows, page="correct", status=status)


@portal_page
def consents(request: HttpRequest, *, link: PortalLink, actor: Any, organization: Organization) -> HttpResponse:
    language = translation.get_language() or "en"
    if request.method == "POST":
        try:
            portal_consent_change(
                actor=actor,
                link=link,
                purpose_key=request.POST.get("purpose"),
                give=request.POST.get("action") == "give",
                language=language,
            )
        except (ValidationFailed, Conflict) as error:
            messages.error(request, error.detail if isinstance(error, Conflict) else error.errors[0].message)
        else:
            messages.success(request, _("Your choice has been recorded."))
        return redirect("portal:consents")
    states = {state.purpose.pk: state for state in consent_states(link.subject)}
    rows = []
    for purpose in portal_consent_purposes():
        text = purpose_text(purpose)
        state = states.get(purpose.pk)
        status = state.status if state else "none"
        rows.append(
            {
                "key": purpose.key,
                "name": in_language(text.names, language),
                "description": in_language(text.descriptions, language),
                "granted": bool(state and state.granted),
                "pending": status == "pending",  # given, not yet confirmed: either answer is open
                "status": CONSENT_STATES.get(status, status),
                "since": state.since if state else None,
            }
        )
    return _render(request, "portal/consents.html", organization, rows=rows, page="consents")


@portal_page
def export(
    request: HttpRequest, *, link: PortalLink, actor: Any, organization: Organization, file_format: str
) -> HttpResponse:
    report = portal_report(link.subject, language=translation.get_language() or "en")
    portal_export_recorded(actor=actor, link=link, file_format=file_format)
    if file_format == "xlsx":
        # Imported here: the XLSX writer (openpyxl) is only needed when someone downloads one.
        from custos.privacy.services.documents import access_report_xlsx

        response = HttpResponse(
            access_report_xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="my-data.xlsx"'
        return response
    response = HttpResponse(
        json.dumps(report, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@portal_page
def requests(request: HttpRequest, *, link: PortalLink, actor: Any, organization: Organization) -> HttpResponse:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            asked = portal_ask(actor=actor, link=link, what=request.POST.get("kind"), note=request.POST.get("note", ""))
        except ValidationFailed as error:
            errors = {e.field or "": e.message for e in error.errors}
        else:
            if asked.status == PrivacyRequest.Status.COMPLETED:  # an objection to marketing
                messages.success(request, _("Your objection is recorded: you will receive no more marketing from us."))
            else:
                messages.success(
                    request, _("Your request has been received. The organisation will answer within one month.")
                )
            return redirect("portal:requests")
    kinds = dict(PrivacyRequest.Kind.choices)
    statuses = dict(PrivacyRequest.Status.choices)
    own = [
        {
            "kind": kinds.get(r.kind, r.kind),
            "about": OBJECTIONS.get(r.details.get("about", ""), "") if r.kind == PrivacyRequest.Kind.OBJECTION else "",
            "status": statuses.get(r.status, r.status),
            "received_at": r.received_at,
            "due_at": r.due_at,
        }
        for r in portal_requests(link.subject)
    ]
    return _render(
        request,
        "portal/requests.html",
        organization,
        choices=list(REQUEST_CHOICES.items()),
        own=own,
        errors=errors,
        asked=request.POST.get("kind", "") if errors else "",
        note=request.POST.get("note", "") if errors else "",
        page="requests",
        status=422 if errors else 200,
    )
