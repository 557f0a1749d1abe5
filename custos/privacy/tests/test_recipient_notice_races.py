"""Art. 19 notices when processes overlap: two sweepers, a sweeper and a deletion or erasure
giving notices up, a process dying mid-batch. Each notice's end is recorded once and truly, a
lifting goes only after its restriction went, and nobody deadlocks. Mail goes over real SMTP
on loopback; the interleavings that need two connections run on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.utils import timezone

from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.privacy.models import Processor, RecipientNotice
from custos.privacy.services import processors
from custos.privacy.services.processors import MAX_ATTEMPTS, _attempt, _claim, processor_delete, recipients_inform
from custos.privacy.services.restriction import subject_lift_restriction, subject_restrict
from custos.privacy.tests.test_recipient_notice_outcomes import NOBODY_LISTENS, _audit, _entries
from custos.privacy.tests.test_recipient_notices import _completed, _crash, _notices, _setup, _sweep
from custos.testing import on_postgres, run_tasks

FAR = dt.timedelta(days=1)


def _organization(cast):
    return Organization.objects.get(pk=cast.org_a.pk)


def test_a_lifting_waits_for_its_restriction_s_last_claim_and_is_then_given_up_with_it(cast, settings, smtp_server):
    """Sweeper 1 claims a restriction whose attempts are used; sweeper 2, at the lifting, must
    neither send it meanwhile nor later: the recipient never heard of the restriction."""
    subject = _setup(cast)
    working = settings.MAILERS
    settings.MAILERS = NOBODY_LISTENS
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        subject_restrict(actor=actor, subject=subject)
        run_tasks()
        subject_lift_restriction(actor=actor, subject=subject)
        run_tasks()
        restriction, lifting = _notices()
        RecipientNotice.objects.filter(pk=restriction.pk).update(attempts=MAX_ATTEMPTS)
    settings.MAILERS = working
    far = timezone.now() + FAR
    with tenant_scope(cast.org_a):
        claimed = _claim(restriction.pk, after_commit=False, now=far)  # sweeper 1
        assert claimed is not None
    assert recipients_inform(cast.org_a.pk, [lifting.pk], now=far) == 0  # sweeper 2: waits
    with tenant_scope(cast.org_a):
        assert not _attempt(cast.org_a.pk, claimed, _organization(cast), "en")  # sweeper 1 gives it up
    assert recipients_inform(cast.org_a.pk, [lifting.pk], now=far) == 0  # and the lifting at its turn

    assert smtp_server.messages == []
    with tenant_scope(cast.org_a):
        assert [(n.kind, n.status) for n in _notices()] == [("restriction", "failed"), ("restriction_lifted", "failed")]
        assert _audit("subject.inform_recipients")[-2:] == [
            {"kind": "restriction", "informed": [], "failed": 1, "reason": "attempts_used"},
            {"kind": "restriction_lifted", "informed": [], "failed": 1, "reason": "restriction_not_sent"},
        ]


def test_a_notice_given_up_while_its_last_attempt_is_refused_is_recorded_given_up_once(cast, settings):
    _setup(cast)
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    run_tasks()
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        RecipientNotice.objects.filter(pk=notice.pk).update(attempts=MAX_ATTEMPTS - 1)
        claimed = _claim(notice.pk, after_commit=False, now=timezone.now() + FAR)  # the last attempt
        assert claimed is not None
        processor_delete(actor=cast.actor(cast.alice), processor=Processor.objects.get())  # meanwhile
        assert not _attempt(cast.org_a.pk, claimed, _organization(cast), "en")  # refused

        [entry] = _entries(done)
        assert (entry["status"], entry["reason"]) == ("failed", "recipient_removed")
        assert [e for e in _audit("privacy_request.inform_recipients") if e["failed"]] == [
            {"informed": [], "failed": 1, "reason": "recipient_removed"}
        ]


def test_a_mail_that_went_while_its_recipient_was_removed_is_recorded_informed_once(cast, smtp_server):
    _setup(cast)
    done = _completed(cast, "restriction")
    _crash()
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        claimed = _claim(notice.pk, after_commit=False, now=timezone.now() + FAR)
        assert claimed is not None
        processor_delete(actor=cast.actor(cast.alice), processor=Processor.objects.get())  # while it is sent
        assert _attempt(cast.org_a.pk, claimed, _organization(cast), "en")
        # A second sender, its claim run out while the first's mail was slow: sent, not recorded again.
        assert _attempt(cast.org_a.pk, claimed, _organization(cast), "en")

        assert len(smtp_server.wait_for(2)) == 2
        [entry] = _entries(done)
        assert entry["status"] == "informed" and "reason" not in entry
        assert RecipientNotice.objects.values_list("status", "details").get() == ("informed", "")
        assert _audit("privacy_request.inform_recipients") == [
            {"informed": [], "failed": 1, "reason": "recipient_removed"},
            {"informed": [entry["processor"]], "failed": 0},
        ]


def test_each_outcome_is_recorded_before_the_next_attempt(cast, settings, monkeypatch):
    """A process dying mid-batch loses at most the attempt it was making."""
    _setup(cast, recipients=(("Rundbrief GmbH", "a@rundbrief.example"), ("Hosting AG", "b@hosting.example")))
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    processors_mail = processors._mail
    calls: list[int] = []

    def dies_at_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is stopped while it sends
        return processors_mail(*args, **kwargs)

    monkeypatch.setattr(processors, "_mail", dies_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_tasks()
    with tenant_scope(cast.org_a):
        assert sorted(e["status"] for e in _entries(done)) == ["pending", "pending"]
        assert [e.get("retry_at") is not None for e in _entries(done)].count(True) == 1
        assert len(_audit("privacy_request.inform_recipients")) == 1


def test_a_give_up_that_cannot_be_recorded_leaves_its_notice_pending(cast, settings, monkeypatch):
    _setup(cast)
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    run_tasks()
    with tenant_scope(cast.org_a):
        RecipientNotice.objects.update(attempts=MAX_ATTEMPTS)

    def broken(*args, **kwargs):
        raise RuntimeError("the record could not be written")

    monkeypatch.setattr(processors, "_record_on_request", broken)
    with pytest.raises(RuntimeError):
        _sweep(cast, minutes=60 * 24)
    with tenant_scope(cast.org_a):
        assert RecipientNotice.objects.values_list("status", flat=True).get() == "pending"
        assert _entries(done)[0]["status"] == "pending"


def test_a_notice_whose_processor_left_the_register_unrecorded_ends_its_request_s_entry(cast, settings):
    """Left so by a deletion from before notices were given up with their processor."""
    _setup(cast)
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    run_tasks()
    with tenant_scope(cast.org_a):
        RecipientNotice.objects.update(processor=None)
        Processor.objects.all().delete()
        assert _entries(done)[0]["status"] == "pending"
    _sweep(cast, minutes=60)
    with tenant_scope(cast.org_a):
        [entry] = _entries(done)
        assert (entry["status"], entry["reason"]) == ("failed", "recipient_removed") and "retry_at" not in entry
        assert RecipientNotice.objects.values_list("status", flat=True).get() == "failed"


# Two connections (PostgreSQL) -------------------------------------------------------------------


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _interleave(cast, monkeypatch, sweeper: Callable[[], object], other: Callable[[], object]) -> list[str]:
    """Run `sweeper` until its first audit entry (holding the locks it took before), then
    `other` until it waits for a lock or is done, then both to the end; returns the errors."""
    real_audit_record = processors.audit_record
    paused = threading.Event()
    other_done = threading.Event()
    errors: list[str] = []

    def audit_record(**kwargs):
        if threading.current_thread().name == "sweeper" and not paused.is_set():
            paused.set()
            deadline = time.monotonic() + 10
            while not other_done.is_set() and not _waiting_for_a_lock() and time.monotonic() < deadline:
                time.sleep(0.05)
        return real_audit_record(**kwargs)

    monkeypatch.setattr(processors, "audit_record", audit_record)

    def run(work: Callable[[], object], wait: threading.Event | None, done: threading.Event | None) -> None:
        try:
            if wait is not None:
                wait.wait(10)
            with tenant_scope(cast.org_a):
                work()
        except Exception as error:  # reported by the test
            errors.append(f"{threading.current_thread().name}: {type(error).__name__}")
        finally:
            if done is not None:
                done.set()
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(sweeper, None, None), name="sweeper"),
        threading.Thread(target=run, args=(other, paused, other_done), name="other"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert paused.is_set()
    return errors


def test_a_sweeper_recording_on_a_request_and_a_deletion_giving_its_notice_up_both_finish(
    transactional_db, cast, settings, monkeypatch
):
    if not on_postgres():
        pytest.skip("SQLite runs one writing transaction at a time: nothing to interleave")
    _setup(cast)
    settings.MAILERS = NOBODY_LISTENS
    done = _completed(cast, "restriction")
    run_tasks()
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        processor = Processor.objects.get()
    later = timezone.now() + dt.timedelta(hours=1)

    errors = _interleave(
        cast,
        monkeypatch,
        lambda: recipients_inform(cast.org_a.pk, [notice.pk], now=later),  # refused again
        lambda: processor_delete(actor=cast.actor(cast.alice), processor=processor),
    )

    assert errors == []
    with tenant_scope(cast.org_a):
        [entry] = _entries(done)
        assert (entry["status"], entry["reason"]) == ("failed", "recipient_removed")
        assert [e.get("reason") for e in _audit("privacy_request.inform_recipients")] == [
            None,
            None,
            "recipient_removed",
        ]


def test_a_refusal_recorded_on_the_person_s_trail_comes_before_a_give_up_made_meanwhile(
    transactional_db, cast, settings, monkeypatch
):
    if not on_postgres():
        pytest.skip("SQLite runs one writing transaction at a time: nothing to interleave")
    subject = _setup(cast)
    settings.MAILERS = NOBODY_LISTENS
    with tenant_scope(cast.org_a):
        subject_restrict(actor=cast.actor(cast.alice), subject=subject)
    run_tasks()
    with tenant_scope(cast.org_a):
        [notice] = _notices()
        processor = Processor.objects.get()
    later = timezone.now() + dt.timedelta(hours=1)

    errors = _interleave(
        cast,
        monkeypatch,
        lambda: recipients_inform(cast.org_a.pk, [notice.pk], now=later),  # refused again
        lambda: processor_delete(actor=cast.actor(cast.alice), processor=processor),
    )

    assert errors == []
    with tenant_scope(cast.org_a):
        trail = _audit("subject.inform_recipients")
        assert [e.get("reason", e.get("pending")) for e in trail] == [1, 1, "recipient_removed"]


def test_a_deletion_giving_up_notices_of_two_requests_waits_for_a_sweeper_recording_on_the_second(
    transactional_db, cast, settings, monkeypatch
):
    """The deletion locks every request it records on before its first audit entry: else it
    would hold the audit head waiting for the second request, which the sweeper holds waiting
    for the audit head."""
    if not on_postgres():
        pytest.skip("SQLite runs one writing transaction at a time: nothing to interleave")
    _setup(cast, recipients=(("Rundbrief GmbH", "a@rundbrief.example"), ("Hosting AG", "b@hosting.example")))
    settings.MAILERS = NOBODY_LISTENS
    first = _completed(cast, "rectification", corrections={"last_name": "Berg"})
    second = _completed(cast, "restriction")
    run_tasks()
    with tenant_scope(cast.org_a):
        mailer, hoster = Processor.objects.get(name="Rundbrief GmbH"), Processor.objects.get(name="Hosting AG")
        # The hoster heard of the rectification: its restriction notice is the next to try.
        RecipientNotice.objects.filter(request_id=first.pk, processor=hoster).update(status="informed", details="")
        notice = RecipientNotice.objects.get(request_id=second.pk, processor=hoster)
    later = timezone.now() + dt.timedelta(hours=1)

    errors = _interleave(
        cast,
        monkeypatch,
        lambda: recipients_inform(cast.org_a.pk, [notice.pk], now=later),  # records on the second
        lambda: processor_delete(actor=cast.actor(cast.alice), processor=mailer),
    )

    assert errors == []
    with tenant_scope(cast.org_a):
        for request in (first, second):
            by_name = {e["name"]: e for e in _entries(request)}
            assert (by_name["Rundbrief GmbH"]["status"], by_name["Rundbrief GmbH"]["reason"]) == (
                "failed",
                "recipient_removed",
            )
        hosting = {e["name"]: e for e in _entries(second)}["Hosting AG"]
        assert hosting["status"] == "pending" and hosting["retry_at"]
