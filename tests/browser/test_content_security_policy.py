"""The staff pages run under a strict Content-Security-Policy and the browser reports nothing."""

import pytest
from browser_support import csp_violations, url_is
from playwright.sync_api import Page, Response, expect

from custos.testing import PASSWORD, current_code

PAGES = {
    "overview": "/",
    "contacts": "/contacts/",
    "tokens": "/account/tokens/",
    "security": "/account/security/",
}


def policy_of(response: Response | None) -> dict[str, list[str]]:
    assert response is not None
    assert response.ok, response.status
    header = response.headers.get("content-security-policy", "")
    assert header, f"no Content-Security-Policy on {response.url}"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(policy: dict[str, list[str]]) -> None:
    sources = [source for values in policy.values() for source in values]
    assert "'unsafe-inline'" not in sources, policy
    assert "'unsafe-eval'" not in sources, policy
    assert policy["script-src"] == ["'self'"] or "'strict-dynamic'" in policy["script-src"], policy
    assert "style-src" in policy, policy
    assert policy.get("object-src") == ["'none'"], policy
    assert policy.get("frame-ancestors") == ["'none'"], policy


def visit(page: Page, url: str) -> dict[str, list[str]]:
    response = page.goto(url)
    page.wait_for_load_state("load")
    policy = policy_of(response)
    assert_strict(policy)
    assert csp_violations(page) == [], url
    return policy


@pytest.mark.browser
def test_no_policy_violations_or_console_errors_on_the_main_pages(live_server, cast, page, diagnostics):
    visit(page, live_server.url + "/login/")
    page.get_by_label("Email").fill("alice@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url_is(live_server, "/login/code/"))
    assert csp_violations(page) == []
    page.get_by_label("Code from your authenticator app").fill(current_code())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(url_is(live_server, "/"))

    for path in PAGES.values():
        visit(page, live_server.url + path)

    # Partial updates through htmx stay within the policy too.
    page.goto(live_server.url + "/contacts/")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/contacts/")):
        page.get_by_label("Search contacts").fill("nobody")
    expect(page.get_by_text("No contact matches your search.")).to_be_visible()
    assert csp_violations(page) == []
    page.goto(live_server.url + "/account/tokens/")
    page.get_by_label("Name").fill("Policy check")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_be_visible()
    assert csp_violations(page) == []

    console_errors = list(diagnostics.console_errors)
    page_errors = list(diagnostics.page_errors)

    # The recorder itself works: an inline style attribute is refused and reported.
    page.evaluate("document.body.setAttribute('style', 'outline: 1px solid red')")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert any(v.startswith("style-src") for v in csp_violations(page))

    assert page_errors == []
    # Any "Failed to load resource" counts as well: a person's browser shows it the same way.
    assert console_errors == []
