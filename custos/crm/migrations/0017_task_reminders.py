"""A task's reminder is mailed to its assignee once: `reminded_at` marks the claim, and a
partial index holds the open tasks whose reminder has not gone yet. Reminders whose time
passed before reminders were mailed at all are marked as gone: nobody expects those mails."""

from django.db import migrations, models
from django.db.models import F
from django.utils import timezone

from custos.core.tenancy import tenant_scope


def _mark_past(apps, schema_editor):
    """Per organisation: under PostgreSQL's row-level security a role that is not a superuser
    sees a tenant table's rows only inside its organisation."""
    Activity = apps.get_model("crm", "Activity")
    now = timezone.now()
    for org_id in list(apps.get_model("core", "Organization").objects.values_list("pk", flat=True)):
        with tenant_scope(org_id):
            Activity.objects.filter(org_id=org_id, kind="task", reminder_at__lte=now).update(
                reminded_at=F("reminder_at")
            )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
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
