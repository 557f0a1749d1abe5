"""An access report says what each of the person's records is: a patient sees their
appointments and recalls (service, practitioner, time, status), not only the notes on them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from custos.accounts.models import User
from custos.crm.models import Contact
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.people import contact_update
from custos.privacy.services.documents import access_report_html, access_report_pdf, access_report_xlsx
from custos.privacy.services.reports import access_report, portability_data
from custos.scheduling.services.recalls import recall_create
from custos.scheduling.tests.helpers import Practice, make_practice


@pytest.fixture
def practice(cast: Any, as_tenant: None) -> Practice:
    practice = make_practice(cast)
    practice.book()  # the check-up on Monday 7 January 2030 at 9 (Berlin), no notes
    recall_create(
        actor=practice.actor,
        data={
            "contact": str(practice.greta.pk),
            "service": str(practice.cleaning.pk),
            "interval_months": 6,
            "due_on": "2030-07-01",
        },
    )
    return practice


def _of(report: dict[str, Any], record_type: str) -> list[dict[str, Any]]:
    return [r for r in report["records"] if r["type"] == record_type]


def _details(record: dict[str, Any]) -> dict[str, Any]:
    return {d["name"]: (d["label"], d["value"]) for d in record["details"]}


def test_an_appointment_without_notes_and_a_recall_are_in_the_report(practice):
    User.objects.filter(pk=practice.cast.olive.pk).update(full_name="Dr. Olive Weber")
    report = access_report(Contact.objects.get(pk=practice.greta.pk).subject, language="en")

    [appointment] = _of(report, "scheduling.Appointment")
    assert appointment["fields"] == []
    details = _details(appointment)
    assert details["service"] == ("service", "Check-up")
    assert details["practitioner"] == ("practitioner", "Dr. Olive Weber")
    assert details["starts_at"] == ("starts", "2030-01-07T08:00:00+00:00")
    assert details["status"] == ("status", "booked")
    [recall] = _of(report, "scheduling.Recall")
    assert _details(recall) == {
        "service": ("service", "Cleaning"),
        "interval_months": ("every (months)", 6),
        "due_on": ("due", "2030-07-01"),
        "status": ("status", "waiting"),
    }


def test_details_are_written_in_the_persons_language(practice):
    report = access_report(Contact.objects.get(pk=practice.greta.pk).subject, language="de")

    [appointment] = _of(report, "scheduling.Appointment")
    assert appointment["label"] == "Termin"
    assert _details(appointment)["status"] == ("Status", "gebucht")
    assert _details(appointment)["service"] == ("Leistung", "Check-up")


def test_the_workbook_and_the_pdf_show_the_details(practice):
    report = access_report(Contact.objects.get(pk=practice.greta.pk).subject, language="en")

    workbook = load_workbook(io.BytesIO(access_report_xlsx(report)))
    rows = list(workbook["Records"].iter_rows(values_only=True))
    assert rows[0] == ("Record type", "Record", "Detail", "Value")
    assert ("recall", _of(report, "scheduling.Recall")[0]["id"], "service", "Cleaning") in rows
    assert any(row[0] == "appointment" and row[2] == "starts" and "2030" in row[3] for row in rows)
    html = access_report_html(report)
    assert "Check-up" in html and "Cleaning" in html
    assert "2030-01-07T08:00" not in html  # times are written as the language writes them
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(access_report_pdf(report))).pages)
    assert "Check-up" in text


def test_portability_leaves_the_details_out(practice):
    data = portability_data(Contact.objects.get(pk=practice.greta.pk).subject)

    assert "scheduling.Appointment" not in data  # nothing the person provided on it
    assert data["crm.Contact"][0]["email"] == "greta@example.org"


def test_custom_values_are_named_by_their_labels(practice):
    olive = practice.actor
    for key, label, category in (("kdnr", "Customer number", "none"), ("allergies", "Known allergies", "special")):
        custom_field_create(
            actor=olive,
            data={"object_type": "contact", "key": key, "label": label, "kind": "text", "category": category},
        )
    contact_update(
        actor=olive,
        contact=Contact.objects.get(pk=practice.greta.pk),
        data={"custom_fields": {"kdnr": "K-1", "allergies": "Penicillin"}},
    )
    Contact.objects.filter(pk=practice.greta.pk).update(custom_fields={"kdnr": "K-1", "gone": "old value"})

    report = access_report(Contact.objects.get(pk=practice.greta.pk).subject, language="de")

    [contact] = _of(report, "crm.Contact")
    values = {f["name"]: (f["label"], f["category"], f["value"]) for f in contact["fields"]}
    assert values["custom_fields.kdnr"] == ("Customer number", "free_text", "K-1")
    assert values["custom_special.allergies"] == ("Known allergies", "special", "Penicillin")
    # A value whose field was deleted (its removal still to run) is shown, under its key.
    assert values["custom_fields.gone"] == ("weitere Felder (gone)", "free_text", "old value")
    assert "custom_fields" not in values and "custom_special" not in values


def test_a_practitioner_is_named_never_by_their_sign_in_address_and_read_once(practice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for day in range(8, 14):
        practice.book(starts_at=f"2030-01-{day:02d}T09:00:00+01:00")
    User.objects.filter(pk=practice.cast.olive.pk).update(full_name="")
    subject = Contact.objects.get(pk=practice.greta.pk).subject

    with CaptureQueriesContext(connection) as one:
        report = access_report(subject, language="en")
    practice.book(starts_at="2030-01-15T09:00:00+01:00")
    with CaptureQueriesContext(connection) as more:
        access_report(subject, language="en")

    appointments = _of(report, "scheduling.Appointment")
    assert len(appointments) == 7
    assert all("practitioner" not in _details(a) for a in appointments)
    assert "olive@acme.example" not in str(report)
    assert len(more.captured_queries) == len(one.captured_queries)
