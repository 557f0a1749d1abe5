"""/contacts/{id}/duplicates and /contacts/{id}/merge: the same person twice, made one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from custos.api.crm import ContactOut, contact_out
from custos.api.rendering import actor_of
from custos.core.errors import NotFound, ValidationFailed
from custos.crm.duplicates import contact_duplicates, contact_merge
from custos.crm.selectors.people import access_contact

router = Router(tags=["crm"])


class DuplicateOut(Schema):
    contact: ContactOut
    reasons: list[str] = Field(
        description="Why it was suggested: `email` (the same address), `phone` (the same number), "
        "`name` (a close name at the same company or email domain, or the very same name)."
    )
    score: int = Field(description="How sure, 0 to 100: 100 for the same email or phone.")


class DuplicatePage(Schema):
    items: list[DuplicateOut]
    next: str | None = Field(description="Always null: at most ten suggestions, the likeliest first.")


class MergeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    other: str | None = Field(
        None, description="Required: the contact merged into this one, and removed after the merge."
    )
    values_from: dict[str, str] | None = Field(
        None,
        description="Per field, whose value survives: `keep` (this contact's) or `other`. Fields: first_name, "
        "last_name, email, phone, company, owner, street, postcode, city, country, notes. A field not named "
        "keeps this contact's value, or takes the other's where this one is empty (the address as a whole).",
    )


@router.get(
    "/contacts/{contact_id}/duplicates", response=DuplicatePage, summary="Contacts that are probably the same person"
)
def list_duplicates(request: HttpRequest, contact_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    contact = access_contact(actor, contact_id)
    return {
        "items": [
            {"contact": contact_out(actor, c.contact), "reasons": list(c.reasons), "score": c.score}
            for c in contact_duplicates(actor, contact)
        ],
        "next": None,
    }


@router.post(
    "/contacts/{contact_id}/merge",
    response=ContactOut,
    summary="Merge another contact into this one",
)
def merge_contact(request: HttpRequest, contact_id: str, payload: MergeIn) -> dict[str, Any]:
    """Activities, deals, converted leads and appointments of `other` move here, the fields named in
    `values_from` take its values, empty fields are filled from it, tags are joined, and both people's
    records become one data subject; `other` is removed. Needs the rights to change and to delete
    contacts; 409 when both are the same contact."""
    actor = actor_of(request)
    keep = access_contact(actor, contact_id, write=True)
    actor.require("contact.delete")
    # Checked here rather than by the schema, so a contact one may not see is 404 whatever the body.
    if not payload.other:
        raise ValidationFailed.single("other", _("This field is required."))
    try:
        other = access_contact(actor, payload.other, write=True)
    except NotFound:
        raise ValidationFailed.single("other", _("Choose an existing contact.")) from None
    merged = contact_merge(actor=actor, keep=keep, other=other, values_from=payload.values_from)
    return contact_out(actor, merged)
