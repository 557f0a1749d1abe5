"""A token created in the UI works against the API at once and stops working when revoked."""

import pytest
import requests
from browser_support import url_is
from playwright.sync_api import expect


def call(live_server, token: str, method: str, path: str, **options) -> requests.Response:
    # One connection per call, closed afterwards: a pooled connection could be reused just
    # as the live server closes it, and a kept-alive one would pin a server thread (and on
    # PostgreSQL its database session) past the end of the test.
    with requests.Session() as session:
        return session.request(
            method, live_server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **options
        )


@pytest.mark.browser
def test_token_made_in_the_ui_calls_the_api_until_revoked(live_server, cast, page, sign_in):
    sign_in(page, "alice@acme.example")
    page.goto(live_server.url + "/account/tokens/")
    expect(page.get_by_role("heading", level=1)).to_have_text("API tokens")

    page.get_by_label("Name").fill("Invoice sync")
    page.get_by_label("Read everything my role may read").uncheck()
    page.get_by_label("Read and change everything my role may change").check()
    page.get_by_role("button", name="Create token").click()

    shown = page.locator("#new-token")
    expect(shown).to_be_visible()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    token = shown.inner_text().strip()
    assert token.startswith("cst_")
    row = page.get_by_role("row").filter(has_text="Invoice sync")
    expect(row).to_contain_text("write")
    expect(row.get_by_role("button", name="Revoke")).to_be_visible()
    cells_before_use = row.get_by_role("cell").all_inner_texts()

    me = call(live_server, token, "GET", "/api/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "alice@acme.example"
    assert me.json()["organization"] == cast.org_a.slug

    created = call(
        live_server,
        token,
        "POST",
        "/api/v1/contacts",
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "tags": ["api"]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ada@example.com"

    # The person sees the contact the program made, and when the token was last used.
    page.goto(live_server.url + "/contacts/")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    page.goto(live_server.url + "/account/tokens/")
    row = page.get_by_role("row").filter(has_text="Invoice sync")
    cells_after_use = row.get_by_role("cell").all_inner_texts()
    changed = [after for before, after in zip(cells_before_use, cells_after_use, strict=True) if before != after]
    assert len(changed) == 1, (cells_before_use, cells_after_use)  # "last used" only, now a time
    assert any(character.isdigit() for character in changed[0]), changed

    # Revoking asks first (a script confirm); the answer "yes" revokes.
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_url(url_is(live_server, "/account/tokens/"))
    expect(page.get_by_role("status").filter(has_text="Invoice sync")).to_be_visible()  # the message
    row = page.get_by_role("row").filter(has_text="Invoice sync")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert len(dialogs) == 1
    assert "revoke" in dialogs[0].lower(), dialogs

    for response in (
        call(live_server, token, "GET", "/api/v1/me"),
        call(live_server, token, "POST", "/api/v1/contacts", json={"first_name": "Late"}),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["status"] == 401
