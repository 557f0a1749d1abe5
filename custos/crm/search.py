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
from custos.core.db.bulk import among, insert_rows
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


def _quoting(record: models.Model) -> list[models.QuerySet[Any]]:
    """Records whose entries quote this one (a company's name in its contacts' and deals'),
    loaded with what their documents read. An erased person's contact is not among them:
    nothing may find them again, not even by their company's name."""
    if not isinstance(record, Company):
        return []
    contacts = Contact.objects.filter(company=record).exclude(subject__state=Subject.State.ERASED)
    return [
        contacts.select_related("company").prefetch_related("points"),
        Deal.objects.filter(company=record).select_related("company", "contact"),
    ]


def _dependants(record: models.Model) -> Iterator[models.Model]:
    for records in _quoting(record):
        yield from records.iterator(chunk_size=TEXTS_PER_STATEMENT)


def quoted_by(record: models.Model) -> dict[type[models.Model], list[Any]]:
    """The ids of the records quoting this one, by model: to index them again once it is gone."""
    return {records.model: list(records.values_list("pk", flat=True)) for records in _quoting(record)}


def reindex_records(model: type[models.Model], ids: list[Any]) -> None:
    """Records changed in place elsewhere (an erasure's redactions, a deleted company's): their
    entries and text follow, and those quoting them, a batch at a time."""
    if model not in MODELS:
        return
    for start in range(0, len(ids), TEXTS_PER_STATEMENT):
        records = among(model._default_manager.all(), ids[start : start + TEXTS_PER_STATEMENT])
        if model is Contact:
            records = records.select_related("company").prefetch_related("points")
        elif model is Deal:
            records = records.select_related("company", "contact")
        batch = list(records)
        _index([*batch, *(dependant for record in batch for dependant in _dependants(record))])


# Rows a statement writes the search text of (one CASE branch each).
TEXTS_PER_STATEMENT = 500


def _index(records: Iterable[models.Model], points: Mapping[uuid.UUID, list[ContactPoint]] | None = None) -> None:
    """Replace the records' entries, and the search text on their rows with them (written on
    the instances too, which a later save would otherwise write back). `points`: contacts'
    further emails and phones, where read already."""
    records = list({record.pk: record for record in records}.values())  # once each, the latest
    texts = index_documents(
        _document(record, points.get(record.pk, []) if points is not None else None) for record in records
    )
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for record, text in zip(records, texts, strict=True):
        record.search_text = text  # type: ignore[attr-defined]  # every searchable model has it
        by_model.setdefault(type(record), []).append(record)
    for model, written in by_model.items():
        if len(written) == 1:
            # A note's edit changes no searchable value: the row keeps its text, unwritten.
            text = written[0].search_text  # type: ignore[attr-defined]
            model._default_manager.filter(pk=written[0].pk).exclude(search_text=text).update(search_text=text)
        else:
            model._default_manager.bulk_update(written, ["search_text"], batch_size=TEXTS_PER_STATEMENT)


def reindex(record: models.Model) -> None:
    """Bring the record's entries (and those quoting it) in line with its current values."""
    if type(record) not in MODELS:
        return
    _index([record, *_dependants(record)])


def reindex_many(records: Iterable[models.Model]) -> None:
    """Index records written in bulk (an import's batch): their further emails and phones are
    read in one query."""
    records = [record for record in records if type(record) in MODELS]
    _index(records, _points_by_contact(records))


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
    """For a record about to be deleted, or anonymised (whose search text its declaration's
    `copies` empty): its entries go; the row's text goes with the row or its values."""
    if type(record) in MODELS:
        remove_document(MODELS[type(record)], uuid.UUID(str(record.pk)))


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
        if model in (Contact, Lead):
            # Never an erased person's, by whatever is left (their company's name).
            records = records.exclude(subject__state=Subject.State.ERASED)
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
