"""PostgreSQL: a trigram index on the contacts' own search text, with the LEAKPROOF containment
operator's class (search 0007), so that a searched list finds its sparse matches in one read
of the contacts instead of through their search entries; and a partial index of the few
contacts whose text overflowed or was never written, which that search checks by their
entries. Without the operator class (search 0007 run by another role) neither is built and
the list searches through the entries, as before; SQLite has no such index.
"""

from django.db import migrations

FORWARDS = [
    "CREATE INDEX IF NOT EXISTS crm_contact_search_text_trgm ON crm_contact USING gin (search_text custos_trgm_ops)",
    # The condition `crm.selectors.records` asks with (OVERFLOW is chr(1)), so the planner can prove it.
    "CREATE INDEX IF NOT EXISTS contact_org_unindexed ON crm_contact (org_id) "
    "WHERE search_text = E'\\x01' OR search_text IS NULL",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS contact_org_unindexed",
    "DROP INDEX IF EXISTS crm_contact_search_text_trgm",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_opclass WHERE opcname = 'custos_trgm_ops')")
            if cursor.fetchone()[0]:
                for statement in statements:
                    cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0012_search_text_on_the_record"),
        ("search", "0010_second_word_index_sqlite"),
    ]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS))]
