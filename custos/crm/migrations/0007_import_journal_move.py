"""An import's rejected rows and undo journal move from the job's JSON values into the tables
of migration 0006; the values go.

A journal is converted where undo may still use it: a written import that finished (and was
not undone) less than `UNDO_DAYS` ago, or one still running, whose next batches journal in
rows. Any other journal is dropped: its window has closed. The rows a journal listed as
suppressed become the job's count.

Each organisation's rows are moved in its tenant scope: on PostgreSQL the connection then
acts as the application role with the organisation set, as row-level security requires, and
the journal's replaced values decrypt and encrypt under the organisation's key.

Backwards, the rejected rows go back into their lists; the journals stay empty.
"""

import importlib
import json
from datetime import timedelta

from django.db import migrations
from django.utils import timezone

import custos.core.ids
from custos.core.tenancy import tenant_scope

UNDO_DAYS = 7  # as custos.crm.imports: a migration does not import the code it outlives

remake_mention_index = importlib.import_module(
    "custos.crm.migrations.0006_import_journal_and_rejected_rows_tables"
).remake_mention_index


def _ordered_ids(count):
    """Ids rising in the order given: undo and the report read rows back in id order."""
    return sorted(custos.core.ids.uuid7() for _ in range(count))


def _each_organisation(apps):
    """Each organisation's id, inside its tenant scope."""
    for org_id in list(apps.get_model("core", "Organization").objects.values_list("pk", flat=True)):
        with tenant_scope(org_id):
            yield org_id


def _job_ids(jobs):
    """The jobs' ids, to read one job (and its long values) at a time."""
    return list(jobs.order_by("pk").values_list("pk", flat=True))


def move_rejected_rows(apps, schema_editor):
    ImportJob = apps.get_model("crm", "ImportJob")
    ImportRejectedRow = apps.get_model("crm", "ImportRejectedRow")
    for org_id in _each_organisation(apps):
        for pk in _job_ids(ImportJob.objects.filter(org_id=org_id, rejected_count__gt=0)):
            job = ImportJob.objects.only("pk", "rejected").get(pk=pk)
            items = list(job.rejected or [])
            ImportRejectedRow.objects.bulk_create(
                [
                    ImportRejectedRow(
                        id=pk,
                        org_id=org_id,
                        job_id=job.pk,
                        row=int(item.get("row") or 0),
                        field=str(item.get("field") or "")[:100],
                        message=str(item.get("message") or "")[:500],
                    )
                    for pk, item in zip(_ordered_ids(len(items)), items, strict=True)
                ],
                batch_size=1000,
            )


def restore_rejected_lists(apps, schema_editor):
    ImportJob = apps.get_model("crm", "ImportJob")
    ImportRejectedRow = apps.get_model("crm", "ImportRejectedRow")
    for org_id in _each_organisation(apps):
        for pk in _job_ids(ImportJob.objects.filter(org_id=org_id, rejected_count__gt=0)):
            job = ImportJob.objects.only("pk").get(pk=pk)
            rows = ImportRejectedRow.objects.filter(job_id=job.pk).order_by("row", "pk")
            job.rejected = [{"row": r.row, "field": r.field, "message": r.message} for r in rows]
            job.save(update_fields=["rejected"])


def convert_journals(apps, schema_editor):
    """Old journal: {"created": [contact ids], "points": [contact point ids],
    "updated": {contact id: {field: replaced value}}, "suppressed": [row numbers]}."""
    ImportJob = apps.get_model("crm", "ImportJob")
    ImportJournalEntry = apps.get_model("crm", "ImportJournalEntry")
    Contact = apps.get_model("crm", "Contact")
    now = timezone.now()
    for org_id in _each_organisation(apps):
        for pk in _job_ids(ImportJob.objects.filter(org_id=org_id)):  # an encrypted value cannot be compared in SQL
            job = ImportJob.objects.only("pk", "status", "dry_run", "finished_at", "undone_at", "journal").get(pk=pk)
            if not job.journal:
                continue
            journal = json.loads(job.journal)
            job.suppressed_count = len(journal.get("suppressed") or [])
            open_until = job.finished_at + timedelta(days=UNDO_DAYS) if job.finished_at else None
            finished_open = job.status == "completed" and open_until is not None and open_until > now
            if (finished_open or job.status == "running") and not job.dry_run and job.undone_at is None:
                job.undo_until = open_until if finished_open else None
                updated = journal.get("updated") or {}
                # An update's entry belongs to the contact's person; a contact gone since needs none.
                subjects = dict(Contact.objects.filter(pk__in=list(updated)).values_list("pk", "subject_id"))
                entries = [
                    *(("created", "contact", pk, None, "") for pk in journal.get("created") or []),
                    *(("created", "contactpoint", pk, None, "") for pk in journal.get("points") or []),
                    *(
                        ("updated", "contact", pk, subject_id, json.dumps(updated[str(pk)]))
                        for pk, subject_id in subjects.items()
                    ),
                ]
                ImportJournalEntry.objects.bulk_create(
                    [
                        ImportJournalEntry(
                            id=pk,
                            org_id=org_id,
                            job_id=job.pk,
                            kind=kind,
                            object_type=object_type,
                            object_id=object_id,
                            subject_id=subject_id,
                            previous=previous,
                        )
                        for pk, (kind, object_type, object_id, subject_id, previous) in zip(
                            _ordered_ids(len(entries)), entries, strict=True
                        )
                    ],
                    batch_size=1000,
                )
            job.save(update_fields=["suppressed_count", "undo_until"])


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_import_journal_and_rejected_rows_tables"),
    ]

    operations = [
        # Backwards, last: after the job table is rebuilt with its old columns.
        migrations.RunPython(migrations.RunPython.noop, remake_mention_index),
        migrations.RunPython(move_rejected_rows, restore_rejected_lists),
        migrations.RunPython(convert_journals, migrations.RunPython.noop),
        migrations.RemoveField(model_name="importjob", name="rejected"),
        migrations.RemoveField(model_name="importjob", name="journal"),
        migrations.RunPython(remake_mention_index, migrations.RunPython.noop),
    ]
