"""The suppression list: who must not be contacted for marketing, as keyed hashes only."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers

from custos.core import crypto
from custos.core.models import Organization
from custos.core.tenancy import require_org_id
from custos.privacy.models import Subject, Suppression
from custos.privacy.services.subjects import identifiers_of

PURPOSE = "suppression"


def _normalised(kind: str, value: str) -> str:
    value = value.strip()
    if kind == Suppression.Kind.EMAIL:
        return value.lower()
    try:
        # Stored numbers are E.164 already; a national one is read in the organisation's country.
        country = None if value.startswith("+") else Organization.objects.get(pk=require_org_id()).country
        number = phonenumbers.parse(value, country)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in value if ch.isdigit())


def digest_of(kind: str, value: str) -> str:
    return crypto.blind_index(_normalised(kind, value), purpose=PURPOSE, org_id=require_org_id())


def suppress_subject(subject: Subject, *, reason: str, identifiers: dict[str, set[str]] | None = None) -> int:
    """Put every email and phone of the person on the list; returns how many were new.
    `identifiers`: the person's, when the caller has read them already (erasure)."""
    found = identifiers if identifiers is not None else identifiers_of(subject)
    wanted = {
        (kind, digest_of(kind, value))
        for kind, values in ((Suppression.Kind.EMAIL, found["email"]), (Suppression.Kind.PHONE, found["phone"]))
        for value in values
    }
    if not wanted:
        return 0
    # Two statements for all of them (an erasure runs this): which are listed, then the rest.
    known = set(Suppression.objects.filter(digest__in={d for _, d in wanted}).values_list("kind", "digest"))
    new = [Suppression(kind=kind, digest=digest, reason=reason) for kind, digest in sorted(wanted - known)]
    # One listed meanwhile by another transaction stays as it is.
    Suppression.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def is_suppressed(*, email: str = "", phone: str = "") -> bool:
    """Whether an address or number is on the list (imports and mailings ask here)."""
    digests = []
    if email.strip():
        digests.append((Suppression.Kind.EMAIL, digest_of(Suppression.Kind.EMAIL, email)))
    if phone.strip():
        digests.append((Suppression.Kind.PHONE, digest_of(Suppression.Kind.PHONE, phone)))
    return any(Suppression.objects.filter(kind=k, digest=d).exists() for k, d in digests)


def subject_is_suppressed(subject: Subject) -> bool:
    found = identifiers_of(subject)
    return any(is_suppressed(email=e) for e in found["email"]) or any(is_suppressed(phone=p) for p in found["phone"])


def suppressed_among(
    *, emails: Iterable[str] = (), phones: Iterable[str] = (), phones_cleaned: bool = False
) -> set[str]:
    """Which of these addresses and numbers are on the list, in one query (imports ask per batch).
    `phones_cleaned`: the numbers come out of `Cleaner.phone`, in the E.164 form contacts store,
    so they are not parsed a second time (the parse is most of an import row's check)."""
    # Every spelling given of one address (JUERGEN@ and juergen@): each is answered.
    wanted: dict[str, set[str]] = {}
    digest = crypto.blind_indexer(purpose=PURPOSE, org_id=require_org_id())
    for kind, values in ((Suppression.Kind.EMAIL, emails), (Suppression.Kind.PHONE, phones)):
        as_stored = phones_cleaned and kind == Suppression.Kind.PHONE
        for value in values:
            if value and value.strip():
                wanted.setdefault(digest(value if as_stored else _normalised(kind, value)), set()).add(value)
    if not wanted:
        return set()
    found = Suppression.objects.filter(digest__in=wanted).values_list("digest", flat=True)
    return {value for d in found for value in wanted[d]}
