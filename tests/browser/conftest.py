"""Fixtures of the browser tests: Debian's Chromium driven by Playwright against a live server.

Every test gets its own Playwright, browser and page, so that Playwright's event loop runs
only while a browser test runs and never leaks into the other tests of the same xdist worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, Diagnostics, new_context, url_is
from django.core.cache import cache
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from custos.testing import PASSWORD, TOTP_SECRET


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an asyncio event loop in the test's thread. Django then
    # takes the test thread for async code and refuses ORM calls in it
    # (SynchronousOnlyOperation), although the test is synchronous and nothing else runs
    # in that loop. The variable switches the check off for these tests only; monkeypatch
    # removes it afterwards, so the rest of the suite keeps the protection.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _fresh_sign_in_counters(transactional_db: Any) -> None:
    # Sign-in failures are counted per account and per IP in the cache table, which the
    # database flush between tests leaves alone; every browser signs in from 127.0.0.1,
    # and earlier tests' failures must not lock this one out.
    cache.clear()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's connections apart
            # from the ones opened before it started (asgiref's Local switches storage when
            # a loop is running), so ORM calls in a test body open a second connection.
            # Close it here, while it is still reachable; a leaked one keeps PostgreSQL
            # from dropping the test database at the end of the run.
            connections.close_all()


@pytest.fixture
def diagnostics() -> Diagnostics:
    return Diagnostics()


@pytest.fixture
def page(browser: Browser, diagnostics: Diagnostics) -> Iterator[Page]:
    context = new_context(browser)
    page = context.new_page()
    diagnostics.watch(page)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def sign_in(live_server: Any) -> Callable[..., None]:
    """Sign a person in through the pages, second factor included when they have one."""

    def sign_in(page: Page, email: str, password: str = PASSWORD, secret: str | None = TOTP_SECRET) -> None:
        page.goto(live_server.url + "/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        if secret is not None:
            page.wait_for_url(url_is(live_server, "/login/code/"))
            page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
            page.get_by_role("button", name="Continue").click()
        page.wait_for_url(lambda url: "/login/" not in url)

    return sign_in
