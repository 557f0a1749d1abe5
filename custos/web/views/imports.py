"""Imports in the staff UI: upload, map the columns, preview, start, watch, report, undo."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.crm.imports import (
    CUSTOM_TARGET,
    UNDO_DAYS,
    RowOutcome,
    import_preview,
    import_start,
    import_targets,
    import_undo,
    import_upload,
    rejected_report,
    target_label,
)
from custos.crm.models import ImportJob
from custos.crm.selectors.imports import access_import, import_list
from custos.crm.services.custom_fields import fields_of
from custos.web.forms import ImportSettingsForm, ImportUploadForm, attach_errors
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of
from custos.web.views.listing import posted, wants_partial

# Fields shown in the preview table; a company is only looked up, and special-category
# data is never echoed back onto a page.
PREVIEW_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "owner",
    "tags",
    "notes",
)
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": gettext_lazy("UTF-8 with byte-order mark"),
    "utf-16": "UTF-16",
    "cp1252": "Latin-1 (Windows-1252)",
}


def _delimiter_label(delimiter: str) -> str:
    names = {",": _("comma"), ";": _("semicolon"), "\t": _("tab")}
    return f"{names[delimiter]} ({delimiter})" if delimiter in (",", ";") else names.get(delimiter, delimiter)


def _targets(actor: Actor, job: ImportJob) -> list[tuple[str, str]]:
    return list(import_targets(actor, job.object_type).items())


def _settings_form(actor: Actor, job: ImportJob, data: Any = None) -> ImportSettingsForm:
    return ImportSettingsForm(
        data,
        headers=list(job.headers),
        targets=_targets(actor, job),
        duplicates=[(str(value), capfirst(str(label))) for value, label in ImportJob.Duplicates.choices],
        mapping=dict(job.mapping),
        initial={"duplicates": job.duplicates, "dry_run": job.dry_run},
    )


def _preview_rows(actor: Actor, job: ImportJob, mapping: dict[str, str], outcomes: list[RowOutcome]) -> dict[str, Any]:
    """The preview as a table: the mapped fields the actor may see, and each row's problems.
    Special-category values are never shown back."""
    fields = [
        name for name in PREVIEW_FIELDS if name in mapping.values() and actor.may_see_field(job.object_type, name)
    ]
    if actor.may_see_field(job.object_type, "custom_fields"):
        plain = {d.key for d in fields_of(job.object_type) if not d.is_special}
        fields += [
            t for t in mapping.values() if t.startswith(CUSTOM_TARGET) and t.removeprefix(CUSTOM_TARGET) in plain
        ]
    members = member_names(actor)
    rows = []
    for outcome in outcomes:
        values = []
        for name in fields:
            if name.startswith(CUSTOM_TARGET):
                value = outcome.data.get("custom_fields", {}).get(name.removeprefix(CUSTOM_TARGET))
            else:
                value = outcome.data.get("owner_id" if name == "owner" else name)
            if name == "owner":
                value = members.get(str(value), "") if value else ""
            elif isinstance(value, list):
                value = ", ".join(value)
            values.append("" if value is None else value)
        problems = [(target_label(field), message) for field, message in outcome.errors]
        rows.append({"row": outcome.row, "values": values, "problems": problems})
    return {"columns": [target_label(name) for name in fields], "rows": rows}


def _job_context(actor: Actor, job: ImportJob) -> dict[str, Any]:
    return {
        "job": job,
        "encoding": ENCODINGS.get(job.encoding, job.encoding),
        "delimiter": _delimiter_label(job.delimiter) if job.delimiter else "",
        "processed": min(job.checkpoint, job.total_rows),
        "may_start": job.status == ImportJob.Status.UPLOADED and actor.can(f"{job.object_type}.add"),
        "may_undo": (job.undoable and actor.can(f"{job.object_type}.add") and actor.can(f"{job.object_type}.delete")),
        "undo_days": UNDO_DAYS,
        "members": member_names(actor),
    }


def import_list_view(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    jobs = list(import_list(actor)[:100])
    return render(request, "web/imports/list.html", {"jobs": jobs, "members": member_names(actor)})


def import_create_view(request: HttpRequest) -> HttpResponse:
    """Upload a file: it is stored and read for its shape; nothing is imported yet."""
    actor = actor_of(request)
    actor.require("contact.add")
    form = ImportUploadForm(posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_upload(actor=actor, object_type="contact", file_name=upload.name or "", stream=upload)
        except ValidationFailed as error:
            attach_errors(form, error)
        else:
            return redirect("web:import-detail", job.pk)
    return render(request, "web/imports/upload.html", {"form": form})


@require_GET
def import_detail_view(request: HttpRequest, import_id: str) -> HttpResponse:
    """The job: its file's shape, then the mapping form, the progress (polled) or the outcome."""
    actor = actor_of(request)
    job = access_import(actor, import_id)
    context = {**_job_context(actor, job), "form": _settings_form(actor, job)}
    partial = wants_partial(request)
    response = render(request, "web/imports/detail.html" + ("#status" if partial else ""), context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _mapping_problems(form: ImportSettingsForm, error: ValidationFailed) -> list[str]:
    """Errors of the mapping as a whole are listed with the preview; those of a field go on the field."""
    problems = []
    for item in error.errors:
        if item.field in form.fields:
            form.add_error(item.field, item.message)
        else:
            problems.append(item.message)
    return problems


@require_POST
def import_preview_view(request: HttpRequest, import_id: str) -> HttpResponse:
    """The first rows as they would be imported, with their problems; nothing is written.
    With htmx only the preview is swapped in; without, the whole page comes back. An import
    started meanwhile (in another tab) has no preview: its page says so."""
    actor = actor_of(request)
    job = access_import(actor, import_id, write=True)
    form = _settings_form(actor, job, request.POST)
    preview = None
    problems: list[str] = []
    partial = wants_partial(request)
    if form.is_valid():
        mapping = form.mapping()
        try:
            outcomes = import_preview(actor=actor, job=job, mapping=mapping)
        except ValidationFailed as error:
            problems = _mapping_problems(form, error)
        except Conflict as error:
            if not partial:  # the page of a started import shows no preview: the message goes above it
                messages.error(request, error.detail)
                return redirect("web:import-detail", job.pk)
            problems = [error.detail]
        else:
            preview = _preview_rows(actor, job, mapping, outcomes)
    if partial and form.errors:  # only the preview is swapped in: say there what is wrong with the form
        problems += [
            f"{form.fields[name].label}: {message}" if name in form.fields else str(message)
            for name, errors in form.errors.items()
            for message in errors
        ]
    context = {**_job_context(actor, job), "form": form, "preview": preview, "problems": problems}
    response = render(request, "web/imports/detail.html" + ("#preview" if partial else ""), context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def import_start_view(request: HttpRequest, import_id: str) -> HttpResponse:
    actor = actor_of(request)
    job = access_import(actor, import_id, write=True)
    form = _settings_form(actor, job, request.POST)
    problems: list[str] = []
    if form.is_valid():
        try:
            import_start(
                actor=actor,
                job=job,
                mapping=form.mapping(),
                duplicates=form.cleaned_data["duplicates"],
                dry_run=form.cleaned_data["dry_run"],
            )
        except ValidationFailed as error:
            problems = _mapping_problems(form, error)
        except Conflict as error:
            messages.error(request, error.detail)
            return redirect("web:import-detail", job.pk)
        else:
            messages.success(request, _("The import has started; this page shows its progress."))
            return redirect("web:import-detail", job.pk)
    context = {**_job_context(actor, job), "form": form, "preview": None, "problems": problems}
    return render(request, "web/imports/detail.html", context)


@require_GET
def import_report_view(request: HttpRequest, import_id: str) -> StreamingHttpResponse:
    """The rejected rows as CSV: row number, field and reason."""
    actor = actor_of(request)
    job = access_import(actor, import_id)
    response = StreamingHttpResponse(rejected_report(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"import-{job.pk}-rejected.csv")
    return response


@require_POST
def import_undo_view(request: HttpRequest, import_id: str) -> HttpResponse:
    actor = actor_of(request)
    job = access_import(actor, import_id, write=True)
    try:
        undone = import_undo(actor=actor, job=job)
    except Conflict as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The import is undone: its new contacts are removed, changed ones restored."))
        if undone.companies_kept:
            messages.info(
                request,
                ngettext(
                    "%(count)d company the import created is kept: other records use it by now.",
                    "%(count)d companies the import created are kept: other records use them by now.",
                    undone.companies_kept,
                )
                % {"count": undone.companies_kept},
            )
        if undone.contacts_kept:
            messages.info(
                request,
                ngettext(
                    "%(count)d contact the import created is kept: it was worked on since or is under a legal hold.",
                    "%(count)d contacts the import created are kept: they were worked on since or are under a "
                    "legal hold.",
                    undone.contacts_kept,
                )
                % {"count": undone.contacts_kept},
            )
        if undone.restore_skipped:
            messages.info(
                request,
                ngettext(
                    "%(count)d contact was changed after the import and was left as it is.",
                    "%(count)d contacts were changed after the import and were left as they are.",
                    undone.restore_skipped,
                )
                % {"count": undone.restore_skipped},
            )
        if undone.not_restored:
            messages.warning(
                request,
                ngettext(
                    "%(count)d value could not be restored: its company or owner was deleted since.",
                    "%(count)d values could not be restored: their company or owner was deleted since.",
                    undone.not_restored,
                )
                % {"count": undone.not_restored},
            )
    return redirect("web:import-detail", job.pk)
