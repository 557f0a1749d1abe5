"""The dashboard's figures: per currency, within the record scope, without hidden amounts,
in the reader's quarter."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from decimal import Decimal

import pytest

from custos.accounts.services import team_create, team_set_members
from custos.accounts.tests.helpers import add_member
from custos.api.tests.helpers import hide
from custos.core.errors import NotFound, PermissionDenied
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Deal
from custos.crm.selectors.dashboard import (
    ExpectedRevenue,
    FunnelStep,
    Money,
    Quarter,
    SourceFigure,
    TasksDue,
    WinRate,
    dashboard,
)
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create, pipeline_create, pipeline_default
from custos.crm.services.leads import lead_convert, lead_create

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
# Mid-May in Berlin: the second quarter, 1 April to 30 June.
NOW = datetime(2026, 5, 15, 12, 0, tzinfo=BERLIN)


def _stages(cast):
    with tenant_scope(cast.org_a):
        return {stage.name: stage for stage in pipeline_default(cast.actor(cast.olive)).stages.all()}


def _deal(cast, stage, *, owner=None, amount=None, currency="EUR", closes=None, closed_at=None, **data):
    owner = owner or cast.olive
    with tenant_scope(cast.org_a):
        deal = deal_create(
            actor=cast.actor(cast.olive),
            data={
                "name": "Deal",
                "stage": str(stage.pk),
                "pipeline": str(stage.pipeline_id),
                "owner": str(owner.pk),
                "currency": currency,
                **({"amount": amount} if amount is not None else {}),
                **({"expected_close": closes} if closes else {}),
                **({"lost_reason": "Price"} if stage.outcome == "lost" else {}),
                **data,
            },
        )
        if closed_at is not None:
            Deal.objects.filter(pk=deal.pk).update(closed_at=closed_at)
    return deal


def _figures(cast, user, **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("zone", BERLIN)
    with tenant_scope(cast.org_a):
        return dashboard(cast.actor(user), **kwargs)


def _values(figures):
    return {stage.name: (stage.count, stage.value) for stage in figures.pipeline_by_stage}


def test_amounts_are_summed_per_currency_never_across(cast):
    stages = _stages(cast)
    _deal(cast, stages["Qualification"], amount="1000.00")
    _deal(cast, stages["Qualification"], amount="500.50")
    _deal(cast, stages["Qualification"], amount="4000.00", currency="PLN")
    _deal(cast, stages["Proposal"], amount="200.00", currency="PLN")
    _deal(cast, stages["Proposal"])  # no amount: counted, adds nothing

    figures = _figures(cast, cast.alice)

    assert _values(figures) == {
        "Qualification": (3, (Money("EUR", Decimal("1500.50")), Money("PLN", Decimal("4000.00")))),
        "Proposal": (2, (Money("PLN", Decimal("200.00")),)),
        "Negotiation": (0, ()),
    }
    qualification = figures.pipeline_by_stage[0]
    assert qualification.weighted == (Money("EUR", Decimal("300.10")), Money("PLN", Decimal("800.00")))
    assert figures.open_value == (Money("EUR", Decimal("1500.50")), Money("PLN", Decimal("4200.00")))


def test_expected_revenue_weighs_open_deals_closing_this_quarter_and_adds_those_won_in_it(cast):
    stages = _stages(cast)
    _deal(cast, stages["Proposal"], amount="1000.00", closes="2026-06-30")  # 50 %: 500
    _deal(cast, stages["Negotiation"], amount="400.00", closes="2026-04-01")  # 75 %: 300
    _deal(cast, stages["Negotiation"], amount="999.00", closes="2026-07-01")  # next quarter
    _deal(cast, stages["Negotiation"], amount="999.00", closes="2026-03-31")  # last quarter
    _deal(cast, stages["Negotiation"], amount="999.00")  # no date: not expected in any quarter
    _deal(cast, stages["Qualification"], amount="1000.00", currency="PLN", closes="2026-05-20")  # 20 %: 200
    _deal(cast, stages["Won"], amount="250.00", closed_at=datetime(2026, 4, 2, 9, tzinfo=BERLIN))
    _deal(cast, stages["Won"], amount="3000.00", currency="PLN", closed_at=datetime(2026, 5, 1, tzinfo=BERLIN))
    _deal(cast, stages["Won"], amount="7777.00", closed_at=datetime(2026, 3, 30, tzinfo=BERLIN))  # last quarter
    _deal(cast, stages["Lost"], amount="8888.00", closed_at=datetime(2026, 4, 3, tzinfo=BERLIN))  # lost adds nothing

    figures = _figures(cast, cast.alice)

    assert figures.expected_revenue == [
        ExpectedRevenue("EUR", weighted_open=Decimal("800.00"), won=Decimal("250.00")),
        ExpectedRevenue("PLN", weighted_open=Decimal("200.00"), won=Decimal("3000.00")),
    ]
    assert [revenue.total for revenue in figures.expected_revenue] == [Decimal("1050.00"), Decimal("3200.00")]


def test_the_win_rate_counts_deals_closed_this_quarter_and_ever(cast):
    stages = _stages(cast)
    for _ in range(3):
        _deal(cast, stages["Won"], closed_at=datetime(2026, 4, 10, tzinfo=BERLIN))
    _deal(cast, stages["Lost"], closed_at=datetime(2026, 6, 30, 23, 59, tzinfo=BERLIN))
    _deal(cast, stages["Lost"], closed_at=datetime(2026, 1, 5, tzinfo=BERLIN))
    _deal(cast, stages["Proposal"])  # open: neither

    rate = _figures(cast, cast.alice).win_rate

    assert rate == WinRate(won_this_quarter=3, lost_this_quarter=1, won_all_time=3, lost_all_time=2)
    assert (rate.this_quarter, rate.all_time) == (Decimal("0.7500"), Decimal("0.6000"))


def test_nothing_closed_has_no_rate_rather_than_zero(cast):
    _stages(cast)
    rate = _figures(cast, cast.alice).win_rate
    assert (rate.this_quarter, rate.all_time) == (None, None)


def test_the_quarter_is_the_readers_a_deal_closed_at_midnight_falls_on_their_side_of_it(cast):
    stages = _stages(cast)
    # 31 March 22:30 UTC is already 1 April in Berlin (00:30), still 31 March in London.
    _deal(
        cast, stages["Won"], amount="100.00", closed_at=datetime(2026, 3, 31, 22, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))
    )
    _deal(cast, stages["Proposal"], amount="1000.00", closes="2026-04-01")

    april_first_in_berlin = datetime(2026, 4, 1, 0, 45, tzinfo=BERLIN)
    in_berlin = _figures(cast, cast.alice, now=april_first_in_berlin, zone=BERLIN)
    in_london = _figures(cast, cast.alice, now=april_first_in_berlin, zone=zoneinfo.ZoneInfo("Europe/London"))

    assert (in_berlin.quarter.number, in_berlin.quarter.first_day) == (2, date(2026, 4, 1))
    assert in_berlin.expected_revenue == [ExpectedRevenue("EUR", Decimal("500.00"), Decimal("100.00"))]
    assert in_berlin.win_rate.won_this_quarter == 1
    assert (in_london.quarter.number, in_london.quarter.last_day) == (1, date(2026, 3, 31))
    assert in_london.expected_revenue == [ExpectedRevenue("EUR", Decimal("0.00"), Decimal("100.00"))]


def test_quarters_start_and_end_where_the_calendar_says():
    assert [(q.first_day, q.last_day) for q in (Quarter.of(date(2026, m, 15), BERLIN) for m in (1, 4, 8, 12))] == [
        (date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 7, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 12, 31)),
    ]
    last = Quarter.of(date(2026, 12, 31), WARSAW)
    assert (last.starts_at, last.ends_at) == (
        datetime(2026, 10, 1, tzinfo=WARSAW),
        datetime(2027, 1, 1, tzinfo=WARSAW),
    )


def test_own_scope_counts_only_ones_own_records(cast):
    stages = _stages(cast)
    _deal(cast, stages["Proposal"], owner=cast.sam, amount="100.00", closes="2026-05-01")
    _deal(cast, stages["Proposal"], owner=cast.olive, amount="900.00", closes="2026-05-01")
    _deal(cast, stages["Won"], owner=cast.olive, amount="900.00", closed_at=NOW)
    _lead(cast, owner=cast.sam, source="referral")
    _lead(cast, owner=cast.olive, source="event")
    _task(cast, owner=cast.sam, due=datetime(2026, 5, 14, tzinfo=BERLIN))
    _task(cast, owner=cast.olive, due=datetime(2026, 5, 14, tzinfo=BERLIN))

    sams = _figures(cast, cast.sam)
    olives = _figures(cast, cast.olive)

    assert _values(sams)["Proposal"] == (1, (Money("EUR", Decimal("100.00")),))
    assert sams.expected_revenue == [ExpectedRevenue("EUR", Decimal("50.00"), Decimal("0.00"))]
    assert sams.win_rate.won_all_time == 0
    assert sams.leads_by_source == [SourceFigure("referral", 1)]
    assert sams.funnel[0] == FunnelStep("leads", 1)
    assert sams.tasks_due == TasksDue(overdue=1, today=0, upcoming=0)
    assert _values(olives)["Proposal"] == (2, (Money("EUR", Decimal("1000.00")),))
    assert olives.win_rate.won_all_time == 1
    assert olives.tasks_due.overdue == 2


def test_team_scope_counts_the_team_mates_records(cast):
    stages = _stages(cast)
    mia = add_member(cast, "mia@acme.example", "manager")
    tom = add_member(cast, "tom@acme.example", "sales")
    with tenant_scope(cast.org_a):
        team = team_create(actor=cast.actor(cast.olive), name="North")
        team_set_members(actor=cast.actor(cast.olive), team=team, user_ids={mia.pk, cast.sam.pk})
    _deal(cast, stages["Proposal"], owner=cast.sam, amount="100.00")
    _deal(cast, stages["Proposal"], owner=mia, amount="10.00")
    _deal(cast, stages["Proposal"], owner=tom, amount="1.00")
    _lead(cast, owner=cast.sam, source="referral")
    _lead(cast, owner=tom, source="referral")

    figures = _figures(cast, mia)

    assert _values(figures)["Proposal"] == (2, (Money("EUR", Decimal("110.00")),))
    assert figures.leads_by_source == [SourceFigure("referral", 1)]


def test_hidden_amounts_leave_no_money_figure_at_all(cast):
    stages = _stages(cast)
    hide(cast, "sales", "deal.amount")
    _deal(cast, stages["Proposal"], owner=cast.sam, amount="100.00", closes="2026-05-01")
    _deal(cast, stages["Won"], owner=cast.sam, amount="100.00", closed_at=NOW)

    figures = _figures(cast, cast.sam)

    assert figures.amounts_visible is False
    assert figures.expected_revenue is None and figures.open_value is None
    assert [(s.name, s.count, s.value, s.weighted) for s in figures.pipeline_by_stage] == [
        ("Qualification", 0, None, None),
        ("Proposal", 1, None, None),
        ("Negotiation", 0, None, None),
    ]
    assert figures.win_rate.won_this_quarter == 1  # counts stay


def test_the_funnel_follows_leads_to_won_deals(cast):
    stages = _stages(cast)
    _lead(cast, owner=cast.olive)
    _lead(cast, owner=cast.olive, status="qualified")
    _lead(cast, owner=cast.olive, status="disqualified", disqualified_reason="No budget")
    won = _lead(cast, owner=cast.olive, status="qualified")
    open_ = _lead(cast, owner=cast.olive)
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        deal = lead_convert(actor=actor, lead=won, deal_name="Won one").deal
        lead_convert(actor=actor, lead=open_, deal_name="Still open")
        Deal.objects.filter(pk=deal.pk).update(stage=stages["Won"], status="won", closed_at=NOW)

    assert _figures(cast, cast.alice).funnel == [
        FunnelStep("leads", 5),
        FunnelStep("qualified", 3),
        FunnelStep("converted", 2),
        FunnelStep("won", 1),
    ]


def test_the_won_step_is_none_for_a_reader_who_may_not_see_deals(cast):
    """It is read from the deals' status: a role without them learns nothing of it."""
    from dataclasses import replace

    stages = _stages(cast)
    won = _lead(cast, owner=cast.olive, status="qualified")
    with tenant_scope(cast.org_a):
        deal = lead_convert(actor=cast.actor(cast.olive), lead=won, deal_name="Won one").deal
        Deal.objects.filter(pk=deal.pk).update(stage=stages["Won"], status="won", closed_at=NOW)
        alice = cast.actor(cast.alice)
        no_deals = replace(alice, permissions=alice.permissions - {"deal.view"})
        figures = dashboard(no_deals, now=NOW, zone=BERLIN)
    hide(cast, "admin", "deal.status")

    assert figures.funnel == [
        FunnelStep("leads", 1),
        FunnelStep("qualified", 1),
        FunnelStep("converted", 1),
        FunnelStep("won", None),
    ]
    assert _figures(cast, cast.alice).funnel[-1] == FunnelStep("won", None)


def test_tasks_due_are_split_at_the_start_and_the_end_of_the_readers_day(cast):
    for due in (
        datetime(2026, 5, 14, 23, 59, tzinfo=BERLIN),  # overdue: due yesterday
        datetime(2026, 5, 15, 0, 0, tzinfo=BERLIN),  # today, though its moment has passed
        datetime(2026, 5, 15, 23, 59, tzinfo=BERLIN),  # later today
        datetime(2026, 5, 16, 0, 0, tzinfo=BERLIN),  # tomorrow
        datetime(2026, 5, 22, 23, 59, tzinfo=BERLIN),  # the seventh day after today
        datetime(2026, 5, 23, 0, 0, tzinfo=BERLIN),  # later: not counted
    ):
        _task(cast, owner=cast.olive, due=due)
    done = _task(cast, owner=cast.olive, due=datetime(2026, 5, 1, tzinfo=BERLIN))
    with tenant_scope(cast.org_a):
        Activity.objects.filter(pk=done.pk).update(done_at=NOW)

    assert _figures(cast, cast.alice).tasks_due == TasksDue(overdue=1, today=2, upcoming=2)


def test_a_task_due_today_by_date_alone_is_due_today_as_my_day_lists_it(cast):
    """Not overdue from 00:01 on: the dashboard and My day draw the line at the same moment."""
    from django.utils import timezone

    from custos.crm.selectors.activities import my_day

    with tenant_scope(cast.org_a), timezone.override(BERLIN):
        task = activity_create(
            actor=cast.actor(cast.olive),
            data={"kind": "task", "title": "Call back", "owner": str(cast.olive.pk), "due_at": "2026-05-15"},
        )
    assert task.due_at == datetime(2026, 5, 15, tzinfo=BERLIN)
    a_minute_in = datetime(2026, 5, 15, 0, 1, tzinfo=BERLIN)

    with timezone.override(BERLIN):
        assert _figures(cast, cast.olive, now=a_minute_in).tasks_due == TasksDue(overdue=0, today=1, upcoming=0)
        with tenant_scope(cast.org_a):
            assert list(my_day(cast.actor(cast.olive), now=a_minute_in)) == [task]
    next_day = datetime(2026, 5, 16, 0, 1, tzinfo=BERLIN)
    assert _figures(cast, cast.olive, now=next_day).tasks_due == TasksDue(overdue=1, today=0, upcoming=0)


def test_another_pipeline_is_chosen_by_id_and_a_foreign_one_is_not_found(cast):
    _stages(cast)
    with tenant_scope(cast.org_a):
        other = pipeline_create(
            actor=cast.actor(cast.olive),
            name="Renewals",
            stages=[{"name": "Due", "probability": 90}, {"name": "Renewed", "outcome": "won"}],
        )
        due = other.stages.get(name="Due")
    _deal(cast, due, amount="10.00", closes="2026-06-01")
    with tenant_scope(cast.org_b):
        foreign = pipeline_default(cast.actor(cast.mallory))

    figures = _figures(cast, cast.alice, pipeline_id=other.pk)

    assert figures.pipeline == other
    assert [p.name for p in figures.pipelines] == ["Sales", "Renewals"]
    assert _values(figures) == {"Due": (1, (Money("EUR", Decimal("10.00")),))}
    assert figures.expected_revenue == [ExpectedRevenue("EUR", Decimal("9.00"), Decimal("0.00"))]
    assert _values(_figures(cast, cast.alice))["Proposal"] == (0, ())  # the default pipeline by default
    with pytest.raises(NotFound):
        _figures(cast, cast.alice, pipeline_id=foreign.pk)


def test_a_role_without_crm_records_may_not_see_it_and_one_without_deals_sees_only_the_rest(cast):
    accountant = add_member(cast, "ada@acme.example", "accountant")
    with pytest.raises(PermissionDenied):
        _figures(cast, accountant)

    hide(cast, "sales", "lead.source")
    figures = _figures(cast, cast.sam)
    assert figures.leads_by_source is None and figures.funnel is not None


def test_the_figures_take_the_same_few_queries_however_many_deals(cast, django_assert_num_queries):
    """Pipelines, their stages, open deals, closed deals (each by currency), the leads by status
    and source, the won ones among them, the tasks."""
    stages = _stages(cast)
    _deal(cast, stages["Proposal"], amount="1.00")
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        with django_assert_num_queries(7):
            dashboard(actor, now=NOW, zone=BERLIN)
    for _ in range(20):
        _deal(cast, stages["Negotiation"], amount="1.00", closes="2026-05-01")
        _lead(cast, owner=cast.olive)
    with tenant_scope(cast.org_a), django_assert_num_queries(7):
        dashboard(actor, now=NOW, zone=BERLIN)


def _lead(cast, *, owner, source="manual", **data):
    with tenant_scope(cast.org_a):
        return lead_create(
            actor=cast.actor(cast.olive),
            data={"last_name": "Lead", "owner": str(owner.pk), "source": source, **data},
        )


def _task(cast, *, owner, due):
    with tenant_scope(cast.org_a):
        task = activity_create(
            actor=cast.actor(cast.olive),
            data={"kind": "task", "title": "Call back", "owner": str(owner.pk), "due_at": due.isoformat()},
        )
        Activity.objects.filter(pk=task.pk).update(due_at=due)
    return task
