"""Helpers of the browser tests (a plain module: tests/ is not a package, by design)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import pyotp
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from custos.testing import TOTP_SECRET

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Wide enough for the two-column layout (the sidebar stacks above the content below 48rem).
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000

# Collects CSP violations in the page itself; init scripts are injected by the browser, not
# loaded by the page, so the page's own Content-Security-Policy does not block this one.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@dataclass
class Diagnostics:
    """What the browser complained about: console errors, uncaught exceptions."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def record_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def watch(self, page: Page) -> None:
        page.on("console", self.record_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_RECORDER)
    return context


def csp_violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def url_is(live_server: Any, path: str) -> re.Pattern[str]:
    """A pattern for page.wait_for_url: exactly this path on the live server, any query or fragment."""
    return re.compile(re.escape(live_server.url + path) + r"(\?[^#]*)?(#.*)?$")


def wrong_code(secret: str = TOTP_SECRET) -> str:
    """A six-digit code that is valid for none of the steps the server accepts now."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + drift * totp.interval) for drift in (-2, -1, 0, 1, 2)}
    return next(code for code in (f"{n:06d}" for n in range(100_000, 1_000_000, 111_111)) if code not in valid)


def use_language(page: Page, live_server: Any, language: str) -> None:
    """Set the language cookie, as the selector in the top bar does."""
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
