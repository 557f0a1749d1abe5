"""Let PostgreSQL use the trigram index under row-level security for typos, too.

The global search looks for a text with a typo through pg_trgm's strict word similarity
(`text <<% value`: the text against the value's closest run of whole words), the measure
it ranks by. As in migration 0003, the operator functions compare two strings and raise no
error that depends on a row's value, so they are safe to mark LEAKPROOF; that needs a
superuser, and a migration run by another role leaves them as they are (typo searches stay
correct, only slower) and says so: a superuser runs the ALTER FUNCTION statements once.
"""

from django.db import migrations

from custos.core.db.functions import alter_functions

FUNCTIONS = ("strict_word_similarity_op(text, text)", "strict_word_similarity_commutator_op(text, text)")
UNLESS_SUPERUSER = (
    "search: not a superuser, so the strict word similarity operators stay NOT LEAKPROOF and a "
    "search with a typo reads the whole table under row-level security; see docs/operations.md."
)


def _leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


def _not_leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "NOT LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


class Migration(migrations.Migration):
    dependencies = [("search", "0005_value_prefix_index")]

    operations = [migrations.RunPython(_leakproof, _not_leakproof)]
