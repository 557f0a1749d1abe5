"""A card moved on a searched board (dragged, or its "Move to" form, with or without
JavaScript) comes back on the same board: the address filters and the posted search words
and personal custom values are all kept, and the search words never enter an address."""

import re
from html import unescape

from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.deals import deal_create
from custos.testing import web_client
from custos.web.tests.sales import board_columns, fresh, in_org_a, stages_of

MOVE_FORM = re.compile(r'<form method="post" action="([^"]+)" class="move-form">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ADDRESS = re.compile(r'(?:href|action|src|hx-get|hx-post|data-move-url)="([^"]*)"')


def _board(cast):
    stages = stages_of(cast)
    in_org_a(
        cast,
        custom_field_create,
        data={"object_type": "deal", "key": "buyer", "label": "Buyer", "kind": "text", "category": "identity"},
    )

    def deal(name, stage, **data):
        return in_org_a(cast, deal_create, user=cast.alice, data={"name": name, "stage": str(stage.pk), **data})

    return {
        "stages": stages,
        "north": deal("Chairs north", stages["Qualification"], tags=["fair"], custom_fields={"buyer": "Ines Berg"}),
        "south": deal("Chairs south", stages["Qualification"], tags=["fair"]),
        "lamps": deal("Lamps", stages["Qualification"], tags=["fair"]),
        "desks": deal("Chairs and desks", stages["Proposal"]),
    }


def _shown(body):
    return {deal for ids in board_columns(body).values() for deal in ids}


def _move_form(body, deal):
    """What a card's move form posts, as the browser (or board.js's FormData) sends it."""
    card = body[body.index(f'id="deal-{deal.pk}"') :]
    action, inner = MOVE_FORM.search(card).groups()
    return unescape(action), {name: unescape(value) for name, value in HIDDEN.findall(inner)}


def test_a_dragged_card_comes_back_on_the_searched_board(cast):
    board = _board(cast)
    client = web_client(cast.alice)
    pipeline = board["stages"]["Qualification"].pipeline_id
    searched = client.post(f"/deals/pipelines/{pipeline}/?tag=fair", {"q": "chairs"}).content.decode()
    assert _shown(searched) == {str(board["north"].pk), str(board["south"].pk)}
    action, fields = _move_form(searched, board["north"])
    assert action == f"/deals/{board['north'].pk}/move/?tag=fair"
    assert fields["q"] == "chairs"

    moved = client.post(
        action, {**fields, "stage": str(board["stages"]["Proposal"].pk)}, headers={"HX-Request": "true"}
    )

    body = moved.content.decode()
    assert moved.status_code == 200
    assert fresh(cast, board["north"]).stage_id == board["stages"]["Proposal"].pk
    # Still searched ("Lamps" stays out) and still filtered by tag ("Chairs and desks" too).
    assert _shown(body) == {str(board["north"].pk), str(board["south"].pk)}
    assert board_columns(body)[str(board["stages"]["Proposal"].pk)] == [str(board["north"].pk)]
    # The next move keeps them again; the words are in no address of the board.
    assert _move_form(body, board["south"])[1]["q"] == "chairs"
    assert not [url for url in ADDRESS.findall(searched + body) if "chairs" in url.lower()]


def test_a_personal_custom_value_searched_for_is_kept_by_a_refused_move(cast):
    board = _board(cast)
    client = web_client(cast.alice)
    pipeline = board["stages"]["Qualification"].pipeline_id
    searched = client.post(f"/deals/pipelines/{pipeline}/", {"custom_fields.buyer": "Ines"}).content.decode()
    action, fields = _move_form(searched, board["north"])
    assert fields["custom_fields.buyer"] == "Ines" and "q" not in fields

    # Lost needs a reason: refused, and answered with the same searched board.
    refused = client.post(action, {**fields, "stage": str(board["stages"]["Lost"].pk)}, headers={"HX-Request": "true"})

    assert refused.status_code == 422
    assert _shown(refused.content.decode()) == {str(board["north"].pk)}
    assert fresh(cast, board["north"]).stage_id == board["stages"]["Qualification"].pk


def test_without_javascript_a_move_answers_with_the_searched_board(cast):
    board = _board(cast)
    client = web_client(cast.alice)
    pipeline = board["stages"]["Qualification"].pipeline_id
    searched = client.post(f"/deals/pipelines/{pipeline}/?tag=fair", {"q": "chairs"}).content.decode()
    action, fields = _move_form(searched, board["north"])

    moved = client.post(action, {**fields, "stage": str(board["stages"]["Negotiation"].pk)})

    body = unescape(moved.content.decode())
    assert moved.status_code == 200  # a redirect would have to put the words into its address
    assert "“Chairs north” is now in Negotiation." in body
    assert _shown(body) == {str(board["north"].pk), str(board["south"].pk)}
    assert 'id="board-search" type="search" name="q" value="chairs"' in body
    # Without a posted search, the move goes back to the board's address as before.
    unsearched = client.post(action, {"stage": str(board["stages"]["Proposal"].pk), "next": fields["next"]})
    assert unsearched.status_code == 302
    assert unsearched["Location"] == f"/deals/pipelines/{pipeline}/?tag=fair#deal-{board['north'].pk}"
