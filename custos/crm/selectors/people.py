"""Reads of companies and contacts: access functions and lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.crm.models import Affiliation, Company, Contact
from custos.crm.selectors.filters import filter_list
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.records import scoped, search


def access_contact(actor: Actor, contact_id: Any, *, write: bool = False, with_company: bool = True) -> Contact:
    """The contact if the actor may see it (and change it, with write); else NotFound.
    `with_company=False` where only the company's id is wanted (the API): half the cost."""
    actor.require("contact.change" if write else "contact.view")
    contacts = Contact.objects.select_related("company") if with_company else Contact.objects.all()
    return get_or_not_found(scoped(actor, contacts), pk=contact_id)


def access_company(actor: Actor, company_id: Any, *, write: bool = False) -> Company:
    actor.require("company.change" if write else "company.view")
    return get_or_not_found(scoped(actor, Company.objects.all()), pk=company_id)


def contact_list(actor: Actor, *, q: str = "", filters: Mapping[str, Any] | None = None) -> models.QuerySet[Contact]:
    """Contacts the actor may see, oldest first (ids are time-ordered), optionally searched
    and filtered (see `filter_list`)."""
    actor.require("contact.view")
    queryset = scoped(actor, Contact.objects.all()).defer("health_notes", "custom_special")  # decrypted when asked
    queryset = filter_list(actor, "contact", queryset, filters or {})
    return search(actor, "contact", queryset, q).order_by("id")


def company_list(actor: Actor, *, q: str = "", filters: Mapping[str, Any] | None = None) -> models.QuerySet[Company]:
    actor.require("company.view")
    queryset = filter_list(actor, "company", scoped(actor, Company.objects.all()), filters or {})
    return search(actor, "company", queryset, q).order_by("id")


def affiliations_of(actor: Actor, contact: Contact) -> models.QuerySet[Affiliation]:
    """The contact's further companies, those the actor may see, by company name."""
    companies = scoped(actor, Company.objects.all())
    return contact.affiliations.filter(company__in=companies).select_related("company").order_by("company__name")


def access_affiliation(actor: Actor, contact: Contact, affiliation_id: Any) -> Affiliation:
    return get_or_not_found(affiliations_of(actor, contact), pk=affiliation_id)


def people_of(actor: Actor, company: Company) -> list[tuple[Contact, str]]:
    """The contacts the actor may see at a company, with their role: those whose main company
    it is, then those affiliated with it."""
    visible = scoped(actor, Contact.objects.all()).defer("health_notes", "custom_special")
    main = [(contact, "") for contact in visible.filter(company=company).order_by("last_name", "first_name")[:200]]
    further = [
        (affiliation.contact, affiliation.role)
        for affiliation in Affiliation.objects.filter(company=company, contact__in=visible)
        .select_related("contact")
        .order_by("contact__last_name", "contact__first_name")[:200]
    ]
    return main + further


def persons_listed(
    actor: Actor, object_type: str, *, q: str = "", status: str = "", filters: Mapping[str, Any] | None = None
) -> models.QuerySet[Any]:
    """The subject ids of everyone in a contact or lead list with its search and filters: the
    persons a breach is recorded against when a whole list was exposed."""
    if object_type == "contact":
        records: models.QuerySet[Any] = contact_list(actor, q=q, filters=filters)
    else:
        records = lead_list(actor, q=q, status=status, filters=filters)
    return records.filter(subject__isnull=False).order_by().values("subject_id")
