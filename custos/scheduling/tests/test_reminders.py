"""Reminder mails: sent once, over real SMTP, in the contact's or the reminder language, never with clinical details."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create, contact_update
from custos.privacy.models import Subject
from custos.scheduling.models import Appointment
from custos.scheduling.services.appointments import appointment_set_status, appointment_update
from custos.scheduling.services.catalogue import scheduling_settings_update, service_update
from custos.scheduling.services.reminders import ReminderNotSent, reminder_send, reminders_claim
from custos.scheduling.tasks import send_reminders
from custos.scheduling.tests.helpers import audit_actions, make_practice, utc
from custos.testing import run_tasks

CLINICAL = "Suspected abscess, on amoxicillin"
NOTES = "Anxious patient, offer sedation"
# An appointment on Monday 7 January 2030 at 9:00 in Berlin; its reminder is due from 9:00 the day before.
SUNDAY_10 = utc("2030-01-06T10:00:00+01:00")


@pytest.fixture
def practice(cast, as_tenant):
    return make_practice(cast)


def _body(message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


def _soon(practice, hours=3, **data):
    start = (timezone.now() + timedelta(hours=hours)).replace(microsecond=0)
    return practice.book(starts_at=start.isoformat(), **data)


def test_the_job_sends_each_due_reminder_once_over_smtp(practice, smtp_server):
    appointment = _soon(practice, resource=str(practice.chair.pk), clinical_details=CLINICAL, notes=NOTES)

    assert send_reminders.call() == 1
    assert run_tasks() == 1
    assert send_reminders.call() == 0
    assert run_tasks() == 0

    (message,) = smtp_server.wait_for(1)
    assert smtp_server.wait_for(2, timeout=0.3) == [message]
    assert message["To"] == "greta@example.org"
    body = _body(message)
    assert "Check-up" in body
    assert "Chair 1" in body
    assert "Acme Praxis" in body
    for secret in ("abscess", "amoxicillin", "sedation", "Anxious"):
        assert secret not in body
        assert secret not in message["Subject"]
    assert Appointment.objects.get(pk=appointment.pk).reminder_sent_at is not None
    assert audit_actions(practice.cast.org_a, "appointment.remind") == ["appointment.remind"]


def test_the_task_payload_holds_ids_only(practice, smtp_server):
    appointment = _soon(practice)

    send_reminders.call()
    run_on_commit_only = DBTaskResult.objects.count()
    assert run_on_commit_only == 0  # enqueued when the claim commits
    run_tasks()

    (task,) = DBTaskResult.objects.filter(task_path="custos.scheduling.tasks.send_appointment_reminder")
    assert task.args_kwargs == {"args": [str(practice.cast.org_a.pk), str(appointment.pk)], "kwargs": {}}
    assert "example.org" not in json.dumps(task.args_kwargs)
    assert task.status == "SUCCESSFUL"


def test_the_mail_is_in_the_reminder_language_with_local_times(practice, smtp_server):
    practice.book(resource=str(practice.room.pk))  # Monday 7 January 2030, 9:00 in Berlin
    (claimed,) = reminders_claim(org_id=practice.cast.org_a.pk, now=SUNDAY_10)

    assert reminder_send(org_id=practice.cast.org_a.pk, appointment_id=claimed, now=SUNDAY_10) is True

    (german,) = smtp_server.wait_for(1)
    assert german["Subject"] == "Erinnerung: Ihr Termin am 07.01.2030 um 09:00"
    body = _body(german)
    assert body.startswith("Guten Tag Greta Lind,")
    assert "wir möchten Sie an Ihren Termin bei Acme Praxis erinnern:" in body
    assert "7. Januar 2030, 09:00–09:30" in body
    assert "Room 2" in body


def test_the_organisation_chooses_the_language_and_time_zone(practice, smtp_server):
    scheduling_settings_update(actor=practice.actor, data={"language": "en", "time_zone": "Europe/London"})
    practice.book()
    (claimed,) = reminders_claim(org_id=practice.cast.org_a.pk, now=SUNDAY_10)

    reminder_send(org_id=practice.cast.org_a.pk, appointment_id=claimed, now=SUNDAY_10)

    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Reminder: your appointment on 01/07/2030 at 8 a.m."
    body = _body(message)
    assert body.startswith("Hello Greta Lind,")
    assert "Jan. 7, 2030, 8 a.m.–8:30 a.m." in body


def test_a_reminder_waits_for_its_time_before_the_start(practice):
    appointment = practice.book()
    org_id = practice.cast.org_a.pk

    assert reminders_claim(org_id=org_id, now=utc("2030-01-06T08:59:00+01:00")) == []
    assert reminders_claim(org_id=org_id, now=utc("2030-01-06T09:00:00+01:00")) == [appointment.pk]
    assert reminders_claim(org_id=org_id, now=utc("2030-01-06T09:15:00+01:00")) == []


def test_the_service_and_the_organisation_set_how_long_before(practice):
    org_id = practice.cast.org_a.pk
    service_update(actor=practice.actor, service=practice.cleaning, data={"reminder_hours": 72})
    scheduling_settings_update(actor=practice.actor, data={"reminder_hours": 2})
    check_up = practice.book()
    cleaning = practice.book(service=str(practice.cleaning.pk), practitioner=str(practice.dr_alice.pk))

    assert reminders_claim(org_id=org_id, now=utc("2030-01-04T09:00:00+01:00")) == [cleaning.pk]
    assert reminders_claim(org_id=org_id, now=utc("2030-01-07T06:59:00+01:00")) == []
    assert reminders_claim(org_id=org_id, now=utc("2030-01-07T07:00:00+01:00")) == [check_up.pk]


def test_no_reminder_when_not_wanted_not_possible_or_not_allowed(practice):
    org_id = practice.cast.org_a.pk
    unwanted = practice.book(send_reminder=False)
    no_email = practice.book(contact=str(practice.jan.pk), practitioner=str(practice.dr_alice.pk))
    cancelled = practice.book(starts_at="2030-01-07T10:00:00+01:00")
    appointment_set_status(actor=practice.actor, appointment=cancelled, status="cancelled")
    restricted = practice.book(starts_at="2030-01-07T11:00:00+01:00")
    Subject.objects.filter(pk=practice.greta.subject_id).update(state=Subject.State.RESTRICTED)

    assert reminders_claim(org_id=org_id, now=SUNDAY_10) == []
    assert reminders_claim(org_id=org_id, now=utc("2030-01-07T12:00:00+01:00")) == []  # all in the past
    assert not Appointment.objects.filter(reminder_sent_at__isnull=False).exists()
    assert {unwanted.pk, no_email.pk, restricted.pk} <= set(Appointment.objects.values_list("pk", flat=True))


def test_a_claim_is_not_sent_when_the_person_no_longer_may_get_it(practice, smtp_server):
    appointment = practice.book()
    (claimed,) = reminders_claim(org_id=practice.cast.org_a.pk, now=SUNDAY_10)
    appointment_set_status(actor=practice.actor, appointment=appointment, status="cancelled")

    assert reminder_send(org_id=practice.cast.org_a.pk, appointment_id=claimed, now=SUNDAY_10) is False
    assert smtp_server.wait_for(1, timeout=0.3) == []


def test_a_moved_appointment_is_reminded_again(practice):
    org_id = practice.cast.org_a.pk
    appointment = practice.book()
    reminders_claim(org_id=org_id, now=SUNDAY_10)

    appointment_update(actor=practice.actor, appointment=appointment, data={"notes": "Bring the X-ray"})
    assert Appointment.objects.get(pk=appointment.pk).reminder_sent_at is not None
    appointment_update(actor=practice.actor, appointment=appointment, data={"starts_at": "2030-01-08T09:00:00+01:00"})

    assert Appointment.objects.get(pk=appointment.pk).reminder_sent_at is None
    assert reminders_claim(org_id=org_id, now=utc("2030-01-07T09:00:00+01:00")) == [appointment.pk]


def test_an_appointment_given_to_another_person_reminds_them(practice):
    """The reminder went to the first person: the one who has the appointment now has had none."""
    org_id = practice.cast.org_a.pk
    hans = contact_create(actor=practice.actor, data={"last_name": "Lind", "email": "hans@example.org"})
    appointment = practice.book()
    reminders_claim(org_id=org_id, now=SUNDAY_10)

    appointment_update(actor=practice.actor, appointment=appointment, data={"contact": str(practice.greta.pk)})
    assert Appointment.objects.get(pk=appointment.pk).reminder_sent_at is not None
    appointment_update(actor=practice.actor, appointment=appointment, data={"contact": str(hans.pk)})

    assert Appointment.objects.get(pk=appointment.pk).reminder_sent_at is None
    assert reminders_claim(org_id=org_id, now=SUNDAY_10) == [appointment.pk]


def test_a_refused_mail_gives_the_claim_back_for_the_next_run(practice, settings):
    appointment = practice.book()
    (claimed,) = reminders_claim(org_id=practice.cast.org_a.pk, now=SUNDAY_10)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},  # discard: nothing listens
        }
    }

    with pytest.raises(ReminderNotSent) as excinfo:
        reminder_send(org_id=practice.cast.org_a.pk, appointment_id=claimed, now=SUNDAY_10)

    assert "example.org" not in str(excinfo.value)
    assert str(appointment.pk) in str(excinfo.value)
    assert Appointment.objects.get(pk=appointment.pk).reminder_sent_at is None
    assert "appointment.remind" not in audit_actions(practice.cast.org_a)
    assert reminders_claim(org_id=practice.cast.org_a.pk, now=SUNDAY_10) == [appointment.pk]


def test_each_organisation_reminds_only_its_own(cast, smtp_server):
    with tenant_scope(cast.org_a):
        practice = make_practice(cast)
        _soon(practice)

    with tenant_scope(cast.org_b):
        assert reminders_claim(org_id=cast.org_b.pk) == []


def test_the_mail_is_in_the_contacts_own_language_when_they_have_one(practice, smtp_server):
    """Greta reads Polish; the practice writes German to everyone else."""
    contact_update(actor=practice.actor, contact=practice.greta, data={"language": "pl"})
    practice.book()
    jan = practice.book(contact=str(practice.jan.pk), starts_at="2030-01-07T10:00:00+01:00")
    Contact.objects.filter(pk=practice.jan.pk).update(email="jan@example.org")
    claimed = reminders_claim(org_id=practice.cast.org_a.pk, now=SUNDAY_10)
    assert len(claimed) == 2 and jan.pk in claimed

    for appointment_id in claimed:
        reminder_send(org_id=practice.cast.org_a.pk, appointment_id=appointment_id, now=SUNDAY_10)

    (polish,) = smtp_server.sent_to("greta@example.org")
    assert polish["Subject"] == "Przypomnienie o wizycie 07-01-2030 o godz. 09:00"  # dates as Polish readers write them
    (german,) = smtp_server.sent_to("jan@example.org")
    assert german["Subject"] == "Erinnerung: Ihr Termin am 07.01.2030 um 10:00"
