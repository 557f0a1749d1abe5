"""Two indexes fewer on the search index, whose rows every import writes and every erasure
and retention run deletes: the organisation alone (it leads both remaining indexes) and
(organisation, person) (the person's key alone, the foreign key's own index, finds them).

Only the indexes are dropped: on SQLite, altering the field through Django would copy the
table into a new one, dropping the FTS5 index's triggers and renumbering the rows it refers
to by rowid.
"""

import django.db.models.deletion
from django.db import migrations, models

ORG_INDEX = "search_searchentry_org_id_80f957bf"


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_lower_leakproof"),
        ("search", "0007_trigram_containment_operator"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="searchentry", name="search_entry_subject"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="searchentry",
                    name="org",
                    field=models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {ORG_INDEX}",
                    f"CREATE INDEX IF NOT EXISTS {ORG_INDEX} ON search_searchentry (org_id)",
                ),
            ],
        ),
    ]
