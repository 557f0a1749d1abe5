"""Searching contacts updates the list in place, keeps the words out of the address bar, and
the browser's Back button still works."""

import pytest
from playwright.sync_api import expect

from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create


@pytest.fixture
def contacts(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        for first, last in (("Ada", "Lovelace"), ("Grace", "Hopper")):
            contact_create(actor=actor, data={"first_name": first, "last_name": last})


def search(page, text):
    with page.expect_response(lambda r: r.request.method == "POST" and f"q={text}" in (r.request.post_data or "")):
        page.get_by_label("Search contacts").fill(text)


@pytest.mark.browser
def test_search_replaces_the_results_instead_of_nesting_them(live_server, contacts, page, sign_in):
    # contact_list.html and company_list.html target #results with htmx's default
    # innerHTML swap, while the answer is the whole <div id="results"> again.
    sign_in(page, "alice@acme.example")
    page.goto(live_server.url + "/contacts/")
    search(page, "ada")
    expect(page.get_by_role("link", name="Grace Hopper")).to_have_count(0)
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    assert page.locator("[id=results]").count() == 1
    assert page.locator("[aria-live]").count() == 1  # nested live regions are announced twice


@pytest.mark.browser
def test_the_words_searched_for_stay_out_of_the_address_and_back_shows_the_whole_page(
    live_server, contacts, page, sign_in
):
    # A search term is often a person's name: it is posted, never put into a URL, so it
    # reaches neither the browser's history nor a proxy's log.
    sign_in(page, "alice@acme.example")
    page.goto(live_server.url + "/contacts/")
    search(page, "ada")
    expect(page.get_by_role("link", name="Grace Hopper")).to_have_count(0)
    assert page.url == live_server.url + "/contacts/"
    page.get_by_role("link", name="Ada Lovelace").first.click()
    page.wait_for_url(lambda url: "/contacts/" in url and url != live_server.url + "/contacts/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada")
    assert "ada" not in page.url.lower().split("/contacts/")[0]

    page.go_back()
    page.wait_for_url(live_server.url + "/contacts/")
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
