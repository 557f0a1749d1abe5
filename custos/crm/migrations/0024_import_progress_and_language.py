"""An import's progress (when its checkpoint last moved, how often it was handed on) and the
language it was started in.

On SQLite, adding a NOT NULL column rebuilds the job table, which drops the triggers of its
mention index: the index is made again afterwards as 0006 made it, its update trigger as
privacy 0009 left it (on a changed file name only).
"""

import importlib

from django.db import migrations, models

journal_tables = importlib.import_module("custos.crm.migrations.0006_import_journal_and_rejected_rows_tables")
on_change = importlib.import_module("custos.privacy.migrations.0009_mention_triggers_on_change_only")


def remake_mention_index(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    journal_tables.remake_mention_index(apps, schema_editor)
    for statement in on_change._update_trigger("crm_importjob", [("file_name", False)], on_change_only=True):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0023_labels_of_record_details"),
        ("privacy", "0009_mention_triggers_on_change_only"),
    ]

    operations = [
        # Reversed, this runs last: after the columns are dropped (another rebuild).
        migrations.RunPython(migrations.RunPython.noop, remake_mention_index),
        migrations.AddField(
            model_name="importjob",
            name="language",
            field=models.CharField(blank=True, max_length=8),
        ),
        migrations.AddField(
            model_name="importjob",
            name="progressed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="resumes",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RunPython(remake_mention_index, migrations.RunPython.noop),
    ]
