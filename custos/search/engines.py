"""What each database answers a search's look-ups with: SQLite's FTS5 table with the trigram
tokenizer and its b-trees, PostgreSQL's trigram GIN index (pg_trgm) and its b-trees.

On PostgreSQL every condition an index serves is a LEAKPROOF operator (migrations 0003,
0005, 0006, 0007, 0009): row-level security keeps the planner off an index for any other.
What to look up, and when, is `services`' choice; how, this module's.
"""

from __future__ import annotations

import json
import re
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, models, transaction
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate

from custos.search.models import SearchEntry

QUERY_CANCELED = "57014"
# The expression and condition of SQLite's index of second words (migration 0010), which a
# query must repeat literally for SQLite to use it.
SQLITE_SECOND_WORD = "substr(search_searchentry.value, instr(search_searchentry.value, ' ') + 1)"
SQLITE_SPACED = "instr(search_searchentry.value, ' ') > 0"


# What a migration run by another role than a superuser leaves out (docs/operations.md): the
# containment operator (0007; without it the search reads by word similarity) and the index
# of second words (0009; without it word starts are looked up through the trigram index).
# SQLite's index of second words (0010) needs no privilege; without it, FTS5 finds word starts.
_FEATURES = {
    "postgresql": {
        "containment": "SELECT EXISTS (SELECT 1 FROM pg_operator WHERE oprname = '~~~')",
        "second_word": "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'search_entry_second_word')",
    },
    "sqlite": {
        "containment": "SELECT 0",  # FTS5 finds a substring; there is no operator to ask for
        "second_word": "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'search_entry_second_word')",
    },
}
_features: dict[tuple[str, str], bool] = {}


def has(feature: str) -> bool:
    """Whether this database has the feature, asked once per process."""
    key = (connection.alias, feature)
    if key not in _features:
        with connection.cursor() as cursor:
            cursor.execute(_FEATURES[connection.vendor][feature])
            _features[key] = bool(cursor.fetchone()[0])
    return _features[key]


def text_indexed(table: str) -> bool:
    """PostgreSQL: whether the table's own search text has a trigram index that answers `~~~`
    (`<table>_search_text_trgm`, built with the operator class of migration 0007 where a
    superuser migrates) and the partial index of the rows whose text is checked by their
    entries (without it, that half of the condition reads every row of the organisation);
    asked once per process: indexes built by hand later serve after a restart."""
    key = (connection.alias, f"text_indexed:{table}")
    if key not in _features:
        found = False
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT bool_or(indexname = %s AND indexdef LIKE %s) AND bool_or(indexdef LIKE %s) "
                    "FROM pg_indexes WHERE tablename = %s",
                    [f"{table}_search_text_trgm", "%custos_trgm_ops%", "%WHERE%search_text IS NULL%", table],
                )
                found = bool(cursor.fetchone()[0])
        _features[key] = found
    return _features[key]


def starting_with(entries: models.QuerySet[SearchEntry], text: str, function: str = "") -> models.QuerySet[SearchEntry]:
    """Values starting with text, as a range of the b-tree index on (org, value) (migration
    0005: bytewise, collation "C" on PostgreSQL, whose `>=` and `<` on text are LEAKPROOF);
    with `function` ("custos_second_word", migrations 0009 and 0010), values whose second
    word starts with text, through the index on it."""
    below = {"lt": after} if (after := _after(text)) is not None else {}
    if connection.vendor == "postgresql":
        part = models.Func("value", function=function, output_field=models.TextField()) if function else "value"
        entries = entries.alias(compared=Collate(part, "C"))
    elif function:  # SQLite's partial index of second words (0010): its expression and condition, fixed SQL
        spaced = RawSQL(SQLITE_SPACED, (), output_field=models.BooleanField())  # noqa: S611
        entries = entries.alias(compared=RawSQL(SQLITE_SECOND_WORD, ())).filter(spaced)  # noqa: S611
    else:
        entries = entries.alias(compared=models.F("value"))
    return entries.filter(compared__gte=text, **{f"compared__{op}": bound for op, bound in below.items()})


def _after(text: str) -> str | None:
    """The least text above every text that starts with `text`, in code points (the order of
    UTF-8's bytes, which SQLite and the collation "C" compare); None if there is none."""
    kept = text.rstrip("\U0010ffff")
    if not kept:
        return None
    following = ord(kept[-1]) + 1
    return kept[:-1] + chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)  # no surrogate is text


def with_word(
    entries: models.QuerySet[SearchEntry], words: list[str], *, per_word: int, limit: int
) -> list[tuple[str, uuid.UUID, str]]:
    """Up to `limit` entries whose value's first or second word is one of the words: for each,
    a range of the value's b-tree and one of its second word's (`starting_with`'s indexes)
    from the word up to the word and a space, walked in one statement, so that hundreds of
    words cost one round trip and a few milliseconds. On PostgreSQL a lateral join over the
    words' array reads at most `per_word` rows a range; SQLite has no lateral join and reads
    the first words' ranges, then the second words', up to the limit. The entries' own
    conditions (tenant, types, fields, owners) are checked on each row the ranges yield."""
    conditions = _conditions(entries)
    if not words or conditions is None:
        return []
    where, params = conditions
    table = SearchEntry._meta.db_table
    # A stored value is normalised: a space is the only character in it below "!", so the
    # range [word, word + "!") holds the word alone and the word followed by others.
    lows = sorted(words)
    highs = [word + "!" for word in lows]
    columns = f"{table}.object_type, {table}.object_id, {table}.value"
    # Fixed SQL around Django's own compiled conditions; every value is a parameter.
    if connection.vendor == "postgresql":

        def walk(part: str) -> str:
            return (
                f"(SELECT {columns} FROM {table} WHERE {where} "  # noqa: S608
                f'AND ({part}) COLLATE "C" >= w.lo AND ({part}) COLLATE "C" < w.hi LIMIT %s)'
            )

        sql = (
            "SELECT found.object_type, found.object_id, found.value "  # noqa: S608
            "FROM unnest(%s::varchar[], %s::varchar[]) AS w(lo, hi) "
            f"CROSS JOIN LATERAL ({walk(f'{table}.value')} UNION ALL "
            f"{walk(f'custos_second_word({table}.value)')}) AS found LIMIT %s"
        )
        arguments = [lows, highs, *params, per_word, *params, per_word, limit]
    else:
        # The ranges as one JSON parameter: given a VALUES list of hundreds of rows, SQLite
        # first builds a Bloom filter by reading the organisation's every entry (350 ms at
        # 100,000 contacts, against 3 for the ranges). The second words' partial index (0010)
        # serves its own expression and condition only.
        ranges = "(SELECT json_extract(value, '$[0]') AS lo, json_extract(value, '$[1]') AS hi FROM json_each(%s)) AS w"
        sql = (
            f"SELECT {columns} FROM {ranges} CROSS JOIN {table} WHERE {where} "  # noqa: S608
            f"AND {table}.value >= w.lo AND {table}.value < w.hi UNION ALL "
            f"SELECT {columns} FROM {ranges} CROSS JOIN {table} WHERE {where} AND {SQLITE_SPACED} "
            f"AND {SQLITE_SECOND_WORD} >= w.lo AND {SQLITE_SECOND_WORD} < w.hi LIMIT %s"
        )
        pairs = json.dumps([[low, high] for low, high in zip(lows, highs, strict=True)], ensure_ascii=False)
        arguments = [pairs, *params, pairs, *params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, arguments)
        return [(object_type, uuid.UUID(str(object_id)), value) for object_type, object_id, value in cursor.fetchall()]


_WORD = re.compile(r"[^\W_]+")


def trigram_count(text: str) -> int:
    """How many distinct trigrams pg_trgm makes of the text."""
    grams: set[str] = set()
    for word in _WORD.findall(text):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return len(grams)


# The session's trigram thresholds, per database connection, set again only when they change;
# known only outside a transaction, where a rollback cannot undo them.
_thresholds: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def set_thresholds(*, word: float | None = None, strict: float | None = None) -> None:
    """PostgreSQL: the session's thresholds for the trigram operators (which read them)."""
    connection.ensure_connection()
    if connection.in_atomic_block:  # a rollback may undo what is set now: forget it
        _thresholds.pop(connection.connection, None)
        current: dict[str, str] = {}
    else:
        current = _thresholds.setdefault(connection.connection, {})
    wanted = {"pg_trgm.word_similarity_threshold": word, "pg_trgm.strict_word_similarity_threshold": strict}
    changed = {name: f"{value:.4f}" for name, value in wanted.items() if value is not None}
    changed = {name: value for name, value in changed.items() if current.get(name) != value}
    if not changed:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in changed),
            [part for pair in changed.items() for part in pair],
        )
    current.update(changed)


class Like(models.Func):
    """`value ~~~ pattern`: LIKE made LEAKPROOF, which the trigram index answers by
    intersecting the trigrams of the pattern's runs of text (migration 0007). The pattern's
    text is escaped already; `field`, the column it is matched against."""

    template = "%(expressions)s"
    arg_joiner = " ~~~ "
    output_field = models.BooleanField()

    def __init__(self, pattern: str, field: str = "value") -> None:
        super().__init__(models.F(field), models.Value(pattern))


class Containing(Like):
    """`value ~~~ '%text%'` (or another `shape` of the pattern), the text escaped as Django's
    `contains` escapes it."""

    def __init__(self, text: str, shape: str = "%{}%", field: str = "value") -> None:
        super().__init__(shape.format(connection.ops.prep_for_like_query(text)), field)


class WordSimilar(models.Func):
    """pg_trgm's `text <% value`: word similarity at or above the session's threshold
    (LEAKPROOF: migration 0003)."""

    template = "%(expressions)s"
    arg_joiner = " <%% "
    output_field = models.BooleanField()


class StrictWordSimilar(WordSimilar):
    """pg_trgm's `text <<% value`: the similarity of text and the value's closest run of whole
    words, at or above the session's strict threshold (LEAKPROOF: migration 0006)."""

    arg_joiner = " <<%% "


def fts_phrase(text: str) -> str:
    """FTS5 with the trigram tokenizer: a quoted phrase matches values containing the text."""
    return '"' + text.replace('"', '""') + '"'


def fts_words(text: str) -> str:
    """FTS5: rows holding each of the text's words of three characters or more, each a phrase
    of its own, else the text as one phrase. Every value containing the text is among them;
    the callers keep those that do (`value LIKE`). A phrase of several words also reads the
    trigrams across their spaces ("r &", "h g"), held by a large share of all values, and
    those of short words ("gmbh", "co."): company names at a million contacts, p50 / max
    20.8 / 50.7 ms against 18.1 / 33.5 (docs/benchmarks.md)."""
    words = [word for word in text.split(" ") if len(word) >= 3]
    return " ".join(fts_phrase(word) for word in words) if len(words) > 1 else fts_phrase(text)


class _RowId(models.Func):
    """SQLite: the rowid of the row whose column is given, at whatever alias the query gives
    its table (a subquery's is "U0")."""

    output_field = models.IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.get_source_expressions()[0])
        return f"{column.rsplit('.', 1)[0]}.rowid", tuple(params)


def in_fts(entries: models.QuerySet[SearchEntry], match: str) -> models.QuerySet[SearchEntry]:
    """SQLite: entries among the FTS5 rows matching `match`, all of them: each read once, by
    its rowid (through the id instead, each was read twice more: 66 ms against 25 for the
    10,000 entries of a last name at a million contacts)."""
    # Fixed SQL; the match text is a parameter.
    return _among(entries, RawSQL("SELECT rowid FROM search_entry_fts WHERE search_entry_fts MATCH %s", [match]))


def fts_rowids(match: str, most: int) -> list[int] | None:
    """SQLite: the FTS5 rows matching `match`, of every tenant and field, if `most` or fewer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rowid FROM search_entry_fts WHERE search_entry_fts MATCH %s LIMIT %s", [match, most + 1])
        rowids = [rowid for (rowid,) in cursor.fetchall()]
    return rowids if len(rowids) <= most else None


def among_rowids(entries: models.QuerySet[SearchEntry], rowids: list[int]) -> models.QuerySet[SearchEntry]:
    """SQLite: the entries among these rows (`fts_rowids`), each read by its rowid."""
    return _among(entries, RawSQL("SELECT value FROM json_each(%s)", [json.dumps(rowids)]))


def _among(entries: models.QuerySet[SearchEntry], rowids: RawSQL) -> models.QuerySet[SearchEntry]:
    return entries.alias(fts_rowid=_RowId("id")).filter(fts_rowid__in=rowids)


def fts_rows(entries: models.QuerySet[SearchEntry], match: str, limit: int) -> list[tuple[str, uuid.UUID, str]]:
    """SQLite: up to `limit` entries matching in the FTS5 index. The index is read first and
    joined row by row (CROSS JOIN fixes that order: left to itself the planner walks all the
    tenant's entries), so the LIMIT stops it early; the entries' own conditions (tenant,
    types, fields, owners, the text) are checked on each row it yields."""
    conditions = _conditions(entries)
    if conditions is None:
        return []
    where, params = conditions
    table = SearchEntry._meta.db_table
    # Fixed SQL around Django's own compiled conditions; every value is a parameter.
    sql = (
        f"SELECT {table}.object_type, {table}.object_id, {table}.value "  # noqa: S608
        f"FROM search_entry_fts CROSS JOIN {table} ON {table}.rowid = search_entry_fts.rowid "
        f"WHERE search_entry_fts MATCH %s AND {where} LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *params, limit])
        return [(object_type, uuid.UUID(object_id), value) for object_type, object_id, value in cursor.fetchall()]


def _conditions(entries: models.QuerySet[SearchEntry]) -> tuple[str, list[Any]] | None:
    """The entries' own conditions (tenant, types, fields, owners…) compiled to SQL and its
    parameters, for a statement written around them; None if they can hold for no row (an
    actor owning nothing)."""
    query = entries.query
    query.get_initial_alias()
    try:
        where, params = query.get_compiler(connection=connection).compile(query.where)
    except EmptyResultSet:
        return None
    return where, list(params)


def within_budget[T](look_up: Callable[[], T], milliseconds: int) -> T | None:
    """PostgreSQL: the look-up's result, or None if it takes longer than `milliseconds`. A
    short text's patterns can share a common trigram ("mat" in "mat__n") whose rows the index
    cannot narrow down; cut off there, the search falls back to the text's head and tail."""
    try:
        with transaction.atomic():  # a savepoint: the cut-off statement and its setting are undone
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('statement_timeout')")
                (before,) = cursor.fetchone()
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{milliseconds}ms"])
            found = look_up()
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
            return found
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != QUERY_CANCELED:
            raise
        return None
