"""Appointment pages: the week calendar, booking with conflicts, status, clinical details,
recalls, the catalogue and settings, and the calendar feed."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any

import pytest
from django.utils import timezone

from custos.accounts.models import Role
from custos.accounts.services import member_add
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.scheduling.models import (
    Appointment,
    CalendarFeed,
    Practitioner,
    Recall,
    Resource,
    SchedulingSettings,
    Service,
)
from custos.scheduling.services.appointments import appointment_create
from custos.scheduling.services.catalogue import practitioner_add, resource_create, service_create
from custos.scheduling.services.recalls import recall_create
from custos.testing import PASSWORD, enable_two_factor, web_client
from custos.web.tests.sales import audit_actions, fresh, in_org_a

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")  # the cast's time zone
CLINICAL = "Toothache lower left, penicillin allergy"


@dataclass
class Practice:
    service: Service
    resource: Resource
    practitioner: Practitioner
    contact: Contact
    monday: date  # of next week: every slot of it lies ahead

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.monday + timedelta(days=day), time(hour, minute), tzinfo=BERLIN)

    def form(self, starts_at: datetime, **changes: Any) -> dict[str, Any]:
        return {
            "contact": "Ada Lovelace",  # typed into the picker
            "service": str(self.service.pk),
            "practitioner": str(self.practitioner.pk),
            "resource": str(self.resource.pk),
            "starts_at": starts_at.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": "",
            "notes": "",
            "send_reminder": "on",
        } | changes


@pytest.fixture
def practice(cast) -> Practice:
    service = in_org_a(cast, service_create, data={"name": "Check-up", "duration_minutes": 30, "price": "60.00"})
    resource = in_org_a(cast, resource_create, data={"name": "Chair 1", "kind": "chair"})
    practitioner = in_org_a(cast, practitioner_add, data={"user": str(cast.olive.pk)})
    contact = in_org_a(cast, contact_create, data={"first_name": "Ada", "last_name": "Lovelace"})
    today = timezone.localdate(timezone.now(), BERLIN)
    return Practice(service, resource, practitioner, contact, today - timedelta(days=today.weekday()) + timedelta(7))


def book(cast, practice: Practice, starts_at: datetime, user: Any = None, **data: Any) -> Appointment:
    base = {
        "service": str(practice.service.pk),
        "practitioner": str(practice.practitioner.pk),
        "resource": str(practice.resource.pk),
        "contact": str(practice.contact.pk),
        "starts_at": starts_at.isoformat(),
    }
    return in_org_a(cast, appointment_create, data=base | data, user=user)


def appointments_state(cast) -> list[Any]:
    with tenant_scope(cast.org_a):
        rows = Appointment.objects.order_by("pk").values_list("pk", "status", "starts_at", "ends_at", "notes")
        return [*rows, *Recall.objects.order_by("pk").values_list("pk", "status", "due_on")]


def text(response: Any) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_every_appointment_page_renders_for_an_admin(cast, practice):
    appointment = book(cast, practice, practice.at(0, 9))
    recall = in_org_a(
        cast,
        recall_create,
        data={
            "contact": str(practice.contact.pk),
            "service": str(practice.service.pk),
            "interval_months": 6,
            "due_on": "2031-01-01",
        },
    )
    client = web_client(cast.alice)
    for path in (
        "/appointments/",
        f"/appointments/?calendar=practitioner:{practice.practitioner.pk}&week={practice.monday}",
        f"/appointments/?calendar=resource:{practice.resource.pk}&week=2030-01-09",
        "/appointments/?calendar=nonsense&week=nonsense",
        "/appointments/new/",
        f"/appointments/new/?practitioner={practice.practitioner.pk}&starts_at=2030-01-07T09:30",
        f"/appointments/new/?recall={recall.pk}",
        f"/appointments/{appointment.pk}/",
        f"/appointments/{appointment.pk}/?reveal=special",
        f"/appointments/{appointment.pk}/edit/",
        "/appointments/recalls/",
        "/appointments/recalls/?status=waiting",
        "/appointments/recalls/new/",
        "/account/calendar-feed/",
        "/settings/appointments/",
        "/settings/appointments/services/",
        "/settings/appointments/services/new/",
        f"/settings/appointments/services/{practice.service.pk}/",
        "/settings/appointments/resources/",
        "/settings/appointments/resources/new/",
        f"/settings/appointments/resources/{practice.resource.pk}/",
        "/settings/appointments/practitioners/",
    ):
        assert client.get(path).status_code == 200, path


def test_the_week_shows_appointments_and_offers_the_free_times(cast, practice):
    appointment = book(cast, practice, practice.at(1, 10))
    client = web_client(cast.alice)
    response = client.get(f"/appointments/?calendar=practitioner:{practice.practitioner.pk}&week={practice.monday}")
    body = response.content.decode()
    assert f'id="appointment-{appointment.pk}"' in body
    assert "Check-up · Ada Lovelace" in text(response)
    tuesday = (practice.monday + timedelta(days=1)).strftime("%Y-%m-%d")
    # The taken slot is not offered; the one after it is, as a labelled link with the time filled in.
    assert f"starts_at={tuesday}T10:00" not in body
    assert f"?practitioner={practice.practitioner.pk}&amp;starts_at={tuesday}T10:30" in body
    assert re.search(r'<table class="week-grid"[^>]*aria-labelledby="week-heading"', body)
    assert body.count('<th scope="col"') == 8 and '<th scope="row">' in body
    following = client.get(
        f"/appointments/?calendar=practitioner:{practice.practitioner.pk}&week={practice.monday + timedelta(7)}"
    )
    assert f'id="appointment-{appointment.pk}"' not in following.content.decode()


def test_an_appointment_is_booked_through_the_form_and_shows_in_the_week(cast, practice):
    client = web_client(cast.alice)
    starts_at = practice.at(2, 9, 30)
    query = f"?practitioner={practice.practitioner.pk}&starts_at={starts_at:%Y-%m-%dT%H:%M}"
    form = client.get("/appointments/new/" + query).content.decode()
    assert f'<option value="{practice.practitioner.pk}" selected>' in form
    assert f'value="{starts_at:%Y-%m-%dT%H:%M}"' in form
    response = client.post("/appointments/new/" + query, practice.form(starts_at, notes="Bring the X-ray"))
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        appointment = Appointment.objects.get()
    assert (appointment.starts_at, appointment.ends_at) == (starts_at, starts_at + timedelta(minutes=30))
    assert (appointment.contact_id, appointment.resource_id, appointment.notes) == (
        practice.contact.pk,
        practice.resource.pk,
        "Bring the X-ray",
    )
    assert (appointment.status, appointment.booked_by_id) == ("booked", cast.alice.pk)
    assert audit_actions(cast, appointment.pk) == ["appointment.create"]
    assert response["Location"].endswith(f"#appointment-{appointment.pk}")
    week = client.get(response["Location"])
    assert "The appointment is booked." in text(week)
    assert "Check-up · Ada Lovelace" in text(week)


def test_a_conflict_is_shown_on_the_field_and_saves_nothing(cast, practice):
    book(cast, practice, practice.at(0, 9))
    before = appointments_state(cast)
    client = web_client(cast.alice)
    in_org_a(cast, contact_create, data={"last_name": "Hopper"})
    response = client.post("/appointments/new/", practice.form(practice.at(0, 9, 15), contact="Hopper"))
    assert response.status_code == 200
    body = response.content.decode()
    practitioner_group = body[body.index('for="id_practitioner"') : body.index('for="id_resource"')]
    resource_group = body[body.index('for="id_resource"') : body.index('for="id_starts_at"')]
    assert "The practitioner already has an appointment at that time" in unescape(practitioner_group)
    assert "The resource is already booked at that time" in unescape(resource_group)
    assert 'aria-invalid="true"' in practitioner_group
    assert appointments_state(cast) == before
    # A cancelled appointment frees its time.
    client.post(f"/appointments/{Appointment.objects.unscoped().get().pk}/status/", {"status": "cancelled"})
    response = client.post("/appointments/new/", practice.form(practice.at(0, 9, 15), contact="Hopper"))
    assert response.status_code == 302


def test_the_status_buttons_confirm_and_cancel(cast, practice):
    appointment = book(cast, practice, practice.at(0, 11))
    client = web_client(cast.alice)
    page = client.get(f"/appointments/{appointment.pk}/").content.decode()
    assert 'name="status" value="confirmed"' in page and 'name="status" value="cancelled"' in page
    assert 'value="done"' not in page  # not started yet
    response = client.post(f"/appointments/{appointment.pk}/status/", {"status": "confirmed"})
    assert response["Location"] == f"/appointments/{appointment.pk}/"
    assert fresh(cast, appointment).status == "confirmed"
    assert "The appointment is confirmed." in text(client.get(response["Location"]))
    client.post(f"/appointments/{appointment.pk}/status/", {"status": "cancelled"})
    assert fresh(cast, appointment).status == "cancelled"
    assert audit_actions(cast, appointment.pk) == ["appointment.create", "appointment.confirm", "appointment.cancel"]
    # A final status stays; the page says why.
    response = client.post(f"/appointments/{appointment.pk}/status/", {"status": "confirmed"}, follow=True)
    assert "A cancelled appointment cannot become confirmed." in text(response)
    assert fresh(cast, appointment).status == "cancelled"
    assert 'name="status"' not in client.get(f"/appointments/{appointment.pk}/").content.decode()


def test_a_started_appointment_can_be_marked_done(cast, practice):
    now = timezone.localtime(timezone.now(), BERLIN).replace(second=0, microsecond=0)
    appointment = book(cast, practice, now - timedelta(minutes=10))
    client = web_client(cast.alice)
    client.post(f"/appointments/{appointment.pk}/status/", {"status": "confirmed"})
    assert 'value="done"' in client.get(f"/appointments/{appointment.pk}/").content.decode()
    client.post(f"/appointments/{appointment.pk}/status/", {"status": "done"})
    assert fresh(cast, appointment).status == "done"


def test_without_the_rights_nothing_changes(cast, practice):
    appointment = book(cast, practice, practice.at(0, 9))
    before = appointments_state(cast)
    catalogue = lambda: in_org_a(cast, lambda actor: sorted(Service.objects.values_list("name", flat=True)))  # noqa: E731
    bob = web_client(cast.bob)  # read-only: sees appointments, changes nothing
    assert bob.get("/appointments/").status_code == 200
    assert bob.get(f"/appointments/{appointment.pk}/").status_code == 200
    assert 'name="status"' not in bob.get(f"/appointments/{appointment.pk}/").content.decode()
    assert bob.get("/appointments/new/").status_code == 403
    assert bob.post("/appointments/new/", practice.form(practice.at(0, 10))).status_code == 403
    assert bob.post(f"/appointments/{appointment.pk}/status/", {"status": "cancelled"}).status_code == 403
    assert bob.post(f"/appointments/{appointment.pk}/edit/", practice.form(practice.at(0, 12))).status_code == 403
    assert (
        bob.post("/settings/appointments/services/new/", {"name": "Bleaching", "duration_minutes": "60"}).status_code
        == 403
    )
    assert bob.post("/settings/appointments/", {"reminder_hours": "2"}).status_code == 403
    assert (
        bob.post(
            f"/settings/appointments/practitioners/{practice.practitioner.pk}/active/", {"is_active": "0"}
        ).status_code
        == 403
    )
    mallory = web_client(cast.mallory)  # another organisation
    assert mallory.get(f"/appointments/{appointment.pk}/").status_code == 404
    assert mallory.post(f"/appointments/{appointment.pk}/status/", {"status": "cancelled"}).status_code == 404
    assert appointments_state(cast) == before
    assert catalogue() == ["Check-up"]
    assert fresh(cast, practice.practitioner).is_active
    assert audit_actions(cast, appointment.pk) == ["appointment.create"]


def test_a_role_without_appointments_neither_sees_the_entry_nor_the_pages(cast, practice):
    with tenant_scope(cast.org_a):
        membership = member_add(
            actor=cast.actor(cast.olive), email="ann@acme.example", role=Role.objects.get(key="accountant")
        )
    membership.user.set_password(PASSWORD)
    membership.user.save()
    enable_two_factor(membership.user)  # an accountant exports invoices
    client = web_client(membership.user)
    assert 'href="/appointments/"' not in client.get("/").content.decode()
    assert 'href="/appointments/"' in web_client(cast.bob).get("/").content.decode()
    for path in (
        "/appointments/",
        "/appointments/recalls/",
        "/settings/appointments/services/",
        "/account/calendar-feed/",
    ):
        assert client.get(path).status_code == 403, path
    assert client.post("/account/calendar-feed/").status_code == 403
    assert not CalendarFeed.objects.exists()


def test_clinical_details_are_shown_only_when_asked_for_and_to_allowed_roles(cast, practice):
    client = web_client(cast.alice)
    response = client.post("/appointments/new/", practice.form(practice.at(3, 14), clinical_details=CLINICAL))
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        appointment = Appointment.objects.get()
    page = client.get(f"/appointments/{appointment.pk}/").content.decode()
    assert CLINICAL not in page and "?reveal=special" in page
    assert "appointment.read_special" not in audit_actions(cast, appointment.pk)
    assert CLINICAL in client.get(f"/appointments/{appointment.pk}/?reveal=special").content.decode()
    assert audit_actions(cast, appointment.pk)[-1] == "appointment.read_special"
    sam = web_client(cast.sam)  # sales: may book, may not see or write health data
    read = audit_actions(cast)
    for path in (f"/appointments/{appointment.pk}/?reveal=special", "/appointments/new/"):
        body = sam.get(path).content.decode()
        assert CLINICAL not in body and "clinical_details" not in body and "special-heading" not in body, path
    assert audit_actions(cast) == read


def test_a_contacts_page_lists_their_appointments_and_books_for_them(cast, practice):
    appointment = book(cast, practice, practice.at(4, 8))
    client = web_client(cast.alice)
    page = client.get(f"/contacts/{practice.contact.pk}/").content.decode()
    assert f'href="/appointments/{appointment.pk}/"' in page
    assert f'href="/appointments/new/?contact={practice.contact.pk}"' in page
    form = client.get(f"/appointments/new/?contact={practice.contact.pk}").content.decode()
    assert 'name="contact" value="Ada Lovelace"' in form
    accountant_view = web_client(cast.bob).get(f"/contacts/{practice.contact.pk}/").content.decode()
    assert "/appointments/new/" not in accountant_view  # read-only may look, not book


def test_a_due_recall_is_booked_from_the_recalls_list(cast, practice):
    recall = in_org_a(
        cast,
        recall_create,
        data={
            "contact": str(practice.contact.pk),
            "service": str(practice.service.pk),
            "interval_months": 6,
            "due_on": "2020-01-01",
        },
    )
    with tenant_scope(cast.org_a):
        Recall.objects.filter(pk=recall.pk).update(status=Recall.Status.DUE)
    client = web_client(cast.alice)
    listing = client.get("/appointments/recalls/").content.decode()
    assert f'href="/appointments/new/?recall={recall.pk}"' in listing
    form = client.get(f"/appointments/new/?recall={recall.pk}").content.decode()
    assert 'name="contact" value="Ada Lovelace"' in form
    assert f'name="recall" value="{recall.pk}"' in form
    data = practice.form(practice.at(1, 15), recall=str(recall.pk))
    assert client.post(f"/appointments/new/?recall={recall.pk}", data).status_code == 302
    assert fresh(cast, recall).status == "booked"
    assert "Ada Lovelace" in text(client.get("/appointments/recalls/?status=booked"))
    assert "Ada Lovelace" not in text(client.get("/appointments/recalls/"))


def test_a_recall_is_started_and_stopped(cast, practice):
    client = web_client(cast.alice)
    data = {
        "contact": "Ada Lovelace",
        "service": str(practice.service.pk),
        "interval_months": "6",
        "due_on": "2031-05-01",
    }
    assert client.post("/appointments/recalls/new/", data).status_code == 302
    with tenant_scope(cast.org_a):
        recall = Recall.objects.get()
    assert (recall.interval_months, str(recall.due_on), recall.status) == (6, "2031-05-01", "waiting")
    response = client.post("/appointments/recalls/new/", data)
    assert "This contact has a recall for this service already." in text(response)
    client.post(f"/appointments/recalls/{recall.pk}/status/", {"status": "stopped"})
    assert fresh(cast, recall).status == "stopped"


def test_an_overdue_recall_entered_or_resumed_shows_in_the_due_list(cast, practice):
    client = web_client(cast.alice)
    data = {
        "contact": "Ada Lovelace",
        "service": str(practice.service.pk),
        "interval_months": "6",
        "due_on": "2020-05-01",
    }

    created = client.post("/appointments/recalls/new/", data)
    with tenant_scope(cast.org_a):
        recall = Recall.objects.get()
    client.post(f"/appointments/recalls/{recall.pk}/status/", {"status": "stopped"})
    resumed = client.post(f"/appointments/recalls/{recall.pk}/status/", {"status": "waiting"})

    assert (created.url, resumed.url) == ("/appointments/recalls/?status=due", "/appointments/recalls/?status=due")
    assert fresh(cast, recall).status == "due"
    assert "Ada Lovelace" in text(client.get("/appointments/recalls/?status=due"))


def test_services_resources_practitioners_and_settings_are_set_up_through_the_pages(cast, practice):
    client = web_client(cast.alice)
    response = client.post(
        "/settings/appointments/services/new/",
        {
            "name": "Cleaning",
            "duration_minutes": "45",
            "price": "89.50",
            "currency": "EUR",
            "recall_months": "6",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        cleaning = Service.objects.get(name="Cleaning")
    assert (cleaning.duration_minutes, str(cleaning.price), cleaning.recall_months) == (45, "89.50", 6)
    response = client.post("/settings/appointments/services/new/", {"name": "check-up", "duration_minutes": "30"})
    assert "A service has this name already." in text(response)
    client.post(
        f"/settings/appointments/services/{cleaning.pk}/",
        {"name": "Cleaning", "duration_minutes": "60", "currency": "EUR"},
    )
    cleaning = fresh(cast, cleaning)
    assert (cleaning.duration_minutes, cleaning.is_active) == (60, False)
    assert (
        client.post(
            "/settings/appointments/resources/new/", {"name": "Room 2", "kind": "room", "is_active": "on"}
        ).status_code
        == 302
    )
    assert client.post("/settings/appointments/practitioners/", {"user": str(cast.alice.pk)}).status_code == 302
    assert in_org_a(cast, lambda actor: Practitioner.objects.filter(user=cast.alice).exists())
    client.post(f"/settings/appointments/practitioners/{practice.practitioner.pk}/active/", {"is_active": "0"})
    assert not fresh(cast, practice.practitioner).is_active
    settings = {"reminder_hours": "48", "language": "de", "time_zone": "Europe/Vienna", "feed_detail": "busy"}
    assert client.post("/settings/appointments/", settings).status_code == 302
    with tenant_scope(cast.org_a):
        saved = SchedulingSettings.objects.get()
    assert (saved.reminder_hours, saved.language, saved.time_zone, saved.feed_detail) == (
        48,
        "de",
        "Europe/Vienna",
        "busy",
    )
    response = client.post("/settings/appointments/", settings | {"reminder_hours": "0"})
    assert response.status_code == 200 and 'aria-invalid="true"' in response.content.decode()


def test_the_calendar_feed_link_is_shown_once_works_without_a_session_and_is_revoked(cast, practice):
    book(cast, practice, practice.at(0, 9), notes="Private note")
    client = web_client(cast.olive)
    assert "You have no calendar link." in text(client.get("/account/calendar-feed/"))
    response = client.post("/account/calendar-feed/")
    match = re.search(r'id="feed-url">(http://testserver/calendar/(cal_[\w-]+)\.ics)<', response.content.decode())
    assert match, "the link is shown once, copyable"
    assert response["Cache-Control"] == "no-store, private" or "no-store" in response["Cache-Control"]
    again = client.get("/account/calendar-feed/").content.decode()
    assert match.group(2) not in again and "Stop the link" in again
    from django.test import Client

    calendar = Client().get(f"/calendar/{match.group(2)}.ics")
    assert calendar.status_code == 200 and calendar["Content-Type"].startswith("text/calendar")
    body = calendar.content.decode()
    assert "SUMMARY:Check-up" in body and "Lovelace" not in body and "Private note" not in body
    assert client.post("/account/calendar-feed/revoke/").status_code == 302
    assert Client().get(f"/calendar/{match.group(2)}.ics").status_code == 404
    assert Client().get("/calendar/cal_nonsense.ics").status_code == 404
    assert "You have no calendar link." in text(client.get("/account/calendar-feed/"))
    with tenant_scope(cast.org_a):
        feed_audit = [a for a in audit_actions(cast) if a.startswith("calendar_feed.")]
    assert feed_audit == ["calendar_feed.create", "calendar_feed.use", "calendar_feed.revoke"]


def test_an_appointment_is_moved_through_the_edit_form_unless_the_time_is_taken(cast, practice):
    taken = book(cast, practice, practice.at(0, 9))
    appointment = book(cast, practice, practice.at(0, 11))
    client = web_client(cast.alice)
    form = practice.form(practice.at(0, 9, 15), ends_at="", notes="Moved")
    response = client.post(f"/appointments/{appointment.pk}/edit/", form)
    assert response.status_code == 200
    assert "The practitioner already has an appointment at that time" in text(response)
    assert fresh(cast, appointment).starts_at == practice.at(0, 11)
    form = practice.form(practice.at(0, 14), ends_at=practice.at(0, 15).strftime("%Y-%m-%dT%H:%M"), notes="Moved")
    assert client.post(f"/appointments/{appointment.pk}/edit/", form).status_code == 302
    moved = fresh(cast, appointment)
    assert (moved.starts_at, moved.ends_at, moved.notes) == (practice.at(0, 14), practice.at(0, 15), "Moved")
    assert fresh(cast, taken).starts_at == practice.at(0, 9)
    assert audit_actions(cast, appointment.pk) == ["appointment.create", "appointment.update"]


def test_an_appointment_in_the_hour_the_clocks_go_back_is_edited_without_moving_it(cast, practice):
    """Its 02:30 happens twice: the form shows it once, and sent back so it is no change."""
    october_31 = date(timezone.now().year + 1, 10, 31)
    sunday = october_31 - timedelta(days=(october_31.weekday() + 1) % 7)  # the last Sunday of October
    second_time = datetime.combine(sunday, time(2, 30), tzinfo=BERLIN).replace(fold=1).astimezone(UTC)
    appointment = book(cast, practice, second_time)
    client = web_client(cast.alice)
    form = practice.form(second_time.astimezone(BERLIN), ends_at=f"{sunday}T03:00", notes="Night shift")

    response = client.post(f"/appointments/{appointment.pk}/edit/", form)

    assert response.status_code == 302
    saved = fresh(cast, appointment)
    assert (saved.starts_at, saved.ends_at, saved.notes) == (
        second_time,
        second_time + timedelta(minutes=30),
        "Night shift",
    )


def test_a_role_that_may_not_see_an_appointments_service_or_details_is_not_shown_them(cast, practice):
    from custos.api.tests.helpers import hide

    appointment = book(cast, practice, practice.at(1, 9), clinical_details=CLINICAL)
    hide(cast, "admin", "appointment.service", "appointment.resource", "appointment.clinical_details")
    client = web_client(cast.alice)

    detail = text(client.get(f"/appointments/{appointment.pk}/"))
    revealed = client.get(f"/appointments/{appointment.pk}/?reveal=special").content.decode()
    from custos.web.views.scheduling import calendar_url

    week = client.get(calendar_url(practitioner=practice.practitioner, week=practice.monday))
    contact = client.get(f"/contacts/{practice.contact.pk}/").content.decode()

    assert "Check-up" not in detail and "Chair 1" not in detail and "Reason and clinical details" not in detail
    assert "Ada Lovelace" in detail  # what the role may see stays
    assert CLINICAL not in revealed
    assert week.status_code == 200 and "Check-up" not in week.content.decode()
    assert f"appointment-{appointment.pk}" in week.content.decode()
    assert f"/appointments/{appointment.pk}/" in contact and "Check-up" not in contact
    assert not [a for a in audit_actions(cast) if "special" in a]  # nothing was read, nor audited as read
