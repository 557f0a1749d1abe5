"""PostgreSQL: a b-tree on what follows a value's first word, so that "at a word's start" is
two ranges of b-trees (this and the value's own, 0005) instead of the trigram index.

The trigram index answers "at a word's start" through the padding trigrams of the text's
first letters ("  m", " mu"), the longest posting lists of all, and a GIN index reads them
whole before any LIMIT applies: 20–80 ms for a last name at a million contacts, 3.4 s for
"gmx.de". A b-tree range is read in order and stops at the LIMIT: about a millisecond. A
name is "first last", so the second word is where a last name starts; a value of one word
has no entry here (NULL).

Under row-level security the index serves only a LEAKPROOF expression: the function is
plpgsql (a SQL function would be inlined into `substr`, which is not LEAKPROOF) and raises
nothing. Marking it so needs a superuser; another role leaves it out, and the search then
finds word starts through the trigram index as before (docs/operations.md).
"""

from django.db import migrations

from custos.core.db.functions import superuser

FORWARDS = [
    """CREATE OR REPLACE FUNCTION custos_second_word(value text) RETURNS text
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS $$
        BEGIN
            IF strpos(value, ' ') = 0 THEN
                RETURN NULL;
            END IF;
            RETURN substr(value, strpos(value, ' ') + 1);
        END $$""",
    'CREATE INDEX IF NOT EXISTS search_entry_second_word ON search_searchentry '
    '(org_id, (custos_second_word(value)) COLLATE "C")',
    # An expression index has no statistics until the table is analysed.
    "ANALYZE search_searchentry",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS search_entry_second_word",
    "DROP FUNCTION IF EXISTS custos_second_word(text)",
]
UNLESS_SUPERUSER = (
    "search: not a superuser, so there is no index of values' second words and a search finds word "
    "starts through the trigram index; see docs/operations.md."
)


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql" and superuser(schema_editor, UNLESS_SUPERUSER):
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0008_lean_indexes")]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS))]
