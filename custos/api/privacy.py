"""/privacy/…: data subjects (the privacy engine adds requests, consents, and more)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from custos.core.actor import Actor
from custos.core.pagination import paginate
from custos.privacy.selectors import access_subject, subject_list, subject_record_counts

router = Router(tags=["privacy"])


class SubjectOut(Schema):
    id: str
    reference: str
    state: str
    created_at: datetime
    records: dict[str, int] | None = None


class SubjectPage(Schema):
    items: list[SubjectOut]
    next: str | None


def _out(subject: Any, records: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": str(subject.pk),
        "reference": subject.reference,
        "state": subject.state,
        "created_at": subject.created_at,
        "records": records,
    }


@router.get("/subjects", response=SubjectPage, summary="List data subjects")
def list_subjects(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    rows, next_cursor = paginate(subject_list(actor), cursor=cursor, limit=limit)
    return {"items": [_out(s) for s in rows], "next": next_cursor}


@router.get(
    "/subjects/{subject_id}", response=SubjectOut, summary="A data subject and how many records hold their data"
)
def get_subject(request: HttpRequest, subject_id: str) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    subject = access_subject(actor, subject_id)
    return _out(subject, subject_record_counts(subject))
