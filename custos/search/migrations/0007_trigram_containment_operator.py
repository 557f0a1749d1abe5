"""Let the trigram index intersect on PostgreSQL under row-level security: `~~~`.

Only LEAKPROOF operators reach an index under the tenant wall. LIKE cannot be marked so (its
"pattern must not end with the escape character" error depends on how far the row's value
matched), so a substring was looked up by word similarity (`<%`), which must read the whole
posting list of every trigram of the text: hundreds of thousands of entries for "gmx.de" at
a million contacts. `value ~~~ pattern` is LIKE made LEAKPROOF: the pattern is checked first
and a malformed one matches nothing, so it raises no error at all; an operator class of our
own gives it pg_trgm's LIKE strategy, which intersects the trigrams' posting lists, beside
the word-similarity strategies the search also uses. Creating an operator class needs a
superuser; another role leaves the index as it is (search stays correct, slower at scale)
and says so: docs/operations.md gives the statements.
"""

from django.db import migrations

from custos.core.db.functions import superuser

FORWARDS = [
    r"""CREATE OR REPLACE FUNCTION custos_like(value text, pattern text) RETURNS boolean
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS $$
        BEGIN
            IF pattern ~ '(^|[^\\])(\\\\)*\\$' THEN  -- ends with a lone escape: LIKE would raise
                RETURN false;
            END IF;
            RETURN value LIKE pattern;
        END $$""",
    "CREATE OPERATOR ~~~ (LEFTARG = text, RIGHTARG = text, FUNCTION = custos_like, "
    "RESTRICT = likesel, JOIN = likejoinsel)",
    """CREATE OPERATOR CLASS custos_trgm_ops FOR TYPE text USING gin AS
        OPERATOR 3 ~~~ (text, text),
        OPERATOR 7 %> (text, text),
        OPERATOR 9 %>> (text, text),
        FUNCTION 1 btint4cmp (int4, int4),
        FUNCTION 2 gin_extract_value_trgm (text, internal),
        FUNCTION 3 gin_extract_query_trgm (text, internal, int2, internal, internal, internal, internal),
        FUNCTION 4 gin_trgm_consistent (internal, int2, text, int4, internal, internal, internal, internal),
        FUNCTION 6 gin_trgm_triconsistent (internal, int2, text, int4, internal, internal, internal),
        STORAGE int4""",
    "DROP INDEX IF EXISTS search_entry_value_trgm",
    "CREATE INDEX search_entry_value_trgm ON search_searchentry USING gin (value custos_trgm_ops)",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS search_entry_value_trgm",
    "CREATE INDEX search_entry_value_trgm ON search_searchentry USING gin (value gin_trgm_ops)",
    "DROP OPERATOR CLASS IF EXISTS custos_trgm_ops USING gin",
    "DROP OPERATOR FAMILY IF EXISTS custos_trgm_ops USING gin",
    "DROP OPERATOR IF EXISTS ~~~ (text, text)",
    "DROP FUNCTION IF EXISTS custos_like(text, text)",
]
UNLESS_SUPERUSER = (
    "search: not a superuser, so there is no LEAKPROOF containment operator (~~~) and a search reads "
    "every posting list of its text's trigrams; see docs/operations.md."
)


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql" and superuser(schema_editor, UNLESS_SUPERUSER):
            for statement in statements:
                schema_editor.execute(statement, params=None)  # "%>" is an operator, not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0006_strict_word_similarity_leakproof")]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS))]
