"""The 72-hour clock reminds the privacy officers: with 24 hours left and once overdue, once
each, without anything from the breach's description in the mail."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from custos.core.periodic import JOBS
from custos.core.tenancy import tenant_scope
from custos.privacy.models import Breach
from custos.privacy.services.breaches import breach_create, breach_mark_authority_notified
from custos.privacy.tasks import ReminderNotSent, remind_breach_clocks, send_breach_clock_reminder
from custos.testing import run_tasks

SECRET_TITLE = "Laptop of Dr. Greta Lindqvist stolen"


def _breach(cast, hours_ago, title=SECRET_TITLE):
    with tenant_scope(cast.org_a):
        return breach_create(
            actor=cast.actor(cast.alice),
            data={
                "title": title,
                "aware_at": timezone.now() - timedelta(hours=hours_ago),
                "nature": "Patient list of greta@example.org on it",
            },
        )


def _run():
    remind_breach_clocks.call()
    return run_tasks()


def test_the_officers_hear_at_24_hours_left_and_when_overdue_once_each(cast, smtp_server):
    breach = _breach(cast, hours_ago=50)
    _breach(cast, hours_ago=10, title="Fresh breach")  # 62 hours left: nobody is bothered yet

    _run()
    _run()  # a second run sends nothing new

    # Olive (owner) and Alice (admin) may change breaches; Bob (read-only) and Sam (sales) may not.
    first = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in first) == ["alice@acme.example", "olive@acme.example"]
    body = first[0].get_content()
    assert "21 hours are left." in body or "22 hours are left." in body
    assert f"/privacy/breaches/{breach.pk}/?org={cast.org_a.pk}" in body
    for text in (body, first[0]["Subject"]):
        assert "Greta" not in text and "greta" not in text and "Laptop" not in text and "Patient" not in text
    with tenant_scope(cast.org_a):
        assert Breach.objects.get(pk=breach.pk).clock_reminders == ["24h"]

    with tenant_scope(cast.org_a):
        Breach.objects.filter(pk=breach.pk).update(aware_at=timezone.now() - timedelta(hours=75))
    _run()
    _run()

    messages = smtp_server.wait_for(4)
    assert len(messages) == 4
    overdue = messages[2]
    assert overdue["Subject"].strip().startswith("Overdue")
    assert "The deadline passed 3 hours ago." in overdue.get_content()
    with tenant_scope(cast.org_a):
        assert Breach.objects.get(pk=breach.pk).clock_reminders == ["24h", "overdue"]


def test_a_breach_reported_or_found_late_gets_only_what_still_applies(cast, smtp_server):
    reported = _breach(cast, hours_ago=60)
    late = _breach(cast, hours_ago=100, title="Found late")
    with tenant_scope(cast.org_a):
        breach_mark_authority_notified(actor=cast.actor(cast.alice), breach=reported)

    _run()

    messages = smtp_server.wait_for(2)
    assert len(messages) == 2 and all(m["Subject"].strip().startswith("Overdue") for m in messages)
    with tenant_scope(cast.org_a):
        assert Breach.objects.get(pk=reported.pk).clock_reminders == []
        assert Breach.objects.get(pk=late.pk).clock_reminders == ["overdue"]


def test_a_reminder_queued_before_the_authority_was_notified_is_not_sent(cast, smtp_server):
    breach = _breach(cast, hours_ago=50)
    remind_breach_clocks.call()
    with tenant_scope(cast.org_a):
        breach_mark_authority_notified(actor=cast.actor(cast.alice), breach=breach)

    run_tasks()

    assert smtp_server.messages == []  # the send is synchronous: nothing went


def test_the_job_is_registered_like_the_request_reminders():
    [job] = [j for j in JOBS if j.name == "privacy.remind_breach_clocks"]
    assert import_string(job.task) is remind_breach_clocks
    assert job.every <= timedelta(hours=1)


def test_a_refused_reminder_is_given_back_and_sent_by_the_next_run(cast, settings):
    breach = _breach(cast, hours_ago=50)
    with tenant_scope(cast.org_a):
        Breach.objects.filter(pk=breach.pk).update(clock_reminders=["24h"])
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},  # discard: nothing listens
        }
    }

    with pytest.raises(ReminderNotSent) as refused:
        send_breach_clock_reminder.call(str(cast.org_a.pk), str(breach.pk), "24h")

    assert "example" not in str(refused.value) and "Greta" not in str(refused.value)
    with tenant_scope(cast.org_a):
        assert Breach.objects.get(pk=breach.pk).clock_reminders == []  # the next run takes it again


def test_each_officer_reads_the_deadline_in_their_own_time_zone(cast, smtp_server):
    from django.utils.formats import date_format

    from custos.privacy.services.breaches import breach_clock

    cast.alice.time_zone = "Asia/Dubai"
    cast.alice.save(update_fields=["time_zone"])
    breach = _breach(cast, hours_ago=50)

    _run()

    mails = {m["To"]: m for m in smtp_server.wait_for(2)}
    due = breach_clock(breach).due_at
    with timezone.override("Asia/Dubai"):
        in_dubai = date_format(timezone.localtime(due), "DATETIME_FORMAT")
    with timezone.override("Europe/Berlin"):
        in_berlin = date_format(timezone.localtime(due), "DATETIME_FORMAT")
    assert f"{in_dubai} (Asia/Dubai)" in mails["alice@acme.example"].get_content()
    assert f"{in_berlin} (Europe/Berlin)" in mails["olive@acme.example"].get_content()
