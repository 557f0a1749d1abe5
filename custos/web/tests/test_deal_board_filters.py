"""The deal board's filter panel: owner (me too), company, tag, custom fields, expected close
range and search; kept in the address (search and personal values posted), the column sums
following the filters, a bad filter named beside the filters."""

from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.deals import deal_create
from custos.crm.services.people import company_create
from custos.testing import web_client
from custos.web.tests.sales import board_columns, crm_state, in_org_a, stages_of


def _deal(cast, name, stage, user=None, **data):
    return in_org_a(cast, deal_create, user=user, data={"name": name, "stage": str(stage.pk), **data})


def _deals(cast):
    stages = stages_of(cast)
    acme = in_org_a(cast, company_create, data={"name": "Acme Dental"})
    in_org_a(
        cast,
        custom_field_create,
        data={
            "object_type": "deal",
            "key": "region",
            "label": "Region",
            "kind": "choice",
            "options": ["north", "south"],
            "category": "none",
        },
    )
    in_org_a(
        cast,
        custom_field_create,
        data={"object_type": "deal", "key": "buyer", "label": "Buyer", "kind": "text", "category": "identity"},
    )
    qualification, proposal = stages["Qualification"], stages["Proposal"]
    return {
        "stages": stages,
        "acme": acme,
        "north": _deal(
            cast,
            "Chairs north",
            qualification,
            user=cast.alice,
            amount="1000",
            company=str(acme.pk),
            tags=["fair"],
            expected_close="2030-03-01",
            custom_fields={"region": "north", "buyer": "Ines Berg"},
        ),
        "south": _deal(
            cast,
            "Chairs south",
            qualification,
            amount="300",
            expected_close="2030-06-01",
            custom_fields={"region": "south"},
        ),
        "lamps": _deal(cast, "Lamps", proposal, user=cast.alice, amount="50", tags=["fair"]),
    }


def _shown(body):
    return {deal for ids in board_columns(body).values() for deal in ids}


def test_each_filter_narrows_the_board_and_its_sums(cast):
    deals = _deals(cast)
    client = web_client(cast.alice)
    ids = {name: str(deal.pk) for name, deal in deals.items() if name in ("north", "south", "lamps")}
    cases = {
        "owner=me": {ids["north"], ids["lamps"]},
        f"owner={cast.olive.pk}": {ids["south"]},
        f"company={deals['acme'].pk}": {ids["north"]},
        "tag=fair": {ids["north"], ids["lamps"]},
        "custom_fields.region=south": {ids["south"]},
        "close_from=2030-04-01": {ids["south"]},
        "close_to=2030-04-01": {ids["north"]},
        "close_from=2030-01-01&close_to=2030-12-31&owner=me": {ids["north"]},
    }
    for query, expected in cases.items():
        body = client.get(f"/deals/?{query}").content.decode()
        assert _shown(body) == expected, query
    body = client.get("/deals/?owner=me").content.decode()
    # The qualification column counts and sums only the deals shown.
    assert "1 deal · €1,000.00" in body and "€1,300.00" not in body
    assert 'value="me" selected' in body
    # The filters stay with the board: the cards' moves come back to it.
    assert f'action="/deals/{ids["north"]}/move/?owner=me"' in body
    assert f'name="next" value="/deals/pipelines/{deals["stages"]["Qualification"].pipeline_id}/?owner=me"' in body


def test_search_and_personal_values_are_posted_and_keep_the_address_filters(cast):
    deals = _deals(cast)
    client = web_client(cast.alice)
    pipeline_id = deals["stages"]["Qualification"].pipeline_id
    body = client.get(f"/deals/pipelines/{pipeline_id}/?tag=fair").content.decode()
    assert f'method="post" action="/deals/pipelines/{pipeline_id}/?tag=fair"' in body
    # The personal custom field is a field of the posted search, not of the address form.
    address_form, search_form = body.split('aria-label="Search the board"')
    assert 'name="custom_fields.buyer"' in search_form and 'name="custom_fields.buyer"' not in address_form
    response = client.post(f"/deals/pipelines/{pipeline_id}/?tag=fair", {"q": "Chairs"})
    assert _shown(response.content.decode()) == {str(deals["north"].pk)}
    response = client.post(f"/deals/pipelines/{pipeline_id}/", {"custom_fields.buyer": "Ines"})
    body = response.content.decode()
    assert _shown(body) == {str(deals["north"].pk)}
    # The value is in posted forms only, never put into an address or a link: the search form,
    # and the shown card's move form, which posts it again so that the move keeps the search.
    assert body.count("Ines") == body.count('<input type="hidden" name="custom_fields.buyer" value="Ines">') + 1 == 2
    assert 'value="Ines"' in body.split('aria-label="Search the board"')[1]
    assert "buyer" not in "".join(part.split('"')[0] for part in body.split("?")[1:])


def test_a_bad_filter_is_named_and_shows_no_deals(cast):
    _deals(cast)
    client = web_client(cast.alice)
    before = crm_state(cast)
    cases = {
        "owner=nobody": "Choose a member of this organisation.",
        "company=00000000-0000-0000-0000-000000000000": "Choose an existing company.",
        "close_from=tomorrow": "Enter a date such as 2026-11-22 or 22.11.2026.",
        "close_from=2030-05-01&close_to=2030-04-01": "Choose a date on or after the start of the range.",
        "custom_fields.region=west": "Choose one of",
        "custom_fields.nope=1": "There is no custom field with this key.",
    }
    for query, message in cases.items():
        response = client.get(f"/deals/?{query}")
        body = response.content.decode()
        assert response.status_code == 200 and message in body, query
        assert _shown(body) == set(), query
    assert crm_state(cast) == before


def test_a_move_from_a_filtered_board_answers_with_the_filtered_board(cast):
    deals = _deals(cast)
    stages = deals["stages"]
    response = web_client(cast.alice).post(
        f"/deals/{deals['north'].pk}/move/?owner=me",
        {"stage": str(stages["Negotiation"].pk)},
        headers={"HX-Request": "true"},
    )
    columns = board_columns(response.content.decode())
    assert columns[str(stages["Negotiation"].pk)] == [str(deals["north"].pk)]
    assert columns[str(stages["Qualification"].pk)] == []  # olive's deal is not on alice's filtered board


def test_sales_filter_only_among_their_own_deals(cast):
    deals = _deals(cast)
    own = _deal(cast, "Own chairs", deals["stages"]["Qualification"], user=cast.sam, tags=["fair"])
    body = web_client(cast.sam).get("/deals/?tag=fair").content.decode()
    assert _shown(body) == {str(own.pk)}
