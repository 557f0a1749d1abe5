"""Reads of companies and contacts: access functions and lists."""

from __future__ import annotations

from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.crm.models import Company, Contact
from custos.crm.selectors.records import scoped, search


def access_contact(actor: Actor, contact_id: Any, *, write: bool = False) -> Contact:
    """The contact if the actor may see it (and change it, with write); else NotFound."""
    actor.require("contact.change" if write else "contact.view")
    return get_or_not_found(scoped(actor, Contact.objects.select_related("company")), pk=contact_id)


def access_company(actor: Actor, company_id: Any, *, write: bool = False) -> Company:
    actor.require("company.change" if write else "company.view")
    return get_or_not_found(scoped(actor, Company.objects.all()), pk=company_id)


def contact_list(actor: Actor, *, q: str = "") -> models.QuerySet[Contact]:
    """Contacts the actor may see, oldest first (ids are time-ordered), optionally searched."""
    actor.require("contact.view")
    queryset = scoped(actor, Contact.objects.all()).defer("health_notes")  # decrypted only when asked for
    return search(actor, "contact", queryset, q).order_by("id")


def company_list(actor: Actor, *, q: str = "") -> models.QuerySet[Company]:
    actor.require("company.view")
    queryset = scoped(actor, Company.objects.all())
    return search(actor, "company", queryset, q).order_by("id")
