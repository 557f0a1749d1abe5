"""A task's reminder is mailed to its assignee once: `reminded_at` marks the claim, and a
partial index holds the open tasks whose reminder has not gone yet. Reminders whose time
passed before reminders were mailed at all are marked as gone: nobody expects those mails."""

from django.db import migrations, models
from django.db.models import F
from django.utils import timezone


def _mark_past(apps, schema_editor):
    Activity = apps.get_model("crm", "Activity")
    Activity.objects.filter(reminder_at__lte=timezone.now()).update(reminded_at=F("reminder_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0016_open_tasks_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="reminded_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(
                condition=models.Q(("done_at__isnull", True), ("kind", "task"), ("reminded_at__isnull", True)),
                fields=["org", "reminder_at"],
                name="activity_reminders_due",
            ),
        ),
        migrations.RunPython(_mark_past, migrations.RunPython.noop),
    ]
