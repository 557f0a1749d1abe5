"""Finding a person's subject from what they tell us (an email), through the declarations."""

from __future__ import annotations

import uuid

import phonenumbers
from django.db import models
from django.db.models.functions import Lower

from custos.core.personal_data import Category, model_field
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


def identifiers_of(subject: Subject) -> dict[str, set[str]]:
    """The values by which a person is recognised in text and lists: emails, phones, full names.

    Read from the declarations by field kind: EmailField → email; a contact field named like
    `phone` → phone; `first_name` + `last_name` → name.
    """
    from custos.privacy.registry import records_of

    found: dict[str, set[str]] = {"email": set(), "phone": set(), "name": set()}
    for records in records_of(subject):
        declaration = records.declaration
        if declaration.copy_of_personal_data:
            continue
        fields = declaration.fields
        emails = _email_fields(declaration.model, fields)
        phones = [n for n, c in fields.items() if c == Category.CONTACT and "phone" in n]
        has_names = "first_name" in fields and "last_name" in fields
        wanted = [*emails, *phones, *(["first_name", "last_name"] if has_names else [])]
        if not wanted:
            continue
        for row in records.queryset.values(*wanted):
            found["email"].update(row[n].strip().lower() for n in emails if row[n])
            found["phone"].update(row[n] for n in phones if row[n])
            if has_names and row["first_name"] and row["last_name"]:
                found["name"].add(f"{row['first_name']} {row['last_name']}")
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
