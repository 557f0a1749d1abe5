"""Leads by status and source, with the deal a converted lead became: the dashboard's funnel
and sources count them, and find the converted ones' deals, from this index alone instead of
reading every lead with its deal."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0018_contact_last_name_lower"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["org", "status", "source", "converted_deal"], name="lead_org_status_source"),
        ),
    ]
