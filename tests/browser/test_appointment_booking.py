"""Booking from the week calendar with the keyboard alone: Tab into the grid, arrow keys to a
free time, Enter, fill in the form, and the appointment is in the week."""

import zoneinfo
from datetime import timedelta

import pytest
from browser_support import csp_violations
from django.utils import timezone
from playwright.sync_api import expect

from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.scheduling.models import Appointment
from custos.scheduling.services.catalogue import practitioner_add, resource_create, service_create

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")  # the cast's time zone
IN_GRID = "document.activeElement.closest('table.week-grid') !== null"
FOCUSED_TEXT = "document.activeElement.textContent.trim()"


@pytest.fixture
def practice(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        service_create(actor=actor, data={"name": "Check-up", "duration_minutes": 30})
        resource_create(actor=actor, data={"name": "Chair 1", "kind": "chair"})
        practitioner = practitioner_add(actor=actor, data={"user": str(cast.alice.pk)})
        contact_create(actor=actor, data={"first_name": "Ada", "last_name": "Lovelace"})
    return practitioner


@pytest.mark.browser
def test_an_appointment_is_booked_from_the_week_by_keyboard(live_server, cast, practice, page, sign_in, diagnostics):
    today = timezone.localdate(timezone.now(), BERLIN)
    next_monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    sign_in(page, "alice@acme.example")
    page.goto(f"{live_server.url}/appointments/?week={next_monday.isoformat()}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Appointments")
    expect(page.get_by_role("grid")).to_be_visible()  # the script made the table a keyboard grid

    # One Tab stop for the whole grid: from the week controls, Tab lands on its first free time.
    page.get_by_role("link", name="Next week").focus()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate(IN_GRID):
            break
    assert page.evaluate(IN_GRID), "Tab reaches the grid"
    assert page.evaluate(FOCUSED_TEXT).startswith("+Book Monday")
    # Down four half hours (07:00 → 09:00), right one day (Monday → Tuesday).
    for key in ("ArrowDown", "ArrowDown", "ArrowDown", "ArrowDown", "ArrowRight"):
        page.keyboard.press(key)
    label = page.evaluate(FOCUSED_TEXT)
    assert label.startswith("+Book Tuesday") and " at 9" in label, label
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    expect(page.get_by_label("Practitioner")).to_have_value(str(practice.pk))
    tuesday = next_monday + timedelta(days=1)
    expect(page.get_by_label("Starts")).to_have_value(f"{tuesday.isoformat()}T09:00")
    # The contact is typed: the picker posts what was typed and offers the matches.
    picker = page.get_by_label("Patient or customer")
    picker.focus()
    page.keyboard.type("Ada")
    expect(page.locator("#id_contact-options option")).to_have_attribute("value", "Ada Lovelace")
    picker.fill("Ada Lovelace")
    page.get_by_label("Service").select_option(label="Check-up (30 min)")
    page.get_by_label("Room, chair or equipment").select_option(label="Chair 1")
    page.get_by_role("button", name="Book").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_text("The appointment is booked.")).to_be_visible()
    booked = page.locator("a.appointment")
    expect(booked).to_have_count(1)
    expect(booked).to_contain_text("Check-up · Ada Lovelace")
    # In Tuesday's column, in the 9 o'clock row.
    column = booked.evaluate("(a) => a.closest('td').cellIndex")
    row_label = booked.evaluate("(a) => a.closest('tr').querySelector('th').textContent.trim()")
    assert column == 2 and row_label.startswith("9"), (column, row_label)
    with tenant_scope(cast.org_a):
        appointment = Appointment.objects.get()
    assert timezone.localtime(appointment.starts_at, BERLIN).date() == tuesday
    assert page.url.endswith(f"#appointment-{appointment.pk}")
    assert csp_violations(page) == []
    assert diagnostics.console_errors == [] and diagnostics.page_errors == []
