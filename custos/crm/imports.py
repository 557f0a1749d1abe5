"""Importing contacts from CSV and XLSX: read as a stream, checked row by row, written in batches.

- The file is read as it is stored: UTF-8 (with or without BOM), UTF-16 or Latin-1; `,`,
  `;` or tab; XLSX through openpyxl's read-only mode. Memory stays flat whatever the size.
- Columns map to fields (the mapping is remembered for the next file with the same headers);
  a contact's company is found by VAT ID or name among those the role may see (and created
  if missing, where the role may create companies), its owner by email; never by an internal id.
- Each row is checked with the same rules as the API; a rejected row is reported with its
  number, the field and the reason, and the good rows are kept.
- Rows are written in batches, each in one transaction, with a checkpoint: an interrupted
  import resumes after the last finished batch (a periodic job hands one whose worker died to
  another) and never writes a row twice, even where two runs of it meet.
- Undo removes what the import created and restores what it changed. What it needs is a
  journal row per record, written with the batch; rejected rows are rows of their own too,
  so a batch costs the same at the millionth row as at the first.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, models, transaction
from django.db.models import F, Q, prefetch_related_objects
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.accounts.models import Membership
from custos.audit.services import audit_record
from custos.core.actor import Actor, RecordScope
from custos.core.cells import csv_cell, restored
from custos.core.db.bulk import insert_rows
from custos.core.errors import Conflict, FieldError, ValidationFailed
from custos.core.ids import uuid7
from custos.core.tenancy import tenant_scope
from custos.core.validation import Cleaner
from custos.crm.duplicates import lowered, stored_people
from custos.crm.models import (
    Company,
    Contact,
    ContactPoint,
    CustomField,
    ImportJob,
    ImportJournalEntry,
    ImportMapping,
    ImportRejectedRow,
    Lead,
)
from custos.crm.rehearsal import Rehearsal, forget
from custos.crm.search import index_new, prepare_new, reindex_many
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import dump_special, fields_of, special_values
from custos.crm.services.people import POINT_FIELDS, clean_contact
from custos.crm.services.records import Name, names_of, org_country, same_person
from custos.privacy.models import Subject
from custos.privacy.services.restriction import refusal
from custos.privacy.services.suppression import suppressed_among
from custos.search.models import SearchEntry

BATCH_SIZE = 500
UNDO_DAYS = 7
# Why a row reaching a contact the member may not change is not applied.
BEYOND_SCOPE = gettext_lazy("This person is stored already, among contacts your role may not change.")
# Why a row naming a company not found is not imported for a role that may not create one.
NO_COMPANY = gettext_lazy("No company you may see has this name or VAT ID, and your role may not create companies.")
# Rows read at a time by undo (of the journal) and by the rejected rows' report.
UNDO_CHUNK = 1000
REPORT_CHUNK = 2000
MAX_FILE_BYTES = 200 * 1024 * 1024
PREVIEW_ROWS = 20
# A running import whose checkpoint stands still this long has lost its worker: handed on.
STALLED_AFTER = timedelta(minutes=10)
# Handed on this often without getting further, it fails: its file stops every worker that reads it.
RESUMES = 3
# The error of an upload never started, which `imports_expire` closes, and what starting it says.
NEVER_STARTED = "never started"
EXPIRED = gettext_lazy("This upload has expired: upload the file again.")
# What a column can become; `company` and `owner` are found by natural key.
IMPORT_FIELDS = {
    "contact": (
        "first_name",
        "last_name",
        "email",
        "phone",
        "other_emails",
        "other_phones",
        "street",
        "postcode",
        "city",
        "country",
        "company",
        "owner",
        "tags",
        "notes",
        "health_notes",
    ),
}
# A column may also become a custom field: "custom:<key>".
CUSTOM_TARGET = "custom:"
# What a dry run keeps of the contacts it would write (`crm.rehearsal`): what an import sets.
REHEARSED_FIELDS = (
    "id",
    "subject_id",
    "company_id",
    "owner_id",
    "custom_fields",
    "custom_special",
    *(name for name in IMPORT_FIELDS["contact"] if name not in ("other_emails", "other_phones", "company", "owner")),
)
YES = frozenset({"yes", "y", "true", "1", "x", "ja", "j", "tak", "t", "نعم"})
NO = frozenset({"no", "n", "false", "0", "nein", "nie", "لا"})
FIELD_LABELS = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "other_emails": gettext_lazy("More email addresses (comma-separated)"),
    "other_phones": gettext_lazy("More phone numbers (separated by semicolons)"),
    "street": gettext_lazy("Street and number"),
    "postcode": gettext_lazy("Postcode"),
    "city": gettext_lazy("City"),
    "country": gettext_lazy("Country (code such as DE)"),
    "company": gettext_lazy("Company (name or VAT ID)"),
    "owner": gettext_lazy("Owner (email of a member)"),
    "tags": gettext_lazy("Tags (comma-separated)"),
    "notes": gettext_lazy("Notes"),
    "health_notes": gettext_lazy("Health notes"),
}
# Header names (lower-case, any language the UI speaks) recognised without asking.
HEADER_GUESSES = {
    "first_name": {"first name", "firstname", "first_name", "vorname", "imię", "imie", "given name", "الاسم الأول"},
    "last_name": {"last name", "lastname", "last_name", "surname", "nachname", "name", "nazwisko", "اسم العائلة"},
    "email": {"email", "e-mail", "mail", "email address", "e-mail-adresse", "adres e-mail", "البريد الإلكتروني"},
    "phone": {"phone", "telephone", "telefon", "tel", "tel.", "mobile", "handy", "numer telefonu", "الهاتف"},
    "other_emails": {"more emails", "other emails", "email 2", "e-mail 2", "weitere e-mails", "inne e-maile"},
    "other_phones": {"more phones", "other phones", "phone 2", "telefon 2", "weitere telefonnummern", "inne telefony"},
    "street": {"street", "address", "straße", "strasse", "adresse", "ulica", "adres", "الشارع", "العنوان"},
    "postcode": {"postcode", "zip", "postal code", "plz", "postleitzahl", "kod pocztowy", "الرمز البريدي"},
    "city": {"city", "town", "ort", "stadt", "miasto", "miejscowość", "المدينة"},
    "country": {"country", "land", "kraj", "country code", "البلد"},
    "company": {"company", "firma", "organisation", "organization", "unternehmen", "الشركة"},
    "owner": {"owner", "zuständig", "besitzer", "właściciel", "المسؤول"},
    "tags": {"tags", "schlagwörter", "tagi", "الوسوم"},
    "notes": {"notes", "notizen", "bemerkungen", "notatki", "ملاحظات"},
}


class ImportFileError(ValidationFailed):
    """A file that cannot be read at all: named, and nothing was imported."""

    def __init__(self, message: str) -> None:
        super().__init__([FieldError("file", message)])


# Reading ---------------------------------------------------------------------------------


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return _text_encoding(head)


def _text_encoding(sample: bytes) -> str:
    """UTF-8 where the sample reads as UTF-8, else the Windows code page it was saved in."""
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 4:  # not just a character cut off at the end of the sample
            return _windows_code_page(sample)
    return "utf-8"


def _late_encoding(path: Path) -> str:
    """The encoding of a file plain ASCII as far as its head was read: found in a sample from
    its first other byte on, which may come megabytes down."""
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            found = re.search(rb"[\x80-\xff]", chunk)
            if found:
                handle.seek(offset + found.start())
                return _text_encoding(handle.read(65536))
            offset += len(chunk)
    return "utf-8"


def _first_nul(path: Path, start: int) -> int | None:
    """The line of the file's first NUL byte from `start` on (a text file holds none), or None."""
    line = 1
    with open(path, "rb") as handle:
        line += handle.read(start).count(b"\n")
        while chunk := handle.read(1024 * 1024):
            index = chunk.find(b"\x00")
            if index >= 0:
                return line + chunk.count(b"\n", 0, index)
            line += chunk.count(b"\n")
    return None


# Letters Central European Windows (cp1250) has where Western (cp1252) has symbols or nothing:
# ą ę ł ś ź ż are "¹ ê ³ œ Ÿ ¿" there. German umlauts and ß are the same in both.
_POLISH_ONLY = frozenset("ąęłśźżĄĘŁŚŹŻ")


def _windows_code_page(head: bytes) -> str:
    """A file saved by Excel on Windows: Polish (cp1250) where its text holds Polish letters
    there, else Western (cp1252, which reads German and Latin-1 text)."""
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return "cp1250"  # bytes cp1252 leaves undefined (0x8F is "Ź" in cp1250)
    polish = sum(char in _POLISH_ONLY for char in head.decode("cp1250", errors="replace"))
    return "cp1250" if polish >= 2 else "cp1252"


def _detect_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _open_text(path: Path, encoding: str) -> IO[str]:
    return open(path, encoding=encoding, newline="", errors="strict")


def iter_rows(job: ImportJob) -> Iterator[list[str]]:
    """The file's data rows (without the header), as text cells."""
    path = Path(job.file_path)
    if job.file_format == "xlsx":
        from openpyxl import load_workbook

        with open(path, "rb") as handle:
            workbook = load_workbook(handle, read_only=True, data_only=True)
            rows = workbook.active.iter_rows(values_only=True)
            next(rows, None)
            for row in rows:
                yield ["" if cell is None else _cell_text(cell) for cell in row]
            workbook.close()
        return
    with _open_text(path, job.encoding) as handle:
        reader = csv.reader(handle, delimiter=job.delimiter)
        next(reader, None)
        yield from reader


def _cell_text(value: Any) -> str:
    if hasattr(value, "date") and hasattr(value, "hour"):
        return value.date().isoformat() if (value.hour, value.minute, value.second) == (0, 0, 0) else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _inspect(path: Path, file_name: str) -> dict[str, Any]:
    """Format, encoding, delimiter, headers and row count of an uploaded file."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"PK\x03\x04") or file_name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            with open(path, "rb") as handle:
                workbook = load_workbook(handle, read_only=True, data_only=True)
                rows = workbook.active.iter_rows(values_only=True)
                headers = [str(cell).strip() if cell is not None else "" for cell in next(rows, ())]
                total = sum(1 for row in rows if any(cell not in (None, "") for cell in row))
                workbook.close()
        except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as error:
            raise ImportFileError(_("This is not a readable XLSX file.")) from error
        return {
            "file_format": "xlsx",
            "encoding": "",
            "delimiter": "",
            "headers": _distinct(headers),
            "total_rows": total,
        }
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if b"\x00" in head:
            raise ImportFileError(_("This does not look like a CSV or XLSX file."))
        if (line := _first_nul(path, len(head))) is not None:
            raise ImportFileError(
                _("Line %(line)d holds a NUL byte: the file is damaged, or it is not a text file.") % {"line": line}
            )
    encoding = _detect_encoding(head)
    delimiter = _detect_delimiter(head.decode(encoding, errors="ignore"))
    try:
        try:
            headers, total = _read_csv(path, encoding, delimiter)
        except UnicodeDecodeError:
            if encoding != "utf-8" or not head.isascii():
                raise
            # ASCII as far as the head goes, then a letter of a code page (Excel on Windows).
            encoding = _late_encoding(path)
            headers, total = _read_csv(path, encoding, delimiter)
    except UnicodeDecodeError as error:
        raise ImportFileError(
            _("The file's text encoding could not be read; save it as UTF-8 and try again.")
        ) from error
    if not any(headers):
        raise ImportFileError(_("The file has no header row naming its columns."))
    return {
        "file_format": "csv",
        "encoding": encoding,
        "delimiter": delimiter,
        "headers": _distinct(headers),
        "total_rows": total,
    }


def _read_csv(path: Path, encoding: str, delimiter: str) -> tuple[list[str], int]:
    """The header row and the number of data rows, read through; a flaw of the CSV itself is
    refused saying where it is. A decoding error is left to the caller."""
    with _open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            headers = [cell.strip().lstrip("\ufeff") for cell in next(reader, [])]
            total = sum(1 for row in reader if any(cell.strip() for cell in row))
        except csv.Error as error:
            if "field limit" in str(error):  # a quote left open swallows the rest of the file
                message = _(
                    "A cell is longer than %(limit)d characters (line %(line)d): check that every quote in "
                    "the file is closed."
                ) % {"limit": csv.field_size_limit(), "line": reader.line_num}
            else:
                message = _("Line %(line)d could not be read as CSV.") % {"line": reader.line_num}
            raise ImportFileError(message) from error
    return headers, total


def _distinct(headers: list[str]) -> list[str]:
    """The headers, each naming one column: a mapping is kept by header, and two columns of
    one name (or none) would take each other's cells. An empty one becomes "Column 3", a
    repeated one "Name (2)"."""
    named: list[str] = []
    for index, header in enumerate(headers):
        header = header or _("Column %(number)d") % {"number": index + 1}
        taken = {h.lower() for h in named}
        candidate, copy = header, 1
        while candidate.lower() in taken:
            copy += 1
            candidate = f"{header} ({copy})"
        named.append(candidate)
    return named


def _headers_key(headers: list[str]) -> str:
    return hashlib.sha256(json.dumps([h.strip().lower() for h in headers]).encode()).hexdigest()


def import_targets(actor: Actor, object_type: str) -> dict[str, str]:
    """What a column may become for this actor, with its label: the built-in fields, then the
    organisation's custom fields; special-category ones only for a role that may write them."""
    special = actor.can("special_category.change")
    hidden = actor.hidden_fields_of(object_type)  # what the role may not see, it may not write
    targets = {
        name: str(FIELD_LABELS[name])
        for name in IMPORT_FIELDS[object_type]
        if (name != "health_notes" or special) and POINT_FIELDS.get(name, name) not in hidden and name not in hidden
    }
    for definition in fields_of(object_type) if "custom_fields" not in hidden else ():
        if special or not definition.is_special:
            targets[CUSTOM_TARGET + definition.key] = definition.label
    return targets


def _given(job: ImportJob) -> frozenset[str]:
    """The contact fields the job's file gives (its mapped columns): an update changes these
    only, never one the row's check filled in (the owner, for a file without the column)."""
    names: set[str] = set()
    for target in job.mapping.values():
        if target.startswith(CUSTOM_TARGET):
            names |= {"custom_fields", "custom_special"}
        else:
            names.add(f"{target}_id" if target in ("company", "owner") else target)
    return frozenset(names)


def _update_of(contact: Contact, data: Mapping[str, Any], given: frozenset[str]) -> dict[str, Any]:
    """What a row changes in a stored contact: the given fields it holds a value for; its
    custom values join the contact's own, as a form's do."""
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if name not in given or value in ("", None, [], {}):
            continue
        if name == "custom_fields":
            value = {**(contact.custom_fields or {}), **value}
        elif name == "custom_special":
            value = dump_special({**special_values(contact), **json.loads(value)})
        if getattr(contact, name) != value:
            changes[name] = value
    return changes


def target_label(target: str) -> str:
    """A mapped field's (or an error's field's) label, for previews and reports."""
    if target.startswith(("custom_fields.", CUSTOM_TARGET)):
        key = target.split(".", 1)[1] if target.startswith("custom_fields.") else target.removeprefix(CUSTOM_TARGET)
        return next((d.label for d in CustomField.objects.filter(key=key)), key)
    name, _dot, position = target.partition(".")
    if name in POINT_FIELDS and position.isdigit():  # one of the addresses in the cell: which one
        return _("%(field)s, entry %(number)d") % {"field": FIELD_LABELS[name], "number": int(position) + 1}
    return str(FIELD_LABELS.get(target, target))


def suggest_mapping(actor: Actor, object_type: str, headers: list[str]) -> dict[str, str]:
    """The mapping remembered for these headers (in any case) as far as it names fields this
    actor may write; a column it maps to any other is guessed from its name, as are all
    columns of headers never mapped before."""
    allowed = import_targets(actor, object_type)
    guessed = _guessed_mapping(object_type, headers, allowed)
    remembered = ImportMapping.objects.filter(object_type=object_type, headers_key=_headers_key(headers)).first()
    if remembered is None:
        return guessed
    # The key ignores case: the remembered headers may be spelled otherwise than this file's.
    own = {header.strip().lower(): header for header in headers}
    mapping: dict[str, str] = {}
    dropped: set[str] = set()
    for remembered_header, target in remembered.mapping.items():
        header = own.get(remembered_header.strip().lower())
        if header is not None and target in allowed:
            mapping[header] = target
        elif header is not None:
            dropped.add(header)
    for header, target in guessed.items():
        if header in dropped and target not in mapping.values():
            mapping[header] = target
    return {header: mapping[header] for header in headers if header in mapping}


def _guessed_mapping(object_type: str, headers: list[str], allowed: Mapping[str, str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    guesses = HEADER_GUESSES | {
        CUSTOM_TARGET + d.key: {d.key, d.label.lower()} for d in fields_of(object_type) if not d.is_special
    }
    for header in headers:
        for field_name, names in guesses.items():
            if field_name in allowed and header.strip().lower() in names and field_name not in mapping.values():
                mapping[header] = field_name
                break
    return mapping


# The job ---------------------------------------------------------------------------------


def _storage(org_id: uuid.UUID) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports" / str(org_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def import_upload(*, actor: Actor, object_type: str, file_name: str, stream: IO[bytes]) -> ImportJob:
    """Store the file (owner-only, outside the web root) and read its shape; nothing imported yet."""
    actor.require(f"{object_type}.add")
    if object_type not in IMPORT_FIELDS:
        raise ValidationFailed.single("object_type", _("Only contacts can be imported so far."))
    job_id = uuid.uuid4()
    path = _storage(actor.org_id) / f"{job_id}.upload"
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                out.close()
                path.unlink()
                raise ImportFileError(_("The file is larger than 200 MB; split it into smaller files."))
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        path.unlink()
        raise ImportFileError(_("The file is empty."))
    try:
        shape = _inspect(path, file_name)
    except ImportFileError:
        path.unlink()
        raise
    with transaction.atomic():
        job = ImportJob.objects.create(
            object_type=object_type,
            file_name=file_name[:255],
            file_path=str(path),
            file_sha256=digest.hexdigest(),
            created_by_id=actor.user_id,
            mapping=suggest_mapping(actor, object_type, shape["headers"]),
            **shape,
        )
        audit_record(
            actor=actor,
            action="import.upload",
            object_type="import",
            object_id=job.pk,
            extra={"rows": job.total_rows, "format": job.file_format},
        )
    return job


def _clean_mapping(job: ImportJob, mapping: Mapping[str, str], actor: Actor) -> dict[str, str]:
    allowed = import_targets(actor, job.object_type)
    cleaner = Cleaner()
    chosen: dict[str, str] = {}
    for header, target in mapping.items():
        if not target:
            continue
        if header not in job.headers:
            cleaner.fail("mapping", _("The file has no column “%(column)s”.") % {"column": header[:50]})
        elif target not in allowed:
            cleaner.fail("mapping", _("Unknown field: %(name)s") % {"name": str(target)[:50]})
        elif target in chosen.values():
            cleaner.fail("mapping", _("Two columns are mapped to %(name)s.") % {"name": allowed[target]})
        else:
            chosen[header] = target
    if not cleaner.errors and not {"first_name", "last_name", "email"} & set(chosen.values()):
        cleaner.fail("mapping", _("Map at least a name or an email column."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return chosen


@dataclass
class RowOutcome:
    row: int
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    duplicate_of: uuid.UUID | None = None
    company: Company | None = field(default=None, repr=False, compare=False)


class _Resolver:
    """Natural keys to ids: companies by VAT ID or name, owners by member email. Both are
    looked up once per job (members) or once per batch (companies), never per row. A company
    is found among those the actor's record scope shows, as a form's picker finds it."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.members = {
            email.lower(): user_id
            for user_id, email in Membership.objects.filter(org_id=actor.org_id, is_active=True).values_list(
                "user_id", "user__email"
            )
        }
        self.member_ids = set(self.members.values())
        # By the key's lower case: the company found (or created), or None when none is.
        self.companies: dict[str, Company | None] = {}
        self.may_create = actor.can("company.add")
        # False in a dry run: the companies it makes are never written.
        self.writing = True
        # Made for the batch's rows, by their key: kept (`flush`) only where a row writes a
        # contact at one (`use`), so a row skipped or refused leaves no company behind.
        self.pending: dict[str, Company] = {}
        self.used: set[uuid.UUID] = set()
        self.inserted: list[Company] = []  # inserted since the batch began: for its journal
        self.custom_fields = {definition.key: definition for definition in fields_of("contact")}

    def owner(self, value: str) -> tuple[uuid.UUID | None, str | None]:
        if not value.strip():
            if self.actor.user_id not in self.member_ids:
                return None, _("Choose a member of this organisation.")
            return self.actor.user_id, None
        user_id = self.members.get(value.strip().lower())
        return (user_id, None) if user_id else (None, _("No member of this organisation has this email."))

    def _visible(self) -> models.QuerySet[Company]:
        return scoped(self.actor, Company.objects.all())

    def prefetch(self, values: Iterable[str]) -> None:
        """Look up the companies these cells name that are not known yet, in one query: the
        first (oldest) with the VAT ID, else the first with the name in any case. The names
        are asked for in their usual cases as well (`lowered`): SQLite lowers A to Z only."""
        wanted = {key.lower(): key for key in (value.strip() for value in values) if key}
        wanted = {lower: key for lower, key in wanted.items() if lower not in self.companies and _compact(key)}
        if not wanted:
            return
        vat_ids = {_compact(key) for key in wanted.values()}
        names = set(wanted).union(*(lowered(key) for key in wanted.values()))
        found = list(
            self._visible()
            .annotate(name_lower=Lower("name"))
            .filter(Q(vat_id__in=vat_ids) | Q(name_lower__in=names))
            .order_by("pk")
        )
        for lower, key in wanted.items():
            compact = _compact(key)
            self.companies[lower] = next((c for c in found if c.vat_id == compact), None) or next(
                (c for c in found if c.name.lower() == lower), None
            )

    def company(self, value: str, *, create: bool) -> Company | None:
        key = value.strip()
        if not key:
            return None
        lower = key.lower()
        if lower not in self.companies:
            if _compact(key):
                self.prefetch([key])
            else:  # no letter or digit, so no VAT ID (nor case): by name only
                self.companies[lower] = (
                    self._visible().annotate(name_lower=Lower("name")).filter(name_lower=lower).order_by("pk").first()
                )
        found = self.companies[lower]
        if found is None and create and self.may_create:
            found = Company(name=key[:200], owner_id=self.actor.user_id)
            self.pending[lower] = found
            self.companies[lower] = found
        return found

    def use(self, company: Company | None) -> None:
        """A row writes a contact at this company: one the batch made is kept."""
        if company is not None:
            self.used.add(company.pk)

    def flush(self) -> list[Company]:
        """Keep the companies made for the batch that its written rows use, inserted (inside its
        transaction) unless in a dry run; forget the others, so a later row makes them anew.
        Returns those kept."""
        kept = [company for company in self.pending.values() if company.pk in self.used]
        for lower, company in self.pending.items():
            if company.pk not in self.used:
                del self.companies[lower]
        if kept and self.writing:
            documents = prepare_new(kept)  # findable by name in the search box, as one made by hand
            insert_rows(Company, kept)
            index_new(documents)
            self.inserted.extend(kept)
        self.pending, self.used = {}, set()
        return kept


def _new[M: models.Model](model: type[M], values: Mapping[str, Any]) -> M:
    """`model(**values)` built by position, the path Django takes for rows read from the
    database: the keyword path looks each field up by name, a third more per record, and an
    import builds two for every row. Each field not given gets its default, as with keywords;
    a name that is not a column is an error."""
    fields = model._meta.concrete_fields
    unknown = values.keys() - _attnames(model)
    if unknown:
        raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]}")
    return model(*[values[f.attname] if f.attname in values else f.get_default() for f in fields])


@functools.cache
def _attnames(model: type[models.Model]) -> frozenset[str]:
    return frozenset(model_field.attname for model_field in model._meta.concrete_fields)


def _compact(key: str) -> str:
    return "".join(ch for ch in key.upper() if ch.isalnum())


def _custom_cells(cells: dict[str, str], definitions: Mapping[str, CustomField]) -> dict[str, Any]:
    """Custom values as a spreadsheet holds them (yes/ja/tak, "a; b"), as the domain takes them."""
    values: dict[str, Any] = {}
    for key, text in cells.items():
        kind = definitions[key].kind if key in definitions else None
        if kind == CustomField.Kind.YES_NO and text.lower() in YES | NO:
            values[key] = text.lower() in YES
        elif kind == CustomField.Kind.MULTI_CHOICE:
            values[key] = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        else:
            values[key] = text
    return values


def _row_data(job: ImportJob, headers: list[str], row: list[str]) -> dict[str, str]:
    cells = dict(zip(headers, row, strict=False))
    return {target: restored((cells.get(header) or "").strip()) for header, target in job.mapping.items()}


def _check_row(
    job: ImportJob, actor: Actor, resolver: _Resolver, number: int, raw: dict[str, str], country: str
) -> RowOutcome:
    """Validate one row as the API would; its company is found afterwards, per batch."""
    outcome = RowOutcome(row=number)
    data: dict[str, Any] = {
        name: raw[name]
        for name in raw
        if name not in ("company", "owner", "tags") and not name.startswith(CUSTOM_TARGET)
    }
    custom = {
        name.removeprefix(CUSTOM_TARGET): value
        for name, value in raw.items()
        if name.startswith(CUSTOM_TARGET) and value
    }
    if custom:
        data["custom_fields"] = _custom_cells(custom, resolver.custom_fields)
    if "tags" in raw:
        data["tags"] = [tag.strip() for tag in raw["tags"].replace(";", ",").split(",") if tag.strip()]
    # Several in one cell: emails by comma or semicolon; phones by semicolon (a comma may group digits).
    if "other_emails" in raw:
        data["other_emails"] = [v.strip() for v in re.split(r"[,;\n]", raw["other_emails"]) if v.strip()]
    if "other_phones" in raw:
        data["other_phones"] = [v.strip() for v in re.split(r"[;\n]", raw["other_phones"]) if v.strip()]
    owner_id = None
    if "owner" in raw:
        owner_id, problem = resolver.owner(raw["owner"])
        if problem:
            outcome.errors.append(("owner", problem))
    if raw.get("health_notes") and not actor.can("special_category.change"):
        outcome.errors.append(("health_notes", _("Your role may not write special-category data.")))
    # The owner is left out here: the resolver found it among the active members already.
    cleaned, cleaner = clean_contact(
        actor, data, partial=False, country=country, index=number, custom=list(resolver.custom_fields.values())
    )
    if owner_id is not None:
        cleaned["owner_id"] = owner_id
    outcome.errors.extend((e.field or "", e.message) for e in cleaner.errors)
    outcome.data = cleaned
    return outcome


def _check_rows(
    job: ImportJob,
    actor: Actor,
    resolver: _Resolver,
    rows: list[tuple[int, dict[str, str]]],
    country: str,
    *,
    create: bool,
) -> list[RowOutcome]:
    """Validate the rows, then find the company of each good one (in one lookup for all)
    and, if `create`, make the missing ones; they are inserted by `resolver.flush()`."""
    outcomes = [_check_row(job, actor, resolver, number, raw, country) for number, raw in rows]
    _find_companies(resolver, outcomes, rows, create=create)
    return outcomes


def _find_companies(
    resolver: _Resolver, outcomes: list[RowOutcome], rows: list[tuple[int, dict[str, str]]], *, create: bool
) -> None:
    """The company of each good row; one not found is made (`create`) where the role may
    create companies, else it rejects the row as the API refuses an unknown company."""
    named = [(o, raw["company"]) for o, (_n, raw) in zip(outcomes, rows, strict=True) if raw.get("company")]
    named = [(o, value) for o, value in named if not o.errors]
    resolver.prefetch(value for _o, value in named)
    for outcome, value in named:
        outcome.company = resolver.company(value, create=create)
        outcome.data["company_id"] = outcome.company.pk if outcome.company else None
        if outcome.company is None and not resolver.may_create:
            outcome.errors.append(("company", str(NO_COMPANY)))


def import_preview(*, actor: Actor, job: ImportJob, mapping: Mapping[str, str]) -> list[RowOutcome]:
    """The first rows as they would be imported, with their errors; nothing is written. Only
    while the job waits to start: then its file is read once and deleted."""
    actor.require(f"{job.object_type}.add")
    if _expired(job):
        raise Conflict(str(EXPIRED))
    if job.status != ImportJob.Status.UPLOADED:
        raise Conflict(_("Only an import that has not started can be previewed."))
    job.mapping = _clean_mapping(job, mapping, actor)
    resolver = _Resolver(actor)
    country = org_country(actor)
    rows: list[tuple[int, dict[str, str]]] = []
    for index, row in enumerate(iter_rows(job)):
        if len(rows) >= PREVIEW_ROWS:
            break
        if not any(cell.strip() for cell in row):  # skipped by the import too, never rejected
            continue
        rows.append((index + 2, _row_data(job, job.headers, row)))
    return _check_rows(job, actor, resolver, rows, country, create=False)


def import_start(
    *, actor: Actor, job: ImportJob, mapping: Mapping[str, str], duplicates: str, dry_run: bool = False
) -> ImportJob:
    """Fix the mapping (and remember it), then hand the job to the background worker. The
    language active now is kept with the job: the rejected rows' reasons are given in the
    member's own language, else in it."""
    from custos.crm.tasks import run_import

    actor.require(f"{job.object_type}.add")
    if job.status != ImportJob.Status.UPLOADED:
        raise Conflict(_not_startable(job))
    if duplicates not in ImportJob.Duplicates.values:
        raise ValidationFailed.single("duplicates", _("Choose skip, update or create."))
    if duplicates == ImportJob.Duplicates.UPDATE:
        actor.require(f"{job.object_type}.change")
    job.mapping = _clean_mapping(job, mapping, actor)
    with transaction.atomic():
        # Started by a conditional update: of two requests that loaded the job, one starts it.
        started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(
            mapping=job.mapping,
            duplicates=duplicates,
            dry_run=dry_run,
            status=ImportJob.Status.RUNNING,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            progressed_at=timezone.now(),
        )
        if not started:
            job.refresh_from_db(fields=["status", "error"])
            raise Conflict(_not_startable(job))
        job.duplicates, job.dry_run, job.status = duplicates, dry_run, ImportJob.Status.RUNNING
        ImportMapping.objects.update_or_create(
            object_type=job.object_type,
            headers_key=_headers_key(job.headers),
            defaults={"mapping": job.mapping, "updated_at": timezone.now()},
        )
        audit_record(
            actor=actor,
            action="import.start",
            object_type="import",
            object_id=job.pk,
            extra={"duplicates": duplicates, "dry_run": dry_run, "rows": job.total_rows},
        )
        transaction.on_commit(lambda: run_import.enqueue(str(job.org_id), str(job.pk)))
    return job


def _not_startable(job: ImportJob) -> str:
    return str(EXPIRED) if _expired(job) else _("This import has started already.")


def _expired(job: ImportJob) -> bool:
    """An upload left unstarted until `imports_expire` closed it (and deleted its file)."""
    return job.status == ImportJob.Status.FAILED and job.error == NEVER_STARTED


def import_process(job: ImportJob, actor: Actor) -> ImportJob:
    """Process the job from its checkpoint to the end (the worker's part). Batch by batch,
    each in one transaction with its checkpoint: stopping anywhere loses at most the batch
    in progress, which is done again on resume. Where another run of the job got further,
    this one stops (`_write_batch`)."""
    if job.status != ImportJob.Status.RUNNING:
        return job
    resolver = _Resolver(actor)
    country = org_country(actor)
    rehearsal = Rehearsal(job.file_path, job.checkpoint, REHEARSED_FIELDS) if job.dry_run else None
    if rehearsal is not None:
        resolver.companies.update(rehearsal.companies())
    batch: list[tuple[int, dict[str, str]]] = []
    try:
        for index, row in enumerate(iter_rows(job)):
            if index < job.checkpoint:
                continue
            if not any(cell.strip() for cell in row):
                continue
            batch.append((index + 2, _row_data(job, job.headers, row)))
            if len(batch) >= BATCH_SIZE:
                if not _write_batch(
                    job, actor, resolver, country, batch, next_checkpoint=index + 1, rehearsal=rehearsal
                ):
                    return job
                batch = []
        _write_batch(job, actor, resolver, country, batch, next_checkpoint=None, last=True, rehearsal=rehearsal)
    finally:
        if rehearsal is not None:
            rehearsal.close()
    if job.status != ImportJob.Status.RUNNING:
        remove_upload(job)  # the file held everyone's rows: gone once read
    return job


def remove_upload(job: ImportJob) -> None:
    Path(job.file_path).unlink(missing_ok=True)
    forget(job.file_path)


def _write_batch(
    job: ImportJob,
    actor: Actor,
    resolver: _Resolver,
    country: str,
    batch: list[tuple[int, dict[str, str]]],
    *,
    next_checkpoint: int | None,
    last: bool = False,
    rehearsal: Rehearsal | None = None,
) -> bool:
    """Write the batch and move the checkpoint on; False, writing nothing, where the job is
    no longer running or another run of it moved the checkpoint since this run read it (two
    runs meet where a worker thought dead goes on): the run stops. `rehearsal`: a dry run's,
    where the contacts earlier batches would have written are found as a real run finds them
    stored."""
    write = not job.dry_run
    # The rows' own checks need nothing from the database: done before the transaction, so
    # the job's row (and on SQLite the database) is locked only while the batch is written.
    outcomes = [_check_row(job, actor, resolver, number, raw, country) for number, raw in batch]
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.RUNNING or locked.checkpoint != job.checkpoint:
            return False
        resolver.inserted = []
        resolver.writing = write
        # A dry run makes its new companies too, unwritten, so that a row at a company still to
        # be made is not taken for a namesake without one.
        _find_companies(resolver, outcomes, batch, create=True)
        good = [o for o in outcomes if not o.errors]
        rejected = [(o.row, f, m) for o in outcomes for f, m in o.errors]
        locked.rejected_count += sum(1 for o in outcomes if o.errors)
        # Duplicates by email, else phone and name, else name and company (`StoredPeople.match`),
        # a query each for the batch; the contacts the batch creates or changes are added as it
        # goes, and rows of earlier batches are stored by now.
        existing = stored_people(o.data for o in good)
        if rehearsal is not None:
            existing = rehearsal.recall(existing, (o.data for o in good))
        rehearsed: dict[uuid.UUID, Contact] = {}  # what the dry run would write: kept for later batches
        emails = {o.data["email"].lower() for o in good if o.data.get("email")}
        # One person, one subject: a new row joins the subject of a contact or lead with its email,
        # unless both are named differently (`same_person`). A restricted person is not joined (a
        # form refuses that contact too): their states.
        # Each address's people: (subject, its state, names), in the order found.
        holders: dict[str, list[tuple[Any, Any, Name]]] = {
            email: [
                (c.subject_id, getattr(c, "subject_state", None), names_of(c.first_name, c.last_name)) for c in group
            ]
            for email, group in existing.by_email.items()
        }
        for lead in (
            Lead.objects.annotate(email_lower=Lower("email"), subject_state=F("subject__state"))
            .filter(email_lower__in=emails - set(holders))
            .only("email", "subject_id", "first_name", "last_name")
            .order_by("pk")
        ):
            holders.setdefault(lead.email.lower(), []).append(
                (lead.subject_id, lead.subject_state, names_of(lead.first_name, lead.last_name))
            )

        def holder(email: str, names: Name) -> tuple[Any, Any, Name] | None:
            """The person at this address the row's names agree with (`same_person`)."""
            return next((h for h in holders.get(email, []) if same_person(h[2], names)), None) if email else None

        created: list[Contact] = []
        new_subjects: list[Subject] = []
        touched: list[Contact] = []
        # The values updates replace, per contact: the first of each field the batch replaced.
        replaced: dict[uuid.UUID, tuple[uuid.UUID, dict[str, Any]]] = {}
        # People who objected or were erased come back flagged: out of marketing, counted in the job.
        suppressed = suppressed_among(
            emails=(email for o in good for email in _addresses(o.data, "email")),
            phones=(phone for o in good for phone in _addresses(o.data, "phone")),
            phones_cleaned=True,
        )
        # Further addresses already held, for the batch's stored matches: one query, and only
        # where an update may add to them (building the prefetch costs more than the query).
        from_file, beyond = _given(locked), set()
        if locked.duplicates == ImportJob.Duplicates.UPDATE:
            prefetch_related_objects(existing.contacts(), "points")
            beyond = _beyond_scope(actor, existing.contacts())
        fresh_subjects: dict[uuid.UUID, Subject] = {}
        counted: set[uuid.UUID] = set()

        def flag(contact: Contact) -> None:
            """A suppressed address reached this contact: counted once, its person out of marketing."""
            if contact.pk in counted:
                return
            counted.add(contact.pk)
            locked.suppressed_count += 1
            if not write:
                return
            if contact.subject_id in fresh_subjects:
                fresh_subjects[contact.subject_id].objected_to_marketing_at = timezone.now()
            else:
                Subject.objects.filter(pk=contact.subject_id, objected_to_marketing_at__isnull=True).update(
                    objected_to_marketing_at=timezone.now()
                )

        saves: dict[uuid.UUID, tuple[Contact, set[str]]] = {}  # stored contacts changed, and their fields
        new_points: list[ContactPoint] = []
        added_points: list[ContactPoint] = []
        points_of_created: dict[uuid.UUID, list[ContactPoint]] = {}
        held_points: dict[Any, set[str]] = {}
        for outcome in good:
            points = [
                ContactPoint(label=point["label"], email=point.get("email", ""), phone=point.get("phone", ""))
                for field in POINT_FIELDS
                for point in outcome.data.pop(field, [])
            ]
            email = (outcome.data.get("email") or "").lower()
            duplicate = existing.match(outcome.data)
            if (
                duplicate
                and email
                and duplicate.email.lower() != email
                and (owner := holder(email, names_of(outcome.data.get("first_name"), outcome.data.get("last_name"))))
                and owner[0] != duplicate.subject_id
            ):
                duplicate = None  # found by phone, but the email is another record's person: one person, one subject
            if duplicate and locked.duplicates == ImportJob.Duplicates.SKIP:
                locked.skipped_count += 1
                continue
            if duplicate and duplicate._state.adding and locked.duplicates == ImportJob.Duplicates.UPDATE:
                # The same person twice in the batch: the later row's values replace the earlier's
                # in the new contact, as an update does had the batches split between the two.
                changes = _update_of(duplicate, outcome.data, from_file)
                for name, value in changes.items():
                    setattr(duplicate, name, value)
                if "company_id" in changes:
                    duplicate.company = outcome.company
                    resolver.use(outcome.company)
                brought = {changes[name] for name in ("email", "phone") if name in changes}  # addresses it gets
                held = {p.email.lower() or p.phone for p in points_of_created.get(duplicate.pk, [])}
                for point in points:
                    if (point.email.lower() or point.phone) not in held | {duplicate.email.lower(), duplicate.phone}:
                        point.contact = duplicate
                        new_points.append(point)
                        points_of_created.setdefault(duplicate.pk, []).append(point)
                        brought.add(point.email or point.phone)
                if brought & suppressed:
                    flag(duplicate)
                existing.add(duplicate)
                rehearsed[duplicate.pk] = duplicate
                locked.updated_count += 1 if changes or brought else 0  # as if the batches had split
                locked.skipped_count += 0 if changes or brought else 1
                continue
            if duplicate and locked.duplicates == ImportJob.Duplicates.UPDATE:
                refused = refusal(getattr(duplicate, "subject_state", None))
                if not refused and duplicate.pk in beyond:
                    refused = str(BEYOND_SCOPE)
                if refused:  # stored, not changed: the row is reported with the reason
                    rejected.append((outcome.row, "", refused))
                    locked.rejected_count += 1
                    continue
                changes = _update_of(duplicate, outcome.data, from_file)
                if changes and write:
                    previous = replaced.setdefault(duplicate.pk, (duplicate.subject_id, {}))[1]
                    for name in changes:
                        previous.setdefault(name, _jsonable(getattr(duplicate, name)))
                for name, value in changes.items():  # a dry run too, in memory: later rows find it so
                    setattr(duplicate, name, value)
                if "company_id" in changes:
                    duplicate.company = outcome.company  # for its search entries, without a query
                    resolver.use(outcome.company)
                if changes and write:
                    duplicate.updated_at = timezone.now()
                    # Saved once the batch's companies are: it may point at one made for it.
                    saves.setdefault(duplicate.pk, (duplicate, {"updated_at"}))[1].update(changes)
                    touched.append(duplicate)
                added = _points_to_add(duplicate, points, held_points)
                # An address on the suppression list reaching a stored person takes them out of
                # marketing too, as it does a new contact.
                if {changes.get("email"), changes.get("phone"), *(p.email or p.phone for p in added)} & suppressed:
                    flag(duplicate)
                if added:
                    changes = changes or {"other_emails": True}
                if added and write:
                    for point in added:
                        point.contact = duplicate
                    new_points.extend(added)
                    added_points.extend(added)
                    if duplicate not in touched:
                        touched.append(duplicate)
                locked.updated_count += 1 if changes else 0
                locked.skipped_count += 0 if changes else 1
                existing.add(duplicate)  # found by its new values too
                if changes:
                    rehearsed[duplicate.pk] = duplicate
                continue
            row_names = names_of(outcome.data.get("first_name"), outcome.data.get("last_name"))
            joined = holder(email, row_names)
            refused = refusal(joined[1]) if joined else ""
            if not refused and duplicate is not None:  # found without an email: by phone and name
                refused = refusal(getattr(duplicate, "subject_state", None))
            if refused:  # the row is a restricted person's: no contact joins them, nor is made anew
                rejected.append((outcome.row, "", refused))
                locked.rejected_count += 1
                continue
            given = {point.email or point.phone for point in points} | {
                outcome.data.get("email"),
                outcome.data.get("phone"),
            }
            if write:
                subject_id = joined[0] if joined else None
                if subject_id is None:
                    subject = _new(Subject, {})
                    new_subjects.append(subject)
                    fresh_subjects[subject.pk] = subject
                    subject_id = subject.pk
                    if email:
                        holders.setdefault(email, []).append((subject_id, None, row_names))
                contact = _new(Contact, {"subject_id": subject_id, **outcome.data})
                if outcome.company is not None:
                    contact.company = outcome.company
                created.append(contact)
                for point in points:
                    point.contact = contact
                new_points.extend(points)
                points_of_created[contact.pk] = points
            else:  # a dry run finds the row's person again later, as a real run does
                contact = _new(Contact, dict(outcome.data))
                rehearsed[contact.pk] = contact
                points_of_created[contact.pk] = points
            resolver.use(outcome.company)
            existing.add(contact)
            if given & suppressed:
                flag(contact)  # joining a stored person, that person is taken out of marketing too
            locked.created_count += 1
        made = resolver.flush()  # the companies the batch makes: those its written rows use
        if write:
            for contact, names in saves.values():
                contact.save(update_fields=sorted(names))
            insert_rows(Subject, new_subjects)
            documents = prepare_new(created, points_of_created)
            insert_rows(Contact, created)
            insert_rows(ContactPoint, new_points)
            journal = [
                *((ImportJournalEntry.Kind.CREATED, "company", c.pk, None, "") for c in resolver.inserted),
                *((ImportJournalEntry.Kind.CREATED, "contact", c.pk, None, "") for c in created),
                *((ImportJournalEntry.Kind.CREATED, "contactpoint", p.pk, None, "") for p in added_points),
                *(
                    (ImportJournalEntry.Kind.UPDATED, "contact", pk, subject_id, json.dumps(previous))
                    for pk, (subject_id, previous) in replaced.items()
                ),
            ]
            insert_rows(ImportJournalEntry, _journal_rows(locked, journal))
            index_new(documents)
            reindex_many(touched)
        insert_rows(ImportRejectedRow, _rejected_rows(locked, rejected))
        if rehearsal is not None:  # before the checkpoint: a batch kept but not checkpointed is done again
            further = {
                pk: {p.email.lower() or p.phone for p in points_of_created.get(pk, [])}
                | held_points.get(pk, set())
                | getattr(contact, "rehearsed_points", set())
                for pk, contact in rehearsed.items()
            }
            rehearsal.keep(locked.checkpoint, rehearsed.values(), further, made)
        resolver.inserted = []
        if next_checkpoint is not None:
            locked.checkpoint = next_checkpoint
        locked.progressed_at, locked.resumes = timezone.now(), 0
        if last:
            locked.status = ImportJob.Status.COMPLETED
            locked.finished_at = timezone.now()
            locked.checkpoint = locked.total_rows
            if write:
                locked.undo_until = locked.finished_at + timedelta(days=UNDO_DAYS)
            audit_record(
                actor=actor,
                action="import.finish",
                object_type="import",
                object_id=locked.pk,
                extra={
                    "created": locked.created_count,
                    "updated": locked.updated_count,
                    "skipped": locked.skipped_count,
                    "rejected": locked.rejected_count,
                    "suppressed": locked.suppressed_count,
                    "dry_run": locked.dry_run,
                },
            )
        locked.save()
        for name in ("checkpoint", "status", "finished_at", "undo_until"):
            setattr(job, name, getattr(locked, name))
        for name in ("created_count", "updated_count", "skipped_count", "rejected_count", "suppressed_count"):
            setattr(job, name, getattr(locked, name))
    return True


def _beyond_scope(actor: Actor, contacts: list[Contact]) -> set[uuid.UUID]:
    """Of the stored contacts a batch may update, those the actor's role may not change (a
    rep who sees their own contacts only): found as duplicates, never changed."""
    ids = [contact.pk for contact in contacts if not contact._state.adding]
    if actor.record_scope == RecordScope.ALL or not ids:
        return set()
    stored = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return stored - set(scoped(actor, Contact.objects.filter(pk__in=ids)).values_list("pk", flat=True))


def _ordered_ids(count: int) -> list[uuid.UUID]:
    """Ids for rows written together, rising in the order given: UUIDv7 orders by the
    millisecond only, and undo and the report read rows back in id order."""
    return sorted(uuid7() for _ in range(count))


def _journal_rows(
    job: ImportJob, entries: Sequence[tuple[str, str, uuid.UUID, uuid.UUID | None, str]]
) -> list[ImportJournalEntry]:
    return [
        _new(
            ImportJournalEntry,
            {
                "id": pk,
                "job_id": job.pk,
                "kind": kind,
                "object_type": object_type,
                "object_id": object_id,
                "subject_id": subject_id,
                "previous": previous,
            },
        )
        for pk, (kind, object_type, object_id, subject_id, previous) in zip(
            _ordered_ids(len(entries)), entries, strict=True
        )
    ]


def _rejected_rows(job: ImportJob, problems: list[tuple[int, str, str]]) -> list[ImportRejectedRow]:
    return [
        _new(ImportRejectedRow, {"id": pk, "job_id": job.pk, "row": row, "field": name[:100], "message": message[:500]})
        for pk, (row, name, message) in zip(_ordered_ids(len(problems)), problems, strict=True)
    ]


def _points_to_add(contact: Contact, points: list[ContactPoint], held: dict[Any, set[str]]) -> list[ContactPoint]:
    """Of a row's further emails and phones, those the stored contact does not hold yet (nor
    gets from an earlier row of the batch): an import adds them, never removes one."""
    if not points:
        return []
    if contact.pk not in held:
        held[contact.pk] = {contact.email.lower(), contact.phone} | {
            (point.email.lower() or point.phone) for point in contact.points.all()
        }
        held[contact.pk] |= getattr(contact, "rehearsed_points", set())  # a dry run's earlier batches gave it
    added = []
    for point in points:
        value = point.email.lower() or point.phone
        if value not in held[contact.pk]:
            held[contact.pk].add(value)
            added.append(point)
    return added


def _addresses(data: Mapping[str, Any], kind: str) -> list[str]:
    """A checked row's main and further emails (or phones)."""
    return [data.get(kind) or "", *(point[kind] for point in data.get(f"other_{kind}s", []))]


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


@dataclass(frozen=True)
class ImportUndone:
    """What an undo did. Companies the import created are kept where another record uses
    them by now (a contact, deal, activity or affiliation added since): deleting them would
    take that link away. Contacts it created are kept likewise, and where someone changed them
    since or a legal hold keeps their person; contacts it changed that someone changed again
    since are left as they are, so no later work is overwritten."""

    job: ImportJob
    removed: int
    restored: int
    companies_removed: int
    companies_kept: int
    # Replaced values not put back: the company or owner they named is gone since.
    not_restored: int = 0
    # Created contacts not removed: in use, changed since or under a legal hold.
    contacts_kept: int = 0
    # Changed contacts changed again since: neither their values nor their addresses put back.
    restore_skipped: int = 0


def import_undo(*, actor: Actor, job: ImportJob) -> ImportUndone:
    """Remove the contacts and companies the import created and restore the values it replaced,
    reading its journal in chunks: the memory it takes does not grow with the import. What
    someone worked on since the import finished is kept as it is (see `ImportUndone`)."""
    actor.require(f"{job.object_type}.delete")
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)  # two clicks undo once
        if locked.status != ImportJob.Status.COMPLETED or locked.dry_run:
            raise Conflict(_("Only a finished import can be undone."))
        if not locked.undoable:
            raise Conflict(_("The undo window of this import has closed."))
        entries = ImportJournalEntry.objects.filter(job=locked)
        removed = restored = companies_removed = companies_kept = not_restored = 0
        contacts_kept = restore_skipped = 0
        created = entries.filter(kind=ImportJournalEntry.Kind.CREATED)
        updated = entries.filter(kind=ImportJournalEntry.Kind.UPDATED)
        for chunk in _chunks(
            created.filter(object_type__in=("contact", "contactpoint")).only("object_type", "object_id")
        ):
            ids = [e.object_id for e in chunk if e.object_type == "contact"]
            kept = _contacts_to_keep(locked, ids)
            gone = [pk for pk in ids if pk not in kept]
            widened, left = _remove_points(locked, [e.object_id for e in chunk if e.object_type == "contactpoint"])
            # A contact whose replaced values are journaled too is counted with them, below.
            if left:
                left -= set(updated.filter(object_id__in=left).values_list("object_id", flat=True))
            restore_skipped += len(left)
            SearchEntry.objects.filter(object_type="contact", object_id__in=gone).delete()
            removed += Contact.objects.filter(pk__in=gone).delete()[1].get(Contact._meta.label, 0)
            contacts_kept += len(kept)
            # The search must forget the addresses taken away again.
            reindex_many(Contact.objects.filter(pk__in=widened).select_related("company"))
        # Newest first: where two batches changed one contact, the older values win. An erased
        # person's entries are gone with them; a restricted person's values never come back.
        since = locked.finished_at or locked.created_at  # see `_contacts_to_keep`
        for chunk in _chunks(updated, newest_first=True):
            found = (
                Contact.objects.filter(pk__in=[e.object_id for e in chunk], subject__state=Subject.State.ACTIVE)
                .select_related("company")
                .in_bulk()
            )
            contacts = {pk: contact for pk, contact in found.items() if contact.updated_at <= since}
            restore_skipped += len(found.keys() - contacts.keys())
            replaced = [(e.object_id, json.loads(e.previous)) for e in chunk if e.object_id in contacts]
            gone_targets = _gone_targets(previous for _pk, previous in replaced)
            fields: dict[uuid.UUID, set[str]] = {}
            for pk, previous in replaced:
                for name, value in previous.items():
                    if value is not None and str(value) in gone_targets.get(name, ()):
                        not_restored += 1
                        continue
                    setattr(contacts[pk], name, value)
                    fields.setdefault(pk, set()).add(name)
            for pk, names in fields.items():
                contacts[pk].save(update_fields=sorted(names))
            restored += len(fields)
            reindex_many([contacts[pk] for pk in fields])
        # Last, once neither the import's contacts nor restored ones point at them any more.
        for chunk in _chunks(created.filter(object_type="company").only("object_id")):
            still = set(Company.objects.filter(pk__in=[e.object_id for e in chunk]).values_list("pk", flat=True))
            used = _companies_in_use(still, since)
            SearchEntry.objects.filter(object_type="company", object_id__in=still - used).delete()
            Company.objects.filter(pk__in=still - used).delete()
            companies_removed += len(still - used)
            companies_kept += len(used)
        entries.delete()
        job.status, job.undone_at, job.undo_until = ImportJob.Status.UNDONE, timezone.now(), None
        locked.status, locked.undone_at, locked.undo_until = job.status, job.undone_at, None
        locked.save(update_fields=["status", "undone_at", "undo_until"])
        audit_record(
            actor=actor,
            action="import.undo",
            object_type="import",
            object_id=job.pk,
            extra={
                "removed": removed,
                "restored": restored,
                "companies_removed": companies_removed,
                "companies_kept": companies_kept,
                "not_restored": not_restored,
                "contacts_kept": contacts_kept,
                "restore_skipped": restore_skipped,
            },
        )
    return ImportUndone(
        job,
        removed,
        restored,
        companies_removed,
        companies_kept,
        not_restored,
        contacts_kept=contacts_kept,
        restore_skipped=restore_skipped,
    )


def _contacts_to_keep(job: ImportJob, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Of contacts the import created, those an undo must not delete: changed since the import
    finished, of a person under an active legal hold, or pointed at by any other record (a
    note, a deal, an appointment, a converted lead, an affiliation: every reverse relation).
    The import's own further addresses of a contact do not count, nor its search entries (no
    relation). One query, then one per kind of relation, for all the contacts given."""
    from custos.privacy.models import LegalHold  # a rare need of the undo alone

    if not ids:
        return set()
    # The import stamps `updated_at` on what it writes before it finishes (batch by batch);
    # every change through the domain services (`update_record`, a merge) stamps it afresh.
    # A completed job always has its end; without one, anything since its start counts.
    since = job.finished_at or job.created_at
    holds = LegalHold.objects.filter(released_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gte=timezone.localdate())
    )
    kept = set(
        Contact.objects.filter(pk__in=ids)
        # A person restricted since is stored as they are: not removed either.
        .filter(
            Q(updated_at__gt=since)
            | Q(subject__in=holds.values("subject_id"))
            | Q(subject__state=Subject.State.RESTRICTED)
        )
        .values_list("pk", flat=True)
    )
    for relation in Contact._meta.get_fields(include_hidden=True):
        rest = set(ids) - kept
        if not rest or not relation.auto_created or relation.concrete:
            continue
        name = relation.field.name  # type: ignore[union-attr]
        linked = relation.related_model._default_manager.filter(**{f"{name}__in": rest})  # type: ignore[union-attr]
        if relation.related_model is ContactPoint:
            linked = linked.filter(created_at__gt=since)  # the import wrote the ones before
        kept.update(linked.values_list(name, flat=True).distinct())
    return kept


def _remove_points(job: ImportJob, ids: list[uuid.UUID]) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Delete the further addresses the import added to stored contacts, except on a contact
    someone changed since (they saw and kept the address) or of a person restricted since (stored
    as they are). Returns the contacts whose addresses went (to reindex) and those whose
    addresses were left."""
    if not ids:
        return set(), set()
    since = job.finished_at or job.created_at  # see `_contacts_to_keep`
    points = list(
        ContactPoint.objects.filter(pk__in=ids)
        .annotate(restricted=Q(contact__subject__state=Subject.State.RESTRICTED))
        .values_list("pk", "contact_id", "contact__updated_at", "restricted")
    )
    left = {contact_id for _pk, contact_id, updated_at, restricted in points if restricted or updated_at > since}
    ContactPoint.objects.filter(pk__in=[pk for pk, contact_id, *_ in points if contact_id not in left]).delete()
    return {contact_id for _pk, contact_id, *_ in points} - left, left


def _gone_targets(replaced: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Of replaced values naming another record (a company, an owner), those whose record was
    deleted since: putting them back would break the link. One query per kind of record."""
    values = list(replaced)
    gone: dict[str, set[str]] = {}
    for relation in Contact._meta.concrete_fields:
        named = {str(v[relation.attname]) for v in values if v.get(relation.attname) is not None}
        if relation.many_to_one and named:
            found = relation.related_model._default_manager.filter(pk__in=named).values_list("pk", flat=True)  # type: ignore[union-attr]
            gone[relation.attname] = named - {str(pk) for pk in found}
    return gone


def _chunks(
    entries: models.QuerySet[ImportJournalEntry], *, newest_first: bool = False
) -> Iterator[list[ImportJournalEntry]]:
    """A job's journal rows in id order, `UNDO_CHUNK` at a time (by key, not by offset)."""
    order = "-pk" if newest_first else "pk"
    after = "pk__lt" if newest_first else "pk__gt"
    chunk = list(entries.order_by(order)[:UNDO_CHUNK])
    while chunk:
        yield chunk
        chunk = list(entries.filter(**{after: chunk[-1].pk}).order_by(order)[:UNDO_CHUNK])


def _companies_in_use(ids: set[uuid.UUID], since: datetime) -> set[uuid.UUID]:
    """Of these companies, those changed by hand since the import (see `_contacts_to_keep`) or
    that any record points at: one query per kind of record. A contact the undo keeps is such a
    record, so its company stays with it."""
    used = set(Company.objects.filter(pk__in=ids, updated_at__gt=since).values_list("pk", flat=True))
    for relation in Company._meta.get_fields(include_hidden=True):
        if ids - used and relation.auto_created and not relation.concrete and relation.one_to_many:
            name = relation.field.name  # type: ignore[union-attr]
            linked = relation.related_model._default_manager.filter(**{f"{name}__in": ids - used})  # type: ignore[union-attr]
            used.update(linked.values_list(name, flat=True).distinct())
    return used


def rejected_report(job: ImportJob) -> Iterator[bytes]:
    """The rejected rows as CSV, in row order: row number, field and reason (the file holds the
    values). Streamed: read a chunk at a time, each in the job's organisation and the caller's
    language, since a response is consumed after the request's own scope has ended."""
    header = ["\ufeff" + _("Row"), _("Field"), _("Reason")]
    return _rejected_lines(job, header, translation.get_language())


def _rejected_lines(job: ImportJob, header: list[str], language: str | None) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    labels: dict[str, str] = {}
    chunk: list[ImportRejectedRow] = []
    while True:
        with tenant_scope(job.org_id), translation.override(language):
            rows = ImportRejectedRow.objects.filter(job_id=job.pk).order_by("row", "pk")
            if chunk:
                rows = rows.filter(Q(row__gt=chunk[-1].row) | Q(row=chunk[-1].row, pk__gt=chunk[-1].pk))
            chunk = list(rows.only("row", "field", "message")[:REPORT_CHUNK])
            for name in {problem.field for problem in chunk} - labels.keys():
                labels[name] = target_label(name)
        for problem in chunk:
            writer.writerow([problem.row, csv_cell(labels[problem.field]), csv_cell(problem.message)])
        yield buffer.getvalue().encode()
        if len(chunk) < REPORT_CHUNK:
            return
        buffer.seek(0)
        buffer.truncate()


def run_job(org_id: str, job_id: str) -> None:
    """The worker's entry: resume the job in its organisation, as the member who started it.
    Whatever stops it ends it failed, its file deleted: never left running with the file."""
    from custos.accounts.access import actor_for
    from custos.core.actor import Via

    with tenant_scope(uuid.UUID(org_id)):
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None or job.status != ImportJob.Status.RUNNING:
            return
        membership = (
            Membership.objects.select_related("org", "user")
            .filter(user_id=job.created_by_id, org_id=job.org_id)
            .first()
        )
        if membership is None:
            _fail(job, "the member who started it left")
            return
        # The rejected rows' reasons are stored in the language of the member who started it:
        # their own, else the one they started it in.
        language = membership.user.language or job.language or settings.LANGUAGE_CODE
        try:
            with translation.override(language):
                import_process(job, actor_for(membership, via=Via.AUTOMATION))
        except (OperationalError, InterfaceError):
            # The database locked or gone for a moment: the job stays running, and the
            # periodic `imports_resume` hands it on from its checkpoint.
            raise
        except Exception as error:  # the class only: a message may quote a row's values
            _fail(job, type(error).__name__)


def _fail(job: ImportJob, reason: str) -> None:
    """End a running job failed and delete its file (a failed job is never started again);
    one another run of it ended meanwhile is left as that run left it."""
    failed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED, error=reason[:300]
    )
    if failed:
        job.status, job.error = ImportJob.Status.FAILED, reason[:300]
        remove_upload(job)


def imports_resume(*, now: datetime | None = None) -> int:
    """Hand each running import whose checkpoint has stood still for `STALLED_AFTER` to a
    worker again: its worker died. Safe where it did not: a run goes on from the checkpoint,
    and of two runs only one writes each batch (`_write_batch`). One handed on `RESUMES` times
    without getting further fails. Returns how many were handed on."""
    from custos.crm.tasks import run_import

    now = now or timezone.now()
    resumed = 0
    cutoff = now - STALLED_AFTER
    stalled = ImportJob.objects.filter(
        Q(progressed_at__lt=cutoff) | Q(progressed_at__isnull=True, created_at__lt=cutoff),  # started before 0024
        status=ImportJob.Status.RUNNING,
    )
    for job in stalled.only("org", "checkpoint", "file_path", "resumes", "status"):
        if job.resumes >= RESUMES:
            _fail(job, "stopped without finishing")
            continue
        # Conditional: a batch written meanwhile (its worker lives after all) leaves it alone.
        handed_on = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING, checkpoint=job.checkpoint)
        if handed_on.update(progressed_at=now, resumes=job.resumes + 1):
            run_import.enqueue(str(job.org_id), str(job.pk))
            resumed += 1
    return resumed


def imports_expire(*, now: Any = None) -> int:
    """Close undo windows (their journals hold replaced values: deleted in bulk) and drop
    uploads never started. A failed import cannot be undone: its journal goes after as long.

    An import still "running" after the undo window has lost its worker: it is marked failed
    (the truth, where "running" would promise an end that never comes), so its journal and
    file go like any failed import's."""
    now = now or timezone.now()
    window = now - timedelta(days=UNDO_DAYS)
    stuck = list(ImportJob.objects.filter(status=ImportJob.Status.RUNNING, created_at__lt=window))
    for job in stuck:
        _fail(job, "stopped without finishing")
    closed = list(ImportJob.objects.filter(undo_until__lt=now).values_list("pk", flat=True))
    failed = ImportJob.objects.filter(status=ImportJob.Status.FAILED, created_at__lt=window)
    ImportJournalEntry.objects.filter(Q(job__in=closed) | Q(job__in=failed.values("pk"))).delete()
    ImportJob.objects.filter(pk__in=closed).update(undo_until=None)
    count = len(closed) + len(stuck)
    for job in ImportJob.objects.filter(status=ImportJob.Status.UPLOADED, created_at__lt=now - timedelta(days=1)):
        # Conditional, as a start is (`import_start`): one started meanwhile runs on.
        if ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(
            status=ImportJob.Status.FAILED, error=NEVER_STARTED
        ):
            remove_upload(job)
            count += 1
    return count
