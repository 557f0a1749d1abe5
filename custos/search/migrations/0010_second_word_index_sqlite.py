"""SQLite: the b-tree on what follows a value's first word (PostgreSQL's is 0009), so that
"at a word's start" is two ranges of b-trees instead of an FTS5 phrase query.

The phrase query reads the whole posting list of every trigram of the text before any LIMIT
applies: at a million contacts 30–110 ms for a company's name or an email. A b-tree range is
read in order and stops at the LIMIT.

Built from SQLite's own functions, so that any connection (the command-line shell, a
restore) can write the table; partial, so that values of one word (emails, phone numbers)
cost nothing here. A query uses it only when it repeats the expression and the condition
literally (`custos.search.engines.SQLITE_SECOND_WORD`).
"""

from django.db import migrations

FORWARDS = (
    "CREATE INDEX IF NOT EXISTS search_entry_second_word ON search_searchentry "
    "(org_id, substr(value, instr(value, ' ') + 1)) WHERE instr(value, ' ') > 0"
)
BACKWARDS = "DROP INDEX IF EXISTS search_entry_second_word"


def _run(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0009_second_word_index")]

    operations = [migrations.RunPython(_run(FORWARDS), _run(BACKWARDS))]
