"""The deal board: columns per stage, moves by drag and drop (htmx) and by the card's form."""

from custos.core.tenancy import tenant_scope
from custos.crm.models import DealStageChange
from custos.crm.services.deals import deal_create
from custos.testing import web_client
from custos.web.tests.sales import audit_actions, board_columns, crm_state, fresh, in_org_a, stages_of


def _deal(cast, name, stage, **data):
    return in_org_a(cast, deal_create, data={"name": name, "stage": str(stage.pk), **data})


def stages_of_pipeline(cast, pipeline):
    with tenant_scope(cast.org_a):
        return list(pipeline.stages.all())


def _history(cast, deal):
    with tenant_scope(cast.org_a):
        return list(
            DealStageChange.objects.filter(deal=deal).order_by("changed_at").values_list("from_stage_id", "to_stage_id")
        )


def test_the_board_shows_every_deal_in_its_stage_with_count_and_sum(cast):
    stages = stages_of(cast)
    first = _deal(cast, "Praxis Nord", stages["Qualification"], amount="1000.50")
    second = _deal(cast, "Praxis Süd", stages["Qualification"], amount="2000")
    third = _deal(cast, "Klinik West", stages["Negotiation"], amount="500")
    body = web_client(cast.alice).get("/deals/").content.decode()
    columns = board_columns(body)
    assert set(columns[str(stages["Qualification"].pk)]) == {str(first.pk), str(second.pk)}
    assert columns[str(stages["Negotiation"].pk)] == [str(third.pk)]
    assert columns[str(stages["Proposal"].pk)] == []
    assert columns[str(stages["Won"].pk)] == [] and columns[str(stages["Lost"].pk)] == []
    assert "2 deals · €3,000.50" in body
    assert "1 deal · €500.00" in body


def test_money_on_the_board_follows_the_readers_locale(cast):
    stages = stages_of(cast)
    _deal(cast, "Praxis Nord", stages["Qualification"], amount="1234.5")
    client = web_client(cast.alice)
    client.post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert "1.234,50\xa0€" in client.get("/deals/").content.decode()


def test_a_card_shows_name_company_amount_and_owner(cast):
    from custos.crm.services.people import company_create

    company = in_org_a(cast, company_create, data={"name": "Zahnarzt Berg"})
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Berg", stages["Proposal"], amount="99", company=str(company.pk), owner=str(cast.sam.pk))
    body = web_client(cast.alice).get("/deals/").content.decode()
    card = body[body.index(f'id="deal-{deal.pk}"') :]
    card = card[: card.index("</li>")]
    assert "Praxis Berg" in card and "Zahnarzt Berg" in card and "€99.00" in card and "sam@acme.example" in card
    assert f'action="/deals/{deal.pk}/move/"' in card  # the keyboard and no-JS path


def test_moving_by_the_cards_form_moves_the_deal_and_keeps_its_history(cast):
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Nord", stages["Qualification"])
    response = web_client(cast.alice).post(
        f"/deals/{deal.pk}/move/", {"stage": str(stages["Proposal"].pk), "next": "/deals/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/deals/#deal-{deal.pk}"
    assert fresh(cast, deal).stage_id == stages["Proposal"].pk
    assert _history(cast, deal) == [
        (None, stages["Qualification"].pk),
        (stages["Qualification"].pk, stages["Proposal"].pk),
    ]
    assert audit_actions(cast, deal.pk) == ["deal.create", "deal.move"]
    columns = board_columns(web_client(cast.alice).get("/deals/").content.decode())
    assert columns[str(stages["Proposal"].pk)] == [str(deal.pk)]


def test_moving_by_drag_and_drop_answers_with_the_board(cast):
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Nord", stages["Qualification"])
    response = web_client(cast.alice).post(
        f"/deals/{deal.pk}/move/", {"stage": str(stages["Negotiation"].pk)}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="board"') and "<html" not in body
    assert board_columns(body)[str(stages["Negotiation"].pk)] == [str(deal.pk)]
    assert f'data-moved="deal-{deal.pk}"' in body and "is now in Negotiation" in body
    assert fresh(cast, deal).stage_id == stages["Negotiation"].pk
    assert _history(cast, deal)[-1] == (stages["Qualification"].pk, stages["Negotiation"].pk)
    assert audit_actions(cast, deal.pk) == ["deal.create", "deal.move"]


def test_moving_to_won_closes_the_deal_and_the_page_says_so(cast):
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Nord", stages["Negotiation"])
    web_client(cast.alice).post(f"/deals/{deal.pk}/move/", {"stage": str(stages["Won"].pk)})
    moved = fresh(cast, deal)
    assert moved.status == "won" and moved.closed_at is not None
    body = web_client(cast.alice).get(f"/deals/{deal.pk}/").content.decode()
    assert '<p class="outcome won">Won on' in body
    assert body.count("<tr>") == 3  # the history: a header, created, moved


def test_lost_needs_a_reason_on_the_form(cast):
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Nord", stages["Proposal"])
    before = crm_state(cast)
    client = web_client(cast.alice)
    response = client.post(f"/deals/{deal.pk}/move/", {"stage": str(stages["Lost"].pk)})
    assert response.status_code == 200
    assert "Say why the deal was lost." in response.content.decode()
    assert crm_state(cast) == before
    response = client.post(f"/deals/{deal.pk}/move/", {"stage": str(stages["Lost"].pk)}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "Say why the deal was lost." in response.content.decode()
    assert crm_state(cast) == before
    response = client.post(
        f"/deals/{deal.pk}/move/", {"stage": str(stages["Lost"].pk), "lost_reason": "Chose a cheaper offer"}
    )
    assert response.status_code == 302
    lost = fresh(cast, deal)
    assert (lost.status, lost.lost_reason) == ("lost", "Chose a cheaper offer")
    body = client.get(f"/deals/{deal.pk}/").content.decode()
    assert '<p class="outcome lost">Lost on' in body and "Chose a cheaper offer" in body


def test_a_restricted_persons_deal_stays_put_and_the_board_says_why(cast):
    from custos.crm.services.people import contact_create
    from custos.privacy.services.restriction import subject_restrict

    stages = stages_of(cast)
    anna = in_org_a(cast, contact_create, data={"first_name": "Anna", "last_name": "Schmidt"})
    deal = _deal(cast, "Crown", stages["Proposal"], contact=str(anna.pk))
    in_org_a(cast, subject_restrict, subject=anna.subject, inform=False)
    before = crm_state(cast)
    client = web_client(cast.alice)
    move = {"stage": str(stages["Won"].pk)}
    dragged = client.post(f"/deals/{deal.pk}/move/", move, headers={"HX-Request": "true"})
    assert dragged.status_code == 422
    assert "Processing of this person&#x27;s data is restricted" in dragged.content.decode()
    by_form = client.post(f"/deals/{deal.pk}/move/", move)
    assert by_form.status_code == 200 and "Processing of this person&#x27;s data is restricted" in by_form.text
    assert crm_state(cast) == before and fresh(cast, deal).stage_id == stages["Proposal"].pk


def test_the_move_page_asks_for_the_reason(cast):
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Nord", stages["Proposal"])
    body = web_client(cast.alice).get(f"/deals/{deal.pk}/move/?stage={stages['Lost'].pk}").content.decode()
    assert 'name="lost_reason"' in body
    assert f'<option value="{stages["Lost"].pk}" selected>' in body


def test_a_stage_of_another_pipeline_is_refused(cast):
    from custos.crm.services.deals import pipeline_create

    stages = stages_of(cast)
    other = in_org_a(cast, pipeline_create, name="Service", stages=[{"name": "Open", "outcome": "open"}])
    deal = _deal(cast, "Praxis Nord", stages["Proposal"])
    before = crm_state(cast)
    with_other_stage = {"stage": str(stages_of_pipeline(cast, other)[0].pk)}
    response = web_client(cast.alice).post(f"/deals/{deal.pk}/move/", with_other_stage)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert crm_state(cast) == before


def test_read_only_cannot_move_or_change_deals_and_nothing_changes(cast):
    stages = stages_of(cast)
    deal = _deal(cast, "Praxis Nord", stages["Proposal"])
    before = crm_state(cast)
    bob = web_client(cast.bob)
    board = bob.get("/deals/").content.decode()
    assert str(deal.pk) in board and "move-form" not in board and 'draggable="true"' not in board
    move = {"stage": str(stages["Won"].pk)}
    assert bob.post(f"/deals/{deal.pk}/move/", move).status_code == 403
    assert bob.post(f"/deals/{deal.pk}/move/", move, headers={"HX-Request": "true"}).status_code == 403
    assert bob.post(f"/deals/{deal.pk}/edit/", {"name": "Changed", "stage": str(stages["Won"].pk)}).status_code == 403
    assert bob.post(f"/deals/{deal.pk}/delete/").status_code == 403
    assert bob.post("/deals/new/", {"name": "New", "stage": str(stages["Proposal"].pk)}).status_code == 403
    assert crm_state(cast) == before


def test_a_sales_rep_sees_and_moves_only_own_deals(cast):
    stages = stages_of(cast)
    own = _deal(cast, "Sams Deal", stages["Proposal"], owner=str(cast.sam.pk))
    other = _deal(cast, "Alices Deal", stages["Proposal"], owner=str(cast.alice.pk))
    sam = web_client(cast.sam)
    columns = board_columns(sam.get("/deals/").content.decode())
    assert columns[str(stages["Proposal"].pk)] == [str(own.pk)]
    assert sam.post(f"/deals/{other.pk}/move/", {"stage": str(stages["Won"].pk)}).status_code == 404
    assert fresh(cast, other).stage_id == stages["Proposal"].pk
    assert sam.post(f"/deals/{own.pk}/move/", {"stage": str(stages["Won"].pk)}).status_code == 302
    assert fresh(cast, own).status == "won"


def test_a_full_column_shows_its_newest_cards_and_counts_all_of_them(cast):
    """Past the cards a column holds, the newest changed come first; the count, the sum and
    whether the sums mix currencies cover every deal of the pipeline, not the cards shown."""
    from datetime import timedelta

    from django.utils import timezone

    from custos.crm.models import Deal
    from custos.crm.selectors.deals import BOARD_CARDS_PER_STAGE

    stages = stages_of(cast)
    deals = [_deal(cast, f"Deal {n}", stages["Qualification"], amount="10") for n in range(BOARD_CARDS_PER_STAGE + 3)]
    start = timezone.now() - timedelta(days=1)
    with tenant_scope(cast.org_a):
        for n, deal in enumerate(deals):  # the first made is the last changed
            Deal.objects.filter(pk=deal.pk).update(updated_at=start - timedelta(minutes=n))
    body = web_client(cast.alice).get("/deals/").content.decode()
    shown = board_columns(body)[str(stages["Qualification"].pk)]
    assert shown == [str(deal.pk) for deal in deals[:BOARD_CARDS_PER_STAGE]]
    assert f"{len(deals)} deals · €530.00" in body and "several currencies" not in body

    _deal(cast, "In francs", stages["Negotiation"], amount="5", currency="CHF")
    _deal(cast, "In euros", stages["Negotiation"], amount="7")
    body = web_client(cast.alice).get("/deals/").content.decode()
    assert "several currencies" in body and f"{len(deals)} deals · €530.00" in body
    assert "2 deals · CHF5.00 + €7.00" in body  # sums per currency, never added together


def test_a_role_that_may_not_see_the_stage_cannot_move_by_the_form_either(cast):
    """The board is not shown to such a role; its move page would name the stage, and a move
    write it: both answer 403, and nothing changes."""
    from custos.api.tests.helpers import hide

    stages = stages_of(cast)
    deal = _deal(cast, "Sams Deal", stages["Proposal"], owner=str(cast.sam.pk))
    hide(cast, "sales", "deal.stage")
    sam = web_client(cast.sam)
    before = crm_state(cast)

    page = sam.get(f"/deals/{deal.pk}/move/")
    for headers in ({}, {"HX-Request": "true"}):
        assert sam.post(f"/deals/{deal.pk}/move/", {"stage": str(stages["Won"].pk)}, headers=headers).status_code == 403
    assert page.status_code == 403 and "Proposal" not in page.content.decode()  # the page named the stage
    assert crm_state(cast) == before
