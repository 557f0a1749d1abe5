"""A retention run chooses each batch in the batch's own transaction: a hold placed while it
runs is respected, an interrupted run is finished by the next, and no statement is spent on
looking for a batch that is not there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import LegalHold, RetentionRun
from custos.privacy.services import retention

pytestmark = pytest.mark.usefixtures("as_tenant")


def _idle(cast, count):
    contacts = [
        contact_create(actor=cast.actor(cast.olive), data={"last_name": f"Idle{n}", "email": f"idle{n}@example.org"})
        for n in range(count)
    ]
    Contact.objects.update(updated_at=timezone.now() - timedelta(days=400))
    return sorted(contacts, key=lambda c: c.pk)


def _policy(cast):
    olive = cast.actor(cast.olive)
    policy = retention.retention_policy_create(
        actor=olive, data={"key": "contact.inactive", "condition": "inactive", "days": 365, "action": "anonymise"}
    )
    retention.retention_policy_preview(actor=olive, policy=policy)
    return policy


def _anonymised():
    return set(Contact.objects.filter(email="").values_list("pk", flat=True))


def test_a_hold_placed_while_a_run_is_under_way_keeps_the_person(cast, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 1)
    first, second, third = _idle(cast, 3)
    policy = _policy(cast)
    treat = retention._treat

    def treat_then_hold(*args, **kwargs):
        treat(*args, **kwargs)
        if not LegalHold.objects.exists():
            LegalHold.objects.create(subject_id=third.subject_id, reason="court case")

    monkeypatch.setattr(retention, "_treat", treat_then_hold)
    run = retention.retention_run(actor=cast.actor(cast.olive), policy=policy)

    assert run.processed == 2
    assert _anonymised() == {first.pk, second.pk}
    assert Contact.objects.get(pk=third.pk).email == "idle2@example.org"


def test_an_interrupted_run_keeps_its_finished_batches_and_the_next_run_does_the_rest(cast, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    contacts = _idle(cast, 5)
    policy = _policy(cast)
    treat = retention._treat
    calls = []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker stopped")
        treat(*args, **kwargs)

    monkeypatch.setattr(retention, "_treat", fail_second)
    with pytest.raises(RuntimeError):
        retention.retention_run(actor=cast.actor(cast.olive), policy=policy)
    assert _anonymised() == {c.pk for c in contacts[:2]}  # the failed batch changed nothing
    assert RetentionRun.objects.get(policy=policy, is_preview=False).finished_at is None

    monkeypatch.setattr(retention, "_treat", treat)
    run = retention.retention_run(actor=cast.actor(cast.olive), policy=policy)

    assert (run.matched, run.processed) == (3, 3)
    assert _anonymised() == {c.pk for c in contacts}


def test_full_batches_end_without_a_search_for_one_more(cast, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    contacts = _idle(cast, 4)
    policy = _policy(cast)

    with CaptureQueriesContext(connection) as captured:
        run = retention.retention_run(actor=cast.actor(cast.olive), policy=policy)

    assert run.processed == 4
    assert _anonymised() == {c.pk for c in contacts}
    chosen = [  # the batches' choices, which read the person with the record (the window's end does not)
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith('SELECT "crm_contact"."id"') and '"crm_contact"."subject_id"' in q["sql"]
    ]
    assert len(chosen) == 2, chosen  # two batches of two, each read with one more to look ahead
