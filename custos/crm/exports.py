"""Exporting a list as CSV or XLSX: what the actor may see, audited, safe to open in a spreadsheet.

A cell beginning with = + - @ (or a tab or carriage return) would run as a formula in a
spreadsheet: `=HYPERLINK(...)` in a name (or in a custom field's label, a header) must arrive
as text. CSV cells get a leading apostrophe; XLSX cells are written as text, never as
formulas. Numbers are written as numbers: -5 is no formula.
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import TYPE_STRING

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.cells import csv_cell, neutralise
from custos.core.errors import ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact, CustomField
from custos.crm.services.custom_fields import fields_of
from custos.crm.services.people import points_of
from custos.privacy.services.restriction import without_restricted

FORMATS = ("csv", "xlsx")
EXPORT_BATCH = 1000
# An XLSX file is sent from its temporary file in pieces of this size.
XLSX_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Column:
    field: str  # the record field, for visibility checks
    label: Any
    value: Callable[[Any], Any]


def _name(record: Any) -> str:
    return f"{record.first_name} {record.last_name}".strip()


def _ref(attribute: str, label_of: str = "name") -> Callable[[Any], Any]:
    def value(record: Any) -> Any:
        related = getattr(record, attribute)
        return getattr(related, label_of) if related is not None else ""

    return value


def _attr(attribute: str) -> Callable[[Any], Any]:
    return lambda record: getattr(record, attribute)


ADDRESS_COLUMNS = (
    Column("street", _("Street and number"), _attr("street")),
    Column("postcode", _("Postcode"), _attr("postcode")),
    Column("city", _("City"), _attr("city")),
    Column("country", _("Country"), _attr("country")),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "contact": (
        Column("first_name", _("First name"), _attr("first_name")),
        Column("last_name", _("Last name"), _attr("last_name")),
        Column("email", _("Email"), _attr("email")),
        Column("phone", _("Phone"), _attr("phone")),
        # Joined as an import splits them again (a comma may group a phone number's digits).
        Column("email", _("More email addresses"), lambda r: "; ".join(p.email for p in points_of(r) if p.email)),
        Column("phone", _("More phone numbers"), lambda r: "; ".join(p.phone for p in points_of(r) if p.phone)),
        Column("company", _("Company"), _ref("company")),
        *ADDRESS_COLUMNS,
        Column("owner", _("Owner"), _ref("owner", "email")),
        Column("tags", _("Tags"), lambda r: ", ".join(r.tags)),
        Column("created_at", _("Created"), _attr("created_at")),
    ),
    "company": (
        Column("name", _("Name"), _attr("name")),
        Column("vat_id", _("VAT ID"), _attr("vat_id")),
        Column("website", _("Website"), _attr("website")),
        Column("email", _("Email"), _attr("email")),
        Column("phone", _("Phone"), _attr("phone")),
        *ADDRESS_COLUMNS,
        Column("tags", _("Tags"), lambda r: ", ".join(r.tags)),
        Column("created_at", _("Created"), _attr("created_at")),
    ),
    "lead": (
        Column("first_name", _("First name"), _attr("first_name")),
        Column("last_name", _("Last name"), _attr("last_name")),
        Column("email", _("Email"), _attr("email")),
        Column("phone", _("Phone"), _attr("phone")),
        Column("company_name", _("Company"), _attr("company_name")),
        *ADDRESS_COLUMNS,
        Column("status", _("Status"), lambda r: r.get_status_display()),
        Column("source", _("Source"), lambda r: r.get_source_display()),
        Column("score", _("Score"), _attr("score")),
        Column("owner", _("Owner"), _ref("owner", "email")),
        Column("created_at", _("Created"), _attr("created_at")),
    ),
    "deal": (
        Column("name", _("Name"), _attr("name")),
        Column("stage", _("Stage"), _ref("stage")),
        Column("status", _("Status"), lambda r: r.get_status_display()),
        Column("amount", _("Amount"), _attr("amount")),
        Column("currency", _("Currency"), _attr("currency")),
        Column("expected_close", _("Expected close"), _attr("expected_close")),
        Column("company", _("Company"), _ref("company")),
        Column("contact", _("Contact"), lambda r: _name(r.contact) if r.contact else ""),
        Column("owner", _("Owner"), _ref("owner", "email")),
    ),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat(timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if _is_number(value):
        return str(value)
    return neutralise(str(value))


def _custom(definition: CustomField) -> Callable[[Any], Any]:
    """A custom value as a spreadsheet reads it: an amount as a number, yes or no in the
    language of the export (translated now: the rows are written after the request)."""
    key, money = definition.key, definition.kind == CustomField.Kind.MONEY
    yes, no = gettext("Yes"), gettext("No")

    def value(record: Any) -> Any:
        stored = record.custom_fields.get(key)
        if isinstance(stored, bool):
            return yes if stored else no
        if money and isinstance(stored, str):
            try:
                return Decimal(stored)
            except ArithmeticError:
                return stored
        return ", ".join(map(str, stored)) if isinstance(stored, list) else stored

    return value


def visible_columns(actor: Actor, object_type: str) -> list[Column]:
    """The built-in columns the actor may see, then the custom fields; special-category data
    never leaves in a list export."""
    custom = [
        Column("custom_fields", definition.label, _custom(definition))
        for definition in fields_of(object_type)
        if not definition.is_special
    ]
    return [c for c in (*COLUMNS[object_type], *custom) if actor.may_see_field(object_type, c.field)]


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    chunks: Iterable[bytes]


def export_records(actor: Actor, object_type: str, queryset: models.QuerySet[Any], *, file_format: str) -> Export:
    """The records of a (filtered) list, in the columns the actor may see; the export is audited."""
    actor.require(f"{object_type}.export")
    if file_format not in FORMATS:
        raise ValidationFailed.single("format", str(_("Choose csv or xlsx.")))
    columns = visible_columns(actor, object_type)
    queryset = without_restricted(queryset)  # a restricted person's data leaves only to them
    count = queryset.count()
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=f"{object_type}.export",
            object_type=object_type,
            fields=list(dict.fromkeys(c.field for c in columns)),
            extra={"format": file_format, "count": count},
        )
    labels = [str(c.label) for c in columns]  # translated now, like the rows' values (`_rows`)
    rows = _rows(actor, columns, queryset, translation.get_language())
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    if file_format == "csv":
        return Export(f"{object_type}s-{stamp}.csv", "text/csv; charset=utf-8", _csv(labels, rows))
    return Export(
        f"{object_type}s-{stamp}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _xlsx(labels, rows),
    )


def _rows(
    actor: Actor, columns: list[Column], queryset: models.QuerySet[Any], language: str | None
) -> Iterator[list[Any]]:
    """Rows in batches, each read inside the organisation's scope and the language of the
    export: a streamed response is consumed after the view has returned, when the request's
    scope is gone and its language may be too (or another request's set on the thread)."""
    last = None
    while True:
        with tenant_scope(actor.org_id), translation.override(language):
            batch = queryset.order_by("pk")
            if last is not None:
                batch = batch.filter(pk__gt=last)
            records = list(batch[:EXPORT_BATCH])
            if queryset.model is Contact:
                prefetch_related_objects(records, "points")
            rows = [[column.value(record) for column in columns] for record in records]
        if not records:
            return
        yield from rows
        last = records[-1].pk


def _csv(labels: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """Streamed, UTF-8 with a byte-order mark so that spreadsheet programs read the accents."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(label) for label in labels])
    yield ("\ufeff" + buffer.getvalue()).encode()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_cell(value) for value in row])
        yield buffer.getvalue().encode()


def _csv_cell(value: Any) -> str:
    return _cell(value) if _is_number(value) else csv_cell(_cell(value))


def _xlsx(labels: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """Written to a temporary file and sent from it in pieces: a long list's file never sits
    whole in memory (a zip archive is complete only once written to its end)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([_xlsx_cell(sheet, label) for label in labels])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(XLSX_CHUNK):
            yield chunk


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """Numbers and dates as themselves; everything else as text, never as a formula."""
    if _is_number(value):
        return value
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, datetime.date):
        return value
    cell = WriteOnlyCell(sheet, value="" if value is None else str(value))
    cell.data_type = TYPE_STRING
    return cell
