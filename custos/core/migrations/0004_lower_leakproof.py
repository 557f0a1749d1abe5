"""Let PostgreSQL find a person by email through the index under row-level security.

Emails are compared in lower case (`lower(email)`, with an index on it per organisation),
but `lower` is not LEAKPROOF, so with the tenant wall on the planner may not use that index:
an import asked for a batch's emails by reading every contact of the organisation (a
million rows per batch in a large tenant), and so did the duplicate check. `lower` raises no
error that depends on a row's value (stored text is valid in the database's encoding), so it
is safe to mark LEAKPROOF; that needs a superuser, and a migration run by another role
leaves it as it is (everything stays correct, only slower) and says so: docs/operations.md
gives the statement.
"""

from django.db import migrations

from custos.core.db.functions import alter_functions

FUNCTIONS = ("lower(text)",)
UNLESS_SUPERUSER = (
    "core: not a superuser, so lower() stays NOT LEAKPROOF and look-ups by email read every "
    "contact of the organisation; see docs/operations.md."
)


def _leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


def _not_leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "NOT LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_jsonb_containment_leakproof")]

    operations = [migrations.RunPython(_leakproof, _not_leakproof)]
