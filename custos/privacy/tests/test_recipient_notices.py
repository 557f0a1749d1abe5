"""Art. 19 notices: a restriction set or lifted directly tells the recipients as a request's
does, once; a notice the process did not live to mail is sent by the sweeper, once, even with
two sweepers; a refused mail is tried again, then given up; a rectification passes on the
values as stored. Mail goes over real SMTP on loopback."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from custos.audit.models import AuditEntry
from custos.core.models import Organization
from custos.core.periodic import JOBS
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import PrivacyRequest, RecipientNotice, Subject
from custos.privacy.services.processors import (
    MAX_ATTEMPTS,
    SWEEP_AFTER,
    _claim,
    processor_create,
    recipients_inform,
    recipients_sweep,
)
from custos.privacy.services.requests import (
    privacy_settings_update,
    request_complete,
    request_create,
    request_verify,
)
from custos.privacy.services.restriction import subject_lift_restriction, subject_restrict
from custos.privacy.tasks import send_recipient_notices
from custos.testing import on_postgres, run_tasks

EMAIL = "greta@example.org"
MAILER = "privacy@rundbrief.example"
HOSTER = "dpo@hosting.example"


def _setup(cast, *, recipients=(("Rundbrief GmbH", MAILER),)):
    """Org A informs recipients; Greta is a contact; returns her subject. The organisation is
    in Ireland: the mails are in English (new wording is translated later)."""
    Organization.objects.filter(pk=cast.org_a.pk).update(country="IE")
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        privacy_settings_update(actor=actor, data={"inform_recipients": True})
        for name, address in recipients:
            processor_create(
                actor=actor,
                data={
                    "name": name,
                    "service": "newsletter delivery",
                    "location": "DE",
                    "safeguard": "none_needed",
                    "contact_email": address,
                    "inform_of_changes": True,
                },
            )
        contact = contact_create(
            actor=actor,
            data={"first_name": "Greta", "last_name": "Lindqvist", "email": EMAIL, "phone": "+49 30 1234567"},
        )
        return Subject.objects.get(pk=contact.subject_id)


def _completed(cast, kind, **details):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        request = request_create(actor=actor, kind=kind, email=EMAIL, details=details or None)
        request_verify(actor=actor, request=request, reason="ID card seen")
        return request_complete(actor=actor, request=request)


def _notices():
    return list(RecipientNotice.objects.order_by("created_at", "pk"))


def _crash():
    """The process dies after the commit, before the mail: what it would have run is lost."""
    connection.run_on_commit.clear()


def _sweep(cast, minutes=0):
    return recipients_sweep(cast.org_a.pk, now=timezone.now() + dt.timedelta(minutes=minutes))


def _ids_only_in_audit_and_tasks(*texts):
    """Audit entries and task payloads, results and tracebacks hold no personal value."""
    stored = json.dumps(
        [
            list(AuditEntry.objects.unscoped().values_list("extra", flat=True)),
            list(DBTaskResult.objects.values_list("args_kwargs", "return_value", "traceback")),
        ],
        default=str,
    )
    for text in texts:
        assert text not in stored


# A restriction set or lifted directly --------------------------------------------------------


def test_a_direct_restriction_tells_the_recipients_once_and_so_does_its_lifting(cast, smtp_server):
    subject = _setup(cast, recipients=(("Rundbrief GmbH", MAILER), ("Hosting AG", HOSTER)))
    actor = cast.actor(cast.alice)

    with tenant_scope(cast.org_a):
        subject_restrict(actor=actor, subject=subject)
        subject_restrict(actor=actor, subject=subject)  # restricted already: nothing new to tell
    run_tasks()

    messages = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in messages) == [HOSTER, MAILER]
    mail = smtp_server.sent_to(MAILER)[0]
    assert mail["Subject"].startswith("Restriction of processing: Acme Praxis") and "Art. 19" in mail["Subject"]
    body = mail.get_content()
    assert EMAIL in body and subject.reference in body
    assert "at the request of" not in body  # staff restricted; nobody asked
    assert "Greta" not in body and "1234567" not in body
    with tenant_scope(cast.org_a):
        # Each recorded right after its mail went.
        entries = AuditEntry.objects.filter(action="subject.inform_recipients")
        assert {e.object_id for e in entries} == {str(subject.pk)}
        assert [(e.extra["kind"], e.extra["failed"], len(e.extra["informed"])) for e in entries] == [
            ("restriction", 0, 1)
        ] * 2
        assert [(n.status, n.details, n.attempts) for n in _notices()] == [("informed", "", 1)] * 2
    _ids_only_in_audit_and_tasks(EMAIL, "greta@")

    with tenant_scope(cast.org_a):
        subject_lift_restriction(actor=actor, subject=subject)
        subject_lift_restriction(actor=actor, subject=subject)  # not restricted any more
    run_tasks()

    assert len(smtp_server.wait_for(4)) == 4
    lifted = smtp_server.sent_to(MAILER)[1]
    assert lifted["Subject"].startswith("Restriction of processing lifted")
    assert EMAIL in lifted.get_content()
    assert _sweep(cast, minutes=60) == 0  # everything went: the sweeper has nothing to send
    assert len(smtp_server.messages) == 4


def test_a_restriction_request_tells_once_and_not_again_if_staff_restricted_first(cast, smtp_server):
    subject = _setup(cast)

    done = _completed(cast, "restriction")
    run_tasks()

    assert [m["To"] for m in smtp_server.wait_for(1)] == [MAILER]
    assert "at the request of the person" in smtp_server.messages[0].get_content()
    with tenant_scope(cast.org_a):
        assert [n.request_id for n in _notices()] == [done.pk]  # one notice, the request's
        [entry] = PrivacyRequest.objects.get(pk=done.pk).result["recipients"]
        assert entry["status"] == "informed"
        assert not AuditEntry.objects.filter(action="subject.inform_recipients").exists()
        subject_lift_restriction(actor=cast.actor(cast.alice), subject=subject)
        subject_restrict(actor=cast.actor(cast.alice), subject=subject)
    run_tasks()
    assert len(smtp_server.wait_for(3)) == 3  # lifted, restricted again: one each

    again = _completed(cast, "restriction")  # restricted already: told when it was
    run_tasks()

    assert "recipients" not in again.result
    assert len(smtp_server.messages) == 3
    with tenant_scope(cast.org_a):
        assert len(_notices()) == 3


def test_nobody_is_told_when_the_organisation_does_not_inform_recipients(cast, smtp_server):
    subject = _setup(cast)
    with tenant_scope(cast.org_a):
        privacy_settings_update(actor=cast.actor(cast.alice), data={"inform_recipients": False})
        subject_restrict(actor=cast.actor(cast.alice), subject=subject)
    run_tasks()

    assert _sweep(cast, minutes=60) == 0
    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert _notices() == []


# The sweeper ---------------------------------------------------------------------------------


def test_a_notice_left_pending_by_a_crash_is_sent_by_the_sweeper_once(cast, smtp_server):
    _setup(cast)
    done = _completed(cast, "erasure")
    _crash()

    assert _sweep(cast) == 0  # just recorded: its own after-commit send may still be on its way
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        assert (notice.status, notice.attempts) == ("pending", 0)
        assert EMAIL not in json.dumps(list(PrivacyRequest.objects.values("email", "details", "result")))

    assert send_recipient_notices.call() == 0  # the job, now: nothing due yet
    assert _sweep(cast, minutes=SWEEP_AFTER.total_seconds() / 60 + 1) == 1
    assert _sweep(cast, minutes=60) == 0  # sent: never again

    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == MAILER and EMAIL in mail.get_content()
    assert mail["Content-Language"] == "en"
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        assert (notice.status, notice.details, notice.attempts) == ("informed", "", 1) and notice.sent_at
        [entry] = PrivacyRequest.objects.get(pk=done.pk).result["recipients"]
        assert entry["status"] == "informed" and entry["at"]
        audit = AuditEntry.objects.get(action="privacy_request.inform_recipients")
        assert audit.extra == {"informed": [entry["processor"]], "failed": 0}
    _ids_only_in_audit_and_tasks(EMAIL)


def test_a_claimed_notice_is_one_process_s_and_the_after_commit_send_takes_only_a_fresh_one(cast, as_tenant):
    subject = _setup(cast)
    subject_restrict(actor=cast.actor(cast.alice), subject=subject)
    _crash()
    [notice] = _notices()
    later = timezone.now() + dt.timedelta(minutes=10)

    assert _claim(notice.pk, after_commit=False, now=timezone.now()) is None  # not due yet
    first = _claim(notice.pk, after_commit=False, now=later)
    second = _claim(notice.pk, after_commit=False, now=later)  # another sweeper, same moment
    late = _claim(notice.pk, after_commit=True, now=later)  # the after-commit send, slow to start

    assert first is not None and first.attempts == 1
    assert second is None and late is None
    assert RecipientNotice.objects.get(pk=notice.pk).next_attempt_at > later  # held until then

    # A notice whose every attempt was cut short (the process died while sending) is claimed once
    # more, and that attempt gives it up rather than mail it.
    RecipientNotice.objects.filter(pk=notice.pk).update(attempts=MAX_ATTEMPTS)
    far = later + dt.timedelta(days=7)
    assert recipients_inform(cast.org_a.pk, [notice.pk], now=far) == 0
    assert RecipientNotice.objects.filter(pk=notice.pk).values_list("status", "details").get() == ("failed", "")
    assert _claim(notice.pk, after_commit=False, now=far) is None


def test_a_claim_made_late_in_a_long_sweep_still_holds_from_when_it_was_made(cast, as_tenant):
    """A sweep works through its batch with the time it started; a notice it reaches ten
    minutes later (slow mail) must still be held from then, or the next run, started
    meanwhile, takes it too while it is being sent."""
    subject = _setup(cast)
    subject_restrict(actor=cast.actor(cast.alice), subject=subject)
    _crash()
    [notice] = _notices()
    started = timezone.now() - dt.timedelta(minutes=10)
    RecipientNotice.objects.filter(pk=notice.pk).update(next_attempt_at=started - dt.timedelta(minutes=1))

    assert _claim(notice.pk, after_commit=False, now=started) is not None
    assert RecipientNotice.objects.get(pk=notice.pk).next_attempt_at > timezone.now()
    assert _claim(notice.pk, after_commit=False, now=timezone.now()) is None  # the next run


def test_two_sweepers_at_once_send_each_notice_once(transactional_db, cast, smtp_server):
    if not on_postgres():
        pytest.skip("threads share one in-memory SQLite database only through one connection")
    addresses = [f"dpo{i}@recipient{i}.example" for i in range(12)]
    subject = _setup(cast, recipients=[(f"Recipient {i}", a) for i, a in enumerate(addresses)])
    with tenant_scope(cast.org_a), transaction.atomic():
        subject_restrict(actor=cast.actor(cast.alice), subject=subject)
        _crash()  # committed, but the process dies before the mails
    start = threading.Barrier(2)
    sent: list[int] = []

    def sweeper() -> None:
        try:
            start.wait()
            sent.append(_sweep(cast, minutes=10))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent) == len(addresses)
    messages = smtp_server.wait_for(len(addresses))
    assert sorted(m["To"] for m in messages) == sorted(addresses)  # each once
    with tenant_scope(cast.org_a):
        assert set(RecipientNotice.objects.values_list("status", "attempts")) == {("informed", 1)}
        entries = AuditEntry.objects.filter(action="subject.inform_recipients")
        assert sorted(i for e in entries for i in e.extra["informed"]) == sorted(
            str(pk) for pk in RecipientNotice.objects.values_list("processor_id", flat=True)
        )


def test_many_recipients_are_all_told_and_audited_by_id(cast, smtp_server):
    addresses = [f"dpo{i}@recipient{i}.example" for i in range(6)]
    _setup(cast, recipients=[(f"Recipient {i}", a) for i, a in enumerate(addresses)])

    done = _completed(cast, "erasure")
    run_tasks()

    assert sorted(m["To"] for m in smtp_server.wait_for(6)) == sorted(addresses)
    with tenant_scope(cast.org_a):
        result = PrivacyRequest.objects.get(pk=done.pk).result
        assert [e["status"] for e in result["recipients"]] == ["informed"] * 6
        entries = AuditEntry.objects.filter(action="privacy_request.inform_recipients")
        assert sorted(i for e in entries for i in e.extra["informed"]) == sorted(
            e["processor"] for e in result["recipients"]
        )
        assert sum(e.extra["failed"] for e in entries) == 0


def test_a_refused_mail_is_tried_again_later_and_given_up_in_the_end(cast, settings):
    _setup(cast)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},  # nothing listens there
        }
    }
    done = _completed(cast, "restriction")
    run_tasks()

    with tenant_scope(cast.org_a):
        [notice] = _notices()
        assert (notice.status, notice.attempts) == ("pending", 1) and notice.details
        [entry] = PrivacyRequest.objects.get(pk=done.pk).result["recipients"]
        assert entry["status"] == "pending" and entry["retry_at"] == notice.next_attempt_at.isoformat()
        audit = AuditEntry.objects.get(action="privacy_request.inform_recipients")
        assert (audit.extra["failed"], audit.extra["pending"]) == (0, 1)
    assert _sweep(cast, minutes=1) == 0  # not before its time
    with tenant_scope(cast.org_a):
        assert RecipientNotice.objects.get(pk=notice.pk).attempts == 1

    # The last attempt fails too: given up, and the values it held are gone.
    with tenant_scope(cast.org_a):
        RecipientNotice.objects.filter(pk=notice.pk).update(attempts=MAX_ATTEMPTS - 1)
    assert _sweep(cast, minutes=60 * 24) == 0
    with tenant_scope(cast.org_a):
        notice = RecipientNotice.objects.get(pk=notice.pk)
        assert (notice.status, notice.details, notice.attempts) == ("failed", "", MAX_ATTEMPTS)
        [entry] = PrivacyRequest.objects.get(pk=done.pk).result["recipients"]
        assert entry["status"] == "failed" and entry["reason"] == "attempts_used" and "retry_at" not in entry
        audit = AuditEntry.objects.filter(action="privacy_request.inform_recipients").order_by("seq").last()
        assert audit.extra == {"informed": [], "failed": 1, "reason": "attempts_used"}


def test_notices_to_one_recipient_about_one_person_go_in_the_order_they_were_made(cast, settings, smtp_server):
    _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    _completed(cast, "rectification", corrections={"last_name": "Berg"})
    run_tasks()  # refused: tried again later
    settings.MAILERS = working
    _completed(cast, "rectification", corrections={"last_name": "Brandt"})
    run_tasks()

    # The later correction waits for the earlier: the recipient never ends with the old value.
    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.status) for n in _notices()] == [("rectification", "pending")] * 2
    _sweep(cast, minutes=60)
    _sweep(cast, minutes=60)
    bodies = [m.get_content() for m in smtp_server.wait_for(2)]
    assert "Berg" in bodies[0] and "Brandt" in bodies[1]


def test_a_sweep_passes_notices_left_waiting_and_ends(cast, settings, monkeypatch):
    """A notice waiting for an earlier one stays due; the sweep reads on, not the same batch again."""
    from custos.privacy.services import processors

    _setup(cast)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    _completed(cast, "rectification", corrections={"last_name": "Berg"})
    run_tasks()  # refused: its next attempt is later
    _completed(cast, "rectification", corrections={"last_name": "Brandt"})
    _completed(cast, "rectification", corrections={"last_name": "Bauer"})
    run_tasks()
    monkeypatch.setattr(processors, "SWEEP_BATCH", 1)
    batches = []
    inform = processors.recipients_inform

    def counted(*args, **kwargs):
        batches.append(args[1])
        assert len(batches) < 10, "the sweep reads the same waiting notices again and again"
        return inform(*args, **kwargs)

    monkeypatch.setattr(processors, "recipients_inform", counted)
    assert _sweep(cast, minutes=SWEEP_AFTER.total_seconds() / 60 + 1) == 0
    # The refused one (tried again, refused again) and the two waiting for it: each read once.
    assert len(batches) == 3 and len({batch[0] for batch in batches}) == 3


def test_a_refused_mail_goes_when_the_server_is_back(cast, settings, smtp_server):
    _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    done = _completed(cast, "erasure")
    run_tasks()
    settings.MAILERS = working

    assert _sweep(cast, minutes=SWEEP_AFTER.total_seconds() / 60 + 1) == 1

    [mail] = smtp_server.wait_for(1)
    assert EMAIL in mail.get_content()  # the erased person's address, kept only for this mail
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        assert (notice.status, notice.details, notice.attempts) == ("informed", "", 2)
        [entry] = PrivacyRequest.objects.get(pk=done.pk).result["recipients"]
        assert entry["status"] == "informed" and "retry_at" not in entry


def test_the_sweeper_is_a_periodic_job_like_the_breach_clock():
    [job] = [j for j in JOBS if j.name == "privacy.send_recipient_notices"]
    assert import_string(job.task) is send_recipient_notices
    assert job.every <= SWEEP_AFTER


# Rectification: the values as stored ---------------------------------------------------------


def test_a_rectification_passes_on_the_values_as_stored_not_as_typed(cast, smtp_server):
    _setup(cast)
    typed = {"email": "Greta.Berg@EXAMPLE.ORG", "phone": "+49 30 765 4321", "country": "de", "last_name": "  Berg "}

    done = _completed(cast, "rectification", corrections=typed)
    run_tasks()

    with tenant_scope(cast.org_a):
        contact = Contact.objects.get()
        assert (contact.email, contact.phone, contact.country, contact.last_name) == (
            "Greta.Berg@example.org",
            "+49307654321",
            "DE",
            "Berg",
        )
    body = smtp_server.wait_for(1)[0].get_content()
    assert EMAIL in body  # named by the address the recipient knows
    lines = [line.strip() for line in body.splitlines()]
    for stored in ("Email: Greta.Berg@example.org", "Phone: +49307654321", "Country: DE", "Last name: Berg"):
        assert stored in lines
    assert "EXAMPLE.ORG" not in body and "30 765 4321" not in body and "Country: de" not in lines
    with tenant_scope(cast.org_a):
        assert "Berg" not in json.dumps(PrivacyRequest.objects.get(pk=done.pk).result)
    _ids_only_in_audit_and_tasks("7654321", "Greta.Berg", "greta.berg")


def test_an_erasure_removes_a_pending_notice_of_the_person_and_sends_its_own(cast, settings, smtp_server):
    _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    _completed(cast, "rectification", corrections={"last_name": "Berg"})
    run_tasks()  # refused: pending, holding the corrected name
    settings.MAILERS = working

    _completed(cast, "erasure")
    run_tasks()

    [mail] = smtp_server.wait_for(1)
    assert mail["Subject"].startswith("Erasure") and "Berg" not in mail.get_content()
    assert _sweep(cast, minutes=60 * 24) == 0
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.status, n.details) for n in _notices()] == [("erasure", "informed", "")]
