"""Possible duplicates of a contact: warned of before saving, listed on the contact, merged side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.core.actor import Actor
from custos.core.errors import Conflict
from custos.crm.duplicates import Candidate, contact_duplicates, contact_merge, find_duplicates, linked_counts
from custos.crm.models import Contact
from custos.crm.selectors.people import access_contact
from custos.web.selectors import member_names
from custos.web.shortcuts import actor_of

REASONS = {
    "email": gettext_lazy("same email"),
    "phone": gettext_lazy("same phone number"),
    "name": gettext_lazy("similar name at the same place"),
}
# What the contact form sends that tells who the person is.
IDENTIFYING = ("first_name", "last_name", "email", "phone", "company")


@dataclass(frozen=True)
class Suggestion:
    contact: Contact
    reasons: list[str]
    score: int


def _suggestions(candidates: list[Candidate]) -> list[Suggestion]:
    return [
        Suggestion(contact=c.contact, reasons=[str(REASONS.get(r, r)) for r in c.reasons], score=c.score)
        for c in candidates
    ]


def possible_duplicates(request: HttpRequest, actor: Actor) -> list[Suggestion]:
    """Contacts that are probably the person the contact form describes, unless the person
    saving said it is someone else ("save anyway")."""
    if request.POST.get("save_anyway"):
        return []
    given = {name: request.POST.get(name, "").strip()[:254] for name in IDENTIFYING}
    given["company_id"] = given.pop("company")
    return _suggestions(find_duplicates(actor, given))


@require_POST
def contact_duplicates_check(request: HttpRequest) -> HttpResponse:
    """The warning alone, for the new-contact form to show while it is filled in (htmx)."""
    actor = actor_of(request)
    actor.require("contact.add")
    return render(
        request, "web/crm/partials/possible_duplicates.html", {"duplicates": possible_duplicates(request, actor)}
    )


def duplicates_of(actor: Actor, contact: Contact) -> dict[str, Any]:
    """The contact page's panel of possible duplicates, and whether the actor may merge them."""
    return {
        "duplicates": _suggestions(contact_duplicates(actor, contact)),
        "may_merge": actor.can("contact.change") and actor.can("contact.delete"),
    }


class MergeForm(forms.Form):
    keep = forms.ChoiceField(label=gettext_lazy("Which contact stays"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["keep"].choices = choices  # type: ignore[attr-defined]


# The rows of the merge screen: what identifies and reaches the person. Never special-category
# data: the screen only says whether a contact holds any.
MERGE_ROWS = (
    ("first_name", gettext_lazy("First name")),
    ("last_name", gettext_lazy("Last name")),
    ("email", gettext_lazy("Email")),
    ("phone", gettext_lazy("Phone")),
    ("company", gettext_lazy("Company")),
    ("owner", gettext_lazy("Owner")),
    ("street", gettext_lazy("Street")),
    ("postcode", gettext_lazy("Postcode")),
    ("city", gettext_lazy("City")),
    ("country", gettext_lazy("Country")),
    ("tags", gettext_lazy("Tags")),
    ("notes", gettext_lazy("Notes")),
)


def _shown(contact: Contact, name: str, members: dict[str, str]) -> str:
    match name:
        case "company":
            return contact.company.name if contact.company else ""
        case "owner":
            return members.get(str(contact.owner_id), "") if contact.owner_id else ""
        case "tags":
            return ", ".join(contact.tags)
    return str(getattr(contact, name, "") or "")


def _comparison(actor: Actor, first: Contact, second: Contact) -> dict[str, Any]:
    members = member_names(actor)
    hidden = actor.hidden_fields_of("contact")
    rows = [
        (label, _shown(first, name, members), _shown(second, name, members))
        for name, label in MERGE_ROWS
        if name not in hidden
    ]
    return {
        "rows": rows,
        "counts": [linked_counts(first), linked_counts(second)],
        "special": [bool(c.health_notes or c.custom_special) for c in (first, second)]
        if actor.can("special_category.view")
        else None,
    }


def contact_merge_view(request: HttpRequest, contact_id: str, other_id: str) -> HttpResponse:
    """Both contacts side by side; the one chosen stays, the other is merged into it and removed."""
    actor = actor_of(request)
    contact = access_contact(actor, contact_id, write=True)
    other = access_contact(actor, other_id, write=True)
    actor.require("contact.delete")
    if contact.pk == other.pk:
        raise Conflict(_("A contact cannot be merged with itself."))
    pair = {str(contact.pk): contact, str(other.pk): other}
    form = MergeForm(
        request.POST if request.method == "POST" else None,
        initial={"keep": str(contact.pk)},
        choices=[(str(contact.pk), _("The first")), (str(other.pk), _("The second"))],
    )
    if request.method == "POST" and form.is_valid():
        keep = pair.pop(form.cleaned_data["keep"])
        (gone,) = pair.values()
        contact_merge(actor=actor, keep=keep, other=gone)
        messages.success(
            request,
            _("The contacts are merged: this one holds the activities, deals and leads of both."),
        )
        return redirect("web:contact-detail", keep.pk)
    return render(
        request,
        "web/crm/contact_merge.html",
        {"form": form, "first": contact, "second": other, **_comparison(actor, contact, other)},
    )
