"""The lists' filter and sort indexes end with the id, the last key of every list's order.

A list filtered by country or owner is read newest or oldest first, by id, and a list by name
breaks ties by id. With (org, country) alone SQLite sorted every matching row: at 100,000
contacts "country, newest first" 25 -> 15 ms and "tag, sorted by name" 131 -> 82 ms
(docs/benchmarks.md, eighth round). PostgreSQL reads the same page through (org, country,
id) in 0.05 ms where it chooses that index; for an organisation holding most of the table
its planner may still prefer the primary key. SQLite's planner gets statistics for the new
indexes at once (see 0008).
"""

from django.db import migrations, models

TABLES = ("crm_company", "crm_contact", "crm_deal", "crm_lead")


def _statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone():
            cursor.execute("PRAGMA analysis_limit=1000")
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_import_journal_by_record"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="company",
            name="company_org_name",
        ),
        migrations.RemoveIndex(
            model_name="company",
            name="company_org_owner",
        ),
        migrations.RemoveIndex(
            model_name="company",
            name="company_org_country",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_org_name",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_org_owner",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_org_country",
        ),
        migrations.RemoveIndex(
            model_name="deal",
            name="deal_org_owner",
        ),
        migrations.RemoveIndex(
            model_name="deal",
            name="deal_org_company",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_org_owner",
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_org_country",
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["org", "name", "id"], name="company_org_name"),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["org", "owner", "id"], name="company_org_owner"),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["org", "country", "id"], name="company_org_country"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "last_name", "first_name", "id"], name="contact_org_name"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "owner", "id"], name="contact_org_owner"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "country", "id"], name="contact_org_country"),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["org", "owner", "id"], name="deal_org_owner"),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["org", "company", "id"], name="deal_org_company"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["org", "owner", "id"], name="lead_org_owner"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["org", "country", "id"], name="lead_org_country"),
        ),
        migrations.RunPython(_statistics, migrations.RunPython.noop),
    ]
