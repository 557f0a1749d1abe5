"""A list page costs the same few SQL statements however many rows it shows: nothing is
read per row (a contact's company, a custom column, a member's name), and the filters'
choices are read once, on the whole page only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import web_client
from custos.web.tests.sales import in_org_a

CONTACTS = "/contacts/?columns=region"
COMPANIES = "/companies/?columns=region"


def _people(cast, start, count):
    """Contacts each at a company of their own, with a custom column's value and a country."""
    for number in range(start, start + count):
        company = in_org_a(cast, company_create, data={"name": f"Lind {number} GmbH", "custom_fields": {"region": "n"}})
        data = {
            "last_name": f"Lind {number}",
            "email": f"lind{number}@example.com",
            "phone": "+49 30 1234567",
            "company": str(company.pk),
            "country": "DE",
            "tags": ["fair"],
            "custom_fields": {"region": "north"},
        }
        in_org_a(cast, contact_create, data=data)


@pytest.fixture
def region(cast):
    for object_type in ("contact", "company"):
        data = {"object_type": object_type, "key": "region", "label": "Region", "kind": "text", "category": "none"}
        in_org_a(cast, custom_field_create, data=data)


def _statements(client, method, path, data=None, **headers):
    getattr(client, method)(path, data or {}, headers=headers)  # a session's first page writes to it
    with CaptureQueriesContext(connection) as statements:
        response = getattr(client, method)(path, data or {}, headers=headers)
    assert response.status_code == 200
    return len(statements), response.content.decode()


@pytest.mark.parametrize(
    ("method", "path", "data", "headers"),
    [
        ("get", CONTACTS, None, {}),
        ("post", CONTACTS, {"q": "Lind"}, {}),
        ("post", CONTACTS, {"tag": "fair", "country": "DE", "order": "name"}, {}),
        ("post", CONTACTS, {"q": "Lind"}, {"HX-Request": "true"}),
        ("get", COMPANIES, None, {}),
    ],
)
def test_a_list_page_takes_as_many_statements_for_many_rows_as_for_one(cast, region, method, path, data, headers):
    client = web_client(cast.alice)
    _people(cast, 0, 1)
    few, body = _statements(client, method, path, data, **headers)
    assert body.count("Lind 0") >= 1
    _people(cast, 1, 11)
    many, body = _statements(client, method, path, data, **headers)
    assert all(f"Lind {number}" in body for number in range(12))  # every row is there
    assert many == few


def test_a_search_as_you_type_reads_no_filter_choices(cast, region):
    """The part of the page htmx swaps in has no filters, so their choices (the members) are
    not read for it."""
    _people(cast, 0, 3)
    client = web_client(cast.alice)
    whole, _ = _statements(client, "post", CONTACTS, {"q": "Lind"})
    part, body = _statements(client, "post", CONTACTS, {"q": "Lind"}, **{"HX-Request": "true"})
    assert 'id="filter-owner"' not in body and "Lind 2" in body
    assert part < whole


def test_the_filters_show_what_was_chosen(cast, region):
    _people(cast, 0, 1)
    body = web_client(cast.alice).post("/contacts/", {"country": "DE", "owner": "me", "order": "name"}).content.decode()
    countries = body.split('id="filter-country"')[1].split("</select>")[0]
    assert countries.startswith(' name="country"><option value="">All</option>')
    assert '<option value="DE" selected>Germany</option>' in countries and countries.count(" selected") == 1
    orders = body.split('id="filter-order"')[1].split("</select>")[0]
    assert '<option value="name" selected>' in orders and orders.count(" selected") == 1
    plain = web_client(cast.alice).get("/contacts/").content.decode()
    assert " selected" not in plain.split('id="filter-country"')[1].split("</select>")[0]
