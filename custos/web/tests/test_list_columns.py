"""Custom fields as list columns on the contact, company, lead and deal lists: chosen in the
address, kept by the search and the next page, never a special-category field, never a
field hidden from the role."""

import pytest

from custos.api.tests.helpers import hide
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create
from custos.testing import web_client
from custos.web.tests.sales import in_org_a, stages_of

CREATE = {"contact": contact_create, "company": company_create, "lead": lead_create, "deal": deal_create}
PATHS = {"contact": "/contacts/", "company": "/companies/", "lead": "/leads/", "deal": "/deals/list/"}


def _define(cast, object_type):
    for key, label, kind, category in (
        ("region", "Region", "choice", "none"),
        ("budget", "Budget", "money", "none"),
        ("diagnosis", "Diagnosis", "text", "special"),
    ):
        if category == "special" and object_type == "company":
            continue  # companies hold no special-category data
        data = {"object_type": object_type, "key": key, "label": label, "kind": kind, "category": category}
        if kind == "choice":
            data["options"] = ["north", "south"]
        in_org_a(cast, custom_field_create, data=data)


def _record(cast, object_type, name, **custom):
    data = {"contact": {"last_name": name}, "company": {"name": name}, "lead": {"last_name": name}}.get(
        object_type, {"name": name, "stage": str(stages_of(cast)["Proposal"].pk)}
    )
    return in_org_a(cast, CREATE[object_type], data={**data, "custom_fields": custom})


def _header(body):
    return body.split("<thead>")[1].split("</thead>")[0]


@pytest.mark.parametrize("object_type", ["contact", "company", "lead", "deal"])
def test_chosen_custom_fields_are_shown_as_columns(cast, object_type):
    _define(cast, object_type)
    _record(cast, object_type, "Lind", region="north", budget="1250.50")
    client = web_client(cast.alice)
    path = PATHS[object_type]
    plain = client.get(path).content.decode()
    assert "Region" not in _header(plain)
    # Offered: the fields that are not special-category data.
    chooser = plain.split('class="list-columns"')[1].split("</form>")[0]
    assert 'value="region"' in chooser and 'value="budget"' in chooser and "diagnosis" not in chooser
    body = client.get(f"{path}?columns=region&columns=budget&columns=diagnosis").content.decode()
    header = _header(body)
    assert "Region" in header and "Budget" in header and "Diagnosis" not in header
    assert "<td>north</td>" in body and "<td>1,250.50</td>" in body
    assert 'id="column-region" name="columns" value="region" checked' in body


def test_the_search_and_the_next_page_keep_the_columns(cast):
    _define(cast, "contact")
    for number in range(51):
        _record(cast, "contact", f"Lind {number:02}", region="south")
    client = web_client(cast.alice)
    body = client.get("/contacts/?columns=region").content.decode()
    assert 'name="columns" value="region"' in body.split('role="search"', 2)[2]  # the list's search carries them
    pager = body.split('class="pager"')[1]
    assert '<input type="hidden" name="columns" value="region">' in pager
    cursor = pager.split('name="cursor" value="')[1].split('"')[0]
    next_page = client.post("/contacts/", {"columns": "region", "cursor": cursor}).content.decode()
    assert "Region" in _header(next_page) and "<td>south</td>" in next_page
    searched = client.post("/contacts/", {"q": "Lind 07", "columns": "region"}, headers={"HX-Request": "true"})
    assert "Region" in _header(searched.content.decode())


def test_a_role_that_may_not_see_custom_fields_gets_no_columns(cast):
    _define(cast, "contact")
    _record(cast, "contact", "Lind", region="north")
    hide(cast, "sales", "contact.custom_fields")
    in_org_a(cast, contact_create, user=cast.sam, data={"last_name": "Own"})
    body = web_client(cast.sam).get("/contacts/?columns=region").content.decode()
    assert "Region" not in _header(body) and 'class="list-columns"' not in body


def test_the_lead_list_keeps_its_status_when_columns_are_chosen(cast):
    _define(cast, "lead")
    body = web_client(cast.alice).get("/leads/?status=new").content.decode()
    chooser = body.split('class="list-columns"')[1].split("</form>")[0]
    assert '<input type="hidden" name="status" value="new">' in chooser
