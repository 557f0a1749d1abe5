"""Keeping the index in step with the records, and finding records in it.

One interface, two engines: on SQLite an FTS5 table with the trigram tokenizer over the
entries, on PostgreSQL a trigram GIN index (pg_trgm). A list's `q` filters by substring;
the global search also forgives typos (trigram similarity, the same measure on both).

The global search reads a bounded number of entries per look-up, through an index and before
anything is ranked, so its work does not grow with the tenant. On PostgreSQL every condition
the index serves is a LEAKPROOF operator (migrations 0003, 0005, 0006): row-level security
keeps the planner off an index for any other.
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, models, transaction
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate

from custos.core.actor import Actor, RecordScope
from custos.core.db.bulk import insert_rows
from custos.search.models import SearchEntry
from custos.search.text import digits, looks_like_phone, normalise

SIMILARITY_THRESHOLD = 0.3
# Entries a look-up reads before ranking: the bound that keeps a search's work independent
# of the tenant's size.
CANDIDATES = 200

# pg_trgm splits a text into words of letters and digits and pads each with two spaces in
# front and one behind. A value containing the text has every trigram of it but, at most,
# the front padding of its first word (two: the text starts inside a word) and the back
# padding of its last word (one: it ends inside one), so the word similarity of text and
# value is at least (n - missing) / n for the text's n trigrams.
AT_A_WORDS_START = 1
ANYWHERE = 3
# The lowest of those bounds at a word's start, less a margin in case the database splits
# words where Python does not: (n - 1) / n - 0.05 for the shortest texts looked up (n = 4).
# One value for every text, so the session keeps it between searches.
AT_A_WORDS_START_THRESHOLD = 0.7
# From this many trigrams on, a text found at a word's start is not looked up inside words
# as well: so long a text is contained in few values, and a word's start is where people
# type it from.
FEW_MATCHES_TRIGRAMS = 16
# Typos are looked up one slip away in texts up to this long (three patterns a character);
# a longer one by its head and tail (`_pieces`).
MAX_EDITED = 24
# How long the look-up one slip away may take before the search tries head and tail instead.
SLIP_BUDGET_MS = 150
QUERY_CANCELED = "57014"
# SQLite: a text of one word shorter than this is looked up through FTS5 at once. Measured at
# a million contacts (global search, 50 results): such a word took FTS5 8 to 15 ms, the two
# b-tree look-ups 13 to 18; a longer text or one of several words (whose trigrams across the
# space, "n k", are common) took FTS5 24 to 140 ms, the b-trees 5 to 14.
SQLITE_WORD_STARTS_FROM = 13
# The expression and condition of SQLite's index of second words (migration 0010), which a
# query must repeat literally for SQLite to use it.
SQLITE_SECOND_WORD = "substr(search_searchentry.value, instr(search_searchentry.value, ' ') + 1)"
SQLITE_SPACED = "instr(search_searchentry.value, ' ') > 0"


@dataclass(frozen=True)
class Document:
    """What a record contributes to the search: its searchable values by field."""

    object_type: str
    object_id: uuid.UUID
    owner_id: uuid.UUID | None
    subject_id: uuid.UUID | None
    values: Mapping[str, Iterable[str]] = field(default_factory=dict)


def index_document(document: Document) -> None:
    """Replace the record's entries with its current values."""
    index_documents([document])


def index_documents(documents: Iterable[Document]) -> None:
    """Replace the entries of many records at once (an import's batch)."""
    documents = list(documents)
    by_type: dict[str, list[uuid.UUID]] = {}
    for document in documents:
        by_type.setdefault(document.object_type, []).append(document.object_id)
    for object_type, ids in by_type.items():
        SearchEntry.objects.filter(object_type=object_type, object_id__in=ids).delete()
    rows = []
    normalised: dict[str, str] = {}
    for document in documents:
        rows.extend(_entries(document, normalised))
    insert_rows(SearchEntry, rows)


def _entries(document: Document, normalised: dict[str, str] | None = None) -> list[SearchEntry]:
    """`normalised`: the values normalised so far, shared by a batch's documents (companies and
    tags recur from record to record); it lives no longer than the batch. The benchmark's
    generator calls this too, without it."""
    normalised = {} if normalised is None else normalised
    rows = []
    for name, raw_values in document.values.items():
        for value in {_stored(raw, normalised) for raw in raw_values if raw}:
            if value:
                rows.append(
                    _entry(
                        {
                            "object_type": document.object_type,
                            "object_id": document.object_id,
                            "field": name,
                            "value": value,
                            "owner_id": document.owner_id,
                            "subject_id": document.subject_id,
                        }
                    )
                )
    return rows


def _stored(raw: str, normalised: dict[str, str]) -> str:
    if raw not in normalised:
        normalised[raw] = normalise(raw)[:300]
    return normalised[raw]


def _entry(values: dict[str, Any]) -> SearchEntry:
    """A new entry built by position, the path Django takes for rows read from the database
    (the keyword path costs a third more, and an import builds a handful for every row)."""
    fields = SearchEntry._meta.concrete_fields
    build: Callable[..., SearchEntry] = SearchEntry  # the stubs know the keyword path only
    return build(*[values[f.attname] if f.attname in values else f.get_default() for f in fields])


def remove_document(object_type: str, object_id: uuid.UUID) -> None:
    SearchEntry.objects.filter(object_type=object_type, object_id=object_id).delete()


def _query_text(q: str) -> str:
    q = q.strip()[:200]
    return digits(q) if looks_like_phone(q) else normalise(q)


def _scoped(actor: Actor, entries: models.QuerySet[SearchEntry]) -> models.QuerySet[SearchEntry]:
    if actor.record_scope == RecordScope.ALL:
        return entries
    owners = actor.team_member_ids if actor.record_scope == RecordScope.TEAM else {actor.user_id}
    return entries.filter(owner_id__in=owners)


def matching_ids(actor: Actor, object_type: str, q: str, fields: Iterable[str]) -> models.QuerySet[SearchEntry, Any]:
    """Ids of the records of one type with a visible field containing q: for a list's filter."""
    text = _query_text(q)
    entries = _scoped(actor, SearchEntry.objects.filter(object_type=object_type, field__in=list(fields)))
    if not text:
        return entries.none()
    if connection.vendor == "postgresql" and len(text) >= 3 and _has("containment"):
        return entries.filter(_Containing(text)).values("object_id")
    entries = entries.filter(value__contains=text)  # what an index narrows down, confirmed
    if connection.vendor == "sqlite" and len(text) >= 3:
        entries = _in_fts(entries, _fts_phrase(text))
    elif connection.vendor == "postgresql" and _trigram_count(text) > ANYWHERE:
        entries = _near_trigrams(entries, text, missing=ANYWHERE)
    return entries.values("object_id")


def matching_record(actor: Actor, object_type: str, q: str, fields: Iterable[str]) -> models.Subquery:
    """1 if the record of the outer query (`OuterRef("pk")`) has a visible field containing q,
    else null: a look-up of one record's entries through their (org, type, record) index, for
    a list read in its own order (`crm.selectors.records.searched_page`); it agrees with
    `matching_ids`. A scalar subquery, not EXISTS: PostgreSQL would plan an EXISTS for every
    row of the table and read the whole index at once instead, however few rows are read."""
    text = _query_text(q)
    entries = _scoped(actor, SearchEntry.objects.filter(object_type=object_type, field__in=list(fields)))
    entries = entries.filter(object_id=models.OuterRef("pk"), value__contains=text) if text else entries.none()
    return models.Subquery(entries.values_list(models.Value(1))[:1], output_field=models.IntegerField())


@dataclass(frozen=True)
class Hit:
    object_type: str
    object_id: uuid.UUID
    score: float


def similarity(query: str, value: str) -> float:
    """pg_trgm's measure: shared trigrams over all trigrams of both (padded words)."""
    a, b = _padded_trigrams(query), _padded_trigrams(value)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _padded_trigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for word in text.split():
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


type Candidates = list[tuple[str, uuid.UUID, str]]


def find(actor: Actor, q: str, *, fields: Mapping[str, Iterable[str]], limit: int = 20) -> list[Hit]:
    """The best records for q across types, forgiving typos; `fields` are the visible ones.

    First the entries containing the text at a word's start, then inside a word too if the
    word starts found nothing or, for a short text, fill no page (a long one, a company's
    name or an email, is rarely inside a word and all but never there alone); if there are
    none, those similar to it. Each look-up reads at most CANDIDATES entries, in no
    particular order (ordering them all would read them all), which are then ranked here.
    """
    text = _query_text(q)
    if not text or not fields:
        return []
    condition = models.Q()
    for object_type, names in fields.items():
        condition |= models.Q(object_type=object_type, field__in=list(names))
    entries = _scoped(actor, SearchEntry.objects.filter(condition))
    if connection.vendor == "postgresql":  # the thresholds the look-ups below read
        _set_thresholds(word=AT_A_WORDS_START_THRESHOLD, strict=SIMILARITY_THRESHOLD)
    best: dict[tuple[str, uuid.UUID], float] = {}
    narrow = _word_starts_first(text)
    _score(best, text, _containing(entries, text, missing=AT_A_WORDS_START if narrow else ANYWHERE))
    short = _trigram_count(text) < FEW_MATCHES_TRIGRAMS
    if narrow and (not best or (short and len(best) < limit)):
        _score(best, text, _containing(entries, text, missing=ANYWHERE))  # inside a word: "mann" in "Hoffmann"
    if not best:  # nothing contains the text as typed: forgive a typo
        for candidates in _similar(entries, text):
            _score(best, text, candidates)
    ranked = sorted(best.items(), key=lambda item: -item[1])[:limit]
    return [Hit(object_type=t, object_id=i, score=round(s, 3)) for (t, i), s in ranked]


def _word_starts_first(text: str) -> bool:
    """Whether the text is looked up at word starts before inside words. On PostgreSQL always
    (narrower either way). On SQLite, FTS5 finds both at once but reads the posting list of
    every trigram of the text whole, while the b-trees of values and second words (0010) stop
    at the LIMIT: b-trees for several words or a long one (SQLITE_WORD_STARTS_FROM)."""
    if connection.vendor == "postgresql":
        return True
    return (" " in text or len(text) >= SQLITE_WORD_STARTS_FROM) and _has("second_word")


def _score(best: dict[tuple[str, uuid.UUID], float], text: str, candidates: Candidates) -> None:
    """Containing the text ranks above any similarity, the shorter value first; else the
    closest of the value and its words by trigram similarity, if close enough."""
    wanted = _padded_trigrams(text)
    grams: dict[str, set[str]] = {}  # values and words repeat (names, companies): measured once

    def close(other: str) -> float:
        if other not in grams:
            grams[other] = _padded_trigrams(other)
        found = grams[other]
        return len(wanted & found) / len(wanted | found) if wanted and found else 0.0

    for object_type, object_id, value in candidates:
        if text in value:
            score = 1.0 + len(text) / max(len(value), 1)
        else:
            score = max([close(value), *(close(word) for word in value.split())])
        if score >= SIMILARITY_THRESHOLD:
            key = (object_type, object_id)
            best[key] = max(score, best.get(key, 0.0))


def _containing(entries: models.QuerySet[SearchEntry], text: str, *, missing: int = AT_A_WORDS_START) -> Candidates:
    """Up to CANDIDATES entries whose value contains the text; with `missing` AT_A_WORDS_START,
    only where it starts the value's first or second word (a narrower look-up)."""
    found = entries.filter(value__contains=text)  # what an index narrows down, confirmed
    if missing == AT_A_WORDS_START and _has("second_word"):
        # The value's first or second word: two ranges of b-trees, read up to the LIMIT only.
        return _rows(_starting_with(entries, text)) + _rows(_starting_with(entries, text, "custos_second_word"))
    if len(text) < 3:  # no trigram to look up: values starting with it, through the b-tree
        return _rows(_starting_with(entries, text))
    if connection.vendor == "sqlite":
        return _fts_rows(found, _fts_phrase(text))
    if _has("containment"):
        if missing == ANYWHERE:
            return _rows(entries.filter(_Containing(text)))
        # At a word's start: the value's, or after a space.
        return _rows(entries.filter(models.Q(_Containing(text, "{}%")) | models.Q(_Containing(text, "% {}%"))))
    if _trigram_count(text) <= missing:
        return []
    return _rows(_near_trigrams(found, text, missing=missing))


def _similar(entries: models.QuerySet[SearchEntry], text: str) -> Iterator[Candidates]:
    """Candidates for a text with a typo, a bounded number per look-up: values containing its
    head or its tail (`_pieces`), through the FTS5 index on SQLite and the trigram index on
    PostgreSQL. Without the containment operator (migration 0007), PostgreSQL looks for
    values with a run of words as similar to the text as a result must be (pg_trgm's strict
    word similarity): the same results, but the index then reads the lists of the text's
    commonest trigrams ("  s", " sc") whole, a second and more at a million contacts."""
    if len(text) < 3:
        return
    if connection.vendor == "postgresql":
        if not _has("containment"):  # at the strict threshold `find` set
            yield _rows(entries.filter(_StrictWordSimilar(models.Value(text), "value")))
            return
        if len(text) <= MAX_EDITED:
            found = _within_budget(lambda: _rows(entries.filter(_one_slip_away(text))))
            if found is not None:
                yield found
                return
    for piece in _pieces(text):
        yield _containing(entries, piece, missing=ANYWHERE)


def _one_slip_away(text: str) -> models.Q:
    """Values containing the text with one slip undone, as LIKE patterns: a character changed
    or two swapped (`__` in their place), one left out (`_` where it was) or one added (left
    out here). Only patterns with a run of three characters: the trigram index needs one."""
    escape = connection.ops.prep_for_like_query
    shapes = {
        *((text[:i], "__", text[i + 2 :]) for i in range(len(text) - 1)),
        *((text[:i], "_", text[i:]) for i in range(1, len(text))),
        *((text[:i] + text[i + 1 :], "", "") for i in range(len(text))),
    }
    condition = models.Q()
    for head, gap, tail in sorted(shapes):
        if max(len(head), len(tail)) >= 3:
            condition |= models.Q(_Like(f"%{escape(head)}{gap}{escape(tail)}%"))
    return condition


def _within_budget[T](look_up: Callable[[], T]) -> T | None:
    """PostgreSQL: the look-up's result, or None if it takes longer than SLIP_BUDGET_MS. A
    short text's patterns can share a common trigram ("mat" in "mat__n") whose rows the index
    cannot narrow down; cut off there, the search falls back to the text's head and tail."""
    try:
        with transaction.atomic():  # a savepoint: the cut-off statement and its setting are undone
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('statement_timeout')")
                (before,) = cursor.fetchone()
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{SLIP_BUDGET_MS}ms"])
            found = look_up()
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
            return found
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != QUERY_CANCELED:
            raise
        return None


def _pieces(text: str) -> list[str]:
    """The text's head and tail with one character between them: a letter left out, changed,
    added or two swapped leaves one of them whole."""
    middle = len(text) // 2
    return [piece for piece in {text[:middle], text[middle + 1 :]} if len(piece) >= 3]


def _rows(entries: models.QuerySet[SearchEntry]) -> Candidates:
    return list(entries.values_list("object_type", "object_id", "value")[:CANDIDATES])


def _starting_with(
    entries: models.QuerySet[SearchEntry], text: str, function: str = ""
) -> models.QuerySet[SearchEntry]:
    """Values starting with text, as a range of the b-tree index on (org, value) (migration
    0005: bytewise, collation "C" on PostgreSQL, whose `>=` and `<` on text are LEAKPROOF);
    with `function` ("custos_second_word", migrations 0009 and 0010), values whose second
    word starts with text, through the index on it."""
    after = text[:-1] + chr(ord(text[-1]) + 1)
    if connection.vendor == "postgresql":
        part = models.Func("value", function=function, output_field=models.TextField()) if function else "value"
        return entries.alias(bytewise=Collate(part, "C")).filter(bytewise__gte=text, bytewise__lt=after)
    if function:  # SQLite's partial index of second words (0010): its expression and condition, fixed SQL
        spaced = RawSQL(SQLITE_SPACED, (), output_field=models.BooleanField())  # noqa: S611
        entries = entries.alias(second=RawSQL(SQLITE_SECOND_WORD, ())).filter(spaced)  # noqa: S611
        return entries.filter(second__gte=text, second__lt=after)
    return entries.filter(value__gte=text, value__lt=after)


_WORD = re.compile(r"[^\W_]+")


def _trigram_count(text: str) -> int:
    """How many distinct trigrams pg_trgm makes of the text."""
    grams: set[str] = set()
    for word in _WORD.findall(text):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return len(grams)


def _word_threshold(text: str, missing: int) -> float:
    """The word similarity every value containing text (`missing` trigrams short) reaches;
    somewhat below the bound, in case the database splits words where Python does not."""
    count = _trigram_count(text)
    return max(0.0, (count - missing) / count - 0.05) if count else 0.0


def _near_trigrams(entries: models.QuerySet[SearchEntry], text: str, *, missing: int) -> models.QuerySet[SearchEntry]:
    """PostgreSQL: a condition every value containing text (`missing` trigrams short) meets,
    which the trigram GIN index serves under row-level security; LIKE, which is not
    LEAKPROOF, then only checks the rows it lets through."""
    _set_thresholds(word=AT_A_WORDS_START_THRESHOLD if missing == AT_A_WORDS_START else _word_threshold(text, missing))
    return entries.filter(_WordSimilar(models.Value(text), "value"))


# The session's trigram thresholds, per database connection, set again only when they change;
# known only outside a transaction, where a rollback cannot undo them.
_thresholds: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def _set_thresholds(*, word: float | None = None, strict: float | None = None) -> None:
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


class _Like(models.Func):
    """`value ~~~ pattern`: LIKE made LEAKPROOF, which the trigram index answers by
    intersecting the trigrams of the pattern's runs of text (migration 0007). The pattern's
    text is escaped already."""

    template = "%(expressions)s"
    arg_joiner = " ~~~ "
    output_field = models.BooleanField()

    def __init__(self, pattern: str) -> None:
        super().__init__(models.F("value"), models.Value(pattern))


class _Containing(_Like):
    """`value ~~~ '%text%'` (or another `shape` of the pattern), the text escaped as Django's
    `contains` escapes it."""

    def __init__(self, text: str, shape: str = "%{}%") -> None:
        super().__init__(shape.format(connection.ops.prep_for_like_query(text)))


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
        "containment": "SELECT 0",
        "second_word": "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'search_entry_second_word')",
    },
}
_features: dict[tuple[str, str], bool] = {}


def _has(feature: str) -> bool:
    """Whether this database has the feature, asked once per process."""
    key = (connection.alias, feature)
    if key not in _features:
        with connection.cursor() as cursor:
            cursor.execute(_FEATURES[connection.vendor][feature])
            _features[key] = bool(cursor.fetchone()[0])
    return _features[key]


class _WordSimilar(models.Func):
    """pg_trgm's `text <% value`: word similarity at or above the session's threshold
    (LEAKPROOF: migration 0003)."""

    template = "%(expressions)s"
    arg_joiner = " <%% "
    output_field = models.BooleanField()


class _StrictWordSimilar(_WordSimilar):
    """pg_trgm's `text <<% value`: the similarity of text and the value's closest run of whole
    words, at or above the session's strict threshold (LEAKPROOF: migration 0006)."""

    arg_joiner = " <<%% "


def _fts_phrase(text: str) -> str:
    """FTS5 with the trigram tokenizer: a quoted phrase matches values containing the text."""
    return '"' + text.replace('"', '""') + '"'


def _in_fts(entries: models.QuerySet[SearchEntry], match: str) -> models.QuerySet[SearchEntry]:
    """SQLite: entries among the FTS5 rows matching `match`, all of them."""
    # By id, not by the outer row: the query may end up as an aliased subquery.
    # Fixed SQL; the match text is a parameter.
    sql = (
        "SELECT id FROM search_searchentry WHERE rowid IN "
        "(SELECT rowid FROM search_entry_fts WHERE search_entry_fts MATCH %s)"
    )
    return entries.filter(id__in=RawSQL(sql, [match]))  # noqa: S611


def _fts_rows(entries: models.QuerySet[SearchEntry], match: str) -> Candidates:
    """SQLite: up to CANDIDATES entries matching in the FTS5 index. The index is read first and
    joined row by row (CROSS JOIN fixes that order: left to itself the planner walks all the
    tenant's entries), so the LIMIT stops it early; the entries' own conditions (tenant,
    types, fields, owners, the text) are checked on each row it yields."""
    query = entries.query
    query.get_initial_alias()
    try:
        where, params = query.get_compiler(connection=connection).compile(query.where)
    except EmptyResultSet:  # a condition that can hold for no row (an actor owning nothing)
        return []
    table = SearchEntry._meta.db_table
    # Fixed SQL around Django's own compiled conditions; every value is a parameter.
    sql = (
        f"SELECT {table}.object_type, {table}.object_id, {table}.value "  # noqa: S608
        f"FROM search_entry_fts CROSS JOIN {table} ON {table}.rowid = search_entry_fts.rowid "
        f"WHERE search_entry_fts MATCH %s AND {where} LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *params, CANDIDATES])
        return [(object_type, uuid.UUID(object_id), value) for object_type, object_id, value in cursor.fetchall()]
