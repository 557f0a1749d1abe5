"""The access report as XLSX and PDF, the portability data as a ZIP: made from real records."""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from custos.crm.models import Contact
from custos.crm.services.leads import lead_create
from custos.crm.services.people import contact_create
from custos.privacy.models import Subject
from custos.privacy.services.consent import Proof, consent_give, purpose_create
from custos.privacy.services.documents import (
    access_report_html,
    access_report_pdf,
    access_report_xlsx,
    offline_url_fetcher,
    portability_zip,
)
from custos.privacy.services.reports import access_report, portability_data

FORMULA_NAME = '=HYPERLINK("http://x")'
SHEETS = [
    "Overview",
    "Records",
    "Identity",
    "Contact details",
    "Free text",
    "Financial data",
    "Online identifiers",
    "Special category",
    "Profiling",
    "Consents",
]


@pytest.fixture
def subject(cast: Any, as_tenant: None) -> Subject:
    olive = cast.actor(cast.olive)
    contact = contact_create(
        actor=olive,
        data={
            "first_name": FORMULA_NAME,
            "last_name": "Żabińska",
            "email": "zofia@example.org",
            "phone": "+49 30 1234567",
            "notes": "Prefers calls after 10",
            "health_notes": "-penicillin allergy",
        },
    )
    lead_create(actor=olive, data={"last_name": "Żabińska", "email": "zofia@example.org"})  # the same person
    purpose = purpose_create(
        actor=olive,
        data={"key": "newsletter", "legal_basis": "consent", "names": {"en": "Newsletter", "ar": "النشرة الإخبارية"}},
    )
    consent_give(actor=olive, subject=contact.subject, purpose=purpose, proof=Proof(source="staff", ip="203.0.113.7"))
    return Contact.objects.get(pk=contact.pk).subject


def _rows(sheet: Any) -> list[tuple[Any, ...]]:
    return [tuple(cell for cell in row) for row in sheet.iter_rows(values_only=True)]


def test_the_workbook_has_an_overview_a_sheet_per_category_and_the_consents(subject):
    workbook = load_workbook(io.BytesIO(access_report_xlsx(access_report(subject, language="en"))))

    assert workbook.sheetnames == SHEETS
    overview = _rows(workbook["Overview"])
    assert ("Controller", "Acme Praxis", None, None) in overview
    assert ("Your reference", subject.reference, None, None) in overview
    assert ("Newsletter", "Consent", None, None) in overview
    assert ("Records", 2, None, None) in overview
    identity = _rows(workbook["Identity"])
    assert identity[0] == ("Record type", "Record", "Field", "Value")
    assert ("contact", str(Contact.objects.get().pk), "last name", "Żabińska") in identity
    assert any(row[2] == "email" and row[3] == "zofia@example.org" for row in _rows(workbook["Contact details"]))
    consents = _rows(workbook["Consents"])
    assert consents[1][:3] == ("Newsletter", 1, "given")
    assert consents[1][4] == "Staff"
    assert consents[1][8] == "203.0.113.7"


def test_formulas_in_the_workbook_arrive_as_text(subject):
    workbook = load_workbook(io.BytesIO(access_report_xlsx(access_report(subject, language="en"))))

    names = [row[3] for row in _rows(workbook["Identity"])[1:] if row[2] == "first name"]
    assert "'" + FORMULA_NAME in names
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not any(cell.data_type == "f" for cell in cells)
    assert not any(str(cell.value).startswith(("=", "+", "-", "@")) for cell in cells)
    special = _rows(workbook["Special category"])
    assert any(row[3] == "'-penicillin allergy" for row in special)


def test_sheet_titles_follow_the_language_and_fit_excel(subject):
    workbook = load_workbook(io.BytesIO(access_report_xlsx(access_report(subject, language="ar"))))

    assert len(workbook.sheetnames) == len(SHEETS)
    assert all(len(title) <= 31 and not set(title) & set("[]:*?/\\") for title in workbook.sheetnames)
    assert all(sheet.sheet_view.rightToLeft for sheet in workbook)


def test_the_pdf_holds_the_persons_data(subject):
    pdf = access_report_pdf(access_report(subject, language="en"))

    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Żabińska" in text
    assert "zofia@example.org" in text
    assert subject.reference in text


def test_an_arabic_report_is_written_right_to_left(subject):
    report = access_report(subject, language="ar")

    html = access_report_html(report)
    assert '<html lang="ar" dir="rtl">' in html
    assert "النشرة الإخبارية" in html
    assert access_report_pdf(report).startswith(b"%PDF")
    assert '<html lang="en" dir="ltr">' in access_report_html(access_report(subject, language="en"))


def test_rendering_logs_no_personal_data(subject, caplog):
    caplog.set_level(logging.DEBUG)
    report = access_report(subject, language="en")
    report["records"][0]["fields"][0]["value"] = "Żabińska <img src='http://127.0.0.1:9/leak'>"

    access_report_pdf(report)

    assert "Żabińska" not in caplog.text
    assert "zofia" not in caplog.text


def test_rendering_fetches_nothing_from_outside():
    fetch = offline_url_fetcher()

    for url in ("http://127.0.0.1:9/x.png", "https://example.org/font.woff", "file:///etc/hostname"):
        with pytest.raises(ValueError, match="disallowed protocol"):
            fetch(url)
    assert fetch("data:text/plain,ok").read() == b"ok"


def test_the_zip_holds_the_json_the_csvs_and_a_readme(subject):
    data = portability_data(subject)

    archive = zipfile.ZipFile(io.BytesIO(portability_zip(data, access_report(subject, language="en"))))

    assert sorted(archive.namelist()) == ["README.txt", "crm_contact.csv", "crm_lead.csv", "data.json"]
    assert json.loads(archive.read("data.json")) == data
    raw = archive.read("crm_contact.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0]["first_name"] == "'" + FORMULA_NAME
    assert rows[0]["last_name"] == "Żabińska"
    assert rows[0]["email"] == "zofia@example.org"
    assert "health_notes" not in rows[0]
    readme = archive.read("README.txt").decode()
    assert "crm_contact.csv" in readme
    assert "Acme Praxis" in readme
