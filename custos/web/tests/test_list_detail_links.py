"""The company and lead lists link each row to its record's page, on a full page, a searched
one and the next page alike (the address is worked out once per page, not once per row)."""

from __future__ import annotations

import re

from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create
from custos.testing import web_client
from custos.web.tests.sales import in_org_a
from custos.web.views.listing import PAGE_SIZE

PARTIAL = {"HTTP_HX_REQUEST": "true"}


def _links(page: bytes, prefix: str) -> dict[str, str]:
    """Each row's record id → the name its link shows."""
    return dict(re.findall(rf'<td><a href="/{prefix}/([0-9a-f-]{{36}})/">([^<]*)</a></td>', page.decode()))


def test_each_company_row_links_to_its_page(cast):
    companies = [in_org_a(cast, company_create, data={"name": f"Firma {number:03}"}) for number in range(PAGE_SIZE + 2)]
    client = web_client(cast.alice)
    names = {str(company.pk): company.name for company in companies}

    first = client.get("/companies/")
    shown = _links(first.content, "companies")
    assert len(shown) == PAGE_SIZE
    next_page = re.search(r'href="(\?cursor=[^"]+)"', first.content.decode()).group(1)
    shown |= _links(client.get("/companies/" + next_page).content, "companies")
    assert shown == names
    searched = client.post("/companies/", {"q": "Firma 007"}, **PARTIAL)
    assert _links(searched.content, "companies") == {str(companies[7].pk): "Firma 007"}


def test_each_lead_row_links_to_its_page(cast):
    leads = [
        in_org_a(cast, lead_create, data={"first_name": "Lena", "last_name": f"Lead {number}"}) for number in range(3)
    ]
    client = web_client(cast.alice)
    expected = {str(lead.pk): f"Lena Lead {number}" for number, lead in enumerate(leads)}

    assert _links(client.get("/leads/").content, "leads") == expected
    assert _links(client.get("/leads/", {"status": "new"}).content, "leads") == expected
    searched = client.post("/leads/", {"q": "Lead 1"}, **PARTIAL)
    assert _links(searched.content, "leads") == {str(leads[1].pk): "Lena Lead 1"}
