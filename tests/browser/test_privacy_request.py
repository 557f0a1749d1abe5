"""A data-subject access request handled in the browser: recorded by staff, verified,
completed, and the access report downloaded as a PDF."""

import re

import pytest
from browser_support import csp_violations
from playwright.sync_api import expect

from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.privacy.models import PrivacyRequest


@pytest.mark.browser
def test_staff_answer_an_access_request_with_a_pdf(live_server, cast, page, sign_in, diagnostics):
    with tenant_scope(cast.org_a):
        contact_create(
            actor=cast.actor(cast.olive),
            data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
        )
    sign_in(page, "alice@acme.example")
    page.goto(live_server.url + "/privacy/requests/")
    page.get_by_role("link", name="New request").click()
    page.get_by_label("Kind of request").select_option("access")
    page.get_by_label("Email of the person").fill("ada@example.org")
    page.get_by_role("button", name="Record the request").click()
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/privacy/requests/[0-9a-f-]+/$"))
    assert "ada@example.org" not in page.url
    expect(page.get_by_text("The request is recorded; the deadline runs from now.")).to_be_visible()

    page.locator("#id_verify-reason").fill("ID card seen at the front desk")
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_text("The requester's identity is recorded as verified.")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Complete the request").click()
    expect(page.get_by_text("The request is completed.")).to_be_visible()
    with tenant_scope(cast.org_a):
        assert PrivacyRequest.objects.get().status == "completed"

    # WeasyPrint's first document in a process loads its fonts, which can take several seconds.
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert download.value.path().read_bytes()[:4] == b"%PDF"
    assert csp_violations(page) == []
    assert diagnostics.console_errors == [] and diagnostics.page_errors == []
