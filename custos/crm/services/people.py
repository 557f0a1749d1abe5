"""Actions on companies and contacts. Every face (web, API, CLI, import) calls these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Affiliation, Company, Contact, ContactPoint, CustomField, Deal
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import clean_custom_values, read_special
from custos.crm.services.records import (
    ADDRESS_FIELDS,
    check_field_rights,
    clean_address,
    clean_member,
    clean_reference,
    delete_record,
    given_fields,
    insert_record,
    names_of,
    org_country,
    reject_unknown,
    subject_for_email,
    update_record,
)
from custos.privacy.models import Subject
from custos.privacy.services.restriction import require_processable

CONTACT_FIELDS = (
    *ADDRESS_FIELDS,
    "first_name",
    "last_name",
    "email",
    "phone",
    "other_emails",
    "other_phones",
    "language",
    "contract_ends_on",
    "company",
    "owner",
    "tags",
    "custom_fields",
    "notes",
    "health_notes",
)
COMPANY_FIELDS = ("name", "vat_id", "website", "email", "phone", "owner", "tags", "custom_fields", *ADDRESS_FIELDS)
SPECIAL_CONTACT_FIELDS = frozenset({"health_notes"})
# A contact's further emails and phones are shown to, and written by, whoever may see the main one.
POINT_FIELDS = {"other_emails": "email", "other_phones": "phone"}
MAX_POINTS = 10


def contact_field_rights(fields: Iterable[str]) -> list[str]:
    """The model fields whose rights govern these given fields."""
    return [POINT_FIELDS.get(name, name) for name in fields]


def _clean_points(cleaner: Cleaner, field: str, value: Any, *, country: str, main: str) -> list[dict[str, str]]:
    """A list of further emails or phones, each a string or {"email"|"phone": …, "label": …}:
    checked, normalised as the main one is, without repeats or the main value."""
    kind = POINT_FIELDS[field]
    if value is None:
        return []
    if not isinstance(value, list):
        cleaner.fail(field, _("Enter a list."))
        return []
    if len(value) > MAX_POINTS:
        cleaner.fail(field, _("Enter at most %(count)d.") % {"count": MAX_POINTS})
        return []
    points: list[dict[str, str]] = []
    seen = {main.lower()} if main else set()
    for position, item in enumerate(value):
        name = f"{field}.{position}"
        label: Any = ContactPoint.Label.OTHER
        if isinstance(item, Mapping):
            unknown = set(item) - {kind, "label"}
            if unknown:
                cleaner.fail(name, _("Unknown field: %(name)s.") % {"name": sorted(unknown)[0]})
                continue
            label, item = item.get("label") or label, item.get(kind)
        label = cleaner.choice(f"{name}.label", label, ContactPoint.Label.values)
        text = (
            cleaner.email(name, item, required=True)
            if kind == "email"
            else _required_phone(cleaner, name, item, country)
        )
        if text and text.lower() in seen:
            cleaner.fail(name, _("This is given twice."))
        elif text:
            seen.add(text.lower())
            points.append({kind: text, "label": label})
    return points


def _required_phone(cleaner: Cleaner, field: str, value: Any, country: str) -> str:
    phone = cleaner.phone(field, value, country=country)
    if not phone and not any(error.field == field for error in cleaner.errors):
        cleaner.fail(field, _("This field is required."))
    return phone


def points_of(contact: Contact) -> list[ContactPoint]:
    """The contact's further emails and phones in the order they were added (prefetched or not)."""
    return sorted(contact.points.all(), key=lambda point: (point.created_at, point.pk))


def stored_points(contact: Contact) -> dict[str, list[dict[str, str]]]:
    """The contact's further emails and phones, as `_clean_points` gives them."""
    found: dict[str, list[dict[str, str]]] = {"other_emails": [], "other_phones": []}
    for point in points_of(contact):
        if point.email:
            found["other_emails"].append({"email": point.email, "label": point.label})
        else:
            found["other_phones"].append({"phone": point.phone, "label": point.label})
    return found


def _point_writers(contact: Contact, points: dict[str, list[dict[str, str]]]) -> dict[str, Callable[[], None]]:
    """For each list of points that differs from what is stored: a writer replacing it."""
    stored = stored_points(contact) if points and not contact._state.adding else {}
    writers: dict[str, Callable[[], None]] = {}
    for field, wanted in points.items():
        if wanted == stored.get(field, []):
            continue
        kind = POINT_FIELDS[field]

        def write(kind: str = kind, wanted: list[dict[str, str]] = wanted) -> None:
            getattr(contact, "_prefetched_objects_cache", {}).pop("points", None)
            contact.points.exclude(**{kind: ""}).delete()
            ContactPoint.objects.bulk_create(
                ContactPoint(contact=contact, label=point["label"], **{kind: point[kind]}) for point in wanted
            )

        writers[field] = write
    return writers


def clean_contact(
    actor: Actor,
    data: Mapping[str, Any],
    *,
    partial: bool,
    country: str,
    index: int | None = None,
    record: Contact | None = None,
    custom: list[CustomField] | None = None,
) -> tuple[dict[str, Any], Cleaner]:
    """Clean the given contact fields; unknown fields are errors, not silently dropped.
    `custom`: the custom field definitions, when the caller (an import) has them already."""
    cleaner = Cleaner(index)
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, CONTACT_FIELDS)
    clean_address(cleaner, data, cleaned, partial=partial)
    for name in CONTACT_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "first_name" | "last_name":
                cleaned[name] = cleaner.text(name, value, max_length=100)
            case "email":
                cleaned[name] = cleaner.email(name, value)
            case "phone":
                cleaned[name] = cleaner.phone(name, value, country=country)
            case "other_emails" | "other_phones":
                # The main value as stored (cleaned above: CONTACT_FIELDS lists it first).
                kind = POINT_FIELDS[name]
                main = cleaned[kind] if kind in cleaned else getattr(record, kind, "")
                cleaned[name] = _clean_points(cleaner, name, value, country=country, main=str(main or ""))
            case "contract_ends_on":
                cleaned[name] = cleaner.date(name, value)
            case "language" if not value:
                cleaned[name] = ""  # what the choice below gives; most rows come here, so no list to build
            case "language":  # empty is taken above: the choices named are the languages
                cleaned[name] = cleaner.choice(name, value, [code for code, _name in settings.LANGUAGES])
            case "company" if value in (None, ""):
                cleaned["company_id"] = None  # no queryset to build: an import's rows mostly come here
            case "company":
                cleaned["company_id"] = clean_reference(
                    cleaner, "company", value, scoped(actor, Company.objects.all()), _("Choose an existing company.")
                )
            case "owner":
                cleaned["owner_id"] = (
                    clean_member(cleaner, actor, "owner", value) if value is not None or partial else actor.user_id
                )
            case "tags":
                cleaned[name] = cleaner.tags(name, value)
            case "custom_fields":
                cleaned |= clean_custom_values(cleaner, actor, "contact", value, record, custom)
            case "notes" | "health_notes":
                cleaned[name] = cleaner.text(name, value, max_length=20000, multiline=True)
    if not partial and not (cleaned.get("first_name") or cleaned.get("last_name") or cleaned.get("email")):
        cleaner.fail("last_name", _("Enter a name or an email address."))
    return cleaned, cleaner


def _split_points(cleaned: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {field: cleaned.pop(field) for field in POINT_FIELDS if field in cleaned}


def _create_contact(actor: Actor, cleaned: dict[str, Any]) -> Contact:
    points = _split_points(cleaned)
    name = names_of(cleaned.get("first_name"), cleaned.get("last_name"))
    contact = Contact(subject=subject_for_email(cleaned.get("email", ""), name), **cleaned)
    insert_record(actor, contact, "contact", {**cleaned, **points}, related=_point_writers(contact, points))
    return contact


def contact_create(*, actor: Actor, data: Mapping[str, Any]) -> Contact:
    """Create one contact, linked to its data subject."""
    actor.require("contact.add")
    check_field_rights(actor, "contact", contact_field_rights(given_fields(data)), SPECIAL_CONTACT_FIELDS)
    cleaned, cleaner = clean_contact(actor, data, partial=False, country=org_country(actor))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        return _create_contact(actor, cleaned)


def contact_bulk_create(*, actor: Actor, items: list[Mapping[str, Any]]) -> list[Contact]:
    """All or nothing: every item is checked first, and any error creates none."""
    actor.require("contact.add")
    country = org_country(actor)
    all_errors = []
    cleaned_items = []
    for index, data in enumerate(items):
        if not isinstance(data, Mapping):
            cleaner = Cleaner(index)
            cleaner.fail(None, _("Each item must be an object."))
            all_errors.extend(cleaner.errors)
            continue
        check_field_rights(actor, "contact", contact_field_rights(given_fields(data)), SPECIAL_CONTACT_FIELDS)
        cleaned, cleaner = clean_contact(actor, data, partial=False, country=country, index=index)
        all_errors.extend(cleaner.errors)
        cleaned_items.append(cleaned)
    if all_errors:
        raise ValidationFailed(all_errors)
    with transaction.atomic():
        return [_create_contact(actor, cleaned) for cleaned in cleaned_items]


def contact_update(*, actor: Actor, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Change the given fields only; the audit entry names them, never their values."""
    actor.require("contact.change")
    check_field_rights(actor, "contact", contact_field_rights(data.keys()), SPECIAL_CONTACT_FIELDS)
    cleaned, cleaner = clean_contact(actor, data, partial=True, country=org_country(actor), record=contact)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    points = _split_points(cleaned)
    update_record(actor, contact, "contact", cleaned, related=_point_writers(contact, points))
    return contact


def contact_delete(*, actor: Actor, contact: Contact) -> None:
    delete_record(actor, contact, "contact")


def contact_read_special(*, actor: Actor, contact: Contact) -> dict[str, Any]:
    """Reveal the special-category fields to an actor allowed to see them, and log the read."""
    return read_special(actor=actor, record=contact, object_type="contact", builtin=SPECIAL_CONTACT_FIELDS)


# Affiliations ------------------------------------------------------------------------


def _clean_role(cleaner: Cleaner, data: Mapping[str, Any]) -> str:
    return cleaner.text("role", data.get("role"), max_length=100)


def affiliation_add(*, actor: Actor, contact: Contact, data: Mapping[str, Any]) -> Affiliation:
    """Link the contact to one more company, with their role there."""
    actor.require("contact.change")
    require_processable(contact)  # a restricted person's links stay as they are
    cleaner = Cleaner()
    reject_unknown(cleaner, data, ("company", "role"))
    company_id = clean_reference(
        cleaner, "company", data.get("company"), scoped(actor, Company.objects.all()), _("Choose an existing company.")
    )
    if company_id is None and not cleaner.errors:
        cleaner.fail("company", _("Choose an existing company."))
    role = _clean_role(cleaner, data)
    if company_id is not None and (
        contact.company_id == company_id or contact.affiliations.filter(company_id=company_id).exists()
    ):
        cleaner.fail("company", _("The contact belongs to this company already."))
    if cleaner.errors or company_id is None:
        raise ValidationFailed(cleaner.errors)
    affiliation = Affiliation(contact=contact, company_id=company_id, role=role)
    with transaction.atomic():
        affiliation.save(force_insert=True)
        audit_record(
            actor=actor,
            action="contact.affiliation_add",
            object_type="contact",
            object_id=contact.pk,
            fields=["company", *(["role"] if role else [])],
        )
    return affiliation


def affiliation_update(*, actor: Actor, affiliation: Affiliation, data: Mapping[str, Any]) -> Affiliation:
    """Change the contact's role at the company."""
    actor.require("contact.change")
    require_processable(affiliation.contact)
    cleaner = Cleaner()
    reject_unknown(cleaner, data, ("role",))
    role = _clean_role(cleaner, data)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    if role != affiliation.role:
        with transaction.atomic():
            affiliation.role = role
            affiliation.save(update_fields=["role"])
            audit_record(
                actor=actor,
                action="contact.affiliation_update",
                object_type="contact",
                object_id=affiliation.contact_id,
                fields=["role"],
            )
    return affiliation


def affiliation_remove(*, actor: Actor, affiliation: Affiliation) -> None:
    actor.require("contact.change")
    require_processable(affiliation.contact)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="contact.affiliation_remove",
            object_type="contact",
            object_id=affiliation.contact_id,
            fields=["company"],
        )
        affiliation.delete()


# Companies ----------------------------------------------------------------------------


def clean_company(
    actor: Actor, data: Mapping[str, Any], *, partial: bool, country: str, record: Company | None = None
) -> tuple[dict[str, Any], Cleaner]:
    cleaner = Cleaner()
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, COMPANY_FIELDS)
    clean_address(cleaner, data, cleaned, partial=partial)
    for name in COMPANY_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "name":
                cleaned[name] = cleaner.text(name, value, max_length=200, required=True)
            case "vat_id":
                cleaned[name] = cleaner.vat_id(name, value)
            case "website":
                cleaned[name] = cleaner.website(name, value)
            case "email":
                cleaned[name] = cleaner.email(name, value)
            case "phone":
                cleaned[name] = cleaner.phone(name, value, country=country)
            case "owner":
                cleaned["owner_id"] = (
                    clean_member(cleaner, actor, "owner", value) if value is not None or partial else actor.user_id
                )
            case "tags":
                cleaned[name] = cleaner.tags(name, value)
            case "custom_fields":
                cleaned |= clean_custom_values(cleaner, actor, "company", value, record)
    return cleaned, cleaner


def company_create(*, actor: Actor, data: Mapping[str, Any]) -> Company:
    actor.require("company.add")
    check_field_rights(actor, "company", given_fields(data), frozenset())
    cleaned, cleaner = clean_company(actor, data, partial=False, country=org_country(actor))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    company = Company(**cleaned)
    with transaction.atomic():
        insert_record(actor, company, "company", cleaned)
    return company


def company_update(*, actor: Actor, company: Company, data: Mapping[str, Any]) -> Company:
    actor.require("company.change")
    check_field_rights(actor, "company", data.keys(), frozenset())
    cleaned, cleaner = clean_company(actor, data, partial=True, country=org_country(actor), record=company)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    update_record(actor, company, "company", cleaned)
    return company


def company_delete(*, actor: Actor, company: Company) -> None:
    """Deleting a company empties it from its contacts and deals and ends its affiliations: not
    while one of them is a restricted person's, whose records are kept as they are."""
    restricted = Subject.State.RESTRICTED
    if (
        Contact.objects.filter(company=company, subject__state=restricted).exists()
        or Affiliation.objects.filter(company=company, contact__subject__state=restricted).exists()
        or Deal.objects.filter(company=company, contact__subject__state=restricted).exists()
    ):
        raise Conflict(
            _(
                "A person whose processing is restricted is linked to this company: it is kept while the "
                "restriction lasts."
            )
        )
    delete_record(actor, company, "company")
