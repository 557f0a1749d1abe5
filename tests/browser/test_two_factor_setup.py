"""A new owner must turn on two-factor sign-in before anything else, and can then work."""

import pyotp
import pytest
from browser_support import csp_violations, url_is
from playwright.sync_api import expect

from custos.accounts.services import organization_create
from custos.testing import PASSWORD


@pytest.fixture
def new_owner(transactional_db):
    created = organization_create(name="Neu Praxis", owner_email="nora@neu.example", country="DE")
    created.owner.set_password(PASSWORD)
    created.owner.save()
    return created.owner


@pytest.mark.browser
def test_new_owner_sets_up_two_factor_then_reaches_contacts(live_server, new_owner, page, diagnostics, sign_in):
    assert not new_owner.has_two_factor
    sign_in(page, new_owner.email, secret=None)

    # An owner always needs a second factor: every page leads to its setup until it is on.
    page.wait_for_url(url_is(live_server, "/account/two-factor/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    page.goto(live_server.url + "/contacts/")
    page.wait_for_url(url_is(live_server, "/account/two-factor/"))

    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = "".join(page.locator("#totp-secret").inner_text().split())
    assert len(secret) >= 16
    assert csp_violations(page) == []  # the QR code is inline SVG: no inline styles allowed

    page.get_by_label("The 6-digit code your app shows now").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    expect(page.get_by_text("Two-factor sign-in is on.")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    assert len(set(codes)) == 10

    page.get_by_role("link", name="Done").click()
    page.wait_for_url(url_is(live_server, "/"))
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Contacts").click()
    page.wait_for_url(url_is(live_server, "/contacts/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Contacts")

    new_owner.refresh_from_db()
    assert new_owner.has_two_factor
    assert diagnostics.page_errors == []
