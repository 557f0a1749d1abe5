"""Deal pages: list, detail with history and timeline, create and edit forms."""

import re

from custos.crm.services.deals import deal_create, deal_move
from custos.crm.services.people import contact_create
from custos.testing import org_a_objects, web_client
from custos.web.tests.sales import audit_actions, crm_state, fresh, in_org_a, stages_of


def test_every_deal_page_renders_for_an_admin(cast):
    ids = org_a_objects(cast).ids
    client = web_client(cast.alice)
    for path in (
        "/deals/",
        f"/deals/pipelines/{ids['pipeline_id']}/",
        "/deals/list/",
        "/deals/list/?status=won",
        f"/deals/list/?pipeline={ids['pipeline_id']}",
        "/deals/new/",
        f"/deals/new/?contact={ids['contact_id']}",
        f"/deals/{ids['deal_id']}/",
        f"/deals/{ids['deal_id']}/edit/",
        f"/deals/{ids['deal_id']}/move/",
    ):
        assert client.get(path).status_code == 200, path


def test_a_deal_is_created_through_the_form(cast):
    stages = stages_of(cast)
    contact = in_org_a(cast, contact_create, data={"last_name": "Berg"})
    client = web_client(cast.alice)
    form = client.get(f"/deals/new/?contact={contact.pk}").content.decode()
    assert 'name="contact" value="Berg"' in form  # the picker shows the contact named by id
    response = client.post(
        "/deals/new/",
        {
            "name": "Praxis Berg",
            "stage": str(stages["Proposal"].pk),
            "amount": "1250.50",
            "currency": "eur",
            "expected_close": "2026-12-31",
            "owner": str(cast.sam.pk),
            "contact": "Berg",
        },
    )
    assert response.status_code == 302
    deal_id = response["Location"].split("/")[2]
    from custos.core.tenancy import tenant_scope
    from custos.crm.models import Deal

    with tenant_scope(cast.org_a):
        deal = Deal.objects.get(pk=deal_id)
    assert (deal.name, str(deal.amount), deal.currency, deal.stage_id) == (
        "Praxis Berg",
        "1250.50",
        "EUR",
        stages["Proposal"].pk,
    )
    assert (deal.owner_id, deal.contact_id) == (cast.sam.pk, contact.pk)
    assert audit_actions(cast, deal.pk) == ["deal.create"]
    body = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert f'href="/deals/{deal.pk}/">Praxis Berg</a>' in body


def test_bad_input_on_the_form_is_shown_and_saves_nothing(cast):
    stages = stages_of(cast)
    before = crm_state(cast)
    client = web_client(cast.alice)
    response = client.post("/deals/new/", {"name": "X", "stage": str(stages["Proposal"].pk), "currency": "EUX"})
    assert response.status_code == 200
    assert "Use a three-letter currency code such as EUR." in response.content.decode()
    response = client.post("/deals/new/", {"name": "X", "stage": str(stages["Lost"].pk), "currency": "EUR"})
    assert "Say why the deal was lost." in response.content.decode()
    assert crm_state(cast) == before


def test_changing_the_stage_in_the_edit_form_is_a_move_in_the_history(cast):
    stages = stages_of(cast)
    deal = in_org_a(cast, deal_create, data={"name": "Praxis Nord", "stage": str(stages["Qualification"].pk)})
    client = web_client(cast.alice)
    form = {
        "name": "Praxis Nord",
        "stage": str(stages["Negotiation"].pk),
        "currency": "EUR",
        "owner": str(cast.olive.pk),
    }
    assert client.post(f"/deals/{deal.pk}/edit/", form).status_code == 302
    assert fresh(cast, deal).stage_id == stages["Negotiation"].pk
    assert audit_actions(cast, deal.pk) == ["deal.create", "deal.move"]
    assert client.post(f"/deals/{deal.pk}/edit/", form).status_code == 302  # nothing changed: nothing written
    assert audit_actions(cast, deal.pk) == ["deal.create", "deal.move"]
    history = client.get(f"/deals/{deal.pk}/").content.decode()
    assert history.index("Qualification</td>") < history.index("Negotiation</td>")


def test_the_list_filters_by_status(cast):
    stages = stages_of(cast)
    open_deal = in_org_a(cast, deal_create, data={"name": "Still open", "stage": str(stages["Proposal"].pk)})
    won = in_org_a(cast, deal_create, data={"name": "Signed", "stage": str(stages["Proposal"].pk)})
    in_org_a(cast, deal_move, deal=won, stage=stages["Won"])
    client = web_client(cast.alice)
    body = client.get("/deals/list/?status=won").content.decode()
    assert str(won.pk) in body and str(open_deal.pk) not in body
    body = client.get("/deals/list/").content.decode()
    assert str(won.pk) in body and str(open_deal.pk) in body


def test_the_search_is_posted_and_finds_by_name(cast):
    stages = stages_of(cast)
    found = in_org_a(cast, deal_create, data={"name": "Zahnklinik Ost", "stage": str(stages["Proposal"].pk)})
    other = in_org_a(cast, deal_create, data={"name": "Autohaus", "stage": str(stages["Proposal"].pk)})
    response = web_client(cast.alice).post("/deals/list/", {"q": "Zahnklinik"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results"')
    assert str(found.pk) in body and str(other.pk) not in body


def test_an_admin_deletes_a_deal(cast):
    stages = stages_of(cast)
    deal = in_org_a(cast, deal_create, data={"name": "Praxis Nord", "stage": str(stages["Proposal"].pk)})
    response = web_client(cast.alice).post(f"/deals/{deal.pk}/delete/")
    assert response.status_code == 302
    assert audit_actions(cast, deal.pk)[-1] == "deal.delete"
    assert web_client(cast.alice).get(f"/deals/{deal.pk}/").status_code == 404


def test_a_hidden_amount_is_shown_nowhere(cast):
    from custos.accounts.services import role_update
    from custos.accounts.tests.helpers import role
    from custos.core.tenancy import tenant_scope

    stages = stages_of(cast)
    deal = in_org_a(
        cast,
        deal_create,
        data={"name": "Praxis Nord", "stage": str(stages["Proposal"].pk), "amount": "4711", "owner": str(cast.sam.pk)},
    )
    with tenant_scope(cast.org_a):
        sales = role(cast.org_a, "sales")
        role_update(
            actor=cast.actor(cast.olive),
            role=sales,
            name=sales.name,
            permissions=sales.permissions,
            record_scope=sales.record_scope,
            hidden_fields=["deal.amount"],
        )
    sam = web_client(cast.sam)
    for path in ("/deals/", "/deals/list/", f"/deals/{deal.pk}/", f"/deals/{deal.pk}/edit/"):
        body = sam.get(path).content.decode()
        assert "4,711" not in body and "4711" not in body, path


def test_the_fields_a_role_may_not_see_are_shown_on_no_deal_page(cast):
    """As the API gives them as null: stage (and with it the board and the history), status,
    expected close, owner and company."""
    from datetime import date

    from custos.api.tests.helpers import hide
    from custos.crm.services.people import company_create

    stages = stages_of(cast)
    company = in_org_a(cast, company_create, data={"name": "Nordwind Dental"})
    deal = in_org_a(
        cast,
        deal_create,
        data={
            "name": "Praxis Nord",
            "stage": str(stages["Proposal"].pk),
            "expected_close": date(2031, 7, 13).isoformat(),
            "company": str(company.pk),
            "owner": str(cast.sam.pk),
        },
    )
    hide(cast, "read_only", "deal.stage", "deal.status", "deal.expected_close", "deal.owner", "deal.company")
    bob = web_client(cast.bob)

    board = bob.get("/deals/")
    pages = [bob.get(path).content.decode() for path in ("/deals/list/", f"/deals/{deal.pk}/")]

    assert board.status_code == 302 and board["Location"] == "/deals/list/"
    for body in pages:
        assert "Praxis Nord" in body
        for shown in ("Proposal", "2031", "Nordwind", "sam@acme.example", "Stage history", ">Open<"):
            assert shown not in body, shown


def test_the_history_names_a_stage_since_deleted_and_only_the_first_row_is_the_creation(cast):
    """Deleting an emptied stage leaves its moves in the history without it: the page said
    the deal was "created" again there."""
    from custos.crm.services.deals import stage_delete

    stages = stages_of(cast)
    deal = in_org_a(cast, deal_create, data={"name": "Praxis Nord", "stage": str(stages["Qualification"].pk)})
    in_org_a(cast, deal_move, deal=deal, stage=stages["Proposal"])
    in_org_a(cast, stage_delete, stage=stages["Qualification"])

    body = web_client(cast.alice).get(f"/deals/{deal.pk}/").content.decode()
    history = body[body.index('id="history-heading"') :]
    rows = [re.sub(r"<[^>]+>", "|", row) for row in history[: history.index("</tbody>")].split("<tr>")[2:]]

    assert len(rows) == 2
    assert "created" in rows[0] and "a stage since deleted" in rows[0]
    assert "created" not in rows[1] and "a stage since deleted" in rows[1] and "Proposal" in rows[1]
