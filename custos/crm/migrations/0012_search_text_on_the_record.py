"""Searchable records keep their search entries' values on their own row (`search_text`),
filled here from the entries each organisation has: the values, distinct, in code-point
order, one a line; more than `TEXT_BYTES` of them stored as OVERFLOW (as
`custos.search.index.record_text` writes them). The name indexes are made again with it as
their last column, after the values are in (one build).
"""

from django.conf import settings
from django.db import migrations, models

from custos.core.tenancy import tenant_scope

TEXT_BYTES = 1_500  # as custos.search.index: a migration does not import the code it outlives
TYPES = {"contact": "Contact", "company": "Company", "lead": "Lead", "deal": "Deal"}

POSTGRESQL = """
    UPDATE {table} AS r SET search_text = CASE WHEN octet_length(s.t) > %s THEN chr(1) ELSE s.t END
    FROM (
        SELECT object_id, string_agg(value, E'\\n' ORDER BY value COLLATE "C") AS t FROM (
            SELECT DISTINCT object_id, value FROM search_searchentry
            WHERE org_id = %s AND object_type = %s AND value <> ''
        ) AS d GROUP BY object_id
    ) AS s
    WHERE r.org_id = %s AND r.id = s.object_id
"""
SQLITE = """
    UPDATE {table} SET search_text = (
        SELECT CASE WHEN length(CAST(t AS BLOB)) > %s THEN char(1) ELSE t END FROM (
            SELECT group_concat(value, char(10)) AS t FROM (
                SELECT DISTINCT value FROM search_searchentry AS e
                WHERE e.org_id = {table}.org_id AND e.object_type = %s AND e.object_id = {table}.id AND value <> ''
                ORDER BY value
            )
        )
    )
    WHERE org_id = %s
"""


def fill(apps, schema_editor):
    connection = schema_editor.connection
    for org_id in list(apps.get_model("core", "Organization").objects.values_list("pk", flat=True)):
        with tenant_scope(org_id), connection.cursor() as cursor:
            org = org_id if connection.features.has_native_uuid_field else org_id.hex
            for object_type, name in TYPES.items():
                table = connection.ops.quote_name(apps.get_model("crm", name)._meta.db_table)
                if connection.vendor == "postgresql":
                    cursor.execute(POSTGRESQL.format(table=table), [TEXT_BYTES, org, object_type, org])
                else:
                    cursor.execute(SQLITE.format(table=table), [TEXT_BYTES, object_type, org])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_lower_leakproof"),
        ("crm", "0011_list_filter_indexes_end_with_id"),
        ("privacy", "0009_mention_triggers_on_change_only"),
        ("search", "0010_second_word_index_sqlite"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="company",
            name="company_org_name",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_org_name",
        ),
        migrations.AddField(
            model_name="company",
            name="search_text",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="contact",
            name="search_text",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="deal",
            name="search_text",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="search_text",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(fields=["org", "name", "id", "search_text"], name="company_org_name"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["org", "last_name", "first_name", "id", "search_text"], name="contact_org_name"),
        ),
    ]
