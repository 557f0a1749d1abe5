"""Finding the same person twice, and merging two contacts into one without losing anything.

Candidates come from what identifies a person: the same email, the same phone number, or a
name close enough (rapidfuzz) at the same company or with the same email domain. Every
candidate says why it was suggested. A merge keeps every linked record and the history
of both: activities and deals move over, empty fields are filled, tags are joined, and if
the two were filed as different people their subjects become one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict
from custos.core.validation import Cleaner
from custos.crm.models import Activity, Contact, Deal, Lead
from custos.crm.search import reindex, unindex
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import dump_special, special_values
from custos.crm.services.records import org_country
from custos.privacy.models import Subject
from custos.privacy.registry import subject_models
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
# What a merge fills in on the kept contact when it is empty there.
FILLABLE = ("first_name", "last_name", "email", "phone", "company_id", "owner_id", "notes")


@dataclass(frozen=True)
class Candidate:
    contact: Contact
    reasons: tuple[str, ...]
    score: int


def _name(data: Mapping[str, Any]) -> str:
    return normalise(f"{data.get('first_name') or ''} {data.get('last_name') or ''}")


def _stored_phone(actor: Actor, value: Any) -> str:
    """A phone number as contacts hold it (E.164), read as `contact_create` reads it."""
    text = str(value or "").strip()
    return Cleaner().phone("phone", text, country=org_country(actor)) if text else ""


def _company_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def find_duplicates(actor: Actor, data: Mapping[str, Any], *, exclude: uuid.UUID | None = None) -> list[Candidate]:
    """Contacts the actor may see that are probably the person described by `data`."""
    # A field hidden from the actor's role neither finds nor explains a suggestion.
    data = {name: value for name, value in data.items() if actor.may_see_field("contact", name.removesuffix("_id"))}
    email = (data.get("email") or "").strip().lower()
    phone = _stored_phone(actor, data.get("phone"))
    name = _name(data)
    company_id = _company_id(data.get("company_id"))
    visible = scoped(actor, Contact.objects.annotate(email_lower=Lower("email")))
    if exclude is not None:
        visible = visible.exclude(pk=exclude)
    condition = Q()
    domain = email.rpartition("@")[2]
    if email:
        condition |= Q(email_lower=email)
        if domain not in PUBLIC_MAIL:
            condition |= Q(email_lower__endswith="@" + domain)
    if phone:
        condition |= Q(phone=phone)
    last_name = normalise(str(data.get("last_name") or ""))
    if last_name:
        condition |= Q(last_name__iexact=str(data.get("last_name")).strip())
    if company_id:
        condition |= Q(company_id=company_id)
    if not condition:
        return []
    found = []
    for contact in visible.filter(condition).select_related("company")[:200]:
        reasons = []
        if email and contact.email.lower() == email:
            reasons.append("email")
        if phone and contact.phone == phone:
            reasons.append("phone")
        similarity = int(fuzz.token_sort_ratio(name, _name(contact.__dict__))) if name else 0
        same_place = (company_id and contact.company_id == company_id) or (
            domain and domain not in PUBLIC_MAIL and contact.email.lower().rpartition("@")[2] == domain
        )
        if similarity >= NAME_THRESHOLD and (same_place or similarity == 100):
            reasons.append("name")
        if reasons:
            score = 100 if {"email", "phone"} & set(reasons) else similarity
            found.append(Candidate(contact=contact, reasons=tuple(reasons), score=score))
    found.sort(key=lambda c: (-c.score, str(c.contact.pk)))
    return found[:MAX_CANDIDATES]


def contact_duplicates(actor: Actor, contact: Contact) -> list[Candidate]:
    actor.require("contact.view")
    data = {f: getattr(contact, f) for f in ("first_name", "last_name", "email", "phone", "company_id")}
    return find_duplicates(actor, data, exclude=contact.pk)


def linked_counts(contact: Contact) -> dict[str, int]:
    """What a merge carries over from this contact: its activities, deals and converted leads."""
    return {
        "activities": Activity.objects.filter(contact=contact).count(),
        "deals": Deal.objects.filter(contact=contact).count(),
        "leads": Lead.objects.filter(converted_contact=contact).count(),
    }


def _join_subjects(keep: Subject, gone: Subject) -> int:
    """Two subjects that are one person: every record of the second now belongs to the first."""
    moved = 0
    for declaration in subject_models():
        for path in declaration.subject_paths:
            if "__" in path:
                continue  # reached through a parent, which moves itself
            moved += declaration.model._default_manager.filter(**{path: gone}).update(**{path: keep})
    gone.delete()
    return moved


def contact_merge(*, actor: Actor, keep: Contact, other: Contact) -> Contact:
    """Merge `other` into `keep`: nothing linked to either is lost, and `other` is gone after."""
    actor.require("contact.change")
    actor.require("contact.delete")
    if keep.pk == other.pk:
        raise Conflict(_("A contact cannot be merged with itself."))
    with transaction.atomic():
        filled = []
        for name in FILLABLE:
            if not getattr(keep, name) and getattr(other, name):
                setattr(keep, name, getattr(other, name))
                filled.append(name.removesuffix("_id"))
        keep.tags = list(dict.fromkeys([*keep.tags, *other.tags]))
        keep.custom_fields = {**other.custom_fields, **keep.custom_fields}
        special = {**special_values(other), **special_values(keep)}
        keep.custom_special = dump_special(special)
        if not keep.health_notes and other.health_notes:
            keep.health_notes = other.health_notes
            filled.append("health_notes")
        moved_activities = Activity.objects.filter(contact=other).update(contact=keep)
        moved_deals = Deal.objects.filter(contact=other).update(contact=keep)
        Lead.objects.filter(converted_contact=other).update(converted_contact=keep)
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
            fields=filled,
            extra={
                "merged": str(other.pk),
                "activities": moved_activities,
                "deals": moved_deals,
                "subject_records": joined,
            },
        )
    return keep
