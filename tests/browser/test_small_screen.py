"""On a phone's width the navigation stacks above the content without a gap."""

import pytest
from playwright.sync_api import expect


@pytest.mark.browser
def test_navigation_sits_right_above_the_content_on_a_phone(live_server, cast, page, sign_in):
    # Below 48rem .layout becomes one column, but keeps min-height: calc(100vh - 3rem); its two
    # implicit rows stretch to share that height, so the navigation row grows a blank band.
    sign_in(page, "alice@acme.example")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    navigation = page.get_by_role("navigation", name="Main navigation")
    expect(navigation).to_be_visible()
    sidebar = navigation.bounding_box()
    links = navigation.get_by_role("list").bounding_box()
    main = page.locator("main#main").bounding_box()
    assert sidebar is not None
    assert links is not None
    assert main is not None
    assert main["y"] >= sidebar["y"] + sidebar["height"] - 1  # stacked, not side by side
    blank = sidebar["height"] - links["height"]
    assert blank <= 40, f"{blank:.0f}px of empty navigation band above the content"
