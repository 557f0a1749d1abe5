"""Erasure by anonymisation (Art. 17), derived from the declarations: no per-model code.

Each record of the person is anonymised, deleted or kept by law, as its model declares;
free-text fields elsewhere that mention the person's email, phone or full name are
redacted; the person's addresses go on the suppression list so an import cannot bring them
back; the subject itself stays as a pseudonymous reference. A second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_forget_visitor, audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict
from custos.core.fields import EncryptedTextField
from custos.core.models import Organization
from custos.core.personal_data import Category, Declaration, Erasure, model_field
from custos.core.tenancy import current_org_id, require_org_id
from custos.privacy.models import KeptRecord, LegalHold, PrivacyRequest, Subject
from custos.privacy.registry import declarations, records_of
from custos.privacy.services.hooks import records_changed
from custos.privacy.services.journal import journal_append
from custos.privacy.services.subjects import identifiers_of, phone_variants
from custos.privacy.services.suppression import suppress_subject

logger = logging.getLogger(__name__)

REDACTED = "[…]"
# Bookkeeping that erasure treats itself rather than by declaration.
_ENGINE_MODELS = ("privacy.Subject", "privacy.KeptRecord", "privacy.LegalHold")


@dataclass
class ErasurePlan:
    """What an erasure will do (or did): per record type, counts and reasons; no values."""

    subject: Subject
    anonymise: dict[str, int] = field(default_factory=dict)
    delete: dict[str, int] = field(default_factory=dict)
    keep: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[dict[str, str]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.holds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.reference,
            "anonymised": self.anonymise,
            "deleted": self.delete,
            "kept": self.keep,
            "redacted_mentions": self.mentions,
            "legal_holds": self.holds,
        }


def _active_holds(subject: Subject) -> list[dict[str, Any]]:
    today = timezone.localdate()
    holds = LegalHold.objects.filter(subject=subject, released_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gte=today)
    )
    return [{"id": str(h.pk), "until": h.until.isoformat() if h.until else None} for h in holds.order_by("created_at")]


def empty_value(model_field: models.Field[Any, Any]) -> Any:
    """What an anonymised field holds: null where allowed, else its default, else nothing."""
    if model_field.null:
        return None
    if model_field.has_default():
        return model_field.get_default()
    if isinstance(model_field, models.CharField | models.TextField | EncryptedTextField):
        return ""
    raise TypeError(f"{model_field} cannot be anonymised: give it null=True or a default")


def _keep_until(declaration: Declaration) -> dt.date:
    years = declaration.keep_years or 10
    today = timezone.localdate()
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


def _text_fields(declaration: Declaration) -> list[str]:
    """Free-text fields that can mention someone: plain text columns, not JSON, not encrypted."""
    names = []
    for name in declaration.fields_of(Category.FREE_TEXT):
        field_of = model_field(declaration.model, name)
        if isinstance(field_of, models.CharField | models.TextField) and not isinstance(field_of, EncryptedTextField):
            names.append(name)
    return names


def _mentions(subject: Subject, own: dict[str, set[str]]) -> list[tuple[models.Model, str, list[str]]]:
    """Rows of other records whose free text names the person, with the words to redact."""
    found = identifiers_of(subject)
    country = Organization.objects.get(pk=require_org_id()).country
    words = set(found["email"]) | set(found["name"])
    for phone in found["phone"]:
        words |= phone_variants(phone, country)
    words = {w for w in words if len(w) >= 5}
    if not words:
        return []
    hits = []
    for declaration in declarations():
        label = declaration.model._meta.label
        if declaration.copy_of_personal_data:
            continue
        for name in _text_fields(declaration):
            condition = Q()
            for word in words:
                condition |= Q(**{f"{name}__icontains": word})
            rows = declaration.model._default_manager.filter(condition).exclude(pk__in=own.get(label, set()))
            for row in rows:
                text = getattr(row, name) or ""
                present = [w for w in words if w.lower() in text.lower()]
                if present:
                    hits.append((row, name, present))
    return hits


def _own_ids(subject: Subject) -> dict[str, set[Any]]:
    return {r.declaration.model._meta.label: set(r.queryset.values_list("pk", flat=True)) for r in records_of(subject)}


def erasure_preview(subject: Subject) -> ErasurePlan:
    """The dry run: what erasure would anonymise, delete and keep, record type by record type."""
    return _plan(subject, _mentions(subject, _own_ids(subject)))


def _plan(subject: Subject, mentions: list[tuple[models.Model, str, list[str]]]) -> ErasurePlan:
    plan = ErasurePlan(subject=subject, holds=_active_holds(subject))
    for found in records_of(subject):
        declaration = found.declaration
        label = declaration.model._meta.label
        if label in _ENGINE_MODELS:
            continue
        count = found.queryset.count()
        if not count:
            continue
        match declaration.on_erasure:
            case Erasure.DELETE:
                plan.delete[label] = count
            case Erasure.KEEP_RESTRICTED:
                plan.keep.append(
                    {
                        "type": label,
                        "count": count,
                        "reason": declaration.keep_because,
                        "until": _keep_until(declaration).isoformat(),
                    }
                )
            case _:
                plan.anonymise[label] = count
    for row, name, _words in mentions:
        plan.mentions.append({"type": row._meta.label, "id": str(row.pk), "field": name})
    return plan


def subject_erase(*, actor: Actor, subject: Subject) -> ErasurePlan:
    """Erase the person. Refused while a legal hold is active; idempotent otherwise."""
    actor.require("subject.erase")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        holds = _active_holds(subject)
        if holds:
            raise Conflict(_("A legal hold keeps this person's data; release it before erasing."))
        if subject.state == Subject.State.ERASED:
            return _plan(subject, [])  # done before: no writes, no hooks, no second journal line
        # Requests received before the address was on record name the person by email only.
        emails = identifiers_of(subject)["email"]
        if emails:
            PrivacyRequest.objects.filter(subject__isnull=True).annotate(_email=Lower("email")).filter(
                _email__in=emails
            ).update(subject=subject)
        # Found once, before anything changes: finding them needs the person's values.
        own = _own_ids(subject)
        mentions = _mentions(subject, own)
        plan = _plan(subject, mentions)
        # Entries about the person's records keep ids only, but those made through the portal or
        # a web form also name the visitor's network address and browser: gone with the person.
        audit_forget_visitor(object_ids=[subject.pk, *(pk for ids in own.values() for pk in ids)])
        suppress_subject(subject, reason="erasure")
        # Redacted first, while the records still hold the values to recognise.
        for row, name, words in mentions:
            text = getattr(row, name)
            for word in sorted(words, key=len, reverse=True):
                text = re.sub(re.escape(word), REDACTED, text, flags=re.IGNORECASE)
            type(row)._default_manager.filter(pk=row.pk).update(**{name: text})
        for found in records_of(subject):
            declaration = found.declaration
            label = declaration.model._meta.label
            if label in _ENGINE_MODELS:
                continue
            match declaration.on_erasure:
                case Erasure.DELETE:
                    found.queryset.delete()
                case Erasure.KEEP_RESTRICTED:
                    until = _keep_until(declaration)
                    for pk in found.queryset.values_list("pk", flat=True):
                        KeptRecord.objects.get_or_create(
                            object_type=label,
                            object_id=str(pk),
                            defaults={"subject": subject, "reason": declaration.keep_because, "keep_until": until},
                        )
                case _:
                    values = {name: empty_value(model_field(declaration.model, name)) for name in declaration.fields}
                    if values:
                        found.queryset.update(**values)
        if subject.state != Subject.State.ERASED:
            subject.state = Subject.State.ERASED
            subject.erased_at = timezone.now()
            subject.save(update_fields=["state", "erased_at"])
            audit_record(
                actor=actor,
                action="subject.erase",
                object_type="subject",
                object_id=subject.pk,
                extra={
                    "anonymised": sum(plan.anonymise.values()),
                    "deleted": sum(plan.delete.values()),
                    "kept": sum(k["count"] for k in plan.keep),
                    "redacted": len(plan.mentions),
                },
            )
        records_changed(subject)  # derived data (the search index) follows the anonymised records
        tables = _touched_tables(plan)
        transaction.on_commit(lambda: _after_commit(subject, tables))
    return plan


def _touched_tables(plan: ErasurePlan) -> list[str]:
    """The tables whose rows the erasure changed or deleted (with their many-to-many tables):
    the ones that may still hold old row versions of the person's values."""
    labels = {*plan.anonymise, *plan.delete, *(m["type"] for m in plan.mentions), Subject._meta.label}
    tables: set[str] = set()
    for label in labels:
        model = apps.get_model(label)
        tables.add(model._meta.db_table)
        tables.update(f.remote_field.through._meta.db_table for f in model._meta.local_many_to_many)
    return sorted(tables)


def _after_commit(subject: Subject, tables: list[str]) -> None:
    """Journal the erasure (so no restored backup brings the person back), then clean up."""
    journal_append(org_id=subject.org_id, subject_id=subject.pk)
    leave_no_trace(tables)


def leave_no_trace(tables: list[str]) -> None:
    """Remove what the database keeps of the erased values beyond the rows themselves.

    SQLite: every connection has `secure_delete` on, so freed cells and pages are zeroed as
    the erasure writes. The WAL still holds page images from before the erasure: it is
    folded into the database file and truncated here, at once (cheap). An FTS5 index over a
    touched table without FTS5 `secure-delete` (SQLite before 3.42) keeps the old terms in
    older segments until a merge, which reads the whole index (measured: about 2 s at
    500,000 entries): that is left to the worker (`storage_clean`), not to the request.

    PostgreSQL: an UPDATE or DELETE leaves the old row version in the table until VACUUM.
    VACUUM cannot run inside a transaction, and this hook may be called with one open (a
    caller's outer block, a test); it also takes as long as the table's indexes are large,
    which a request should not wait for; and it must run as the tables' owner, not as the
    tenant role a request uses. So it is a task with the table names as its only arguments
    (no personal values), which the worker runs outside any transaction and tenant scope.
    """
    from custos.privacy.tasks import clean_storage

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            _checkpoint(cursor)
            if _fts_indexes_without_secure_delete(cursor, tables):
                clean_storage.enqueue(tables)
    elif connection.vendor == "postgresql":
        clean_storage.enqueue(tables)


def _checkpoint(cursor: Any) -> None:
    """Fold the SQLite WAL into the database file and empty it. Not from inside a transaction
    (a test's, whose hooks run before it ends), where SQLite cannot checkpoint."""
    if not connection.in_atomic_block:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _fts_indexes_without_secure_delete(cursor: Any, tables: list[str]) -> list[str]:
    """Quoted names of the FTS5 indexes whose content table was touched and which keep deleted
    terms until a merge (no `secure-delete` in their configuration)."""
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
    found = []
    for name, sql in cursor.fetchall():
        content = re.search(r"content\s*=\s*'([^']+)'", sql or "")
        if "fts5" not in (sql or "").lower() or not content or content.group(1) not in tables:
            continue
        quoted = connection.ops.quote_name(name)
        cursor.execute(f"SELECT v FROM {connection.ops.quote_name(name + '_config')} WHERE k = 'secure-delete'")  # noqa: S608  # a name from sqlite_master, quoted
        row = cursor.fetchone()
        if not (row and int(row[0])):
            found.append(quoted)
    return found


def storage_clean(tables: list[str]) -> list[str]:
    """The slow part of leaving no trace, for the worker: SQLite merges the FTS5 indexes over
    these tables that keep deleted terms, then truncates the WAL; PostgreSQL vacuums the
    tables. Answers the tables or indexes cleaned. Names not of this database are ignored,
    so no argument becomes SQL."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            indexes = _fts_indexes_without_secure_delete(cursor, tables)
            for index in indexes:
                cursor.execute(f"INSERT INTO {index}({index}) VALUES ('optimize')")  # noqa: S608  # names from sqlite_master, quoted
            _checkpoint(cursor)
        return indexes
    if connection.vendor != "postgresql":
        return []
    if connection.in_atomic_block:
        # Only when called inside a transaction (a test's): VACUUM would fail and abort it.
        logger.warning("erasure: VACUUM skipped, a transaction is open")
        return []
    if current_org_id() is not None:
        raise RuntimeError("VACUUM needs the tables' owner: run it outside a tenant scope")
    known = set(connection.introspection.table_names())
    done = []
    with connection.cursor() as cursor:
        for table in tables:
            if table in known:
                cursor.execute(f"VACUUM {connection.ops.quote_name(table)}")
                done.append(table)
    return done
