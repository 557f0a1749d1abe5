"""Type-ahead pickers: a record chosen by typing its name, for lists too long for a select.

The field is a text input tied to a `<datalist>` that htmx refills as the user types; the
browser offers the options natively, and without JavaScript the exact name (or VAT ID)
typed still works. A name several companies share is told apart by its VAT ID or city
("Nordwind GmbH · Hamburg"), and the server reads the same label back.

A contact is offered as "Full name · email" (phone, then company, when there is no email;
only what the actor's role may see), and read back from that label, the email or the
exact name. One whose name the role may not see (or that has none) is offered by reference,
"Contact · email · 3f9c2a" (the end of its id, as the contact list shows it), and found by
that reference too. A label is read back by the records each of its splits could name, then
compared whole, so a company or a name holding " · " does not derail it. Its options are
posted, not asked for in an address: a picked label carries a stored email, which must not
end up in a URL or an access log.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models.functions import Concat, Lower, Trim
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.crm.models import Company, Contact
from custos.crm.search import visible_search_fields
from custos.crm.selectors.people import company_list
from custos.crm.selectors.records import scoped, search
from custos.crm.selectors.search import global_search
from custos.search.text import query, typed

SEPARATOR = " · "
OPTIONS = 20


class CompanyPicker(forms.TextInput):
    template_name = "web/widgets/company_picker.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "off", "dir": "auto", "maxlength": "240", **(attrs or {})})


def company_field(label: Any, *, required: bool = False) -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=240, widget=CompanyPicker())


def _qualified(company: Company) -> str:
    """A company's name with what tells it from others of the same name."""
    return f"{company.name}{SEPARATOR}{company.vat_id or company.city or str(company.pk)[-6:]}"


def _labels(companies: list[Company]) -> list[str]:
    """Each company by its name, qualified where the name alone is not unique."""
    names = [c.name.casefold() for c in companies]
    return [_qualified(c) if names.count(c.name.casefold()) > 1 else c.name for c in companies]


def company_options(actor: Actor, text: str) -> list[str]:
    """Labels of the companies the actor may see that match what was typed, names first."""
    text = query(text)
    if len(text) < 2 or not actor.can("company.view"):
        return []
    by_name: list[Company] = list(
        company_list(actor)
        .annotate(lower_name=Lower("name"))
        .filter(lower_name__startswith=text.lower())
        .order_by("name")[:OPTIONS]
    )
    if len(by_name) < OPTIONS:
        seen = {c.pk for c in by_name}
        by_name += [c for c in company_list(actor, q=text)[: OPTIONS * 2] if c.pk not in seen][: OPTIONS - len(by_name)]
    # Every company of a shared name is listed, so that its label tells it from the others.
    shared = {c.name.casefold() for c in by_name}
    twins = company_list(actor).annotate(lower_name=Lower("name")).filter(lower_name__in=shared)[: OPTIONS * 2]
    return _labels(sorted({c.pk: c for c in [*by_name, *twins]}.values(), key=lambda c: c.name.casefold()))


def company_from_label(actor: Actor, field: str, text: str) -> Company | None:
    """The company a picker's text names: by its label, its name, or its VAT ID. Empty: none."""
    text = typed(text)
    if not text:
        return None
    if not actor.can("company.view"):
        raise ValidationFailed.single(field, _("Your role may not see companies, so it cannot choose one."))
    visible = company_list(actor).annotate(lower_name=Lower("name"))
    name, separator, qualifier = text.rpartition(SEPARATOR)
    if separator:
        for company in visible.filter(lower_name=name.strip().lower())[:50]:
            if qualifier.strip().casefold() in {
                company.vat_id.casefold(),
                company.city.casefold(),
                str(company.pk)[-6:],
            }:
                return company
    named = list(visible.filter(lower_name=text.lower())[:2])
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise ValidationFailed.single(field, _("Several companies have this name: choose one from the list."))
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    by_vat = list(visible.filter(vat_id=compact)[:2]) if compact else []
    if len(by_vat) == 1:
        return by_vat[0]
    raise ValidationFailed.single(field, _("No company of this name: check the spelling, or create the company first."))


def company_label(company: Company | None) -> str:
    """What the picker shows for a chosen company (on an edit form)."""
    if company is None:
        return ""
    twins = Company.objects.annotate(lower_name=Lower("name")).filter(lower_name=company.name.lower())
    return company.name if twins.count() < 2 else _qualified(company)


def company_by_id_label(actor: Actor, company_id: str) -> str:
    """The picker's text for a company named by id (a link such as "new deal for this
    company"); empty for one the actor may not see or that does not exist."""
    if not company_id or not actor.can("company.view"):
        return ""
    try:
        return company_label(company_list(actor).filter(pk=company_id).first())
    except (ValueError, DjangoValidationError):
        return ""


def with_company(actor: Actor, data: dict[str, Any], field: str = "company") -> dict[str, Any]:
    """A form's data with the company picked by its label, as the domain takes it (an id)."""
    if field in data:
        company = company_from_label(actor, field, data[field] or "")
        data[field] = str(company.pk) if company else None
    return data


# Contacts ----------------------------------------------------------------------------------

# What a contact's label is made of: loading no more spares decrypting special-category fields.
CONTACT_LABEL_FIELDS = ("first_name", "last_name", "email", "phone", "company__name")
# Same-name contacts read to tell twins apart, and candidates read for a typed label: bounded,
# so that a picker's work does not grow with the tenant.
TWINS = 200
# The splits of a label tried when reading it back: a name and a company hold a few " · " at most.
SPLITS = 4
# A contact's reference: the end of its id, as labels and the contact list show it.
REFERENCE = re.compile(r"[0-9a-f]{6}")


class ContactPicker(forms.TextInput):
    template_name = "web/widgets/contact_picker.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "off", "dir": "auto", "maxlength": "400", **(attrs or {})})


def contact_field(label: Any, *, required: bool = False) -> forms.CharField:
    """The help text is tied to the input (aria-describedby) by the form's field rendering."""
    return forms.CharField(
        label=label,
        required=required,
        max_length=400,
        widget=ContactPicker(),
        help_text=gettext_lazy("Type a name, email, phone or reference, then choose from the list."),
    )


def _contacts(actor: Actor) -> models.QuerySet[Contact]:
    return scoped(actor, Contact.objects.select_related("company").only(*CONTACT_LABEL_FIELDS))


def _names_searchable(actor: Actor) -> bool:
    """Whether the role may find contacts by their full name (it sees first and last names)."""
    return "name" in visible_search_fields(actor, "contact", ("first_name", "last_name"))


def _contact_name(actor: Actor, contact: Contact) -> str:
    hidden = actor.hidden_fields_of("contact")
    return " ".join(getattr(contact, f) for f in ("first_name", "last_name") if f not in hidden and getattr(contact, f))


def _contact_qualifier(actor: Actor, contact: Contact) -> str:
    """What tells a contact from others of its name, among the fields the actor may see."""
    if contact.email and actor.may_see_field("contact", "email"):
        return str(contact.email)
    if contact.phone and actor.may_see_field("contact", "phone"):
        return str(contact.phone)
    if contact.company_id and actor.may_see_field("contact", "company") and actor.can("company.view"):
        return str(contact.company.name)  # type: ignore[union-attr]  # company_id is set
    return ""


def _contact_base_label(actor: Actor, contact: Contact) -> str:
    name, qualifier = _contact_name(actor, contact), _contact_qualifier(actor, contact)
    return f"{name}{SEPARATOR}{qualifier}" if name and qualifier else name or qualifier


def _contact_labels(actor: Actor, contacts: list[Contact]) -> dict[Any, str]:
    """Each contact's label; where another contact the actor may see would have the same one
    (same name, no email, phone or company to tell them apart), or where a name alone would
    be read back as several contacts, its reference too. A contact the actor cannot find by
    name (none stored, or the role may not see it) is labelled by its reference."""
    named = [c for c in contacts if _contact_name(actor, c)] if _names_searchable(actor) else []
    if not named:
        return {c.pk: _reference_label(actor, c, qualified=True) for c in contacts}
    same_name = models.Q()
    for first_name, last_name in {(c.first_name, c.last_name) for c in named}:
        same_name |= models.Q(first_name=first_name, last_name=last_name)  # the (org, name) index
    others = list(_contacts(actor).filter(same_name).exclude(pk__in=[c.pk for c in named])[:TWINS])
    bases = {c.pk: _contact_base_label(actor, c) for c in named}
    labels = Counter(label.casefold() for label in [*bases.values(), *(_contact_base_label(actor, o) for o in others)])
    names = Counter(_contact_name(actor, c).casefold() for c in [*named, *others])

    def unique(contact: Contact) -> bool:
        base = bases.get(contact.pk, "")
        if not base or labels[base.casefold()] > 1:
            return False
        return SEPARATOR in base or base != _contact_name(actor, contact) or names[base.casefold()] == 1

    return {c.pk: bases[c.pk] if unique(c) else _reference_label(actor, c, qualified=True) for c in contacts}


def _reference_label(actor: Actor, contact: Contact, *, qualified: bool = False) -> str:
    """A contact by what of its name the actor may see (or "Contact") and its reference;
    `qualified`: with its email, phone or company between, for one the actor may pick."""
    qualifier = _contact_qualifier(actor, contact) if qualified else ""
    parts = [_contact_name(actor, contact) or _("Contact"), *([qualifier] if qualifier else []), str(contact.pk)[-6:]]
    return SEPARATOR.join(parts)


def contact_label(actor: Actor, contact: Contact | None) -> str:
    """What the picker shows for a chosen contact (on an edit form, or one named by id). A
    contact the actor may not see (another member's, past their record scope) shows by name
    and reference only: linking it to a record does not reveal its email."""
    if contact is None:
        return ""
    if not actor.can("contact.view") or not _contacts(actor).filter(pk=contact.pk).exists():
        return _reference_label(actor, contact)
    return _contact_labels(actor, [contact])[contact.pk]


def contact_options(actor: Actor, text: str) -> list[str]:
    """Labels of the contacts the actor may see that match what was typed, best first,
    found through the search index (bounded work, whatever the tenant's size)."""
    text = query(text)
    if len(text) < 2 or not actor.can("contact.view"):
        return []
    by_reference = _by_reference(actor, _typed_reference(text) or _label_reference(text))
    ids = [result.object_id for result in global_search(actor, text, types=["contact"], limit=OPTIONS)]
    found = _contacts(actor).in_bulk(ids)
    contacts = {c.pk: c for c in [*by_reference, *(found[pk] for pk in ids if pk in found)]}
    return list(_contact_labels(actor, list(contacts.values())[:OPTIONS]).values())


def _typed_reference(text: str) -> str:
    """The reference typed alone, or as the contact list shows it ("Contact 3f9c2a"); empty
    for any other text."""
    word = re.escape(_("Contact").casefold())
    typed = re.fullmatch(rf"(?:{word}\s*(?:·\s*)?)?({REFERENCE.pattern})", text.strip().casefold())
    return typed.group(1) if typed else ""


def _label_reference(label: str) -> str:
    """The reference a label ends with, if it ends with one."""
    separator, last = label.strip().casefold().rpartition(SEPARATOR)[1:]
    return last if separator and REFERENCE.fullmatch(last) else ""


def _by_reference(actor: Actor, reference: str) -> list[Contact]:
    """Contacts whose id ends with this reference, among those a reference labels: all for a
    role that may not find them by name, else those stored without a name (through the (org,
    name) index). The end of an id has no index: for such a role this reads the contacts it may
    see, once per pick."""
    if not REFERENCE.fullmatch(reference):
        return []
    candidates = _contacts(actor)
    if _names_searchable(actor):
        candidates = candidates.filter(first_name="", last_name="")
    return list(candidates.filter(pk__endswith=reference)[:TWINS])


def _by_email(actor: Actor, text: str) -> list[Contact]:
    """Contacts with this main email, among those the search index finds by it (under
    PostgreSQL's row-level security the (org, lower(email)) index is no use: `lower` is not
    leakproof); none for a role that may not see emails, which must not find anyone by one."""
    text = text.strip()
    if "@" not in text or not actor.may_see_field("contact", "email"):
        return []
    matching = search(actor, "contact", _contacts(actor), text, fields=("email",))
    return list(matching.annotate(email_lower=Lower("email")).filter(email_lower=text.lower())[:TWINS])


def _by_name(actor: Actor, text: str) -> list[Contact]:
    """Contacts of exactly this full name: as stored, through the (org, name) index, and in
    any case among those the search index finds containing it."""
    text = text.strip()
    if not text or "name" not in visible_search_fields(actor, "contact", ("first_name", "last_name")):
        return []
    words = text.split(" ")
    exact = models.Q(first_name="", last_name=text) | models.Q(first_name=text, last_name="")
    for cut in range(1, len(words)):
        exact |= models.Q(first_name=" ".join(words[:cut]), last_name=" ".join(words[cut:]))
    found = {c.pk: c for c in _contacts(actor).filter(exact)[:TWINS]}
    if len(text) >= 3:  # long enough for the index to narrow down
        full_name = Lower(Trim(Concat("first_name", models.Value(" "), "last_name")))
        matching = search(actor, "contact", _contacts(actor), text, fields=("first_name", "last_name"))
        for contact in matching.annotate(full_name=full_name).filter(full_name=text.lower())[:TWINS]:
            found.setdefault(contact.pk, contact)
    return list(found.values())


def _labelled(actor: Actor, label: str) -> dict[Any, Contact]:
    """The contacts a label could be of: for each split into a name and what follows it (from
    the right: a name or a company may hold the separator too), those of that name or email,
    and those of the reference at its end."""
    parts = label.split(SEPARATOR)
    found: dict[Any, Contact] = {}
    for cut in range(len(parts) - 1, max(len(parts) - 1 - SPLITS, 0), -1):
        name, qualifier = SEPARATOR.join(parts[:cut]), SEPARATOR.join(parts[cut:])
        for contact in [*_by_name(actor, name), *_by_email(actor, qualifier)]:
            found.setdefault(contact.pk, contact)
    for contact in _by_reference(actor, _label_reference(label)):
        found.setdefault(contact.pk, contact)
    return found


def _one_of(field: str, contacts: list[Contact], several: str) -> Contact | None:
    if len(contacts) > 1:
        raise ValidationFailed.single(field, several)
    return contacts[0] if contacts else None


def contact_from_label(actor: Actor, field: str, text: str, *, current: Contact | None = None) -> Contact | None:
    """The contact a picker's text names: by its label, its email, its exact name or its
    reference. Empty: none. `current`: the record's contact now, kept when its label comes back unchanged even
    if the actor could not pick it (another member's, past their record scope)."""
    text = typed(text)
    if not text:
        return None
    if current is not None and text == contact_label(actor, current):
        return current
    if not actor.can("contact.view"):
        raise ValidationFailed.single(field, _("Your role may not see contacts, so it cannot choose one."))
    if SEPARATOR in text:
        candidates = _labelled(actor, text)
        labels = _contact_labels(actor, list(candidates.values()))
        chosen = [c for pk, c in candidates.items() if labels[pk] == text] or [
            c for pk, c in candidates.items() if labels[pk].casefold() == text.casefold()
        ]
        if found := _one_of(field, chosen, _("Several contacts match: choose one from the list.")):
            return found
    if found := _one_of(
        field, _by_email(actor, text)[:2], _("Several contacts have this email address: choose one from the list.")
    ):
        return found
    if found := _one_of(
        field, _by_name(actor, text)[:2], _("Several contacts have this name: choose one from the list.")
    ):
        return found
    if found := _one_of(
        field, _by_reference(actor, _typed_reference(text))[:2], _("Several contacts match: choose one from the list.")
    ):
        return found
    raise ValidationFailed.single(
        field, _("No contact of this name or email address: check the spelling, or create the contact first.")
    )


def linked_contact(contact_id: Any) -> Contact | None:
    """A record's current contact with what its label needs only, whether or not the actor
    may pick it (passed on as `current`); loading no more spares decrypting its special fields."""
    if contact_id is None:
        return None
    return Contact.objects.select_related("company").only(*CONTACT_LABEL_FIELDS).filter(pk=contact_id).first()


def contact_by_id_label(actor: Actor, contact_id: str) -> str:
    """The picker's text for a contact named by id (a link such as "new deal for this
    contact"); empty for one the actor may not see or that does not exist."""
    if not contact_id or not actor.can("contact.view"):
        return ""
    try:
        return contact_label(actor, _contacts(actor).filter(pk=contact_id).first())
    except (ValueError, DjangoValidationError):
        return ""


def with_contact(
    actor: Actor, data: dict[str, Any], field: str = "contact", *, current: Contact | None = None
) -> dict[str, Any]:
    """A form's data with the contact picked by its label, as the domain takes it (an id)."""
    if field in data:
        contact = contact_from_label(actor, field, data[field] or "", current=current)
        data[field] = str(contact.pk) if contact else None
    return data
