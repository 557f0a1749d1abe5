"""The privacy settings' first save: two at once make one row, each keeping what the other set,
instead of a second row or an error from the unique constraint."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from custos.audit.models import AuditEntry
from custos.core.errors import ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.privacy.models import PrivacySettings
from custos.privacy.services.requests import privacy_settings_update, settings_row_created
from custos.testing import on_postgres


def test_a_first_save_that_finds_the_row_inserted_meanwhile_uses_it(cast, as_tenant):
    actor = cast.actor(cast.alice)
    first = privacy_settings_update(actor=actor, data={"request_days": 20})

    with transaction.atomic():
        # What the second of two first saves meets: its insert refused by the unique constraint.
        found = settings_row_created()

    assert found.pk == first.pk and found.request_days == 20
    second = privacy_settings_update(actor=actor, data={"reminder_days": 3})
    assert second.pk == first.pk
    assert list(PrivacySettings.objects.values_list("request_days", "reminder_days")) == [(20, 3)]


def test_bad_input_on_the_first_save_leaves_no_row(cast, as_tenant):
    with pytest.raises(ValidationFailed) as error:
        privacy_settings_update(actor=cast.actor(cast.alice), data={"request_days": 0, "colour": "red"})

    assert {e.field for e in error.value.errors} == {"request_days", "colour"}
    assert not PrivacySettings.objects.exists()
    assert not AuditEntry.objects.filter(action="privacy_settings.update").exists()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def test_two_first_saves_at_once_make_one_row_with_both_changes(transactional_db, cast):
    if not on_postgres():
        pytest.skip("SQLite runs one writer at a time: the second save starts after the first committed")
    actor = cast.actor(cast.alice)
    inserted, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with tenant_scope(cast.org_a), transaction.atomic():
                privacy_settings_update(actor=actor, data={"request_days": 20})
                inserted.set()
                release.wait(timeout=30)  # the row is inserted, not yet committed
        except BaseException as exc:  # reported by the test below
            failures.append(exc)
        finally:
            inserted.set()
            connections.close_all()

    def second() -> None:
        try:
            with tenant_scope(cast.org_a):
                privacy_settings_update(actor=actor, data={"reminder_days": 3})
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    inserted.wait(timeout=30)
    two = threading.Thread(target=second)
    two.start()
    # The second save finds no row yet, inserts, and waits on the first's uncommitted one.
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock() and two.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    waited = _waiting_on_a_lock()
    release.set()
    one.join()
    two.join()

    assert failures == []
    assert waited, "the second save never waited on the first: the race was not reproduced"
    with tenant_scope(cast.org_a):
        assert list(PrivacySettings.objects.values_list("request_days", "reminder_days")) == [(20, 3)]
        assert AuditEntry.objects.filter(action="privacy_settings.update").count() == 2


def test_closed_requests_forget_the_requester_after_the_years_kept(cast, as_tenant):
    """Data minimisation: a request answered years ago keeps its kind, dates and outcome, no
    longer who asked; open requests, and those closed within the years, keep everything."""
    from datetime import timedelta

    from django.utils import timezone

    from custos.core.periodic import JOBS
    from custos.privacy.models import PrivacyRequest
    from custos.privacy.services.requests import request_create, requests_forget

    actor = cast.actor(cast.alice)
    old, recent, waiting = (
        request_create(actor=actor, kind="access", email=f"{name}@example.org") for name in ("old", "recent", "open")
    )
    now = timezone.now()
    PrivacyRequest.objects.filter(pk=old.pk).update(
        status="rejected", completed_at=now - timedelta(days=3 * 365 + 2), verification_reason="ID card seen"
    )
    PrivacyRequest.objects.filter(pk=recent.pk).update(status="completed", completed_at=now - timedelta(days=300))
    PrivacyRequest.objects.filter(pk=waiting.pk).update(received_at=now - timedelta(days=5 * 365))

    assert requests_forget(now=now) == 1
    assert requests_forget(now=now) == 0  # nothing left to forget: no second entry

    forgotten = PrivacyRequest.objects.get(pk=old.pk)
    assert (forgotten.email, forgotten.verification_reason, forgotten.details) == ("", "", {})
    assert (forgotten.kind, forgotten.status, forgotten.completed_at is not None) == ("access", "rejected", True)
    assert PrivacyRequest.objects.get(pk=recent.pk).email == "recent@example.org"
    assert PrivacyRequest.objects.get(pk=waiting.pk).email == "open@example.org"
    entry = AuditEntry.objects.get(action="privacy_request.forget")
    assert entry.extra == {"count": 1, "years": 3}
    privacy_settings_update(actor=actor, data={"request_keep_years": 1})
    assert requests_forget(now=now) == 0  # the recent one was closed 300 days ago: within a year
    assert requests_forget(now=now + timedelta(days=70)) == 1
    assert [j.every for j in JOBS if j.name == "privacy.forget_requests"] == [timedelta(days=1)]


def test_the_years_kept_are_checked(cast, as_tenant):
    actor = cast.actor(cast.alice)
    for wrong in (0, 11, "three", None):
        with pytest.raises(ValidationFailed) as refused:
            privacy_settings_update(actor=actor, data={"request_keep_years": wrong})
        assert [e.field for e in refused.value.errors] == ["request_keep_years"], wrong
