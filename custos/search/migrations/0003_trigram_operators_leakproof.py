"""Let PostgreSQL use the trigram index under row-level security.

A policy's condition is checked before any condition of the query whose function is not
LEAKPROOF, so with the tenant wall on, `value % 'q'` could not use the GIN index and every
search read the whole table. The trigram operators compare two strings and raise no error
that depends on a row's value, so they are safe to mark LEAKPROOF. Marking needs a
superuser; a migration run by another role leaves them as they are (searches stay correct,
only slower) and says so: docs/operations.md gives the statements to run once as superuser.
"""

import sys

from django.db import migrations

FUNCTIONS = ("similarity_op(text, text)", "word_similarity_op(text, text)", "word_similarity_commutator_op(text, text)")


def _leakproof(apps, schema_editor, flag="LEAKPROOF"):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (superuser,) = cursor.fetchone()
        if not superuser:
            sys.stderr.write(
                "search: not a superuser, so the trigram operators stay NOT LEAKPROOF and search reads "
                "the whole table under row-level security; see docs/operations.md.\n"
            )
            return
        for function in FUNCTIONS:
            cursor.execute(f"ALTER FUNCTION {function} {flag}")


def _not_leakproof(apps, schema_editor):
    _leakproof(apps, schema_editor, flag="NOT LEAKPROOF")


class Migration(migrations.Migration):
    dependencies = [("search", "0002_search_engines")]

    operations = [migrations.RunPython(_leakproof, _not_leakproof)]
