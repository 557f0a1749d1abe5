"""Signing in with a password and a second factor, as a person does in the browser."""

import pytest
from browser_support import url_is, wrong_code
from playwright.sync_api import expect

from custos.testing import PASSWORD, current_code


@pytest.mark.browser
def test_sign_in_with_password_then_code_lands_on_the_overview(live_server, cast, page):
    page.goto(live_server.url + "/")
    page.wait_for_url(url_is(live_server, "/login/"))
    assert "next=/" in page.url.replace("%2F", "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Custos")

    page.get_by_label("Email").fill("alice@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(url_is(live_server, "/login/code/"))
    code_field = page.get_by_label("Code from your authenticator app")
    expect(code_field).to_be_focused()  # autofocus: the person can type the code at once

    code_field.fill(wrong_code())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    page.wait_for_url(url_is(live_server, "/login/code/"))
    error = page.locator("#id_code_error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("code")
    # The message sits right before the field and is tied to it for screen readers.
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(code_field).to_have_attribute("aria-describedby", "id_code_error")
    assert page.evaluate("document.getElementById('id_code_error').nextElementSibling.id") == "id_code"

    code_field.fill(current_code())
    page.get_by_role("button", name="Continue").click()

    page.wait_for_url(url_is(live_server, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_role("link", name="alice@acme.example")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()
