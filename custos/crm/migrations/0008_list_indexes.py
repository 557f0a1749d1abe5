"""Indexes for the lists: their default order (org, id) and their country and tag filters,
with their counts up to 10,000.

The tag filter is JSON containment (`tags @> '["vip"]'`); on PostgreSQL a GIN index serves
it under row-level security once containment is LEAKPROOF (core migration 0003). SQLite has
no such index: its tag filter reads the list, as before; there the new indexes get their
statistics at once.
"""

from django.db import migrations, models

TAGGED = ("crm_contact", "crm_company", "crm_lead", "crm_deal")


def _forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        # Statistics for the new indexes, where the others have some: SQLite's planner
        # takes an index it knows nothing of for a better one (see core.tasks.refresh_statistics).
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone():
                cursor.execute("PRAGMA analysis_limit=1000")
                for table in TAGGED:
                    cursor.execute(f"ANALYZE {table}")
        return
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TAGGED:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {table}_tags ON {table} USING gin (tags jsonb_path_ops)")


def _backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TAGGED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {table}_tags")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_jsonb_containment_leakproof"),
        ("crm", "0007_import_journal_move"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["org", "country"], name="company_org_country"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "country"], name="contact_org_country"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["org", "country"], name="lead_org_country"),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["org", "id"], name="company_org_id"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "id"], name="contact_org_id"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["org", "id"], name="lead_org_id"),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["org", "id"], name="deal_org_id"),
        ),
        migrations.RunPython(_forwards, _backwards),
    ]
