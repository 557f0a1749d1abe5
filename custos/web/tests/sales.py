"""What the lead, deal and activity page tests share: records made through the domain, and
looks at what a page shows or the database holds."""

from __future__ import annotations

import re
from typing import Any

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Company, Contact, Deal, DealStageChange, Lead, Pipeline, Stage
from custos.crm.services.deals import pipeline_default
from custos.testing import Cast

SECTION = re.compile(r'<section class="board-column[^"]*"[^>]*data-stage="([^"]+)"(.*?)</section>', re.S)
CARD = re.compile(r'<li class="deal-card" id="deal-([0-9a-f-]+)"')


def in_org_a(cast: Cast, function: Any, *args: Any, user: Any = None, **kwargs: Any) -> Any:
    """Call a domain function inside org A as `user` (olive by default)."""
    with tenant_scope(cast.org_a):
        return function(*args, actor=cast.actor(user or cast.olive), **kwargs)


def stages_of(cast: Cast) -> dict[str, Stage]:
    """The default pipeline's stages by name: Qualification, Proposal, Negotiation, Won, Lost."""
    with tenant_scope(cast.org_a):
        pipeline = pipeline_default(cast.actor(cast.olive))
        return {stage.name: stage for stage in pipeline.stages.all()}


def board_columns(html: str) -> dict[str, list[str]]:
    """The deal ids on the board, by the stage id of their column."""
    return {stage: CARD.findall(body) for stage, body in SECTION.findall(html)}


def fresh[M: Any](cast: Cast, record: M) -> M:
    with tenant_scope(cast.org_a):
        return type(record).objects.get(pk=record.pk)


def audit_actions(cast: Cast, object_id: Any = None) -> list[str]:
    with tenant_scope(cast.org_a):
        entries = AuditEntry.objects.order_by("seq")
        if object_id is not None:
            entries = entries.filter(object_id=str(object_id))
        return list(entries.values_list("action", flat=True))


def crm_state(cast: Cast) -> dict[str, Any]:
    """Every CRM row of org A and the length of its audit log: what a denied request must not change."""
    with tenant_scope(cast.org_a):
        state: dict[str, Any] = {
            model.__name__: list(
                model.objects.order_by("pk").values_list(*[f.attname for f in model._meta.concrete_fields])
            )
            for model in (Activity, Company, Contact, Deal, DealStageChange, Lead, Pipeline, Stage)
        }
        state["audit"] = AuditEntry.objects.count()
    return state
