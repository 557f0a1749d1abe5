"""The search box of the top bar and its results page."""

from custos.accounts.models import Role
from custos.core.tenancy import tenant_scope
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import enable_two_factor, web_client
from custos.web.tests.sales import in_org_a


def _seed(cast):
    company = in_org_a(cast, company_create, data={"name": "Lovelace Engines GmbH"}, user=cast.alice)
    contact = in_org_a(
        cast,
        contact_create,
        data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
        user=cast.alice,
    )
    lead = in_org_a(cast, lead_create, data={"first_name": "Ed", "last_name": "Lovelace"}, user=cast.alice)
    deal = in_org_a(cast, deal_create, data={"name": "Lovelace licence", "company": str(company.pk)}, user=cast.alice)
    return company, contact, lead, deal


def test_every_staff_page_has_a_labelled_search_box_that_posts(cast):
    body = web_client(cast.alice).get("/contacts/").content.decode()
    assert '<form method="post" action="/search/" role="search" class="topbar-search"' in body
    assert '<label for="global-search" class="visually-hidden">' in body


def test_results_are_grouped_by_type_and_link_to_their_records(cast):
    company, contact, lead, deal = _seed(cast)
    response = web_client(cast.alice).post("/search/", {"q": "lovelase"})  # a typo, forgiven
    body = response.content.decode()
    assert response.status_code == 200
    for heading in ("Contacts", "Companies", "Leads", "Deals"):
        assert f">{heading} <span" in body, heading
    assert f'<a href="/contacts/{contact.pk}/">Ada Lovelace</a>' in body
    assert f'<a href="/companies/{company.pk}/">Lovelace Engines GmbH</a>' in body
    assert f'<a href="/leads/{lead.pk}/">Ed Lovelace</a>' in body
    assert f'<a href="/deals/{deal.pk}/">Lovelace licence</a>' in body
    assert body.index(">Contacts <span") < body.index(">Companies <span") < body.index(">Leads <span")
    assert 'value="lovelase"' in body  # the words stay in the page's form, never in a URL


def test_results_show_only_what_the_member_may_see(cast):
    _, contact, _, _ = _seed(cast)
    sam = web_client(cast.sam).post("/search/", {"q": "lovelace"}).content.decode()
    assert "Nothing matches your search." in sam and "Lovelace" not in sam.split("</form>", 2)[-1]
    mallory = web_client(cast.mallory).post("/search/", {"q": "lovelace"}).content.decode()
    assert "Nothing matches your search." in mallory and str(contact.pk) not in mallory
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="read_only").update(permissions=["contact.view"])
    enable_two_factor(cast.bob)
    bob = web_client(cast.bob).post("/search/", {"q": "lovelace"}).content.decode()
    assert str(contact.pk) in bob and "/companies/" not in bob.split('<main id="main"', 1)[1]


def test_the_page_without_words_just_offers_the_box(cast):
    body = web_client(cast.alice).get("/search/").content.decode()
    assert 'role="search"' in body and "Nothing matches" not in body
    assert 'class="topbar-search"' not in body  # one search box on its own page


def test_control_characters_typed_into_a_search_box_are_left_out(cast):
    """Found by the form fuzzing: PostgreSQL refuses a NUL in any text (a 500)."""
    _, contact, _, _ = _seed(cast)
    client = web_client(cast.alice)
    for page in ("/search/", "/contacts/"):
        response = client.post(page, {"q": "love\x00lace\x1f"})
        assert response.status_code == 200, page
        assert f"/contacts/{contact.pk}/" in response.content.decode(), page


def test_control_characters_in_a_filter_or_a_picker_are_left_out(cast):
    """Found by the form fuzzing on PostgreSQL: a tag filter and a company picker with a NUL."""
    _, contact, _, _ = _seed(cast)
    in_org_a(cast, contact_create, data={"last_name": "Babbage", "tags": ["vip"]}, user=cast.alice)
    client = web_client(cast.alice)
    listed = client.post("/contacts/", {"tag": "vip\x00"})
    assert listed.status_code == 200 and "Babbage" in listed.content.decode()
    added = client.post(f"/contacts/{contact.pk}/affiliations/", {"company": "Lovelace Engines\x00 GmbH"}, follow=True)
    assert added.status_code == 200 and "The company is added." in added.content.decode()
