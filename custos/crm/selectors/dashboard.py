"""The sales dashboard: pipeline value by stage, funnel, win rate, leads by source, tasks due
and the revenue expected this quarter, all aggregated in the database.

Every figure counts only records inside the actor's record scope. Money is summed per
currency, never across currencies, and left out altogether when the actor's role may not
see deal amounts. "This quarter" is the calendar quarter in the given time zone (the
reader's), both for dates (expected close) and moments (closed at, due at).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from custos.core.actor import Actor, RecordScope
from custos.core.errors import PermissionDenied
from custos.crm.models import Activity, Deal, Lead, Pipeline
from custos.crm.selectors.deals import access_pipeline, pipeline_list
from custos.crm.selectors.records import scoped

CENT = Decimal("0.01")
UPCOMING_DAYS = 7
# A lead that got this far has passed qualification, whatever status it holds now.
QUALIFIED_STATUSES = (Lead.Status.QUALIFIED, Lead.Status.CONVERTED)
FUNNEL_STEPS = ("leads", "qualified", "converted", "won")
# Any one of these lets a member see the dashboard; each figure needs its own.
DASHBOARD_PERMISSIONS = ("deal.view", "lead.view", "activity.view")


@dataclass(frozen=True)
class Money:
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter in one time zone: its dates, and the moments it starts and ends."""

    year: int
    number: int
    first_day: date
    last_day: date
    starts_at: datetime
    ends_at: datetime  # exclusive: the first moment of the next quarter

    @classmethod
    def of(cls, day: date, zone: tzinfo) -> Quarter:
        number = (day.month - 1) // 3 + 1
        first_day = date(day.year, 3 * number - 2, 1)
        next_first = date(day.year + 1, 1, 1) if number == 4 else date(day.year, 3 * number + 1, 1)
        return cls(
            year=day.year,
            number=number,
            first_day=first_day,
            last_day=next_first - timedelta(days=1),
            starts_at=timezone.make_aware(datetime.combine(first_day, time.min), zone),
            ends_at=timezone.make_aware(datetime.combine(next_first, time.min), zone),
        )


@dataclass(frozen=True)
class StageFigure:
    """The open deals sitting in one stage; money per currency, None when amounts are hidden."""

    stage_id: Any
    name: str
    probability: int
    count: int
    value: tuple[Money, ...] | None
    weighted: tuple[Money, ...] | None


@dataclass(frozen=True)
class WinRate:
    """Deals won and lost, closed this quarter and ever; the rate is won / (won + lost)."""

    won_this_quarter: int
    lost_this_quarter: int
    won_all_time: int
    lost_all_time: int

    @staticmethod
    def _rate(won: int, lost: int) -> Decimal | None:
        return (Decimal(won) / Decimal(won + lost)).quantize(Decimal("0.0001")) if won + lost else None

    @property
    def this_quarter(self) -> Decimal | None:
        return self._rate(self.won_this_quarter, self.lost_this_quarter)

    @property
    def all_time(self) -> Decimal | None:
        return self._rate(self.won_all_time, self.lost_all_time)


@dataclass(frozen=True)
class ExpectedRevenue:
    """One currency's revenue expected this quarter: open deals due to close in it, weighted
    by their stage's probability, plus what was won in it."""

    currency: str
    weighted_open: Decimal
    won: Decimal

    @property
    def total(self) -> Decimal:
        return self.weighted_open + self.won


@dataclass(frozen=True)
class FunnelStep:
    key: str  # leads, qualified, converted, won
    count: int | None  # None for "won" when the actor may not see deals' status


@dataclass(frozen=True)
class SourceFigure:
    source: str
    count: int


@dataclass(frozen=True)
class TasksDue:
    """Open tasks of the people in the actor's scope, by when they are due."""

    overdue: int
    today: int
    upcoming: int  # after today, within UPCOMING_DAYS


@dataclass(frozen=True)
class Dashboard:
    """The figures one actor may see; a figure they have no right to is None."""

    time_zone: str
    quarter: Quarter
    pipelines: list[Pipeline]
    pipeline: Pipeline | None
    amounts_visible: bool
    pipeline_by_stage: list[StageFigure] | None
    open_value: tuple[Money, ...] | None
    win_rate: WinRate | None
    expected_revenue: list[ExpectedRevenue] | None
    funnel: list[FunnelStep] | None
    leads_by_source: list[SourceFigure] | None
    tasks_due: TasksDue | None


def may_see_dashboard(actor: Actor) -> bool:
    return any(actor.can(permission) for permission in DASHBOARD_PERMISSIONS)


def dashboard(
    actor: Actor, *, pipeline_id: Any = None, zone: tzinfo | None = None, now: datetime | None = None
) -> Dashboard:
    """The dashboard of one pipeline (the default one without an id) in the time zone given
    (the active one by default). Seven aggregate queries, however many deals there are."""
    if not may_see_dashboard(actor):
        raise PermissionDenied("deal.view")
    zone = zone or timezone.get_current_timezone()
    now = (now or timezone.now()).astimezone(zone)
    quarter = Quarter.of(now.date(), zone)
    amounts_visible = actor.may_see_field("deal", "amount")
    pipelines: list[Pipeline] = []
    pipeline = None
    if actor.can("deal.view"):
        pipelines = list(pipeline_list(actor))
        if pipeline_id:
            chosen = access_pipeline(actor, pipeline_id)
            pipeline = next((p for p in pipelines if p.pk == chosen.pk), chosen)  # with its stages fetched
        else:
            pipeline = next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)
    by_stage = expected = None
    win_rate = None
    open_value = None
    if pipeline is not None:
        by_stage, expected = _open_deals(actor, pipeline, quarter, amounts_visible)
        win_rate, won = _closed_deals(actor, pipeline, quarter, amounts_visible)
        expected = _with_won(expected, won)
        open_value = _add_up(money for figure in by_stage for money in figure.value or ())
        if not amounts_visible:
            by_stage = [replace(figure, value=None, weighted=None) for figure in by_stage]
    funnel, by_source = _leads(
        actor,
        funnel=actor.can("lead.view") and actor.may_see_field("lead", "status"),
        won=actor.can("deal.view") and actor.may_see_field("deal", "status"),
        sources=actor.can("lead.view") and actor.may_see_field("lead", "source"),
    )
    return Dashboard(
        time_zone=str(zone),
        quarter=quarter,
        pipelines=pipelines,
        pipeline=pipeline,
        amounts_visible=amounts_visible,
        pipeline_by_stage=by_stage if actor.may_see_field("deal", "stage") else None,
        open_value=open_value if amounts_visible else None,
        # Won against lost is what a hidden status keeps from the role.
        win_rate=win_rate if actor.may_see_field("deal", "status") else None,
        expected_revenue=expected if amounts_visible else None,
        funnel=funnel,
        leads_by_source=by_source,
        tasks_due=_tasks_due(actor, now, zone) if actor.can("activity.view") else None,
    )


def _owners(actor: Actor, path: str = "owner_id") -> Q:
    """The same narrowing as `scoped`, for a related record's owner."""
    if actor.record_scope == RecordScope.ALL:
        return Q()
    if actor.record_scope == RecordScope.TEAM:
        return Q(**{f"{path}__in": actor.team_member_ids})
    return Q(**{path: actor.user_id})


def _open_deals(
    actor: Actor, pipeline: Pipeline, quarter: Quarter, amounts_visible: bool
) -> tuple[list[StageFigure], list[ExpectedRevenue]]:
    """Open deals by stage and currency (one query): counts, sums per currency, and the part
    of each sum expected to close this quarter, weighted by the stage's probability. With
    amounts hidden, counts only."""
    closing = Q(expected_close__gte=quarter.first_day, expected_close__lte=quarter.last_day)
    rows = (
        scoped(actor, Deal.objects.filter(pipeline=pipeline, status=Deal.Status.OPEN))
        .values("stage_id", "currency")
        .annotate(count=Count("id"), total=Sum("amount"), closing=Sum("amount", filter=closing))
        .order_by()
    )
    by_stage: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_stage[row["stage_id"]].append(row)
    figures = []
    weighted_closing: dict[str, Decimal] = defaultdict(Decimal)
    for stage in pipeline.stages.all():
        if stage.outcome != stage.Outcome.OPEN:
            continue
        in_stage = sorted(by_stage.get(stage.pk, []), key=lambda row: row["currency"])
        value: tuple[Money, ...] = ()
        if amounts_visible:
            value = tuple(Money(row["currency"], row["total"]) for row in in_stage if row["total"] is not None)
            for row in in_stage:
                if row["closing"] is not None:
                    weighted_closing[row["currency"]] += row["closing"] * stage.probability / 100
        weighted = tuple(Money(m.currency, _weigh(m.amount, stage.probability)) for m in value)
        count = sum(row["count"] for row in in_stage)
        figures.append(StageFigure(stage.pk, stage.name, stage.probability, count, value, weighted))
    expected = [ExpectedRevenue(c, a.quantize(CENT), Decimal("0.00")) for c, a in sorted(weighted_closing.items())]
    return figures, expected


def _closed_deals(
    actor: Actor, pipeline: Pipeline, quarter: Quarter, amounts_visible: bool
) -> tuple[WinRate, dict[str, Decimal]]:
    """Won and lost deals, ever and this quarter, and the amounts won this quarter per
    currency (one query, by status and currency)."""
    this_quarter = Q(closed_at__gte=quarter.starts_at, closed_at__lt=quarter.ends_at)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "in_quarter": 0})
    won: dict[str, Decimal] = {}
    for row in (
        scoped(actor, Deal.objects.filter(pipeline=pipeline, status__in=[Deal.Status.WON, Deal.Status.LOST]))
        .values("status", "currency")
        .annotate(
            count=Count("id"), in_quarter=Count("id", filter=this_quarter), won=Sum("amount", filter=this_quarter)
        )
        .order_by()
    ):
        totals[row["status"]]["count"] += row["count"]
        totals[row["status"]]["in_quarter"] += row["in_quarter"]
        if amounts_visible and row["status"] == Deal.Status.WON and row["won"] is not None:
            won[row["currency"]] = row["won"]
    rate = WinRate(
        won_this_quarter=totals[Deal.Status.WON]["in_quarter"],
        lost_this_quarter=totals[Deal.Status.LOST]["in_quarter"],
        won_all_time=totals[Deal.Status.WON]["count"],
        lost_all_time=totals[Deal.Status.LOST]["count"],
    )
    return rate, won


def _with_won(expected: list[ExpectedRevenue], won: dict[str, Decimal]) -> list[ExpectedRevenue]:
    weighted = {e.currency: e.weighted_open for e in expected}
    currencies = sorted(set(weighted) | set(won))
    return [
        ExpectedRevenue(c, weighted.get(c, Decimal("0.00")), won.get(c, Decimal("0.00")).quantize(CENT))
        for c in currencies
    ]


def _weigh(amount: Decimal, probability: int) -> Decimal:
    return (amount * probability / 100).quantize(CENT)


def _add_up(amounts: Any) -> tuple[Money, ...]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for money in amounts:
        sums[money.currency] += money.amount
    return tuple(Money(c, a) for c, a in sorted(sums.items()))


def _leads(
    actor: Actor, *, funnel: bool, won: bool, sources: bool
) -> tuple[list[FunnelStep] | None, list[SourceFigure] | None]:
    """Every lead in scope, how many got to each step of the funnel, and how many came from each
    source: leads counted by status and source (their index alone: 300,000 leads in 30-40 ms
    where one pass over the rows with their deals joined took 130), then the converted ones
    whose deal is won and in scope too. That last step is read from deals: without the right
    to see their status (`won` false), it stays None rather than tell it."""
    if not (funnel or sources):
        return None, None
    leads = scoped(actor, Lead.objects.all())
    by_status: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    for row in leads.values("status", "source").annotate(count=Count("*")).order_by():  # the index alone
        by_status[row["status"]] += row["count"]
        by_source[row["source"]] += row["count"]
    steps = None
    if funnel:
        counts: dict[str, int | None] = {
            "leads": sum(by_status.values()),
            "qualified": sum(by_status[status] for status in QUALIFIED_STATUSES),
            "converted": by_status[Lead.Status.CONVERTED],
            "won": None,
        }
        if won:
            counts["won"] = leads.filter(
                Q(status=Lead.Status.CONVERTED, converted_deal__status=Deal.Status.WON)
                & _owners(actor, "converted_deal__owner_id")
            ).count()
        steps = [FunnelStep(key, counts[key]) for key in FUNNEL_STEPS]
    figures = None
    if sources:
        found = [SourceFigure(value, by_source[value]) for value in Lead.Source.values]
        figures = sorted((f for f in found if f.count), key=lambda f: (-f.count, f.source))
    return steps, figures


def _tasks_due(actor: Actor, now: datetime, zone: tzinfo) -> TasksDue:
    """Open tasks owned by the people in the actor's scope: overdue, due today, due in the
    coming days (one query). Each is visible to the actor, as its owner is in scope.

    Overdue means due before today began in the reader's zone, as My day reckons it: a task
    due today (often a date alone, stored as midnight) is due today until the day is over."""
    today = timezone.make_aware(datetime.combine(now.date(), time.min), zone)
    tomorrow = timezone.make_aware(datetime.combine(now.date() + timedelta(days=1), time.min), zone)
    horizon = tomorrow + timedelta(days=UPCOMING_DAYS)
    totals = Activity.objects.filter(
        _owners(actor), kind=Activity.Kind.TASK, done_at__isnull=True, due_at__lt=horizon
    ).aggregate(
        overdue=Count("id", filter=Q(due_at__lt=today)),
        today=Count("id", filter=Q(due_at__gte=today, due_at__lt=tomorrow)),
        upcoming=Count("id", filter=Q(due_at__gte=tomorrow)),
    )
    return TasksDue(overdue=totals["overdue"], today=totals["today"], upcoming=totals["upcoming"])
