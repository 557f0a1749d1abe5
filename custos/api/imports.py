"""/imports: upload a file, preview and start it, follow it, fetch its report, undo it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict, Field, StrictBool

from custos.api.rendering import actor_of, moment, reference
from custos.core.actor import Actor
from custos.core.pagination import paginate
from custos.crm.imports import RowOutcome, import_preview, import_start, import_undo, import_upload, rejected_report
from custos.crm.models import ImportJob
from custos.crm.selectors.imports import access_import, import_list

router = Router(tags=["imports"])

# A preview never echoes special-category data back.
NOT_PREVIEWED = frozenset({"health_notes", "custom_special"})


class ImportOut(Schema):
    id: str
    object_type: str
    status: str = Field(description="uploaded, running, completed, failed or undone.")
    file_name: str
    format: str = Field(description="csv or xlsx.")
    encoding: str = Field(description="utf-8, utf-8-sig, utf-16 or cp1252; empty for XLSX.")
    delimiter: str = Field(description="`,`, `;` or a tab; empty for XLSX.")
    headers: list[str]
    mapping: dict[str, str] = Field(
        description="Column header → field: the suggestion (remembered or guessed) until the import starts."
    )
    duplicates: str
    dry_run: bool
    total_rows: int
    processed_rows: int
    created: int
    updated: int
    skipped: int
    rejected: int
    undoable: bool
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
    undone_at: datetime | None


class ImportPage(Schema):
    items: list[ImportOut]
    next: str | None


class ImportSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Column header → field (first_name, last_name, email, phone, company, owner, tags, "
        "notes, health_notes, street, postcode, city, country, or custom:<key> for a custom field); columns "
        "left out are ignored. Empty: the job's suggested mapping.",
    )
    duplicates: str = Field("skip", description="skip, update or create, for a row whose email a contact has.")
    dry_run: StrictBool = False


class RowProblemOut(Schema):
    field: str
    message: str


class PreviewRowOut(Schema):
    row: int = Field(description="The row's line number in the file (the header is line 1).")
    data: dict[str, Any]
    errors: list[RowProblemOut]


class PreviewOut(Schema):
    items: list[PreviewRowOut]


def import_out(actor: Actor, job: ImportJob) -> dict[str, Any]:
    return {
        "id": str(job.pk),
        "object_type": job.object_type,
        "status": job.status,
        "file_name": job.file_name,
        "format": job.file_format,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "headers": job.headers,
        "mapping": job.mapping,
        "duplicates": job.duplicates,
        "dry_run": job.dry_run,
        "total_rows": job.total_rows,
        "processed_rows": min(job.checkpoint, job.total_rows),
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "rejected": job.rejected_count,
        "undoable": job.undoable,
        "created_by": reference(job.created_by_id),
        "created_at": moment(job.created_at),
        "finished_at": moment(job.finished_at),
        "undone_at": moment(job.undone_at),
    }


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _preview_row(actor: Actor, object_type: str, outcome: RowOutcome) -> dict[str, Any]:
    """A row as it would be imported: the fields the actor may see, references by id."""
    data = {}
    for name, value in outcome.data.items():
        field = name.removesuffix("_id")
        if field in NOT_PREVIEWED or not actor.may_see_field(object_type, field):
            continue
        data[field] = _jsonable(value)
    return {
        "row": outcome.row,
        "data": data,
        "errors": [{"field": field, "message": message} for field, message in outcome.errors],
    }


def _settings(job: ImportJob, payload: ImportSettingsIn) -> dict[str, str]:
    return payload.mapping or dict(job.mapping)


@router.post(
    "/imports",
    response={201: ImportOut},
    summary="Upload a CSV or XLSX file to import",
)
def upload_import(
    request: HttpRequest, file: File[UploadedFile], object_type: Form[str] = "contact"
) -> Status[dict[str, Any]]:
    """`multipart/form-data` with `file` (and `object_type`, contact so far). The file is stored and
    read for its shape (format, encoding, delimiter, columns, rows) and a mapping is suggested;
    nothing is imported until the import is started. The request body limit applies."""
    actor = actor_of(request)
    job = import_upload(actor=actor, object_type=object_type, file_name=file.name or "", stream=file)
    return Status(201, import_out(actor, job))


@router.get("/imports", response=ImportPage, summary="List imports")
def list_imports(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
    actor = actor_of(request)
    rows, next_cursor = paginate(import_list(actor), cursor=cursor, limit=limit)
    return {"items": [import_out(actor, job) for job in rows], "next": next_cursor}


@router.get("/imports/{import_id}", response=ImportOut, summary="Get an import and its progress")
def get_import(request: HttpRequest, import_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    return import_out(actor, access_import(actor, import_id))


@router.post("/imports/{import_id}/preview", response=PreviewOut, summary="Preview the first rows of an import")
def preview_import(request: HttpRequest, import_id: str, payload: ImportSettingsIn) -> dict[str, Any]:
    """The first rows as the mapping would import them, each with its errors; nothing is written."""
    actor = actor_of(request)
    job = access_import(actor, import_id, write=True)
    outcomes = import_preview(actor=actor, job=job, mapping=_settings(job, payload))
    return {"items": [_preview_row(actor, job.object_type, outcome) for outcome in outcomes]}


@router.post("/imports/{import_id}/start", response={202: ImportOut}, summary="Start an import")
def start_import(request: HttpRequest, import_id: str, payload: ImportSettingsIn) -> Status[dict[str, Any]]:
    """The mapping is fixed (and remembered for files with the same columns) and the rows are
    imported in the background; follow `GET /imports/{import_id}` until its status is completed."""
    actor = actor_of(request)
    job = access_import(actor, import_id, write=True)
    job = import_start(
        actor=actor, job=job, mapping=_settings(job, payload), duplicates=payload.duplicates, dry_run=payload.dry_run
    )
    return Status(202, import_out(actor, job))


@router.get(
    "/imports/{import_id}/report",
    summary="The rejected rows of an import, as CSV",
    openapi_extra={"responses": {200: {"description": "Row, field and reason", "content": {"text/csv": {}}}}},
)
def import_report(request: HttpRequest, import_id: str) -> StreamingHttpResponse:
    """One line per problem, in row order: the row's line number, the field and the reason (never the values)."""
    job = access_import(actor_of(request), import_id)
    response = StreamingHttpResponse(rejected_report(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"import-{job.pk}-rejected.csv")
    return response


class UndoCountsOut(Schema):
    removed: int = Field(description="Contacts the import created that were removed.")
    contacts_kept: int = Field(
        description="Contacts the import created that were kept: another record points at them, someone changed "
        "them after the import, or their person is under a legal hold."
    )
    restored: int = Field(description="Contacts the import changed whose replaced values were put back.")
    restore_skipped: int = Field(
        description="Contacts the import changed that someone changed after the import: left as they are."
    )
    not_restored: int = Field(description="Replaced values not put back: the company or owner they named is gone.")
    companies_removed: int
    companies_kept: int = Field(description="Companies the import created that other records use by now.")


class ImportUndoneOut(ImportOut):
    undo: UndoCountsOut = Field(description="What the undo did: counts only.")


@router.post("/imports/{import_id}/undo", response=ImportUndoneOut, summary="Undo a finished import")
def undo_import(request: HttpRequest, import_id: str) -> dict[str, Any]:
    """Removes the contacts the import created and restores those it changed, within the undo window; what
    someone worked on since the import is kept as it is, and `undo` counts it."""
    actor = actor_of(request)
    job = access_import(actor, import_id, write=True)
    undone = import_undo(actor=actor, job=job)
    counts = {name: getattr(undone, name) for name in UndoCountsOut.model_fields}
    return {**import_out(actor, undone.job), "undo": counts}
