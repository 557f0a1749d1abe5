"""A task's reminder: mailed once to its assignee over real SMTP, in their language and time
zone, with a link and never the task's title or details; again when it moves; never for a
task done or a member gone."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from custos.accounts.models import Membership, User
from custos.core.periodic import JOBS
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity
from custos.crm.services.activities import activity_complete, activity_create, activity_update
from custos.crm.services.people import contact_create
from custos.crm.services.reminders import TaskReminderNotSent, task_reminder_send, task_reminders_claim
from custos.crm.tasks import send_task_reminders
from custos.testing import run_tasks, web_client

TITLE = "Call Anna Schmidt about her crown"
DETAILS = "Allergic to penicillin"


def _body(message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")


def _task(cast, *, remind_in=timedelta(minutes=-1), owner=None, **data):
    """A task of Alice's on a contact, due in two hours, its reminder `remind_in` from now."""
    now = timezone.now()
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        contact = contact_create(actor=actor, data={"first_name": "Anna", "last_name": "Schmidt"})
        return activity_create(
            actor=actor,
            data={
                "kind": "task",
                "title": TITLE,
                "body": DETAILS,
                "contact": str(contact.pk),
                "due_at": (now + timedelta(hours=2)).isoformat(),
                "reminder_at": (now + remind_in).isoformat(),
                "owner": str((owner or cast.alice).pk),
                **data,
            },
        )


def test_the_job_mails_each_due_reminder_once_to_the_assignee(cast, smtp_server):
    task = _task(cast)

    assert send_task_reminders.call() == 1
    assert run_tasks() == 1
    assert send_task_reminders.call() == 0
    assert run_tasks() == 0

    (message,) = smtp_server.wait_for(1)
    assert smtp_server.wait_for(2, timeout=0.3) == [message]
    assert message["To"] == "alice@acme.example"
    body = _body(message)
    assert f"/activities/{task.pk}/edit/?org={cast.org_a.pk}" in body
    for secret in ("Anna", "Schmidt", "crown", "penicillin"):
        assert secret not in body and secret not in message["Subject"]
    (job,) = DBTaskResult.objects.filter(task_path="custos.crm.tasks.send_task_reminder")
    org_id, task_id, claimed_at = job.args_kwargs["args"]
    assert (org_id, task_id, job.args_kwargs["kwargs"]) == (str(cast.org_a.pk), str(task.pk), {})
    with tenant_scope(cast.org_a):
        assert timezone.datetime.fromisoformat(claimed_at) == Activity.objects.get(pk=task.pk).reminded_at
    assert "example" not in json.dumps(job.args_kwargs)


def test_the_job_runs_every_few_minutes():
    (job,) = [job for job in JOBS if job.task == "custos.crm.tasks.send_task_reminders"]
    assert job.every <= timedelta(minutes=5)


def test_the_mail_is_in_the_assignees_language_and_time_zone(cast, smtp_server):
    User.objects.filter(pk=cast.alice.pk).update(language="de", time_zone="America/New_York")
    due = timezone.datetime(2030, 1, 7, 15, 30, tzinfo=timezone.UTC)  # 10:30 in New York
    _task(cast, due_at=due.isoformat(), reminder_at=(due - timedelta(hours=1)).isoformat())
    now = due - timedelta(minutes=50)
    with tenant_scope(cast.org_a):
        (claimed,) = task_reminders_claim(now=now)
        assert task_reminder_send(org_id=cast.org_a.pk, activity_id=claimed, claimed_at=now)

    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Erinnerung: Eine Aufgabe ist am 07.01.2030 um 10:30 Uhr fällig"
    assert "Titel und Details der Aufgabe bleiben in Custos" in _body(message)


def test_a_reminder_waits_for_its_time(cast):
    _task(cast, remind_in=timedelta(minutes=30))
    with tenant_scope(cast.org_a):
        assert task_reminders_claim() == []
        assert len(task_reminders_claim(now=timezone.now() + timedelta(minutes=31))) == 1


def test_no_mail_for_a_task_done_unassigned_or_of_someone_gone(cast, smtp_server):
    done = _task(cast)
    nobody = _task(cast)
    gone = _task(cast, owner=cast.sam)
    with tenant_scope(cast.org_a):
        activity_complete(actor=cast.actor(cast.alice), activity=done)
        Activity.objects.filter(pk=nobody.pk).update(owner=None)
        Membership.objects.filter(org=cast.org_a, user=cast.sam).update(is_active=False)
        now = timezone.now()
        claimed = task_reminders_claim(now=now)
        assert set(claimed) == {nobody.pk, gone.pk}
        sent = [task_reminder_send(org_id=cast.org_a.pk, activity_id=pk, claimed_at=now) for pk in claimed]
        assert sent == [False, False]
    assert smtp_server.wait_for(1, timeout=0.3) == []


def test_a_moved_reminder_is_sent_again(cast):
    task = _task(cast)
    with tenant_scope(cast.org_a):
        assert task_reminders_claim() == [task.pk]
        task = Activity.objects.get(pk=task.pk)
        activity_update(actor=cast.actor(cast.alice), activity=task, data={"title": "Call again"})
        assert task_reminders_claim() == []  # the title changed, not the reminder
        later = timezone.now() + timedelta(minutes=1)
        activity_update(actor=cast.actor(cast.alice), activity=task, data={"reminder_at": later.isoformat()})
        assert task_reminders_claim(now=later + timedelta(seconds=1)) == [task.pk]


def test_a_claim_moved_or_claimed_again_since_sends_nothing(cast, smtp_server):
    """The person moved the reminder after the job claimed it: the old claim's mail does not
    go, the new time's does, once."""
    task = _task(cast)
    first = timezone.now()
    with tenant_scope(cast.org_a):
        assert task_reminders_claim(now=first) == [task.pk]
        moved = first + timedelta(minutes=1)
        activity_update(
            actor=cast.actor(cast.alice),
            activity=Activity.objects.get(pk=task.pk),
            data={"reminder_at": moved.isoformat()},
        )
        assert not task_reminder_send(org_id=cast.org_a.pk, activity_id=task.pk, claimed_at=first)
        second = moved + timedelta(seconds=1)
        assert task_reminders_claim(now=second) == [task.pk]
        assert not task_reminder_send(org_id=cast.org_a.pk, activity_id=task.pk, claimed_at=first)
        assert task_reminder_send(org_id=cast.org_a.pk, activity_id=task.pk, claimed_at=second)
    (message,) = smtp_server.wait_for(1)
    assert smtp_server.wait_for(2, timeout=0.3) == [message]


def test_a_task_handed_to_someone_else_reminds_them(cast):
    task = _task(cast)
    with tenant_scope(cast.org_a):
        assert task_reminders_claim() == [task.pk]
        activity_update(
            actor=cast.actor(cast.alice), activity=Activity.objects.get(pk=task.pk), data={"owner": str(cast.sam.pk)}
        )
        assert task_reminders_claim() == [task.pk]


def test_a_reminder_long_past_is_marked_not_sent(cast):
    """The worker was down for days: a flood of late reminders helps nobody."""
    stale = _task(cast, remind_in=timedelta(days=-2))
    with tenant_scope(cast.org_a):
        assert task_reminders_claim() == []
        assert Activity.objects.get(pk=stale.pk).reminded_at is not None


def test_a_refused_mail_gives_the_claim_back_for_the_next_run(cast, settings):
    task = _task(cast)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},  # discard: nothing listens
        }
    }
    now = timezone.now()
    with tenant_scope(cast.org_a):
        (claimed,) = task_reminders_claim(now=now)
        with pytest.raises(TaskReminderNotSent) as excinfo:
            task_reminder_send(org_id=cast.org_a.pk, activity_id=claimed, claimed_at=now)
        assert "example" not in str(excinfo.value) and str(task.pk) in str(excinfo.value)
        assert task_reminders_claim() == [task.pk]


def test_each_organisation_claims_only_its_own(cast):
    _task(cast)
    with tenant_scope(cast.org_b):
        assert task_reminders_claim() == []


def test_the_reminder_is_set_on_the_task_form_and_shown_on_the_timeline(cast):
    with tenant_scope(cast.org_a):
        contact = contact_create(actor=cast.actor(cast.alice), data={"last_name": "Berg"})
    client = web_client(cast.alice)
    response = client.post(
        f"/contacts/{contact.pk}/activities/",
        {
            "kind": "task",
            "title": "Send the offer",
            "due_at": "2030-01-07T10:00",
            "reminder_at": "2030-01-07T09:00",
            "owner": str(cast.alice.pk),
        },
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        task = Activity.objects.get(title="Send the offer")
    assert timezone.localtime(task.reminder_at).strftime("%Y-%m-%d %H:%M") == "2030-01-07 09:00"
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert 'name="reminder_at"' in page and 'datetime="2030-01-07T09:00:00+01:00"' in page

    response = client.post(
        f"/contacts/{contact.pk}/activities/",
        {"kind": "task", "title": "Late", "due_at": "2030-01-07T10:00", "reminder_at": "2030-01-07T11:00"},
    )
    assert "Remind before the task is due." in response.content.decode()


def test_reminders_past_when_mailing_began_are_marked_as_gone(cast):
    """Migration crm 0017 marks, organisation by organisation (as row-level security needs),
    the reminders whose time had passed: nobody set them expecting a mail."""
    import importlib

    from django.apps import apps

    past = _task(cast, remind_in=timedelta(hours=-2))
    ahead = _task(cast, remind_in=timedelta(hours=1))
    with tenant_scope(cast.org_a):
        Activity.objects.update(reminded_at=None)
    importlib.import_module("custos.crm.migrations.0017_task_reminders")._mark_past(apps, None)
    with tenant_scope(cast.org_a):
        assert Activity.objects.get(pk=past.pk).reminded_at == Activity.objects.get(pk=past.pk).reminder_at
        assert Activity.objects.get(pk=ahead.pk).reminded_at is None
        assert task_reminders_claim() == []
