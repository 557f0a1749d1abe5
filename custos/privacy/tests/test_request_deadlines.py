"""Art. 12(3) in months, not days: a request's deadline, its one extension, and the reminders."""

import datetime as dt
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, ValidationFailed
from custos.core.tenancy import tenant_scope
from custos.privacy.models import PrivacyRequest
from custos.privacy.services.requests import request_create, request_extend
from custos.privacy.tasks import remind_request_deadlines
from custos.testing import run_tasks

BERLIN = ZoneInfo("Europe/Berlin")


def at(moment):
    """The services' clock set to a moment (only `timezone.now`: nothing else is faked)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def _received(cast, moment):
    with at(moment), tenant_scope(cast.org_a):
        return request_create(actor=cast.actor(cast.alice), kind="access", email="greta@example.org")


def _extend(cast, request, days, moment):
    with at(moment), tenant_scope(cast.org_a):
        return request_extend(actor=cast.actor(cast.alice), request=request, days=days, reason="Many records")


def test_a_request_received_on_31_january_is_due_by_the_end_of_february(cast):
    """30 days from 31 January is 2 March: past the one month the law gives."""
    request = _received(cast, dt.datetime(2027, 1, 31, 10, 0, tzinfo=BERLIN))

    assert request.due_at == dt.datetime(2027, 2, 28, 10, 0, tzinfo=BERLIN)


def test_the_month_is_counted_on_the_local_calendar(cast):
    """Received at half past midnight on 1 March in Berlin (still 28 February in UTC): due 1 April."""
    request = _received(cast, dt.datetime(2027, 3, 1, 0, 30, tzinfo=BERLIN))

    assert timezone.localtime(request.due_at, BERLIN).date() == dt.date(2027, 3, 31)  # 30 days, within the month
    leap = _received(cast, dt.datetime(2028, 1, 31, 0, 30, tzinfo=BERLIN))
    assert leap.due_at == dt.datetime(2028, 2, 29, 0, 30, tzinfo=BERLIN)


def test_an_extension_ends_three_months_after_receipt_at_the_latest(cast):
    """31 December: due 30 January (30 days); 61 days more would be 1 April, past 31 March."""
    received = dt.datetime(2026, 12, 31, 9, 0, tzinfo=BERLIN)
    request = _received(cast, received)
    before = request.due_at

    with pytest.raises(ValidationFailed) as refused:
        _extend(cast, request, 61, received + dt.timedelta(days=3))

    assert [error.field for error in refused.value.errors] == ["days"]
    assert "31 March 2027" in refused.value.errors[0].message or "March 31, 2027" in refused.value.errors[0].message
    with tenant_scope(cast.org_a):
        unchanged = PrivacyRequest.objects.get(pk=request.pk)
        assert (unchanged.due_at, unchanged.extended_at) == (before, None)
        assert not AuditEntry.objects.filter(action="privacy_request.extend").exists()
    extended = _extend(cast, request, 60, received + dt.timedelta(days=3))
    assert extended.due_at == dt.datetime(2027, 3, 31, 9, 0, tzinfo=BERLIN)


def test_an_extension_comes_within_the_first_month_or_not_at_all(cast):
    """The person must hear of an extension within one month of receipt: an overdue request
    cannot be moved off the overdue list afterwards."""
    received = dt.datetime(2027, 3, 2, 9, 0, tzinfo=BERLIN)
    request = _received(cast, received)

    with pytest.raises(Conflict):
        _extend(cast, request, 30, dt.datetime(2027, 4, 3, 9, 0, tzinfo=BERLIN))

    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get(pk=request.pk).extended_at is None
    extended = _extend(cast, request, 30, dt.datetime(2027, 4, 1, 9, 0, tzinfo=BERLIN))
    assert extended.due_at == request.due_at + dt.timedelta(days=30)


def test_an_extended_request_is_reminded_again_before_its_new_deadline(cast, smtp_server):
    with tenant_scope(cast.org_a):
        request = request_create(actor=cast.actor(cast.alice), kind="erasure", email="greta@example.org")
        PrivacyRequest.objects.filter(pk=request.pk).update(handler=cast.alice)
        request.refresh_from_db()
        PrivacyRequest.objects.filter(pk=request.pk).update(due_at=timezone.now() + dt.timedelta(days=2))
    remind_request_deadlines.call()
    run_tasks()
    smtp_server.wait_for(1)

    with tenant_scope(cast.org_a):
        request.refresh_from_db()
        request_extend(actor=cast.actor(cast.alice), request=request, days=20, reason="Records in the archive")
        PrivacyRequest.objects.filter(pk=request.pk).update(due_at=timezone.now() + dt.timedelta(days=3))
    remind_request_deadlines.call()
    run_tasks()

    assert [m["To"] for m in smtp_server.wait_for(2)] == ["alice@acme.example"] * 2


def test_the_reminder_gives_the_deadline_in_the_handlers_time_zone(cast, smtp_server):
    cast.alice.time_zone = "America/New_York"
    cast.alice.save(update_fields=["time_zone"])
    due = dt.datetime(2027, 3, 1, 3, 0, tzinfo=BERLIN)  # still 28 February, 21:00, in New York
    with tenant_scope(cast.org_a):
        request = request_create(actor=cast.actor(cast.alice), kind="access", email="greta@example.org")
        PrivacyRequest.objects.filter(pk=request.pk).update(handler=cast.alice, due_at=due)

    with at(due - dt.timedelta(days=2)):
        remind_request_deadlines.call()
    run_tasks()

    message = smtp_server.wait_for(1)[0]
    body = message.get_content()
    assert "Feb. 28, 2027" in message["Subject"]
    assert "Feb. 28, 2027, 9 p.m. (America/New_York)" in body
