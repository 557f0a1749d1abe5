"""Reads of leads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.lookup import get_or_not_found
from custos.crm.models import Lead
from custos.crm.selectors.filters import filter_list
from custos.crm.selectors.records import scoped, search


def access_lead(actor: Actor, lead_id: Any, *, write: bool = False) -> Lead:
    """The lead if the actor may see it (and change it, with write); else NotFound."""
    actor.require("lead.change" if write else "lead.view")
    return get_or_not_found(scoped(actor, Lead.objects.all()), pk=lead_id)


def lead_list(
    actor: Actor, *, q: str = "", status: str = "", filters: Mapping[str, Any] | None = None
) -> models.QuerySet[Lead]:
    actor.require("lead.view")
    queryset = filter_list(actor, "lead", scoped(actor, Lead.objects.all()), filters or {})
    if status:
        queryset = queryset.filter(status=status)
    return search(actor, "lead", queryset, q).order_by("id")
