"""The home page's dashboard: charts drawn as accessible SVG, their numbers in a table a
screen reader reads, money per currency and only for those who may see it."""

from __future__ import annotations

import re
from html import unescape

from django.conf import settings
from django.utils import timezone

from custos.accounts.tests.helpers import add_member
from custos.api.tests.helpers import hide
from custos.core.tenancy import tenant_scope
from custos.crm.services.deals import deal_create, pipeline_create
from custos.crm.services.leads import lead_create
from custos.testing import enable_two_factor, web_client
from custos.web.charts import LABEL_WIDTH, WIDTH
from custos.web.tests.sales import stages_of

SVG = re.compile(r"<svg class=\"chart-svg\"(?P<attributes>[^>]*)>(?P<body>.*?)</svg>", re.S)
TABLE = re.compile(r'<table class="visually-hidden" id="(?P<id>[^"]+)-data">(?P<body>.*?)</table>', re.S)
ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
RECT = re.compile(r'<rect class="chart-bar[^"]*" x="(?P<x>[\d.]+)" y="[\d.]+" width="(?P<width>[\d.]+)"')


def _deal(cast, stage, amount=None, currency="EUR", owner=None, **data):
    with tenant_scope(cast.org_a):
        return deal_create(
            actor=cast.actor(cast.olive),
            data={
                "name": "Deal",
                "stage": str(stage.pk),
                "pipeline": str(stage.pipeline_id),
                "owner": str((owner or cast.olive).pk),
                "currency": currency,
                **({"amount": amount} if amount else {}),
                **data,
            },
        )


def _tables(body):
    """Each chart's table, as rows of cell texts (the header row first), by chart id."""
    return {
        t["id"]: [[unescape(cell).strip() for cell in CELL.findall(row)] for row in ROW.findall(t["body"])]
        for t in TABLE.finditer(body)
    }


def _home(client, language="en", query=""):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/" + query)
    assert response.status_code == 200
    return response.content.decode()


def _pipeline_with_money(cast):
    stages = stages_of(cast)
    _deal(cast, stages["Qualification"], "1000.00")
    _deal(cast, stages["Qualification"], "500.50")
    _deal(cast, stages["Proposal"], "4000.00", currency="PLN")
    _deal(cast, stages["Negotiation"])
    return stages


def test_each_chart_is_an_image_named_by_its_title_and_described(cast):
    _pipeline_with_money(cast)
    body = _home(web_client(cast.alice))

    charts = list(SVG.finditer(body))
    assert len(charts) == 3  # stages in EUR, stages in PLN, the funnel; no leads yet, so no chart of their sources
    for chart in charts:
        attributes, inside = chart["attributes"], chart["body"]
        chart_id = re.search(r'aria-labelledby="([^"]+)-title"', attributes)[1]
        assert 'role="img"' in attributes
        assert f'aria-describedby="{chart_id}-desc"' in attributes
        assert re.search(rf'<title id="{chart_id}-title">[^<]+</title>', inside)
        assert re.search(rf'<desc id="{chart_id}-desc">[^<]+</desc>', inside)
        assert f'id="{chart_id}-data"' in body  # its table
    assert "style=" not in body  # colours come from the stylesheet: the CSP forbids inline styles


def test_the_tables_hold_the_charts_numbers_per_currency_never_added_across(cast):
    _pipeline_with_money(cast)
    body = _home(web_client(cast.alice))

    tables = _tables(body)
    assert tables["chart-stages-eur"] == [
        ["Stage", "Probability", "Value", "Weighted value"],
        ["Qualification", "20%", "€1,500.50", "€300.10"],
        ["Proposal", "50%", "€0.00", "€0.00"],
        ["Negotiation", "75%", "€0.00", "€0.00"],
    ]
    assert tables["chart-stages-pln"][2] == ["Proposal", "50%", "PLN4,000.00", "PLN2,000.00"]
    eur = SVG.search(body[body.index("chart-stages-eur-title") - 400 :])["body"]
    assert "€1,500.50" in eur and "PLN" not in eur
    assert "€5,500.50" not in body and "5,500.50" not in body  # EUR and PLN are never summed


def test_numbers_are_written_as_the_readers_language_writes_them(cast):
    _pipeline_with_money(cast)
    body = _home(web_client(cast.alice), "de")

    # The stage keeps the name it was given; the numbers follow the reader.
    assert _tables(body)["chart-stages-eur"][1] == ["Qualification", "20\xa0%", "1.500,50\xa0€", "300,10\xa0€"]


def test_in_arabic_the_bars_grow_from_the_right(cast):
    _pipeline_with_money(cast)
    left_to_right = _home(web_client(cast.alice), "en")
    right_to_left = _home(web_client(cast.alice), "ar")

    ltr_bar = RECT.search(SVG.search(left_to_right)["body"])
    rtl_svg = SVG.search(right_to_left)
    rtl_bar = RECT.search(rtl_svg["body"])
    assert 'direction="rtl"' in rtl_svg["attributes"]
    assert float(ltr_bar["x"]) == LABEL_WIDTH
    assert float(rtl_bar["width"]) == float(ltr_bar["width"]) > 0
    assert float(rtl_bar["x"]) + float(rtl_bar["width"]) == WIDTH - LABEL_WIDTH  # starts at the right, by the labels


def test_the_funnel_and_sources_tables_count_the_leads(cast):
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        for source, status in (("referral", "new"), ("referral", "qualified"), ("event", "new")):
            lead_create(actor=actor, data={"last_name": "Lead", "source": source, "status": status})
    body = _home(web_client(cast.alice))

    tables = _tables(body)
    assert tables["chart-funnel"] == [
        ["Step", "Leads", "Share of all leads"],
        ["Leads", "3", "100%"],
        ["Qualified", "1", "33%"],
        ["Converted", "0", "0%"],
        ["Won", "0", "0%"],
    ]
    assert tables["chart-sources"] == [["Source", "Leads"], ["Referral", "2"], ["Event", "1"]]


def test_the_funnel_leaves_out_the_won_step_for_a_role_that_may_not_see_deals(cast):
    from custos.accounts.services import role_create

    with tenant_scope(cast.org_a):
        lead_create(actor=cast.actor(cast.olive), data={"last_name": "Lead", "status": "qualified"})
        leads_only = role_create(
            actor=cast.actor(cast.olive),
            name="Lead desk",
            permissions=["lead.view"],
            record_scope="all",
            hidden_fields=[],
        )
    lena = add_member(cast, "lena@acme.example", leads_only.key)

    tables = _tables(_home(web_client(lena)))

    assert tables["chart-funnel"] == [
        ["Step", "Leads", "Share of all leads"],
        ["Leads", "1", "100%"],
        ["Qualified", "1", "100%"],
        ["Converted", "0", "0%"],
    ]


def test_the_cards_say_the_expected_revenue_and_win_rate_of_the_quarter(cast):
    stages = stages_of(cast)
    today = timezone.localdate()
    _deal(cast, stages["Proposal"], "1000.00", expected_close=today.isoformat())
    won = _deal(cast, stages["Won"], "250.00")
    _deal(cast, stages["Lost"], "99.00", lost_reason="Price")
    body = _home(web_client(cast.alice))

    revenue = re.search(r'<div class="card" id="expected-revenue">(.*?)</div>\s*\n\s*</div>', body, re.S)[1]
    assert '<div class="stat">€750.00</div>' in revenue
    assert "€250.00 won, and €500.00 weighted by stage" in unescape(revenue)
    assert '<div class="stat">50%</div>' in body
    assert won.closed_at is not None


def test_hidden_amounts_leave_no_money_on_the_page(cast):
    stages = stages_of(cast)
    hide(cast, "sales", "deal.amount")
    _deal(cast, stages["Proposal"], "1234.00", owner=cast.sam)
    body = _home(web_client(cast.sam))

    assert "1,234" not in body and "€" not in body and "EUR" not in body
    assert 'id="expected-revenue"' not in body and 'id="open-value"' not in body
    assert _tables(body)["chart-stages"] == [
        ["Stage", "Probability", "Open deals"],
        ["Qualification", "20%", "0"],
        ["Proposal", "50%", "1"],
        ["Negotiation", "75%", "0"],
    ]


def test_a_hidden_deal_status_leaves_out_the_win_rate_and_the_open_deals_count(cast):
    """The home page opens for such a role (it answered 422 before): no figure tells won from lost."""
    stages = stages_of(cast)
    hide(cast, "sales", "deal.status")
    _deal(cast, stages["Won"], "250.00", owner=cast.sam)
    _deal(cast, stages["Lost"], "99.00", owner=cast.sam, lost_reason="Price")
    body = _home(web_client(cast.sam))

    assert '<div class="stat">50%</div>' not in body
    assert 'id="win-rate"' not in body
    assert _home(web_client(cast.alice)).count('<div class="stat">50%</div>') == 1


def test_a_sales_rep_sees_only_their_own_deals_in_the_figures(cast):
    stages = stages_of(cast)
    _deal(cast, stages["Proposal"], "100.00", owner=cast.sam)
    _deal(cast, stages["Proposal"], "900.00", owner=cast.olive)
    body = _home(web_client(cast.sam))

    assert _tables(body)["chart-stages-eur"][2][:3] == ["Proposal", "50%", "€100.00"]
    assert "900.00" not in body and "1,000.00" not in body


def test_with_several_pipelines_one_is_chosen_and_an_unknown_one_shows_the_default(cast):
    stages = stages_of(cast)
    _deal(cast, stages["Proposal"], "10.00")
    with tenant_scope(cast.org_a):
        renewals = pipeline_create(
            actor=cast.actor(cast.olive), name="Renewals", stages=[{"name": "Due"}, {"name": "Done", "outcome": "won"}]
        )
        due = renewals.stages.get(name="Due")
    _deal(cast, due, "70.00")
    client = web_client(cast.alice)

    default = _home(client)
    chosen = _home(client, query=f"?pipeline={renewals.pk}")
    unknown = _home(client, query="?pipeline=not-a-pipeline")

    assert f'<a href="?pipeline={renewals.pk}">Renewals</a>' in default
    assert f'<a href="?pipeline={renewals.pk}" aria-current="page">Renewals</a>' in chosen
    assert [row[0] for row in _tables(chosen)["chart-stages-eur"][1:]] == ["Due"]
    assert _tables(unknown)["chart-stages-eur"] == _tables(default)["chart-stages-eur"]


def test_the_overview_stays_and_a_role_without_sales_records_gets_no_dashboard(cast):
    accountant = add_member(cast, "ada@acme.example", "accountant")
    enable_two_factor(accountant)
    body = _home(web_client(accountant))

    assert "<h1>Overview</h1>" in body and "Contacts" in body
    assert "<svg" not in body and "Sales figures" not in body
