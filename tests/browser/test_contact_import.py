"""Importing a messy CSV in the browser: the preview swaps in place, the page follows the
running import and stops asking once it is finished, the rejected rows can be downloaded."""

import re

import pytest
from browser_support import csp_violations
from playwright.sync_api import expect

from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.testing import run_tasks

MESSY = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\n"
    "Jürgen;Müller;juergen@example.org;030 12345678;Nordwind GmbH\n"
    "Anna;Schmidt;not-an-email;040 12345678;\n"
    ";;;;\n"
    "Zofia;Nowak;zofia@example.org;+48 22 628 31 00;\n"
)


@pytest.mark.browser
def test_a_messy_csv_shows_its_rejected_rows_and_imports_the_rest(live_server, cast, page, sign_in, diagnostics):
    sign_in(page, "alice@acme.example")
    page.goto(live_server.url + "/contacts/")
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("File (CSV or XLSX)").set_input_files(
        {"name": "kontakte.csv", "mimeType": "text/csv", "buffer": MESSY.encode("utf-8-sig")}
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/imports/[0-9a-f-]+/$"))
    detail = page.url
    expect(page.get_by_label("E-Mail")).to_have_value("email")

    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    assert page.url == detail  # swapped in place
    assert page.locator("#import-settings").count() == 1

    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_text("rows processed.")).to_be_visible()
    run_tasks()  # the worker, while the page keeps asking
    expect(page.get_by_text("The import is finished.")).to_be_visible(timeout=10_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows and their reasons (CSV)").click()
    report = download.value.path().read_text(encoding="utf-8-sig")
    assert report.splitlines()[1] == "3,Email,Enter a valid email address."
    with tenant_scope(cast.org_a):
        assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Jürgen", "Zofia"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Undo import").click()
    expect(page.get_by_text("This import was undone")).to_be_visible()
    with tenant_scope(cast.org_a):
        assert not Contact.objects.exists()
    assert csp_violations(page) == []
    assert diagnostics.console_errors == [] and diagnostics.page_errors == []
