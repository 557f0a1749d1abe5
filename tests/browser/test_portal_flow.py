"""A person uses the privacy portal from start to end; after staff carry out the erasure,
the person is gone from the staff pages and from the search."""

import json

import pytest
from browser_support import csp_violations, new_context, url_is
from playwright.sync_api import expect

from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import ConsentEvent, PrivacyRequest
from custos.privacy.services.consent import Proof, consent_give, purpose_create
from custos.privacy.services.portal import portal_link_create
from custos.privacy.services.requests import request_complete


@pytest.fixture
def greta(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact = contact_create(
            actor=actor,
            data={
                "first_name": "Greta",
                "last_name": "Lindqvist",
                "email": "greta@example.org",
                "phone": "+49 30 1234567",
            },
        )
        purpose = purpose_create(
            actor=actor,
            data={"key": "newsletter", "legal_basis": "consent", "names": {"en": "Newsletter"}},
        )
        consent_give(actor=actor, subject=contact.subject, purpose=purpose, proof=Proof(source="staff"))
        _, secret = portal_link_create(actor=actor, subject=contact.subject, language="en")
    return contact, secret


@pytest.mark.browser
def test_a_person_corrects_withdraws_exports_and_is_erased(live_server, cast, greta, browser, page, sign_in):
    contact, secret = greta
    page.goto(f"{live_server.url}/privacy/portal/l/{secret}/")
    page.wait_for_url(url_is(live_server, "/privacy/portal/me/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My data")
    expect(page.locator("main")).to_contain_text("Lindqvist")

    page.get_by_role("link", name="Correct").click()
    page.get_by_label("Phone").fill("030 7654321")
    page.get_by_role("button", name="Save corrections").click()
    expect(page.get_by_role("status")).to_contain_text("Your corrections have been saved.")
    expect(page.get_by_label("Phone")).to_have_value("+49307654321")

    page.get_by_role("link", name="Consents").click()
    page.get_by_role("button", name="Withdraw consent: Newsletter").click()
    expect(page.get_by_role("button", name="Give consent: Newsletter")).to_be_visible()

    page.get_by_role("link", name="My data").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as JSON").click()
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    values = [f["value"] for r in exported["records"] for f in r["fields"]]
    assert "+49307654321" in values and "Lindqvist" in values

    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Erase my data").check()
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("status")).to_contain_text("Your request has been received.")
    assert csp_violations(page) == []

    with tenant_scope(cast.org_a):
        assert ConsentEvent.objects.filter(source="portal", action="withdrawn").count() == 1
        request = PrivacyRequest.objects.get(kind="erasure")
        assert (request.status, request.source) == ("verified", "portal")
        request_complete(actor=cast.actor(cast.alice), request=request)

    # The portal link went with the person's data.
    page.goto(f"{live_server.url}/privacy/portal/me/")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")

    staff_context = new_context(browser)
    try:
        staff = staff_context.new_page()
        sign_in(staff, "alice@acme.example")
        staff.goto(f"{live_server.url}/contacts/{contact.pk}/")
        expect(staff.locator("main")).not_to_contain_text("Lindqvist")
        expect(staff.locator("main")).not_to_contain_text("7654321")
        staff.get_by_label("Search all records").fill("Lindqvist")
        staff.get_by_role("button", name="Search", exact=True).click()
        staff.wait_for_url(url_is(live_server, "/search/"))
        expect(staff.locator("main")).not_to_contain_text("Greta")
        staff.get_by_label("Search all records").fill("greta@example.org")
        staff.get_by_role("button", name="Search", exact=True).click()
        expect(staff.locator("main a[href*='/contacts/']")).to_have_count(0)
    finally:
        staff_context.close()
