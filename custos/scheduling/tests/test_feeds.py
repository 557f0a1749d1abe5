"""A member's iCalendar feed: a secret, revocable link that never carries clinical details."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from custos.accounts.models import Membership, Role, User
from custos.accounts.services import member_add, member_remove
from custos.api.tests.helpers import hide
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import Subject
from custos.privacy.services.restriction import subject_restrict
from custos.scheduling.models import CalendarFeed
from custos.scheduling.services.appointments import appointment_set_status
from custos.scheduling.services.catalogue import practitioner_add, scheduling_settings_update
from custos.scheduling.services.feeds import (
    calendar_feed_create,
    calendar_feed_find,
    calendar_feed_of,
    calendar_feed_render,
    calendar_feed_revoke,
)
from custos.scheduling.tests.helpers import audit_actions, make_practice, utc

CLINICAL = "Suspected abscess, on amoxicillin"
NOTES = "Anxious patient, offer sedation"
NOW = utc("2030-01-01T08:00:00+01:00")


@pytest.fixture
def practice(cast, as_tenant):
    return make_practice(cast)


def _events(body: bytes):
    calendar = Calendar.from_ical(body)
    return calendar, sorted(calendar.walk("VEVENT"), key=lambda event: event.decoded("dtstart"))


def _fetch(token: str):
    return Client().get(reverse("web:calendar-feed-ics", args=[token]))


def _soon(practice, days, **data):
    start = (timezone.now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return practice.book(starts_at=start.isoformat(), **data)


def test_the_secret_link_works_without_signing_in_and_is_valid_icalendar(practice):
    appointment = _soon(practice, 2, resource=str(practice.chair.pk), clinical_details=CLINICAL, notes=NOTES)
    _, token = calendar_feed_create(actor=practice.actor)

    response = _fetch(token)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    calendar, (event,) = _events(response.content)
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["x-wr-calname"]) == "Appointments at Acme Praxis"
    assert str(event["uid"]) == f"{appointment.pk}@custos"
    assert event.decoded("dtstart") == appointment.starts_at
    assert event.decoded("dtend") == appointment.ends_at
    assert (str(event["summary"]), str(event["location"]), str(event["class"])) == ("Check-up", "Chair 1", "PRIVATE")
    assert str(event["url"]).endswith(f"/appointments/{appointment.pk}/")
    text = response.content.decode()
    for secret in ("abscess", "amoxicillin", "sedation", "Greta", "Lind", "greta@example.org"):
        assert secret not in text


def test_only_the_members_own_active_appointments_a_month_back_to_a_year_ahead(practice):
    mine = _soon(practice, 1)
    cancelled = _soon(practice, 3)
    appointment_set_status(actor=practice.actor, appointment=cancelled, status="cancelled")
    _soon(practice, 1, practitioner=str(practice.dr_alice.pk), contact=str(practice.jan.pk))
    _soon(practice, -40)
    _soon(practice, 400)
    recent = _soon(practice, -20)
    _, token = calendar_feed_create(actor=practice.actor)

    _, events = _events(_fetch(token).content)

    assert [str(event["uid"]) for event in events] == [f"{recent.pk}@custos", f"{mine.pk}@custos"]


def test_only_the_hash_of_the_secret_is_stored(practice):
    feed, token = calendar_feed_create(actor=practice.actor)

    assert token.startswith("cal_")
    assert len(token) > 40
    stored = CalendarFeed.objects.get(pk=feed.pk)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM scheduling_calendarfeed")
        assert token not in repr(cursor.fetchall())


def test_a_revoked_link_answers_404(practice):
    _, token = calendar_feed_create(actor=practice.actor)

    assert calendar_feed_revoke(actor=practice.actor) == 1

    assert _fetch(token).status_code == 404
    assert calendar_feed_find(token) is None
    assert calendar_feed_of(practice.actor) is None
    assert calendar_feed_revoke(actor=practice.actor) == 0
    assert audit_actions(practice.cast.org_a, "calendar_feed.") == ["calendar_feed.create", "calendar_feed.revoke"]


def test_a_new_link_stops_the_old_one(practice):
    old_feed, old = calendar_feed_create(actor=practice.actor)
    new_feed, new = calendar_feed_create(actor=practice.actor)

    assert _fetch(old).status_code == 404
    assert _fetch(new).status_code == 200
    assert calendar_feed_of(practice.actor).pk == new_feed.pk
    assert CalendarFeed.objects.get(pk=old_feed.pk).revoked_at is not None


def test_unknown_and_malformed_links_answer_404(practice):
    _, token = calendar_feed_create(actor=practice.actor)

    for guess in ("cal_" + "A" * 43, token[:-1], token.replace("cal_", "xyz_"), "cal_" + "x" * 200):
        assert _fetch(guess).status_code == 404, guess


def test_a_member_who_leaves_loses_the_feed(practice):
    _, token = calendar_feed_create(actor=practice.actor)
    Membership.objects.filter(user=practice.cast.olive, org=practice.cast.org_a).update(is_active=False)

    assert _fetch(token).status_code == 404


def test_a_removed_members_link_stays_dead_when_they_are_added_again(practice):
    cast = practice.cast
    feed, token = calendar_feed_create(actor=cast.actor(cast.alice))

    member_remove(actor=practice.actor, membership=cast.membership(cast.alice))
    member_add(actor=practice.actor, email="alice@acme.example", role=Role.objects.get(key="read_only"))

    assert _fetch(token).status_code == 404
    assert CalendarFeed.objects.get(pk=feed.pk).revoked_at is not None
    assert audit_actions(cast.org_a, "calendar_feed.") == ["calendar_feed.create", "calendar_feed.revoke"]


def test_the_organisation_decides_how_much_an_event_says(practice):
    _soon(practice, 1, resource=str(practice.room.pk), clinical_details=CLINICAL)
    _, token = calendar_feed_create(actor=practice.actor)

    def event():
        _, (found,) = _events(_fetch(token).content)
        return found

    assert str(event()["summary"]) == "Check-up"
    scheduling_settings_update(actor=practice.actor, data={"feed_detail": "busy"})
    busy = event()
    assert str(busy["summary"]) == "Appointment"
    assert "location" not in busy
    scheduling_settings_update(actor=practice.actor, data={"feed_detail": "service_initials"})
    with_initials = event()
    assert str(with_initials["summary"]) == "Check-up — G. L."
    assert "description" not in with_initials
    assert "abscess" not in _fetch(token).content.decode()


def test_no_initials_from_a_name_the_role_may_not_see(cast):
    with tenant_scope(cast.org_a):
        practice = make_practice(cast)
        sam = cast.actor(cast.sam)
        dr_sam = practitioner_add(actor=practice.actor, data={"user": str(cast.sam.pk)})
        patient = contact_create(actor=sam, data={"first_name": "Sven", "last_name": "Sommer"})
        _soon(practice, 1, practitioner=str(dr_sam.pk), contact=str(patient.pk))
        scheduling_settings_update(actor=practice.actor, data={"feed_detail": "service_initials"})
        _, token = calendar_feed_create(actor=sam)
    _, (before,) = _events(_fetch(token).content)
    hide(cast, "sales", "contact.last_name")

    _, (after,) = _events(_fetch(token).content)

    assert (str(before["summary"]), str(after["summary"])) == ("Check-up — S. S.", "Check-up — S.")


def test_no_service_in_the_feed_of_a_role_that_may_not_see_it(cast):
    with tenant_scope(cast.org_a):
        practice = make_practice(cast)
        dr_sam = practitioner_add(actor=practice.actor, data={"user": str(cast.sam.pk)})
        _soon(practice, 1, practitioner=str(dr_sam.pk))
        _, token = calendar_feed_create(actor=cast.actor(cast.sam))
    _, (before,) = _events(_fetch(token).content)
    hide(cast, "sales", "appointment.service")

    _, (after,) = _events(_fetch(token).content)

    assert (str(before["summary"]), str(after["summary"])) == ("Check-up", "Appointment")


def test_no_initials_of_a_restricted_or_erased_person(practice):
    hans = contact_create(actor=practice.actor, data={"first_name": "Hans", "last_name": "Lind"})
    for days, contact in enumerate((practice.greta, practice.jan, hans), start=1):
        _soon(practice, days, contact=str(contact.pk))
    scheduling_settings_update(actor=practice.actor, data={"feed_detail": "service_initials"})
    _, token = calendar_feed_create(actor=practice.actor)

    subject_restrict(actor=practice.actor, subject=practice.greta.subject, inform=False)
    # Erasure empties the names as well; the state alone already keeps them out.
    Subject.objects.filter(pk=practice.jan.subject_id).update(state=Subject.State.ERASED)
    _, events = _events(_fetch(token).content)

    assert [str(event["summary"]) for event in events] == ["Check-up", "Check-up", "Check-up — H. L."]


def test_the_feed_is_named_in_the_members_language_and_use_is_audited_hourly(practice):
    User.objects.filter(pk=practice.cast.olive.pk).update(language="de")
    practice.book()
    feed, _ = calendar_feed_create(actor=practice.actor)
    feed = CalendarFeed.objects.select_related("user").get(pk=feed.pk)

    calendar, (event,) = _events(calendar_feed_render(feed, now=NOW))
    calendar_feed_render(CalendarFeed.objects.select_related("user").get(pk=feed.pk), now=NOW + timedelta(minutes=5))
    calendar_feed_render(CalendarFeed.objects.select_related("user").get(pk=feed.pk), now=NOW + timedelta(hours=2))

    assert str(calendar["x-wr-calname"]) == "Termine bei Acme Praxis"
    assert str(event["summary"]) == "Check-up"
    assert audit_actions(practice.cast.org_a, "calendar_feed.") == [
        "calendar_feed.create",
        "calendar_feed.use",
        "calendar_feed.use",
    ]
    assert CalendarFeed.objects.get(pk=feed.pk).last_used_at == NOW + timedelta(hours=2)


def test_a_feed_lives_in_its_organisation(cast):
    with tenant_scope(cast.org_b):
        _, token = calendar_feed_create(actor=cast.actor(cast.mallory))
    with tenant_scope(cast.org_a):
        make_practice(cast).book()

    _, events = _events(_fetch(token).content)

    assert events == []
