"""Finding records in the index: a list's `q` by substring, the global search at word starts
first, then inside words, then forgiving typos (trigram similarity, the same measure on both
engines; `engines` holds how each database answers).

The global search reads a bounded number of entries per look-up, through an index and before
anything is ranked, so its work does not grow with the tenant.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, models

from custos.core.actor import Actor, RecordScope
from custos.search import engines
from custos.search.index import OVERFLOW
from custos.search.models import SearchEntry
from custos.search.text import digits, looks_like_phone, normalise, query

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
# A text of several words, or of this many trigrams, found at a word's start is not looked up
# inside words as well: so long a text is contained in few values, and a word's start is
# where people type it from. A company's name of three short words, "Kuhn & Wolf GmbH", has
# 15 trigrams, among them the commonest ones, "gmb" and "mbh": looked up inside words too, it
# took 47 ms at a million contacts, against 3 at word starts. (With the second words' index,
# a word's start is the value's first or second word: "Müller GmbH" then leaves out
# "Autohaus Peter Müller GmbH".)
FEW_MATCHES_TRIGRAMS = 16
# Typos are looked up one slip away in texts up to this long (three patterns a character);
# a longer one by its head and tail (`_pieces`).
MAX_EDITED = 24
# How long the look-up one slip away may take before the search tries head and tail instead.
SLIP_BUDGET_MS = 150
# A text of this many characters is first looked up one slip away as a value's first or
# second word, through the b-trees (`_slipped_words`): two ranges for each of its
# variants (about 60 a character). At a million contacts on PostgreSQL a last name's variants
# took 6 to 9 ms, where the trigram index's look-up one slip away took 50 to 250.
PROBED_FROM = 4
PROBED_UP_TO = 16
# A variant shorter than this is not looked up: a word of three letters is seldom what a
# typo of four or more was meant to be, and it is the commonest ("ene" for "ener").
SHORTEST_VARIANT = 4
# The letters a slip may have put in or changed, besides the text's own.
LETTERS = "abcdefghijklmnopqrstuvwxyz"
# SQLite: a text of one word shorter than this is looked up through FTS5 at once. Measured at
# a million contacts (global search, 50 results): such a word took FTS5 8 to 15 ms, the two
# b-tree look-ups 13 to 18; a longer text or one of several words (whose trigrams across the
# space, "n k", are common) took FTS5 24 to 140 ms, the b-trees 5 to 14.
SQLITE_WORD_STARTS_FROM = 13


def _query_text(q: str) -> str:
    q = query(q)
    if not looks_like_phone(q):
        return normalise(q)
    # "+49 (0)30 …" and "0049 30 …" are "+49 30 …" written otherwise: the index holds the
    # international digits (without "00") and the national ones.
    number = digits(q.replace("(0)", ""))
    return number[2:] if number.startswith("00") else number


def _scoped(actor: Actor, entries: models.QuerySet[SearchEntry]) -> models.QuerySet[SearchEntry]:
    if actor.record_scope == RecordScope.ALL:
        return entries
    owners = actor.team_member_ids if actor.record_scope == RecordScope.TEAM else {actor.user_id}
    return entries.filter(owner_id__in=owners)


def _entries(actor: Actor, object_type: str, fields: Iterable[str]) -> models.QuerySet[SearchEntry]:
    return _scoped(actor, SearchEntry.objects.filter(object_type=object_type, field__in=list(fields)))


def matching_ids(actor: Actor, object_type: str, q: str, fields: Iterable[str]) -> models.QuerySet[SearchEntry, Any]:
    """Ids of the records of one type with a visible field containing q: for a list's filter."""
    text = _query_text(q)
    entries = _entries(actor, object_type, fields)
    if not text:
        return entries.none()
    if connection.vendor == "postgresql" and len(text) >= 3 and engines.has("containment"):
        return entries.filter(engines.Containing(text)).values("object_id")
    entries = entries.filter(value__contains=text)  # what an index narrows down, confirmed
    if connection.vendor == "sqlite" and len(text) >= 3:
        entries = engines.in_fts(entries, engines.fts_words(text))
    elif connection.vendor == "postgresql" and engines.trigram_count(text) > ANYWHERE:
        entries = _near_trigrams(entries, text, missing=ANYWHERE)
    return entries.values("object_id")


def matching_few_ids(
    actor: Actor, object_type: str, q: str, fields: Iterable[str], *, most: int
) -> models.QuerySet[SearchEntry, Any] | None:
    """SQLite: `matching_ids` with its FTS5 rows read first, if `most` or fewer (an upper bound:
    of every tenant and field), else None; reading them stops there, where the whole look-up
    reads them all (a text in a hundred thousand emails: 300 ms and more at a million)."""
    text = _query_text(q)
    if connection.vendor != "sqlite" or len(text) < 3:
        return None
    rowids = engines.fts_rowids(engines.fts_words(text), most)
    if rowids is None:
        return None
    return engines.among_rowids(_entries(actor, object_type, fields).filter(value__contains=text), rowids).values(
        "object_id"
    )


def matching_record(actor: Actor, object_type: str, q: str, fields: Iterable[str]) -> models.Subquery:
    """1 if the record of the outer query (`OuterRef("pk")`) has a visible field containing q,
    else null: a look-up of one record's entries through their (org, type, record) index, for
    a list read in its own order (`crm.selectors.records.searched_page`); it agrees with
    `matching_ids`. A scalar subquery, not EXISTS: PostgreSQL would plan an EXISTS for every
    row of the table and read the whole index at once instead, however few rows are read."""
    text = _query_text(q)
    entries = _entries(actor, object_type, fields)
    entries = entries.filter(object_id=models.OuterRef("pk"), value__contains=text) if text else entries.none()
    return models.Subquery(entries.values_list(models.Value(1))[:1], output_field=models.IntegerField())


def matching_text(q: str, entries: models.Subquery) -> models.Expression:
    """`matching_record`'s answer read from the record's own row: 1 if its search text
    (`custos.search.index.record_text`) contains q, else null; a record whose text overflowed,
    or was never written, is asked of its `entries` (`matching_record`). Every search field
    is in the text: only for an actor who may see them all."""
    text = _query_text(q)
    if not text:
        return models.Value(None, output_field=models.IntegerField())
    return models.Case(
        models.When(search_text__contains=text, then=models.Value(1)),
        models.When(models.Q(search_text=OVERFLOW) | models.Q(search_text__isnull=True), then=entries),
        default=None,
        output_field=models.IntegerField(),
    )


def containing_text(model: type[models.Model], q: str, entries: models.Subquery) -> models.Q | None:
    """`matching_text` as a condition the trigram index on the record's own search text
    answers (PostgreSQL, `engines.text_indexed`): the records whose text contains q, and those
    whose text overflowed or was never written that match by their entries (a partial index
    holds those few). None where no index can answer it: no such index, or a text shorter
    than a trigram."""
    text = _query_text(q)
    if len(text) < 3 or not engines.has("containment") or not engines.text_indexed(model._meta.db_table):
        return None
    unindexed = models.Q(search_text=OVERFLOW) | models.Q(search_text__isnull=True)
    return models.Q(engines.Containing(text, field="search_text")) | (
        unindexed & models.Q(models.lookups.IsNull(entries, False))
    )


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
    word starts found nothing or, for a short word, fill no page (a long one, a company's
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
        engines.set_thresholds(word=AT_A_WORDS_START_THRESHOLD, strict=SIMILARITY_THRESHOLD)
    best: dict[tuple[str, uuid.UUID], float] = {}
    narrow = _word_starts_first(text)
    _score(best, text, _containing(entries, text, missing=AT_A_WORDS_START if narrow else ANYWHERE))
    short = " " not in text and engines.trigram_count(text) < FEW_MATCHES_TRIGRAMS
    if narrow and (not best or (short and len(best) < limit)):
        _score(best, text, _containing(entries, text, missing=ANYWHERE))  # inside a word: "mann" in "Hoffmann"
    if not best:  # nothing contains the text as typed: forgive a typo, first where names start
        _score(best, text, _slipped_words(entries, text))
    if not best:
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
    return (" " in text or len(text) >= SQLITE_WORD_STARTS_FROM) and engines.has("second_word")


def _score(best: dict[tuple[str, uuid.UUID], float], text: str, candidates: Candidates) -> None:
    """Containing the text ranks above any similarity: as whole words ("meier" in "karl-heinz
    meier") above inside or at the start of a longer word ("meierling"), the shorter value
    first within each; else the closest of the value and its words by trigram similarity, if
    close enough."""
    wanted = _padded_trigrams(text)
    whole_words = re.compile(rf"(?<![^\W_]){re.escape(text)}(?![^\W_])")
    grams: dict[str, set[str]] = {}  # values and words repeat (names, companies): measured once

    def close(other: str) -> float:
        if other not in grams:
            grams[other] = _padded_trigrams(other)
        found = grams[other]
        return len(wanted & found) / len(wanted | found) if wanted and found else 0.0

    for object_type, object_id, value in candidates:
        if text in value:
            score = (1.5 if whole_words.search(value) else 1.0) + len(text) / max(len(value), 1) / 2
        else:
            score = max([close(value), *(close(word) for word in value.split())])
            if score < SIMILARITY_THRESHOLD and len(text) >= PROBED_FROM and one_slip_apart(text, value):
                score = SIMILARITY_THRESHOLD  # "mulelr" shares few trigrams with "muller": one slip still
        if score >= SIMILARITY_THRESHOLD:
            key = (object_type, object_id)
            best[key] = max(score, best.get(key, 0.0))


def _containing(entries: models.QuerySet[SearchEntry], text: str, *, missing: int = AT_A_WORDS_START) -> Candidates:
    """Up to CANDIDATES entries whose value contains the text; with `missing` AT_A_WORDS_START,
    only where it starts the value's first or second word (a narrower look-up)."""
    found = entries.filter(value__contains=text)  # what an index narrows down, confirmed
    if missing == AT_A_WORDS_START and engines.has("second_word"):
        # The value's first or second word: two ranges of b-trees, read up to the LIMIT only.
        return _rows(engines.starting_with(entries, text)) + _rows(
            engines.starting_with(entries, text, "custos_second_word")
        )
    if len(text) < 3:  # no trigram to look up: values starting with it, through the b-tree
        return _rows(engines.starting_with(entries, text))
    if connection.vendor == "sqlite":
        return engines.fts_rows(found, engines.fts_words(text), CANDIDATES)
    if engines.has("containment"):
        if missing == ANYWHERE:
            return _rows(entries.filter(engines.Containing(text)))
        # At a word's start: the value's, or after a space.
        return _rows(
            entries.filter(models.Q(engines.Containing(text, "{}%")) | models.Q(engines.Containing(text, "% {}%")))
        )
    if engines.trigram_count(text) <= missing:
        return []
    return _rows(_near_trigrams(found, text, missing=missing))


def _slipped_words(entries: models.QuerySet[SearchEntry], text: str) -> Candidates:
    """Values whose first or second word is the text one slip away, read through the b-trees
    of values and second words (`engines.with_word`). A name's typo is found there without
    the trigram indexes, whose look-up one slip away reads every entry sharing the text's
    commonest trigram when a slip leaves only that one ("sch__iz" for "schmtiz": half a
    million entries at a million contacts), and whose head and tail miss a slip near a short
    name's start ("mluler"). A typo in a later word, or in a word typed in part, is left to
    those look-ups: they run when no first or second word is one slip away."""
    if not PROBED_FROM <= len(text) <= PROBED_UP_TO or not engines.has("second_word"):
        return []
    return engines.with_word(entries, slip_variants(text), per_word=CANDIDATES // 4, limit=CANDIDATES)


def slip_variants(text: str) -> list[str]:
    """The texts one slip from `text`: two neighbours swapped; a character left out, added or
    changed (among LETTERS and the text's own characters: a slip to a letter of another script
    is not guessed). None shorter than SHORTEST_VARIANT, nor with a space at either end or
    two together, which no stored value has."""
    letters = sorted(set(LETTERS) | set(text))
    variants = {text[:i] + text[i + 1] + text[i] + text[i + 2 :] for i in range(len(text) - 1)}
    variants |= {text[:i] + text[i + 1 :] for i in range(len(text))}
    variants |= {text[:i] + c + text[i + 1 :] for i in range(len(text)) for c in letters}
    variants |= {text[:i] + c + text[i:] for i in range(len(text) + 1) for c in letters}
    variants.discard(text)
    return sorted(v for v in variants if len(v) >= SHORTEST_VARIANT and v.strip() == v and "  " not in v)


def one_slip_apart(text: str, value: str) -> bool:
    """Whether a word of the value (or a run of words as long as the text) is the text one
    slip away: two neighbours swapped, one character left out, added or changed."""
    words = value.split()
    size = len(text.split())
    runs = {" ".join(words[i : i + size]) for i in range(max(len(words) - size + 1, 1))}
    return any(_one_slip(text, run) for run in runs)


def _one_slip(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    if len(a) < len(b):  # one added: the rest of the longer one, past it, is the rest of the shorter
        return a[start:] == b[start + 1 :]
    if a[start + 1 :] == b[start + 1 :]:  # one changed
        return True
    return a[start : start + 2] == b[start : start + 2][::-1] and a[start + 2 :] == b[start + 2 :]  # swapped


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
        if not engines.has("containment"):  # at the strict threshold `find` set
            yield _rows(entries.filter(engines.StrictWordSimilar(models.Value(text), "value")))
            return
        if len(text) <= MAX_EDITED:
            found = engines.within_budget(lambda: _rows(entries.filter(_one_slip_away(text))), SLIP_BUDGET_MS)
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
            condition |= models.Q(engines.Like(f"%{escape(head)}{gap}{escape(tail)}%"))
    return condition


def _pieces(text: str) -> list[str]:
    """The text's head and tail with one character between them: a letter left out, changed,
    added or two swapped leaves one of them whole."""
    middle = len(text) // 2
    return [piece for piece in {text[:middle], text[middle + 1 :]} if len(piece) >= 3]


def _rows(entries: models.QuerySet[SearchEntry]) -> Candidates:
    return list(entries.values_list("object_type", "object_id", "value")[:CANDIDATES])


def _word_threshold(text: str, missing: int) -> float:
    """The word similarity every value containing text (`missing` trigrams short) reaches;
    somewhat below the bound, in case the database splits words where Python does not."""
    count = engines.trigram_count(text)
    return max(0.0, (count - missing) / count - 0.05) if count else 0.0


def _near_trigrams(entries: models.QuerySet[SearchEntry], text: str, *, missing: int) -> models.QuerySet[SearchEntry]:
    """PostgreSQL: a condition every value containing text (`missing` trigrams short) meets,
    which the trigram GIN index serves under row-level security; LIKE, which is not
    LEAKPROOF, then only checks the rows it lets through."""
    engines.set_thresholds(
        word=AT_A_WORDS_START_THRESHOLD if missing == AT_A_WORDS_START else _word_threshold(text, missing)
    )
    return entries.filter(engines.WordSimilar(models.Value(text), "value"))
