"""Labels the staff UI shows for domain choices, where the model's own (lower-case, context-free)
label would be ambiguous to translate: "email" the kind of activity is not "email" the address."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

ACTIVITY_KINDS: dict[str, Promise] = {
    "note": pgettext_lazy("activity kind", "Note"),
    "task": pgettext_lazy("activity kind", "Task"),
    "call": pgettext_lazy("activity kind", "Call"),
    "email": pgettext_lazy("activity kind", "Email"),
    "meeting": pgettext_lazy("activity kind", "Meeting"),
}
