"""PostgreSQL: a trigram index on the contacts' own search text, with the LEAKPROOF containment
operator's class (search 0007), so that a searched list finds its sparse matches in one read
of the contacts instead of through their search entries; and, on both databases, a partial
index of the few contacts whose text overflowed or was never written, which that search checks
by their entries. Without the operator class (search 0007 run by another role) there is no
trigram index and the list searches through the entries, as before.
"""

from django.conf import settings
from django.db import migrations, models

FORWARDS = "CREATE INDEX IF NOT EXISTS crm_contact_search_text_trgm ON crm_contact USING gin (search_text custos_trgm_ops)"
BACKWARDS = "DROP INDEX IF EXISTS crm_contact_search_text_trgm"


def _run(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_opclass WHERE opcname = 'custos_trgm_ops')")
            if cursor.fetchone()[0]:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_lower_leakproof"),
        ("crm", "0012_search_text_on_the_record"),
        ("privacy", "0009_mention_triggers_on_change_only"),
        ("search", "0010_second_word_index_sqlite"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("search_text", "\x01"), ("search_text__isnull", True), _connector="OR"),
                fields=["org"],
                name="contact_org_unindexed",
            ),
        ),
        migrations.RunPython(_run(FORWARDS), _run(BACKWARDS)),
    ]
