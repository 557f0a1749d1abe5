"""A task's reminder is mailed to its assignee once: `reminded_at` marks the claim, and a
partial index holds the open tasks whose reminder has not gone yet."""

from django.db import migrations, models


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
    ]
