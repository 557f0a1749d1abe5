"""Erasure by anonymisation (Art. 17), derived from the declarations: no per-model code.

Each record of the person is anonymised, deleted or kept by law, as its model declares;
free text elsewhere that names the person's email, phone or full name is redacted (found
through an index, so the cost follows the person, not the tenant); the person's addresses
go on the suppression list so an import cannot bring them back; the subject itself stays
as a pseudonymous reference. A second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_forget_visitor, audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict
from custos.core.fields import EncryptedTextField
from custos.core.models import Organization
from custos.core.personal_data import Category, Declaration, Erasure, model_field
from custos.core.tenancy import TenantModel, current_org_id, require_org_id
from custos.privacy.models import KeptRecord, LegalHold, PrivacyRequest, Subject
from custos.privacy.registry import declaration_of, declarations, linked_to, subject_models
from custos.privacy.services.hooks import records_changed, records_redacted
from custos.privacy.services.journal import journal_append
from custos.privacy.services.processors import PERSON_ERASED, recipients_give_up
from custos.privacy.services.subjects import (
    identifier_fields,
    identifiers_of,
    no_identifiers,
    phone_variants,
    subjects_with_email,
)
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


def anonymised_values(declaration: Declaration) -> dict[str, Any]:
    """What an anonymised row's personal fields become, and the copies made of them: empty
    text, not null, which would read as "not indexed yet" (`search.services.matching_text`)."""
    return {
        **{name: empty_value(model_field(declaration.model, name)) for name in declaration.fields},
        **dict.fromkeys(declaration.copies, ""),
    }


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


# Mentions of the person in other records --------------------------------------------------
#
# Free text anywhere may name the person; finding it must not read the tenant's every text
# (that grows with the database). An index narrows the rows first (migration privacy.0006):
# on PostgreSQL a trigram GIN index per table on a generated column joining its text
# columns, asked with pg_trgm's word-similarity operator, which is LEAKPROOF (search.0003)
# and so usable under row-level security; on SQLite an FTS5 trigram index per table over
# the same columns. All tables are asked in one statement, and the few candidates confirmed
# in Python: a mention is the email, phone or full name as a whole word (not inside a
# longer one), in any letter case.

# Bookkeeping that holds ids, keyed hashes or pseudonymous references only: never scanned.
_NO_TEXT = ("privacy.Subject", "privacy.KeptRecord", "privacy.Suppression")
# Records of organisations rather than persons: their name, email and phone may be the person's.
_ORGANISATION_FIELDS = ("name", "email", "phone")
# Proof the privacy engine keeps, and so redacts of the person instead of emptying, in the
# person's own records too: why a hold kept them, why their request was extended or rejected.
_KEPT_TEXT = {
    "privacy.LegalHold": ("reason",),
    "privacy.PrivacyRequest": ("extension_reason", "rejection_reason"),
}
# A word-bounded occurrence has every trigram of the word in one extent of the text (word
# similarity 1.0); the margin below covers letter cases PostgreSQL folds unlike Python.
_WORD_SIMILARITY = "0.8"
MENTION_INDEX_PREFIX = "privacy_mentions_"
MENTION_COLUMN = "privacy_mention_text"  # PostgreSQL: the generated column the index is on


@dataclass(frozen=True)
class MentionField:
    """A column that may name a person: free text, or an organisation's name and addresses."""

    model: type[models.Model]
    name: str
    is_json: bool
    # Redacted in the person's own records too (kept there, not emptied by the erasure).
    in_own_records: bool

    @property
    def column(self) -> str:
        return str(model_field(self.model, self.name).column)


@cache
def mention_fields() -> dict[type[models.Model], tuple[MentionField, ...]]:
    """Per model, the columns the mention scan reads, derived from the declarations."""
    found: dict[type[models.Model], tuple[MentionField, ...]] = {}
    for declaration in declarations():
        model = declaration.model
        label = model._meta.label
        if declaration.copy_of_personal_data or label in _NO_TEXT or not issubclass(model, TenantModel):
            continue
        names = declaration.fields_of(Category.FREE_TEXT)
        if not declaration.subject_paths:
            names += [
                n for n in _ORGANISATION_FIELDS if declaration.fields.get(n) in (Category.IDENTITY, Category.CONTACT)
            ]
        kept = _KEPT_TEXT.get(label, ())
        names += [n for n in kept if n not in names]
        columns = []
        for name in names:
            field_of = model_field(model, name)
            if isinstance(field_of, EncryptedTextField):
                continue  # ciphertext: nothing to find in it, and nothing to index
            if isinstance(field_of, models.JSONField):
                columns.append(MentionField(model, name, is_json=True, in_own_records=name in kept))
            elif isinstance(field_of, models.CharField | models.TextField):
                columns.append(MentionField(model, name, is_json=False, in_own_records=name in kept))
        if columns:
            found[model] = tuple(columns)
    return found


def mention_index_name(model: type[models.Model]) -> str:
    return MENTION_INDEX_PREFIX + model._meta.db_table


def mention_expression(fields: Sequence[MentionField]) -> str:
    """PostgreSQL: what the generated column holds (its columns, JSON as text, one space
    apart); read from the columns themselves where that column does not cover them all."""
    quote = connection.ops.quote_name
    parts = [
        f"COALESCE(({quote(f.column)})::text, '')" if f.is_json else f"COALESCE({quote(f.column)}, '')" for f in fields
    ]
    return " || ' ' || ".join(parts)


def _words(identifiers: dict[str, set[str]], country: str) -> set[str]:
    words = set(identifiers["email"]) | set(identifiers["name"])
    for phone in identifiers["phone"]:
        words |= phone_variants(phone, country)
    return {w.strip() for w in words if len(w.strip()) >= 5}


def mention_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """The words as whole words (no letter or digit joined on either side), any case."""
    parts = []
    for word in sorted(set(words), key=lambda w: (-len(w), w)):
        part = re.escape(word)
        if word[0].isalnum():
            part = r"(?<!\w)" + part
        if word[-1].isalnum():
            part += r"(?!\w)"
        parts.append(part)
    return re.compile("|".join(parts), re.IGNORECASE)


def _redacted(value: Any, pattern: re.Pattern[str]) -> Any:
    """The value with every mention replaced; JSON walked value by value (keys are not text)."""
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [_redacted(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: _redacted(item, pattern) for key, item in value.items()}
    return value


def _json_forms(words: Iterable[str]) -> set[str]:
    """How the words appear inside JSON stored as text (SQLite: non-ASCII escaped), in the
    letter cases people write names in. An escape's case cannot be ignored ("JÜRGEN" is
    "J\\u00dcRGEN"), so a word with non-ASCII letters is also looked for by its longest
    ASCII piece: more candidates, each confirmed on the decoded value."""
    forms = set()
    for word in words:
        for cased in (word, word.lower(), word.upper(), word.title()):
            forms.add(json.dumps(cased)[1:-1])
        pieces = re.split(r"[^\x20-\x7e]+|[\"\\]", word)
        longest = max(pieces, key=len).strip()
        if longest != word and len(longest) >= 3:
            forms.add(longest)
    return forms


def _indexed_columns() -> dict[str, set[str]]:
    """The columns each table's mention index covers, read from the schema (one query): on
    PostgreSQL those its generated column joins, on SQLite those of its FTS5 index if its
    three triggers are there. A column not covered is read directly (slower, still right)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attname = %s AND a.attgenerated = 's' AND NOT a.attisdropped "
                "AND c.relnamespace = current_schema()::regnamespace",
                [MENTION_COLUMN],
            )
            return {
                table: set(re.findall(r'(?<![\w."])"?([a-z_][a-z0-9_]*)"?(?![\w"(])', expression or ""))
                for table, expression in cursor.fetchall()
            }
        if connection.vendor != "sqlite":
            return {}
        cursor.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name LIKE %s", [MENTION_INDEX_PREFIX + "%"]
        )
        rows = cursor.fetchall()
    columns: dict[str, set[str]] = {}
    triggers: dict[str, set[str]] = {}
    for kind, name, table, sql in rows:
        if kind == "table" and "fts5" in (sql or "").lower():
            inside = re.search(r"fts5\((.*)\)", sql, flags=re.IGNORECASE | re.DOTALL)
            listed = [p.strip().strip('"') for p in (inside.group(1).split(",") if inside else [])]
            columns[table] = {n for n in listed if "=" not in n}
        elif kind == "trigger":
            triggers.setdefault(table, set()).add(name.rsplit("_", 1)[-1])
    found: dict[str, set[str]] = {}
    for index, names in columns.items():
        table = index.removeprefix(MENTION_INDEX_PREFIX)
        if triggers.get(table, set()) >= {"insert", "delete", "update"}:
            found[table] = names
    return found


# Per database connection: the schema changes only by migrations, which run before the
# application uses a connection; the catalog query costs a round trip per erasure otherwise.
# By alias, with the connection it was read on (SQLite's cannot be weakly referenced).
_indexed_by_connection: dict[str, tuple[Any, dict[str, set[str]]]] = {}


def _mention_indexes() -> dict[str, set[str]]:
    """`_indexed_columns()`, read once per database connection."""
    connection.ensure_connection()
    raw = connection.connection
    known = _indexed_by_connection.get(connection.alias)
    if known is None or known[0] is not raw:
        known = _indexed_by_connection[connection.alias] = (raw, _indexed_columns())
    return known[1]


def _candidates(
    model: type[models.Model], fields: Sequence[MentionField], words: set[str], indexed: dict[str, set[str]]
) -> models.QuerySet[Any]:
    """Rows of the model that may mention one of the words: found through the index."""
    rows = model._default_manager.all()
    table, quote = model._meta.db_table, connection.ops.quote_name
    covered = indexed.get(table, set()) >= {f.column for f in fields}
    if not covered:
        logger.warning("erasure: %s has no complete mention index; its text is read", model._meta.label)
    if connection.vendor == "postgresql":
        # Word similarity 1 for a whole-word occurrence; the GIN index finds the rows. Each word
        # is a sub-select, which the planner cannot look into: with the word itself it would
        # estimate the operator's selectivity by running it over the column's statistics (a
        # few hundred values per word and table), which took longer than the query (measured at
        # 10,000 contacts: 35-42 ms planning, then under 1 ms; execution the same).
        text = quote(MENTION_COLUMN) if covered else f"({mention_expression(fields)})"
        ordered = sorted(words)
        condition = " OR ".join(f"(SELECT %s::text) <%% {text}" for _ in ordered)
        return rows.extra(where=[f"({condition})"], params=ordered)  # noqa: S610  # names from the models; the words are parameters
    if covered:
        index = quote(mention_index_name(model))
        forms = words | (_json_forms(words) if any(f.is_json for f in fields) else set())
        match = " OR ".join('"' + form.replace('"', '""') + '"' for form in sorted(forms))
        # Fixed SQL from the model's names; the match text is a parameter.
        inner = f"SELECT rowid FROM {index} WHERE {index} MATCH %s"  # noqa: S608
        sql = f"SELECT id FROM {quote(table)} WHERE rowid IN ({inner})"  # noqa: S608
        return rows.filter(pk__in=RawSQL(sql, [match]))  # noqa: S611
    clauses, params = [], []
    for field_of in fields:
        for form in sorted(words | (_json_forms(words) if field_of.is_json else set())):
            clauses.append(f"{quote(field_of.column)} LIKE %s ESCAPE '\\'")
            params.append("%" + form.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return rows.extra(where=["(" + " OR ".join(clauses) + ")"], params=params)  # noqa: S610  # names from the models; the words are parameters


@dataclass(frozen=True)
class Mention:
    """A record whose text names the person, and its fields as they are to become."""

    model: type[models.Model]
    pk: Any
    changes: dict[str, Any]


def _ids_by_label(querysets: dict[str, models.QuerySet[Any]]) -> dict[str, list[Any]]:
    """The ids of several models' querysets, by model label, in one statement (UNION ALL):
    a statement per model would cost a round trip each, mostly for finding nothing."""
    labelled = [
        queryset.order_by().values_list(Value(label, output_field=models.CharField()), "pk")
        for label, queryset in querysets.items()
    ]
    if not labelled:
        return {}
    combined = labelled[0].union(*labelled[1:], all=True) if len(labelled) > 1 else labelled[0]
    found: dict[str, list[Any]] = {}
    for label, pk in combined:
        found.setdefault(label, []).append(pk)
    return found


def _mentions(
    subject: Subject,
    own: dict[str, list[Any]],
    identifiers: dict[str, set[str]] | None = None,
    *,
    country: str | None = None,
) -> list[Mention]:
    """Records whose text names the person (other people's, and the proof kept about this
    one), with the text redacted: the candidates of every table in one indexed statement,
    then the text of those few rows. `country`: the organisation's, where the caller has it."""
    identifiers = identifiers if identifiers is not None else identifiers_of(subject)
    if country is None:
        country = Organization.objects.filter(pk=require_org_id()).values_list("country", flat=True).first() or ""
    words = _words(identifiers, country)
    if not words:
        return []
    pattern = mention_pattern(words)
    tables = {model._meta.label: (model, fields) for model, fields in mention_fields().items()}
    with transaction.atomic(savepoint=False):
        indexed = _mention_indexes()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [_WORD_SIMILARITY])
        candidates = _ids_by_label(
            {label: _candidates(model, fields, words, indexed) for label, (model, fields) in tables.items()}
        )
    found: list[Mention] = []
    for label, ids in candidates.items():
        model, fields = tables[label]
        mine = {str(pk) for pk in own.get(label, ())}
        rows = model._default_manager.filter(pk__in=ids).values_list("pk", *(f.name for f in fields))
        for pk, *values in rows:
            changes = {}
            for field_of, value in zip(fields, values, strict=True):
                if value in (None, "", [], {}) or (str(pk) in mine and not field_of.in_own_records):
                    continue
                redacted = _redacted(value, pattern)
                if redacted != value:
                    changes[field_of.name] = redacted
            if changes:
                found.append(Mention(model, pk, changes))
    return found


def _own_records(subject: Subject) -> tuple[dict[str, list[Any]], dict[str, set[str]]]:
    """The person's records by model label (the ids every later step works on), and the values
    they are recognised by (`identifiers_of`), in one statement.

    One part per model and path to the person, not the paths OR-ed: with two `IN (subquery)`
    conditions OR-ed, PostgreSQL used neither foreign key's index and read every activity of
    the tenant (measured: 19 ms of the statement's 20 at 10,000 contacts). `records_of` reads
    the related ids first instead, which would cost this its single statement."""
    parts = []
    for declaration in subject_models():
        label = declaration.model._meta.label
        for path in declaration.subject_paths:
            rows = declaration.model._default_manager.filter(linked_to(declaration.model, path, subject))
            parts.append((label, identifier_fields(declaration), rows))
    emails = max((len(w.emails) for _, w, _ in parts if w), default=0)
    phones = max((len(w.phones) for _, w, _ in parts if w), default=0)
    names = 2 if any(w and w.has_names for _, w, _ in parts) else 0
    nothing = Value(None, output_field=models.CharField())
    labelled = []
    wanted = {}
    for label, fields, rows in parts:
        wanted[label] = fields
        columns: list[Any] = [nothing] * (emails + phones + names)
        if fields:  # expressions all (F, not names): every part selects its columns in one order
            columns[: len(fields.emails)] = [F(n) for n in fields.emails]
            columns[emails : emails + len(fields.phones)] = [F(n) for n in fields.phones]
            columns[emails + phones : emails + phones + len(fields.names)] = [F(n) for n in fields.names]
        labelled.append(rows.order_by().values_list(Value(label, output_field=models.CharField()), "pk", *columns))
    combined = labelled[0].union(*labelled[1:], all=True) if len(labelled) > 1 else labelled[0]
    own: dict[str, dict[Any, None]] = {}
    identifiers = no_identifiers()
    for label, pk, *values in combined:
        own.setdefault(label, {})[pk] = None  # a record reached by two paths counts once
        fields = wanted[label]
        if fields:
            row = dict(zip(fields.emails, values[:emails], strict=False))
            row |= dict(zip(fields.phones, values[emails : emails + phones], strict=False))
            row |= dict(zip(fields.names, values[emails + phones :], strict=False))
            fields.add(identifiers, row)
    return {label: list(ids) for label, ids in own.items()}, identifiers


def _own_ids(subject: Subject) -> dict[str, list[Any]]:
    """The person's records by model label: the ids every later step works on."""
    return _own_records(subject)[0]


def erasure_preview(subject: Subject) -> ErasurePlan:
    """The dry run: what erasure would anonymise, delete and keep, record type by record type."""
    own = _own_ids(subject)
    return _plan(subject, own, _mentions(subject, own), holds=_active_holds(subject))


def _plan(
    subject: Subject, own: dict[str, list[Any]], mentions: list[Mention], *, holds: list[dict[str, Any]]
) -> ErasurePlan:
    plan = ErasurePlan(subject=subject, holds=holds)
    for label, ids in own.items():
        if label in _ENGINE_MODELS:
            continue
        declaration = declaration_of(apps.get_model(label))
        match declaration.on_erasure:
            case Erasure.DELETE:
                plan.delete[label] = len(ids)
            case Erasure.KEEP_RESTRICTED:
                plan.keep.append(
                    {
                        "type": label,
                        "count": len(ids),
                        "reason": declaration.keep_because,
                        "until": _keep_until(declaration).isoformat(),
                    }
                )
            case _:
                plan.anonymise[label] = len(ids)
    for mention in mentions:
        for name in mention.changes:
            plan.mentions.append({"type": mention.model._meta.label, "id": str(mention.pk), "field": name})
    return plan


def subject_erase(*, actor: Actor, subject: Subject) -> ErasurePlan:
    """Erase the person. Refused while a legal hold is active; idempotent otherwise."""
    actor.require("subject.erase")
    with transaction.atomic():
        # The organisation's country (for the ways a phone number is written) comes along.
        subject = Subject.objects.select_for_update(of=("self",)).select_related("org").get(pk=subject.pk)
        holds = _active_holds(subject)
        if holds:
            raise Conflict(_("A legal hold keeps this person's data; release it before erasing."))
        if subject.state == Subject.State.ERASED:
            # Done before: no writes, no hooks, no second journal line.
            return _plan(subject, _own_ids(subject), [], holds=[])
        # Found once, before anything changes: finding them needs the person's values.
        own, identifiers = _own_records(subject)
        # Requests received before the address was on record name the person by email only;
        # not one from an address others share too, which waits for staff to say whose it is.
        own_addresses = [e for e in identifiers["email"] if [s.pk for s in subjects_with_email(e)] == [subject.pk]]
        if own_addresses:
            linked = (
                PrivacyRequest.objects.filter(subject__isnull=True)
                .annotate(_email=Lower("email"))
                .filter(_email__in=own_addresses)
                .update(subject=subject)
            )
            if linked:  # now records of the person too
                own, identifiers = _own_records(subject)
        mentions = _mentions(subject, own, identifiers, country=subject.org.country)
        plan = _plan(subject, own, mentions, holds=[])
        # Art. 19 notices about the person not sent yet go with their records (the erasure's own
        # notice, if it has one, tells the recipients); their requests and the trail say so.
        recipients_give_up(subject=subject, reason=PERSON_ERASED)
        # Entries about the person's records keep ids only, but those made through the portal or
        # a web form also name the visitor's network address and browser: gone with the person.
        audit_forget_visitor(object_ids=[subject.pk, *(pk for ids in own.values() for pk in ids)])
        suppress_subject(subject, reason="erasure", identifiers=identifiers)
        # Redacted first, while the records still hold the values to recognise.
        redacted: dict[type[models.Model], list[Any]] = {}
        for mention in mentions:
            mention.model._default_manager.filter(pk=mention.pk).update(**mention.changes)
            redacted.setdefault(mention.model, []).append(mention.pk)
        for label, ids in own.items():
            if label in _ENGINE_MODELS:
                continue
            declaration = declaration_of(apps.get_model(label))
            match declaration.on_erasure:
                case Erasure.DELETE:
                    delete_records(declaration.model, ids)
                case Erasure.KEEP_RESTRICTED:
                    _keep(subject, declaration, ids)
                case _:
                    values = anonymised_values(declaration)
                    if values:
                        declaration.model._default_manager.filter(pk__in=ids).update(**values)
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
        for model, ids in redacted.items():
            records_redacted(model, ids)  # and the others' records redacted of the person
        tables = _touched_tables(plan)
        transaction.on_commit(lambda: _after_commit(subject, tables))
    return plan


def _keep(subject: Subject, declaration: Declaration, ids: Sequence[Any]) -> None:
    """Records the law keeps: listed with their reason and last day, once each."""
    label = declaration.model._meta.label
    known = set(
        KeptRecord.objects.filter(object_type=label, object_id__in=[str(pk) for pk in ids]).values_list(
            "object_id", flat=True
        )
    )
    until = _keep_until(declaration)
    KeptRecord.objects.bulk_create(
        [
            KeptRecord(
                subject=subject, object_type=label, object_id=str(pk), reason=declaration.keep_because, keep_until=until
            )
            for pk in ids
            if str(pk) not in known
        ]
    )


# Deleting many records at once ---------------------------------------------------------------


def _relations_to(model: type[models.Model]) -> list[Any]:
    """Every foreign key pointing at the model, hidden ones (related_name="+") included."""
    return [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_one or f.one_to_many)
    ]


def chunks(ids: Sequence[Any], size: int = 1000) -> list[Sequence[Any]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _bulk_deletable(model: type[models.Model], depth: int = 0) -> bool:
    """Whether every foreign key pointing at the model, and on down, cascades, sets null or
    does nothing: rules the bulk deletion follows itself."""
    if depth > 4:
        return False
    for relation in _relations_to(model):
        if relation.on_delete is models.CASCADE:
            if not _bulk_deletable(relation.related_model, depth + 1):
                return False
        elif relation.on_delete not in (models.SET_NULL, models.DO_NOTHING):
            return False
    return True


def _bulk_delete(model: type[models.Model], ids: Sequence[Any]) -> None:
    """Delete the rows and follow the foreign keys pointing at them (cascade, set null), a
    few statements per batch: Django's collector would load every row, and every dependent
    row, as an object first."""
    for relation in _relations_to(model):
        linked = relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": ids})
        if relation.on_delete is models.CASCADE:
            for chunk in chunks(list(linked.values_list("pk", flat=True))):
                _bulk_delete(relation.related_model, chunk)
        elif relation.on_delete is models.SET_NULL:
            linked.update(**{relation.field.name: None})
    rows = model._base_manager.filter(pk__in=ids)
    rows._raw_delete(rows.db)


def delete_records(model: type[models.Model], ids: Sequence[Any]) -> None:
    """Delete these rows of the model (of the current organisation) and what depends on them."""
    if _bulk_deletable(model):
        _bulk_delete(model, ids)
    else:
        # Protected rows raise here, naming the relation.
        model._default_manager.filter(pk__in=ids).only("pk").delete()


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
