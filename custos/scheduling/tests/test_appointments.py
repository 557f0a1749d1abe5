"""Booking: conflicts for practitioners and resources, status, clinical details, the week."""

import json
from datetime import date, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.scheduling.models import Appointment
from custos.scheduling.selectors.appointments import access_appointment, appointment_list
from custos.scheduling.selectors.calendar import monday_of, week_calendar
from custos.scheduling.services.appointments import (
    appointment_delete,
    appointment_read_special,
    appointment_set_status,
    appointment_update,
)
from custos.scheduling.services.catalogue import practitioner_add, service_create
from custos.scheduling.tests.helpers import MONDAY_9, audit_actions, last_audit, make_practice, utc
from custos.testing import api_client, web_client
from custos.web.pickers import contact_label

CLINICAL = "Pain lower left molar, penicillin allergy"
AFTER_MONDAY = utc("2030-01-07T12:00:00+01:00")


@pytest.fixture
def practice(cast, as_tenant):
    return make_practice(cast)


def _errors(excinfo):
    return [e.as_dict() for e in excinfo.value.errors]


def _refused(practice, **data):
    before = Appointment.objects.count()
    with pytest.raises(ValidationFailed) as excinfo:
        practice.book(**data)
    assert Appointment.objects.count() == before
    return _errors(excinfo)


# Booking ----------------------------------------------------------------------------------


def test_an_appointment_lasts_as_long_as_its_service_unless_an_end_is_given(practice):
    check_up = practice.book()
    cleaning = practice.book(
        service=str(practice.cleaning.pk), starts_at="2030-01-07T10:00:00+01:00", ends_at="2030-01-07T11:30:00+01:00"
    )

    stored = Appointment.objects.get(pk=check_up.pk)
    assert (stored.starts_at, stored.ends_at) == (utc(MONDAY_9), utc("2030-01-07T09:30:00+01:00"))
    assert (stored.status, stored.send_reminder, stored.booked_by_id) == ("booked", True, practice.cast.olive.pk)
    assert Appointment.objects.get(pk=cleaning.pk).ends_at == utc("2030-01-07T11:30:00+01:00")
    entry = last_audit(practice.cast.org_a)
    assert (entry.action, entry.object_id) == ("appointment.create", str(cleaning.pk))
    assert entry.fields == ["contact", "ends_at", "practitioner", "send_reminder", "service", "starts_at"]


def test_bad_bookings_name_each_field_and_store_nothing(practice):
    inactive = practitioner_add(actor=practice.actor, data={"user": str(practice.cast.sam.pk), "is_active": False})
    with tenant_scope(practice.cast.org_b):
        stranger = contact_create(actor=practice.cast.actor(practice.cast.mallory), data={"last_name": "Obcy"})

    assert _refused(practice, service="", practitioner="nope", contact="", starts_at="", colour="red") == [
        {"field": "colour", "message": "Unknown field."},
        {"field": "practitioner", "message": "Choose an active practitioner."},
        {"field": "service", "message": "This field is required."},
        {"field": "contact", "message": "This field is required."},
        {"field": "starts_at", "message": "This field is required."},
    ]
    assert _refused(practice, practitioner=str(inactive.pk), contact=str(stranger.pk), starts_at="Monday") == [
        {"field": "practitioner", "message": "Choose an active practitioner."},
        {"field": "contact", "message": "Choose an existing contact."},
        {"field": "starts_at", "message": "Enter a date and time such as 2026-11-22T14:30:00+01:00."},
    ]
    assert _refused(practice, ends_at="2030-01-07T08:00:00+01:00") == [
        {"field": "ends_at", "message": "End the appointment after it starts."}
    ]
    assert _refused(practice, ends_at="2030-01-08T09:30:00+01:00") == [
        {"field": "ends_at", "message": "An appointment lasts at most 24 hours."}
    ]
    assert _refused(practice, send_reminder="yes") == [{"field": "send_reminder", "message": "Enter true or false."}]


def test_a_date_without_a_time_is_no_start(practice):
    """Read as its midnight, it would book a time nobody gave."""
    booking = {
        "service": str(practice.check_up.pk),
        "practitioner": str(practice.dr_olive.pk),
        "contact": str(practice.greta.pk),
        "starts_at": "2030-01-07",
    }

    response = api_client(practice.cast, practice.cast.olive).post(
        "/api/v1/appointments", json.dumps(booking), content_type="application/json"
    )

    assert response.status_code == 422
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [
        ("starts_at", "Enter a date and time such as 2026-11-22T14:30:00+01:00.")
    ]
    assert not Appointment.objects.exists()


# Conflicts --------------------------------------------------------------------------------


def test_a_practitioner_cannot_be_booked_twice_at_the_same_time(practice):
    practice.book()

    errors = _refused(
        practice, contact=str(practice.jan.pk), starts_at="2030-01-07T09:15:00+01:00", resource=str(practice.room.pk)
    )

    assert errors == [
        {
            "field": "practitioner",
            "message": "The practitioner already has an appointment at that time (01/07/2030 9 a.m. to 9:30 a.m.).",
        }
    ]


def test_a_resource_cannot_be_booked_twice_at_the_same_time(practice):
    practice.book(resource=str(practice.chair.pk))

    errors = _refused(
        practice,
        practitioner=str(practice.dr_alice.pk),
        resource=str(practice.chair.pk),
        starts_at="2030-01-07T08:45:00+01:00",
    )

    assert errors == [
        {
            "field": "resource",
            "message": "The resource is already booked at that time (01/07/2030 9 a.m. to 9:30 a.m.).",
        }
    ]


def test_both_clashes_are_named_at_once(practice):
    practice.book(resource=str(practice.chair.pk))

    errors = _refused(practice, resource=str(practice.chair.pk), starts_at="2030-01-07T09:29:00+01:00")

    assert [e["field"] for e in errors] == ["practitioner", "resource"]


def test_back_to_back_appointments_are_allowed(practice):
    practice.book(resource=str(practice.chair.pk))

    after = practice.book(resource=str(practice.chair.pk), starts_at="2030-01-07T09:30:00+01:00")
    before = practice.book(resource=str(practice.chair.pk), starts_at="2030-01-07T08:30:00+01:00", ends_at=MONDAY_9)

    assert Appointment.objects.count() == 3
    assert (after.starts_at, before.ends_at) == (utc("2030-01-07T09:30:00+01:00"), utc(MONDAY_9))


def test_other_practitioners_and_resources_are_free_at_the_same_time(practice):
    practice.book(resource=str(practice.chair.pk))

    practice.book(practitioner=str(practice.dr_alice.pk), resource=str(practice.room.pk), contact=str(practice.jan.pk))

    assert Appointment.objects.count() == 2


def test_cancelled_and_missed_appointments_free_their_slot_but_done_ones_do_not(practice):
    cancelled = practice.book(resource=str(practice.chair.pk))
    appointment_set_status(actor=practice.actor, appointment=cancelled, status="cancelled")
    missed = practice.book(resource=str(practice.chair.pk))
    appointment_set_status(actor=practice.actor, appointment=missed, status="no_show", now=AFTER_MONDAY)
    done = practice.book(resource=str(practice.chair.pk))
    appointment_set_status(actor=practice.actor, appointment=done, status="done", now=AFTER_MONDAY)

    assert [e["field"] for e in _refused(practice, resource=str(practice.chair.pk))] == ["practitioner", "resource"]
    assert Appointment.objects.count() == 3


def test_moving_into_another_appointment_is_refused_and_changes_nothing(practice):
    first = practice.book()
    second = practice.book(starts_at="2030-01-07T10:00:00+01:00")

    with pytest.raises(ValidationFailed) as excinfo:
        appointment_update(actor=practice.actor, appointment=second, data={"starts_at": "2030-01-07T09:20:00+01:00"})

    assert [e["field"] for e in _errors(excinfo)] == ["practitioner"]
    assert Appointment.objects.get(pk=second.pk).starts_at == utc("2030-01-07T10:00:00+01:00")
    # Longer in its own slot, or moved to a free time, is fine; the length moves with the start.
    appointment_update(actor=practice.actor, appointment=first, data={"ends_at": "2030-01-07T09:45:00+01:00"})
    appointment_update(actor=practice.actor, appointment=second, data={"starts_at": "2030-01-07T11:00:00+01:00"})
    stored = Appointment.objects.get(pk=second.pk)
    assert (stored.starts_at, stored.ends_at) == (utc("2030-01-07T11:00:00+01:00"), utc("2030-01-07T11:30:00+01:00"))
    assert last_audit(practice.cast.org_a).fields == ["ends_at", "starts_at"]


def test_an_update_without_an_end_keeps_the_services_length(practice):
    appointment = practice.book()

    appointment_update(
        actor=practice.actor,
        appointment=appointment,
        data={"starts_at": "2030-01-07T14:00:00+01:00", "ends_at": None},
    )

    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.starts_at, stored.ends_at) == (utc("2030-01-07T14:00:00+01:00"), utc("2030-01-07T14:30:00+01:00"))


def test_an_appointment_booked_from_a_recall_keeps_its_contact_and_service(practice):
    from custos.scheduling.services.recalls import recall_create

    recall = recall_create(
        actor=practice.actor,
        data={
            "contact": str(practice.greta.pk),
            "service": str(practice.check_up.pk),
            "interval_months": 6,
            "due_on": "2030-01-01",
        },
    )
    appointment = practice.book(recall=str(recall.pk))

    with pytest.raises(ValidationFailed) as excinfo:
        appointment_update(actor=practice.actor, appointment=appointment, data={"contact": str(practice.jan.pk)})

    assert _errors(excinfo) == [
        {
            "field": "contact",
            "message": "It was booked from a recall: book a new appointment for another person or service.",
        }
    ]
    assert Appointment.objects.get(pk=appointment.pk).contact_id == practice.greta.pk


# Status -----------------------------------------------------------------------------------


def test_the_status_moves_from_booked_to_confirmed_to_done(practice):
    appointment = practice.book()

    appointment_set_status(actor=practice.actor, appointment=appointment, status="confirmed")
    appointment_set_status(actor=practice.actor, appointment=appointment, status="done", now=AFTER_MONDAY)

    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.status, stored.status_changed_at) == ("done", AFTER_MONDAY)
    assert audit_actions(practice.cast.org_a, "appointment.") == [
        "appointment.create",
        "appointment.confirm",
        "appointment.complete",
    ]
    with tenant_scope(practice.cast.org_a):
        entry = AuditEntry.objects.get(action="appointment.complete")
    assert (entry.object_id, entry.extra, entry.fields) == (
        str(appointment.pk),
        {"from": "confirmed", "to": "done"},
        ["status"],
    )


def test_an_unconfirmed_appointment_can_still_be_done_or_missed(practice):
    came = practice.book()
    stayed_away = practice.book(practitioner=str(practice.dr_alice.pk))

    appointment_set_status(actor=practice.actor, appointment=came, status="done", now=AFTER_MONDAY)
    appointment_set_status(actor=practice.actor, appointment=stayed_away, status="no_show", now=AFTER_MONDAY)

    assert sorted(Appointment.objects.values_list("status", flat=True)) == ["done", "no_show"]


@pytest.mark.parametrize(
    ("first", "then", "message"),
    [
        ("done", "cancelled", "A done appointment cannot become cancelled."),
        ("done", "confirmed", "A done appointment cannot become confirmed."),
        ("cancelled", "confirmed", "A cancelled appointment cannot become confirmed."),
        ("no_show", "done", "A no-show appointment cannot become done."),
        ("confirmed", "confirmed", "A confirmed appointment cannot become confirmed."),
    ],
)
def test_closed_appointments_stay_closed(practice, first, then, message):
    appointment = practice.book()
    appointment_set_status(actor=practice.actor, appointment=appointment, status=first, now=AFTER_MONDAY)
    entries = len(audit_actions(practice.cast.org_a))

    with pytest.raises(Conflict) as excinfo:
        appointment_set_status(actor=practice.actor, appointment=appointment, status=then, now=AFTER_MONDAY)

    assert excinfo.value.detail == message
    assert Appointment.objects.get(pk=appointment.pk).status == first
    assert len(audit_actions(practice.cast.org_a)) == entries


def test_an_appointment_is_done_or_missed_only_once_it_has_started(practice):
    appointment = practice.book()

    for status in ("done", "no_show"):
        with pytest.raises(ValidationFailed) as excinfo:
            appointment_set_status(
                actor=practice.actor, appointment=appointment, status=status, now=utc("2030-01-07T08:59:00+01:00")
            )
        assert _errors(excinfo) == [
            {"field": "status", "message": "An appointment that has not started yet cannot be done or missed."}
        ]
    with pytest.raises(ValidationFailed) as excinfo:
        appointment_set_status(actor=practice.actor, appointment=appointment, status="lost")
    assert _errors(excinfo) == [
        {"field": "status", "message": "Choose one of: booked, confirmed, done, no_show, cancelled."}
    ]
    assert Appointment.objects.get(pk=appointment.pk).status == "booked"


def test_a_closed_appointment_cannot_be_moved_but_its_notes_can_change(practice):
    appointment = practice.book()
    appointment_set_status(actor=practice.actor, appointment=appointment, status="done", now=AFTER_MONDAY)

    with pytest.raises(ValidationFailed) as excinfo:
        appointment_update(
            actor=practice.actor, appointment=appointment, data={"starts_at": "2030-01-08T09:00:00+01:00"}
        )
    appointment_update(
        actor=practice.actor, appointment=appointment, data={"notes": "Came on time", "starts_at": MONDAY_9}
    )

    assert _errors(excinfo) == [{"field": "status", "message": "A closed appointment cannot be moved."}]
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.starts_at, stored.notes) == (utc(MONDAY_9), "Came on time")


def test_a_read_only_member_cannot_change_the_status(practice):
    appointment = practice.book()

    with pytest.raises(PermissionDenied):
        appointment_set_status(
            actor=practice.cast.actor(practice.cast.bob), appointment=appointment, status="cancelled"
        )

    assert Appointment.objects.get(pk=appointment.pk).status == "booked"


# Clinical details (special category) --------------------------------------------------------


def _raw_clinical_details(appointment):
    pk = Appointment._meta.pk.get_db_prep_value(appointment.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clinical_details FROM scheduling_appointment WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_clinical_details_are_ciphertext_in_the_database(practice):
    appointment = practice.book(clinical_details=CLINICAL, notes="Prefers mornings")

    raw = _raw_clinical_details(appointment)

    assert raw.startswith("v1.")
    assert "penicillin" not in raw.lower()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM scheduling_appointment")
        stored = "\n".join(repr(value) for row in cursor.fetchall() for value in row)
    assert "Prefers mornings" in stored  # the check sees plain columns
    assert "penicillin" not in stored.lower()
    assert Appointment.objects.get(pk=appointment.pk).clinical_details == CLINICAL


def test_clinical_details_need_their_own_right_to_write_and_to_read(practice):
    cast = practice.cast
    sam = cast.actor(cast.sam)
    dr_sam = practitioner_add(actor=practice.actor, data={"user": str(cast.sam.pk)})
    sams_patient = contact_create(actor=sam, data={"last_name": "Sommer"})
    own = practice.book(actor=sam, practitioner=str(dr_sam.pk), contact=str(sams_patient.pk))

    with pytest.raises(PermissionDenied):
        practice.book(actor=sam, starts_at="2030-01-08T09:00:00+01:00", clinical_details=CLINICAL)
    with pytest.raises(PermissionDenied):
        appointment_update(actor=sam, appointment=own, data={"clinical_details": CLINICAL})
    with pytest.raises(PermissionDenied):
        appointment_read_special(actor=sam, appointment=own)

    assert Appointment.objects.get(pk=own.pk).clinical_details == ""
    assert "appointment.read_special" not in audit_actions(cast.org_a)


def test_reading_clinical_details_is_audited_and_lists_never_decrypt_them(practice):
    appointment = practice.book(clinical_details=CLINICAL)
    cast = practice.cast

    listed = appointment_list(practice.actor).get(pk=appointment.pk)
    revealed = appointment_read_special(actor=practice.actor, appointment=appointment)

    assert "clinical_details" in listed.get_deferred_fields()
    assert revealed == {"clinical_details": CLINICAL}
    entry = last_audit(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields, entry.actor_user_id) == (
        "appointment.read_special",
        str(appointment.pk),
        ["clinical_details"],
        cast.olive.pk,
    )
    assert CLINICAL not in repr(entry.extra)


# Who sees what ------------------------------------------------------------------------------


def test_a_sales_member_sees_their_own_patients_and_appointments_only(practice):
    cast = practice.cast
    sam = cast.actor(cast.sam)
    sams_patient = contact_create(actor=sam, data={"last_name": "Sommer"})
    theirs = practice.book(contact=str(sams_patient.pk))
    others = practice.book(starts_at="2030-01-07T10:00:00+01:00")

    assert list(appointment_list(sam).values_list("pk", flat=True)) == [theirs.pk]
    assert access_appointment(sam, theirs.pk).pk == theirs.pk
    with pytest.raises(NotFound):
        access_appointment(sam, others.pk)
    assert [
        e["field"]
        for e in _refused(practice, actor=sam, contact=str(practice.greta.pk), starts_at="2030-01-09T09:00:00+01:00")
    ] == ["contact"]


def _edit_form(client, appointment):
    """The edit page's address and its form as the browser sends it back untouched."""
    url = reverse("web:appointment-edit", args=[appointment.pk])
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields} | {"send_reminder": "on"}
    data["starts_at"] = form["starts_at"].value().strftime("%Y-%m-%dT%H:%M")
    data["ends_at"] = form["ends_at"].value().strftime("%Y-%m-%dT%H:%M")
    return url, data


def test_a_practitioner_keeps_the_person_past_their_scope_on_their_own_appointment(practice):
    """Greta is Olive's contact, past Sam's record scope, but the appointment is Sam's: the edit
    form sends her back unchanged, which is no new choice of her; choosing such a person is."""
    cast = practice.cast
    dr_sam = practitioner_add(actor=practice.actor, data={"user": str(cast.sam.pk)})
    appointment = practice.book(practitioner=str(dr_sam.pk))
    client = web_client(cast.sam)
    url, data = _edit_form(client, appointment)

    response = client.post(url, data | {"notes": "Bring the X-ray"})
    with pytest.raises(ValidationFailed) as excinfo:
        appointment_update(actor=cast.actor(cast.sam), appointment=appointment, data={"contact": str(practice.jan.pk)})

    assert response.status_code == 302, response.context["form"].errors
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.contact_id, stored.notes) == (practice.greta.pk, "Bring the X-ray")
    assert _errors(excinfo) == [{"field": "contact", "message": "Choose an existing contact."}]


def test_editing_the_notes_in_the_form_leaves_a_start_to_the_second_where_it_was(practice):
    """The API books to the second, the form shows minutes: saving notes must neither move the
    appointment nor send its reminder again."""
    start = utc("2030-01-07T09:00:30+01:00")
    appointment = practice.book(starts_at="2030-01-07T09:00:30+01:00")
    Appointment.objects.filter(pk=appointment.pk).update(reminder_sent_at=timezone.now())
    client = web_client(practice.cast.olive)
    url, data = _edit_form(client, appointment)

    response = client.post(url, data | {"notes": "Parking at the back"})

    assert response.status_code == 302, response.context["form"].errors
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.starts_at, stored.notes) == (start, "Parking at the back")
    assert stored.reminder_sent_at is not None


def test_a_booking_the_night_the_clocks_change_lasts_as_long_as_its_service(practice):
    """The form gives times in the member's zone; the service's 90 minutes are real minutes,
    not wall-clock ones (which made them 30 in spring in Berlin and 150 in autumn in Warsaw)."""
    cast = practice.cast
    surgery = service_create(actor=practice.actor, data={"name": "Surgery", "duration_minutes": 90})
    client = web_client(cast.olive)
    form = {
        "contact": contact_label(practice.actor, practice.greta),
        "service": str(surgery.pk),
        "practitioner": str(practice.dr_olive.pk),
        "send_reminder": "on",
    }

    spring = client.post(reverse("web:appointment-create"), form | {"starts_at": "2026-03-29T01:30"})
    cast.olive.time_zone = "Europe/Warsaw"
    cast.olive.save(update_fields=["time_zone"])
    autumn = client.post(reverse("web:appointment-create"), form | {"starts_at": "2026-10-25T01:30"})

    assert (spring.status_code, autumn.status_code) == (302, 302)
    booked = list(Appointment.objects.order_by("starts_at").values_list("starts_at", "ends_at"))
    assert booked == [
        (utc("2026-03-29T01:30:00+01:00"), utc("2026-03-29T04:00:00+02:00")),
        (utc("2026-10-25T01:30:00+02:00"), utc("2026-10-25T02:00:00+01:00")),
    ]
    # Moved by its start in the form (to Dr Alice), it keeps its real length too.
    appointment = Appointment.objects.get(starts_at=utc("2026-03-29T01:30:00+01:00"))
    url, data = _edit_form(client, appointment)
    moved = client.post(url, data | {"starts_at": "2026-10-25T01:30", "practitioner": str(practice.dr_alice.pk)})
    assert moved.status_code == 302, moved.context["form"].errors
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.starts_at, stored.ends_at) == (utc("2026-10-25T01:30:00+02:00"), utc("2026-10-25T02:00:00+01:00"))


def test_deleting_an_appointment_is_audited_and_needs_the_right(practice):
    appointment = practice.book()

    with pytest.raises(PermissionDenied):
        appointment_delete(actor=practice.cast.actor(practice.cast.sam), appointment=appointment)
    appointment_delete(actor=practice.actor, appointment=appointment)

    assert not Appointment.objects.exists()
    assert last_audit(practice.cast.org_a).action == "appointment.delete"


# The week -----------------------------------------------------------------------------------


def test_the_week_of_a_practitioner_and_of_a_resource(practice):
    practice.book(resource=str(practice.chair.pk))
    practice.book(
        practitioner=str(practice.dr_alice.pk),
        resource=str(practice.room.pk),
        contact=str(practice.jan.pk),
        starts_at="2030-01-09T19:30:00+01:00",
        ends_at="2030-01-09T21:00:00+01:00",
    )
    cancelled = practice.book(starts_at="2030-01-08T09:00:00+01:00")
    appointment_set_status(actor=practice.actor, appointment=cancelled, status="cancelled")
    now = utc("2030-01-01T00:00:00+01:00")

    olive_week = week_calendar(practice.actor, week_of=date(2030, 1, 10), practitioner=practice.dr_olive, now=now)
    chair_week = week_calendar(practice.actor, week_of=date(2030, 1, 7), resource=practice.chair, now=now)
    alice_week = week_calendar(practice.actor, week_of=date(2030, 1, 7), practitioner=practice.dr_alice, now=now)

    assert olive_week.monday == date(2030, 1, 7)
    assert olive_week.days == [date(2030, 1, 7) + timedelta(days=n) for n in range(7)]
    assert (olive_week.previous, olive_week.next) == (date(2029, 12, 31), date(2030, 1, 14))

    def taken(week):
        return [
            (cell.day.isoformat(), row.label.strftime("%H:%M"), [a.pk for a in cell.appointments])
            for row in week.rows
            for cell in row.cells
            if cell.busy
        ]

    monday_9 = Appointment.objects.get(starts_at=utc(MONDAY_9), status="booked").pk
    assert taken(olive_week) == [("2030-01-07", "09:00", [monday_9])]
    assert taken(chair_week) == taken(olive_week)
    # Running past the usual end, the grid grows to show it all.
    assert alice_week.rows[-1].label.strftime("%H:%M") == "20:30"
    assert [slot[1] for slot in taken(alice_week)] == ["19:30", "20:00", "20:30"]


def test_the_week_shows_an_appointment_running_past_midnight_on_both_days(practice):
    """Running into Wednesday, its early hours there are shown taken, not left out of the grid."""
    late = practice.book(starts_at="2030-01-08T23:30:00+01:00", ends_at="2030-01-09T00:30:00+01:00")

    week = week_calendar(
        practice.actor, week_of=date(2030, 1, 7), practitioner=practice.dr_olive, now=utc("2030-01-01T00:00:00+01:00")
    )

    taken = [
        (cell.day.isoformat(), row.label.strftime("%H:%M")) for row in week.rows for cell in row.cells if cell.busy
    ]
    assert taken == [("2030-01-09", "00:00"), ("2030-01-08", "23:30")]
    assert [a.pk for row in week.rows for cell in row.cells for a in cell.appointments] == [late.pk]
    assert week.rows[-1].label.strftime("%H:%M") == "23:30"


def test_the_week_shows_unseen_appointments_as_busy_without_detail(practice):
    cast = practice.cast
    practice.book()
    sam = cast.actor(cast.sam)

    week = week_calendar(
        sam, week_of=date(2030, 1, 7), practitioner=practice.dr_olive, now=utc("2030-01-01T00:00:00+01:00")
    )

    (cell,) = [cell for row in week.rows for cell in row.cells if cell.busy]
    assert (cell.appointments, cell.hidden_count, cell.bookable) == ([], 1, False)
    free = week.rows[0].cells[0]
    assert free.bookable


def test_past_slots_are_not_bookable(practice):
    week = week_calendar(
        practice.actor, week_of=date(2030, 1, 7), practitioner=practice.dr_olive, now=utc("2030-01-07T12:00:00+01:00")
    )

    monday = [row.cells[0] for row in week.rows]
    tuesday = [row.cells[1] for row in week.rows]
    assert not any(cell.bookable for cell in monday if cell.starts_at < utc("2030-01-07T11:30:00+01:00"))
    assert all(cell.bookable for cell in monday if cell.starts_at >= utc("2030-01-07T12:00:00+01:00"))
    assert all(cell.bookable for cell in tuesday)


def test_a_week_no_calendar_can_show_is_the_current_week(practice):
    """A week whose dates (or whose neighbours) lie outside the years that can be booked."""
    client = web_client(practice.cast.olive)
    calendar = reverse("web:appointment-calendar")

    for week in ("0001-01-01", "9999-12-31"):
        response = client.get(calendar, {"week": week})
        assert response.status_code == 200, week
        assert response.context["week"].monday == monday_of(timezone.localdate()), week
    assert client.get(calendar, {"week": "1900-01-03"}).context["week"].monday == date(1900, 1, 1)
