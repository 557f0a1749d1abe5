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
from custos.core.errors import Conflict, ValidationFailed
from custos.crm.duplicates import Candidate, contact_duplicates, contact_merge, find_duplicates, linked_counts
from custos.crm.models import Contact
from custos.crm.selectors.people import access_contact
from custos.crm.services.records import names_of, same_person
from custos.search.text import typed
from custos.web.forms import points_from_text
from custos.web.pickers import company_from_label
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
    given: dict[str, Any] = {name: typed(request.POST.get(name, ""))[:254] for name in IDENTIFYING}
    try:
        company = company_from_label(actor, "company", given.pop("company"))
    except ValidationFailed:
        company = None  # the form says what is wrong with it; here it only does not count
    given["company_id"] = company.pk if company else None
    given["other_emails"] = points_from_text(typed(request.POST.get("other_emails", ""))[:3000], "email")
    given["other_phones"] = points_from_text(typed(request.POST.get("other_phones", ""))[:1000], "phone")
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


# The rows of the merge screen: what identifies and reaches the person, each a choice of
# whose value survives. Never special-category data: the screen only says whether a contact holds any.
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
    ("notes", gettext_lazy("Notes")),
)
# What linked records the screen counts, by the model that holds them.
LINKED = (
    ("activity", gettext_lazy("Activities")),
    ("deal", gettext_lazy("Deals")),
    ("lead", gettext_lazy("Leads converted into it")),
    ("appointment", gettext_lazy("Appointments")),
    ("recall", gettext_lazy("Recalls")),
)
VALUE_PREFIX = "value_"


class MergeForm(forms.Form):
    """Which contact stays, and per field that differs, whose value survives."""

    keep = forms.ChoiceField(label=gettext_lazy("Which contact stays"), widget=forms.RadioSelect)

    def __init__(
        self, *args: Any, first: Contact, second: Contact, differing: list[tuple[str, Any, str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        pair = [(str(first.pk), _("The first")), (str(second.pk), _("The second"))]
        self.fields["keep"].choices = pair  # type: ignore[attr-defined]
        for name, label, one, _two in differing:
            self.fields[VALUE_PREFIX + name] = forms.ChoiceField(
                label=label,
                choices=pair,
                widget=forms.RadioSelect,
                initial=str((first if one else second).pk),
                required=False,  # not chosen: the value of the contact that stays, filled if empty
            )

    def values_from(self, keep: Contact) -> dict[str, str]:
        """Per field chosen, whether its value comes from the contact that stays or the other."""
        return {
            name.removeprefix(VALUE_PREFIX): "keep" if value == str(keep.pk) else "other"
            for name, value in self.cleaned_data.items()
            if name.startswith(VALUE_PREFIX) and value
        }


def _shown(contact: Contact, name: str, members: dict[str, str]) -> str:
    match name:
        case "company":
            return contact.company.name if contact.company else ""
        case "owner":
            return members.get(str(contact.owner_id), "") if contact.owner_id else ""
    return str(getattr(contact, name, "") or "")


def _comparison(actor: Actor, first: Contact, second: Contact) -> list[tuple[str, Any, str, str]]:
    """(field, label, first value, second value) of every field the actor may see."""
    members = member_names(actor)
    hidden = actor.hidden_fields_of("contact")
    return [
        (name, label, _shown(first, name, members), _shown(second, name, members))
        for name, label in MERGE_ROWS
        if name not in hidden
    ]


def _raw(contact: Contact, name: str) -> Any:
    return getattr(contact, name + "_id" if name in ("company", "owner") else name)


def contact_merge_view(request: HttpRequest, contact_id: str, other_id: str) -> HttpResponse:
    """Both contacts side by side; the one chosen stays and takes the values chosen, the other
    is merged into it and removed."""
    actor = actor_of(request)
    contact = access_contact(actor, contact_id, write=True)
    other = access_contact(actor, other_id, write=True)
    actor.require("contact.delete")
    if contact.pk == other.pk:
        raise Conflict(_("A contact cannot be merged with itself."))
    rows = _comparison(actor, contact, other)
    differing = [row for row in rows if _raw(contact, row[0]) != _raw(other, row[0])]
    # Filed as two people whose names disagree: perhaps a family sharing an address.
    strangers = contact.subject_id != other.subject_id and not same_person(
        names_of(contact.first_name, contact.last_name), names_of(other.first_name, other.last_name)
    )
    form = MergeForm(
        request.POST if request.method == "POST" else None,
        initial={"keep": str(contact.pk)},
        first=contact,
        second=other,
        differing=differing,
    )
    if request.method == "POST" and form.is_valid():
        keep, gone = (contact, other) if form.cleaned_data["keep"] == str(contact.pk) else (other, contact)
        try:
            contact_merge(actor=actor, keep=keep, other=gone, values_from=form.values_from(keep))
        except Conflict as error:
            form.add_error(None, error.detail)
        except ValidationFailed as error:
            for item in error.errors:
                form.add_error(None, item.message)
        else:
            messages.success(
                request,
                _("The contacts are merged: this one holds the activities, deals and leads of both."),
            )
            return redirect("web:contact-detail", keep.pk)
    counts = [linked_counts(contact), linked_counts(other)]
    tags = [", ".join(c.tags) for c in (contact, other)] if "tags" not in actor.hidden_fields_of("contact") else None
    return render(
        request,
        "web/crm/contact_merge.html",
        {
            "form": form,
            "first": contact,
            "second": other,
            "strangers": strangers,
            "rows": [
                (label, one, two, form[VALUE_PREFIX + name] if VALUE_PREFIX + name in form.fields else None)
                for name, label, one, two in rows
            ],
            "tags": tags,
            "linked": [
                (label, *(count.get(model, 0) for count in counts))
                for model, label in LINKED
                # Appointments and recalls only where a practice keeps them.
                if model in ("activity", "deal", "lead") or any(count.get(model) for count in counts)
            ],
            "special": [bool(c.health_notes or c.custom_special) for c in (contact, other)]
            if actor.can("special_category.view")
            else None,
        },
    )
