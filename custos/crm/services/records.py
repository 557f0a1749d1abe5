"""What every CRM action shares: references, rights on fields, and the audited write."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.accounts.models import Membership
from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import PermissionDenied
from custos.core.models import Organization
from custos.core.validation import Cleaner
from custos.crm.search import quoted_by, reindex, reindex_records, unindex
from custos.privacy.models import Subject
from custos.privacy.services.restriction import require_processable
from custos.search.text import normalise


def org_country(actor: Actor) -> str:
    """The organisation's country, which national phone numbers are read with."""
    return Organization.objects.filter(pk=actor.org_id).values_list("country", flat=True).first() or "DE"


def reject_unknown(cleaner: Cleaner, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Unknown fields are errors, never silently dropped."""
    allowed = set(allowed)
    for name in data:
        if name not in allowed:
            cleaner.fail(name, _("Unknown field."))


def clean_member(cleaner: Cleaner, actor: Actor, field: str, value: Any) -> uuid.UUID | None:
    """A user id that must belong to an active member of this organisation."""
    if value is None or value == "":
        return None
    try:
        user_id = uuid.UUID(str(value))
    except ValueError:
        user_id = None
    if user_id is None or not Membership.objects.filter(org_id=actor.org_id, user_id=user_id, is_active=True).exists():
        cleaner.fail(field, _("Choose a member of this organisation."))
        return None
    return user_id


def clean_reference(
    cleaner: Cleaner, field: str, value: Any, visible: models.QuerySet[Any], message: str
) -> uuid.UUID | None:
    """An id that must name a record in `visible` (the actor's scoped queryset)."""
    if value is None or value == "":
        return None
    try:
        record_id = uuid.UUID(str(value))
    except ValueError:
        record_id = None
    if record_id is None or not visible.filter(pk=record_id).exists():
        cleaner.fail(field, message)
        return None
    return record_id


def check_field_rights(
    actor: Actor, model_key: str, fields: Iterable[str], special: frozenset[str] = frozenset()
) -> None:
    """Writing a field needs the right to see it, and special-category data its own right."""
    for name in fields:
        if name in special:
            actor.require("special_category.change")
        if not actor.may_see_field(model_key, name):
            raise PermissionDenied(f"{model_key}.{name}")


def given_fields(data: Mapping[str, Any]) -> list[str]:
    return [name for name, value in data.items() if value not in ("", None)]


def insert_record(
    actor: Actor,
    record: models.Model,
    object_type: str,
    cleaned: dict[str, Any],
    *,
    related: Mapping[str, Callable[[], None]] | None = None,
) -> None:
    """Save a new record with its audit entry, which names the fields given a value. A record
    about a restricted person (a deal, a note) is refused: their data is stored, not processed.
    `related`: writers of rows the record owns (a contact's further emails), by field name."""
    with transaction.atomic():
        record.save(force_insert=True)
        require_processable(record)
        for write in (related or {}).values():
            write()
        reindex(record)
        given = [name.removesuffix("_id") for name, value in cleaned.items() if value not in ("", None, [], {})]
        audit_record(
            actor=actor, action=f"{object_type}.create", object_type=object_type, object_id=record.pk, fields=given
        )


def update_record(
    actor: Actor,
    record: models.Model,
    object_type: str,
    cleaned: dict[str, Any],
    *,
    related: Mapping[str, Callable[[], None]] | None = None,
) -> list[str]:
    """Write only the fields whose value changes; the audit entry names them, never values.
    `related`: writers of the record's own rows that change (a contact's further emails)."""
    related = related or {}
    changed = [name for name, value in cleaned.items() if getattr(record, name) != value]
    if not changed and not related:
        return []
    with transaction.atomic():
        require_processable(record)
        for name in changed:
            setattr(record, name, cleaned[name])
        record.updated_at = timezone.now()  # type: ignore[attr-defined]
        record.save(update_fields=[*changed, "updated_at"])
        if changed:
            require_processable(record)  # nor moved onto a restricted person (a note to their contact)
        for write in related.values():
            write()
        reindex(record)
        changed = [*changed, *related]
        audit_record(
            actor=actor,
            action=f"{object_type}.update",
            object_type=object_type,
            object_id=record.pk,
            fields=[name.removesuffix("_id") for name in changed],
        )
    return changed


def delete_record(actor: Actor, record: models.Model, object_type: str) -> None:
    actor.require(f"{object_type}.delete")
    require_processable(record, removing=True)
    with transaction.atomic():
        audit_record(actor=actor, action=f"{object_type}.delete", object_type=object_type, object_id=record.pk)
        quoting = quoted_by(record)
        unindex(record)
        record.delete()
        for model, ids in quoting.items():  # a deleted company's name leaves its contacts' entries
            reindex_records(model, ids)


Name = tuple[str, str]  # first and last name, normalised (`names_of`)


def names_of(first_name: str | None, last_name: str | None) -> Name:
    return normalise(first_name or ""), normalise(last_name or "")


def same_person(one: Name, other: Name) -> bool:
    """Whether two records with one email are one person: unless their first names or their
    last names, where both are given, disagree (a family sharing an address). A name written
    shorter agrees ("I. Vogt" with "Ines Vogt", "Lovelace" with "Ada Lovelace")."""
    return all(_names_agree(mine, theirs) for mine, theirs in zip(one, other, strict=True) if mine and theirs)


def _names_agree(name: str, other: str) -> bool:
    """Each word of the shorter name is a word of the longer or, ending in a dot or a single
    letter, its initial ("anna" and "anna lena" agree, "greta" and "hans" do not)."""
    shorter, longer = sorted((name.split(), other.split()), key=len)
    unmatched = list(longer)
    for word in shorter:
        found = next((w for w in unmatched if _words_agree(word, w)), None)
        if found is None:
            return False
        unmatched.remove(found)
    return True


def _words_agree(word: str, other: str) -> bool:
    def initial(w: str) -> str | None:
        return w.rstrip(".") or None if w.endswith(".") or len(w) == 1 else None

    mine, theirs = initial(word), initial(other)
    return word == other or bool(mine and other.startswith(mine)) or bool(theirs and word.startswith(theirs))


# Records with one address looked at for its person: a shared mailbox may have hundreds.
NAMESAKES_LOOKED_AT = 50


def subject_for_email(email: str, name: Name = ("", "")) -> Subject:
    """One person, one subject: a contact or lead with the same email is the same person,
    unless both are named and the names differ. A family sharing one address are each their
    own subject, so that none of them sees, corrects or erases another's data."""
    from custos.crm.models import Contact, Lead

    if email:
        for model in (Contact, Lead):
            rows = (
                model.objects.annotate(email_lower=Lower("email"))
                .filter(email_lower=email.lower(), subject__isnull=False)
                .order_by("pk")
                .values_list("subject_id", "first_name", "last_name")[:NAMESAKES_LOOKED_AT]
            )
            for subject_id, first_name, last_name in rows:
                if same_person(name, names_of(first_name, last_name)):
                    return Subject.objects.get(pk=subject_id)
    return Subject.objects.create()


ADDRESS_FIELDS = ("street", "postcode", "city", "country")


def clean_address(cleaner: Cleaner, data: Mapping[str, Any], cleaned: dict[str, Any], *, partial: bool) -> None:
    """The postal address fields given (all of them when creating)."""
    for name in ADDRESS_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        if name == "country":
            cleaned[name] = cleaner.country(name, value)
        else:
            cleaned[name] = cleaner.text(name, value, max_length={"street": 200, "postcode": 20, "city": 100}[name])
