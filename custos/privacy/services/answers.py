"""The answer to a completed request, in the format asked for: one function for every face."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.privacy.models import PrivacyRequest
from custos.privacy.services.reports import access_report, portability_data

Kind = PrivacyRequest.Kind
FORMATS: dict[str, tuple[str, ...]] = {Kind.ACCESS: ("json", "xlsx", "pdf"), Kind.PORTABILITY: ("zip", "json")}
CONTENT_TYPES = {
    "json": "application/json",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str
    file_name: str
    data: Any = None  # the JSON answer as data, for a face that serialises it itself


def formats_of(kind: str) -> tuple[str, ...]:
    return FORMATS.get(kind, ("json",))


def request_answer(*, actor: Actor, request: PrivacyRequest, file_format: str) -> Answer:
    """The access report (JSON, XLSX, PDF), the portability export (ZIP, JSON), or for every
    other kind what was done (JSON). Files holding the person's data need `subject.export`;
    every download is audited."""
    allowed = formats_of(request.kind)
    if file_format not in allowed:
        raise ValidationFailed.single("format", _("Choose one of: %(values)s.") % {"values": ", ".join(allowed)})
    if request.status == PrivacyRequest.Status.REJECTED:
        # A rejected request's answer is its reason, whatever format a client asked for.
        audit_record(
            actor=actor,
            action="privacy_request.report",
            object_type="privacy_request",
            object_id=request.pk,
            extra={"format": "json"},
        )
        reason = {
            "request": str(request.pk),
            "kind": request.kind,
            "status": request.status,
            "rejection_reason": request.rejection_reason,
        }
        return _json(reason, f"{request.kind}-{request.pk}")
    if request.status != PrivacyRequest.Status.COMPLETED:
        raise Conflict(_("The request is not completed yet."))
    subject = request.subject
    personal = request.kind in FORMATS and subject is not None and bool(request.result.get("found"))
    if personal:
        actor.require("subject.export")
    audit_record(
        actor=actor,
        action="privacy_request.report",
        object_type="privacy_request",
        object_id=request.pk,
        extra={"format": file_format},
    )
    if not personal or subject is None:
        completed = request.completed_at.isoformat() if request.completed_at else None
        data: Any = {"request": str(request.pk), "kind": request.kind, "completed_at": completed, **request.result}
        return _json(data, f"{request.kind}-{request.pk}")
    name = f"{request.kind}-{subject.reference}"
    report = access_report(subject, language=request.language)
    if file_format == "json":
        return _json(portability_data(subject) if request.kind == Kind.PORTABILITY else report, name)
    # Imported here: the documents module pulls in WeasyPrint, which only these downloads need.
    from custos.privacy.services import documents

    if file_format == "xlsx":
        body = documents.access_report_xlsx(report)
    elif file_format == "pdf":
        body = documents.access_report_pdf(report)
    else:
        body = documents.portability_zip(portability_data(subject), report)
    return Answer(body, CONTENT_TYPES[file_format], f"{name}.{file_format}")


def _json(data: Any, name: str) -> Answer:
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    return Answer(body, CONTENT_TYPES["json"], f"{name}.json", data)
