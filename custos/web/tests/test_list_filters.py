"""Filtering and sorting the contact and company lists, and downloading what they show."""

import csv
import io

from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import enable_two_factor, web_client
from custos.web.tests.sales import in_org_a


def _people(cast):
    in_org_a(
        cast,
        custom_field_create,
        data={
            "object_type": "contact",
            "key": "branch",
            "label": "Branch",
            "kind": "choice",
            "category": "none",
            "options": ["Dental", "Vet"],
        },
    )
    in_org_a(cast, contact_create, data={"last_name": "Zeller", "tags": ["vip"], "custom_fields": {"branch": "Dental"}})
    in_org_a(cast, contact_create, data={"last_name": "Adler", "tags": ["vip"], "country": "PL"})
    in_org_a(cast, contact_create, data={"last_name": "Mertens", "custom_fields": {"branch": "Vet"}})


def _rows(html):
    return [name for name in ("Zeller", "Adler", "Mertens") if name in html]


def test_the_contact_list_offers_filters_and_applies_them(cast):
    _people(cast)
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    page = client.get("/contacts/").content.decode()
    tagged = client.post("/contacts/", {"q": "", "tag": "vip", "order": "name"}).content.decode()
    dental = client.post("/contacts/", {"q": "", "custom_fields.branch": "Dental"}).content.decode()

    assert 'name="custom_fields.branch"' in page and 'name="order"' in page
    assert tagged.index("Adler") < tagged.index("Zeller") and "Mertens" not in tagged
    assert _rows(dental) == ["Zeller"]


def test_a_bad_filter_is_explained_and_shows_no_rows(cast):
    _people(cast)
    enable_two_factor(cast.alice)

    html = web_client(cast.alice).post("/contacts/", {"q": "", "country": "XX"}).content.decode()

    assert "Use a two-letter country code such as DE." in html
    assert _rows(html) == []


def test_the_next_page_of_a_filtered_list_is_posted_with_its_filters(cast):
    for n in range(55):
        in_org_a(cast, contact_create, data={"last_name": f"Vip {n:02d}", "tags": ["vip"]})
    in_org_a(cast, contact_create, data={"last_name": "Plain"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    first = client.post("/contacts/", {"q": "", "tag": "vip", "order": "-name"}).content.decode()

    assert '<input type="hidden" name="tag" value="vip">' in first
    assert "Vip 54" in first and "Vip 00" not in first
    cursor = first.split('name="cursor" value="')[1].split('"')[0]
    second = client.post("/contacts/", {"q": "", "tag": "vip", "order": "-name", "cursor": cursor}).content.decode()
    assert "Vip 00" in second and "Vip 54" not in second and "Plain" not in second


def test_the_export_holds_what_the_filtered_list_shows(cast):
    _people(cast)
    in_org_a(cast, company_create, data={"name": "Vip Dental", "tags": ["vip"]})
    in_org_a(cast, company_create, data={"name": "Other Co"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    contacts = client.post("/contacts/export/", {"q": "", "tag": "vip", "format": "csv"})
    companies = client.post("/companies/export/", {"q": "", "tag": "vip", "format": "csv"})

    contact_rows = list(csv.reader(io.StringIO(b"".join(contacts.streaming_content).decode().removeprefix("\ufeff"))))
    company_rows = list(csv.reader(io.StringIO(b"".join(companies.streaming_content).decode().removeprefix("\ufeff"))))
    assert sorted(row[contact_rows[0].index("Last name")] for row in contact_rows[1:]) == ["Adler", "Zeller"]
    assert [row[company_rows[0].index("Name")] for row in company_rows[1:]] == ["Vip Dental"]


def test_the_lead_list_filters_within_its_status_tab(cast):
    from custos.crm.services.leads import lead_create

    in_org_a(cast, lead_create, data={"last_name": "Hotnew", "tags": ["hot"], "status": "new"})
    in_org_a(cast, lead_create, data={"last_name": "Hotqualified", "tags": ["hot"], "status": "qualified"})
    in_org_a(cast, lead_create, data={"last_name": "Coldnew", "status": "new"})
    enable_two_factor(cast.alice)
    client = web_client(cast.alice)

    html = client.post("/leads/", {"q": "", "status": "new", "tag": "hot"}).content.decode()
    export = client.post("/leads/export/", {"q": "", "status": "new", "tag": "hot", "format": "csv"})

    assert "Hotnew" in html and "Hotqualified" not in html and "Coldnew" not in html
    assert 'name="tag" value="hot"' in html
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "Hotnew" in text and "Coldnew" not in text and "Hotqualified" not in text
