"""Art. 19 notices tell the truth about themselves: a request's record and the audit trail say
informed, pending (with the time of the next attempt) or failed, and why a notice was given
up: every attempt used, the recipient removed, the person erased first, or the restriction it
announced lifted before it went (then its lifting is dropped too). A lifting goes only to the
recipients told of the restriction it lifts. Mail goes over real SMTP on loopback."""

from __future__ import annotations

import json

import pytest

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.privacy.models import PrivacyRequest, Processor, RecipientNotice
from custos.privacy.services.processors import MAX_ATTEMPTS, processor_create, processor_delete, processor_update
from custos.privacy.services.requests import privacy_settings_update
from custos.privacy.services.restriction import subject_lift_restriction, subject_restrict
from custos.privacy.tests.test_recipient_notices import (
    EMAIL,
    HOSTER,
    MAILER,
    _completed,
    _crash,
    _ids_only_in_audit_and_tasks,
    _notices,
    _setup,
    _sweep,
)
from custos.testing import run_tasks

NOBODY_LISTENS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
    }
}


def _entries(request):
    return PrivacyRequest.objects.get(pk=request.pk).result["recipients"]


def _audit(action):
    return [e.extra for e in AuditEntry.objects.filter(action=action).order_by("seq")]


def _processor(name):
    return Processor.objects.get(name=name)


# Given up: every attempt used ----------------------------------------------------------------


def test_a_refused_notice_is_pending_with_its_retry_time_then_failed_when_its_attempts_are_used(cast, settings):
    _setup(cast)
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    run_tasks()

    with tenant_scope(cast.org_a):
        [notice] = _notices()
        [entry] = _entries(done)
        assert (entry["status"], entry["retry_at"]) == ("pending", notice.next_attempt_at.isoformat())
        assert _audit("privacy_request.inform_recipients") == [
            {"informed": [], "failed": 0, "pending": 1, "retry_at": entry["retry_at"]}
        ]
        # Every later attempt was cut short (the process died while sending): the last claim gives up.
        RecipientNotice.objects.filter(pk=notice.pk).update(attempts=MAX_ATTEMPTS)
    assert _sweep(cast, minutes=60 * 24) == 0

    with tenant_scope(cast.org_a):
        assert RecipientNotice.objects.filter(pk=notice.pk).values_list("status", "details").get() == ("failed", "")
        [entry] = _entries(done)
        assert entry["status"] == "failed" and entry["reason"] == "attempts_used" and "retry_at" not in entry
        assert _audit("privacy_request.inform_recipients")[1:] == [
            {"informed": [], "failed": 1, "reason": "attempts_used"}
        ]
    assert _sweep(cast, minutes=60 * 48) == 0
    with tenant_scope(cast.org_a):
        assert len(_audit("privacy_request.inform_recipients")) == 2  # recorded once


# Given up: the recipient removed -------------------------------------------------------------


def test_removing_a_recipient_or_its_address_gives_its_pending_notices_up_and_says_so(cast, settings, smtp_server):
    subject = _setup(cast, recipients=(("Rundbrief GmbH", MAILER), ("Hosting AG", HOSTER)))
    working = settings.MAILERS
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    run_tasks()
    with tenant_scope(cast.org_a):
        subject_lift_restriction(actor=cast.actor(cast.alice), subject=subject)
    run_tasks()
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        mailer, hoster = _processor("Rundbrief GmbH"), _processor("Hosting AG")
        processor_delete(actor=actor, processor=mailer)
        # Given up when its turn comes: nobody left to write to.
        processor_update(actor=actor, processor=hoster, data={"contact_email": "", "inform_of_changes": False})

        by_name = {e["name"]: e for e in _entries(done)}
        assert by_name["Rundbrief GmbH"]["status"] == "failed"
        assert by_name["Rundbrief GmbH"]["reason"] == "recipient_removed"
        assert "retry_at" not in by_name["Rundbrief GmbH"]
        assert by_name["Hosting AG"]["status"] == "pending"
        # The restriction's notice to the request's record, the lifting's to the person's trail.
        assert _audit("privacy_request.inform_recipients")[-1] == {
            "informed": [],
            "failed": 1,
            "reason": "recipient_removed",
        }
        assert _audit("subject.inform_recipients")[-1] == {
            "kind": "restriction_lifted",
            "informed": [],
            "failed": 1,
            "reason": "recipient_removed",
        }
    settings.MAILERS = working
    assert _sweep(cast, minutes=60 * 24) == 0

    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert {(n.kind, n.status, n.details) for n in _notices()} == {
            ("restriction", "failed", ""),
            ("restriction_lifted", "failed", ""),
        }
        by_name = {e["name"]: e for e in _entries(done)}
        assert by_name["Hosting AG"]["status"] == "failed" and by_name["Hosting AG"]["reason"] == "recipient_removed"
        assert "retry_at" not in by_name["Hosting AG"]
        assert _audit("privacy_request.inform_recipients")[-1] == {
            "informed": [],
            "failed": 1,
            "reason": "recipient_removed",
        }
        # Its lifting goes with it: the recipient never heard of the restriction.
        assert _audit("subject.inform_recipients")[-1] == {
            "kind": "restriction_lifted",
            "informed": [],
            "failed": 1,
            "reason": "restriction_not_sent",
        }


# Given up: the person erased first ------------------------------------------------------------


def test_an_erasure_gives_up_the_person_s_pending_notices_and_says_so_without_their_values(cast, settings, smtp_server):
    subject = _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = NOBODY_LISTENS
    rectified = _completed(cast, "rectification", corrections={"last_name": "Berg"})
    run_tasks()  # refused: pending, holding the corrected name
    with tenant_scope(cast.org_a):
        subject_restrict(actor=cast.actor(cast.alice), subject=subject)  # waits for the rectification
    run_tasks()
    settings.MAILERS = working

    erased = _completed(cast, "erasure")
    run_tasks()

    [mail] = smtp_server.wait_for(1)
    assert mail["Subject"].startswith("Erasure")
    with tenant_scope(cast.org_a):
        [entry] = _entries(rectified)
        assert (entry["status"], entry["reason"]) == ("failed", "person_erased") and "retry_at" not in entry
        assert "Berg" not in json.dumps(PrivacyRequest.objects.get(pk=rectified.pk).result)
        [own] = _entries(erased)
        assert own["status"] == "informed"
        assert {"informed": [], "failed": 1, "reason": "person_erased"} in _audit("privacy_request.inform_recipients")
        assert _audit("subject.inform_recipients") == [
            {"kind": "restriction", "informed": [], "failed": 1, "reason": "person_erased"}
        ]
        assert [(n.kind, n.status) for n in _notices()] == [("erasure", "informed")]
    _ids_only_in_audit_and_tasks(EMAIL, "Berg")


# A restriction lifted ---------------------------------------------------------------------------


def test_a_lifting_goes_only_to_the_recipients_told_of_the_restriction_it_lifts(cast, smtp_server):
    subject = _setup(cast)
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        subject_restrict(actor=actor, subject=subject)
    run_tasks()
    assert [m["To"] for m in smtp_server.wait_for(1)] == [MAILER]
    with tenant_scope(cast.org_a):
        # Added after the restriction: never told of it, so not of its end either.
        processor_create(
            actor=actor,
            data={
                "name": "Hosting AG",
                "service": "hosting",
                "location": "DE",
                "safeguard": "none_needed",
                "contact_email": HOSTER,
                "inform_of_changes": True,
            },
        )
        subject_lift_restriction(actor=actor, subject=subject)
    run_tasks()

    messages = smtp_server.wait_for(2)
    assert [m["To"] for m in messages] == [MAILER, MAILER]
    assert messages[1]["Subject"].startswith("Restriction of processing lifted")

    # Restricted while the organisation told nobody: the lifting is told to nobody either.
    with tenant_scope(cast.org_a):
        privacy_settings_update(actor=actor, data={"inform_recipients": False})
        subject_restrict(actor=actor, subject=subject)
        privacy_settings_update(actor=actor, data={"inform_recipients": True})
        subject_lift_restriction(actor=actor, subject=subject)
    run_tasks()
    assert _sweep(cast, minutes=60) == 0
    assert len(smtp_server.messages) == 2
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.processor.name) for n in _notices()] == [
            ("restriction", "Rundbrief GmbH"),
            ("restriction_lifted", "Rundbrief GmbH"),
        ]


def test_a_restriction_given_up_on_is_not_followed_by_its_lifting(cast, settings, smtp_server):
    subject = _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = NOBODY_LISTENS
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        subject_restrict(actor=actor, subject=subject)
        run_tasks()
        RecipientNotice.objects.update(attempts=MAX_ATTEMPTS)
    assert _sweep(cast, minutes=60 * 24) == 0  # given up: the recipient never heard of it
    settings.MAILERS = working

    with tenant_scope(cast.org_a):
        subject_lift_restriction(actor=actor, subject=subject)
    run_tasks()

    assert _sweep(cast, minutes=60 * 48) == 0
    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.status) for n in _notices()] == [("restriction", "failed")]


@pytest.mark.parametrize("left_pending_by", ["a refusal", "a crash"])
def test_a_restriction_lifted_before_its_notice_went_is_dropped_with_its_lifting(
    cast, settings, smtp_server, left_pending_by
):
    """The recipient needs to hear of neither: nothing goes, and both are recorded as given up."""
    subject = _setup(cast)
    working = settings.MAILERS
    actor = cast.actor(cast.alice)
    if left_pending_by == "a refusal":
        settings.MAILERS = NOBODY_LISTENS
        done = _completed(cast, "restriction")
        run_tasks()
    else:
        done = _completed(cast, "restriction")
        _crash()
    settings.MAILERS = working
    with tenant_scope(cast.org_a):
        subject_lift_restriction(actor=actor, subject=subject)
    run_tasks()  # the lifting waits for the restriction's notice

    assert _sweep(cast, minutes=60) == 0

    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.status, n.details) for n in _notices()] == [
            ("restriction", "failed", ""),
            ("restriction_lifted", "failed", ""),
        ]
        [entry] = _entries(done)
        assert (entry["status"], entry["reason"]) == ("failed", "restriction_lifted") and "retry_at" not in entry
        assert _audit("privacy_request.inform_recipients")[-1] == {
            "informed": [],
            "failed": 1,
            "reason": "restriction_lifted",
        }
        # The lifting goes with the restriction it would have lifted.
        assert _audit("subject.inform_recipients") == [
            {"kind": "restriction_lifted", "informed": [], "failed": 1, "reason": "restriction_not_sent"}
        ]

    # Restricted again: told as usual, and its lifting follows it.
    with tenant_scope(cast.org_a):
        subject_restrict(actor=actor, subject=subject)
        run_tasks()
        subject_lift_restriction(actor=actor, subject=subject)
    run_tasks()
    subjects = [m["Subject"] for m in smtp_server.wait_for(2)]
    assert subjects[0].startswith("Restriction of processing:")
    assert subjects[1].startswith("Restriction of processing lifted")


def test_a_lifting_goes_with_its_restriction_when_that_is_given_up(cast, settings, smtp_server):
    subject = _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = NOBODY_LISTENS
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        subject_restrict(actor=actor, subject=subject)
        run_tasks()  # refused: pending
        subject_lift_restriction(actor=actor, subject=subject)
        run_tasks()  # waits for the restriction's notice
        # Every later attempt at the restriction's notice was cut short.
        RecipientNotice.objects.filter(kind="restriction").update(attempts=MAX_ATTEMPTS)
    settings.MAILERS = working

    assert _sweep(cast, minutes=60 * 24) == 0

    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.status, n.details) for n in _notices()] == [
            ("restriction", "failed", ""),
            ("restriction_lifted", "failed", ""),
        ]
        assert _audit("subject.inform_recipients")[-2:] == [
            {"kind": "restriction", "informed": [], "failed": 1, "reason": "attempts_used"},
            {"kind": "restriction_lifted", "informed": [], "failed": 1, "reason": "restriction_not_sent"},
        ]
