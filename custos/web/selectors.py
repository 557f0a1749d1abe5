"""Reads that only the staff UI needs."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.text import capfirst

from custos.accounts.models import Membership
from custos.core.actor import Actor
from custos.core.pagination import list_count
from custos.crm.models import Activity
from custos.crm.selectors.activities import my_day
from custos.crm.selectors.deals import deal_list
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import company_list, contact_list
from custos.privacy.services.consent import consent_states, purpose_names
from custos.web.labels import ACTIVITY_KINDS


def overview(actor: Actor) -> dict[str, Any]:
    """The home page's figures, counted as the lists count theirs: exactly up to a limit, then
    estimated, for an exact count of a million contacts reads a million index entries."""
    data: dict[str, Any] = {}
    if actor.can("contact.view"):
        data["contacts"] = list_count(contact_list(actor))
        # Their ids first: asked for whole rows, PostgreSQL walks the primary key backwards past
        # every newer row of other organisations.
        newest = list(contact_list(actor).order_by("-id").values_list("pk", flat=True)[:5])
        found = contact_list(actor).in_bulk(newest)
        data["recent_contacts"] = [found[pk] for pk in newest if pk in found]
    if actor.can("company.view"):
        data["companies"] = list_count(company_list(actor))
    if actor.can("lead.view"):
        data["open_leads"] = list_count(lead_list(actor).filter(status__in=["new", "contacted", "qualified"]))
    if actor.can("deal.view") and actor.may_see_field("deal", "status"):
        data["open_deals"] = list_count(deal_list(actor, status="open"))
    if actor.can("activity.view") and actor.user_id is not None:
        data["tasks_due"] = my_day(actor).count()
    return data


def member_names(actor: Actor) -> dict[str, str]:
    """The organisation's active members by user id (as text), named as the UI shows them."""
    rows = (
        Membership.objects.filter(org_id=actor.org_id, is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )
    return {str(m.user_id): m.user.full_name or m.user.email for m in rows}


def activity_kinds() -> list[tuple[str, str]]:
    return [(value, str(ACTIVITY_KINDS.get(value, capfirst(str(label))))) for value, label in Activity.Kind.choices]


def consents_at_a_glance(actor: Actor, person: Any) -> list[tuple[str, str]]:
    """A contact's or lead's consent per purpose in use (given, withdrawn…): whoever calls or
    writes to them should not have to open the ledger on the privacy page first."""
    if person.subject_id is None or not (actor.can("subject.view") and actor.can("consent.view")):
        return []
    names = {purpose.pk: name for purpose, name in purpose_names(translation.get_language() or "en")}
    return [(names[s.purpose.pk], s.status) for s in consent_states(person.subject) if s.purpose.pk in names]
