"""An import's undo journal and rejected rows move from two JSON values on the job, rewritten
whole at every batch, to a row each in tables of their own: here the tables, and the job's
new fields; migration 0007 moves the rows and drops the old values.

Two migrations, not one: PostgreSQL adds a new table's foreign keys when its migration ends,
checking the rows already there as the migrating role, under the tenant wall (forced on the
owner too), which shows it no job. The tables get their keys here, empty.

On SQLite, adding a NOT NULL column rebuilds the job table, which drops the triggers of its
mention index (privacy migration 0006): the index is made again afterwards, as it was there.
"""

import sqlite3

import django.db.models.deletion
from django.db import migrations, models

import custos.core.fields
import custos.core.ids

MENTIONS = "privacy_mentions_crm_importjob"


def remake_mention_index(apps, schema_editor):
    """The job table's mention index (its file name), as privacy migration 0006 made it."""
    if schema_editor.connection.vendor != "sqlite":
        return
    remove = f"INSERT INTO {MENTIONS}({MENTIONS}, rowid, file_name) VALUES ('delete', old.rowid, old.file_name);"  # noqa: S608
    add = f"INSERT INTO {MENTIONS}(rowid, file_name) VALUES (new.rowid, new.file_name);"  # noqa: S608
    for trigger in ("insert", "delete", "update"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {MENTIONS}_{trigger}")
    schema_editor.execute(f"DROP TABLE IF EXISTS {MENTIONS}")
    schema_editor.execute(
        f"CREATE VIRTUAL TABLE {MENTIONS} USING fts5(file_name, content='crm_importjob', content_rowid='rowid', "
        "tokenize='trigram')"
    )
    schema_editor.execute(f"INSERT INTO {MENTIONS}({MENTIONS}) VALUES ('rebuild')")  # noqa: S608
    schema_editor.execute(f"CREATE TRIGGER {MENTIONS}_insert AFTER INSERT ON crm_importjob BEGIN {add} END")
    schema_editor.execute(f"CREATE TRIGGER {MENTIONS}_delete AFTER DELETE ON crm_importjob BEGIN {remove} END")
    schema_editor.execute(
        f"CREATE TRIGGER {MENTIONS}_update AFTER UPDATE OF file_name ON crm_importjob BEGIN {remove} {add} END"
    )
    if sqlite3.sqlite_version_info >= (3, 42, 0):
        schema_editor.execute(f"INSERT INTO {MENTIONS}({MENTIONS}, rank) VALUES ('secure-delete', 1)")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_organization_offboarding"),
        ("crm", "0005_contact_contract_ends_on"),
        ("privacy", "0007_recipient_notices"),
    ]

    operations = [
        # Backwards, last: after the job table is rebuilt with its old columns.
        migrations.RunPython(migrations.RunPython.noop, remake_mention_index),
        migrations.AddField(
            model_name="importjob",
            name="suppressed_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="importjob",
            name="undo_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ImportJournalEntry",
            fields=[
                (
                    "id",
                    models.UUIDField(default=custos.core.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("kind", models.CharField(choices=[("created", "created"), ("updated", "updated")], max_length=8)),
                ("object_type", models.CharField(max_length=16)),
                ("object_id", models.UUIDField()),
                (
                    "previous",
                    custos.core.fields.EncryptedTextField(blank=True, verbose_name="values an import replaced"),
                ),
                (
                    "job",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.importjob",
                    ),
                ),
                (
                    "org",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
                (
                    "subject",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="privacy.subject",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["job", "id"], name="import_journal_job")],
            },
        ),
        migrations.CreateModel(
            name="ImportRejectedRow",
            fields=[
                (
                    "id",
                    models.UUIDField(default=custos.core.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("row", models.PositiveIntegerField()),
                ("field", models.CharField(blank=True, max_length=100)),
                ("message", models.CharField(max_length=500)),
                (
                    "job",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.importjob",
                    ),
                ),
                (
                    "org",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["job", "row", "id"], name="import_rejected_job_row")],
            },
        ),
        migrations.RunPython(remake_mention_index, migrations.RunPython.noop),
    ]
