"""Keeping the index in step with the records, and finding records in it.

One interface, two engines: on SQLite an FTS5 table with the trigram tokenizer over the
entries, on PostgreSQL a trigram GIN index (pg_trgm). A list's `q` filters by substring;
the global search also forgives typos (trigram similarity, the same measure on both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from django.db.models.expressions import RawSQL

from custos.core.actor import Actor, RecordScope
from custos.search.models import SearchEntry
from custos.search.text import digits, looks_like_phone, normalise, trigrams

SIMILARITY_THRESHOLD = 0.3
# Three characters inside a longer word share a quarter of their padded trigrams with it.
WORD_THRESHOLD = 0.2
CANDIDATES = 400


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
    for document in documents:
        rows.extend(_entries(document))
    SearchEntry.objects.bulk_create(rows, batch_size=1000)


def _entries(document: Document) -> list[SearchEntry]:
    rows = []
    for name, raw_values in document.values.items():
        for value in {normalise(raw)[:300] for raw in raw_values if raw}:
            if value:
                rows.append(
                    SearchEntry(
                        object_type=document.object_type,
                        object_id=document.object_id,
                        field=name,
                        value=value,
                        owner_id=document.owner_id,
                        subject_id=document.subject_id,
                    )
                )
    return rows


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


def _fts_match(grams: list[str], joiner: str) -> str:
    return joiner.join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _in_fts(
    entries: models.QuerySet[SearchEntry], match: str, limit: int | None = None
) -> models.QuerySet[SearchEntry]:
    """Entries among the FTS5 rows matching `match` (SQLite), best-ranked first when limited."""
    inner = "SELECT rowid FROM search_entry_fts WHERE search_entry_fts MATCH %s"
    params: list[object] = [match]
    if limit is not None:
        inner += " ORDER BY rank LIMIT %s"
        params.append(limit)
    # By id, not by the outer row: the query may end up as an aliased subquery.
    # Fixed SQL; the match text and limit are parameters.
    sql = f"SELECT id FROM search_searchentry WHERE rowid IN ({inner})"  # noqa: S608
    return entries.filter(id__in=RawSQL(sql, params))  # noqa: S611


def matching_ids(actor: Actor, object_type: str, q: str, fields: Iterable[str]) -> models.QuerySet[SearchEntry, Any]:
    """Ids of the records of one type with a visible field containing q: for a list's filter."""
    text = _query_text(q)
    entries = _scoped(actor, SearchEntry.objects.filter(object_type=object_type, field__in=list(fields)))
    if not text:
        return entries.none()
    entries = entries.filter(value__contains=text)
    if connection.vendor == "sqlite" and len(text) >= 3:
        entries = _in_fts(entries, _fts_match(trigrams(text), " "))  # every trigram: the index narrows
    return entries.values("object_id")


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


def find(actor: Actor, q: str, *, fields: Mapping[str, Iterable[str]], limit: int = 20) -> list[Hit]:
    """The best records for q across types, forgiving typos; `fields` are the visible ones."""
    text = _query_text(q)
    if not text or not fields:
        return []
    condition = models.Q()
    for object_type, names in fields.items():
        condition |= models.Q(object_type=object_type, field__in=list(names))
    entries = _scoped(actor, SearchEntry.objects.filter(condition))
    candidates = list(_candidates(entries, text).values_list("object_type", "object_id", "value")[:CANDIDATES])
    best: dict[tuple[str, uuid.UUID], float] = {}
    for object_type, object_id, value in candidates:
        score = 1.0 + len(text) / max(len(value), 1) if text in value else similarity(text, value)
        words = [similarity(text, word) for word in value.split()]
        score = max(score, *words) if words else score
        if score >= SIMILARITY_THRESHOLD:
            key = (object_type, object_id)
            best[key] = max(score, best.get(key, 0.0))
    ranked = sorted(best.items(), key=lambda item: -item[1])[:limit]
    return [Hit(object_type=t, object_id=i, score=round(s, 3)) for (t, i), s in ranked]


def _candidates(entries: models.QuerySet[SearchEntry], text: str) -> models.QuerySet[SearchEntry]:
    """Entries worth scoring: similar by trigrams, or containing the text."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The operators below use these thresholds, and through them the trigram index.
            cursor.execute(
                "SELECT set_config('pg_trgm.similarity_threshold', %s, false), "
                "set_config('pg_trgm.word_similarity_threshold', %s, false)",
                [str(SIMILARITY_THRESHOLD), str(WORD_THRESHOLD)],
            )
        # Trigram operators only (they are LEAKPROOF, see migration 0003), so that the GIN index
        # serves under row-level security; a text of three or more characters found inside a
        # value is similar enough to pass. Shorter texts have no trigram to look up.
        if len(text) < 3:
            return entries.extra(
                where=["search_searchentry.value LIKE %s"],
                params=[f"%{text}%"],
                select={"rank": "word_similarity(%s, search_searchentry.value)"},
                select_params=[text],
                order_by=["-rank"],
            )
        return entries.extra(
            where=["(search_searchentry.value %% %s OR %s <%% search_searchentry.value)"],
            params=[text, text],
            select={"rank": "word_similarity(%s, search_searchentry.value)"},
            select_params=[text],
            order_by=["-rank"],
        )
    if len(text) < 3:
        return entries.filter(value__startswith=text)
    return _in_fts(entries, _fts_match(trigrams(text), " OR "), limit=CANDIDATES * 5)
