"""/dashboard: the sales figures of the staff UI's home page, as JSON."""

from __future__ import annotations

import zoneinfo
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from custos.accounts.models import User
from custos.api.rendering import actor_of, money, record_filter
from custos.core.actor import Actor
from custos.crm.selectors.dashboard import Dashboard, Money, dashboard
from custos.crm.selectors.deals import access_pipeline

router = Router(tags=["crm"])

MONEY = 'Text with two decimals, e.g. "1250.50".'
HIDDEN = "Null when the caller may not see it (no right to the records, or the field is hidden from their role)."


class MoneyOut(Schema):
    currency: str = Field(description="ISO 4217. Amounts in different currencies are never added together.")
    amount: str = Field(description=MONEY)


class QuarterOut(Schema):
    year: int
    number: int = Field(description="1 to 4.")
    first_day: date
    last_day: date


class PipelineRef(Schema):
    id: str
    name: str


class StageFigureOut(Schema):
    stage: str = Field(description="The stage's id.")
    name: str
    probability: int = Field(description="Per cent, 0 to 100.")
    count: int = Field(description="Open deals in the stage.")
    value: list[MoneyOut] | None = Field(description="Their amounts per currency; null when amounts are hidden.")
    weighted: list[MoneyOut] | None = Field(description="The value times the stage's probability, per currency.")


class WinRateOut(Schema):
    won_this_quarter: int
    lost_this_quarter: int
    rate_this_quarter: float | None = Field(description="won / (won + lost), 0 to 1; null when none closed.")
    won_all_time: int
    lost_all_time: int
    rate_all_time: float | None


class ExpectedRevenueOut(Schema):
    currency: str
    weighted_open: str = Field(
        description="Open deals expected to close this quarter, each amount times its stage's probability. " + MONEY
    )
    won: str = Field(description="Deals won this quarter. " + MONEY)
    total: str = Field(description="weighted_open + won. " + MONEY)


class FunnelStepOut(Schema):
    step: str = Field(description="leads, qualified, converted or won, in that order.")
    count: int | None = Field(description="Null for won when the caller may not see deals or their status.")


class SourceOut(Schema):
    source: str = Field(description="manual, web_form, import, api, referral, event or other.")
    count: int


class TasksDueOut(Schema):
    overdue: int = Field(description="Open tasks due before today began, as My day counts them.")
    today: int = Field(description="Due today, from its first moment to its end.")
    upcoming: int = Field(description="Due in the 7 days after today.")


class DashboardOut(Schema):
    time_zone: str = Field(description="The caller's time zone, in which the quarter and today are reckoned.")
    quarter: QuarterOut
    pipelines: list[PipelineRef] = Field(description="Every pipeline, to choose from with `pipeline`.")
    pipeline: PipelineRef | None = Field(description="The pipeline the deal figures are of.")
    amounts_visible: bool = Field(description="False when the caller's role may not see deal amounts: no money then.")
    pipeline_by_stage: list[StageFigureOut] | None = Field(description="Open stages in order. " + HIDDEN)
    open_value: list[MoneyOut] | None = Field(description="All open deals of the pipeline, per currency. " + HIDDEN)
    win_rate: WinRateOut | None = Field(description=HIDDEN)
    expected_revenue: list[ExpectedRevenueOut] | None = Field(description="Per currency. " + HIDDEN)
    funnel: list[FunnelStepOut] | None = Field(description="Of every lead the caller may see. " + HIDDEN)
    leads_by_source: list[SourceOut] | None = Field(description="Most first. " + HIDDEN)
    tasks_due: TasksDueOut | None = Field(
        description="Open tasks of the people whose records the caller sees. " + HIDDEN
    )


def _money(amounts: tuple[Money, ...] | None) -> list[dict[str, Any]] | None:
    if amounts is None:
        return None
    return [{"currency": m.currency, "amount": money(m.amount)} for m in amounts]


def _rate(rate: Decimal | None) -> float | None:
    return float(rate) if rate is not None else None


def dashboard_out(figures: Dashboard) -> dict[str, Any]:
    quarter = figures.quarter
    win_rate = figures.win_rate
    return {
        "time_zone": figures.time_zone,
        "quarter": {
            "year": quarter.year,
            "number": quarter.number,
            "first_day": quarter.first_day,
            "last_day": quarter.last_day,
        },
        "pipelines": [{"id": str(p.pk), "name": p.name} for p in figures.pipelines],
        "pipeline": {"id": str(figures.pipeline.pk), "name": figures.pipeline.name} if figures.pipeline else None,
        "amounts_visible": figures.amounts_visible,
        "pipeline_by_stage": None
        if figures.pipeline_by_stage is None
        else [
            {
                "stage": str(s.stage_id),
                "name": s.name,
                "probability": s.probability,
                "count": s.count,
                "value": _money(s.value),
                "weighted": _money(s.weighted),
            }
            for s in figures.pipeline_by_stage
        ],
        "open_value": _money(figures.open_value),
        "win_rate": None
        if win_rate is None
        else {
            "won_this_quarter": win_rate.won_this_quarter,
            "lost_this_quarter": win_rate.lost_this_quarter,
            "rate_this_quarter": _rate(win_rate.this_quarter),
            "won_all_time": win_rate.won_all_time,
            "lost_all_time": win_rate.lost_all_time,
            "rate_all_time": _rate(win_rate.all_time),
        },
        "expected_revenue": None
        if figures.expected_revenue is None
        else [
            {
                "currency": e.currency,
                "weighted_open": money(e.weighted_open),
                "won": money(e.won),
                "total": money(e.total),
            }
            for e in figures.expected_revenue
        ],
        "funnel": None if figures.funnel is None else [{"step": s.key, "count": s.count} for s in figures.funnel],
        "leads_by_source": None
        if figures.leads_by_source is None
        else [{"source": s.source, "count": s.count} for s in figures.leads_by_source],
        "tasks_due": None
        if figures.tasks_due is None
        else {
            "overdue": figures.tasks_due.overdue,
            "today": figures.tasks_due.today,
            "upcoming": figures.tasks_due.upcoming,
        },
    }


def _zone_of(actor: Actor) -> zoneinfo.ZoneInfo:
    """The caller's own time zone, as their profile sets it for the staff UI."""
    name = User.objects.filter(pk=actor.member_id).values_list("time_zone", flat=True).first() or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@router.get("/dashboard", response=DashboardOut, summary="Sales figures: pipeline, funnel, win rate, revenue")
def get_dashboard(request: HttpRequest, pipeline: str | None = None) -> dict[str, Any]:
    """The figures of the staff UI's home page, within the caller's record scope: open deals by
    stage, win rate, revenue expected this quarter (open deals due to close in it weighted by
    stage probability, plus deals won in it), the lead funnel, leads by source and tasks due.
    Deal figures are of one pipeline: `pipeline`, or the default one. Needs a token that may
    read the crm area (`read` or `crm:read`)."""
    actor = actor_of(request)
    chosen = None
    if actor.can("deal.view"):
        chosen = record_filter(
            "pipeline", pipeline, lambda pk: access_pipeline(actor, pk), _("Choose an existing pipeline.")
        )
    return dashboard_out(dashboard(actor, pipeline_id=chosen.pk if chosen else None, zone=_zone_of(actor)))
