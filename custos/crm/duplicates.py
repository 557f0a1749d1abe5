"""Finding the same person twice, and merging two contacts into one without losing anything.

Candidates come from what identifies a person: the same email, the same phone number, or a
name close enough (rapidfuzz) at the same company or with the same email domain. Every
candidate says why it was suggested. A merge keeps every linked record and the history
of both: activities and deals move over, empty fields are filled, tags are joined, and if
the two were filed as different people their subjects become one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, FieldError, ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Contact, ContactPoint
from custos.crm.search import reindex, unindex
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import dump_special, special_values
from custos.crm.services.people import POINT_FIELDS
from custos.crm.services.records import Name, names_of, org_country, same_person
from custos.privacy.models import Subject
from custos.privacy.registry import subject_models
from custos.privacy.services.restriction import require_processable
from custos.search.engines import starting_with
from custos.search.models import SearchEntry
from custos.search.text import normalise

NAME_THRESHOLD = 88
# Sharing one of these says nothing about working in the same place.
PUBLIC_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "proton.me",
        "protonmail.com",
    }
)
MAX_CANDIDATES = 10
# Contacts read per reason: a company's people, a last name's bearers at one email domain.
CANDIDATES_PER_REASON = 200
# What a merge fills in on the kept contact when it is empty there, and what the person
# merging may choose to take from the other contact instead. The address goes as a whole:
# a street of one contact beside the city of the other is nobody's address.
FILLABLE = ("first_name", "last_name", "email", "phone", "company_id", "owner_id", "notes")
ADDRESS = ("street", "postcode", "city", "country")
# Records one person holds at most once, in the words of the message when both contacts hold one.
ONCE_PER_PERSON = {"scheduling.Recall": gettext_lazy("a recall of the same service")}
CHOOSABLE = ("first_name", "last_name", "email", "phone", "company", "owner", *ADDRESS, "notes")


@dataclass(frozen=True)
class Candidate:
    contact: Contact
    reasons: tuple[str, ...]
    score: int


def person_name(data: Mapping[str, Any]) -> str:
    return normalise(f"{data.get('first_name') or ''} {data.get('last_name') or ''}")


def lowered(name: str) -> set[str]:
    """A name as `lower()` of the database gives it back for the name in any of its usual
    cases ("Müller", "MÜLLER", "van der Berg", "Van der Berg"): PostgreSQL lowers every
    letter, SQLite only A to Z, so "MÜLLER" stored there reads "mÜller". Compared through the
    index on (org, lower(last_name)); `iexact` would read every contact."""
    name = " ".join(name.split())
    cases = {name, name.lower(), name.upper(), name.title(), name.capitalize()}
    return {case.lower() for case in cases} | {"".join(c.lower() if c.isascii() else c for c in case) for case in cases}


def _stored_phone(actor: Actor, value: Any) -> str:
    """A phone number as contacts hold it (E.164), read as `contact_create` reads it."""
    text = str(value or "").strip()
    return Cleaner().phone("phone", text, country=org_country(actor)) if text else ""


def _company_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _given_points(data: Mapping[str, Any], field: str, kind: str, normal: Callable[[str], str]) -> set[str]:
    """The further emails or phones a form or request gives, normalised; malformed ones skipped."""
    given = data.get(field)
    if not isinstance(given, list):
        return set()
    values = (item.get(kind) if isinstance(item, Mapping) else item for item in given)
    found = set()
    for value in values:
        if isinstance(value, str) and value.strip():
            try:
                found.add(normal(value))
            except ValueError:
                continue
    return found


def _named(name: str) -> Any:
    """The contacts of this name however it is accented ("Jurgen Muller" for "Jürgen Müller"),
    as a subquery: the search index holds each contact's name normalised, under (org, value)."""
    entries = SearchEntry.objects.filter(object_type="contact", field="name")
    return starting_with(entries, name).filter(value=name).values("object_id")


def _points_matching(*, emails: Iterable[str] = (), phones: Iterable[str] = ()) -> Any:
    """The contacts one of whose further emails or phones is among these, as a subquery."""
    points = ContactPoint.objects.annotate(email_lower=Lower("email"))
    condition = Q(email_lower__in=list(emails)) if emails else Q(phone__in=list(phones))
    return points.filter(condition).values("contact_id")


def find_duplicates(actor: Actor, data: Mapping[str, Any], *, exclude: uuid.UUID | None = None) -> list[Candidate]:
    """Contacts the actor may see that are probably the person described by `data`."""
    # A field hidden from the actor's role neither finds nor explains a suggestion.
    data = {
        name: value
        for name, value in data.items()
        if actor.may_see_field("contact", POINT_FIELDS.get(name, name).removesuffix("_id"))
    }
    email = (data.get("email") or "").strip().lower()
    phone = _stored_phone(actor, data.get("phone"))
    emails = {email, *(_given_points(data, "other_emails", "email", lambda v: v.strip().lower()))} - {""}
    phones = {phone, *(_given_points(data, "other_phones", "phone", lambda v: _stored_phone(actor, v)))} - {""}
    name = person_name(data)
    company_id = _company_id(data.get("company_id"))
    visible = scoped(
        actor,
        Contact.objects.annotate(
            email_lower=Lower("email"), last_lower=Lower("last_name"), first_lower=Lower("first_name")
        ),
    )
    if exclude is not None:
        visible = visible.exclude(pk=exclude)
    domain = email.rpartition("@")[2]
    # One look-up per reason, each through an index and bounded on its own: joined by OR,
    # they read every contact of the organisation (a second at a million), and a common last
    # name's thousands of rows could push the one with the same email past the limit.
    lookups: list[Q] = []
    if emails:
        lookups += [Q(email_lower__in=emails), Q(pk__in=_points_matching(emails=emails))]
    if phones:
        lookups += [Q(phone__in=phones), Q(pk__in=_points_matching(phones=phones))]
    if company_id:
        lookups.append(Q(company_id=company_id))
    last_name = str(data.get("last_name") or "")
    if normalise(last_name):
        last_names = lowered(last_name)
        first_names = lowered(str(data.get("first_name") or ""))
        lookups.append(Q(last_lower__in=last_names, first_lower__in=first_names))
        lookups.append(Q(pk__in=_named(name)))
        if email and domain not in PUBLIC_MAIL:
            lookups.append(Q(last_lower__in=last_names, email_lower__endswith="@" + domain))
    ids: set[uuid.UUID] = set()
    for lookup in lookups:
        ids.update(visible.filter(lookup).values_list("pk", flat=True)[:CANDIDATES_PER_REASON])
    if not ids:
        return []
    candidates = visible.filter(pk__in=ids).select_related("company").prefetch_related("points")
    found = []
    for contact in candidates:
        reasons = []
        stored = [contact.email, *(point.email for point in contact.points.all())]
        if emails & {value.lower() for value in stored if value}:
            reasons.append("email")
        if phones & {contact.phone, *(point.phone for point in contact.points.all())}:
            reasons.append("phone")
        similarity = int(fuzz.token_sort_ratio(name, person_name(contact.__dict__))) if name else 0
        same_place = (company_id and contact.company_id == company_id) or (
            domain and domain not in PUBLIC_MAIL and contact.email.lower().rpartition("@")[2] == domain
        )
        if similarity >= NAME_THRESHOLD and (same_place or similarity == 100):
            reasons.append("name")
        if reasons:
            score = 100 if {"email", "phone"} & set(reasons) else similarity
            found.append(Candidate(contact=contact, reasons=tuple(reasons), score=score))
    # The same email or phone first: an identical common name scores 100 too.
    found.sort(key=lambda c: (not {"email", "phone"} & set(c.reasons), -c.score, -len(c.reasons), str(c.contact.pk)))
    return found[:MAX_CANDIDATES]


# What tells two people apart: a row and a stored contact that differ in one of these (each
# holding a value) are not the same person, however alike their names.
IDENTITY_FIELDS = ("email", "phone", "street", "postcode", "city", "country", "company_id")


def _differ(data: Mapping[str, Any], contact: Contact) -> bool:
    for name in IDENTITY_FIELDS:
        given, held = data.get(name), getattr(contact, name)
        if given not in ("", None) and held not in ("", None) and str(given).lower() != str(held).lower():
            return True
    return False


@dataclass
class StoredPeople:
    """For an import's batch: the contacts a row may be the same person as, by email, by
    phone number and name, by name and company; the batch adds the contacts it creates or
    changes (`add`), so that a later row finds them as it would find them stored."""

    by_email: dict[str, list[Contact]] = field(default_factory=dict)
    by_phone: dict[tuple[str, str], list[Contact]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], list[Contact]] = field(default_factory=dict)

    def add(self, contact: Contact) -> None:
        name = person_name(contact.__dict__)
        if contact.email:
            self.by_email.setdefault(contact.email.lower(), []).append(contact)
        if contact.phone:
            self.by_phone.setdefault((contact.phone, name), []).append(contact)
        if name:
            self.by_name.setdefault((name, str(contact.company_id or "")), []).append(contact)

    def match(self, data: Mapping[str, Any]) -> Contact | None:
        """The person a checked row is: the contact with its email; else the contact with its
        phone number and name (a family or a practice may share a line), for a row with an
        email only one holding none yet (a list without emails imported before); for a row
        without one, else one of its name at its company that differs in nothing the row
        gives; without a company, one holding no email or phone either."""
        email = str(data.get("email") or "").strip().lower()
        if email:
            found = self.with_email(email, names_of(data.get("first_name"), data.get("last_name")))
            if found is not None:
                return found
        name = person_name(data)
        if not name:
            return None
        phone = str(data.get("phone") or "")
        for contact in self.by_phone.get((phone, name), []) if phone else []:
            # Changed since it was added: not by this key. Another email: someone else.
            if contact.phone == phone and person_name(contact.__dict__) == name and not (email and contact.email):
                return contact
        if email:
            return None
        company = str(data.get("company_id") or "")
        for contact in self.by_name.get((name, company), []):
            if person_name(contact.__dict__) != name or str(contact.company_id or "") != company:
                continue
            if (company or not (contact.email or contact.phone)) and not _differ(data, contact):
                return contact
        return None

    def with_email(self, email: str, names: Name) -> Contact | None:
        """The contact holding this email whose names agree with these (`same_person`): people
        sharing an address (a family) are each found by their own names. Where one contact
        alone holds it, that one, whatever its name: a name changed since (Ute Alt, now Neu)."""
        holding = [contact for contact in self.by_email.get(email, []) if contact.email.lower() == email]
        agreeing = (c for c in holding if same_person(names, names_of(c.first_name, c.last_name)))
        return next(agreeing, None) or (holding[0] if len(holding) == 1 else None)

    def contacts(self) -> list[Contact]:
        found = {c.pk: c for group in self.by_email.values() for c in group}
        for group in (*self.by_phone.values(), *self.by_name.values()):
            found.update((c.pk, c) for c in group)
        return list(found.values())


def stored_people(rows: Iterable[Mapping[str, Any]]) -> StoredPeople:
    """The organisation's contacts an import batch's checked rows may be, in a query per kind
    of look-up, each through an index: emails; phone numbers; names only for rows without an
    email (a common last name has thousands of bearers at a million contacts). Unlike
    `find_duplicates` it is not limited to what an actor may see: a person stored by a
    colleague is stored all the same."""
    rows = list(rows)
    contacts = Contact.objects.annotate(
        email_lower=Lower("email"),
        last_lower=Lower("last_name"),
        first_lower=Lower("first_name"),
        subject_state=F("subject__state"),  # a restricted person's contact is matched, never changed
    ).select_related("company")
    found: dict[uuid.UUID, Contact] = {}
    emails = {str(row["email"]).strip().lower() for row in rows if row.get("email")}
    if emails:
        found.update((c.pk, c) for c in contacts.filter(email_lower__in=emails))
    phones = {str(row["phone"]) for row in rows if row.get("phone")}
    if phones:
        found.update((c.pk, c) for c in contacts.filter(phone__in=phones))
    named = [row for row in rows if not row.get("email") and person_name(row)]
    if named:
        last_names = set().union(*(lowered(str(row.get("last_name") or "")) for row in named))
        first_names = set().union(*(lowered(str(row.get("first_name") or "")) for row in named))
        companies = {row["company_id"] for row in named if row.get("company_id")}
        # Only whom `match` could take: namesakes at the rows' companies, or holding nothing more.
        candidates = Q(company__isnull=True, email="", phone="")
        if companies:
            candidates |= Q(company_id__in=companies)
        found.update(
            (c.pk, c) for c in contacts.filter(candidates, last_lower__in=last_names, first_lower__in=first_names)
        )
    people = StoredPeople()
    for contact in sorted(found.values(), key=lambda c: c.pk):
        people.add(contact)
    return people


def contact_duplicates(actor: Actor, contact: Contact) -> list[Candidate]:
    actor.require("contact.view")
    data = {f: getattr(contact, f) for f in ("first_name", "last_name", "email", "phone", "company_id")}
    return find_duplicates(actor, data, exclude=contact.pk)


def linked_counts(contact: Contact) -> dict[str, int]:
    """What a merge carries over from this contact, by kind of record: activities, deals,
    converted leads, and whatever else names it (appointments, recalls)."""
    return {
        relation.related_model._meta.model_name: relation.related_model._default_manager.filter(
            **{relation.field.name: contact}
        ).count()
        for relation in _links_to_contact()
    }


def _links_to_contact() -> list[Any]:
    """Every foreign key to a contact, whichever app declares it: a merge moves them all,
    so no record is lost to a cascade or left pointing nowhere."""
    return [
        field
        for field in Contact._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
    ]


def _move_linked(keep: Contact, other: Contact) -> dict[str, int]:
    # A company both are linked to stays linked once, with the surviving contact's role.
    linked = [keep.company_id, *keep.affiliations.values_list("company_id", flat=True)]
    other.affiliations.filter(company_id__in=[pk for pk in linked if pk]).delete()
    moved = {}
    for relation in _links_to_contact():
        model, name = relation.related_model, relation.field.name
        try:
            with transaction.atomic():
                moved[model._meta.model_name] = model._default_manager.filter(**{name: other}).update(**{name: keep})
        except IntegrityError:
            # Such as a recall of the same service on both: one person may hold it only once.
            held = ONCE_PER_PERSON.get(model._meta.label)
            raise Conflict(
                _("Both contacts have %(record)s, which a person can have only once; remove one, then merge.")
                % {"record": held or _("a record of the same kind (%(kind)s)") % {"kind": model._meta.verbose_name}}
            ) from None
    return moved


def _keep_addresses(keep: Contact, addresses: dict[str, list[str]]) -> list[str]:
    """Both contacts' emails and phones that are not the kept main ones stay as further ones
    (and the further ones both held, once each): no way of reaching the person is lost."""
    held = {"email": {keep.email.lower()}, "phone": {keep.phone}}
    for point in ContactPoint.objects.filter(contact=keep).order_by("created_at", "id"):
        kind = "email" if point.email else "phone"
        value = getattr(point, kind).lower()
        if value in held[kind]:
            point.delete()
        held[kind].add(value)
    added = []
    for kind, values in addresses.items():
        for value in values:
            if value and value.lower() not in held[kind]:
                ContactPoint.objects.create(contact=keep, **{kind: value})
                held[kind].add(value.lower())
                added.append(f"other_{kind}s")
    return sorted(set(added))


def _clean_choices(actor: Actor, values_from: Mapping[str, str]) -> dict[str, str]:
    """Per field, whose value survives: "keep" or "other"; a field hidden from the actor is no choice."""
    shown = [name for name in CHOOSABLE if actor.may_see_field("contact", name)]
    errors = []
    for name, side in values_from.items():
        if name not in shown:
            message = _("Choose among these fields: %(fields)s.") % {"fields": ", ".join(shown)}
            errors.append(FieldError(f"values_from.{name}", message))
        elif side not in ("keep", "other"):
            errors.append(FieldError(f"values_from.{name}", _("Choose keep or other.")))
    if errors:
        raise ValidationFailed(errors)
    return dict(values_from)


def _join_subjects(keep: Subject, gone: Subject) -> int:
    """Two subjects that are one person: every record of the second now belongs to the first,
    and so do its objections (Art. 21: the earliest of each stands)."""
    keep, gone = (Subject.objects.select_for_update().get(pk=s.pk) for s in (keep, gone))  # as they stand now
    moved = 0
    for declaration in subject_models():
        for path in declaration.subject_paths:
            if "__" in path:
                continue  # reached through a parent, which moves itself
            moved += _move_rows(declaration.model._default_manager.filter(**{path: gone}), path, keep)
    for name in ("objected_to_marketing_at", "objected_to_profiling_at"):
        dates = [d for d in (getattr(keep, name), getattr(gone, name)) if d is not None]
        setattr(keep, name, min(dates) if dates else None)
    keep.save(update_fields=["objected_to_marketing_at", "objected_to_profiling_at"])
    gone.delete()
    return moved


def _move_rows(rows: models.QuerySet[Any], path: str, keep: Subject) -> int:
    """The rows, moved to the kept person. A row the kept person holds already (both in one
    breach: a row per breach and person) is one fact twice: the moved copy goes."""
    try:
        with transaction.atomic():
            return rows.update(**{path: keep})
    except IntegrityError:
        moved = 0
        for row in rows:
            try:
                with transaction.atomic():
                    moved += type(row)._default_manager.filter(pk=row.pk).update(**{path: keep})
            except IntegrityError:
                type(row)._default_manager.filter(pk=row.pk).delete()
        return moved


def contact_merge(
    *, actor: Actor, keep: Contact, other: Contact, values_from: Mapping[str, str] | None = None
) -> Contact:
    """Merge `other` into `keep`: nothing linked to either is lost, and `other` is gone after.

    `values_from` says per field whose value survives ("keep" or "other"); a field it does
    not name keeps its value, or is filled from the other contact where it is empty."""
    actor.require("contact.change")
    actor.require("contact.delete")
    if keep.pk == other.pk:
        raise Conflict(_("A contact cannot be merged with itself."))
    for contact in (keep, other):  # a restricted person's contact is stored, never changed or removed
        require_processable(contact)
    chosen = _clean_choices(actor, values_from or {})
    if (other.health_notes and not keep.health_notes) or special_values(other).keys() - special_values(keep).keys():
        actor.require("special_category.change")  # the merge would write health data to `keep`
    addresses = {"email": [keep.email, other.email], "phone": [keep.phone, other.phone]}
    with transaction.atomic():
        changed = []
        for name, side in chosen.items():
            attribute = name + "_id" if name in ("company", "owner") else name
            if side == "other" and getattr(keep, attribute) != getattr(other, attribute):
                setattr(keep, attribute, getattr(other, attribute))
                changed.append(name)
        for attribute in FILLABLE:
            name = attribute.removesuffix("_id")
            if name not in chosen and not getattr(keep, attribute) and getattr(other, attribute):
                setattr(keep, attribute, getattr(other, attribute))
                changed.append(name)
        if not chosen.keys() & set(ADDRESS) and not any(getattr(keep, n) for n in ADDRESS):
            for name in ADDRESS:
                if getattr(other, name):
                    setattr(keep, name, getattr(other, name))
                    changed.append(name)
        keep.tags = list(dict.fromkeys([*keep.tags, *other.tags]))
        keep.custom_fields = {**other.custom_fields, **keep.custom_fields}
        special = {**special_values(other), **special_values(keep)}
        keep.custom_special = dump_special(special)
        if not keep.health_notes and other.health_notes:
            keep.health_notes = other.health_notes
            changed.append("health_notes")
        moved = _move_linked(keep, other)
        changed.extend(_keep_addresses(keep, addresses))
        joined = 0
        if other.subject_id != keep.subject_id:
            gone_subject = other.subject
            Contact.objects.filter(pk=other.pk).update(subject=keep.subject)
            joined = _join_subjects(keep.subject, gone_subject)
        keep.updated_at = timezone.now()
        keep.save()
        unindex(other)
        Contact.objects.filter(pk=other.pk).delete()
        reindex(keep)
        audit_record(
            actor=actor,
            action="contact.merge",
            object_type="contact",
            object_id=keep.pk,
            fields=sorted(set(changed)),
            extra={
                "merged": str(other.pk),
                "activities": moved.get("activity", 0),
                "deals": moved.get("deal", 0),
                "subject_records": joined,
            },
        )
    return keep
