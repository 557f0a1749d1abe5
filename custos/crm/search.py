"""What of each CRM record is searchable, kept in the index as records change.

Special-category fields are never indexed. A role that may not see a field cannot find
a record by it either: each search field names the record fields it is made from.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import phonenumbers
from django.db import models

from custos.core.actor import Actor
from custos.core.db.bulk import insert_rows
from custos.crm.models import Company, Contact, ContactPoint, Deal, Lead
from custos.privacy.models import Subject
from custos.search.index import Document, entries_of, index_documents, record_text, remove_document
from custos.search.models import SearchEntry

# search field -> the record fields it is made from, per object type
SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "contact": {
        "name": ("first_name", "last_name"),
        "email": ("email",),
        "phone": ("phone",),
        "company": ("company",),
        "tags": ("tags",),
    },
    "company": {
        "name": ("name",),
        "email": ("email",),
        "phone": ("phone",),
        "vat_id": ("vat_id",),
        "tags": ("tags",),
    },
    "lead": {
        "name": ("first_name", "last_name"),
        "email": ("email",),
        "phone": ("phone",),
        "company": ("company_name",),
        "tags": ("tags",),
    },
    "deal": {"name": ("name",), "company": ("company",), "tags": ("tags",)},
}
MODELS: dict[type[models.Model], str] = {Contact: "contact", Company: "company", Lead: "lead", Deal: "deal"}


def visible_search_fields(actor: Actor, object_type: str, among: Iterable[str] | None = None) -> list[str]:
    """Search fields made only of record fields the actor may see (and, if given, among these)."""
    wanted = set(among) if among is not None else None
    return [
        name
        for name, sources in SOURCES[object_type].items()
        if all(actor.may_see_field(object_type, source) for source in sources)
        and (wanted is None or wanted & set(sources))
    ]


def _phone_forms(phone: str) -> list[str]:
    """An E.164 number as digits, also in its national form: "+49 30 1234", "030 1234" both find it."""
    if not phone:
        return []
    forms = [phone]
    try:
        number = phonenumbers.parse(phone, None)
        forms.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    except phonenumbers.NumberParseException:
        pass
    return ["".join(ch for ch in form if ch.isdigit()) for form in forms]


def _points_of(contact: Contact) -> list[ContactPoint]:
    """A contact's further emails and phones (one query); none for a contact not yet stored."""
    if contact._state.adding:
        return []
    return list(contact.points.all())


def _points_by_contact(records: list[models.Model]) -> dict[uuid.UUID, list[ContactPoint]]:
    """The further emails and phones of a batch's stored contacts, in one query."""
    ids = [r.pk for r in records if isinstance(r, Contact) and not r._state.adding]
    found: dict[uuid.UUID, list[ContactPoint]] = {pk: [] for pk in ids}
    for point in ContactPoint.objects.filter(contact_id__in=ids).only("contact_id", "email", "phone"):
        found[point.contact_id].append(point)
    return found


def _document(record: models.Model, points: Iterable[ContactPoint] | None = None) -> Document:
    """`points`: a contact's further emails and phones where the caller has them already."""
    if isinstance(record, Contact | Lead):
        company = record.company.name if isinstance(record, Contact) and record.company else ""
        if isinstance(record, Lead):
            company = record.company_name
        emails, phones = [record.email], _phone_forms(record.phone)
        if isinstance(record, Contact):
            for point in _points_of(record) if points is None else points:
                emails.append(point.email)
                phones.extend(_phone_forms(point.phone))
        values = {
            "name": [f"{record.first_name} {record.last_name}"],
            "email": emails,
            "phone": phones,
            "company": [company],
            "tags": list(record.tags),
        }
        subject_id = record.subject_id
    elif isinstance(record, Company):
        values = {
            "name": [record.name],
            "email": [record.email],
            "phone": _phone_forms(record.phone),
            "vat_id": [record.vat_id],
            "tags": list(record.tags),
        }
        subject_id = None
    elif isinstance(record, Deal):
        values = {
            "name": [record.name],
            "company": [record.company.name if record.company else ""],
            "tags": record.tags,
        }
        subject_id = record.contact.subject_id if record.contact else None
    else:
        raise TypeError(f"{type(record).__name__} is not searchable")
    return Document(
        object_type=MODELS[type(record)],
        object_id=uuid.UUID(str(record.pk)),
        owner_id=getattr(record, "owner_id", None),
        subject_id=subject_id,
        values=values,
    )


def _dependants(record: models.Model) -> Iterator[models.Model]:
    """Records whose entries quote this one (a company's name in its contacts' and deals')."""
    for model, ids in quoted_by(record).items():
        yield from _loaded(model, ids)


def quoted_by(record: models.Model) -> dict[type[models.Model], list[Any]]:
    """The ids of the records whose entries quote this one, by model."""
    if not isinstance(record, Company):
        return {}
    return {
        Contact: list(Contact.objects.filter(company=record).values_list("pk", flat=True)),
        Deal: list(Deal.objects.filter(company=record).values_list("pk", flat=True)),
    }


def _loaded(model: type[models.Model], ids: list[Any]) -> models.QuerySet[Any]:
    """The records with what their documents read (company, contact, further emails)."""
    records = model._default_manager.filter(pk__in=ids)
    if model is Contact:
        return records.select_related("company").prefetch_related("points")
    if model is Deal:
        return records.select_related("company", "contact")
    return records


def reindex_records(model: type[models.Model], ids: list[Any]) -> None:
    """Records changed in place elsewhere (an erasure's redactions): their entries and text
    follow, and those quoting them."""
    if model in MODELS:
        for record in _loaded(model, ids):
            reindex(record)


# Rows a statement writes the search text of (one CASE branch each).
TEXTS_PER_STATEMENT = 500


def _index(records: Iterable[models.Model], documents: Iterable[Document] | None = None) -> None:
    """Replace the records' entries, and the search text on their rows with them (written on
    the instances too, which a later save would otherwise write back)."""
    records = list(records)
    documents = list(documents) if documents is not None else [_document(record) for record in records]
    texts = index_documents(documents)
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for record, text in zip(records, texts, strict=True):
        # A note's edit changes no searchable value: the row keeps its text, unwritten.
        unchanged = "search_text" not in record.get_deferred_fields() and record.search_text == text  # type: ignore[attr-defined]
        record.search_text = text  # type: ignore[attr-defined]  # every searchable model has it
        if not unchanged:
            by_model.setdefault(type(record), []).append(record)
    for model, written in by_model.items():
        if len(written) == 1:
            model._default_manager.filter(pk=written[0].pk).update(search_text=written[0].search_text)  # type: ignore[attr-defined]
        else:
            model._default_manager.bulk_update(written, ["search_text"], batch_size=TEXTS_PER_STATEMENT)


def reindex(record: models.Model) -> None:
    """Bring the record's entries (and those quoting it) in line with its current values."""
    if type(record) not in MODELS:
        return
    _index([record, *_dependants(record)])


def reindex_many(records: Iterable[models.Model], points: Mapping[uuid.UUID, list[ContactPoint]] | None = None) -> None:
    """Index records written in bulk (an import's batch). `points`: the further emails and
    phones of contacts, where the caller has them (the ones it just created); the others' are
    read in one query."""
    records = [record for record in records if type(record) in MODELS]
    given = points or {}
    found = _points_by_contact([record for record in records if record.pk not in given])
    _index(
        records,
        [_document(record, given[record.pk] if record.pk in given else found.get(record.pk, [])) for record in records],
    )


def prepare_new(records: list[Any], points: Mapping[uuid.UUID, list[ContactPoint]] | None = None) -> list[Document]:
    """New records about to be inserted: their search text set on them, so that it is written
    with the row, and their documents, whose entries `index_new` writes once they are in (an
    import's batch: no entries to replace, no text to write again)."""
    given = points or {}
    documents = [_document(record, given.get(record.pk, ())) for record in records]
    normalised: dict[str, str] = {}
    for record, document in zip(records, documents, strict=True):
        record.search_text = record_text(document, normalised)
    return documents


def index_new(documents: Iterable[Document]) -> None:
    """The entries of records `prepare_new` prepared, once the records are inserted."""
    normalised: dict[str, str] = {}
    insert_rows(SearchEntry, [entry for document in documents for entry in entries_of(document, normalised)])


def unindex(record: models.Model) -> None:
    if type(record) in MODELS:
        remove_document(MODELS[type(record)], uuid.UUID(str(record.pk)))
        type(record)._default_manager.filter(pk=record.pk).update(search_text="")
        record.search_text = ""  # type: ignore[attr-defined]  # every searchable model has it


def reindex_subject(subject: Subject) -> None:
    """After the privacy engine changed a person's records (rectified, erased) in place."""
    people: list[models.Model] = [
        *Contact.objects.filter(subject=subject).select_related("company").prefetch_related("points"),
        *Lead.objects.filter(subject=subject),
    ]
    if subject.state == Subject.State.ERASED:
        for person in people:
            unindex(person)  # nothing left to find them by; their company's name must not
    else:
        _index(people)
    _index(Deal.objects.filter(contact__subject=subject).select_related("company", "contact"))


def reindex_all() -> int:
    """Rebuild the current organisation's index (after an upgrade or a restore)."""
    count = 0
    for model in MODELS:
        records = model._default_manager.all()
        if model is Contact:
            records = records.prefetch_related("points")
        batch: list[models.Model] = []
        for record in records.iterator(chunk_size=500):
            batch.append(record)
            if len(batch) == TEXTS_PER_STATEMENT:
                _index(batch)
                count, batch = count + len(batch), []
        _index(batch)
        count += len(batch)
    return count
