"""Finding a person's subject from what they tell us (an email), through the declarations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.db import models
from django.db.models.functions import Lower

from custos.core.personal_data import Category, Declaration, model_field
from custos.privacy.models import Subject
from custos.privacy.registry import declarations


def _email_fields(model: type[models.Model], fields: dict[str, Category]) -> list[str]:
    return [
        name
        for name, category in fields.items()
        if category == Category.CONTACT and isinstance(model_field(model, name), models.EmailField)
    ]


def subjects_with_email(email: str) -> list[Subject]:
    """Every subject a record with this email (case-insensitive) belongs to: one indexed query
    per declared model that holds emails and has one path to its subject (a contact's, or a
    contact's further email's through its contact)."""
    email = email.strip().lower()
    if not email:
        return []
    found: set[uuid.UUID] = set()
    for declaration in declarations():
        path = declaration.subject
        if not isinstance(path, str) or not path.endswith("subject") or declaration.copy_of_personal_data:
            continue
        if declaration.model._meta.label == "privacy.PrivacyRequest":
            continue  # the address a request came from is evidence: a corrected one finds no one
        for name in _email_fields(declaration.model, declaration.fields):
            rows = (
                declaration.model._default_manager.annotate(_email=Lower(name))
                .filter(_email=email)
                .values_list(path, flat=True)
            )
            found.update(s for s in rows if s is not None)
    if not found:
        return []
    return list(Subject.objects.filter(pk__in=found).exclude(state=Subject.State.ERASED).order_by("pk"))


@dataclass(frozen=True)
class IdentifierFields:
    """The fields of a model a person is recognised by: emails, phones, first and last name."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    has_names: bool

    @property
    def names(self) -> tuple[str, ...]:
        return ("first_name", "last_name") if self.has_names else ()

    def add(self, found: dict[str, set[str]], row: Mapping[str, Any]) -> None:
        """Add one record's values (read by these field names) to `found`."""
        found["email"].update(row[n].strip().lower() for n in self.emails if row[n])
        found["phone"].update(row[n] for n in self.phones if row[n])
        if self.has_names and row["first_name"] and row["last_name"]:
            found["name"].add(f"{row['first_name']} {row['last_name']}")


def identifier_fields(declaration: Declaration) -> IdentifierFields | None:
    """Read from the declaration by field kind: EmailField → email; a contact field named like
    `phone` → phone; `first_name` + `last_name` → name. None where there are none (and for
    derived copies, which hold nothing the records do not)."""
    if declaration.copy_of_personal_data:
        return None
    fields = declaration.fields
    wanted = IdentifierFields(
        emails=tuple(_email_fields(declaration.model, fields)),
        phones=tuple(n for n, c in fields.items() if c == Category.CONTACT and "phone" in n),
        has_names="first_name" in fields and "last_name" in fields,
    )
    return wanted if wanted.emails or wanted.phones or wanted.has_names else None


def no_identifiers() -> dict[str, set[str]]:
    return {"email": set(), "phone": set(), "name": set()}


def identifiers_of(subject: Subject, *, requests: bool = True) -> dict[str, set[str]]:
    """The values by which a person is recognised in text and lists: emails, phones, full names.
    `requests`: with the addresses their privacy requests came from (evidence, kept after a
    correction: an erasure still looks for them; a mail to the person does not go there)."""
    from custos.privacy.registry import records_of

    found = no_identifiers()
    for records in records_of(subject):
        if not requests and records.declaration.model._meta.label == "privacy.PrivacyRequest":
            continue
        wanted = identifier_fields(records.declaration)
        if wanted is None:
            continue
        for row in records.queryset.values(*wanted.emails, *wanted.phones, *wanted.names):
            wanted.add(found, row)
    return found


def phone_variants(phone: str, country: str) -> set[str]:
    """The ways a stored E.164 number is commonly written: as stored, international, national."""
    variants = {phone}
    try:
        number = phonenumbers.parse(phone, country or None)
    except phonenumbers.NumberParseException:
        return variants
    for style in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL):
        variants.add(phonenumbers.format_number(number, style))
    return {v for v in variants if len(v) >= 6}
