"""Reads of pipelines and deals, the board included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from custos.core.actor import Actor
from custos.core.errors import FieldError, ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.crm.models import Deal, DealStageChange, Pipeline, Stage
from custos.crm.selectors.filters import filter_list
from custos.crm.selectors.records import scoped, search

BOARD_CARDS_PER_STAGE = 50


def access_deal(actor: Actor, deal_id: Any, *, write: bool = False) -> Deal:
    actor.require("deal.change" if write else "deal.view")
    return get_or_not_found(
        scoped(actor, Deal.objects.select_related("stage", "pipeline", "company", "contact")), pk=deal_id
    )


def _require_pipelines_visible(actor: Actor) -> None:
    """Whoever may see deals may see the stages they sit in."""
    if not actor.can("deal.view"):
        actor.require("pipeline.view")


def access_pipeline(actor: Actor, pipeline_id: Any) -> Pipeline:
    _require_pipelines_visible(actor)
    return get_or_not_found(Pipeline.objects.all(), pk=pipeline_id)


def access_stage(actor: Actor, stage_id: Any) -> Stage:
    _require_pipelines_visible(actor)
    return get_or_not_found(Stage.objects.select_related("pipeline"), pk=stage_id)


def pipeline_list(actor: Actor) -> models.QuerySet[Pipeline]:
    _require_pipelines_visible(actor)
    return Pipeline.objects.prefetch_related("stages").order_by("position", "name")


def deal_list(
    actor: Actor,
    *,
    q: str = "",
    pipeline_id: Any = None,
    stage_id: Any = None,
    status: str = "",
    filters: Mapping[str, Any] | None = None,
) -> models.QuerySet[Deal]:
    actor.require("deal.view")
    # A filter on a field the role may not see would tell its values all the same.
    hidden = actor.hidden_fields_of("deal")
    refused = [name for name, value in (("stage", stage_id), ("status", status)) if value and name in hidden]
    if refused:
        message = _("Your role does not allow this. Ask an administrator of your organisation if you need it.")
        raise ValidationFailed([FieldError(name, message) for name in refused])
    queryset = scoped(actor, Deal.objects.select_related("stage", "company", "contact"))
    queryset = filter_list(actor, "deal", queryset, filters or {})
    if pipeline_id:
        queryset = queryset.filter(pipeline_id=pipeline_id)
    if stage_id:
        queryset = queryset.filter(stage_id=stage_id)
    if status:
        queryset = queryset.filter(status=status)
    return search(actor, "deal", queryset, q).order_by("id")


def deal_history(deal: Deal) -> models.QuerySet[DealStageChange]:
    """Every move of the deal, oldest first: its creation is the first."""
    return (
        DealStageChange.objects.filter(deal=deal).select_related("from_stage", "to_stage").order_by("changed_at", "pk")
    )


@dataclass(frozen=True)
class Column:
    stage: Stage
    deals: list[Deal]
    count: int
    # The sum per currency (never added across them), of all its deals, not only the cards shown.
    totals: tuple[tuple[str, Decimal], ...] = ()

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(code for code, _total in self.totals)


def board(actor: Actor, pipeline: Pipeline, among: models.QuerySet[Deal] | None = None) -> list[Column]:
    """The pipeline's stages, each with its newest deals and the count and sum of all of them;
    `among`: only these deals (a filtered `deal_list`), so that the sums follow the filters."""
    actor.require("deal.view")
    visible = (among if among is not None else scoped(actor, Deal.objects.all())).filter(pipeline=pipeline)
    # Per stage and currency, in one pass.
    totals: dict[Any, dict[str, Any]] = {}
    for row in visible.values("stage_id", "currency").annotate(count=Count("id"), total=Sum("amount")).order_by():
        column = totals.setdefault(row["stage_id"], {"count": 0, "totals": {}})
        column["count"] += row["count"]
        column["totals"][row["currency"]] = row["total"] or Decimal(0)
    # Each column's newest ids through the (org, pipeline, stage, updated_at, id) index, then
    # those cards' rows with their company and contact: joined before the limit, a column read
    # every deal of its stage with every contact and company of the organisation.
    stages = list(pipeline.stages.order_by("position"))
    newest = {
        stage.pk: list(
            visible.filter(stage=stage)
            .order_by("-updated_at", "-id")
            .values_list("pk", flat=True)[:BOARD_CARDS_PER_STAGE]
        )
        for stage in stages
    }
    cards = Deal.objects.select_related("stage", "company", "contact").in_bulk(
        [pk for ids in newest.values() for pk in ids]
    )
    columns = []
    for stage in stages:
        row = totals.get(stage.pk, {})
        columns.append(
            Column(
                stage=stage,
                deals=[cards[pk] for pk in newest[stage.pk] if pk in cards],  # deleted in between: gone
                count=row.get("count", 0),
                totals=tuple(sorted(row.get("totals", {}).items())),
            )
        )
    return columns
