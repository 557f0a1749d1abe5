"""The sign-in page works from the keyboard alone and every field is labelled."""

import pytest
from browser_support import url_is
from playwright.sync_api import Page, expect

from custos.testing import PASSWORD, current_code

# What a person's screen reader or eye would use to tell the focused control apart.
FOCUSED = """(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "body";
  return e.id ? "#" + e.id : e.tagName.toLowerCase() + ":" + (e.textContent || "").trim();
})()"""

# Each visible form control, with the visible labels the browser associates with it.
CONTROLS_AND_LABELS = """(() => [...document.querySelectorAll("input, select, textarea")]
  .filter((e) => e.type !== "hidden")
  .map((e) => ({
    control: e.id || e.name,
    labels: [...(e.labels || [])]
      .filter((l) => {
        const box = l.getBoundingClientRect();
        return box.width > 1 && box.height > 1 && !l.classList.contains("visually-hidden");
      })
      .map((l) => l.textContent.trim())
      .filter(Boolean),
  })))()"""


def focused(page: Page) -> str:
    return page.evaluate(FOCUSED)


def start_from_the_top(page: Page) -> None:
    """Put the keyboard where it is when a person tabs into the page from the address bar.

    The sign-in page focuses the email field on load (autofocus), so the browser's own
    starting point is there; a throwaway, script-only focus target at the start of the
    body moves it to the top of the document without touching what the page offers.
    """
    page.evaluate(
        """(() => {
          const start = document.createElement("span");
          start.tabIndex = -1;
          start.id = "test-start";
          document.body.prepend(start);
          start.focus();
        })()"""
    )


@pytest.mark.browser
def test_sign_in_page_from_the_keyboard(live_server, cast, page):
    page.goto(live_server.url + "/")
    page.wait_for_url(url_is(live_server, "/login/"))
    assert focused(page) == "#id_email"  # on load, ready to type

    start_from_the_top(page)
    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to content")
    expect(skip_link).to_be_focused()
    # Shown while focused, inside the window, with a visible focus ring.
    box = skip_link.bounding_box()
    assert box is not None
    assert box["y"] >= 0
    assert box["x"] >= 0
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    order = ["skip"]
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(focused(page))
        if order[-1] == "button:Sign in":
            break
    fields = ["#id_email", "#id_password", "button:Sign in"]
    assert order[0] == "skip"
    assert fields[0] in order, order
    start = order.index(fields[0])
    assert order[start : start + 3] == fields, order
    assert "#language-switch" in order[1:start], order  # the top bar comes before the form

    # The skip link leads past the top bar: the next Tab is in the form.
    start_from_the_top(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused(page) == "#main"
    page.keyboard.press("Tab")
    assert focused(page) == "#id_email"

    for control in page.evaluate(CONTROLS_AND_LABELS):
        assert control["labels"], f"{control['control']} has no visible label"
    expect(page.get_by_label("Email")).to_have_attribute("autocomplete", "username")
    expect(page.get_by_label("Password")).to_have_attribute("autocomplete", "current-password")

    # Enter submits, on both steps; each step puts the keyboard in its field.
    page.goto(live_server.url + "/login/")
    assert focused(page) == "#id_email"
    page.keyboard.type("alice@acme.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url_is(live_server, "/login/code/"))
    assert focused(page) == "#id_code"
    for control in page.evaluate(CONTROLS_AND_LABELS):
        assert control["labels"], f"{control['control']} has no visible label"
    page.keyboard.type(current_code())
    page.keyboard.press("Enter")
    page.wait_for_url(url_is(live_server, "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


@pytest.mark.browser
def test_after_the_skip_link_the_code_step_still_focuses_the_code_field(live_server, cast, page):
    # The skip link adds #main to the address. The sign-in form has no action, so it posts
    # to that address, and the browser keeps the fragment across the redirect: the code
    # step opens as /login/code/#main, where the fragment beats autofocus.
    page.goto(live_server.url + "/login/")
    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("alice@acme.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(url_is(live_server, "/login/code/"))
    assert focused(page) == "#id_code", page.url
