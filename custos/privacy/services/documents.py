"""The access report (Art. 15) as XLSX and PDF, and the portability data (Art. 20) as a ZIP.

Each rendering takes the dictionaries of `reports.py` and nothing else, so the JSON, XLSX,
PDF and ZIP answers of one request say the same thing. They are written in the report's
language. Text that a spreadsheet would take for a formula (= + - @, tab, carriage return
at the start) gets a leading apostrophe, in XLSX cells and CSV files alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import zipfile
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from weasyprint import HTML, URLFetcher

from custos.core.cells import csv_cell, neutralise
from custos.core.personal_data import Category
from custos.privacy.models import ConsentEvent
from custos.privacy.models.consent import ConsentSource

__all__ = [
    "access_report_html",
    "access_report_pdf",
    "access_report_xlsx",
    "detail_text",
    "neutralise",
    "offline_url_fetcher",
    "portability_zip",
]

PROFILING = "profiling"
# The order of the per-category sheets and PDF sections: who, how to reach, what was written,
# money, online traces, Art. 9 data, then what was inferred.
CATEGORY_ORDER = (
    Category.IDENTITY.value,
    Category.CONTACT.value,
    Category.FREE_TEXT.value,
    Category.FINANCIAL.value,
    Category.ONLINE_IDENTIFIER.value,
    Category.SPECIAL.value,
    PROFILING,
)
SHEET_TITLE_LENGTH = 31
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


class _ArgumentsWithheld(logging.Filter):
    """WeasyPrint's messages quote the document (a CSS value, a URL, a text run): keep the
    message's pattern, drop its arguments, so no personal value reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = f"{record.msg} (details withheld)"
            record.args = None
        return True


for _logger_name in ("weasyprint", "weasyprint.progress"):
    logging.getLogger(_logger_name).addFilter(_ArgumentsWithheld())
# fontTools (font subsetting inside WeasyPrint) lists glyphs at INFO: letters of a name.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def offline_url_fetcher() -> URLFetcher:
    """A fetcher that loads data: URLs only."""
    # The template links nothing; a data: URL is the only thing a document may load. No
    # file:, no http(s): rendering must never reach the disk or the network.
    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=False)


# Shared helpers ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A report value as one line of readable text (in the active language)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _when(value: str | None) -> str:
    """An ISO time from the report, as the active language writes dates."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_aware(moment):
        return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    return formats.date_format(moment, "DATE_FORMAT" if len(value) <= 10 else "DATETIME_FORMAT")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T|$)")


def detail_text(value: Any) -> str:
    """A record's detail as text: its dates and times written as the active language does."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        return _when(value)
    return _text(value)


def _category_labels() -> dict[str, str]:
    # Labelled afresh, in the active language, rather than as the report was built.
    labels = {c.value: c.label for c in Category}
    labels[PROFILING] = _("Profiling")
    return labels


def _sheet_titles() -> dict[str, str]:
    # Shorter than the category labels where those pass Excel's 31 characters.
    return {**_category_labels(), Category.SPECIAL.value: _("Special category")}


def _source_label(source: str) -> str:
    return str(ConsentSource(source).label) if source in ConsentSource.values else source


def _action_label(action: str) -> str:
    return str(ConsentEvent.Action(action).label) if action in ConsentEvent.Action.values else action


def _purpose_names(report: dict[str, Any]) -> dict[str, str]:
    return {p["key"]: p["name"] or p["key"] for p in report["purposes"]}


def _is_right_to_left(language: str) -> bool:
    return language.split("-")[0] in settings.LANGUAGES_BIDI


# XLSX ------------------------------------------------------------------------------------------


def _sheet_title(title: str, taken: set[str]) -> str:
    """A title Excel accepts: no [ ] : * ? / \\, no apostrophe at either end, at most 31
    characters, unique in the workbook (compared as Excel does, ignoring case)."""
    cleaned = SHEET_TITLE_FORBIDDEN.sub(" ", title).strip().strip("'").strip() or "Sheet"
    candidate = cleaned[:SHEET_TITLE_LENGTH]
    number = 2
    while candidate.casefold() in taken:
        suffix = f" ({number})"
        candidate = cleaned[: SHEET_TITLE_LENGTH - len(suffix)] + suffix
        number += 1
    taken.add(candidate.casefold())
    return candidate


def _cell(value: Any) -> Any:
    """Whole numbers as numbers; everything else as text, never as a formula."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return neutralise(_text(value))


def _append(sheet: Any, values: list[Any], *, bold: bool = False) -> None:
    sheet.append([_cell(value) for value in values])
    if bold:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)


def _heading(sheet: Any, text: str, *, first: bool = False) -> None:
    if not first:
        sheet.append([])
    _append(sheet, [text], bold=True)
    sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=13)


def _new_sheet(workbook: Workbook, title: str, taken: set[str], *, right_to_left: bool, widths: list[int]) -> Any:
    sheet = workbook.create_sheet(_sheet_title(title, taken))
    sheet.sheet_view.rightToLeft = right_to_left
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    return sheet


def _overview(sheet: Any, report: dict[str, Any]) -> None:
    controller = report["controller"]
    _heading(sheet, _("Your personal data"), first=True)
    _append(sheet, [_("Controller"), controller["name"]])
    _append(sheet, [_("Country"), controller["country"]])
    _append(sheet, [_("Your reference"), report["subject"]["reference"]])
    _append(sheet, [_("Generated at"), _when(report["generated_at"])])
    _append(sheet, [_("Records"), len(report["records"])])

    _heading(sheet, _("Purposes"))
    _append(sheet, [_("Purpose"), _("Legal basis"), _("Description")], bold=True)
    for purpose in report["purposes"]:
        _append(sheet, [purpose["name"] or purpose["key"], purpose["legal_basis_label"], purpose["description"]])

    _heading(sheet, _("Recipients"))
    _append(sheet, [_("Recipient"), _("Service"), _("Country"), _("Safeguard")], bold=True)
    for recipient in report["recipients"]:
        _append(sheet, [recipient["name"], recipient["service"], recipient["country"], recipient["safeguard_label"]])

    _heading(sheet, _("Retention"))
    _append(sheet, [_("Record type"), _("How long it is kept")], bold=True)
    labels = {r["type"]: r["label"] for r in report["records"]}
    for retention in report["retention"]:
        _append(sheet, [labels.get(retention["type"], retention["type"]), retention["period"]])

    _heading(sheet, _("Sources"))
    for source in report["sources"]:
        _append(sheet, [_source_label(source)])

    _heading(sheet, _("Automated decision-making"))
    decisions = report["automated_decisions"]
    _append(sheet, [_("Applies"), decisions["applies"]])
    if decisions["logic"]:
        _append(sheet, [_("How it works"), decisions["logic"]])
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def access_report_xlsx(report: dict[str, Any]) -> bytes:
    """The access report as a workbook: an overview, one sheet per category of data, the consents."""
    language = report["language"]
    right_to_left = _is_right_to_left(language)
    with translation.override(language):
        workbook = Workbook()
        workbook.remove(workbook.active)
        taken: set[str] = set()
        _overview(
            _new_sheet(workbook, _("Overview"), taken, right_to_left=right_to_left, widths=[28, 40, 60, 30]), report
        )
        details = _new_sheet(workbook, _("Records"), taken, right_to_left=right_to_left, widths=[24, 38, 28, 60])
        _append(details, [_("Record type"), _("Record"), _("Detail"), _("Value")], bold=True)
        for record in report["records"]:
            for detail in record["details"]:
                _append(details, [record["label"], record["id"], detail["label"], detail_text(detail["value"])])
        details.freeze_panes = "A2"
        titles = _sheet_titles()
        for category in CATEGORY_ORDER:
            sheet = _new_sheet(workbook, titles[category], taken, right_to_left=right_to_left, widths=[24, 38, 28, 60])
            _append(sheet, [_("Record type"), _("Record"), _("Field"), _("Value")], bold=True)
            for record in report["records"]:
                for field in record["fields"]:
                    if field["category"] == category:
                        _append(sheet, [record["label"], record["id"], field["label"], field["value"]])
            sheet.freeze_panes = "A2"
        consents = _new_sheet(
            workbook, _("Consents"), taken, right_to_left=right_to_left, widths=[30, 10, 14, 22, 12, 60, 22, 22, 18]
        )
        _append(
            consents,
            [
                _("Purpose"),
                _("Version"),
                _("Action"),
                _("When"),
                _("Source"),
                _("Text shown"),
                _("Confirmed at"),
                _("Expires at"),
                _("IP address"),
            ],
            bold=True,
        )
        names = _purpose_names(report)
        for event in report["consents"]:
            _append(
                consents,
                [
                    names.get(event["purpose"], event["purpose"]),
                    event["purpose_version"],
                    _action_label(event["action"]),
                    _when(event["occurred_at"]),
                    _source_label(event["source"]),
                    event["text_shown"],
                    _when(event["confirmed_at"]),
                    _when(event["expires_at"]),
                    event["ip"],
                ],
            )
        consents.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# PDF -------------------------------------------------------------------------------------------


def access_report_html(report: dict[str, Any]) -> str:
    """The HTML the PDF is made from, in the report's language (right to left for Arabic)."""
    language = report["language"]
    with translation.override(language):
        labels = _category_labels()
        names = _purpose_names(report)
        record_labels = {r["type"]: r["label"] for r in report["records"]}
        context = {
            "report": report,
            "language": language,
            "direction": "rtl" if _is_right_to_left(language) else "ltr",
            "generated_at": _when(report["generated_at"]),
            "records": [
                {
                    "label": record["label"],
                    "id": record["id"],
                    "created_at": _when(record["created_at"]),
                    "details": [
                        {"label": detail["label"], "value": detail_text(detail["value"])}
                        for detail in record["details"]
                    ],
                    "fields": [
                        {
                            "label": field["label"],
                            "category": labels.get(field["category"], field["category"]),
                            "value": _text(field["value"]),
                        }
                        for field in record["fields"]
                    ],
                }
                for record in report["records"]
            ],
            "consents": [
                {
                    **event,
                    "purpose_name": names.get(event["purpose"], event["purpose"]),
                    "action": _action_label(event["action"]),
                    "source": _source_label(event["source"]),
                    "occurred_at": _when(event["occurred_at"]),
                    "confirmed_at": _when(event["confirmed_at"]),
                    "expires_at": _when(event["expires_at"]),
                }
                for event in report["consents"]
            ],
            "sources": [_source_label(source) for source in report["sources"]],
            "retention": [
                {"label": record_labels.get(r["type"], r["type"]), "period": r["period"]} for r in report["retention"]
            ],
        }
        return render_to_string("privacy/access_report.html", context)


def access_report_pdf(report: dict[str, Any]) -> bytes:
    """The access report as a PDF, made offline: nothing is fetched while rendering."""
    document = HTML(string=access_report_html(report), url_fetcher=offline_url_fetcher())
    pdf = document.write_pdf()
    assert pdf is not None  # without a target, write_pdf returns the bytes
    return bytes(pdf)


# ZIP -------------------------------------------------------------------------------------------


def _csv_name(record_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", record_type.lower()).strip("_") + ".csv"


def _csv(rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark (spreadsheets then read the accents), formulas neutralised."""
    columns: list[str] = []
    for row in rows:
        columns.extend(name for name in row if name not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(name) for name in columns])
    for row in rows:
        writer.writerow([csv_cell(_text(row.get(name))) for name in columns])
    return ("\ufeff" + buffer.getvalue()).encode()


def _readme(report: dict[str, Any], files: list[tuple[str, str]]) -> str:
    lines = [
        _("Your data from %(controller)s") % {"controller": report["controller"]["name"]},
        "",
        _("Reference: %(reference)s") % {"reference": report["subject"]["reference"]},
        _("Generated at: %(when)s") % {"when": _when(report["generated_at"])},
        "",
        _(
            "This archive holds the personal data you gave us, in formats other programs can read, "
            "so that you can keep it or take it to another provider (Art. 20 GDPR)."
        ),
        "",
        "data.json",
        "  "
        + _(
            "All of it in one JSON file: for each type of record, a list of records with their fields. "
            "Field names are the ones our system uses; dates follow ISO 8601."
        ),
    ]
    for name, label in files:
        lines.append(name)
        lines.append(
            "  " + _("The same data for “%(label)s”, as a table (CSV, UTF-8, comma-separated).") % {"label": label}
        )
    lines += [
        "",
        _(
            "A cell that begins with = + - or @ starts with an apostrophe in the CSV files, so that "
            "a spreadsheet program shows it as text rather than running it as a formula."
        ),
        _(
            "The full report of everything we hold about you, why and for how long, is the separate "
            "access report (Art. 15 GDPR)."
        ),
    ]
    return "\n".join(lines) + "\n"


def portability_zip(subject_data: dict[str, list[dict[str, Any]]], report: dict[str, Any]) -> bytes:
    """The portability data as a ZIP: data.json, one CSV per record type and a README.txt in
    the person's language; `report` (the access report) gives the language and the labels."""
    labels = {r["type"]: r["label"] for r in report["records"]}
    out = io.BytesIO()
    with translation.override(report["language"]), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(subject_data, ensure_ascii=False, indent=2, default=str) + "\n")
        files = []
        for record_type, rows in sorted(subject_data.items()):
            name = _csv_name(record_type)
            archive.writestr(name, _csv(rows))
            files.append((name, labels.get(record_type, record_type)))
        # Hook: files the person uploaded (Art. 20 covers them) belong here, under files/,
        # once Custos has an upload model; nothing stores uploads yet.
        archive.writestr("README.txt", _readme(report, files).encode())
    return out.getvalue()


def breach_report_pdf(report: dict[str, Any], *, language: str) -> bytes:
    """The report to the supervisory authority (Art. 33(3)), as a PDF in the chosen language."""
    with translation.override(language):
        html = render_to_string(
            "privacy/breach_report.html",
            {"report": report, "language": language, "direction": "rtl" if _is_right_to_left(language) else "ltr"},
        )
    pdf = HTML(string=html, url_fetcher=offline_url_fetcher()).write_pdf()
    assert pdf is not None
    return bytes(pdf)
