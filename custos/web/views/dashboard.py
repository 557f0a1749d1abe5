"""The signed-in home page: the overview counts and the sales dashboard with its charts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import capfirst
from django.utils.translation import get_language_bidi, pgettext
from django.utils.translation import gettext as _

from custos.core.errors import NotFound
from custos.crm.models import Lead
from custos.crm.selectors.dashboard import Dashboard, Money, dashboard, may_see_dashboard
from custos.web.charts import Chart, Item, bar_chart, percent
from custos.web.selectors import overview
from custos.web.shortcuts import actor_of
from custos.web.templatetags.custos import money, number
from custos.web.views.listing import filter_value


def home(request: HttpRequest) -> HttpResponse:
    if request.actor is None:  # type: ignore[attr-defined]
        return render(request, "web/no_organization.html")
    actor = actor_of(request)
    context: dict[str, Any] = {"overview": overview(actor), "dashboard": None}
    if may_see_dashboard(actor):
        try:
            figures = dashboard(actor, pipeline_id=filter_value(request, "pipeline") or None)
        except NotFound:  # a pipeline gone, or never there: show the default one
            figures = dashboard(actor)
        context["dashboard"] = figures
        context["charts"] = charts(figures, rtl=get_language_bidi())
        context["summary"] = _summary(figures)
    return render(request, "web/home.html", context)


def charts(figures: Dashboard, *, rtl: bool) -> dict[str, Any]:
    """The dashboard's charts, each with its data table, in the reader's language and direction."""
    result: dict[str, Any] = {"stages": _stage_charts(figures, rtl), "funnel": None, "sources": None}
    if figures.funnel is not None:
        result["funnel"] = _funnel_chart(figures, rtl)
    if figures.leads_by_source is not None:
        result["sources"] = _source_chart(figures, rtl)
    return result


def _summary(figures: Dashboard) -> dict[str, Any]:
    """The win rates as the reader's locale writes percentages."""
    rate = figures.win_rate
    if rate is None:
        return {}
    closed = rate.won_this_quarter + rate.lost_this_quarter
    closed_ever = rate.won_all_time + rate.lost_all_time
    return {
        "closed": closed,
        "closed_ever": closed_ever,
        "win_rate": percent(rate.won_this_quarter, closed),
        "win_rate_all_time": percent(rate.won_all_time, closed_ever),
    }


def _stage_charts(figures: Dashboard, rtl: bool) -> list[Chart]:
    """One chart of values per currency (amounts are never added across currencies), or one
    of deal counts when amounts are hidden or no deal has one."""
    stages = figures.pipeline_by_stage
    if stages is None or figures.pipeline is None:
        return []
    name = figures.pipeline.name
    currencies = sorted({m.currency for stage in stages for m in stage.value or ()})
    if not figures.amounts_visible or not currencies:
        return [
            bar_chart(
                id="chart-stages",
                title=_("Open deals by stage"),
                description=_("How many open deals sit in each stage of the pipeline %(pipeline)s.")
                % {"pipeline": name},
                items=[Item(stage.name, stage.count, number(stage.count)) for stage in stages],
                columns=[_("Stage"), _("Probability"), _("Open deals")],
                rows=[[stage.name, percent(stage.probability, 100), number(stage.count)] for stage in stages],
                rtl=rtl,
            )
        ]
    result = []
    for currency in currencies:
        amounts = [(stage, _in(stage.value, currency), _in(stage.weighted, currency)) for stage in stages]
        result.append(
            bar_chart(
                id=f"chart-stages-{currency.lower()}",
                title=_("Pipeline value by stage in %(currency)s") % {"currency": currency},
                description=_(
                    "The amounts of the open deals in %(currency)s in each stage of the pipeline %(pipeline)s."
                )
                % {"currency": currency, "pipeline": name},
                items=[Item(stage.name, value, money(value, currency)) for stage, value, _weighted in amounts],
                columns=[_("Stage"), _("Probability"), _("Value"), _("Weighted value")],
                rows=[
                    [stage.name, percent(stage.probability, 100), money(value, currency), money(weighted, currency)]
                    for stage, value, weighted in amounts
                ],
                rtl=rtl,
            )
        )
    return result


def _in(amounts: tuple[Money, ...] | None, currency: str) -> Decimal:
    return next((m.amount for m in amounts or () if m.currency == currency), Decimal("0.00"))


def _funnel_chart(figures: Dashboard, rtl: bool) -> Chart:
    # A step the reader may not see (won, without the right to deals) is left out, not drawn as nothing.
    steps = [(step.key, step.count) for step in figures.funnel or [] if step.count is not None]
    labels = {
        "leads": pgettext("funnel step", "Leads"),
        "qualified": pgettext("funnel step", "Qualified"),
        "converted": pgettext("funnel step", "Converted"),
        "won": pgettext("funnel step", "Won"),
    }
    first = steps[0][1] if steps else 0
    return bar_chart(
        id="chart-funnel",
        title=_("Conversion funnel"),
        description=_("Of all leads you can see: how many were qualified, converted, and became a won deal."),
        items=[Item(labels[key], count, number(count)) for key, count in steps],
        columns=[_("Step"), _("Leads"), _("Share of all leads")],
        rows=[[labels[key], number(count), percent(count, first)] for key, count in steps],
        rtl=rtl,
        funnel=True,
    )


def _source_chart(figures: Dashboard, rtl: bool) -> Chart:
    names = {value: capfirst(str(label)) for value, label in Lead.Source.choices}
    sources = figures.leads_by_source or []
    return bar_chart(
        id="chart-sources",
        title=_("Leads by source"),
        description=_("How many of the leads you can see came from each source."),
        items=[Item(names.get(s.source, s.source), s.count, number(s.count)) for s in sources],
        columns=[_("Source"), _("Leads")],
        rows=[[names.get(s.source, s.source), number(s.count)] for s in sources],
        rtl=rtl,
    )
