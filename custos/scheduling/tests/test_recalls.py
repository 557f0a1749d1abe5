"""Recalls: a check-up due every 6 months, moved on by done appointments, marked due by a job."""

from datetime import date

import pytest

from custos.core.errors import PermissionDenied, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.scheduling.models import Appointment, Recall
from custos.scheduling.selectors.appointments import recall_list
from custos.scheduling.services.appointments import appointment_create, appointment_set_status
from custos.scheduling.services.catalogue import scheduling_settings_update, service_create, service_update
from custos.scheduling.services.common import add_months
from custos.scheduling.services.recalls import recall_create, recall_update, recalls_mark_due
from custos.scheduling.tasks import mark_due_recalls
from custos.scheduling.tests.helpers import audit_actions, last_audit, make_practice, utc

AFTER_MONDAY = utc("2030-01-07T12:00:00+01:00")


@pytest.fixture
def practice(cast, as_tenant):
    return make_practice(cast)


def _errors(excinfo):
    return [e.as_dict() for e in excinfo.value.errors]


def _recall(practice, contact=None, **data):
    return recall_create(
        actor=practice.actor,
        data={
            "contact": str((contact or practice.greta).pk),
            "service": str(practice.check_up.pk),
            "interval_months": 6,
            "due_on": "2030-01-01",
        }
        | data,
    )


def _done(practice, appointment, now=AFTER_MONDAY):
    return appointment_set_status(actor=practice.actor, appointment=appointment, status="done", now=now)


def test_a_done_check_up_starts_the_persons_recall_six_months_on(practice):
    _done(practice, practice.book())

    recall = Recall.objects.get()
    assert (recall.contact_id, recall.service_id, recall.interval_months) == (
        practice.greta.pk,
        practice.check_up.pk,
        6,
    )
    assert (recall.status, recall.due_on, recall.last_done_on) == ("waiting", date(2030, 7, 7), date(2030, 1, 7))
    entry = last_audit(practice.cast.org_a)
    assert (entry.action, entry.object_id) == ("recall.create", str(recall.pk))
    assert set(entry.fields) == {"contact", "service", "interval_months", "due_on"}


def test_the_next_done_check_up_moves_the_recall_on(practice):
    _done(practice, practice.book())
    later = practice.book(starts_at="2030-07-10T09:00:00+02:00")

    _done(practice, later, now=utc("2030-07-10T12:00:00+02:00"))

    recall = Recall.objects.get()
    assert (recall.status, recall.due_on, recall.last_done_on) == ("waiting", date(2031, 1, 10), date(2030, 7, 10))
    entry = last_audit(practice.cast.org_a)
    assert (entry.action, entry.fields) == ("recall.update", ["due_on", "last_done_on"])


def test_the_day_done_is_the_day_in_the_practices_time_zone(practice):
    # 00:30 in Berlin on 8 January is still 7 January in UTC.
    late = practice.book(starts_at="2030-01-08T00:30:00+01:00")

    _done(practice, late, now=utc("2030-01-08T02:00:00+01:00"))

    assert Recall.objects.get().last_done_on == date(2030, 1, 8)


def test_a_service_without_recall_interval_starts_no_recall(practice):
    _done(practice, practice.book(service=str(practice.cleaning.pk)))

    assert not Recall.objects.exists()


def test_a_stopped_recall_stays_stopped(practice):
    recall = _recall(practice, status="stopped")

    _done(practice, practice.book())

    stored = Recall.objects.get(pk=recall.pk)
    assert (stored.status, stored.due_on, stored.last_done_on) == ("stopped", date(2030, 1, 1), None)


def test_booking_from_a_recall_takes_its_person_and_service_and_marks_it_booked(practice):
    recall = _recall(practice, contact=practice.jan)

    appointment = appointment_create(
        actor=practice.actor,
        data={
            "recall": str(recall.pk),
            "practitioner": str(practice.dr_olive.pk),
            "starts_at": "2030-01-07T10:00:00+01:00",
        },
    )

    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.contact_id, stored.service_id, stored.recall_id) == (
        practice.jan.pk,
        practice.check_up.pk,
        recall.pk,
    )
    assert Recall.objects.get(pk=recall.pk).status == "booked"
    assert audit_actions(practice.cast.org_a)[-2:] == ["appointment.create", "recall.update"]


def test_a_recall_is_booked_once_and_only_for_its_person_and_service(practice):
    recall = _recall(practice)
    stopped = _recall(practice, contact=practice.jan, status="stopped")

    with pytest.raises(ValidationFailed) as wrong_service:
        practice.book(recall=str(recall.pk), service=str(practice.cleaning.pk))
    practice.book(recall=str(recall.pk))
    with pytest.raises(ValidationFailed) as twice:
        practice.book(recall=str(recall.pk), starts_at="2030-01-08T09:00:00+01:00")
    with pytest.raises(ValidationFailed) as stopped_one:
        practice.book(recall=str(stopped.pk), contact=str(practice.jan.pk), starts_at="2030-01-09T09:00:00+01:00")

    assert _errors(wrong_service) == [{"field": "recall", "message": "The recall is for another contact or service."}]
    assert _errors(twice) == [{"field": "recall", "message": "Choose a recall that is not booked or stopped."}]
    assert _errors(stopped_one) == _errors(twice)
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("status", ["cancelled", "no_show"])
def test_a_cancelled_or_missed_appointment_leaves_its_recall_due_again(practice, status):
    recall = _recall(practice)  # due on 1 January 2030, in the past by 7 January
    appointment = practice.book(recall=str(recall.pk))

    appointment_set_status(actor=practice.actor, appointment=appointment, status=status, now=AFTER_MONDAY)

    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.status, Recall.objects.get(pk=recall.pk).status) == (status, "due")


def test_a_recall_not_yet_due_goes_back_to_waiting(practice):
    recall = _recall(practice, due_on="2030-03-01")
    appointment = practice.book(recall=str(recall.pk))

    appointment_set_status(actor=practice.actor, appointment=appointment, status="cancelled", now=AFTER_MONDAY)

    assert Recall.objects.get(pk=recall.pk).status == "waiting"


def test_the_done_appointment_of_a_booked_recall_moves_it_on(practice):
    recall = _recall(practice)
    appointment = practice.book(recall=str(recall.pk))

    _done(practice, appointment)

    stored = Recall.objects.get(pk=recall.pk)
    assert (stored.status, stored.due_on, stored.last_done_on) == ("waiting", date(2030, 7, 7), date(2030, 1, 7))


def test_the_job_marks_recalls_due_once(practice):
    due = _recall(practice)
    later = _recall(practice, contact=practice.jan, due_on="2030-03-01")

    assert recalls_mark_due(actor=practice.actor, today=date(2030, 1, 1)) == 1
    assert recalls_mark_due(actor=practice.actor, today=date(2030, 1, 1)) == 0

    assert Recall.objects.get(pk=due.pk).status == "due"
    assert Recall.objects.get(pk=later.pk).status == "waiting"
    entry = last_audit(practice.cast.org_a)
    assert (entry.action, entry.extra) == ("recall.mark_due", {"count": 1})
    assert list(recall_list(practice.actor, status="due").values_list("pk", flat=True)) == [due.pk]
    assert list(recall_list(practice.actor, due_by=date(2030, 2, 1)).values_list("pk", flat=True)) == [due.pk]


def test_the_periodic_task_walks_every_organisation(cast):
    with tenant_scope(cast.org_a):
        practice = make_practice(cast)
        _recall(practice, due_on="2099-01-01")
        Recall.objects.update(due_on=date(2020, 1, 1))  # waiting while its day came
    with tenant_scope(cast.org_b):
        mallory = cast.actor(cast.mallory)
        bravo = service_create(actor=mallory, data={"name": "Check-up", "duration_minutes": 30})
        person = contact_create(actor=mallory, data={"last_name": "Nowak"})
        recall_create(
            actor=mallory,
            data={"contact": str(person.pk), "service": str(bravo.pk), "interval_months": 12, "due_on": "2099-01-01"},
        )
        Recall.objects.update(due_on=date(2020, 1, 1))

    assert mark_due_recalls.call() == 2
    assert mark_due_recalls.call() == 0

    for org in (cast.org_a, cast.org_b):
        with tenant_scope(org):
            assert list(Recall.objects.values_list("status", flat=True)) == ["due"]


def test_bad_recalls_are_refused_field_by_field(practice):
    _recall(practice)
    with tenant_scope(practice.cast.org_b):
        stranger = contact_create(actor=practice.cast.actor(practice.cast.mallory), data={"last_name": "Obcy"})

    cases = [
        (
            {},
            [
                {"field": "contact", "message": "This field is required."},
                {"field": "service", "message": "This field is required."},
                {"field": "interval_months", "message": "This field is required."},
                {"field": "due_on", "message": "This field is required."},
            ],
        ),
        (
            {
                "contact": str(stranger.pk),
                "service": "x",
                "interval_months": 0,
                "due_on": "2030-02-30",
                "status": "booked",
            },
            [
                {"field": "contact", "message": "Choose an existing contact."},
                {"field": "service", "message": "Choose an active service."},
                {"field": "interval_months", "message": "Enter a number from 1 to 120."},
                {"field": "due_on", "message": "Enter a date such as 2026-11-22 or 22.11.2026."},
                {"field": "status", "message": "Choose one of: waiting, due, stopped."},
            ],
        ),
        (
            {
                "contact": str(practice.greta.pk),
                "service": str(practice.check_up.pk),
                "interval_months": 6,
                "due_on": "2030-06-01",
            },
            [{"field": "service", "message": "This contact has a recall for this service already."}],
        ),
    ]
    for data, expected in cases:
        with pytest.raises(ValidationFailed) as excinfo:
            recall_create(actor=practice.actor, data=data)
        assert _errors(excinfo) == expected, data
    assert Recall.objects.count() == 1


def test_a_recall_is_stopped_or_moved_but_keeps_its_person_and_service(practice):
    recall = _recall(practice)

    recall_update(actor=practice.actor, recall=recall, data={"status": "stopped", "interval_months": 12})
    with pytest.raises(ValidationFailed) as excinfo:
        recall_update(actor=practice.actor, recall=recall, data={"contact": str(practice.jan.pk)})
    with pytest.raises(PermissionDenied):
        recall_update(actor=practice.cast.actor(practice.cast.bob), recall=recall, data={"status": "waiting"})

    stored = Recall.objects.get(pk=recall.pk)
    assert (stored.status, stored.interval_months, stored.contact_id) == ("stopped", 12, practice.greta.pk)
    assert _errors(excinfo) == [{"field": "contact", "message": "Unknown field."}]


def test_months_are_added_calendar_wise():
    assert add_months(date(2030, 8, 31), 6) == date(2031, 2, 28)
    assert add_months(date(2031, 8, 31), 6) == date(2032, 2, 29)
    assert add_months(date(2030, 1, 15), 12) == date(2031, 1, 15)
    assert add_months(date(2030, 11, 30), 3) == date(2031, 2, 28)


def test_a_changed_recall_interval_of_the_service_applies_to_new_recalls_only(practice):
    _recall(practice, contact=practice.jan, interval_months=3)
    service_update(actor=practice.actor, service=practice.check_up, data={"recall_months": 12})
    scheduling_settings_update(actor=practice.actor, data={"time_zone": "Europe/Berlin"})

    _done(practice, practice.book())
    _done(practice, practice.book(contact=str(practice.jan.pk), practitioner=str(practice.dr_alice.pk)))

    assert Recall.objects.get(contact=practice.greta).due_on == date(2031, 1, 7)
    assert Recall.objects.get(contact=practice.jan).due_on == date(2030, 4, 7)


def test_a_restricted_persons_recall_and_appointment_are_kept_as_they_stand(practice):
    """Automation marks nobody's recall due whose processing is restricted, and staff cannot
    change such a person's appointment's status either."""
    from custos.core.errors import Conflict
    from custos.privacy.services.restriction import subject_restrict

    greta_s = _recall(practice)
    jan_s = _recall(practice, contact=practice.jan)
    appointment = practice.book()
    subject_restrict(actor=practice.actor, subject=practice.greta.subject, inform=False)

    assert recalls_mark_due(actor=practice.actor, today=date(2030, 1, 1)) == 1
    assert (Recall.objects.get(pk=greta_s.pk).status, Recall.objects.get(pk=jan_s.pk).status) == ("waiting", "due")
    for status in ("confirmed", "cancelled", "done"):
        with pytest.raises(Conflict, match="restricted"):
            appointment_set_status(actor=practice.actor, appointment=appointment, status=status, now=AFTER_MONDAY)
    assert Appointment.objects.get(pk=appointment.pk).status == appointment.status


def test_a_booked_recall_is_not_reopened_while_its_appointment_stands(practice):
    """Reopened by hand, it could be booked a second time; stopped and resumed, too."""
    refused = [
        {
            "field": "status",
            "message": "An appointment is booked from this recall: cancel it before reopening the recall.",
        }
    ]
    recall = _recall(practice)
    appointment = practice.book(recall=str(recall.pk))
    before = audit_actions(practice.cast.org_a)

    for status in ("waiting", "due"):
        with pytest.raises(ValidationFailed) as excinfo:
            recall_update(actor=practice.actor, recall=recall, data={"status": status})
        assert _errors(excinfo) == refused, status
    recall_update(actor=practice.actor, recall=recall, data={"due_on": "2020-01-01"})
    assert Recall.objects.get(pk=recall.pk).status == "booked"
    recall_update(actor=practice.actor, recall=recall, data={"status": "stopped"})
    with pytest.raises(ValidationFailed) as resumed:
        recall_update(actor=practice.actor, recall=recall, data={"status": "waiting"})

    assert _errors(resumed) == refused
    assert Recall.objects.get(pk=recall.pk).status == "stopped"
    assert audit_actions(practice.cast.org_a) == [*before, "recall.update", "recall.update"]
    appointment_set_status(actor=practice.actor, appointment=appointment, status="cancelled")
    recall_update(actor=practice.actor, recall=recall, data={"status": "waiting"})
    assert Recall.objects.get(pk=recall.pk).status == "due"  # resumed, and its day (2020) has come


def test_a_recall_moved_to_another_day_is_due_or_waiting_by_that_day(practice):
    due = _recall(practice, due_on="2020-01-01", status="due")
    waiting = _recall(practice, contact=practice.jan, due_on="2099-01-01")
    stopped = _recall(practice, service=str(practice.cleaning.pk), due_on="2099-01-01", status="stopped")

    recall_update(actor=practice.actor, recall=due, data={"due_on": "2099-01-01"})
    assert (last_audit(practice.cast.org_a).action, last_audit(practice.cast.org_a).fields) == (
        "recall.update",
        ["due_on", "status"],
    )
    recall_update(actor=practice.actor, recall=waiting, data={"due_on": "2020-01-01"})
    recall_update(actor=practice.actor, recall=stopped, data={"due_on": "2020-01-01"})

    statuses = dict(Recall.objects.values_list("pk", "status"))
    assert (statuses[due.pk], statuses[waiting.pk], statuses[stopped.pk]) == ("waiting", "due", "stopped")


def test_an_extra_visit_done_leaves_the_check_up_booked_from_the_recall_standing(practice):
    """An emergency visit of the same service is done; the booked check-up still comes."""
    recall = _recall(practice, due_on="2030-03-01")
    check_up = practice.book(recall=str(recall.pk), starts_at="2030-03-04T09:00:00+01:00")
    emergency = practice.book(starts_at="2030-01-07T11:00:00+01:00")

    _done(practice, emergency)

    after = Recall.objects.get(pk=recall.pk)
    assert (after.status, after.due_on, after.last_done_on) == ("booked", date(2030, 3, 1), date(2030, 1, 7))
    assert Appointment.objects.get(pk=check_up.pk).status == "booked"


def test_a_recall_whose_day_has_come_is_due_at_once(practice):
    """Entered, resumed or moved on by a visit recorded late, a recall whose day has passed is
    one to book now: in the due list at once, not only after the next nightly run."""
    overdue = _recall(practice, due_on="2020-01-01")
    ahead = _recall(practice, contact=practice.jan, due_on="2099-01-01")
    stopped = _recall(practice, service=str(practice.cleaning.pk), due_on="2020-01-01", status="stopped")
    recall_update(actor=practice.actor, recall=stopped, data={"status": "waiting"})
    old_visit = practice.book(contact=str(practice.jan.pk), starts_at="2020-01-06T09:00:00+01:00")
    _done(practice, old_visit, now=utc("2026-01-05T12:00:00+01:00"))

    statuses = dict(Recall.objects.values_list("pk", "status"))
    assert (statuses[overdue.pk], statuses[stopped.pk]) == ("due", "due")
    after = Recall.objects.get(pk=ahead.pk)
    assert (after.status, after.due_on) == ("due", date(2020, 7, 6))
