"""Labels the staff UI shows for domain choices, where the model's own (lower-case, context-free)
label would be ambiguous to translate: "email" the kind of activity is not "email" the address."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy

ACTIVITY_KINDS: dict[str, Promise] = {
    "note": pgettext_lazy("activity kind", "Note"),
    "task": pgettext_lazy("activity kind", "Task"),
    "call": pgettext_lazy("activity kind", "Call"),
    "email": pgettext_lazy("activity kind", "Email"),
    "meeting": pgettext_lazy("activity kind", "Meeting"),
}


def person_name(record: Any, hidden: frozenset[str]) -> str:
    """A contact's or lead's name as a role that may not see `hidden` fields may see it:
    a hidden field never shows through, not even as the fallback."""
    parts = [getattr(record, f) for f in ("first_name", "last_name") if f not in hidden and getattr(record, f)]
    if parts:
        return " ".join(parts)
    if "email" not in hidden and record.email:
        return str(record.email)
    if record._meta.model_name == "lead":
        if "company_name" not in hidden and record.company_name:
            return str(record.company_name)
        return gettext("Lead %(reference)s") % {"reference": str(record.pk)[-6:]}
    return gettext("Contact %(reference)s") % {"reference": str(record.pk)[-6:]}


def phone_number(value: str) -> str:
    """A stored E.164 number as people write it: "+49 30 1234567" (every page alike)."""
    if not value:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(value, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return value
