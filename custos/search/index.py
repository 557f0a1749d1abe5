"""Keeping the index in step with the records: each record's searchable values, normalised,
one entry per value (`custos.crm.search` says which values a record has)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from custos.core.db.bulk import insert_rows
from custos.search.models import SearchEntry
from custos.search.text import normalise

# A record's search text fits in its name index's entries (PostgreSQL takes 2,704 bytes an
# entry; the name before it up to 800); a longer one is stored as OVERFLOW.
TEXT_BYTES = 1_500
OVERFLOW = "\x01"


@dataclass(frozen=True)
class Document:
    """What a record contributes to the search: its searchable values by field."""

    object_type: str
    object_id: uuid.UUID
    owner_id: uuid.UUID | None
    subject_id: uuid.UUID | None
    values: Mapping[str, Iterable[str]] = field(default_factory=dict)


def index_documents(documents: Iterable[Document]) -> list[str]:
    """Replace the entries of many records at once (an import's batch); each record's text
    (`record_text`), in order, for the caller to store on the record's row."""
    documents = list(documents)
    by_type: dict[str, list[uuid.UUID]] = {}
    for document in documents:
        by_type.setdefault(document.object_type, []).append(document.object_id)
    for object_type, ids in by_type.items():
        SearchEntry.objects.filter(object_type=object_type, object_id__in=ids).delete()
    rows = []
    normalised: dict[str, str] = {}
    for document in documents:
        rows.extend(entries_of(document, normalised))
    insert_rows(SearchEntry, rows)
    return [record_text(document, normalised) for document in documents]


def entries_of(document: Document, normalised: dict[str, str] | None = None) -> list[SearchEntry]:
    """`normalised`: the values normalised so far, shared by a batch's documents (companies and
    tags recur from record to record); it lives no longer than the batch."""
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


def record_text(document: Document, normalised: dict[str, str] | None = None) -> str:
    """The document's values as its entries store them, one a line, in one text for the
    record's own row (`custos.crm.models.people.Searchable`); OVERFLOW where they would not fit
    an index entry, for such a record is checked against its entries instead. A value holds no
    line break (normalised), nor does a searched text: a match never spans two values."""
    normalised = {} if normalised is None else normalised
    values = {_stored(raw, normalised) for raw_values in document.values.values() for raw in raw_values if raw}
    text = "\n".join(sorted(values - {""}))
    return text if len(text.encode()) <= TEXT_BYTES else OVERFLOW


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
