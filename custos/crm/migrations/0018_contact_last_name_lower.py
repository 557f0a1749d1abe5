"""Contacts by last name in any case: the duplicate check and an import's rows without an
email compare names case-insensitively through it (`lower()` is LEAKPROOF on PostgreSQL,
core 0004, so row-level security lets the planner use it)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_task_reminders"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                models.F("org"), django.db.models.functions.text.Lower("last_name"), name="contact_org_last_name_lower"
            ),
        ),
    ]
