"""Let PostgreSQL use the trigram index under row-level security.

A policy's condition is checked before any condition of the query whose function is not
LEAKPROOF, so with the tenant wall on, `value % 'q'` could not use the GIN index and every
search read the whole table. The trigram operators compare two strings and raise no error
that depends on a row's value, so they are safe to mark LEAKPROOF. Marking needs a
superuser; a migration run by another role leaves them as they are (searches stay correct,
only slower) and says so: docs/operations.md gives the statements to run once as superuser.
"""

from django.db import migrations

from custos.core.db.functions import alter_functions

FUNCTIONS = ("similarity_op(text, text)", "word_similarity_op(text, text)", "word_similarity_commutator_op(text, text)")
UNLESS_SUPERUSER = (
    "search: not a superuser, so the trigram operators stay NOT LEAKPROOF and search reads "
    "the whole table under row-level security; see docs/operations.md."
)


def _leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


def _not_leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "NOT LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


class Migration(migrations.Migration):
    dependencies = [("search", "0002_search_engines")]

    operations = [migrations.RunPython(_leakproof, _not_leakproof)]
