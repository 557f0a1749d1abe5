"""Retention policies and legal holds: previews count, runs change only what is due, holds keep."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.core.errors import Conflict, PermissionDenied, ValidationFailed
from custos.core.periodic import JOBS, enqueue_due
from custos.crm.models import Activity, Contact, Lead
from custos.crm.services.activities import activity_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import contact_create
from custos.privacy.models import LegalHold, RetentionPolicy, RetentionRun, Subject
from custos.privacy.services import retention
from custos.privacy.services.erasure import subject_erase
from custos.search.models import SearchEntry
from custos.testing import run_tasks

pytestmark = pytest.mark.usefixtures("as_tenant")


def _contact(cast, email, *, days_idle=0, **data):
    contact = contact_create(
        actor=cast.actor(cast.olive),
        data={"first_name": "Ida", "last_name": "Idle", "email": email, "notes": "met at fair"} | data,
    )
    if days_idle:
        then = timezone.now() - timedelta(days=days_idle)
        Contact.objects.filter(pk=contact.pk).update(created_at=then, updated_at=then)
    return Contact.objects.get(pk=contact.pk)


def _policy(cast, **data):
    return retention.retention_policy_create(
        actor=cast.actor(cast.olive),
        data={"key": "contact.inactive", "condition": "inactive", "days": 365, "action": "anonymise"} | data,
    )


def _previewed(cast, policy):
    return retention.retention_policy_preview(actor=cast.actor(cast.olive), policy=policy)


def _run(cast, policy):
    return retention.retention_run(actor=cast.actor(cast.olive), policy=policy)


def _rows():
    return list(Contact.objects.order_by("pk").values()), list(SearchEntry.objects.order_by("pk").values_list("pk"))


def test_the_declared_retention_keys_are_offered_with_their_conditions_and_actions():
    keys = retention.retention_keys()
    assert {"contact.inactive", "lead.inactive"} <= set(keys)
    assert retention.record_types("contact.inactive") == ["crm.Contact"]
    assert retention.conditions_of("contact.inactive") == ["created", "inactive", "deal_lost", "contract_end"]
    assert retention.actions_of("contact.inactive") == ["anonymise", "delete"]
    assert retention.conditions_of("nothing.declared") == []


def test_a_policy_is_validated_field_by_field_and_bad_input_changes_nothing(cast):
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        retention.retention_policy_create(
            actor=cast.actor(cast.olive),
            data={"key": "contact.forever", "condition": "lost", "days": 0, "action": "burn", "colour": "red"},
        )
    fields = sorted(error.field for error in caught.value.errors)
    assert fields == ["action", "colour", "condition", "days", "key"]
    with pytest.raises(ValidationFailed) as caught:
        retention.retention_policy_create(actor=cast.actor(cast.olive), data={"key": "contact.inactive"})
    assert [(e.field, e.message) for e in caught.value.errors if e.field == "days"] == [
        ("days", "This field is required.")
    ]
    assert [e.field for e in caught.value.errors] == ["condition", "days", "action"]
    with pytest.raises(ValidationFailed) as caught:
        _policy(cast, days=36501)
    assert [(e.field, e.message) for e in caught.value.errors] == [("days", "Enter a number from 1 to 36500.")]
    assert not RetentionPolicy.objects.exists()
    assert AuditEntry.objects.count() == before


def test_one_policy_per_record_type_and_none_is_enabled_before_a_preview(cast):
    policy = _policy(cast)
    assert not policy.is_enabled
    with pytest.raises(ValidationFailed) as caught:
        _policy(cast, days=30)
    assert [e.field for e in caught.value.errors] == ["key"]
    with pytest.raises(ValidationFailed) as caught:
        _policy(cast, key="lead.inactive", is_enabled=True)
    assert [e.field for e in caught.value.errors] == ["is_enabled"]
    olive = cast.actor(cast.olive)
    with pytest.raises(ValidationFailed) as caught:
        retention.retention_policy_update(actor=olive, policy=policy, data={"is_enabled": True})
    assert [e.field for e in caught.value.errors] == ["is_enabled"]
    with pytest.raises(Conflict):
        _run(cast, policy)

    _previewed(cast, policy)
    policy = retention.retention_policy_update(actor=olive, policy=policy, data={"is_enabled": True})
    assert policy.is_enabled
    # New terms need a new preview: the policy switches off, and cannot be switched on with them.
    with pytest.raises(ValidationFailed):
        retention.retention_policy_update(actor=olive, policy=policy, data={"days": 30, "is_enabled": True})
    policy = retention.retention_policy_update(actor=olive, policy=policy, data={"days": 30})
    assert (policy.days, policy.is_enabled) == (30, False)
    assert not RetentionRun.objects.filter(policy=policy, is_preview=True).exists()
    actions = list(AuditEntry.objects.filter(object_id=str(policy.pk)).order_by("seq").values_list("action", "fields"))
    assert actions == [
        ("retention_policy.create", ["action", "condition", "days", "is_enabled", "key"]),
        ("retention_policy.update", ["is_enabled"]),
        ("retention_policy.update", ["days", "is_enabled"]),
    ]


def test_only_the_privileged_keep_policies(cast):
    with pytest.raises(PermissionDenied):
        retention.retention_policy_create(
            actor=cast.actor(cast.sam), data={"key": "contact.inactive", "condition": "inactive", "days": 1}
        )
    policy = _policy(cast)
    with pytest.raises(PermissionDenied):
        retention.retention_run(actor=cast.actor(cast.bob), policy=policy)
    with pytest.raises(PermissionDenied):
        retention.retention_policy_preview(actor=cast.actor(cast.bob), policy=policy)


def test_the_preview_counts_records_persons_and_holds_and_changes_nothing(cast):
    due = [_contact(cast, f"due{i}@example.org", days_idle=400) for i in range(3)]
    _contact(cast, "recent@example.org", days_idle=100)
    held = _contact(cast, "held@example.org", days_idle=500)
    LegalHold.objects.create(subject=held.subject, reason="court case")
    policy = _policy(cast)
    rows = _rows()
    counts = retention.retention_preview(policy)
    assert counts.as_dict() == {"matched": 3, "persons": 3, "held": 1}
    assert _rows() == rows
    assert len(due) == 3


def test_a_run_anonymises_only_what_is_due_keeps_held_people_and_a_second_run_changes_nothing(cast):
    due = _contact(cast, "due@example.org", days_idle=400, health_notes="allergy")
    recent = _contact(cast, "recent@example.org", days_idle=100)
    held = _contact(cast, "held@example.org", days_idle=500)
    released = _contact(cast, "released@example.org", days_idle=500)
    LegalHold.objects.create(subject=held.subject, reason="court case")
    LegalHold.objects.create(subject=released.subject, reason="old case", released_at=timezone.now())
    LegalHold.objects.create(subject=released.subject, reason="ended", until=timezone.localdate() - timedelta(days=1))
    assert SearchEntry.objects.filter(object_id=due.pk).exists()
    policy = _policy(cast)
    _previewed(cast, policy)

    run = _run(cast, policy)
    assert (run.matched, run.processed, run.held, run.is_preview) == (2, 2, 1, False)
    assert run.finished_at is not None
    for contact in (due, released):
        after = Contact.objects.get(pk=contact.pk)
        assert (after.first_name, after.last_name, after.email, after.notes, after.health_notes) == ("", "", "", "", "")
        assert after.updated_at == contact.updated_at
        assert not SearchEntry.objects.filter(object_id=contact.pk).exists()
    for contact in (recent, held):
        assert Contact.objects.get(pk=contact.pk).email == contact.email
        assert SearchEntry.objects.filter(object_id=contact.pk).exists()
    entry = AuditEntry.objects.filter(action="retention_policy.run").get()
    assert (entry.object_type, entry.object_id, entry.fields, entry.extra) == (
        "retention_policy",
        str(policy.pk),
        [],
        {"matched": 2, "processed": 2, "persons": 2, "held": 1},
    )
    policy.refresh_from_db()
    assert policy.last_run_at == run.finished_at

    rows = _rows()
    again = _run(cast, policy)
    assert (again.matched, again.processed, again.held) == (0, 0, 1)
    assert _rows() == rows
    assert retention.retention_preview(policy).as_dict() == {"matched": 0, "persons": 0, "held": 1}


def test_a_person_who_restricted_processing_is_kept_as_a_held_one(cast):
    """Art. 18(1)(b), (c): restriction instead of erasure; the run must not erase them after all."""
    from custos.privacy.services.restriction import subject_restrict

    restricted = _contact(cast, "restricted@example.org", days_idle=400)
    subject_restrict(actor=cast.actor(cast.olive), subject=restricted.subject)
    policy = _policy(cast)

    assert _previewed(cast, policy).as_dict() == {"matched": 0, "persons": 0, "held": 1}
    run = _run(cast, policy)

    assert (run.processed, run.held) == (0, 1)
    assert Contact.objects.get(pk=restricted.pk).email == "restricted@example.org"


def test_inactive_means_neither_changed_nor_acted_on_nor_booked(cast):
    """A call logged yesterday, or an appointment still to come, keeps a contact unchanged for
    years from counting as inactive."""
    from custos.testing import book_appointment

    called = _contact(cast, "called@example.org", days_idle=400)
    activity_create(actor=cast.actor(cast.olive), data={"title": "Call", "contact": str(called.pk)})
    booked = _contact(cast, "booked@example.org", days_idle=400)
    book_appointment(cast.actor(cast.olive), booked, cast.olive)  # in 2030
    _contact(cast, "idle@example.org", days_idle=400)
    long_ago = _contact(cast, "long-ago@example.org", days_idle=400)
    old_call = activity_create(actor=cast.actor(cast.olive), data={"title": "Call", "contact": str(long_ago.pk)})
    Activity.objects.filter(pk=old_call.pk).update(occurred_at=timezone.now() - timedelta(days=400))
    policy = _policy(cast, action="delete")
    _previewed(cast, policy)

    run = _run(cast, policy)

    assert run.processed == 2
    assert set(Contact.objects.values_list("email", flat=True)) == {"called@example.org", "booked@example.org"}


def test_a_delete_preview_names_what_goes_with_the_records(cast):
    """A patient's old appointment is deleted with their contact: the preview says so first."""
    from custos.scheduling.models import Appointment
    from custos.testing import book_appointment, web_client

    patient = _contact(cast, "patient@example.org", days_idle=800)
    visit = book_appointment(cast.actor(cast.olive), patient, cast.olive)
    before = timezone.now() - timedelta(days=700)
    Appointment.objects.filter(pk=visit.pk).update(starts_at=before, ends_at=before + timedelta(minutes=30))
    policy = _policy(cast, action="delete")

    counts = _previewed(cast, policy)
    page = web_client(cast.olive).get(f"/privacy/retention/{policy.pk}/preview/").content.decode()
    _run(cast, policy)

    assert (counts.matched, counts.also_deleted) == (1, {"scheduling.Appointment": 1})
    assert "Deleted with them: Appointments" in page
    assert not Appointment.objects.filter(pk=visit.pk).exists()


def test_a_delete_policy_deletes_due_records_by_creation_and_leaves_erased_people_alone(cast):
    olive = cast.actor(cast.olive)
    old = lead_create(actor=olive, data={"first_name": "Old", "email": "old.lead@example.org"})
    new = lead_create(actor=olive, data={"first_name": "New", "email": "new.lead@example.org"})
    erased = lead_create(actor=olive, data={"first_name": "Gone", "email": "gone.lead@example.org"})
    Lead.objects.filter(pk__in=[old.pk, erased.pk]).update(created_at=timezone.now() - timedelta(days=40))
    subject_erase(actor=olive, subject=Subject.objects.get(pk=erased.subject_id))
    policy = _policy(cast, key="lead.inactive", condition="created", days=30, action="delete")
    assert retention.retention_preview(policy).as_dict() == {"matched": 1, "persons": 1, "held": 0}
    _previewed(cast, policy)
    run = _run(cast, policy)
    assert run.processed == 1
    assert set(Lead.objects.values_list("pk", flat=True)) == {new.pk, erased.pk}
    assert not SearchEntry.objects.filter(object_id=old.pk).exists()
    assert Subject.objects.filter(pk=old.subject_id).exists()
    assert _run(cast, policy).processed == 0


def test_records_reaching_their_person_by_several_paths_are_held_by_any(cast):
    olive = cast.actor(cast.olive)
    contact = _contact(cast, "c@example.org")
    lead = lead_create(actor=olive, data={"first_name": "L", "email": "l@example.org"})
    by_contact = activity_create(actor=olive, data={"title": "call", "contact": str(contact.pk)})
    by_lead = activity_create(actor=olive, data={"title": "mail", "lead": str(lead.pk)})
    Activity.objects.update(created_at=timezone.now() - timedelta(days=10))
    LegalHold.objects.create(subject_id=lead.subject_id, reason="audit")
    policy = _policy(cast, key="activity.old", condition="created", days=5, action="delete")
    assert retention.retention_preview(policy).as_dict() == {"matched": 1, "persons": 1, "held": 1}
    _previewed(cast, policy)
    _run(cast, policy)
    assert list(Activity.objects.values_list("pk", flat=True)) == [by_lead.pk]
    assert by_contact.pk


def test_a_run_is_batched_whatever_the_number_of_records(cast, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 10)
    for i in range(25):
        _contact(cast, f"p{i}@example.org", days_idle=400)
    policy = _policy(cast)
    _previewed(cast, policy)
    with CaptureQueriesContext(connection) as small:
        run = _run(cast, policy)
    assert run.processed == 25
    assert Contact.objects.exclude(email="").count() == 0
    for i in range(25, 75):
        _contact(cast, f"p{i}@example.org", days_idle=400)
    with CaptureQueriesContext(connection) as large:
        assert _run(cast, policy).processed == 50
    # Three more batches for twice as many records, each a fixed handful of statements.
    per_batch = (len(large) - len(small)) / 2
    assert per_batch <= 6, [q["sql"][:80] for q in large.captured_queries]


def test_legal_holds_are_created_validated_released_and_block_erasure(cast):
    olive = cast.actor(cast.olive)
    contact = _contact(cast, "hold@example.org")
    with pytest.raises(ValidationFailed) as caught:
        retention.legal_hold_create(
            actor=olive, data={"subject": "S-NOBODY", "reason": "", "until": "2000-01-01", "extra": 1}
        )
    assert sorted(e.field for e in caught.value.errors) == ["extra", "reason", "subject", "until"]
    assert not LegalHold.objects.exists()
    subject = Subject.objects.get(pk=contact.subject_id)
    hold = retention.legal_hold_create(actor=olive, data={"subject": subject.reference, "reason": "tax audit 2026"})
    assert retention.is_hold_active(hold)
    with pytest.raises(Conflict):
        subject_erase(actor=olive, subject=subject)
    with pytest.raises(PermissionDenied):
        retention.legal_hold_release(actor=cast.actor(cast.sam), hold=hold)
    hold = retention.legal_hold_release(actor=olive, hold=hold)
    assert not retention.is_hold_active(hold)
    with pytest.raises(Conflict):
        retention.legal_hold_release(actor=olive, hold=hold)
    entries = list(
        AuditEntry.objects.filter(object_type="legal_hold").order_by("seq").values_list("action", "fields", "extra")
    )
    assert entries == [
        ("legal_hold.create", ["reason"], {"subject": str(subject.pk)}),
        ("legal_hold.release", [], {"subject": str(subject.pk)}),
    ]
    subject_erase(actor=olive, subject=subject)
    with pytest.raises(ValidationFailed) as caught:
        retention.legal_hold_create(actor=olive, data={"subject": str(subject.pk), "reason": "late"})
    assert [e.field for e in caught.value.errors] == ["subject"]


def test_deleting_a_policy_is_audited(cast):
    policy = _policy(cast)
    policy_id = policy.pk
    retention.retention_policy_delete(actor=cast.actor(cast.olive), policy=policy)
    assert not RetentionPolicy.objects.exists()
    assert AuditEntry.objects.filter(action="retention_policy.delete", object_id=str(policy_id)).exists()


def test_the_daily_job_runs_every_enabled_policy_of_every_organisation(cast):
    assert any(job.task.endswith("retention.apply_retention_policies") for job in JOBS)
    _contact(cast, "due@example.org", days_idle=400)
    _contact(cast, "due.lead@example.org", days_idle=400)
    enabled = _policy(cast)
    _previewed(cast, enabled)
    retention.retention_policy_update(actor=cast.actor(cast.olive), policy=enabled, data={"is_enabled": True})
    disabled = _policy(cast, key="lead.inactive")
    daily = tuple(job for job in JOBS if job.name == "privacy.apply_retention")
    assert enqueue_due(jobs=daily) == ["privacy.apply_retention"]
    run_tasks()
    assert Contact.objects.exclude(email="").count() == 0
    assert RetentionRun.objects.filter(policy=enabled, is_preview=False).count() == 1
    assert not RetentionRun.objects.filter(policy=disabled).exists()
    entry = AuditEntry.objects.filter(action="retention_policy.run").get()
    assert entry.via == "system"


def test_deleting_follows_the_foreign_keys_as_they_say(cast):
    from custos.crm.models import Affiliation, Deal
    from custos.crm.services.deals import deal_create
    from custos.crm.services.people import affiliation_add, company_create

    olive = cast.actor(cast.olive)
    contact = _contact(cast, "gone@example.org", days_idle=400)
    deal = deal_create(actor=olive, data={"name": "Big deal", "contact": str(contact.pk), "amount": "10"})
    note = activity_create(actor=olive, data={"title": "call", "contact": str(contact.pk)})
    Activity.objects.filter(pk=note.pk).update(occurred_at=timezone.now() - timedelta(days=400))
    company = company_create(actor=olive, data={"name": "Acme"})
    affiliation_add(actor=olive, contact=contact, data={"company": str(company.pk)})
    policy = _policy(cast, action="delete")
    _previewed(cast, policy)
    assert _run(cast, policy).processed == 1
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert Deal.objects.get(pk=deal.pk).contact_id is None
    assert Activity.objects.get(pk=note.pk).contact_id is None
    assert not Affiliation.objects.exists()
    assert not SearchEntry.objects.filter(object_id=contact.pk).exists()


def _deal(cast, contact, *, status, closed_days_ago=None):
    from custos.crm.models import Deal
    from custos.crm.services.deals import deal_create

    deal = deal_create(actor=cast.actor(cast.olive), data={"name": "Deal", "contact": str(contact.pk)})
    closed_at = timezone.now() - timedelta(days=closed_days_ago) if closed_days_ago is not None else None
    Deal.objects.filter(pk=deal.pk).update(status=status, closed_at=closed_at)
    return deal


def test_deal_lost_counts_from_the_persons_last_lost_deal_once_none_is_open_or_won(cast):
    from custos.crm.models import Deal

    lost_long_ago = _contact(cast, "lost@example.org")
    _deal(cast, lost_long_ago, status="lost", closed_days_ago=400)
    _deal(cast, lost_long_ago, status="lost", closed_days_ago=500)
    still_open = _contact(cast, "open@example.org")
    _deal(cast, still_open, status="lost", closed_days_ago=400)
    _deal(cast, still_open, status="open")
    won = _contact(cast, "won@example.org")
    _deal(cast, won, status="lost", closed_days_ago=400)
    _deal(cast, won, status="won", closed_days_ago=400)
    lost_lately = _contact(cast, "lately@example.org")
    _deal(cast, lost_lately, status="lost", closed_days_ago=400)
    _deal(cast, lost_lately, status="lost", closed_days_ago=100)
    no_deals = _contact(cast, "none@example.org", days_idle=4000)
    held = _contact(cast, "held@example.org")
    _deal(cast, held, status="lost", closed_days_ago=400)
    LegalHold.objects.create(subject=held.subject, reason="court case")
    policy = _policy(cast, condition="deal_lost", days=365)

    assert retention.retention_preview(policy).as_dict() == {"matched": 1, "persons": 1, "held": 1}
    _previewed(cast, policy)
    run = _run(cast, policy)

    assert (run.matched, run.processed, run.held) == (1, 1, 1)
    assert Contact.objects.get(pk=lost_long_ago.pk).email == ""
    kept = {still_open.pk, won.pk, lost_lately.pk, no_deals.pk, held.pk}
    assert set(Contact.objects.exclude(email="").values_list("pk", flat=True)) == kept
    entry = AuditEntry.objects.filter(action="retention_policy.run").get()
    assert entry.extra == {"matched": 1, "processed": 1, "persons": 1, "held": 1}
    # A deal itself counts from its own loss, whatever the person's other deals.
    deals = _policy(cast, key="deal.closed", condition="deal_lost", days=365, action="delete")
    assert retention.retention_preview(deals).as_dict() == {"matched": 5, "persons": 4, "held": 1}
    _previewed(cast, deals)
    assert _run(cast, deals).processed == 5
    assert set(Deal.objects.values_list("status", flat=True)) == {"open", "won", "lost"}
    assert Deal.objects.filter(status="lost").count() == 2  # lost 100 days ago, and the held person's


def test_contract_end_counts_from_the_latest_contract_end_of_the_persons_contacts(cast):
    olive = cast.actor(cast.olive)
    today = timezone.localdate()
    ended = _contact(cast, "ended@example.org")
    recent = _contact(cast, "recent@example.org")
    running = _contact(cast, "running@example.org")
    without = _contact(cast, "without@example.org", days_idle=4000)
    Contact.objects.filter(pk=ended.pk).update(contract_ends_on=today - timedelta(days=400))
    Contact.objects.filter(pk=recent.pk).update(contract_ends_on=today - timedelta(days=100))
    Contact.objects.filter(pk=running.pk).update(contract_ends_on=today + timedelta(days=100))
    # The person's lead (same email, same person) is governed through them.
    lead = lead_create(actor=olive, data={"first_name": "Ida", "email": "ended@example.org"})
    other_lead = lead_create(actor=olive, data={"first_name": "Ria", "email": "running@example.org"})
    assert lead.subject_id == ended.subject_id
    contacts = _policy(cast, condition="contract_end", days=365)
    leads = _policy(cast, key="lead.inactive", condition="contract_end", days=365, action="delete")

    assert retention.retention_preview(contacts).as_dict() == {"matched": 1, "persons": 1, "held": 0}
    assert retention.retention_preview(leads).as_dict() == {"matched": 1, "persons": 1, "held": 0}
    for policy in (contacts, leads):
        _previewed(cast, policy)
        assert _run(cast, policy).processed == 1

    assert Contact.objects.get(pk=ended.pk).email == ""
    assert set(Contact.objects.exclude(email="").values_list("pk", flat=True)) == {recent.pk, running.pk, without.pk}
    assert list(Lead.objects.values_list("pk", flat=True)) == [other_lead.pk]


def test_a_run_reads_the_table_in_windows_and_misses_no_due_record_between_them(cast, monkeypatch):
    monkeypatch.setattr(retention, "PAGE_SIZE", 3)
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    made = [_contact(cast, f"c{n}@example.org", days_idle=400 if n % 3 else 0) for n in range(11)]
    idle = {c.pk for n, c in enumerate(made) if n % 3}
    policy = _policy(cast)
    _previewed(cast, policy)

    run = _run(cast, policy)

    assert (run.matched, run.processed) == (len(idle), len(idle))
    assert set(Contact.objects.filter(email="").values_list("pk", flat=True)) == idle
    assert _run(cast, policy).processed == 0


def test_a_run_goes_through_the_due_records_page_by_page_and_misses_none(cast, monkeypatch):
    monkeypatch.setattr(retention, "PAGE_SIZE", 2)
    monkeypatch.setattr(retention, "BATCH_SIZE", 1)
    idle = [_contact(cast, f"idle{n}@example.org", days_idle=400) for n in range(5)]
    active = _contact(cast, "active@example.org")
    policy = _policy(cast)
    _previewed(cast, policy)

    run = _run(cast, policy)

    assert (run.matched, run.processed) == (5, 5)
    assert set(Contact.objects.filter(email="").values_list("pk", flat=True)) == {c.pk for c in idle}
    assert Contact.objects.get(pk=active.pk).email == "active@example.org"
