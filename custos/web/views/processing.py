"""The record of processing activities (Art. 30) and the privacy notice, as staff see them."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone

from custos.privacy.services.processing_record import (
    privacy_notice,
    processing_record,
    processing_record_pdf,
    processing_record_xlsx,
)
from custos.web.shortcuts import actor_of

LANGUAGES = [code for code, _name in settings.LANGUAGES]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _language(request: HttpRequest) -> str:
    wanted = request.GET.get("language", "")
    return wanted if wanted in LANGUAGES else (getattr(request, "LANGUAGE_CODE", "") or "en")


def processing_record_view(request: HttpRequest) -> HttpResponse:
    """HTML to read, PDF to sign and file, XLSX to work with: all from the same record."""
    actor = actor_of(request)
    actor.require("purpose.view")
    language = _language(request)
    record = processing_record(language=language)
    stamp = timezone.localdate().isoformat()
    match request.GET.get("format", "html"):
        case "pdf":
            response = HttpResponse(processing_record_pdf(record), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="processing-record-{stamp}.pdf"'
            return response
        case "xlsx":
            response = HttpResponse(processing_record_xlsx(record), content_type=XLSX)
            response["Content-Disposition"] = f'attachment; filename="processing-record-{stamp}.xlsx"'
            return response
    return render(
        request,
        "web/privacy/record/record.html",
        {"record": record, "language": language, "languages": settings.LANGUAGES},
    )


def privacy_notice_view(request: HttpRequest) -> HttpResponse:
    """The notice as the public will read it, in any of the UI languages."""
    actor = actor_of(request)
    actor.require("purpose.view")
    language = _language(request)
    return render(
        request,
        "web/privacy/record/notice.html",
        {"notice": privacy_notice(language=language), "language": language, "languages": settings.LANGUAGES},
    )


urlpatterns: list[URLPattern] = [
    path("privacy/record/", processing_record_view, name="processing-record"),
    path("privacy/notice/", privacy_notice_view, name="privacy-notice-preview"),
]
