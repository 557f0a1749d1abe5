"""/api/v1 services, resources, practitioners, appointments, recalls, settings and the calendar feed."""

import pytest
from django.db import connection
from django.test import Client
from icalendar import Calendar

from custos.api.tests.helpers import (
    created,
    entries,
    field_errors,
    hide,
    in_id_order,
    iso,
    last_entry,
    ok,
    patch,
    post,
    problem,
    snapshot,
    warmed,
)
from custos.core.tenancy import tenant_scope
from custos.scheduling.models import Appointment, Recall, Service
from custos.testing import api_client

CLINICAL = "Suspected abscess, on amoxicillin"
MONDAY_9 = "2030-01-07T09:00:00+01:00"


@pytest.fixture
def alice(cast):
    return api_client(cast, cast.alice)


@pytest.fixture
def setup(cast, alice):
    """A check-up, a chair, Dr Olive and Dr Alice, and two patients, made through the API."""
    return {
        "check_up": created(
            alice, "/api/v1/services", name="Check-up", duration_minutes=30, price="60", recall_months=6
        ),
        "cleaning": created(alice, "/api/v1/services", name="Cleaning", duration_minutes=45),
        "chair": created(alice, "/api/v1/resources", name="Chair 1", kind="chair"),
        "dr_olive": created(alice, "/api/v1/practitioners", user=str(cast.olive.pk)),
        "dr_alice": created(alice, "/api/v1/practitioners", user=str(cast.alice.pk)),
        "greta": created(alice, "/api/v1/contacts", first_name="Greta", last_name="Lind", email="greta@example.org"),
        "jan": created(alice, "/api/v1/contacts", first_name="Jan", last_name="Nowak"),
    }


def _book(client, setup, **data):
    body = {
        "service": setup["check_up"]["id"],
        "practitioner": setup["dr_olive"]["id"],
        "contact": setup["greta"]["id"],
        "starts_at": MONDAY_9,
    }
    return created(client, "/api/v1/appointments", **(body | data))


# The catalogue ----------------------------------------------------------------------------


def test_a_service_is_created_read_changed_listed_and_deleted(cast, alice):
    body = created(
        alice, "/api/v1/services", name="Root canal", duration_minutes=90, price="480.5", resource_kind="chair"
    )

    with tenant_scope(cast.org_a):
        service = Service.objects.get(pk=body["id"])
    assert body == {
        "id": str(service.pk),
        "name": "Root canal",
        "duration_minutes": 90,
        "price": "480.50",
        "currency": "EUR",
        "resource_kind": "chair",
        "recall_months": None,
        "reminder_hours": None,
        "is_active": True,
        "created_at": iso(service.created_at),
        "updated_at": iso(service.updated_at),
    }
    assert ok(alice.get(f"/api/v1/services/{body['id']}")) == body
    changed = ok(patch(alice, f"/api/v1/services/{body['id']}", {"price": "500", "is_active": False}))
    assert (changed["price"], changed["is_active"], changed["name"]) == ("500.00", False, "Root canal")
    other = created(alice, "/api/v1/services", name="Cleaning", duration_minutes=45)
    assert [s["id"] for s in ok(alice.get("/api/v1/services"))["items"]] == in_id_order(body, other)
    assert [s["id"] for s in ok(alice.get("/api/v1/services", {"active": "true"}))["items"]] == [other["id"]]
    response = alice.delete(f"/api/v1/services/{body['id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert problem(alice.get(f"/api/v1/services/{body['id']}"), 404)
    assert (last_entry(cast.org_a).action, last_entry(cast.org_a).object_id) == ("service.delete", body["id"])


def test_bad_catalogue_input_is_422_naming_each_field_and_changes_nothing(cast, alice):
    warmed(alice)
    created(alice, "/api/v1/services", name="Check-up", duration_minutes=30)
    before = snapshot(cast.org_a)

    assert field_errors(post(alice, "/api/v1/services", {"name": "X", "duration_minutes": "30", "colour": 1})) == [
        {"field": "duration_minutes", "message": "Enter a whole number."},
        {"field": "colour", "message": "Unknown field."},
    ]
    assert field_errors(post(alice, "/api/v1/services", {"name": "check-up", "duration_minutes": 1})) == [
        {"field": "name", "message": "A service has this name already."},
        {"field": "duration_minutes", "message": "Enter a number from 5 to 1440."},
    ]
    assert field_errors(post(alice, "/api/v1/resources", {"name": "", "kind": "sofa"})) == [
        {"field": "name", "message": "This field is required."},
        {"field": "kind", "message": "Choose one of: room, chair, equipment."},
    ]
    assert field_errors(post(alice, "/api/v1/practitioners", {"user": str(cast.mallory.pk)})) == [
        {"field": "user", "message": "Choose a member of this organisation."}
    ]
    assert snapshot(cast.org_a) == before


def test_a_booked_service_cannot_be_deleted(cast, alice, setup):
    _book(alice, setup)

    body = problem(alice.delete(f"/api/v1/services/{setup['check_up']['id']}"), 409)

    assert body["detail"] == "This service has appointments or recalls; make it inactive instead."
    assert problem(alice.delete(f"/api/v1/practitioners/{setup['dr_olive']['id']}"), 409)
    assert ok(alice.get(f"/api/v1/services/{setup['check_up']['id']}"))["is_active"] is True


def test_practitioners_carry_the_members_name(cast, alice, setup):
    items = ok(alice.get("/api/v1/practitioners"))["items"]

    assert {(p["user"], p["name"]) for p in items} == {
        (str(cast.olive.pk), cast.olive.full_name or cast.olive.email),
        (str(cast.alice.pk), cast.alice.full_name or cast.alice.email),
    }
    changed = ok(patch(alice, f"/api/v1/practitioners/{setup['dr_alice']['id']}", {"is_active": False}))
    assert changed["is_active"] is False
    assert field_errors(patch(alice, f"/api/v1/practitioners/{setup['dr_alice']['id']}", {"user": str(cast.sam.pk)}))


def test_only_members_who_set_up_appointments_change_the_catalogue(cast, setup):
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert problem(post(sam, "/api/v1/services", {"name": "X", "duration_minutes": 30}), 403)
    assert problem(patch(sam, f"/api/v1/services/{setup['check_up']['id']}", {"price": "1"}), 403)
    assert problem(sam.delete(f"/api/v1/resources/{setup['chair']['id']}"), 403)
    assert problem(post(sam, "/api/v1/practitioners", {"user": str(cast.sam.pk)}), 403)
    assert problem(patch(sam, "/api/v1/appointment-settings", {"reminder_hours": 2}), 403)
    assert snapshot(cast.org_a) == before
    assert len(ok(sam.get("/api/v1/services"))["items"]) == 2


# Appointments -----------------------------------------------------------------------------


def test_booking_answers_201_with_the_appointment(cast, alice, setup):
    body = _book(alice, setup, resource=setup["chair"]["id"], notes="Prefers mornings", clinical_details=CLINICAL)

    with tenant_scope(cast.org_a):
        appointment = Appointment.objects.get(pk=body["id"])
    assert body == {
        "id": str(appointment.pk),
        "service": setup["check_up"]["id"],
        "practitioner": setup["dr_olive"]["id"],
        "resource": setup["chair"]["id"],
        "contact": setup["greta"]["id"],
        "starts_at": "2030-01-07T08:00:00Z",
        "ends_at": "2030-01-07T08:30:00Z",
        "status": "booked",
        "notes": "Prefers mornings",
        "clinical_details": None,
        "send_reminder": True,
        "reminder_sent_at": None,
        "recall": None,
        "created_at": iso(appointment.created_at),
        "updated_at": iso(appointment.updated_at),
    }
    assert ok(alice.get(f"/api/v1/appointments/{body['id']}")) == body
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.via, entry.actor_user_id) == ("appointment.create", "api", cast.alice.pk)
    assert "clinical_details" in entry.fields
    assert CLINICAL not in repr((entry.fields, entry.extra))


def test_a_clash_is_422_naming_the_practitioner_or_resource(cast, alice, setup):
    _book(alice, setup, resource=setup["chair"]["id"])
    before = snapshot(cast.org_a)

    errors = field_errors(
        post(
            alice,
            "/api/v1/appointments",
            {
                "service": setup["cleaning"]["id"],
                "practitioner": setup["dr_olive"]["id"],
                "resource": setup["chair"]["id"],
                "contact": setup["jan"]["id"],
                "starts_at": "2030-01-07T09:15:00+01:00",
            },
        )
    )

    assert errors == [
        {
            "field": "practitioner",
            "message": "The practitioner already has an appointment at that time (01/07/2030 9 a.m. to 9:30 a.m.).",
        },
        {
            "field": "resource",
            "message": "The resource is already booked at that time (01/07/2030 9 a.m. to 9:30 a.m.).",
        },
    ]
    assert snapshot(cast.org_a) == before
    # Right after it, or with others, is fine.
    _book(alice, setup, resource=setup["chair"]["id"], starts_at="2030-01-07T09:30:00+01:00")
    _book(alice, setup, practitioner=setup["dr_alice"]["id"], contact=setup["jan"]["id"])


def test_moving_into_a_clash_is_422_and_a_cancelled_appointment_frees_its_slot(cast, alice, setup):
    first = _book(alice, setup)
    second = _book(alice, setup, starts_at="2030-01-07T10:00:00+01:00")
    path = f"/api/v1/appointments/{second['id']}"

    assert [e["field"] for e in field_errors(patch(alice, path, {"starts_at": MONDAY_9}))] == ["practitioner"]
    ok(post(alice, f"/api/v1/appointments/{first['id']}/cancel"))
    moved = ok(patch(alice, path, {"starts_at": MONDAY_9}))

    assert (moved["starts_at"], moved["ends_at"]) == ("2030-01-07T08:00:00Z", "2030-01-07T08:30:00Z")


def test_bad_bookings_are_422_naming_each_field(cast, alice, setup):
    warmed(alice)
    before = snapshot(cast.org_a)
    cases = [
        (
            {"send_reminder": "yes", "starts_at": 5, "room": "1"},
            [
                {"field": "starts_at", "message": "Enter text."},
                {"field": "send_reminder", "message": "Enter true or false."},
                {"field": "room", "message": "Unknown field."},
            ],
        ),
        (
            {"service": "nope", "starts_at": "tomorrow"},
            [
                {"field": "service", "message": "Choose an active service."},
                {"field": "starts_at", "message": "Enter a date and time such as 2026-11-22T14:30:00+01:00."},
                {"field": "practitioner", "message": "This field is required."},
                {"field": "contact", "message": "This field is required."},
            ],
        ),
        (
            {
                "service": setup["check_up"]["id"],
                "practitioner": setup["dr_olive"]["id"],
                "contact": setup["greta"]["id"],
                "starts_at": MONDAY_9,
                "ends_at": "2030-01-07T08:00:00+01:00",
            },
            [{"field": "ends_at", "message": "End the appointment after it starts."}],
        ),
    ]
    for data, errors in cases:
        assert field_errors(post(alice, "/api/v1/appointments", data)) == errors, data
    assert snapshot(cast.org_a) == before


def test_the_list_filters_combine_and_bad_filters_name_the_field(cast, alice, setup):
    monday = _book(alice, setup, resource=setup["chair"]["id"])
    tuesday = _book(alice, setup, contact=setup["jan"]["id"], starts_at="2030-01-08T09:00:00+01:00")
    with_alice = _book(alice, setup, practitioner=setup["dr_alice"]["id"], contact=setup["jan"]["id"])
    ok(post(alice, f"/api/v1/appointments/{tuesday['id']}/cancel"))

    def ids(**params):
        body = ok(alice.get("/api/v1/appointments", params))
        return [item["id"] for item in body["items"]]

    assert ids() == in_id_order(monday, tuesday, with_alice)
    assert ids(practitioner=setup["dr_olive"]["id"]) == in_id_order(monday, tuesday)
    assert ids(resource=setup["chair"]["id"]) == [monday["id"]]
    assert ids(contact=setup["jan"]["id"]) == in_id_order(tuesday, with_alice)
    assert ids(status="cancelled") == [tuesday["id"]]
    assert ids(**{"from": "2030-01-08T00:00:00+01:00"}) == [tuesday["id"]]
    assert ids(to="2030-01-08T00:00:00+01:00", practitioner=setup["dr_olive"]["id"]) == [monday["id"]]
    first = ok(alice.get("/api/v1/appointments", {"limit": 2}))
    rest = ok(alice.get("/api/v1/appointments", {"limit": 2, "cursor": first["next"]}))
    assert [a["id"] for a in first["items"] + rest["items"]] == in_id_order(monday, tuesday, with_alice)
    assert all(item["clinical_details"] is None for item in first["items"])
    assert field_errors(alice.get("/api/v1/appointments", {"status": "lost"})) == [
        {"field": "status", "message": "Choose one of: booked, confirmed, done, no_show, cancelled."}
    ]
    assert field_errors(alice.get("/api/v1/appointments", {"practitioner": "nope"})) == [
        {"field": "practitioner", "message": "Choose an existing practitioner."}
    ]
    assert field_errors(alice.get("/api/v1/appointments", {"from": "monday"})) == [
        {"field": "from", "message": "Enter a date and time such as 2026-11-22T14:30:00+01:00."}
    ]


def test_status_actions_move_it_on_and_refuse_what_cannot_be(cast, alice, setup):
    past = _book(alice, setup, starts_at="2020-01-06T09:00:00+01:00")
    future = _book(alice, setup)
    path = f"/api/v1/appointments/{past['id']}"

    assert ok(post(alice, f"{path}/confirm"))["status"] == "confirmed"
    done = ok(post(alice, f"{path}/complete"))
    assert done["status"] == "done"
    assert problem(post(alice, f"{path}/cancel"), 409)["detail"] == "A done appointment cannot become cancelled."
    assert field_errors(post(alice, f"/api/v1/appointments/{future['id']}/complete")) == [
        {"field": "status", "message": "An appointment that has not started yet cannot be done or missed."}
    ]
    assert field_errors(post(alice, f"/api/v1/appointments/{future['id']}/no-show"))
    assert ok(post(alice, f"/api/v1/appointments/{future['id']}/cancel"))["status"] == "cancelled"
    assert problem(post(alice, f"/api/v1/appointments/{future['id']}/confirm"), 409)
    assert [e.action for e in entries(cast.org_a, "appointment.")][-3:] == [
        "appointment.confirm",
        "appointment.complete",
        "appointment.cancel",
    ]
    # The done check-up started the patient's recall, six months on: a day long come, so due.
    (recall,) = ok(alice.get("/api/v1/recalls"))["items"]
    assert (recall["contact"], recall["due_on"], recall["status"]) == (setup["greta"]["id"], "2020-07-06", "due")


def test_a_sales_member_sees_and_changes_only_appointments_of_their_people(cast, alice, setup):
    theirs_contact = created(alice, "/api/v1/contacts", last_name="Sommer", owner=str(cast.sam.pk))
    theirs = _book(alice, setup, contact=theirs_contact["id"])
    others = _book(alice, setup, starts_at="2030-01-07T10:00:00+01:00")
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert [a["id"] for a in ok(sam.get("/api/v1/appointments"))["items"]] == [theirs["id"]]
    for response in (
        sam.get(f"/api/v1/appointments/{others['id']}"),
        patch(sam, f"/api/v1/appointments/{others['id']}", {"notes": "x"}),
        post(sam, f"/api/v1/appointments/{others['id']}/cancel"),
    ):
        assert problem(response, 404)
    assert problem(sam.delete(f"/api/v1/appointments/{theirs['id']}"), 403)
    assert snapshot(cast.org_a) == before
    assert ok(post(sam, f"/api/v1/appointments/{theirs['id']}/confirm"))["status"] == "confirmed"


def test_a_read_only_member_reads_but_cannot_book(cast, alice, setup):
    appointment = _book(alice, setup)
    bob = api_client(cast, cast.bob, "read")

    assert ok(bob.get(f"/api/v1/appointments/{appointment['id']}"))["id"] == appointment["id"]
    assert problem(post(bob, f"/api/v1/appointments/{appointment['id']}/cancel"), 403)
    assert ok(alice.get(f"/api/v1/appointments/{appointment['id']}"))["status"] == "booked"


def test_a_patch_without_an_end_gives_the_service_length_again(cast, alice, setup):
    appointment = _book(alice, setup, ends_at="2030-01-07T10:30:00+01:00")

    changed = ok(patch(alice, f"/api/v1/appointments/{appointment['id']}", {"ends_at": None}))

    assert (changed["starts_at"], changed["ends_at"]) == ("2030-01-07T08:00:00Z", "2030-01-07T08:30:00Z")


def test_fields_hidden_from_a_role_are_null_and_cannot_be_written(cast, alice, setup):
    own = created(alice, "/api/v1/contacts", last_name="Sommer", owner=str(cast.sam.pk))
    appointment = _book(alice, setup, contact=own["id"], notes="Prefers mornings")
    hide(cast, "sales", "appointment.notes")
    sam = warmed(api_client(cast, cast.sam, "write"))
    before = snapshot(cast.org_a)

    assert ok(sam.get(f"/api/v1/appointments/{appointment['id']}"))["notes"] is None
    assert problem(patch(sam, f"/api/v1/appointments/{appointment['id']}", {"notes": "x"}), 403)
    assert snapshot(cast.org_a) == before


# Clinical details ------------------------------------------------------------------------


def _raw_clinical_details(org, appointment_id):
    pk = Appointment._meta.pk.get_db_prep_value(appointment_id, connection)
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("SELECT clinical_details FROM scheduling_appointment WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_clinical_details_are_stored_encrypted_and_read_only_on_request_with_an_audit_entry(cast, alice, setup):
    appointment = _book(alice, setup, clinical_details=CLINICAL)

    raw = _raw_clinical_details(cast.org_a, appointment["id"])
    assert raw.startswith("v1.")
    assert "amoxicillin" not in raw
    assert ok(alice.get(f"/api/v1/appointments/{appointment['id']}"))["clinical_details"] is None
    assert "appointment.read_special" not in [e.action for e in entries(cast.org_a)]

    revealed = ok(alice.get(f"/api/v1/appointments/{appointment['id']}", {"include": "special"}))

    assert revealed == {**appointment, "clinical_details": CLINICAL}
    entry = last_entry(cast.org_a)
    assert (entry.action, entry.object_id, entry.fields, entry.via) == (
        "appointment.read_special",
        appointment["id"],
        ["clinical_details"],
        "api",
    )
    assert field_errors(alice.get(f"/api/v1/appointments/{appointment['id']}", {"include": "notes"})) == [
        {"field": "include", "message": "Only “special” can be included."}
    ]


def test_roles_without_the_special_category_right_neither_see_nor_write_clinical_details(cast, alice, setup):
    own = created(alice, "/api/v1/contacts", last_name="Sommer", owner=str(cast.sam.pk))
    appointment = _book(alice, setup, contact=own["id"], clinical_details=CLINICAL)
    sam = warmed(api_client(cast, cast.sam, "write"))
    bob = warmed(api_client(cast, cast.bob, "read"))
    before = snapshot(cast.org_a)

    for client in (sam, bob):
        assert ok(client.get(f"/api/v1/appointments/{appointment['id']}"))["clinical_details"] is None
        assert problem(client.get(f"/api/v1/appointments/{appointment['id']}", {"include": "special"}), 403)
    assert problem(patch(sam, f"/api/v1/appointments/{appointment['id']}", {"clinical_details": "None"}), 403)
    booked = post(
        sam,
        "/api/v1/appointments",
        {
            "service": setup["check_up"]["id"],
            "practitioner": setup["dr_alice"]["id"],
            "contact": own["id"],
            "starts_at": "2030-01-08T09:00:00+01:00",
            "clinical_details": CLINICAL,
        },
    )
    assert problem(booked, 403)
    assert snapshot(cast.org_a) == before


# Recalls ---------------------------------------------------------------------------------


def test_a_recall_is_created_listed_booked_and_stopped(cast, alice, setup):
    recall = created(
        alice,
        "/api/v1/recalls",
        contact=setup["jan"]["id"],
        service=setup["check_up"]["id"],
        interval_months=6,
        due_on="2030-01-01",
    )
    assert (recall["status"], recall["due_on"], recall["last_done_on"]) == ("waiting", "2030-01-01", None)
    assert field_errors(
        post(
            alice,
            "/api/v1/recalls",
            {
                "contact": setup["jan"]["id"],
                "service": setup["check_up"]["id"],
                "interval_months": 6,
                "due_on": "2030-06-01",
            },
        )
    ) == [{"field": "service", "message": "This contact has a recall for this service already."}]

    appointment = created(
        alice,
        f"/api/v1/recalls/{recall['id']}/book",
        practitioner=setup["dr_olive"]["id"],
        starts_at="2030-01-07T11:00:00+01:00",
    )

    assert (appointment["contact"], appointment["service"], appointment["recall"]) == (
        setup["jan"]["id"],
        setup["check_up"]["id"],
        recall["id"],
    )
    assert ok(alice.get(f"/api/v1/recalls/{recall['id']}"))["status"] == "booked"
    assert [r["id"] for r in ok(alice.get("/api/v1/recalls", {"status": "booked"}))["items"]] == [recall["id"]]
    assert ok(alice.get("/api/v1/recalls", {"due_by": "2029-12-31"}))["items"] == []
    assert field_errors(alice.get("/api/v1/recalls", {"due_by": "soon"})) == [
        {"field": "due_by", "message": "Enter a date such as 2026-11-22 or 22.11.2026."}
    ]
    assert field_errors(
        post(
            alice,
            f"/api/v1/recalls/{recall['id']}/book",
            {"practitioner": setup["dr_alice"]["id"], "starts_at": "2030-01-09T09:00:00+01:00"},
        )
    ) == [{"field": "recall", "message": "Choose a recall that is not booked or stopped."}]
    stopped = ok(patch(alice, f"/api/v1/recalls/{recall['id']}", {"status": "stopped"}))
    assert stopped["status"] == "stopped"
    with tenant_scope(cast.org_a):
        assert Recall.objects.get(pk=recall["id"]).status == "stopped"


# Settings and the calendar feed ------------------------------------------------------------


def test_the_settings_are_read_by_members_and_changed_by_admins(cast, alice):
    assert ok(alice.get("/api/v1/appointment-settings")) == {
        "reminder_hours": 24,
        "language": "de",
        "time_zone": "Europe/Berlin",
        "feed_detail": "service",
    }
    changed = ok(patch(alice, "/api/v1/appointment-settings", {"feed_detail": "busy", "language": "en"}))
    assert (changed["feed_detail"], changed["language"]) == ("busy", "en")
    assert field_errors(patch(alice, "/api/v1/appointment-settings", {"time_zone": "Moon/Base"})) == [
        {"field": "time_zone", "message": "Choose a time zone such as Europe/Berlin."}
    ]
    assert ok(api_client(cast, cast.bob, "read").get("/api/v1/appointment-settings"))["feed_detail"] == "busy"


def test_the_calendar_feed_link_is_given_once_works_without_a_token_and_stops_when_revoked(cast, alice, setup):
    assert ok(alice.get("/api/v1/calendar-feed")) == {
        "active": False,
        "created_at": None,
        "last_used_at": None,
        "url": None,
    }

    made = created(alice, "/api/v1/calendar-feed")

    assert made["active"] is True
    assert made["url"].startswith("http://127.0.0.1:8000/calendar/cal_")
    path = made["url"].removeprefix("http://127.0.0.1:8000")
    feed = Client().get(path)
    assert feed.status_code == 200
    assert Calendar.from_ical(feed.content)["version"] == "2.0"
    shown = ok(alice.get("/api/v1/calendar-feed"))
    assert (shown["active"], shown["url"]) == (True, None)
    again = created(alice, "/api/v1/calendar-feed")
    assert Client().get(path).status_code == 404
    assert alice.delete("/api/v1/calendar-feed").status_code == 204
    assert Client().get(again["url"].removeprefix("http://127.0.0.1:8000")).status_code == 404
    assert ok(alice.get("/api/v1/calendar-feed"))["active"] is False
