"""An import's journal and rejected rows, a row each: what undo, erasure, a resumed batch and
the report rely on."""

import io

import pytest

from custos.core.errors import Conflict
from custos.core.tenancy import tenant_scope
from custos.crm import imports
from custos.crm.imports import import_start, import_undo, import_upload
from custos.crm.models import Company, Contact, ImportJob, ImportJournalEntry, ImportRejectedRow
from custos.crm.selectors.search import global_search
from custos.crm.services.people import contact_create
from custos.privacy.models import Subject
from custos.privacy.services.erasure import erasure_preview, subject_erase
from custos.testing import run_tasks


def _import(cast, text: str, duplicates: str = "skip") -> ImportJob:
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        job = import_upload(actor=actor, object_type="contact", file_name="k.csv", stream=io.BytesIO(text.encode()))
        import_start(actor=actor, job=job, mapping=job.mapping, duplicates=duplicates)
    run_tasks()
    with tenant_scope(cast.org_a):
        return ImportJob.objects.get(pk=job.pk)


def _journal(job: ImportJob) -> list[tuple[str, str]]:
    return sorted(ImportJournalEntry.objects.filter(job=job).values_list("kind", "object_type"))


def test_undo_removes_the_companies_it_created_unless_another_record_uses_them(cast, monkeypatch):
    monkeypatch.setattr(imports, "UNDO_CHUNK", 2)  # several chunks of each kind
    text = (
        "Last name,Email,Company\n"
        "Lind,lind@example.org,Neu GmbH\n"
        "Holm,holm@example.org,Geteilt AG\n"
        "Berg,berg@example.org,Neu GmbH\n"
        "Falk,falk@example.org,Dritte KG\n"
    )
    job = _import(cast, text)
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        assert _journal(job) == [("created", "company")] * 3 + [("created", "contact")] * 4
        shared = Company.objects.get(name="Geteilt AG")
        contact_create(actor=actor, data={"last_name": "Hand", "company": str(shared.pk)})

        undone = import_undo(actor=actor, job=job)

        assert (undone.removed, undone.restored, undone.companies_removed, undone.companies_kept) == (4, 0, 2, 1)
        assert list(Company.objects.values_list("name", flat=True)) == ["Geteilt AG"]
        assert list(Contact.objects.values_list("last_name", "company_id")) == [("Hand", shared.pk)]
        assert global_search(actor, "Neu GmbH", types=["company"]) == []
        assert not ImportJournalEntry.objects.filter(job=job).exists()
        assert ImportJob.objects.get(pk=job.pk).status == "undone"


def test_undo_restores_the_oldest_values_when_two_batches_changed_one_contact(cast, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 1)
    with tenant_scope(cast.org_a):
        stored = contact_create(
            actor=cast.actor(cast.alice), data={"first_name": "Ute", "last_name": "Alt", "email": "ute@example.org"}
        )
    text = "First name,Last name,City,Email\nUte,Neu,,ute@example.org\nUta,Neuer,Köln,ute@example.org\n"
    job = _import(cast, text, duplicates="update")
    with tenant_scope(cast.org_a):
        assert _journal(job) == [("updated", "contact")] * 2
        assert ImportJournalEntry.objects.filter(job=job).first().subject_id == stored.subject_id
        assert Contact.objects.values_list("first_name", "last_name", "city").get() == ("Uta", "Neuer", "Köln")

        assert import_undo(actor=cast.actor(cast.alice), job=job).restored == 1

        assert Contact.objects.values_list("first_name", "last_name", "city").get() == ("Ute", "Alt", "")


def test_erasing_a_person_removes_their_journal_rows_and_no_one_elses(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        greta = contact_create(actor=actor, data={"last_name": "Old", "email": "greta@example.org"})
        hans = contact_create(actor=actor, data={"last_name": "Old", "email": "hans@example.org"})
    text = "Last name,Email\nNew,greta@example.org\nNew,hans@example.org\nFresh,fresh@example.org\n"
    job = _import(cast, text, duplicates="update")
    with tenant_scope(cast.org_a):
        assert _journal(job) == [("created", "contact"), ("updated", "contact"), ("updated", "contact")]
        subject = Subject.objects.get(pk=greta.subject_id)
        assert erasure_preview(subject).delete["crm.ImportJournalEntry"] == 1

        subject_erase(actor=actor, subject=subject)

        left = ImportJournalEntry.objects.filter(job=job, kind="updated")
        assert list(left.values_list("object_id", flat=True)) == [hans.pk]
        assert not ImportJournalEntry.objects.filter(subject=subject).exists()
        import_undo(actor=actor, job=ImportJob.objects.get(pk=job.pk))
        assert Contact.objects.get(pk=hans.pk).last_name == "Old"
        assert Contact.objects.get(pk=greta.pk).last_name == ""  # erased, and nothing comes back
        assert not Contact.objects.filter(email="fresh@example.org").exists()


def test_a_batch_that_fails_leaves_no_journal_or_rejected_rows_and_the_resume_writes_them_once(cast, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    rows = "".join(f"P{n},p{n}@example.org\n" if n % 3 else f"P{n},broken-{n}\n" for n in range(7))
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        job = import_upload(
            actor=actor, object_type="contact", file_name="k.csv", stream=io.BytesIO(f"Name,Email\n{rows}".encode())
        )
        import_start(actor=actor, job=job, mapping={"Name": "last_name", "Email": "email"}, duplicates="skip")
        calls = []
        original = imports.reindex_many

        def failing_second_batch(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("the machine went down")
            return original(*args, **kwargs)

        monkeypatch.setattr(imports, "reindex_many", failing_second_batch)
        with pytest.raises(RuntimeError):
            imports.import_process(ImportJob.objects.get(pk=job.pk), actor)
        stopped = ImportJob.objects.get(pk=job.pk)
        assert (stopped.checkpoint, stopped.created_count, stopped.rejected_count) == (2, 1, 1)
        assert ImportJournalEntry.objects.filter(job=job).count() == 1
        assert ImportRejectedRow.objects.filter(job=job).count() == 1
        monkeypatch.setattr(imports, "reindex_many", original)
    run_tasks()  # the queued task resumes after the last finished batch
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.status, job.created_count, job.rejected_count) == ("completed", 4, 3)
        assert ImportJournalEntry.objects.filter(job=job).count() == Contact.objects.count() == 4
        assert list(ImportRejectedRow.objects.filter(job=job).values_list("row", flat=True)) == [2, 5, 8]


def test_the_report_lists_rejected_rows_in_row_order_without_their_values(cast, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 3)
    monkeypatch.setattr(imports, "REPORT_CHUNK", 2)  # the report is read in several chunks
    lines = [
        f"bad-mail-{n}@,{'x' * 10 if n % 2 else '12'}" if n % 4 else f"ok{n}@example.org,030 1234567" for n in range(12)
    ]
    job = _import(cast, "Email,Phone\n" + "\n".join(lines) + "\n")

    report = b"".join(imports.rejected_report(job)).decode("utf-8-sig").splitlines()

    assert report[0] == "Row,Field,Reason"
    rows = [line.split(",")[:2] for line in report[1:]]
    assert [int(row) for row, _field in rows] == [3, 3, 4, 4, 5, 5, 7, 7, 8, 8, 9, 9, 11, 11, 12, 12, 13, 13]
    assert {field for _row, field in rows} == {"Email", "Phone"}
    assert [field for row, field in rows if row == "3"] == ["Email", "Phone"]  # as the row was checked
    with tenant_scope(cast.org_a):
        kept = list(ImportRejectedRow.objects.values_list("field", "message"))
    assert "bad-mail" not in str(kept) and "xxxxxxxxxx" not in str(kept)


def test_a_dry_run_reports_its_rejected_rows_and_journals_nothing(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        job = import_upload(
            actor=actor,
            object_type="contact",
            file_name="k.csv",
            stream=io.BytesIO(b"Email,Company\nok@example.org,Neu GmbH\nbroken,\n"),
        )
        import_start(actor=actor, job=job, mapping=job.mapping, duplicates="skip", dry_run=True)
    run_tasks()
    with tenant_scope(cast.org_a):
        job = ImportJob.objects.get(pk=job.pk)
        assert (job.created_count, job.rejected_count, job.undoable) == (1, 1, False)
        assert not ImportJournalEntry.objects.exists()
        assert list(ImportRejectedRow.objects.values_list("row", "field")) == [(3, "email")]
        with pytest.raises(Conflict):
            import_undo(actor=actor, job=job)


def test_the_window_closes_for_every_import_at_once_and_a_failed_imports_journal_goes_too(cast):
    from datetime import timedelta

    from django.utils import timezone

    first = _import(cast, "Email\na@example.org\n")
    second = _import(cast, "Email\nb@example.org\n")
    with tenant_scope(cast.org_a):
        ImportJob.objects.filter(pk=second.pk).update(status="failed", undo_until=None)
        assert ImportJournalEntry.objects.count() == 2
        assert imports.imports_expire(now=timezone.now() + timedelta(days=8)) == 1
        assert not ImportJournalEntry.objects.exists()
        assert ImportJob.objects.get(pk=first.pk).undoable is False
    with tenant_scope(cast.org_b):
        assert imports.imports_expire(now=timezone.now() + timedelta(days=8)) == 0


@pytest.mark.django_db(transaction=True)  # committed: a broken link would fail on commit
def test_undo_leaves_a_company_deleted_since_and_restores_the_rest(cast):
    from custos.crm.services.people import company_create, company_delete

    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        old = company_create(actor=actor, data={"name": "Alt GmbH"})
        contact_create(
            actor=actor,
            data={"first_name": "Ute", "last_name": "Alt", "email": "ute@example.org", "company": str(old.pk)},
        )
    job = _import(cast, "Last name,Email,Company\nNeu,ute@example.org,Neu AG\n", duplicates="update")
    with tenant_scope(cast.org_a):
        company_delete(actor=actor, company=Company.objects.get(pk=old.pk))

        undone = import_undo(actor=actor, job=ImportJob.objects.get(pk=job.pk))

        assert (undone.restored, undone.not_restored, undone.companies_kept) == (1, 1, 1)
        new = Company.objects.get(name="Neu AG")  # kept: the contact still points at it
        assert list(Contact.objects.values_list("last_name", "company_id")) == [("Alt", new.pk)]
        assert ImportJob.objects.get(pk=job.pk).status == "undone"


def test_an_import_left_running_by_a_dead_worker_fails_and_loses_its_journal_after_the_window(cast, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    job = _import(cast, "Email\na@example.org\n")
    with tenant_scope(cast.org_a):
        ImportJob.objects.filter(pk=job.pk).update(status="running", finished_at=None, undo_until=None)
        assert imports.imports_expire(now=timezone.now() + timedelta(days=6)) == 0
        assert ImportJournalEntry.objects.filter(job=job).count() == 1

        assert imports.imports_expire(now=timezone.now() + timedelta(days=8)) == 1

        assert ImportJob.objects.values_list("status", "error").get(pk=job.pk) == (
            "failed",
            "stopped without finishing",
        )
        assert not ImportJournalEntry.objects.exists()
